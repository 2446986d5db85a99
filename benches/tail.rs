//! Whole processes, side by side: `sse_tail --count` (the example: a Bevy app with the plugin)
//! and LaunchDarkly's `eventsource-client` 0.18 on a current-thread tokio runtime (this binary
//! with `--launchdarkly`), each reading the same 1,000,000-event stream from a loopback server as
//! fast as it can and counting every event: game ticks (named events with IDs and a JSON
//! payload) and LLM tokens (OpenAI-style deltas, unnamed, no ID), each as one plain body and as
//! one HTTP chunk per event. A third process reads the stream with reqwest alone (this binary
//! with `--reqwest`: one request, its body read with `Response::chunk` on a current-thread
//! runtime, events counted by their blank lines, no SSE parser, no game): on a plain body, the
//! floor under any client built on reqwest, `sse_tail` among them (on one chunk per event,
//! awaiting each chunk makes it slower than `sse_tail`, which takes every chunk that is ready).
//! Prints peak RSS (GNU time's maximum resident set size) and events per second, each contender
//! run in turn, five rounds.
//!
//! Run: `cargo build --release --example sse_tail && cargo bench --bench tail`
//! (needs `/usr/bin/time`, Debian's package `time`).

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/floors.rs"]
#[allow(dead_code)] // only reqwest's floor is used here
mod floors;
#[path = "support/peers.rs"]
mod peers;
#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use server::{Framing, chunk_per_event, start_server};

/// Events per stream.
const EVENTS: u64 = 1_000_000;
const ROUNDS: usize = 5;

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("--launchdarkly") => return launchdarkly(&args.next().expect("URL")),
        Some("--reqwest") => return reqwest_alone(&args.next().expect("URL")),
        _ => {}
    }
    let sse_tail =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/sse_tail");
    assert!(
        sse_tail.exists(),
        "build the example first: cargo build --release --example sse_tail"
    );
    let this = std::env::current_exe().expect("this binary");
    let corpora = [
        ("tick", corpus::tick_events(EVENTS)),
        ("LLM token", corpus::llm_token_events(EVENTS)),
    ];
    for (corpus, body) in &corpora {
        for (name, framing) in [
            ("plain", Framing::Plain),
            ("chunk-per-event", Framing::ChunkPerEvent),
        ] {
            let framed = match framing {
                Framing::Plain => body.to_vec(),
                Framing::ChunkPerEvent => chunk_per_event(body),
            };
            let url = format!("http://{}/", start_server(Arc::new(framed), framing));
            println!(
                "\n{corpus} events, {name} framing, {EVENTS} events, {ROUNDS} rounds (median):\n"
            );
            compare(&sse_tail, &this, &url);
        }
    }
}

/// Runs the three processes on `url` in turn, [`ROUNDS`] times, and prints their table.
fn compare(sse_tail: &Path, this: &Path, url: &str) {
    let count = EVENTS.to_string();
    let mut rows: [(&str, Vec<(f64, f64)>); 3] = [
        ("sse_tail --count", vec![]),
        ("eventsource-client", vec![]),
        ("reqwest alone (no parser, no game)", vec![]),
    ];
    for _ in 0..ROUNDS {
        rows[0].1.push(measure(Command::new(sse_tail).args([
            url,
            "--count",
            "--max-events",
            &count,
        ])));
        rows[1]
            .1
            .push(measure(Command::new(this).args(["--launchdarkly", url])));
        rows[2]
            .1
            .push(measure(Command::new(this).args(["--reqwest", url])));
    }
    println!("| process | peak RSS (MB) | events/s (M) |");
    println!("|---|---|---|");
    let medians = rows.each_ref().map(|(_, runs)| median(runs));
    for ((name, runs), (rss, seconds)) in rows.iter().zip(&medians) {
        let all: Vec<String> = runs
            .iter()
            .map(|(rss, s)| format!("{rss:.1} MB/{s:.3} s"))
            .collect();
        println!(
            "| {name} | {rss:.1} | {:.2} |  <!-- {} -->",
            EVENTS as f64 / seconds / 1e6,
            all.join(", ")
        );
    }
    println!(
        "\nsse_tail / eventsource-client: RSS {:.2}×, events/s {:.2}×; reqwest alone / \
         eventsource-client: events/s {:.2}×",
        medians[0].0 / medians[1].0,
        medians[1].1 / medians[0].1,
        medians[1].1 / medians[2].1
    );
}

/// Runs the command under GNU time: (peak RSS in MB, wall seconds).
fn measure(command: &mut Command) -> (f64, f64) {
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "%M"])
        .arg(command.get_program())
        .args(command.get_args());
    // Timed here: GNU time's elapsed time has a 10 ms resolution, 7 % of a 0.14 s run.
    let started = Instant::now();
    let output = timed.output().expect("run /usr/bin/time");
    let seconds = started.elapsed().as_secs_f64();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let kib: f64 = last.trim().parse().expect("max RSS");
    (kib / 1024.0, seconds)
}

fn median(runs: &[(f64, f64)]) -> (f64, f64) {
    let mut rss: Vec<f64> = runs.iter().map(|run| run.0).collect();
    let mut seconds: Vec<f64> = runs.iter().map(|run| run.1).collect();
    rss.sort_by(f64::total_cmp);
    seconds.sort_by(f64::total_cmp);
    (rss[rss.len() / 2], seconds[seconds.len() / 2])
}

fn launchdarkly(url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(peers::launchdarkly(url, EVENTS));
}

/// Reads the stream at `url` to its end with reqwest alone, on a client built as the plugin
/// builds its default one; it holds [`EVENTS`] events.
fn reqwest_alone(url: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let client = floors::reqwest_client();
        let mut events = 0;
        let response = floors::open_reqwest(&client, url).await;
        floors::count_reqwest_events(response, |ended| events += ended).await;
        assert_eq!(events, EVENTS);
    });
}
