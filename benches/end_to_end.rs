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
//!
//! Two servers send the same events: `plain/*` as one body with a content length, written
//! 64 KiB at a time; `chunked/*` with each event in its own HTTP chunk, as axum and most
//! frameworks' SSE responses do (still written 64 KiB at a time, so many chunks arrive together).
//!
//! Run: `cargo bench --bench end_to_end`.

#[path = "support/corpus.rs"]
mod corpus;

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::parser::{Parsed, SseParser};
use bevy_eventsource::prelude::*;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_lite::StreamExt;

/// Events per stream: ~17 MB of ticks.
const EVENTS: u64 = 200_000;

/// How the server frames the body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// `content-length`, the body as it is.
    Plain,
    /// `transfer-encoding: chunked`, one HTTP chunk per event.
    ChunkPerEvent,
}

/// The body with each event (ending in a blank line) in its own HTTP chunk.
fn chunk_per_event(body: &[u8]) -> Vec<u8> {
    let mut chunked = Vec::with_capacity(body.len() * 11 / 10);
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|window| window == b"\n\n")
            .map_or(rest.len(), |at| at + 2);
        let (event, tail) = rest.split_at(end);
        chunked.extend_from_slice(format!("{:x}\r\n", event.len()).as_bytes());
        chunked.extend_from_slice(event);
        chunked.extend_from_slice(b"\r\n");
        rest = tail;
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    chunked
}

/// Serves the stream to every connection, one thread per connection, then closes.
fn start_server(body: Arc<Vec<u8>>, framing: Framing) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let body = body.clone();
            std::thread::spawn(move || serve(stream, &body, framing));
        }
    });
    addr
}

fn serve(mut stream: TcpStream, body: &[u8], framing: Framing) {
    // Read the request head.
    let mut head = Vec::new();
    let mut buf = [0; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let length = match framing {
        Framing::Plain => format!("content-length: {}", body.len()),
        Framing::ChunkPerEvent => "transfer-encoding: chunked".to_owned(),
    };
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
         {length}\r\nconnection: close\r\n\r\n"
    );
    if stream.write_all(response.as_bytes()).is_err() {
        return;
    }
    for chunk in body.chunks(64 * 1024) {
        if stream.write_all(chunk).is_err() {
            return;
        }
    }
}

// ---- bevy_eventsource -------------------------------------------------------------------------

#[derive(Resource, Default)]
struct Tally {
    messages: u64,
    data_bytes: usize,
}

fn bevy_app(plugin: SsePlugin) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, plugin))
        .init_resource::<Tally>()
        .add_systems(
            Update,
            |mut messages: MessageReader<SseMessage>, mut tally: ResMut<Tally>| {
                for message in messages.read() {
                    tally.messages += 1;
                    tally.data_bytes += black_box(message.data()).len();
                }
            },
        );
    app.update();
    app
}

fn bevy_stream(app: &mut App, url: &str) -> Duration {
    *app.world_mut().resource_mut::<Tally>() = Tally::default();
    let start = Instant::now();
    let source = app.world_mut().spawn(EventSource::new(url)).id();
    while app.world().resource::<Tally>().messages < EVENTS {
        app.update();
    }
    let elapsed = start.elapsed();
    app.world_mut().despawn(source);
    app.update();
    elapsed
}

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

async fn launchdarkly(url: &str) {
    use eventsource_client::{Client, ClientBuilder, ReconnectOptions, SSE};
    let transport = launchdarkly_sdk_transport::HyperTransport::builder()
        .build_http()
        .expect("transport");
    let client = ClientBuilder::for_url(url)
        .expect("url")
        .reconnect(ReconnectOptions::reconnect(false).build())
        .build_with_transport(transport);
    let mut stream = client.stream();
    let (mut messages, mut data_bytes) = (0, 0);
    while messages < EVENTS {
        match stream.next().await {
            Some(Ok(SSE::Event(event))) => {
                messages += 1;
                data_bytes += black_box(&event.data).len();
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("eventsource-client failed: {error:?}"),
            None => panic!("eventsource-client ended early"),
        }
    }
    black_box(data_bytes);
}

// ---- ingest ceilings: reqwest 0.13 + our parser, no ECS ---------------------------------------

async fn ingest(client: reqwest::Client, url: String) {
    let mut response = client
        .get(url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("response");
    let mut parser = SseParser::new();
    let (mut messages, mut data_bytes) = (0, 0);
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        parser
            .feed_bytes(&chunk, |item| {
                if let Parsed::Message(event) = item {
                    messages += 1;
                    data_bytes += black_box(event).data().len();
                }
            })
            .expect("parse");
    }
    assert_eq!(messages, EVENTS);
    black_box(data_bytes);
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
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
        b.iter_custom(|iters| (0..iters).map(|_| bevy_stream(&mut app, &url)).sum())
    });
    let games = multi_thread();
    let mut app = bevy_app(SsePlugin::default().with_tokio_runtime(games.handle().clone()));
    group.bench_function("bevy_eventsource/game_runtime", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| bevy_stream(&mut app, &url)).sum())
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
            each_stream(b, || runtime.block_on(launchdarkly(&url)))
        });
    }

    let client = reqwest::Client::new();
    for (name, runtime) in [
        ("current_thread", current_thread()),
        ("multi_thread", multi_thread()),
    ] {
        group.bench_function(format!("ingest/{name}"), |b| {
            each_stream(b, || runtime.block_on(ingest(client.clone(), url.clone())))
        });
    }
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
