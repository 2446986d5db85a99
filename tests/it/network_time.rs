//! Reconnection waits and stream health run on network time (`Time<Real>`), never on game
//! time: a paused game still reconnects on time, slow motion does not stretch backoff, and a
//! long hitch neither loses nor shortens a wait. Without `TimePlugin`, the wall clock.

use std::time::Duration;

use crate::support::app::*;

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_eventsource::prelude::*;
use bevy_eventsource::transport::MemoryTransport;

const URL: &str = "http://game.test/feed";

/// A source with an exact 2 s reconnection time, whose first stream has just ended.
fn ended_stream(app: &mut App, network: &MemoryTransport) -> Entity {
    let source = app
        .world_mut()
        .spawn((
            EventSource::new(URL),
            RetryPolicy::default().with_jitter(0.0),
        ))
        .id();
    app.update();
    let attempt = network.last_attempt(source).unwrap();
    attempt.open().send("data: x\n\n").end_stream();
    app.update();
    assert_eq!(state(app, source), ReadyState::Retrying);
    source
}

/// Updates (50 ms of real time each) until the second attempt starts; how many it took.
fn updates_until_reconnected(app: &mut App, network: &MemoryTransport, source: Entity) -> usize {
    for n in 1..=1000 {
        app.update();
        if network.attempts_of(source).len() == 2 {
            return n;
        }
    }
    panic!("never reconnected");
}

#[test]
fn a_paused_game_still_reconnects_on_time() {
    let (mut app, network) = memory_app();
    let source = ended_stream(&mut app, &network);
    app.world_mut().resource_mut::<Time<Virtual>>().pause();
    // 2 s at 50 ms per update: the 40th update is the first at or past the deadline.
    assert_eq!(updates_until_reconnected(&mut app, &network, source), 40);
}

#[test]
fn slow_motion_does_not_stretch_the_wait() {
    let (mut app, network) = memory_app();
    let source = ended_stream(&mut app, &network);
    app.world_mut()
        .resource_mut::<Time<Virtual>>()
        .set_relative_speed(0.1);
    assert_eq!(updates_until_reconnected(&mut app, &network, source), 40);
}

#[test]
fn a_long_hitch_neither_loses_nor_shortens_the_wait() {
    let (mut app, network) = memory_app();
    let source = ended_stream(&mut app, &network);
    // One 1.9 s frame (game time would clamp it to 250 ms): not due yet...
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
        1900,
    )));
    app.update();
    assert_eq!(network.attempts_of(source).len(), 1);
    // ...and due 100 ms later, not 1.75 s later.
    app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
        50,
    )));
    assert_eq!(updates_until_reconnected(&mut app, &network, source), 2);
}

#[test]
fn an_attempt_open_for_healthy_after_resets_the_backoff_while_the_game_is_paused() {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn((
            EventSource::new(URL),
            RetryPolicy::default()
                .with_jitter(0.0)
                .with_healthy_after(Duration::from_secs(1)),
        ))
        .id();
    app.update();
    app.world_mut().resource_mut::<Time<Virtual>>().pause();
    // Two failed attempts in a row: the second wait is doubled.
    network.last_attempt(source).unwrap().end_stream();
    app.update();
    updates_until_reconnected(&mut app, &network, source);
    // The second attempt stays open (silent) for 1 s of real time: healthy.
    network.last_attempt(source).unwrap().open();
    updates(&mut app, 20);
    network.last_attempt(source).unwrap().end_stream();
    app.update();
    let delays: Vec<_> = collected::<SseRetrying>(&app)
        .iter()
        .map(|retry| retry.delay)
        .collect();
    assert_eq!(delays, [Duration::from_secs(2), Duration::from_secs(2)]);
}

#[test]
fn without_time_plugin_the_wall_clock_drives_reconnection() {
    let network = MemoryTransport::new();
    let mut app = App::new();
    app.add_plugins(SsePlugin::default())
        .insert_resource(network.clone());
    let source = app
        .world_mut()
        .spawn((
            EventSource::new(URL),
            RetryPolicy::default().with_jitter(0.0),
        ))
        .insert(ReconnectionTime(Duration::from_millis(20)))
        .id();
    app.update();
    network.last_attempt(source).unwrap().end_stream();
    update_until(&mut app, "the reconnection", |_| {
        network.attempts_of(source).len() == 2
    });
}
