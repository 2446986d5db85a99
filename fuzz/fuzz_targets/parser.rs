//! The parser, differentially. Input: one byte of settings, one byte `n`, `n` little-endian
//! `u16` cut positions, then the stream. Invariants: no panic; the same items and errors
//! whatever the cuts; `feed` and `feed_bytes` agree; the parser never holds more than its limits
//! allow; without limit errors, the same items as the reference transcription of the standard.
//! With the default limits, the plugin's batches too: the stream repeated 1 to 32 times (so
//! that chunks reach the 4 KiB from which a batch lists its messages apart), cut at the cuts
//! scaled alike, each chunk one batch, taken back in runs of at most 1, 3, 64 or any number of
//! messages: the parser's items, in order (`fuzzing::batch_path`, which also checks each run
//! against what `message_run` said of it).
#![no_main]

#[path = "../../tests/it/support/parsing.rs"]
mod parsing;

use bevy_eventsource::fuzzing::batch_path;
use bevy_eventsource::parser::ParserLimits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&settings, rest)) = input.split_first() else {
        return;
    };
    let Some((&count, rest)) = rest.split_first() else {
        return;
    };
    let count = usize::from(count % 16);
    if rest.len() < 2 * count {
        return;
    }
    let (cut_bytes, stream) = rest.split_at(2 * count);
    let mut cuts: Vec<usize> = cut_bytes
        .chunks_exact(2)
        .map(|pair| usize::from(u16::from_le_bytes([pair[0], pair[1]])) % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    // Small limits now and then, so the limit paths are reached.
    let limits = if settings & 1 == 1 {
        ParserLimits::default()
            .with_max_line_len(usize::from(settings >> 1) + 8)
            .with_max_event_len(usize::from(settings >> 3) + 4)
    } else {
        ParserLimits::default()
    };
    // parse_chunks checks feed against feed_bytes and the parser's buffered bytes against its
    // limits.
    let whole = parsing::parse_chunks(limits, [stream]);
    let chunked = parsing::parse_chunks(limits, parsing::split_at(stream, &cuts));
    assert_eq!(whole.items, chunked.items, "cuts {cuts:?}");
    assert_eq!(
        whole.errors.is_empty(),
        chunked.errors.is_empty(),
        "cuts {cuts:?}"
    );
    if whole.errors.is_empty() {
        assert_eq!(whole.items, parsing::reference(stream));
    }
    if settings & 1 == 0 {
        let times = usize::from((settings >> 1) & 31) + 1;
        let repeated = stream.repeat(times);
        let cuts: Vec<usize> = cuts.iter().map(|cut| cut * times).collect();
        let max = [1, 3, 64, usize::MAX][usize::from(settings >> 6)];
        let outcome = batch_path(&parsing::split_at(&repeated, &cuts), max);
        assert_eq!(outcome.batched, outcome.parsed, "cuts {cuts:?}, max {max}");
    }
});
