//! HTTPS through rustls against a real TLS SSE server on loopback, with a private root and a
//! server certificate made by rcgen for this run: a client that trusts the root gets the events;
//! the default client refuses the certificate with a typed, fatal error and gets none. The
//! default client reads the system's root certificates at its first TLS handshake (child
//! processes with `SSL_CERT_FILE` / `SSL_CERT_DIR` of their own): a machine without any still
//! reads `http://` sources, and an `https://` source ends with a typed error, never a panic.

use crate::loopback;
use crate::support::app;
use crate::support::child;
use crate::support::pki::{Pki, pki};
use crate::support::server::{OK_HEAD, ScriptedServer, Step, send};

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

/// An HTTP server for the child processes: one event, then the stream stays open.
fn plain_server() -> ScriptedServer {
    ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: plain\n\n"),
        Step::HoldUntilClientCloses,
    ]])
}

/// Runs `test` in a child process with a TLS server (a certificate of this run's root) at
/// `TEST_HTTPS_URL`, a plain server at `TEST_HTTP_URL`, and the variables `env` gives for the
/// root; returns how many TLS handshakes the server completed.
fn run_child_with_servers(
    test: &str,
    env: impl FnOnce(&Pki) -> Vec<(&'static str, Option<std::ffi::OsString>)>,
) -> usize {
    let pki = pki();
    let (addr, seen) = start_tls_server(&pki, false);
    let http = plain_server();
    let mut env = env(&pki);
    env.push(("TEST_HTTP_URL", Some(http.url("/").into())));
    env.push((
        "TEST_HTTPS_URL",
        Some(format!("https://{addr}/events").into()),
    ));
    child::run(test, &env);
    seen.lock().unwrap().handshakes
}

#[test]
fn without_system_roots_http_sources_work_and_https_is_a_typed_fatal_error() {
    const TEST: &str =
        "tls::without_system_roots_http_sources_work_and_https_is_a_typed_fatal_error";
    if !child::is_child(TEST) {
        let nowhere = child::scratch_path("no-roots");
        let handshakes = run_child_with_servers(TEST, |_| {
            vec![
                ("SSL_CERT_FILE", Some(nowhere.clone().into())),
                ("SSL_CERT_DIR", Some(nowhere.into())),
            ]
        });
        assert_eq!(handshakes, 0);
        return;
    }
    // The child: no root certificate can be loaded.
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    collect::<SseRetrying>(&mut app);
    let plain = app
        .world_mut()
        .spawn(EventSource::new(child::var("TEST_HTTP_URL")))
        .id();
    let secure = app
        .world_mut()
        .spawn(EventSource::new(child::var("TEST_HTTPS_URL")))
        .id();
    update_until(&mut app, "the plain event and the secure close", |app| {
        !collected::<SseMessage>(app).is_empty() && state(app, secure) == ReadyState::Closed
    });
    let messages = collected::<SseMessage>(&app);
    assert_eq!(messages.len(), 1);
    assert_eq!((messages[0].entity, messages[0].data()), (plain, "plain"));
    assert_eq!(state(&app, plain), ReadyState::Open);
    let errors = collected::<SseErrored>(&app);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].entity, secure);
    let error = &errors[0].error;
    assert!(matches!(error, SseError::Tls { .. }), "{error:?}");
    assert!(error.is_fatal());
    let text = error.to_string();
    println!("the error: {text}");
    assert!(text.contains("root certificate"), "{text}");
    assert!(collected::<SseRetrying>(&app).is_empty());
}

#[test]
fn the_default_client_reads_the_system_roots_at_its_first_handshake_not_when_built() {
    const TEST: &str =
        "tls::the_default_client_reads_the_system_roots_at_its_first_handshake_not_when_built";
    if !child::is_child(TEST) {
        let roots = child::scratch_path("roots.pem");
        let handshakes = run_child_with_servers(TEST, |pki| {
            vec![
                ("SSL_CERT_FILE", Some(roots.clone().into())),
                ("SSL_CERT_DIR", None),
                ("TEST_ROOT_PEM", Some(pki.root_pem.clone().into())),
            ]
        });
        let _ = std::fs::remove_file(roots);
        assert_eq!(handshakes, 1);
        return;
    }
    // The child: the roots file does not exist yet when the first source builds the client.
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    app.world_mut()
        .spawn(EventSource::new(child::var("TEST_HTTP_URL")));
    update_until(&mut app, "the plain event", |app| {
        !collected::<SseMessage>(app).is_empty()
    });
    assert!(app.world().get_resource::<SseClient>().is_some());
    std::fs::write(child::var("SSL_CERT_FILE"), child::var("TEST_ROOT_PEM")).unwrap();
    let secure = app
        .world_mut()
        .spawn(EventSource::new(child::var("TEST_HTTPS_URL")))
        .id();
    update_until(&mut app, "the event over TLS", |app| {
        collected::<SseMessage>(app).len() == 2
    });
    let messages = collected::<SseMessage>(&app);
    assert_eq!((messages[1].entity, messages[1].data()), (secure, "secure"));
    assert_eq!(state(&app, secure), ReadyState::Open);
    assert!(collected::<SseErrored>(&app).is_empty());
}

#[test]
fn a_crypto_provider_rustls_refuses_is_a_typed_client_error_not_a_panic() {
    const TEST: &str = "tls::a_crypto_provider_rustls_refuses_is_a_typed_client_error_not_a_panic";
    if !child::is_child(TEST) {
        let http = plain_server();
        child::run(TEST, &[("TEST_HTTP_URL", Some(http.url("/").into()))]);
        return;
    }
    // The child: the game installed a process-wide provider with no cipher suite, which rustls
    // refuses for TLS 1.2 and 1.3 alike (so does reqwest when it builds a client).
    rustls::crypto::CryptoProvider {
        cipher_suites: Vec::new(),
        ..rustls::crypto::aws_lc_rs::default_provider()
    }
    .install_default()
    .unwrap();
    let mut app = test_app();
    collect::<SseErrored>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(child::var("TEST_HTTP_URL")))
        .id();
    update_until_closed(&mut app, source);
    let errors = collected::<SseErrored>(&app);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0].error;
    assert!(matches!(error, SseError::Client { .. }), "{error:?}");
    assert!(error.is_fatal());
    println!("the error: {error}");
}
