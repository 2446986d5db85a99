//! The in-process throughput ratios with the contenders taking turns, one stream each per
//! round, so that the machine's slower stretches weigh on every contender alike.
//!
//! `benches/end_to_end.rs` runs each contender for seconds before the next: on a shared
//! machine whose speed moves by minutes, its ratios move with it (the plugin against
//! `eventsource-client` 2.3–3.7× on plain framing in runs of the same code). Here each round
//! streams 200,000 tick events once to each contender, and the ratio is taken round by round,
//! between streams that ran back to back.
//!
//! Run: `cargo bench --bench alternate [-- ROUNDS]` (40 rounds by default).

#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/floors.rs"]
#[allow(dead_code)] // only the reqwest opener is used here
mod floors;
#[path = "support/peers.rs"]
mod peers;
#[path = "support/server.rs"]
mod server;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::parser::{Parsed, SseParser};
use bevy_eventsource::prelude::*;
use server::{Framing, chunk_per_event, start_server};

/// Events per stream, as in `end_to_end`.
const EVENTS: u64 = 200_000;

#[derive(Resource, Default)]
struct Tally {
    messages: u64,
    data_bytes: usize,
}

fn bevy_app() -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, SsePlugin::default()))
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

/// One stream into the plugin's app, `app.update()` back to back until every event was read.
fn plugin_stream(app: &mut App, url: &str) {
    *app.world_mut().resource_mut::<Tally>() = Tally::default();
    let source = app.world_mut().spawn(EventSource::new(url)).id();
    while app.world().resource::<Tally>().messages < EVENTS {
        app.update();
    }
    app.world_mut().despawn(source);
    app.update();
}

/// reqwest and this parser on a current-thread runtime on a thread of their own, while this
/// thread runs `game`'s frames back to back: the plugin's two busy threads without the handoff.
fn ceiling_stream(
    game: &mut App,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
) {
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            runtime.block_on(async {
                let mut response = floors::open_reqwest(client, url).await;
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
            })
        });
        while !reader.is_finished() {
            game.update();
        }
        reader.join().expect("the reader panicked");
    });
}

fn runtime(multi: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder.enable_all().build().expect("runtime")
}

fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|arg| !arg.starts_with('-'))
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(40);
    let body = corpus::tick_events(EVENTS);
    let servers = [
        (
            "plain",
            start_server(Arc::new(body.clone()), Framing::Plain),
        ),
        (
            "chunked",
            start_server(Arc::new(chunk_per_event(&body)), Framing::ChunkPerEvent),
        ),
    ];
    let (current, multi) = (runtime(false), runtime(true));
    let client = reqwest::Client::new();
    let (mut app, mut game) = (bevy_app(), bevy_app());
    const NAMES: [&str; 4] = [
        "bevy_eventsource",
        "eventsource-client, current-thread",
        "eventsource-client, multi-thread",
        "ceiling: reqwest + parser beside the game",
    ];
    for (framing, addr) in servers {
        let url = format!("http://{addr}/ticks");
        let mut times: [Vec<Duration>; 4] = Default::default();
        for round in 0..=rounds {
            for (contender, times) in times.iter_mut().enumerate() {
                // On one chunk per event the multi-thread peer takes seconds a stream (0.03 M
                // events/s in `end_to_end`): the current-thread one is the peer to beat there.
                if contender == 2 && framing == "chunked" {
                    continue;
                }
                let start = Instant::now();
                match contender {
                    0 => plugin_stream(&mut app, &url),
                    1 => current.block_on(peers::launchdarkly(&url, EVENTS)),
                    2 => multi.block_on(peers::launchdarkly(&url, EVENTS)),
                    _ => ceiling_stream(&mut game, &current, &client, &url),
                }
                // Round 0 warms every contender up.
                if round > 0 {
                    times.push(start.elapsed());
                }
            }
        }
        let rate = |time: Duration| EVENTS as f64 / time.as_secs_f64() / 1e6;
        println!("{framing}, {rounds} rounds: M events/s, quartiles [25 % median 75 %]");
        for (name, times) in NAMES
            .iter()
            .zip(&times)
            .filter(|(_, times)| !times.is_empty())
        {
            let [q1, q2, q3] = quartiles(times.iter().map(|&t| rate(t)).collect());
            println!("  {name:45} {q1:6.2} {q2:6.2} {q3:6.2}");
        }
        println!("  the plugin's speed over theirs, round by round:");
        let ratios = |other: &[Duration]| -> Vec<f64> {
            let ours = times[0].iter();
            ours.zip(other)
                .map(|(ours, theirs)| theirs.as_secs_f64() / ours.as_secs_f64())
                .collect()
        };
        for (name, peer) in NAMES
            .iter()
            .zip(&times)
            .skip(1)
            .take(2)
            .filter(|(_, times)| !times.is_empty())
        {
            let ratios = ratios(peer);
            let at_least_3 = ratios.iter().filter(|&&ratio| ratio >= 3.0).count();
            let [q1, q2, q3] = quartiles(ratios);
            println!(
                "  {name:45} {q1:6.2} {q2:6.2} {q3:6.2}  (at least 3x in {at_least_3} of {rounds})"
            );
        }
        let [q1, q2, q3] = quartiles(ratios(&times[3]));
        println!("  {:45} {q1:6.2} {q2:6.2} {q3:6.2}", "share of the ceiling");
        println!("  the ceiling's speed over theirs, round by round:");
        for (name, peer) in NAMES
            .iter()
            .zip(&times)
            .skip(1)
            .take(2)
            .filter(|(_, times)| !times.is_empty())
        {
            let ceiling = times[3].iter();
            let ratios = ceiling
                .zip(peer)
                .map(|(ours, theirs)| theirs.as_secs_f64() / ours.as_secs_f64());
            let [q1, q2, q3] = quartiles(ratios.collect());
            println!("  {name:45} {q1:6.2} {q2:6.2} {q3:6.2}");
        }
    }
}
