//! End-to-end throughput: a loopback server streams the same generated tick stream to every
//! contender, and each contender delivers every event, data included, to "game code". Reported as
//! events per second, all contenders in the same run:
//!
//! - `bevy_eventsource`: an app with [`SsePlugin`]; an `Update` system counts what its
//!   `MessageReader<SseMessage>` reads. `app.update()` runs back to back, as a game without vsync.
//! - `sse_tail --count`: the example as a process (skipped unless
//!   `target/release/examples/sse_tail` exists; build it with
//!   `cargo build --release --example sse_tail`).
//! - `reqwest-eventsource` 0.6 and LaunchDarkly's `eventsource-client` 0.18, each on a
//!   current-thread and on a multi-thread tokio runtime.
//! - `bevy_eventsource/game_runtime`: the same app, its connections on a multi-thread tokio
//!   runtime the game hands over (`SsePlugin::with_tokio_runtime`) instead of the IO thread.
//! - `ingest/*`: reqwest 0.13 and our parser with no ECS, driven two ways (a current-thread
//!   runtime, a multi-thread runtime): how the reqwest future is driven sets the ceiling of the
//!   plugin.
//! - `ingest/beside_game`: the same reader on a current-thread runtime on a thread of its own,
//!   while this thread runs `app.update()` back to back on an app with the plugin and no source,
//!   as the plugin's benchmark does: the plugin's ceiling here, with the game's thread holding
//!   one of the cores.
//! - `hyper_alone/current_thread`: hyper's HTTP/1.1 client connection alone, its body read frame
//!   by frame, events counted by their blank lines: what hyper's client costs any reader.
//!
//! Two servers send the same events: `plain/*` as one body with a content length, written
//! 64 KiB at a time; `chunked/*` with each event in its own HTTP chunk, as axum and most
//! frameworks' SSE responses do (still written 64 KiB at a time, so many chunks arrive together).
//!
//! Run: `cargo bench --bench end_to_end`.

#[path = "support/contenders.rs"]
mod contenders;
#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/floors.rs"]
#[allow(dead_code)] // the reqwest floor's event counting is not used here
mod floors;
#[path = "support/peers.rs"]
mod peers;
#[path = "support/server.rs"]
mod server;

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use contenders::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_lite::StreamExt;
use server::{Framing, chunk_per_event, start_server};

/// Events per stream: ~17 MB of ticks.
const EVENTS: u64 = 200_000;

// ---- peers ------------------------------------------------------------------------------------

async fn reqwest_eventsource(url: &str) {
    use reqwest_eventsource::{Event, EventSource};
    let mut source = EventSource::get(url);
    let (mut messages, mut data_bytes) = (0, 0);
    while messages < EVENTS {
        match source.next().await {
            Some(Ok(Event::Message(message))) => {
                messages += 1;
                data_bytes += black_box(&message.data).len();
            }
            Some(Ok(Event::Open)) => {}
            other => panic!("reqwest-eventsource stopped early: {other:?}"),
        }
    }
    source.close();
    black_box(data_bytes);
}

/// hyper's connection alone: [`floors::open_hyper`]'s one connection, every event counted.
async fn hyper_alone(url: String) {
    let mut events = 0;
    floors::count_hyper_events(floors::open_hyper(&url).await, |ended| events += ended).await;
    assert_eq!(events, EVENTS);
}

/// Times each iteration of `run` (one whole stream) and reports the sum to criterion.
fn each_stream(b: &mut criterion::Bencher<'_>, mut run: impl FnMut()) {
    b.iter_custom(|iters| {
        (0..iters)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed()
            })
            .sum()
    });
}

fn sse_tail_binary() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/sse_tail");
    path.exists().then_some(path)
}

fn end_to_end(c: &mut Criterion) {
    let body = corpus::tick_events(EVENTS);
    let plain = start_server(Arc::new(body.clone()), Framing::Plain);
    let chunked = start_server(Arc::new(chunk_per_event(&body)), Framing::ChunkPerEvent);
    for (framing, addr) in [("plain", plain), ("chunked", chunked)] {
        let url = format!("http://{addr}/ticks");
        let mut group = c.benchmark_group(format!("end_to_end/{framing}"));
        group
            .throughput(Throughput::Elements(EVENTS))
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(6));
        contenders(&mut group, &url, framing == "plain");
        group.finish();
    }
}

fn contenders(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    url: &str,
    all: bool,
) {
    let url = url.to_owned();
    let mut app = bevy_app(SsePlugin::default());
    group.bench_function("bevy_eventsource", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| bevy_stream(&mut app, &url, EVENTS))
                .sum()
        })
    });
    let games = multi_thread();
    let mut app = bevy_app(SsePlugin::default().with_tokio_runtime(games.handle().clone()));
    group.bench_function("bevy_eventsource/game_runtime", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| bevy_stream(&mut app, &url, EVENTS))
                .sum()
        })
    });
    drop(app);

    if let Some(sse_tail) = sse_tail_binary().filter(|_| all) {
        group.bench_function("sse_tail --count", |b| {
            each_stream(b, || {
                let output = Command::new(&sse_tail)
                    .args([&url, "--count", "--max-events", &EVENTS.to_string()])
                    .output()
                    .expect("run sse_tail");
                assert!(output.status.success(), "sse_tail failed: {output:?}");
                let summary = String::from_utf8_lossy(&output.stdout);
                assert!(summary.contains(&format!("\"messages\":{EVENTS}")));
            })
        });
    } else if all {
        eprintln!("skipping sse_tail: build it with `cargo build --release --example sse_tail`");
    }

    for (name, runtime) in [
        ("current_thread", current_thread()),
        ("multi_thread", multi_thread()),
    ] {
        group.bench_function(format!("reqwest-eventsource/{name}"), |b| {
            each_stream(b, || runtime.block_on(reqwest_eventsource(&url)))
        });
        group.bench_function(format!("eventsource-client/{name}"), |b| {
            each_stream(b, || runtime.block_on(peers::launchdarkly(&url, EVENTS)))
        });
    }

    let client = reqwest::Client::new();
    for (name, runtime) in [
        ("current_thread", current_thread()),
        ("multi_thread", multi_thread()),
    ] {
        group.bench_function(format!("ingest/{name}"), |b| {
            each_stream(b, || {
                runtime.block_on(ingest(client.clone(), url.clone(), EVENTS))
            })
        });
    }
    let runtime = current_thread();
    let mut game = bevy_app(SsePlugin::default());
    group.bench_function("ingest/beside_game", |b| {
        each_stream(b, || {
            ingest_beside_game(&mut game, &runtime, &client, &url, EVENTS)
        })
    });
    group.bench_function("hyper_alone/current_thread", |b| {
        each_stream(b, || runtime.block_on(hyper_alone(url.clone())))
    });
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
