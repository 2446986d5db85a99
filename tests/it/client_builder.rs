//! [`SseClientBuilder`]: the plugin builds its client from the game's builder, rebuilds it when
//! the builder changes, and a builder that cannot build a client closes the source with a typed
//! error instead of quietly falling back to a default client.

use crate::support::app;
use crate::support::server;

use app::*;
use bevy_eventsource::prelude::*;
use server::*;

/// A builder whose clients send `X-Built: {tag}` with every request.
fn tagged(tag: &'static str) -> SseClientBuilder {
    SseClientBuilder::new(move || {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-built", reqwest::header::HeaderValue::from_static(tag));
        reqwest::Client::builder().default_headers(headers)
    })
}

#[test]
fn the_plugin_builds_its_client_from_the_builder_and_rebuilds_it_when_the_builder_changes() {
    let server = ScriptedServer::start(vec![
        vec![send(OK_HEAD), send("retry: 10\n\n"), Step::WaitForGate],
        vec![send(OK_HEAD), Step::HoldUntilClientCloses],
    ]);
    let mut app = test_app();
    app.insert_resource(tagged("first"));
    app.world_mut().spawn(EventSource::new(server.url("/")));
    update_until(&mut app, "the first request", |_| {
        !server.requests().is_empty()
    });
    assert_eq!(server.requests()[0].header("x-built"), Some("first"));

    app.insert_resource(tagged("second"));
    server.open_gate();
    update_until(&mut app, "the reconnection", |_| {
        server.requests().len() == 2
    });
    assert_eq!(server.requests()[1].header("x-built"), Some("second"));
}

#[test]
fn a_builder_that_cannot_build_a_client_closes_the_source_with_a_typed_error() {
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD), Step::HoldUntilClientCloses]]);
    let mut app = test_app();
    collect::<SseErrored>(&mut app);
    collect::<SseClosed>(&mut app);
    // reqwest refuses a TLS configuration it does not know when it builds the client.
    app.insert_resource(SseClientBuilder::new(|| {
        reqwest::Client::builder().tls_backend_preconfigured(())
    }));
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
        .id();
    update_until_closed(&mut app, source);
    let errors = collected::<SseErrored>(&app);
    assert!(
        matches!(&errors[..], [error] if matches!(error.error, SseError::Client { .. })),
        "{errors:?}"
    );
    assert!(errors[0].error.is_fatal());
    assert_eq!(closes(&app), [(source, "refused")]);
    assert!(server.requests().is_empty(), "no request went out");
}
