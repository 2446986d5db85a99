//! The outgoing request: standard headers, custom headers, method and body.

use crate::support::app;
use crate::support::server;

use app::*;
use bevy_eventsource::prelude::*;
use server::*;

#[test]
fn get_sends_the_event_stream_headers() {
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD), Step::HoldUntilClientCloses]]);
    let mut app = test_app();
    app.world_mut()
        .spawn(EventSource::new(server.url("/feed?room=1")).with_header("X-Game", "demo"));
    update_until(&mut app, "a request", |_| !server.requests().is_empty());
    let request = &server.requests()[0];
    assert!(
        request
            .request_line()
            .starts_with("GET /feed?room=1 HTTP/1.1"),
        "{}",
        request.head
    );
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    assert_eq!(request.header("cache-control"), Some("no-cache"));
    assert_eq!(request.header("x-game"), Some("demo"));
    assert_eq!(
        request.header("last-event-id"),
        None,
        "not sent while the ID is empty"
    );
}

#[test]
fn post_sends_its_body() {
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD), Step::HoldUntilClientCloses]]);
    let mut app = test_app();
    app.world_mut().spawn(
        EventSource::new(server.url("/chat"))
            .with_method(Method::POST)
            .with_header("Content-Type", "application/json")
            .with_body(r#"{"q":"hi"}"#),
    );
    update_until(&mut app, "a request", |_| !server.requests().is_empty());
    let request = &server.requests()[0];
    assert!(request.request_line().starts_with("POST /chat "));
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.body, br#"{"q":"hi"}"#);
}

#[test]
fn a_header_the_game_sets_replaces_the_default_of_that_name() {
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD), Step::HoldUntilClientCloses]]);
    let mut app = test_app();
    app.world_mut().spawn((
        EventSource::new(server.url("/"))
            .with_header("Accept", "text/event-stream; charset=utf-8")
            .with_header("last-event-id", "from-the-game")
            .with_header("X-Twice", "a")
            .with_header("X-Twice", "b"),
        LastEventId("from-the-stream".into()),
    ));
    update_until(&mut app, "a request", |_| !server.requests().is_empty());
    let request = &server.requests()[0];
    let count = |name: &str| {
        request
            .head
            .lines()
            .filter(|line| {
                line.split_once(':')
                    .is_some_and(|(key, _)| key.eq_ignore_ascii_case(name))
            })
            .count()
    };
    assert_eq!(count("accept"), 1, "{}", request.head);
    assert_eq!(
        request.header("accept"),
        Some("text/event-stream; charset=utf-8")
    );
    assert_eq!(count("last-event-id"), 1, "{}", request.head);
    assert_eq!(request.header("last-event-id"), Some("from-the-game"));
    // The game's own repeats are kept.
    assert_eq!(count("x-twice"), 2, "{}", request.head);
}

#[test]
fn a_last_event_id_that_is_no_header_value_is_left_out_and_the_source_goes_on() {
    let server = ScriptedServer::start(vec![
        vec![send(format!(
            "{OK_HEAD}retry: 10\nid: bad\u{1}id\ndata: one\n\n"
        ))],
        vec![
            send(format!("{OK_HEAD}data: two\n\n")),
            Step::HoldUntilClientCloses,
        ],
    ]);
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
        .id();
    update_until(&mut app, "the second stream", |app| {
        collected::<SseMessage>(app).len() == 2
    });
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("last-event-id"), None);
    assert_eq!(state(&app, source), ReadyState::Open);
    assert!(
        collected::<SseErrored>(&app)
            .iter()
            .all(|e| !matches!(e.error, SseError::InvalidRequest { .. }))
    );
}
