//! A stream that ends is reported, waits the reconnection time on Bevy time, and resumes with
//! `Last-Event-ID`; an `SseRetrying` observer can veto or refresh the request.

use crate::support::app;
use crate::support::server;

use std::time::Duration;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use server::*;

#[test]
fn an_ended_stream_reconnects_with_the_last_event_id_after_the_server_retry_time() {
    let server = ScriptedServer::start(vec![
        vec![send(OK_HEAD), send("retry: 300\nid: 7\ndata: first\n\n")],
        vec![
            send(OK_HEAD),
            send("data: second\n\n"),
            Step::HoldUntilClientCloses,
        ],
    ]);
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    collect::<SseRetrying>(&mut app);
    // No jitter: the wait is exactly the server's retry time.
    let source = app
        .world_mut()
        .spawn((
            EventSource::new(server.url("/s")),
            RetryPolicy::default().with_jitter(0.0),
        ))
        .id();

    update_until(&mut app, "the retry wait", |app| {
        state(app, source) == ReadyState::Retrying
    });
    let retrying = collected::<SseRetrying>(&app);
    assert_eq!(retrying.len(), 1);
    assert_eq!(
        (retrying[0].attempt, retrying[0].delay),
        (1, Duration::from_millis(300))
    );
    assert!(matches!(
        collected::<SseErrored>(&app)[0].error,
        SseError::StreamEnded { .. }
    ));

    // Virtual time advances 50 ms per update: the wait takes six updates, whatever the wall clock.
    let mut updates = 0;
    while state(&app, source) == ReadyState::Retrying {
        app.update();
        updates += 1;
        assert!(updates <= 7, "still waiting after {updates} updates");
    }
    assert!(
        updates >= 6,
        "reconnected after {updates} updates, before 300 ms of Bevy time"
    );

    update_until(&mut app, "the second event", |app| {
        collected::<SseMessage>(app).len() == 2
    });
    let second = &collected::<SseMessage>(&app)[1];
    assert_eq!((second.data(), second.last_event_id()), ("second", "7"));
    let requests = server.requests();
    assert_eq!(requests[0].header("last-event-id"), None);
    assert_eq!(requests[1].header("last-event-id"), Some("7"));
    assert_eq!(state(&app, source), ReadyState::Open);
}

#[test]
fn an_observer_refreshes_the_token_for_the_next_attempt() {
    let server = ScriptedServer::start(vec![
        vec![send(OK_HEAD), send("retry: 50\ndata: a\n\n")],
        vec![send(OK_HEAD), Step::HoldUntilClientCloses],
    ]);
    let mut app = test_app();
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")).with_header("Authorization", "Bearer old"))
        .observe(
            |retry: On<SseRetrying>, mut sources: Query<&mut EventSource>| {
                let mut source = sources.get_mut(retry.entity).unwrap();
                source.set_header("authorization", format!("Bearer new-{}", retry.attempt));
            },
        )
        .id();
    update_until(&mut app, "the second attempt", |_| {
        server.requests().len() == 2
    });
    let requests = server.requests();
    assert_eq!(requests[0].header("authorization"), Some("Bearer old"));
    assert_eq!(requests[1].header("authorization"), Some("Bearer new-1"));
    update_until(&mut app, "open again", |app| {
        state(app, source) == ReadyState::Open
    });
}

#[test]
fn a_vetoed_retry_closes_the_source() {
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD), send("retry: 50\ndata: a\n\n")]]);
    let mut app = test_app();
    collect::<SseClosed>(&mut app);
    collect::<SseRetrying>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
        .observe(|mut retry: On<SseRetrying>| retry.event_mut().veto())
        .id();
    update_until_closed(&mut app, source);
    assert_eq!(closes(&app), [(source, "vetoed")]);
    assert!(collected::<SseRetrying>(&app)[0].is_vetoed());
    for _ in 0..10 {
        app.update();
    }
    assert_eq!(server.requests().len(), 1, "no reconnection after a veto");
}
