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
