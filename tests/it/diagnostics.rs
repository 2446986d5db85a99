//! `SseStats`, `SseSourceStats` and `SseDiagnosticsPlugin` after known bursts.

use crate::support::{app, server};

use std::time::Duration;

use app::*;
use bevy::diagnostic::DiagnosticsStore;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_eventsource::prelude::*;
use server::{OK_HEAD, ScriptedServer, send};

fn diagnostic(app: &App, path: &bevy::diagnostic::DiagnosticPath) -> f64 {
    app.world()
        .resource::<DiagnosticsStore>()
        .get(path)
        .and_then(|diagnostic| diagnostic.value())
        .unwrap_or_else(|| panic!("no value for {path}"))
}

fn source_stats(app: &App, source: Entity) -> SseSourceStats {
    app.world().get::<SseSourceStats>(source).unwrap().clone()
}

fn network_now(app: &App) -> Duration {
    app.world().resource::<Time<Real>>().elapsed()
}

#[test]
fn a_known_burst_shows_in_the_stats_and_the_diagnostics() {
    let (mut app, network) = memory_app();
    app.add_plugins(SseDiagnosticsPlugin::default())
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            100,
        )));
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/feed"))
        .id();
    let idle = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/idle"))
        .id();
    app.update();
    network.last_attempt(idle).unwrap().open();
    let attempt = network.last_attempt(source).unwrap();
    attempt.open();
    // 40 events of 10 bytes each ("data: 12\n\n"), in two chunks, and half an event.
    let burst = "data: 12\n\n".repeat(20);
    attempt.send(&burst).send(&burst).send("data: 1");
    app.update();

    let stats = app.world().resource::<SseStats>().clone();
    assert_eq!(stats.frame_messages, 40);
    assert_eq!(stats.total_messages, 40);
    assert_eq!(stats.total_bytes, 407);
    assert_eq!(stats.open_sources, 2);
    assert_eq!(diagnostic(&app, &SseDiagnosticsPlugin::OPEN_SOURCES), 2.0);
    // 40 messages in a frame of 100 ms of real time.
    let rate = diagnostic(&app, &SseDiagnosticsPlugin::MESSAGES_PER_SECOND);
    assert!((rate - 400.0).abs() < 1e-6, "{rate}");
    let bytes = diagnostic(&app, &SseDiagnosticsPlugin::BYTES_PER_SECOND);
    assert!((bytes - 4070.0).abs() < 1e-6, "{bytes}");
    assert!(diagnostic(&app, &SseDiagnosticsPlugin::RECEIVE_TIME) >= 0.0);

    let per_source = source_stats(&app, source);
    assert_eq!((per_source.messages, per_source.bytes), (40, 407));
    assert_eq!(per_source.attempts, 1);
    assert_eq!(per_source.opened_at, Some(network_now(&app)));
    assert_eq!(source_stats(&app, idle).messages, 0);

    // The stream drops: an error, a wait, then a reconnection.
    attempt.end_stream();
    app.update();
    let now = network_now(&app);
    let per_source = source_stats(&app, source);
    assert_eq!(per_source.errors, 1);
    assert!(per_source.last_error.as_deref().unwrap().contains("ended"));
    assert_eq!(per_source.opened_at, None);
    let wait = per_source.retry_in(now).expect("retrying");
    assert!(wait > Duration::ZERO, "{wait:?}");
    assert_eq!(diagnostic(&app, &SseDiagnosticsPlugin::OPEN_SOURCES), 1.0);
    assert_eq!(diagnostic(&app, &SseDiagnosticsPlugin::ERRORS), 1.0);

    update_until(&mut app, "the reconnection", |_| {
        network.attempts_of(source).len() == 2
    });
    app.update();
    let per_source = source_stats(&app, source);
    assert_eq!((per_source.attempts, per_source.reconnections), (2, 1));
    assert_eq!(per_source.retry_at, None);
    assert_eq!(diagnostic(&app, &SseDiagnosticsPlugin::RECONNECTIONS), 1.0);

    // Despawning an open source leaves the open count right.
    app.world_mut().despawn(idle);
    app.update();
    assert_eq!(app.world().resource::<SseStats>().open_sources, 0);
}

#[test]
fn bytes_are_counted_as_the_network_delivered_them() {
    let events = "retry: 60000\n: hi\n\nid: 1\ndata: first\n\nevent: e\ndata: second\n\n";
    let unfinished = "data: part";
    // Then the server closes the connection.
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD), send(events), send(unfinished)]]);
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/events")))
        .id();
    update_until(&mut app, "two events", |app| {
        collected::<SseMessage>(app).len() == 2
    });
    assert!(source_stats(&app, source).bytes >= events.len() as u64);
    // The bytes of the unfinished event are counted when the stream ends.
    update_until(&mut app, "the end of the stream", |app| {
        !collected::<SseErrored>(app).is_empty()
    });
    let total = (events.len() + unfinished.len()) as u64;
    assert_eq!(source_stats(&app, source).bytes, total);
    assert_eq!(app.world().resource::<SseStats>().total_bytes, total);
    assert_eq!(state(&app, source), ReadyState::Retrying);
}

#[derive(Resource, Default)]
struct SeenCounts(Vec<u64>);

/// A source's counters are up to date before game code runs for another source's messages in
/// the same frame: an observer of B's message sees the messages A delivered just before.
#[test]
fn counters_are_current_when_another_source_s_observers_run() {
    let (mut app, network) = memory_app();
    app.init_resource::<SeenCounts>();
    let sources = open_sources(&mut app, &network, "http://game.test/feed", 2);
    let (a, b) = (sources[0].0, sources[1].0);
    let (to_a, to_b) = (&sources[0].1, &sources[1].1);
    app.world_mut().entity_mut(b).observe(
        move |_: On<SseMessage>, stats: Query<&SseSourceStats>, mut seen: ResMut<SeenCounts>| {
            seen.0.push(stats.get(a).unwrap().messages);
        },
    );
    to_a.send("data: 1\n\ndata: 2\n\ndata: 3\n\n");
    to_b.send("data: b\n\n");
    app.update();
    assert_eq!(app.world().resource::<SeenCounts>().0, [3]);
    assert_eq!(source_stats(&app, a).messages, 3);
}
