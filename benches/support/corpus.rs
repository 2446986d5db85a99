//! Generated event-stream corpora shared by the benchmarks.

#![allow(dead_code)]

use std::fmt::Write;

/// About this many bytes per corpus.
pub const CORPUS_BYTES: usize = 4 << 20;

/// Game "tick" events: `id`, a named `event`, and ~60 bytes of JSON data.
pub fn ticks(line_end: &str) -> Vec<u8> {
    let mut out = String::with_capacity(CORPUS_BYTES + 256);
    let mut seq = 0u64;
    while out.len() < CORPUS_BYTES {
        push_tick(&mut out, seq, line_end);
        seq += 1;
    }
    out.into_bytes()
}

/// Exactly `count` tick events, LF line ends.
pub fn tick_events(count: u64) -> Vec<u8> {
    let mut out = String::with_capacity(count as usize * 96);
    for seq in 0..count {
        push_tick(&mut out, seq, "\n");
    }
    out.into_bytes()
}

fn push_tick(out: &mut String, seq: u64, line_end: &str) {
    let (x, y) = ((seq * 7919) % 1280, (seq * 104_729) % 720);
    write!(
        out,
        "id: {seq}{line_end}event: tick{line_end}data: {{\"seq\":{seq},\"x\":{x},\"y\":{y},\"hp\":{},\"team\":\"red\"}}{line_end}{line_end}",
        seq % 100
    )
    .unwrap();
}

/// An LLM token stream, OpenAI-style: one small JSON delta per event, unnamed, no id.
pub fn llm_tokens() -> Vec<u8> {
    let mut out = String::with_capacity(CORPUS_BYTES + 256);
    let mut i = 0;
    while out.len() < CORPUS_BYTES {
        push_token(&mut out, i);
        i += 1;
    }
    out.into_bytes()
}

/// `count` events of [`llm_tokens`]' stream.
#[allow(dead_code)] // each bench includes this file and uses some of it
pub fn llm_token_events(count: u64) -> Vec<u8> {
    let mut out = String::with_capacity(count as usize * 56);
    for i in 0..count as usize {
        push_token(&mut out, i);
    }
    out.into_bytes()
}

fn push_token(out: &mut String, i: usize) {
    const WORDS: &[&str] = &[
        "The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".",
    ];
    write!(
        out,
        "data: {{\"choices\":[{{\"delta\":{{\"content\":\"{}\"}}}}]}}\n\n",
        WORDS[i % WORDS.len()]
    )
    .unwrap();
}

/// 32 KiB events made of 100-byte data lines.
pub fn multiline_32k() -> Vec<u8> {
    let line = format!("data: {}\n", "m".repeat(100));
    let mut out = String::with_capacity(CORPUS_BYTES + 64 * 1024);
    let mut id = 0;
    while out.len() < CORPUS_BYTES {
        write!(out, "id: {id}\nevent: blob\n").unwrap();
        for _ in 0..(32 * 1024 / 101) {
            out.push_str(&line);
        }
        out.push('\n');
        id += 1;
    }
    out.into_bytes()
}

/// Tick events with two keep-alive comment lines before each.
pub fn comment_interleaved() -> Vec<u8> {
    let mut out = String::with_capacity(CORPUS_BYTES + 256);
    let mut seq = 0u64;
    while out.len() < CORPUS_BYTES {
        write!(
            out,
            ": keep-alive\n:\ndata: {{\"seq\":{seq},\"state\":\"running\",\"load\":0.{}}}\n\n",
            seq % 10
        )
        .unwrap();
        seq += 1;
    }
    out.into_bytes()
}

/// Every corpus the parser benchmark runs, by name.
pub fn all() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ticks", ticks("\n")),
        ("llm_tokens", llm_tokens()),
        ("multiline_32k", multiline_32k()),
        ("ticks_crlf", ticks("\r\n")),
        ("comments", comment_interleaved()),
    ]
}
