//! Main-thread cost of JSON events: decoded by the IO task (`with_json`, the game reads
//! `SseJson<Position>`) or by the game on the main thread (it reads `SseMessage` and calls
//! `serde_json`). The swarm's server (`pos` events, one HTTP chunk each, `racers` per tick at
//! 30 Hz) on loopback; a headless app paced at 60 frames a second, as a game would run, no
//! renderer to disturb the measurement. Per frame it adds the plugin's receive step
//! (`SseStats::frame_receive_time`) and the game's reading system; both modes alternate in one
//! run.
//!
//! ```text
//! cargo bench --bench typed [-- SECONDS]
//! ```

#[path = "../examples/support/game_server.rs"]
mod game_server;
#[path = "../examples/support/loopback.rs"]
mod loopback;

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use game_server::Position;

/// What the game's reading system did this frame.
#[derive(Resource, Default)]
struct Read {
    events: u64,
    time: Duration,
    /// Sum of coordinates: keeps the values used.
    checksum: f64,
}

fn read_decoded(mut positions: MessageReader<SseJson<Position>>, mut read: ResMut<Read>) {
    let started = Instant::now();
    for SseJson { value, .. } in positions.read() {
        read.events += 1;
        read.checksum += f64::from(value.x + value.y + value.d) + value.id as f64;
    }
    read.time += started.elapsed();
}

fn read_and_decode(mut messages: MessageReader<SseMessage>, mut read: ResMut<Read>) {
    let started = Instant::now();
    for message in messages.read() {
        if let Ok(value) = serde_json::from_str::<Position>(message.data()) {
            read.events += 1;
            read.checksum += f64::from(value.x + value.y + value.d) + value.id as f64;
        }
    }
    read.time += started.elapsed();
}

struct Outcome {
    events: u64,
    frames: usize,
    receive_us: Vec<f64>,
    read_us: Vec<f64>,
}

fn run(url: &str, on_io: bool, seconds: f64) -> Outcome {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, SsePlugin::default()))
        .add_message::<SseJson<Position>>()
        .init_resource::<Read>();
    let source = EventSource::new(url);
    if on_io {
        app.add_systems(Update, read_decoded);
        app.world_mut().spawn(source.with_json::<Position>("pos"));
    } else {
        app.add_systems(Update, read_and_decode);
        app.world_mut().spawn(source);
    }
    // Warm up: connected and streaming (frames paced as below).
    let warm = Instant::now();
    while app.world().resource::<Read>().events == 0 {
        assert!(
            warm.elapsed() < Duration::from_secs(10),
            "no event within 10 s from {url}: nothing to measure"
        );
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    let frame = Duration::from_secs_f64(1.0 / 60.0);
    let started = Instant::now();
    let (mut receive_us, mut read_us) = (Vec::new(), Vec::new());
    let events_before = app.world().resource::<Read>().events;
    while started.elapsed().as_secs_f64() < seconds {
        let next = Instant::now() + frame;
        app.world_mut().resource_mut::<Read>().time = Duration::ZERO;
        app.update();
        let receive = app.world().resource::<SseStats>().frame_receive_time;
        receive_us.push(receive.as_secs_f64() * 1e6);
        read_us.push(app.world().resource::<Read>().time.as_secs_f64() * 1e6);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let read = app.world().resource::<Read>();
    std::hint::black_box(read.checksum);
    Outcome {
        events: read.events - events_before,
        frames: receive_us.len(),
        receive_us,
        read_us,
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn p99(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get((sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a number is the seconds per run.
    let seconds: f64 = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(8.0);
    let addr = game_server::start();
    println!(
        "| racers (events/s) | JSON decoded on | events/s read | receive µs/frame | game's read µs/frame | main thread µs/frame (p99) | µs/event |"
    );
    println!("|---|---|---|---|---|---|---|");
    for racers in [300, 3000] {
        let url = format!("http://{addr}/swarm?racers={racers}&hz=30");
        for round in 0..2 {
            for on_io in [true, false] {
                let outcome = run(&url, on_io, seconds);
                let total: Vec<f64> = outcome
                    .receive_us
                    .iter()
                    .zip(&outcome.read_us)
                    .map(|(receive, read)| receive + read)
                    .collect();
                let per_frame = mean(&total);
                let events_per_frame = outcome.events as f64 / outcome.frames.max(1) as f64;
                println!(
                    "| {racers} ({}){} | {} | {:.0} | {:.0} | {:.0} | {per_frame:.0} ({:.0}) | {:.2} |",
                    racers * 30,
                    if round == 0 { "" } else { ", again" },
                    if on_io { "IO thread" } else { "main thread" },
                    outcome.events as f64 / seconds,
                    mean(&outcome.receive_us),
                    mean(&outcome.read_us),
                    p99(&total),
                    per_frame / events_per_frame.max(1e-9),
                );
            }
        }
    }
}
