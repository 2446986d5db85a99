//! Suspend and resume (Bevy's `AppLifecycle`, written here as the windowing backend would):
//! with `OnSuspend::CloseWhileSuspended` sources close and reopen with their `Last-Event-ID`,
//! and no event is lost or repeated across the pause; by default they keep streaming.

use crate::support::app;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use bevy_eventsource::transport::MemoryAttempt;
use bevy_window::AppLifecycle;

fn lifecycle(app: &mut App, event: AppLifecycle) {
    app.world_mut().write_message(event);
    app.update();
}

/// A server that numbers its events and resumes after the `Last-Event-ID` it is sent.
fn serve_from(attempt: &MemoryAttempt, to: u32) {
    let after: u32 = attempt
        .headers()
        .get("last-event-id")
        .map_or(0, |id| id.to_str().unwrap().parse().unwrap());
    attempt.open();
    for id in after + 1..=to {
        attempt.send(format!("id: {id}\ndata: {id}\n\n"));
    }
}

fn suspending_app() -> (App, bevy_eventsource::transport::MemoryTransport, Entity) {
    let (mut app, network) = memory_app_with(SsePlugin {
        on_suspend: OnSuspend::CloseWhileSuspended,
        ..SsePlugin::default()
    });
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/feed"))
        .id();
    app.update();
    (app, network, source)
}

#[test]
fn a_suspended_app_closes_its_sources_and_resumes_without_loss_or_repeat() {
    let (mut app, network, source) = suspending_app();
    serve_from(&network.last_attempt(source).unwrap(), 3);
    app.update();
    assert_eq!(data(&app), ["1", "2", "3"]);

    // Events 4 and 5 arrive in the frame the app is told it will be suspended: they are
    // delivered before the source closes, so its Last-Event-ID is 5.
    let first = network.last_attempt(source).unwrap();
    serve_from_to(&first, 4, 5);
    lifecycle(&mut app, AppLifecycle::WillSuspend);
    assert_eq!(state(&app, source), ReadyState::Closed);
    assert_eq!(closes(&app), [(source, "other")]);
    assert!(matches!(
        collected::<SseClosed>(&app)[0].reason,
        CloseReason::Suspended
    ));
    assert!(first.is_cancelled());
    // What the old connection would still carry goes nowhere.
    first.send("id: 6\ndata: 6\n\n");
    lifecycle(&mut app, AppLifecycle::Suspended);
    assert_eq!(network.attempts_of(source).len(), 1);

    lifecycle(&mut app, AppLifecycle::WillResume);
    let resumed = network.last_attempt(source).unwrap();
    assert_eq!(network.attempts_of(source).len(), 2);
    assert_eq!(resumed.headers()["last-event-id"], "5");
    serve_from(&resumed, 8);
    lifecycle(&mut app, AppLifecycle::Running);
    assert_eq!(data(&app), ["1", "2", "3", "4", "5", "6", "7", "8"]);
    assert_eq!(state(&app, source), ReadyState::Open);
}

fn serve_from_to(attempt: &MemoryAttempt, from: u32, to: u32) {
    for id in from..=to {
        attempt.send(format!("id: {id}\ndata: {id}\n\n"));
    }
}

#[test]
fn by_default_sources_keep_streaming_through_a_suspension() {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/feed"))
        .id();
    app.update();
    let attempt = network.last_attempt(source).unwrap();
    serve_from(&attempt, 1);
    lifecycle(&mut app, AppLifecycle::WillSuspend);
    lifecycle(&mut app, AppLifecycle::Suspended);
    attempt.send("id: 2\ndata: 2\n\n");
    lifecycle(&mut app, AppLifecycle::WillResume);
    lifecycle(&mut app, AppLifecycle::Running);
    assert_eq!(data(&app), ["1", "2"]);
    assert!(attempt.is_live());
    assert_eq!(network.attempts_of(source).len(), 1);
    assert_eq!(state(&app, source), ReadyState::Open);
}

#[test]
fn a_source_the_game_closed_or_despawned_while_suspended_stays_so() {
    let (mut app, network, kept_closed) = suspending_app();
    let despawned = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/other"))
        .id();
    let already_closed = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/closed"))
        .id();
    app.update();
    app.world_mut()
        .commands()
        .entity(already_closed)
        .close_event_source();
    app.update();
    lifecycle(&mut app, AppLifecycle::WillSuspend);
    app.world_mut()
        .commands()
        .entity(kept_closed)
        .close_event_source();
    app.world_mut().despawn(despawned);
    lifecycle(&mut app, AppLifecycle::Suspended);
    lifecycle(&mut app, AppLifecycle::WillResume);
    assert_eq!(state(&app, kept_closed), ReadyState::Closed);
    assert_eq!(state(&app, already_closed), ReadyState::Closed);
    assert_eq!(network.attempts_of(kept_closed).len(), 1);
    assert_eq!(network.attempts_of(already_closed).len(), 1);
}
