//! One-shot streams (LLM-style POSTs), the done sentinel, the read timeout and a forced
//! reconnection.

use crate::support::app;
use crate::support::server;

use std::time::Duration;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use server::*;

fn data(app: &App) -> Vec<String> {
    collected::<SseMessage>(app)
        .iter()
        .map(|m| m.data().to_owned())
        .collect()
}

fn app_with_collectors() -> App {
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    collect::<SseClosed>(&mut app);
    app
}

#[test]
fn a_one_shot_post_that_ends_cleanly_closes_without_error_and_is_never_replayed() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: {\"token\":\"Hel\"}\n\ndata: {\"token\":\"lo\"}\n\n"),
    ]]);
    let mut app = app_with_collectors();
    let source = app
        .world_mut()
        .spawn((
            EventSource::new(server.url("/chat"))
                .with_method(Method::POST)
                .with_body(r#"{"prompt":"hi"}"#)
                .once(),
            ReconnectionTime(Duration::from_millis(10)),
        ))
        .id();
    update_until_closed(&mut app, source);
    for _ in 0..10 {
        app.update();
    }
    assert_eq!(data(&app).len(), 2);
    assert!(collected::<SseErrored>(&app).is_empty());
    assert_eq!(collected::<SseClosed>(&app).len(), 1);
    assert_eq!(server.requests().len(), 1, "the POST was replayed");
}

#[test]
fn a_failed_one_shot_reports_the_error_and_closes() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: partial\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = app_with_collectors();
    let source = app
        .world_mut()
        .spawn(
            EventSource::new(server.url("/"))
                .once()
                .with_read_timeout(Duration::from_millis(200)),
        )
        .id();
    update_until_closed(&mut app, source);
    let errors = collected::<SseErrored>(&app);
    assert!(
        matches!(
            errors[..],
            [SseErrored {
                error: SseError::ReadTimeout { timeout, .. },
                ..
            }] if timeout == Duration::from_millis(200)
        ),
        "{errors:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn the_done_sentinel_closes_and_is_not_delivered() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: a\n\ndata: [DONE]\n\ndata: after\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = app_with_collectors();
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")).with_done_sentinel("[DONE]"))
        .id();
    update_until_closed(&mut app, source);
    app.update();
    assert_eq!(data(&app), ["a"]);
    assert!(collected::<SseErrored>(&app).is_empty());
    assert!(
        server.wait_client_close(Duration::from_secs(5)).is_some(),
        "the connection was not dropped"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_silent_connection_times_out_and_reconnects() {
    let server = ScriptedServer::start(vec![
        vec![
            send(OK_HEAD),
            send("id: 1\ndata: a\n\n: keep-alive\n"),
            Step::HoldUntilClientCloses,
        ],
        vec![
            send(OK_HEAD),
            send("data: b\n\n"),
            Step::HoldUntilClientCloses,
        ],
    ]);
    let mut app = app_with_collectors();
    app.world_mut().spawn((
        EventSource::new(server.url("/")).with_read_timeout(Duration::from_millis(300)),
        ReconnectionTime(Duration::from_millis(10)),
    ));
    update_until(&mut app, "the second connection's event", |app| {
        data(app).len() == 2
    });
    assert!(matches!(
        collected::<SseErrored>(&app)[0].error,
        SseError::ReadTimeout { .. }
    ));
    assert_eq!(server.requests()[1].header("last-event-id"), Some("1"));
}

#[test]
fn a_forced_reconnection_drops_the_stream_and_resumes_at_once() {
    let server = ScriptedServer::start(vec![
        vec![
            send(OK_HEAD),
            send("id: 3\ndata: a\n\n"),
            Step::HoldUntilClientCloses,
        ],
        vec![
            send(OK_HEAD),
            send("data: b\n\n"),
            Step::HoldUntilClientCloses,
        ],
    ]);
    let mut app = app_with_collectors();
    let source = app
        .world_mut()
        .spawn((
            EventSource::new(server.url("/")),
            // Far longer than the test: only the command can reconnect this soon.
            ReconnectionTime(Duration::from_secs(3600)),
        ))
        .id();
    update_until(&mut app, "the first event", |app| data(app).len() == 1);
    app.world_mut()
        .commands()
        .entity(source)
        .reconnect_event_source();
    update_until(&mut app, "the second event", |app| data(app).len() == 2);
    assert_eq!(server.wait_client_close(Duration::from_secs(5)), Some(0));
    assert_eq!(server.requests()[1].header("last-event-id"), Some("3"));
    assert!(collected::<SseErrored>(&app).is_empty());
    assert_eq!(state(&app, source), ReadyState::Open);
}
