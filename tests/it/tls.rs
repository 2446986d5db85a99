//! HTTPS through rustls against a real TLS SSE server on loopback, with a private root and a
//! server certificate made by rcgen for this run: a client that trusts the root gets the events;
//! the default client refuses the certificate with a typed, fatal error and gets none.

use crate::loopback;
use crate::support::app;
use crate::support::pki::{Pki, pki};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BODY: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nid: 1\ndata: secure\n\n";

/// What the TLS server saw: completed handshakes and failed ones.
#[derive(Default)]
struct Seen {
    handshakes: usize,
    refused: Vec<String>,
}

/// A TLS SSE server on 127.0.0.1:0: one event, then the connection stays open. With
/// `corrupt_first`, the first connection then gets bytes written under TLS, straight onto TCP:
/// a TLS error in the middle of an open stream.
fn start_tls_server(pki: &Pki, corrupt_first: bool) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let config = pki.server_config();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server_seen = seen.clone();
    let addr = loopback::spawn("tls server", move |listener| async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let seen = server_seen.clone();
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(error) => {
                        seen.lock().unwrap().refused.push(error.to_string());
                        return;
                    }
                };
                seen.lock().unwrap().handshakes += 1;
                if loopback::read_request_head(&mut tls).await.is_none() {
                    return;
                }
                if tls.write_all(BODY.as_bytes()).await.is_err() {
                    return;
                }
                let _ = tls.flush().await;
                let first = seen.lock().unwrap().handshakes == 1;
                if corrupt_first && first {
                    // A record the client cannot decrypt.
                    let (tcp, _) = tls.get_mut();
                    let junk = b"not a real TLS record";
                    let mut record = vec![0x17, 0x03, 0x03, 0x00, junk.len() as u8];
                    record.extend_from_slice(junk);
                    let _ = tcp.write_all(&record).await;
                    let _ = tcp.flush().await;
                }
                // Hold the stream open until the client goes away.
                let mut buf = [0; 1024];
                while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    (addr, seen)
}

/// A test app whose client trusts this run's private root.
fn app_trusting(pki: &Pki) -> App {
    let client = reqwest::Client::builder()
        .add_root_certificate(pki.root())
        .build()
        .unwrap();
    let mut app = test_app();
    app.insert_resource(SseClient(client));
    app
}

#[test]
fn trusted_root_gets_events_over_https() {
    let pki = pki();
    let (addr, seen) = start_tls_server(&pki, false);
    let mut app = app_trusting(&pki);
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(format!("https://{addr}/events")))
        .id();
    update_until(&mut app, "the event over TLS", |app| {
        !collected::<SseMessage>(app).is_empty()
    });

    let messages = collected::<SseMessage>(&app);
    assert_eq!(messages[0].data(), "secure");
    assert_eq!(messages[0].last_event_id(), "1");
    assert_eq!(state(&app, source), ReadyState::Open);
    assert!(collected::<SseErrored>(&app).is_empty());
    assert_eq!(seen.lock().unwrap().handshakes, 1);
}

#[test]
fn untrusted_certificate_is_a_clear_fatal_error_and_no_events() {
    let pki = pki();
    let (addr, seen) = start_tls_server(&pki, false);

    // The default client: system roots only, which do not include this run's private root.
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    collect::<SseRetrying>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(format!(
            "https://{addr}/events?token=hidden"
        )))
        .id();
    update_until_closed(&mut app, source);

    let errors = collected::<SseErrored>(&app);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0].error;
    assert!(matches!(error, SseError::Tls { .. }), "{error:?}");
    assert!(error.is_fatal());
    let text = error.to_string();
    println!("the error: {text}");
    assert!(text.contains("certificate"), "{text}");
    assert!(
        text.starts_with(&format!("https://{addr}/events?…: TLS failed")),
        "{text}"
    );
    assert!(!text.contains("hidden"), "{text}");
    assert!(collected::<SseMessage>(&app).is_empty());
    assert!(
        collected::<SseRetrying>(&app).is_empty(),
        "no retry of a refused certificate"
    );
    // The server learns of the refusal from the client's alert, which may arrive after the
    // client has closed the source.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.lock().unwrap().refused.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.handshakes, 0);
    assert_eq!(seen.refused.len(), 1, "{:?}", seen.refused);
}

#[test]
fn a_tls_error_mid_stream_reconnects() {
    let pki = pki();
    let (addr, seen) = start_tls_server(&pki, true);
    let mut app = app_trusting(&pki);
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    collect::<SseRetrying>(&mut app);
    let source = app
        .world_mut()
        .spawn((
            EventSource::new(format!("https://{addr}/events")),
            ReconnectionTime(std::time::Duration::from_millis(100)),
        ))
        .id();
    // (The first event may or may not be read before the broken record: one TCP read can
    // carry both.)
    update_until(&mut app, "the second stream", |app| {
        seen.lock().unwrap().handshakes == 2 && state(app, source) == ReadyState::Open
    });
    let errors = collected::<SseErrored>(&app);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0].error;
    assert!(matches!(error, SseError::Transport { .. }), "{error:?}");
    assert!(!error.is_fatal());
    println!("the error: {error}");
    assert_eq!(collected::<SseRetrying>(&app).len(), 1);
    assert_eq!(state(&app, source), ReadyState::Open);
    assert_eq!(seen.lock().unwrap().handshakes, 2);
}
