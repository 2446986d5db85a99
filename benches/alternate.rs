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

#[path = "support/contenders.rs"]
mod contenders;
#[path = "support/corpus.rs"]
mod corpus;
#[path = "support/floors.rs"]
#[allow(dead_code)] // only reqwest's opener is used here
mod floors;
#[path = "support/peers.rs"]
mod peers;
#[path = "support/server.rs"]
mod server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy_eventsource::prelude::*;
use contenders::*;
use server::{Framing, chunk_per_event, start_server};

/// Events per stream, as in `end_to_end`.
const EVENTS: u64 = 200_000;

fn quartiles(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}

/// Round by round, how many times as fast as each of the `peers` that ran `ours` was.
fn print_ratios(ours: &[Duration], peers: &[(&str, &Vec<Duration>)]) {
    for (name, theirs) in peers.iter().filter(|(_, theirs)| !theirs.is_empty()) {
        let ratios: Vec<f64> = ours
            .iter()
            .zip(theirs.iter())
            .map(|(ours, theirs)| theirs.as_secs_f64() / ours.as_secs_f64())
            .collect();
        let at_least_3 = ratios.iter().filter(|&&ratio| ratio >= 3.0).count();
        let [q1, q2, q3] = quartiles(ratios);
        println!(
            "  {name:45} {q1:6.2} {q2:6.2} {q3:6.2}  (at least 3x in {at_least_3} of {})",
            ours.len()
        );
    }
}

const NAMES: [&str; 4] = [
    "bevy_eventsource",
    "eventsource-client, current-thread",
    "eventsource-client, multi-thread",
    "ceiling: reqwest + parser beside the game",
];

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
    let (current, multi) = (current_thread(), multi_thread());
    let client = reqwest::Client::new();
    let (mut app, mut game) = (
        bevy_app(SsePlugin::default()),
        bevy_app(SsePlugin::default()),
    );
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
                    0 => {
                        bevy_stream(&mut app, &url, EVENTS);
                    }
                    1 => current.block_on(peers::launchdarkly(&url, EVENTS)),
                    2 => multi.block_on(peers::launchdarkly(&url, EVENTS)),
                    _ => ingest_beside_game(&mut game, &current, &client, &url, EVENTS),
                }
                // Round 0 warms every contender up.
                if round > 0 {
                    times.push(start.elapsed());
                }
            }
        }
        let rate = |time: &Duration| EVENTS as f64 / time.as_secs_f64() / 1e6;
        println!("{framing}, {rounds} rounds: M events/s, quartiles [25 % median 75 %]");
        for (name, times) in NAMES.iter().zip(&times) {
            if !times.is_empty() {
                let [q1, q2, q3] = quartiles(times.iter().map(rate).collect());
                println!("  {name:45} {q1:6.2} {q2:6.2} {q3:6.2}");
            }
        }
        let peers = [(NAMES[1], &times[1]), (NAMES[2], &times[2])];
        println!("  the plugin's speed over theirs, round by round:");
        print_ratios(&times[0], &peers);
        let [q1, q2, q3] = quartiles(
            (times[0].iter().zip(&times[3]))
                .map(|(ours, ceiling)| ceiling.as_secs_f64() / ours.as_secs_f64())
                .collect(),
        );
        println!("  {:45} {q1:6.2} {q2:6.2} {q3:6.2}", "share of the ceiling");
        println!("  the ceiling's speed over theirs, round by round:");
        print_ratios(&times[3], &peers);
    }
}
