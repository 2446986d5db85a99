//! Many sources at once, side by side: N sources (10,000 by default) on one loopback server that
//! sends every connection one event a second, all in the same burst. Each client runs as a
//! process of its own (this binary again), so its memory and CPU are its own:
//!
//! - `bevy_eventsource`: a Bevy app (`MinimalPlugins`, `SsePlugin::default()`, nothing tuned)
//!   paced at 60 frames a second, an `Update` system counting what `MessageReader<SseMessage>`
//!   reads; frame time is `app.update()`'s duration.
//! - `bevy_frames`: the same app without the plugin and without sources, at the same pace: what
//!   the game's frames cost whatever SSE client it uses. The game's CPU less this is the
//!   plugin's share.
//! - LaunchDarkly's `eventsource-client` 0.18: one stream per source, all on one current-thread
//!   tokio runtime and one shared transport, counting events.
//! - hyper's HTTP/1.1 client connection alone, one per source on one current-thread runtime,
//!   counting events by their blank lines: the floor under any client built on hyper.
//! - reqwest's response alone, one request per source on one shared client (as the plugin
//!   builds its default one), its body read with `Response::chunk`, events counted the same way:
//!   the floor under any client built on reqwest, this plugin among them. With the game's frames
//!   it is the least this plugin can cost.
//!
//! Each client waits until every source is open, then measures for the given seconds: RSS per
//! source (resident memory now minus before the first source, over N), CPU (the threads' run
//! time over wall time; one core = 100 %; the game's own thread apart too), events delivered
//! against events sent, and for the game its frame times. The clients take turns, ROUNDS times
//! (3 by default: single runs on this machine vary by ±15 %); the table gives each figure's
//! median and range, and the CPU ratios are taken round by round, between runs that were back to
//! back. Prints a markdown table.
//!
//! Run: `cargo bench --bench scale [-- SOURCES SECONDS [http1|h2 [ROUNDS]]]` (needs `ulimit -n`
//! above SOURCES + 100).
//!
//! `cargo bench --bench scale --features http2 -- SOURCES SECONDS h2`: the server speaks HTTP/2
//! (h2c, hyper's server, at most 100 streams per connection) and the game's clients HTTP/2 with
//! prior knowledge, so its sources share connections. The peer and the floor are left out there:
//! `eventsource-client`'s one shared hyper pool would carry every stream on one connection, and
//! the server holds back every stream past the 100th.

#[path = "support/floors.rs"]
mod floors;
#[path = "../examples/support/loopback.rs"]
#[allow(dead_code)] // only its request-head reader is used here
mod loopback;
#[path = "support/peers.rs"]
mod peers;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use serde_json::{Value, json};

const FRAME: Duration = Duration::from_nanos(16_666_667);

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| arg != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("--server") if args.get(1).is_some_and(|arg| arg == "h2") => return h2_server(),
        Some("--server") => return server(),
        Some("--client") => {
            let sources = args[2].parse().expect("sources");
            let seconds = args[4].parse().expect("seconds");
            let h2 = args.get(5).is_some_and(|arg| arg == "h2");
            let report = match args[1].as_str() {
                "bevy_eventsource" => game(sources, &args[3], seconds, h2),
                "bevy_frames" => frames_alone(seconds),
                "hyper" => hyper_floor(sources, &args[3], seconds),
                "reqwest" => reqwest_floor(sources, &args[3], seconds),
                _ => launchdarkly(sources, &args[3], seconds),
            };
            println!("{report}");
            return;
        }
        _ => {}
    }
    let sources: usize = args.first().map_or(10_000, |n| n.parse().expect("SOURCES"));
    let seconds: u64 = args.get(1).map_or(10, |n| n.parse().expect("SECONDS"));
    let protocol = args.get(2).map_or("http1", String::as_str);
    let rounds: usize = args.get(3).map_or(3, |n| n.parse().expect("ROUNDS"));
    let h2 = protocol == "h2";
    assert!(
        !h2 || cfg!(feature = "http2"),
        "h2 needs the http2 feature: cargo bench --bench scale --features http2"
    );
    let this = std::env::current_exe().expect("this binary");

    let mut server = Command::new(&this)
        .args(["--server", protocol])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut first = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .expect("server port");
    let url = format!("http://{}/", first.trim());

    let over = if h2 {
        "HTTP/2 (h2c, 100 streams per connection)"
    } else {
        "HTTP/1.1"
    };
    println!(
        "\n{sources} sources × 1 event/s in synchronized bursts over {over}, {seconds} s measured, \
         {rounds} round{} (the clients take turns in each; median, and the range in brackets)\n",
        if rounds == 1 { "" } else { "s" }
    );
    let clients: &[&str] = if h2 {
        &["bevy_eventsource", "bevy_frames"]
    } else {
        &[
            "bevy_eventsource",
            "bevy_frames",
            "eventsource-client",
            "reqwest",
            "hyper",
        ]
    };
    // runs[client][round]
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); clients.len()];
    for _ in 0..rounds {
        for (client, runs) in clients.iter().zip(&mut runs) {
            runs.push(run_client(&this, client, sources, &url, seconds, protocol));
        }
    }
    println!(
        "| client | KiB per source | CPU (1 core = 100 %) | events delivered / sent | frame p50 / p99 / max (ms) |"
    );
    println!("|---|---|---|---|---|");
    for (client, runs) in clients.iter().zip(&runs) {
        let name = match *client {
            "hyper" => "hyper's connection alone (the floor)",
            "reqwest" => "reqwest's response alone (the floor under the plugin)",
            "bevy_frames" => "the same game's frames, no plugin, no sources",
            client => client,
        };
        let (memory, events) = if *client == "bevy_frames" {
            ("–".to_owned(), "–".to_owned())
        } else {
            let total = |field| values(runs, field).iter().sum::<f64>();
            (
                spread(&values(runs, "/kib_per_source"), 1),
                format!("{} / {}", total("/delivered"), total("/sent")),
            )
        };
        let frames = if *client == "bevy_eventsource" {
            let at = |i: usize| spread(&values(runs, &format!("/frame_ms/{i}")), 2);
            format!("{} / {} / {}", at(0), at(1), at(2))
        } else {
            "–".to_owned()
        };
        let cpu = spread(&values(runs, "/cpu_percent"), 2);
        println!("| {name} | {memory} | {cpu} % | {events} | {frames} |");
    }
    // Paired by round: the clients of a round ran back to back, on the same machine state.
    let cpu = |client: &str| {
        let index = clients.iter().position(|name| *name == client)?;
        Some(values(&runs[index], "/cpu_percent"))
    };
    let game = cpu("bevy_eventsource").unwrap();
    let main_thread = values(&runs[0], "/main_thread_cpu_percent");
    let plugin = by_round(&game, &cpu("bevy_frames").unwrap(), |game, frames| {
        game - frames
    });
    println!(
        "\nbevy_eventsource: the game's thread {} %, the IO thread {} %; without the game's own \
         frames {} %",
        spread(&main_thread, 2),
        spread(&by_round(&game, &main_thread, |game, main| game - main), 2),
        spread(&plugin, 2),
    );
    if let Some(peer) = cpu("eventsource-client") {
        println!(
            "CPU against eventsource-client, round by round: the whole game {}×; the game less its \
             own frames {}×",
            spread(&by_round(&game, &peer, |ours, peer| ours / peer), 2),
            spread(&by_round(&plugin, &peer, |ours, peer| ours / peer), 2),
        );
    }
    if let (Some(peer), Some(reqwest)) = (cpu("eventsource-client"), cpu("reqwest")) {
        let frames = cpu("bevy_frames").unwrap();
        let floor = by_round(&reqwest, &frames, |reqwest, frames| reqwest + frames);
        println!(
            "The floor under the game (reqwest alone + the game's frames, no SSE parsing, no \
             delivery) against eventsource-client, round by round: {}×; reqwest alone {}×",
            spread(&by_round(&floor, &peer, |floor, peer| floor / peer), 2),
            spread(
                &by_round(&reqwest, &peer, |reqwest, peer| reqwest / peer),
                2
            ),
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Runs one client process and returns its report.
fn run_client(
    this: &std::path::Path,
    client: &str,
    sources: usize,
    url: &str,
    seconds: u64,
    protocol: &str,
) -> Value {
    let output = Command::new(this)
        .args([
            "--client",
            client,
            &sources.to_string(),
            url,
            &seconds.to_string(),
            protocol,
        ])
        .output()
        .expect("run a client");
    assert!(output.status.success(), "{client}: {output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("{client} printed no report: {stdout}"))
}

/// One figure of each round's report (a JSON pointer, such as `/cpu_percent`).
fn values(runs: &[Value], pointer: &str) -> Vec<f64> {
    runs.iter()
        .map(|run| run.pointer(pointer).and_then(Value::as_f64).unwrap_or(0.0))
        .collect()
}

/// `f` of two figures round by round.
fn by_round(a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| f(*a, *b)).collect()
}

/// The median of `values`, and their range in brackets when there are several.
fn spread(values: &[f64], decimals: usize) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    match (sorted.first(), sorted.last()) {
        (Some(low), Some(high)) if sorted.len() > 1 => {
            format!("{median:.decimals$} ({low:.decimals$}–{high:.decimals$})")
        }
        _ => format!("{median:.decimals$}"),
    }
}

// ---- the server -------------------------------------------------------------------------------

/// Accepts every connection, answers 200 `text/event-stream`, then once a second writes the
/// same event to every connection at once. Prints its port.
fn server() {
    run_server(|tick| {
        move |mut stream| {
            let mut ticks = tick.subscribe();
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                if loopback::read_request_head(&mut stream).await.is_none() {
                    return;
                }
                let ok = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                           cache-control: no-cache\r\n\r\n";
                if stream.write_all(ok).await.is_err() {
                    return;
                }
                // A client that goes away is noticed at once (a read returns), not at the next
                // tick's write: the next client may open its sources within that second, and the
                // connections of both would not fit under `ulimit -n`.
                let (mut reader, mut writer) = stream.into_split();
                let mut byte = [0; 1];
                loop {
                    tokio::select! {
                        read = tokio::io::AsyncReadExt::read(&mut reader, &mut byte) => {
                            if matches!(read, Ok(0) | Err(_)) {
                                return;
                            }
                        }
                        event = ticks.recv() => match event {
                            Ok(event) if writer.write_all(&event).await.is_ok() => {}
                            _ => return,
                        },
                    }
                }
            });
        }
    });
}

/// [`server`] over HTTP/2 with prior knowledge: hyper's server, at most 100 concurrent streams
/// per connection (a typical server's limit), each stream's body the same ticks.
fn h2_server() {
    use axum::body::Body;
    use axum::response::Response;
    run_server(|tick| {
        let router = axum::Router::new().route(
            "/",
            axum::routing::get(move || {
                let ticks = tick.subscribe();
                async move {
                    let body = futures_lite::stream::unfold(ticks, |mut ticks| async move {
                        let event = ticks.recv().await.ok()?;
                        Some((Ok::<_, std::io::Error>(event), ticks))
                    });
                    Response::builder()
                        .header("content-type", "text/event-stream")
                        .header("cache-control", "no-cache")
                        .body(Body::from_stream(body))
                        .unwrap()
                }
            }),
        );
        move |stream| {
            let service = hyper_util::service::TowerToHyperService::new(router.clone());
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .max_concurrent_streams(100)
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
}

/// A server process: a current-thread runtime, a listener on 127.0.0.1:0 whose address goes to
/// stdout, and the ticker; `setup` makes what each accepted connection is handed to. A failed
/// accept (most likely `ulimit -n` below the sources) ends the process with the error, not a
/// loop that retries it.
fn run_server<C: FnMut(tokio::net::TcpStream)>(setup: impl FnOnce(Ticks) -> C) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("{}", listener.local_addr().unwrap());
        std::io::stdout().flush().unwrap();
        let mut connection = setup(ticker());
        loop {
            match listener.accept().await {
                Ok((stream, _)) => connection(stream),
                Err(error) => panic!("the server cannot accept: {error} (ulimit -n?)"),
            }
        }
    });
}

/// The event every connection gets once a second.
type Ticks = tokio::sync::broadcast::Sender<bytes::Bytes>;

/// Sends the same event to every subscriber once a second.
fn ticker() -> Ticks {
    let (tick, _) = tokio::sync::broadcast::channel(4);
    let ticker = tick.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        for seq in 0u64.. {
            interval.tick().await;
            let event = format!("id: {seq}\ndata: {{\"seq\":{seq},\"px\":101.25}}\n\n");
            let _ = ticker.send(bytes::Bytes::from(event));
        }
    });
    tick
}

// ---- measuring a client -----------------------------------------------------------------------

/// Resident memory now, in KiB.
fn rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// CPU time of this process's threads so far, in nanoseconds: the first field of each thread's
/// `schedstat` (`/proc/self/stat` counts in 10 ms ticks, too coarse for a few percent of a core
/// over seconds). No thread of a client starts or ends inside the window.
fn cpu_time() -> Duration {
    let nanos: u64 = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .map(|task| ran_nanos(&task.unwrap().path()))
        .sum();
    Duration::from_nanos(nanos)
}

/// CPU time of this process's main thread (the game's, in the game) so far.
fn main_thread_cpu_time() -> Duration {
    let main = std::path::PathBuf::from(format!("/proc/self/task/{}", std::process::id()));
    Duration::from_nanos(ran_nanos(&main))
}

/// The first field of a thread's `schedstat`: nanoseconds it ran.
fn ran_nanos(task: &std::path::Path) -> u64 {
    std::fs::read_to_string(task.join("schedstat"))
        .unwrap()
        .split_whitespace()
        .next()
        .and_then(|ran| ran.parse::<u64>().ok())
        .unwrap()
}

/// The window in which events are counted: starts once every source is open.
struct Window {
    baseline_rss: f64,
    sources: usize,
    started: Instant,
    cpu: Duration,
    main_thread_cpu: Duration,
    delivered_before: u64,
}

impl Window {
    fn begin(baseline_rss: f64, sources: usize, delivered: u64) -> Self {
        Self {
            baseline_rss,
            sources,
            started: Instant::now(),
            cpu: cpu_time(),
            main_thread_cpu: main_thread_cpu_time(),
            delivered_before: delivered,
        }
    }

    fn report(&self, delivered: u64, seconds: u64) -> Value {
        let wall = self.started.elapsed();
        let cpu = cpu_time() - self.cpu;
        let main_thread_cpu = main_thread_cpu_time() - self.main_thread_cpu;
        json!({
            "kib_per_source": (rss_kib() - self.baseline_rss) / self.sources.max(1) as f64,
            "cpu_percent": 100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
            "main_thread_cpu_percent": 100.0 * main_thread_cpu.as_secs_f64() / wall.as_secs_f64(),
            "delivered": delivered - self.delivered_before,
            // One event per source per second; the window holds `seconds` ticks, give or take
            // the one in flight at either end.
            "sent": self.sources as u64 * seconds,
        })
    }
}

#[derive(Resource, Default)]
struct Count(u64);

fn game(sources: usize, url: &str, seconds: u64, h2: bool) -> Value {
    let mut app = App::new();
    if h2 {
        #[cfg(feature = "http2")]
        app.insert_resource(SseClientBuilder::new(|| {
            reqwest::Client::builder().http2_prior_knowledge()
        }));
    }
    let mut plugin = SsePlugin::default();
    // Experiments only: the table is made with the defaults.
    if let Some(n) = std::env::var("SCALE_BATCHES_PER_FRAME")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        plugin.max_batches_per_frame = n;
    }
    if let Some(n) = std::env::var("SCALE_QUEUED_BYTES")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        plugin.max_queued_bytes = n;
    }
    app.add_plugins((MinimalPlugins, plugin))
        .init_resource::<Count>()
        .add_systems(
            Update,
            |mut messages: MessageReader<SseMessage>, mut count: ResMut<Count>| {
                count.0 += messages.read().count() as u64;
            },
        );
    app.update();
    let baseline = rss_kib();
    for _ in 0..sources {
        app.world_mut().spawn(EventSource::new(url));
    }
    let opened = Instant::now();
    let mut next = Instant::now();
    // Up to every source open, then one whole second, so the window starts on a quiet frame.
    loop {
        app.update();
        if app.world().resource::<SseStats>().open_sources == sources {
            break;
        }
        assert!(
            opened.elapsed() < Duration::from_secs(120),
            "sources did not all open"
        );
        next += FRAME;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let window = Window::begin(baseline, sources, app.world().resource::<Count>().0);
    let frames = frames_for(&mut app, &window, seconds, next);
    let mut report = window.report(app.world().resource::<Count>().0, seconds);
    with_frame_times(&mut report, frames);
    report
}

/// The game without the plugin and without sources: what its frames cost alone, at the same
/// pace. The plugin's share of the game's CPU is the game's less this.
fn frames_alone(seconds: u64) -> Value {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins).init_resource::<Count>();
    app.update();
    let window = Window::begin(rss_kib(), 0, 0);
    let frames = frames_for(&mut app, &window, seconds, Instant::now());
    let mut report = window.report(0, 0);
    with_frame_times(&mut report, frames);
    report
}

/// Runs the app at 60 frames a second from `next` until `seconds` of the window have passed;
/// returns each frame's duration.
fn frames_for(app: &mut App, window: &Window, seconds: u64, mut next: Instant) -> Vec<Duration> {
    let mut frames = Vec::new();
    while window.started.elapsed() < Duration::from_secs(seconds) {
        let frame = Instant::now();
        app.update();
        frames.push(frame.elapsed());
        next += FRAME;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        if Instant::now() > next + FRAME {
            next = Instant::now();
        }
    }
    frames
}

/// Adds the frame times' p50, p99 and max (ms) to the report.
fn with_frame_times(report: &mut Value, mut frames: Vec<Duration>) {
    frames.sort();
    let at = |q: f64| frames[((frames.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    report["frame_ms"] = json!([
        (at(0.5) * 100.0).round() / 100.0,
        (at(0.99) * 100.0).round() / 100.0,
        (at(1.0) * 100.0).round() / 100.0
    ]);
}

fn launchdarkly(sources: usize, url: &str, seconds: u64) -> Value {
    use eventsource_client::{Client, SSE};
    use futures_lite::StreamExt;
    on_tokio(sources, seconds, || {
        // One transport (one hyper connection pool) shared by every stream, as the plugin shares
        // one reqwest client.
        let transport = peers::launchdarkly_transport();
        move |open, delivered| {
            let client = peers::launchdarkly_client(url, transport.clone());
            async move {
                let mut stream = client.stream();
                while let Some(item) = stream.next().await {
                    match item {
                        Ok(SSE::Connected(_)) => {
                            open.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(SSE::Event(event)) => {
                            std::hint::black_box(&event.data);
                            delivered.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(error) => panic!("eventsource-client: {error:?}"),
                    }
                }
            }
        }
    })
}

/// A client on one current-thread tokio runtime: after the baseline RSS, `setup` makes what
/// runs each source (given its `open` and `delivered` counters), one task a source, then
/// [`measure_once_open`].
fn on_tokio<S, F>(sources: usize, seconds: u64, setup: impl FnOnce() -> S) -> Value
where
    S: Fn(Arc<AtomicU64>, Arc<AtomicU64>) -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let delivered = Arc::new(AtomicU64::new(0));
    let open = Arc::new(AtomicU64::new(0));
    runtime.block_on(async {
        let baseline = rss_kib();
        let source = setup();
        for _ in 0..sources {
            tokio::spawn(source(open.clone(), delivered.clone()));
        }
        measure_once_open(&open, &delivered, sources, baseline, seconds).await
    })
}

/// For a client on tokio: waits until all `sources` are `open` (two minutes at most), then counts
/// what is `delivered` for `seconds`.
async fn measure_once_open(
    open: &AtomicU64,
    delivered: &AtomicU64,
    sources: usize,
    baseline_rss: f64,
    seconds: u64,
) -> Value {
    let opened = Instant::now();
    while open.load(Ordering::Relaxed) < sources as u64 {
        assert!(
            opened.elapsed() < Duration::from_secs(120),
            "sources did not all open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let window = Window::begin(baseline_rss, sources, delivered.load(Ordering::Relaxed));
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    window.report(delivered.load(Ordering::Relaxed), seconds)
}

/// The floor under any client on reqwest, this plugin among them: one request per source on one
/// shared client, built as the plugin builds its default one (with rustls), its response's body
/// read chunk by chunk ([`reqwest::Response::chunk`]), events counted by their blank lines, on
/// one current-thread runtime. No SSE parser, no game.
fn reqwest_floor(sources: usize, url: &str, seconds: u64) -> Value {
    on_tokio(sources, seconds, || {
        let client = floors::reqwest_client();
        move |open: Arc<AtomicU64>, delivered: Arc<AtomicU64>| {
            let (client, url) = (client.clone(), url.to_owned());
            async move {
                let response = floors::open_reqwest(&client, &url).await;
                open.fetch_add(1, Ordering::Relaxed);
                floors::count_reqwest_events(response, |ended| {
                    delivered.fetch_add(ended, Ordering::Relaxed);
                })
                .await;
            }
        }
    })
}

/// The floor under any client on hyper, reqwest and `eventsource-client` alike: one hyper
/// HTTP/1.1 client connection per source ([`floors::open_hyper`]) on one current-thread runtime,
/// nothing else.
fn hyper_floor(sources: usize, url: &str, seconds: u64) -> Value {
    on_tokio(sources, seconds, || {
        |open: Arc<AtomicU64>, delivered: Arc<AtomicU64>| {
            let url = url.to_owned();
            async move {
                let body = floors::open_hyper(&url).await;
                open.fetch_add(1, Ordering::Relaxed);
                floors::count_hyper_events(body, |ended| {
                    delivered.fetch_add(ended, Ordering::Relaxed);
                })
                .await;
            }
        }
    })
}
