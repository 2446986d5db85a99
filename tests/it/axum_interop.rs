//! Against an independent real SSE server (axum's `Sse` responder, the embedded demo server of
//! the examples): events arrive in order across the server's hang-ups, resumed by Last-Event-ID,
//! none lost, none repeated.

use crate::support::app;

use std::time::Duration;

use app::*;
use bevy_eventsource::prelude::*;

#[test]
fn axum_stream_survives_hang_ups_without_loss_or_repeats() {
    let addr = crate::demo_server::start(crate::demo_server::DemoConfig {
        drop_every: 4,
        interval: Duration::from_millis(1),
    });
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseRetrying>(&mut app);
    app.world_mut()
        .spawn(EventSource::new(format!("http://{addr}/events")));
    update_until(&mut app, "30 events", |app| {
        collected::<SseMessage>(app).len() >= 30
    });
    let messages = collected::<SseMessage>(&app);
    let ids: Vec<u64> = messages
        .iter()
        .map(|m| m.last_event_id().parse().unwrap())
        .collect();
    assert_eq!(ids, (0..ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(messages[4].event_type(), "chat");
    assert_eq!(messages[0].event_type(), "tick");
    assert!(
        collected::<SseRetrying>(&app).len() >= 7,
        "the server hung up every 4 events"
    );
    // The server's retry: 250 ms was applied, plus at most 10 % jitter: every attempt delivered
    // events, so none counts as failed and there is no backoff.
    let (min, max) = (Duration::from_millis(250), Duration::from_millis(275));
    for retrying in collected::<SseRetrying>(&app) {
        assert!(
            (min..=max).contains(&retrying.delay),
            "{:?}",
            retrying.delay
        );
        assert_eq!(retrying.attempt, 1);
    }
}
