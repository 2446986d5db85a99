//! A bounded frame: the receive step takes only what was queued when it began, honours the
//! message budget and the time budget, and shares the frame between sources, so a firehose
//! next to slow sources does not delay them. On the in-memory transport.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use crate::support::app::*;

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use bevy_eventsource::transport::MemoryAttempt;

const URL: &str = "http://game.test/feed";

fn busy(duration: Duration) {
    let start = Instant::now();
    while start.elapsed() < duration {
        std::hint::spin_loop();
    }
}

#[derive(Resource)]
struct Feed(MemoryAttempt);

#[test]
fn what_arrives_during_the_step_waits_for_the_next_frame() {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn(EventSource::new(URL))
        .observe(|message: On<SseMessage>, feed: Res<Feed>| {
            // The transport adds more while the step runs.
            let next: u32 = message.data().parse().unwrap();
            if next < 5 {
                feed.0.send(format!("data: {}\n\n", next + 1));
            }
        })
        .id();
    app.update();
    let attempt = network.last_attempt(source).unwrap();
    app.insert_resource(Feed(attempt.clone()));
    attempt.open().send("data: 1\n\n");
    for frame in 1..=5 {
        app.update();
        assert_eq!(data(&app).len(), frame, "frame {frame}: {:?}", data(&app));
    }
    assert_eq!(data(&app), ["1", "2", "3", "4", "5"]);
}

#[test]
fn the_time_budget_stops_the_step_after_the_event_in_hand() {
    const EVENTS: usize = 100;
    let (mut app, network) = memory_app_with(SsePlugin {
        max_receive_time_per_frame: Some(Duration::from_millis(1)),
        ..SsePlugin::default()
    });
    let source = app
        .world_mut()
        .spawn(EventSource::new(URL))
        .observe(|_: On<SseMessage>| busy(Duration::from_micros(200)))
        .id();
    app.update();
    let stream: String = (0..EVENTS).map(|k| format!("data: {k}\n\n")).collect();
    network.last_attempt(source).unwrap().open().send(stream);
    let mut per_frame = Vec::new();
    while data(&app).len() < EVENTS {
        app.update();
        per_frame.push(app.world().resource::<SseStats>().frame_messages);
        assert!(per_frame.len() < 200, "{per_frame:?}");
    }
    // Each event costs at least 200 µs, so a 1 ms budget checked before each event lets at most
    // 5 through (the one that crosses the line included); and every frame makes progress.
    assert!(
        per_frame.iter().all(|&n| (1..=5).contains(&n)),
        "{per_frame:?}"
    );
    let expected: Vec<String> = (0..EVENTS).map(|k| k.to_string()).collect();
    assert_eq!(data(&app), expected);
}

#[test]
fn the_message_budget_is_per_frame_and_loses_nothing() {
    let (mut app, network) = memory_app_with(SsePlugin {
        max_messages_per_frame: NonZeroUsize::new(3),
        ..SsePlugin::default()
    });
    let source = app.world_mut().spawn(EventSource::new(URL)).id();
    app.update();
    let stream: String = (0..10).map(|k| format!("data: {k}\n\n")).collect();
    network.last_attempt(source).unwrap().open().send(stream);
    assert_eq!(messages_per_frame(&mut app, 5), [3, 3, 3, 1, 0]);
    assert_eq!(data(&app).len(), 10);
}

/// `max_batches_per_frame` counts every batch a frame takes in, those applied as they are
/// taken too: a burst of one event from each of ten sources is spread over three frames at
/// four batches a frame, in the order the events came.
#[test]
fn a_burst_from_many_sources_is_spread_over_frames_by_the_batch_limit() {
    const SOURCES: usize = 10;
    let (mut app, network) = memory_app_with(SsePlugin {
        max_batches_per_frame: 4,
        ..SsePlugin::default()
    });
    let sources = open_sources(&mut app, &network, URL, SOURCES);
    for (k, (_, attempt)) in sources.iter().enumerate() {
        attempt.send(format!("data: {k}\n\n"));
    }
    assert_eq!(messages_per_frame(&mut app, 4), [4, 4, 2, 0]);
    let expected: Vec<String> = (0..SOURCES).map(|k| k.to_string()).collect();
    assert_eq!(data(&app), expected);
}

/// Batches are applied in the order they came while nothing waits; once the budget leaves a
/// source's batch unfinished, that source goes first the next frame, and what comes meanwhile
/// queues behind it: its own new batch in its turn, a new source after it.
#[test]
fn what_a_frame_left_goes_first_the_next_frame() {
    let (mut app, network) = memory_app_with(SsePlugin {
        max_messages_per_frame: NonZeroUsize::new(10),
        ..SsePlugin::default()
    });
    let sources = open_sources(&mut app, &network, URL, 2);
    let (to_a, to_b) = (&sources[0].1, &sources[1].1);
    let events = |source: &str, ids: std::ops::Range<u32>| -> String {
        ids.map(|i| format!("data: {source}{i}\n\n")).collect()
    };
    let names = |source: &str, ids: std::ops::Range<u32>| -> Vec<String> {
        ids.map(|i| format!("{source}{i}")).collect()
    };

    to_b.send(events("b", 0..2));
    to_a.send(events("a", 0..15));
    app.update();
    assert_eq!(data(&app), [names("b", 0..2), names("a", 0..8)].concat());

    // A's 7 left over; then B's batch came before A's next one.
    to_b.send(events("b", 2..5));
    to_a.send(events("a", 15..17));
    app.update();
    assert_eq!(
        data(&app)[10..],
        [names("a", 8..17), names("b", 2..3)].concat()
    );
    app.update();
    assert_eq!(data(&app)[20..], names("b", 3..5));
}

/// Runs `frames` frames; how many messages each delivered.
fn messages_per_frame(app: &mut App, frames: usize) -> Vec<usize> {
    (0..frames)
        .map(|_| {
            app.update();
            app.world().resource::<SseStats>().frame_messages
        })
        .collect()
}

#[derive(Resource, Default)]
struct Arrived(Vec<(Entity, u32)>);

#[derive(Resource, Default)]
struct Frame(u32);

/// One firehose source with an observer (2,000 events a frame, 120,000 a second at 60 Hz, each
/// costing the observer 2 µs) next to 50 slow sources (one event each, one a frame), with a
/// 2 ms time budget that the firehose alone overruns: each slow event is read within 2 frames
/// of its arrival (a source that used up its turn goes behind the others, and every frame
/// applies at least one report, so this holds however slow the machine), and the firehose
/// loses nothing.
#[test]
fn a_firehose_does_not_hold_back_slow_sources() {
    const SLOW: usize = 50;
    const FRAMES: u32 = SLOW as u32;
    const FIREHOSE_PER_FRAME: usize = 2_000;
    let (mut app, network) = memory_app_with(SsePlugin {
        max_receive_time_per_frame: Some(Duration::from_millis(2)),
        ..SsePlugin::default()
    });
    app.init_resource::<Arrived>()
        .init_resource::<Frame>()
        .add_systems(First, |mut frame: ResMut<Frame>| frame.0 += 1)
        .add_systems(
            Update,
            |mut read: MessageReader<SseMessage>, frame: Res<Frame>, mut seen: ResMut<Arrived>| {
                for message in read.read() {
                    seen.0.push((message.entity, frame.0));
                }
            },
        );
    let firehose = app
        .world_mut()
        .spawn(EventSource::new(URL))
        .observe(|_: On<SseMessage>| busy(Duration::from_micros(2)))
        .id();
    let slow: Vec<Entity> = (0..SLOW)
        .map(|_| app.world_mut().spawn(EventSource::new(URL)).id())
        .collect();
    app.update();
    let hose = network.last_attempt(firehose).unwrap();
    hose.open();
    for &source in &slow {
        network.last_attempt(source).unwrap().open();
    }
    app.update();
    let mut sent_at = Vec::new();
    let mut worst = Duration::ZERO;
    for &source in &slow {
        let frame = app.world().resource::<Frame>().0 + 1;
        let burst: String = (0..FIREHOSE_PER_FRAME).map(|_| "data: f\n\n").collect();
        hose.send(burst);
        network.last_attempt(source).unwrap().send("data: slow\n\n");
        sent_at.push((source, frame));
        app.update();
        worst = worst.max(app.world().resource::<SseStats>().frame_receive_time);
    }
    // The budget holds the firehose back (in a debug build, ~100 observed events a frame); it
    // catches up once it is alone.
    let total = FIREHOSE_PER_FRAME * FRAMES as usize;
    let hosed = |app: &App| {
        let arrived = &app.world().resource::<Arrived>().0;
        arrived.iter().filter(|(s, _)| *s == firehose).count()
    };
    for _ in 0..10_000 {
        if hosed(&app) == total && app.world().resource::<Arrived>().0.len() == total + SLOW {
            break;
        }
        app.update();
    }
    assert_eq!(hosed(&app), total);
    let arrived = &app.world().resource::<Arrived>().0;
    for (source, sent) in sent_at {
        let (_, read) = arrived.iter().find(|(s, _)| *s == source).unwrap();
        assert!(
            read - sent <= 2,
            "sent in frame {sent}, read in frame {read}"
        );
    }
    println!("worst receive step with a 2 ms budget: {worst:?}");
}
