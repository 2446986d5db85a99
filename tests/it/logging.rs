//! Secrets stay out of logs: header values (tokens, cookies), and the query string and
//! credentials of URLs, never appear in anything logged at `info` level or above, across a
//! stream, a reconnection, a refusal, a bad header and a refused connection.

use crate::support::app;
use crate::support::logs::capture;
use crate::support::server;

use app::*;
use bevy_eventsource::prelude::*;
use server::*;

fn secret_source(url: String) -> EventSource {
    EventSource::new(url)
        .with_header("Authorization", "Bearer SECRET-TOKEN")
        .with_header("Cookie", "session=SECRET-COOKIE")
        .with_header("X-Api-Key", "SECRET-KEY")
}

#[test]
fn no_secret_reaches_the_logs_at_info_or_above() {
    let (captured, subscriber) = capture(bevy::log::Level::INFO);
    bevy::log::tracing::subscriber::set_global_default(subscriber).unwrap();

    // A stream that ends, a reconnection that is refused with 401.
    let server = ScriptedServer::start(vec![
        vec![send(format!("{OK_HEAD}retry: 10\nid: 1\ndata: one\n\n"))],
        vec![send(
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsorry!",
        )],
    ]);
    // A port nobody listens on.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };

    let mut app = test_app();
    let world = app.world_mut();
    let streamed = world
        .spawn(secret_source(
            server
                .url("/events?token=SECRET-QUERY")
                .replace("http://", "http://user:SECRET-PASSWORD@"),
        ))
        .id();
    let bad_header = world
        .spawn(secret_source(server.url("/other")).with_header("X-Bad", "SECRET-VALUE\r\n"))
        .id();
    let unreachable = world
        .spawn(secret_source(format!(
            "http://{refused}/events?token=SECRET-QUERY"
        )))
        .id();
    world.entity_mut(unreachable).insert(RetryPolicy {
        max_attempts: Some(2),
        ..RetryPolicy::default()
    });
    for source in [streamed, bad_header, unreachable] {
        update_until_closed(&mut app, source);
    }

    let logs = captured.text();
    println!("{logs}");
    // The logs say what happened...
    assert!(logs.contains("the server ended the stream"), "{logs}");
    assert!(logs.contains("server answered 401"), "{logs}");
    assert!(logs.contains("bad value for header \"X-Bad\""), "{logs}");
    assert!(logs.contains("connection failed"), "{logs}");
    assert!(logs.contains("events?…"), "{logs}");
    // ...and no secret.
    assert!(!logs.contains("SECRET"), "{logs}");
    // The server did receive them.
    assert_eq!(server.requests()[0].header("x-api-key"), Some("SECRET-KEY"));
}

#[test]
fn the_logging_context_follows_set_url() {
    let (captured, subscriber) = capture(bevy::log::Level::INFO);
    let _guard = bevy::log::tracing::subscriber::set_default(subscriber);

    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://first.test/feed"))
        .id();
    app.update();
    network.last_attempt(source).unwrap().end_stream();
    app.update();
    app.world_mut()
        .get_mut::<EventSource>(source)
        .unwrap()
        .set_url("http://second.test/feed?token=SECRET");
    app.world_mut()
        .commands()
        .entity(source)
        .reconnect_event_source();
    app.update();
    network.last_attempt(source).unwrap().end_stream();
    app.update();
    let logs = captured.text();
    let ended: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("attempt ended"))
        .collect();
    assert_eq!(ended.len(), 2, "{logs}");
    assert!(ended[0].contains("url=http://first.test/feed"), "{logs}");
    assert!(ended[1].contains("url=http://second.test/feed?…"), "{logs}");
    assert!(!logs.contains("SECRET"), "{logs}");
}
