//! Redirects, against scripted servers on loopback: credentials stay on their origin, and a
//! redirect loop ends in a typed, fatal error instead of a reconnection loop.

use crate::support::app;
use crate::support::server;

use app::*;
use bevy_eventsource::prelude::*;
use server::*;

fn redirect_to(location: &str) -> Step {
    send(format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ))
}

fn with_credentials(url: String) -> EventSource {
    EventSource::new(url)
        .with_header("Authorization", "Bearer SECRET-TOKEN")
        .with_header("Cookie", "session=SECRET-COOKIE")
}

#[test]
fn credentials_are_not_forwarded_to_another_origin() {
    let other = ScriptedServer::start(vec![vec![
        send(format!("{OK_HEAD}data: landed\n\n")),
        Step::HoldUntilClientCloses,
    ]]);
    let first = ScriptedServer::start(vec![vec![redirect_to(&other.url("/stream"))]]);

    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    app.world_mut()
        .spawn(with_credentials(first.url("/events")));
    update_until(&mut app, "the event after the redirect", |app| {
        !collected::<SseMessage>(app).is_empty()
    });

    assert_eq!(collected::<SseMessage>(&app)[0].data(), "landed");
    let asked = &first.requests()[0];
    assert_eq!(asked.header("authorization"), Some("Bearer SECRET-TOKEN"));
    assert_eq!(asked.header("cookie"), Some("session=SECRET-COOKIE"));
    let redirected = &other.requests()[0];
    assert_eq!(redirected.request_line(), "GET /stream HTTP/1.1");
    assert_eq!(
        redirected.header("authorization"),
        None,
        "{}",
        redirected.head
    );
    assert_eq!(redirected.header("cookie"), None, "{}", redirected.head);
    assert!(!redirected.head.contains("SECRET"), "{}", redirected.head);
    assert_eq!(redirected.header("accept"), Some("text/event-stream"));
}

#[test]
fn credentials_follow_a_redirect_on_the_same_origin() {
    let server = ScriptedServer::start(vec![
        vec![redirect_to("/moved")],
        vec![
            send(format!("{OK_HEAD}data: here\n\n")),
            Step::HoldUntilClientCloses,
        ],
    ]);

    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    app.world_mut()
        .spawn(with_credentials(server.url("/events")));
    update_until(&mut app, "the event after the redirect", |app| {
        !collected::<SseMessage>(app).is_empty()
    });

    let requests = server.requests();
    assert_eq!(requests[1].request_line(), "GET /moved HTTP/1.1");
    assert_eq!(
        requests[1].header("authorization"),
        Some("Bearer SECRET-TOKEN")
    );
    assert_eq!(requests[1].header("cookie"), Some("session=SECRET-COOKIE"));
}

#[test]
fn a_redirect_loop_closes_with_a_redirect_error_and_no_retry() {
    let server = ScriptedServer::start(vec![vec![redirect_to("/events")]]);

    let mut app = test_app();
    collect::<SseErrored>(&mut app);
    collect::<SseRetrying>(&mut app);
    let source = app
        .world_mut()
        .spawn(with_credentials(server.url("/events")))
        .id();
    update_until_closed(&mut app, source);

    let errors = collected::<SseErrored>(&app);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0].error;
    assert!(matches!(error, SseError::Redirect { .. }), "{error:?}");
    assert!(error.is_fatal());
    let text = error.to_string();
    println!("the error: {text}");
    assert!(text.contains("redirect"), "{text}");
    // No reconnection is planned: the source is closed, not retrying.
    assert!(collected::<SseRetrying>(&app).is_empty());
    assert_eq!(state(&app, source), ReadyState::Closed);
    // The first request and reqwest's 10 redirects.
    assert_eq!(server.requests().len(), 11);
}
