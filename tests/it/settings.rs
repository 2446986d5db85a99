//! `SseSettings` changed while the app runs: each field takes effect when its doc says.

use crate::support::app;

use std::num::NonZeroUsize;
use std::time::Duration;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::parser::ParserLimits;
use bevy_eventsource::prelude::*;

fn settings(app: &mut App) -> Mut<'_, SseSettings> {
    app.world_mut().resource_mut::<SseSettings>()
}

#[test]
fn the_plugin_seeds_the_settings() {
    let plugin = SsePlugin {
        max_messages_per_frame: NonZeroUsize::new(7),
        on_suspend: OnSuspend::CloseWhileSuspended,
        ..SsePlugin::default()
    };
    let (app, _network) = memory_app_with(plugin.clone());
    assert_eq!(*app.world().resource::<SseSettings>(), plugin.settings());
    assert_eq!(
        app.world().resource::<SseSettings>().max_messages_per_frame,
        NonZeroUsize::new(7)
    );
}

#[test]
fn a_message_budget_set_at_runtime_applies_from_the_next_frame() {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/feed"))
        .id();
    app.update();
    let attempt = network.last_attempt(source).unwrap();
    attempt
        .open()
        .send("data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n");
    settings(&mut app).max_messages_per_frame = NonZeroUsize::new(2);
    let mut per_frame = Vec::new();
    for _ in 0..3 {
        app.update();
        per_frame.push(app.world().resource::<SseStats>().frame_messages);
    }
    assert_eq!(per_frame, [2, 2, 1]);

    settings(&mut app).max_messages_per_frame = None;
    attempt.send("data: 6\n\ndata: 7\n\ndata: 8\n\n");
    app.update();
    assert_eq!(app.world().resource::<SseStats>().frame_messages, 3);
    assert_eq!(data(&app), ["1", "2", "3", "4", "5", "6", "7", "8"]);
}

#[test]
fn parser_limits_apply_from_the_next_attempt() {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/feed"))
        .id();
    app.update();
    settings(&mut app).parser_limits = ParserLimits::default().with_max_event_len(4);
    // The running attempt keeps the limits it started with.
    network
        .last_attempt(source)
        .unwrap()
        .open()
        .send("data: 123456\n\n");
    app.update();
    assert_eq!(data(&app), ["123456"]);

    app.world_mut()
        .commands()
        .entity(source)
        .reconnect_event_source();
    app.update();
    network
        .last_attempt(source)
        .unwrap()
        .open()
        .send("data: 123456\n\ndata: 1234\n\n");
    app.update();
    assert_eq!(data(&app), ["123456", "1234"]);
    let errors = collected::<SseErrored>(&app);
    assert!(
        matches!(
            errors.as_slice(),
            [SseErrored {
                error: SseError::Parse { .. },
                ..
            }]
        ),
        "{errors:?}"
    );
}

#[test]
fn the_default_retry_policy_applies_from_the_next_ended_attempt() {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/feed"))
        .id();
    app.update();
    settings(&mut app).retry_policy = RetryPolicy::default().with_max_attempts(1);
    network.last_attempt(source).unwrap().end_stream();
    app.update();
    assert_eq!(state(&app, source), ReadyState::Closed);
    assert_eq!(closes(&app), [(source, "gave up")]);
}

#[test]
fn a_new_connect_timeout_rebuilds_the_default_client_but_not_the_games() {
    // The client is built at the first network attempt; nothing needs to answer.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/feed", listener.local_addr().unwrap());
    let mut app = test_app();
    let source = app.world_mut().spawn(EventSource::new(url)).id();
    app.update();
    let first = app.world().resource_ref::<SseClient>().last_changed();

    // Unchanged settings: the same client.
    app.world_mut()
        .commands()
        .entity(source)
        .reconnect_event_source();
    app.update();
    assert_eq!(
        app.world().resource_ref::<SseClient>().last_changed(),
        first
    );

    settings(&mut app).connect_timeout = Some(Duration::from_millis(250));
    app.world_mut()
        .commands()
        .entity(source)
        .reconnect_event_source();
    app.update();
    let rebuilt = app.world().resource_ref::<SseClient>().last_changed();
    assert_ne!(rebuilt, first, "the default client was not rebuilt");

    // A client the game inserts is never replaced.
    app.insert_resource(SseClient(reqwest::Client::new()));
    let games = app.world().resource_ref::<SseClient>().last_changed();
    settings(&mut app).connect_timeout = Some(Duration::from_secs(1));
    app.world_mut()
        .commands()
        .entity(source)
        .reconnect_event_source();
    app.update();
    assert_eq!(
        app.world().resource_ref::<SseClient>().last_changed(),
        games
    );
}
