//! Every callback is also an entity event on the source: observers see the same stream.

#[path = "support/app.rs"]
mod app;
#[path = "support/server.rs"]
mod server;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use server::*;

#[derive(Resource, Default)]
struct Log(Vec<String>);

#[test]
fn observers_on_the_entity_see_every_callback() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send(": ping\nretry: 50\nevent: join\ndata: ada\n\n"),
    ]]);
    let mut app = test_app();
    app.init_resource::<Log>();
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
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
    update_until(&mut app, "closed", |app| {
        state(app, source) == ReadyState::Closed
    });
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
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: x\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = test_app();
    app.init_resource::<Log>();
    app.add_observer(|m: On<SseMessage>, mut log: ResMut<Log>| log.0.push(m.data().to_owned()));
    app.world_mut().spawn(EventSource::new(server.url("/a")));
    app.world_mut().spawn(EventSource::new(server.url("/b")));
    update_until(&mut app, "two messages", |app| {
        app.world().resource::<Log>().0.len() == 2
    });
}
