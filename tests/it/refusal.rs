//! Per WHATWG, a status other than 200 or a Content-Type other than `text/event-stream` closes
//! the source for good, with a typed error; redirects are followed.

use crate::support::app;
use crate::support::server;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use server::*;

fn run_until_closed(head_and_body: &str) -> (App, Entity, ScriptedServer) {
    let server = ScriptedServer::start(vec![vec![send(head_and_body)]]);
    let mut app = test_app();
    collect::<SseErrored>(&mut app);
    collect::<SseClosed>(&mut app);
    collect::<SseOpened>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
        .id();
    update_until_closed(&mut app, source);
    for _ in 0..60 {
        app.update(); // three seconds of Bevy time: more than the reconnection time
    }
    assert_eq!(
        server.requests().len(),
        1,
        "a refused source must not reconnect"
    );
    assert_eq!(closes(&app), [(source, "refused")]);
    assert!(collected::<SseOpened>(&app).is_empty());
    (app, source, server)
}

#[test]
fn no_content_stops_reconnecting() {
    let (app, _, _) = run_until_closed("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    let errors = collected::<SseErrored>(&app);
    assert!(
        matches!(errors[0].error, SseError::Status { status: 204, .. }),
        "{:?}",
        errors[0].error
    );
}

#[test]
fn a_server_error_reports_status_and_a_bounded_body_prefix() {
    let body = format!("overloaded {}", "x".repeat(5000));
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (app, _, server) = run_until_closed(&response);
    let errors = collected::<SseErrored>(&app);
    let SseError::Status {
        status,
        body: prefix,
        url,
        retry_after,
    } = &errors[0].error
    else {
        panic!("{:?}", errors[0].error)
    };
    assert_eq!(*status, 503);
    assert_eq!(*retry_after, None);
    assert!(prefix.starts_with("overloaded xxx"));
    assert_eq!(prefix.len(), SseError::BODY_PREFIX);
    assert_eq!(&**url, server.url("/"));
    assert!(errors[0].error.to_string().contains("503"));
}

#[test]
fn a_wrong_content_type_closes() {
    let (app, _, _) = run_until_closed(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ndata: not sse\n\n",
    );
    let errors = collected::<SseErrored>(&app);
    let SseError::ContentType { content_type, .. } = &errors[0].error else {
        panic!("{:?}", errors[0].error)
    };
    assert_eq!(content_type.as_deref(), Some("text/plain"));
}

#[test]
fn content_type_parameters_and_case_are_accepted() {
    let server = ScriptedServer::start(vec![vec![
        send(
            "HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream; charset=utf-8\r\nConnection: close\r\n\r\n",
        ),
        send("data: ok\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    app.world_mut().spawn(EventSource::new(server.url("/")));
    update_until(&mut app, "the event", |app| {
        collected::<SseMessage>(app).len() == 1
    });
}

#[test]
fn redirects_are_followed() {
    let target = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: moved\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let redirect = ScriptedServer::start(vec![vec![send(format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
        target.url("/new")
    ))]]);
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    app.world_mut()
        .spawn(EventSource::new(redirect.url("/old")));
    update_until(&mut app, "the event", |app| {
        collected::<SseMessage>(app).len() == 1
    });
    assert_eq!(collected::<SseMessage>(&app)[0].data(), "moved");
    assert!(target.requests()[0].request_line().starts_with("GET /new "));
}

#[test]
fn an_invalid_header_is_a_typed_error_not_a_panic() {
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD)]]);
    let mut app = test_app();
    collect::<SseErrored>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")).with_header("Bad Header", "x"))
        .id();
    update_until_closed(&mut app, source);
    assert!(matches!(
        collected::<SseErrored>(&app)[0].error,
        SseError::InvalidRequest { .. }
    ));
    assert!(server.requests().is_empty());
}

/// A 401 whose body trickles and never ends: within the response timeout (or, without one, a
/// bounded default) the source closes with the status and what arrived of the body.
fn a_refusal_whose_body_never_ends(source: impl FnOnce(String) -> EventSource) {
    let server = ScriptedServer::start(vec![vec![
        send("HTTP/1.1 401 Unauthorized\r\nContent-Length: 100000\r\n\r\nsor"),
        Step::Pause(std::time::Duration::from_millis(20)),
        send("ry"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = test_app();
    collect::<SseErrored>(&mut app);
    collect::<SseClosed>(&mut app);
    let source = app.world_mut().spawn(source(server.url("/"))).id();
    update_until_closed(&mut app, source);
    let errors = collected::<SseErrored>(&app);
    assert!(
        matches!(
            &errors[..],
            [SseErrored { error: SseError::Status { status: 401, body, .. }, .. }] if body == "sorry"
        ),
        "{errors:?}"
    );
    assert_eq!(closes(&app), [(source, "refused")]);
}

#[test]
fn a_refused_body_that_never_ends_fails_within_the_response_timeout() {
    a_refusal_whose_body_never_ends(|url| {
        EventSource::new(url).with_response_timeout(std::time::Duration::from_millis(300))
    });
}

#[test]
fn a_refused_body_that_never_ends_fails_within_a_bounded_default() {
    a_refusal_whose_body_never_ends(EventSource::new);
}
