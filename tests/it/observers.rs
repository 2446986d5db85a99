//! Every callback is also an entity event on the source: observers see the same stream, in
//! order. On the in-memory transport.

use crate::support::app;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;

const URL: &str = "http://game.test/feed";

#[derive(Resource, Default)]
struct Log(Vec<String>);

#[test]
fn observers_on_the_entity_see_every_callback() {
    let (mut app, network) = memory_app();
    app.init_resource::<Log>();
    let source = app
        .world_mut()
        .spawn(EventSource::new(URL))
        .observe(|_: On<SseOpened>, mut log: ResMut<Log>| log.0.push("open".into()))
        .observe(|m: On<SseMessage>, mut log: ResMut<Log>| {
            log.0
                .push(format!("message {} {}", m.event_type(), m.data()))
        })
        .observe(|c: On<SseComment>, mut log: ResMut<Log>| log.0.push(format!("comment{}", c.text)))
        .observe(|e: On<SseErrored>, mut log: ResMut<Log>| {
            log.0.push(format!(
                "error {}",
                matches!(e.error, SseError::StreamEnded { .. })
            ))
        })
        .observe(|mut r: On<SseRetrying>, mut log: ResMut<Log>| {
            log.0.push(format!("retry {}", r.attempt));
            r.event_mut().veto();
        })
        .observe(|_: On<SseClosed>, mut log: ResMut<Log>| log.0.push("closed".into()))
        .observe(|s: On<SseStateChanged>, mut log: ResMut<Log>| {
            log.0.push(format!("state {:?}", s.new))
        })
        .id();
    app.update();
    network
        .last_attempt(source)
        .unwrap()
        .open()
        .send(": ping\nretry: 50\nevent: join\ndata: ada\n\n")
        .end_stream();
    app.update();
    let log = &app.world().resource::<Log>().0;
    // The spawn's Connecting transition happened before the first update too.
    assert_eq!(
        log,
        &[
            "state Connecting",
            "state Open",
            "open",
            "comment ping",
            "message join ada",
            "error true",
            "state Retrying",
            "retry 1",
            "state Closing",
            "state Closed",
            "closed",
        ]
    );
}

#[test]
fn global_observers_see_every_source() {
    let (mut app, network) = memory_app();
    app.init_resource::<Log>();
    app.add_observer(|m: On<SseMessage>, mut log: ResMut<Log>| log.0.push(m.data().to_owned()));
    app.world_mut().spawn(EventSource::new(URL));
    app.world_mut().spawn(EventSource::new(URL));
    app.update();
    for (k, attempt) in network.attempts().iter().enumerate() {
        attempt.open().send(format!("data: {k}\n\n"));
    }
    app.update();
    let mut log = app.world().resource::<Log>().0.clone();
    log.sort();
    assert_eq!(log, ["0", "1"]);
}

#[test]
fn an_observer_that_closes_the_source_stops_the_rest_of_the_chunk() {
    let (mut app, network) = memory_app();
    app.init_resource::<Log>();
    let source = app
        .world_mut()
        .spawn(EventSource::new(URL))
        .observe(
            |m: On<SseMessage>, mut log: ResMut<Log>, mut commands: Commands| {
                log.0.push(m.data().to_owned());
                if m.data() == "2" {
                    commands.entity(m.entity).close_event_source();
                }
            },
        )
        .id();
    app.update();
    // All three events in one batch.
    let attempt = network.last_attempt(source).unwrap();
    attempt.open().send("data: 1\n\ndata: 2\n\ndata: 3\n\n");
    app.update();
    assert_eq!(state(&app, source), ReadyState::Closed);
    assert!(attempt.is_cancelled());
    app.update();
    assert_eq!(app.world().resource::<Log>().0, ["1", "2"]);
    let read: Vec<String> = collected::<SseMessage>(&app)
        .iter()
        .map(|m| m.data().to_owned())
        .collect();
    assert_eq!(read, ["1", "2"]);
}

#[test]
fn an_observer_added_mid_stream_sees_the_following_messages() {
    let (mut app, network) = memory_app();
    app.init_resource::<Log>();
    let source = app.world_mut().spawn(EventSource::new(URL)).id();
    app.update();
    let attempt = network.last_attempt(source).unwrap();
    attempt.open().send("id: 1\ndata: a\n\nid: 2\ndata: b\n\n");
    app.update();
    assert_eq!(collected::<SseMessage>(&app).len(), 2);
    // Read without observers, in one batch: the last event ID is the batch's last.
    assert_eq!(app.world().get::<LastEventId>(source).unwrap().0, "2");
    app.world_mut().entity_mut(source).observe(
        |m: On<SseMessage>, ids: Query<&LastEventId>, mut log: ResMut<Log>| {
            // Observers see the source's last event ID already updated to their message's.
            let id = &ids.get(m.entity).unwrap().0;
            log.0.push(format!("{} {id}", m.data()));
        },
    );
    attempt.send("id: 3\ndata: c\n\n");
    app.update();
    assert_eq!(collected::<SseMessage>(&app).len(), 3);
    assert_eq!(app.world().resource::<Log>().0, ["c 3"]);
    assert_eq!(app.world().get::<LastEventId>(source).unwrap().0, "3");
}
