//! Secrets stay out of `Debug` too: header values, bodies, URL queries and credentials never
//! show in `{:?}` of a source, an error or a message; `Authorization`, `Cookie` and
//! `Proxy-Authorization` go out as sensitive header values.

use crate::support::app::*;

use bevy_eventsource::prelude::*;

const URL: &str = "http://user:SECRET-PASSWORD@game.test/feed?token=SECRET-QUERY";

fn secret_source() -> EventSource {
    EventSource::new(URL)
        .with_header("Authorization", "Bearer SECRET-TOKEN")
        .with_header("Cookie", "session=SECRET-COOKIE")
        .with_header("Proxy-Authorization", "Basic SECRET-PROXY")
        .with_header("X-Api-Key", "SECRET-KEY")
        .with_method(Method::POST)
        .with_body("{\"key\":\"SECRET-BODY\"}")
}

fn assert_no_secret(what: &str, text: &str) {
    assert!(!text.contains("SECRET"), "{what}: {text}");
}

#[test]
fn debug_shows_no_secret() {
    let source = secret_source();
    let shown = format!("{source:?}");
    assert_no_secret("EventSource", &shown);
    assert!(shown.contains("Authorization"), "{shown}");
    assert!(shown.contains("game.test/feed?…"), "{shown}");

    let (mut app, network) = memory_app();
    collect::<SseOpened>(&mut app);
    collect::<SseComment>(&mut app);
    let entity = app.world_mut().spawn(secret_source()).id();
    app.update();
    network
        .last_attempt(entity)
        .unwrap()
        .open()
        .send(": hello\ndata: hi\n\n")
        .refuse(401);
    app.update();
    network.last_attempt(entity).unwrap().refuse(401);
    updates(&mut app, 2);
    let errors = collected::<SseErrored>(&app);
    assert!(!errors.is_empty());
    for error in &errors {
        assert_no_secret("SseErrored", &format!("{error:?}"));
        assert_no_secret("SseError Display", &error.error.to_string());
    }
    let closed = collected::<SseClosed>(&app);
    assert_eq!(closed.len(), 1);
    assert_no_secret("SseClosed", &format!("{closed:?}"));
    assert_no_secret(
        "SseMessage",
        &format!("{:?}", collected::<SseMessage>(&app)),
    );
    assert_no_secret("SseOpened", &format!("{:?}", collected::<SseOpened>(&app)));
    assert_no_secret(
        "SseRetrying",
        &format!("{:?}", collected::<SseRetrying>(&app)),
    );
    // The whole URL is still there for the game to use.
    assert_eq!(errors[0].error.url(), URL);
}

#[test]
fn credentials_go_out_as_sensitive_header_values() {
    let (mut app, network) = memory_app();
    let entity = app.world_mut().spawn(secret_source()).id();
    app.update();
    let attempt = network.last_attempt(entity).unwrap();
    let headers = attempt.headers();
    for name in ["authorization", "cookie", "proxy-authorization"] {
        assert!(headers[name].is_sensitive(), "{name}");
    }
    assert!(!headers["x-api-key"].is_sensitive());
    assert_eq!(attempt.body(), Some(&b"{\"key\":\"SECRET-BODY\"}"[..]));
}
