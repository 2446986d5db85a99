//! Close, reopen, despawn and component removal: the connection goes with the source.

use crate::support::app;
use crate::support::server;

use std::time::Duration;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use server::*;

fn held_stream() -> ScriptedServer {
    ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("id: 1\ndata: x\n\n"),
        Step::HoldUntilClientCloses,
    ]])
}

/// Spawns a source on `server` and runs the app until it is open.
fn spawn_open(app: &mut App, server: &ScriptedServer) -> Entity {
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
        .id();
    update_until(app, "open", |app| state(app, source) == ReadyState::Open);
    source
}

#[test]
fn despawning_the_entity_drops_the_connection() {
    let server = held_stream();
    let mut app = test_app();
    let source = spawn_open(&mut app, &server);
    app.world_mut().despawn(source);
    app.update();
    // The server sees the TCP connection closed: the task is gone, not just detached.
    assert_eq!(server.wait_client_close(Duration::from_secs(5)), Some(0));
}

#[test]
fn removing_the_component_closes_the_source() {
    let server = held_stream();
    let mut app = test_app();
    collect::<SseClosed>(&mut app);
    let source = spawn_open(&mut app, &server);
    app.world_mut().entity_mut(source).remove::<EventSource>();
    app.update();
    assert_eq!(state(&app, source), ReadyState::Closed);
    assert_eq!(server.wait_client_close(Duration::from_secs(5)), Some(0));
    assert_eq!(closes(&app), [(source, "removed")]);
}

#[test]
fn close_then_reopen_resumes_with_the_last_event_id() {
    let server = held_stream();
    let mut app = test_app();
    collect::<SseStateChanged>(&mut app);
    collect::<SseClosed>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
        .id();
    update_until(&mut app, "one event", |app| {
        app.world().get::<LastEventId>(source).unwrap().0 == "1"
    });
    app.world_mut()
        .commands()
        .entity(source)
        .close_event_source();
    app.update();
    assert_eq!(state(&app, source), ReadyState::Closed);
    assert_eq!(server.wait_client_close(Duration::from_secs(5)), Some(0));
    assert_eq!(collected::<SseClosed>(&app).len(), 1);
    let states: Vec<_> = collected::<SseStateChanged>(&app)
        .iter()
        .map(|c| c.new)
        .collect();
    assert!(
        states.ends_with(&[ReadyState::Closing, ReadyState::Closed]),
        "{states:?}"
    );

    app.world_mut()
        .commands()
        .entity(source)
        .open_event_source();
    update_until(&mut app, "open again", |app| {
        state(app, source) == ReadyState::Open
    });
    assert_eq!(server.requests()[1].header("last-event-id"), Some("1"));
}

#[test]
fn app_exit_shuts_connections_down() {
    let server = held_stream();
    let mut app = test_app();
    spawn_open(&mut app, &server);
    drop(app);
    assert_eq!(server.wait_client_close(Duration::from_secs(5)), Some(0));
}
