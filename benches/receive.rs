//! The main thread's cost per delivered message, in the three shapes a game meets: one source
//! with a long stream, 10,000 sources with one event each in the same frame, and a stream whose
//! server sends one HTTP chunk per event. No sockets: the in-memory transport hands the parsed
//! reports over (the IO side's work is not counted), and the receive step plus an `Update`
//! system reading every message with a `MessageReader<SseMessage>` are timed. Prints ns per
//! message, the median of 15 frames of each shape.
//!
//! Run: `cargo bench --bench receive` (`-- sources` for the 10,000-source shape alone, and
//! `RECEIVE_FRAMES=N` for more frames, e.g. under a profiler).

use std::time::Instant;

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use bevy_eventsource::transport::MemoryTransport;

const EVENT: &str = "id: 1\ndata: {\"seq\":1,\"px\":101.25}\n\n";

#[derive(Resource, Default)]
struct Count(u64);

fn app(sources: usize) -> (App, MemoryTransport, Vec<Entity>) {
    let transport = MemoryTransport::new();
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        SsePlugin {
            // Everything of a frame in that frame: the shape, not the spreading, is measured.
            max_batches_per_frame: 20_000,
            max_queued_bytes: usize::MAX,
            ..default()
        },
    ))
    .insert_resource(transport.clone())
    .init_resource::<Count>()
    .add_systems(
        Update,
        |mut messages: MessageReader<SseMessage>, mut count: ResMut<Count>| {
            for message in messages.read() {
                std::hint::black_box(message.data());
                count.0 += 1;
            }
        },
    );
    let entities: Vec<Entity> = (0..sources)
        .map(|_| {
            app.world_mut()
                .spawn(EventSource::new("http://bench.test/"))
                .id()
        })
        .collect();
    app.update();
    for attempt in transport.live_attempts() {
        attempt.open();
    }
    app.update();
    (app, transport, entities)
}

/// Times frames in which `feed` queued `per_frame` messages; ns per message, median.
/// Frames per shape: 15, or `RECEIVE_FRAMES`.
fn frames_per_shape() -> usize {
    std::env::var("RECEIVE_FRAMES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(15)
}

fn measure(app: &mut App, per_frame: u64, mut feed: impl FnMut()) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..frames_per_shape() {
        feed();
        let before = app.world().resource::<Count>().0;
        let started = Instant::now();
        app.update();
        let elapsed = started.elapsed();
        let read = app.world().resource::<Count>().0 - before;
        assert_eq!(read, per_frame, "every message of the frame read in it");
        samples.push(elapsed);
    }
    // An idle frame of the same app, taken off: only the messages' share is counted.
    let mut idle = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        app.update();
        idle.push(started.elapsed());
    }
    samples.sort();
    idle.sort();
    let busy = samples[samples.len() / 2].saturating_sub(idle[idle.len() / 2]);
    busy.as_nanos() as f64 / per_frame as f64
}

fn main() {
    // `cargo bench --bench receive -- sources`: only the 10,000-source shape (for a profiler).
    let only_sources = std::env::args().any(|arg| arg == "sources");
    println!("| shape | messages per frame | main thread, ns per message |");
    println!("|---|---|---|");

    if !only_sources {
        one_source();
    }
    many_sources();
}

fn one_source() {
    // One source, 10,000 events in one chunk.
    let (mut one, transport, _) = app(1);
    let attempt = transport.live_attempts().remove(0);
    let burst = EVENT.repeat(10_000);
    let ns = measure(&mut one, 10_000, || {
        attempt.send(&burst);
    });
    println!("| one source, one chunk | 10,000 | {ns:.0} |");

    // One source, each event its own chunk (its own report batch on the IO side's terms).
    let ns = measure(&mut one, 10_000, || {
        for _ in 0..10_000 {
            attempt.send(EVENT);
        }
    });
    println!("| one source, one chunk per event | 10,000 | {ns:.0} |");
}

fn many_sources() {
    // 10,000 sources, one event each.
    let (mut many, transport, _) = app(10_000);
    let attempts = transport.live_attempts();
    let ns = measure(&mut many, 10_000, || {
        for attempt in &attempts {
            attempt.send(EVENT);
        }
    });
    println!("| 10,000 sources, one event each | 10,000 | {ns:.0} |");
}
