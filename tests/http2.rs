//! HTTP/2 sharing (feature `http2`) against a real HTTP/2 server on loopback: hyper's server,
//! which lets a connection carry at most 100 concurrent streams, as servers typically do, over
//! TLS with ALPN (as browsers and CDNs speak it) and with prior knowledge (h2c). hyper's client
//! never opens a second connection when the first is full: the 101st stream would wait
//! forever, silently.
//!
//! `cargo test --features http2 --test http2`

#[path = "it/support/app.rs"]
mod app;
#[path = "it/support/child.rs"]
mod child;
#[path = "it/support/logs.rs"]
mod logs;
#[path = "../examples/support/loopback.rs"]
mod loopback;
#[path = "it/support/pki.rs"]
mod pki;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::*;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use futures_lite::{Stream, StreamExt, stream};

/// What the server allows per connection.
const MAX_STREAMS: u32 = 100;
const SOURCES: usize = 1_000;

/// One request the server answered.
#[derive(Clone, Debug)]
struct Seen {
    source: usize,
    connection: usize,
    last_event_id: Option<String>,
}

#[derive(Default)]
struct Shared {
    /// Each accepted connection's task, by accept order.
    connections: Mutex<Vec<tokio::task::AbortHandle>>,
    requests: Mutex<Vec<Seen>>,
}

#[derive(Clone)]
struct Connection {
    index: usize,
    shared: Arc<Shared>,
}

/// An HTTP/2 SSE server on 127.0.0.1:0, over TLS (ALPN `h2`) when given a certificate, else
/// h2c. `GET /s/{i}` answers, on its n-th request, one event `id: {i}-{n}`, `data: {i}` (with
/// `retry: 20`), and then holds the stream open.
struct H2Server {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
}

impl H2Server {
    fn start(pki: Option<&pki::Pki>) -> Self {
        let acceptor = pki.map(|pki| {
            let mut config = pki.server_config();
            config.alpn_protocols = vec![b"h2".to_vec()];
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        });
        let shared = Arc::new(Shared::default());
        let server = shared.clone();
        let addr = loopback::spawn("http2 server", move |listener| async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut connections = server.connections.lock().unwrap();
                let router = axum::Router::new()
                    .route("/s/{i}", get(stream_for))
                    .with_state(Connection {
                        index: connections.len(),
                        shared: server.clone(),
                    });
                let acceptor = acceptor.clone();
                let task = tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(tcp).await {
                                serve(tls, router).await;
                            }
                        }
                        None => serve(tcp, router).await,
                    }
                });
                connections.push(task.abort_handle());
            }
        });
        Self {
            addr,
            tls: pki.is_some(),
            shared,
        }
    }

    fn url(&self, source: usize) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/s/{source}", self.addr)
    }

    fn requests(&self) -> Vec<Seen> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Streams per connection, of the connections that carried any.
    fn streams_per_connection(&self) -> HashMap<usize, usize> {
        let mut streams = HashMap::new();
        for seen in self.requests() {
            *streams.entry(seen.connection).or_default() += 1;
        }
        streams
    }

    /// Drops connection `index` as a failing server or network would: every stream on it ends.
    fn drop_connection(&self, index: usize) {
        self.shared.connections.lock().unwrap()[index].abort();
    }
}

/// Serves one HTTP/2 connection, at most `MAX_STREAMS` streams at once.
async fn serve<Io>(io: Io, router: axum::Router)
where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(router);
    let _ = hyper::server::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
        .max_concurrent_streams(MAX_STREAMS)
        .serve_connection(hyper_util::rt::TokioIo::new(io), service)
        .await;
}

async fn stream_for(
    State(connection): State<Connection>,
    Path(source): Path<usize>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let last_event_id = headers
        .get("last-event-id")
        .map(|id| id.to_str().unwrap().to_owned());
    let n = {
        let mut requests = connection.shared.requests.lock().unwrap();
        requests.push(Seen {
            source,
            connection: connection.index,
            last_event_id,
        });
        requests.iter().filter(|seen| seen.source == source).count()
    };
    let event = Event::default()
        .id(format!("{source}-{n}"))
        .data(source.to_string())
        .retry(Duration::from_millis(20));
    Sse::new(stream::once(Ok(event)).chain(stream::pending()))
}

/// Events received per source index (the server's `data`).
fn received(app: &App) -> HashMap<usize, usize> {
    let mut counts = HashMap::new();
    for message in collected::<SseMessage>(app) {
        *counts.entry(message.data().parse().unwrap()).or_default() += 1;
    }
    counts
}

/// An app with `SOURCES` sources on `server`, whose clients trust its certificate (over TLS)
/// or speak HTTP/2 with prior knowledge (h2c).
fn app_with_sources(server: &H2Server, pki: Option<&pki::Pki>) -> (App, Vec<Entity>) {
    let mut app = test_app();
    let root = pki.map(pki::Pki::root);
    app.insert_resource(SseClientBuilder::new(move || match &root {
        Some(root) => reqwest::Client::builder().add_root_certificate(root.clone()),
        None => reqwest::Client::builder().http2_prior_knowledge(),
    }));
    collect::<SseMessage>(&mut app);
    let sources = (0..SOURCES)
        .map(|i| app.world_mut().spawn(EventSource::new(server.url(i))).id())
        .collect();
    (app, sources)
}

fn all_open_and_deliver(pki: Option<&pki::Pki>) {
    let server = H2Server::start(pki);
    let (mut app, sources) = app_with_sources(&server, pki);
    update_until(&mut app, "every source's first event", |app| {
        received(app).len() == SOURCES
    });
    for source in &sources {
        assert_eq!(state(&app, *source), ReadyState::Open);
    }
    // Spread over as many connections as the server's stream limit needs, and no more than a
    // few beyond that.
    let streams = server.streams_per_connection();
    let needed = SOURCES.div_ceil(MAX_STREAMS as usize);
    assert!(
        (needed..needed + 3).contains(&streams.len()),
        "{} connections for {SOURCES} streams",
        streams.len()
    );
    assert!(
        streams.values().all(|n| *n <= MAX_STREAMS as usize),
        "{streams:?}"
    );
}

fn dropped_connection_reconnects_its_sources(pki: Option<&pki::Pki>) {
    let server = H2Server::start(pki);
    let (mut app, _sources) = app_with_sources(&server, pki);
    update_until(&mut app, "every source's first event", |app| {
        received(app).len() == SOURCES
    });
    let dropped = *server.streams_per_connection().keys().min().unwrap();
    let on_dropped: HashSet<usize> = server
        .requests()
        .iter()
        .filter(|seen| seen.connection == dropped)
        .map(|seen| seen.source)
        .collect();

    server.drop_connection(dropped);
    update_until(&mut app, "the dropped streams' second events", |app| {
        let received = received(app);
        on_dropped.iter().all(|source| received[source] == 2)
    });

    let requests = server.requests();
    let again = &requests[SOURCES..];
    let reconnected: HashSet<usize> = again.iter().map(|seen| seen.source).collect();
    assert_eq!(
        reconnected, on_dropped,
        "only the dropped connection's sources reconnect"
    );
    for seen in again {
        assert_eq!(
            seen.last_event_id.as_deref(),
            Some(format!("{}-1", seen.source).as_str()),
            "{seen:?}"
        );
        assert_ne!(seen.connection, dropped);
    }
    // Nothing was lost or doubled on the streams that stayed up.
    let received = received(&app);
    for source in 0..SOURCES {
        let expected = if on_dropped.contains(&source) { 2 } else { 1 };
        assert_eq!(received[&source], expected, "source {source}");
    }
}

#[test]
fn a_thousand_sources_to_one_h2c_origin_all_open_and_deliver() {
    all_open_and_deliver(None);
}

#[test]
fn a_thousand_sources_to_one_https_origin_negotiating_h2_all_open_and_deliver() {
    all_open_and_deliver(Some(&pki::pki()));
}

#[test]
fn a_dropped_h2c_connection_reconnects_every_source_on_it_with_its_own_last_event_id() {
    dropped_connection_reconnects_its_sources(None);
}

#[test]
fn a_dropped_https_h2_connection_reconnects_every_source_on_it_with_its_own_last_event_id() {
    dropped_connection_reconnects_its_sources(Some(&pki::pki()));
}

#[test]
fn max_streams_per_connection_caps_the_streams_one_connection_carries() {
    let server = H2Server::start(None);
    let mut app = test_app();
    app.world_mut()
        .resource_mut::<SseSettings>()
        .max_streams_per_connection = std::num::NonZeroU32::new(10).unwrap();
    app.insert_resource(SseClientBuilder::new(|| {
        reqwest::Client::builder().http2_prior_knowledge()
    }));
    collect::<SseMessage>(&mut app);
    for i in 0..50 {
        app.world_mut().spawn(EventSource::new(server.url(i)));
    }
    update_until(&mut app, "every source's first event", |app| {
        received(app).len() == 50
    });
    let streams = server.streams_per_connection();
    assert_eq!(streams.len(), 5, "{streams:?}");
    assert!(streams.values().all(|n| *n == 10), "{streams:?}");
}

#[test]
fn a_client_inserted_without_a_builder_warns_when_its_one_http2_connection_is_past_the_limit() {
    // Warnings from every thread (the IO thread's too), for this test binary.
    let (captured, subscriber) = logs::capture(bevy::log::Level::WARN);
    bevy::log::tracing::subscriber::set_global_default(subscriber).unwrap();
    let warned = || captured.text();

    // Over HTTP/1.1 every stream has a connection of its own: no warning, past the limit too.
    let http1 = loopback::serve(
        "http1 server",
        axum::Router::new().route(
            "/s/{i}",
            get(|Path(source): Path<usize>| async move {
                let event = Event::default().data(source.to_string());
                Sse::new(stream::once(Ok::<_, Infallible>(event)).chain(stream::pending()))
            }),
        ),
    );
    let mut app = test_app();
    app.insert_resource(SseClient(reqwest::Client::new()));
    collect::<SseMessage>(&mut app);
    for i in 0..150 {
        app.world_mut()
            .spawn(EventSource::new(format!("http://{http1}/s/{i}")));
    }
    update_until(&mut app, "150 HTTP/1.1 streams", |app| {
        received(app).len() == 150
    });
    assert_eq!(warned(), "");

    let server = H2Server::start(None);
    let mut app = test_app();
    // A client cannot be copied into a second pool: every stream goes on its one connection.
    app.insert_resource(SseClient(
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap(),
    ));
    collect::<SseMessage>(&mut app);
    for i in 0..150 {
        app.world_mut().spawn(EventSource::new(server.url(i)));
    }
    update_until(&mut app, "the warning", |_| {
        warned().contains("SseClientBuilder")
    });
    let text = warned();
    assert!(
        text.contains(&format!(
            "more than 100 event streams to http://{}",
            server.addr
        )),
        "{text}"
    );
    assert_eq!(text.matches("SseClientBuilder").count(), 1, "once: {text}");
}

/// The plugin's own client, with no `SseClientBuilder`: it offers `h2` by ALPN, trusts the
/// system's roots (here `SSL_CERT_FILE`, which names this run's root, in a child process), and
/// its HTTP/2 lanes share one verifier.
#[test]
fn the_default_client_negotiates_h2_by_alpn_and_spreads_its_streams() {
    const TEST: &str = "the_default_client_negotiates_h2_by_alpn_and_spreads_its_streams";
    const HERE: usize = 150;
    if !child::is_child(TEST) {
        let pki = pki::pki();
        let server = H2Server::start(Some(&pki));
        let roots = child::scratch_path("h2-roots.pem");
        std::fs::write(&roots, &pki.root_pem).unwrap();
        child::run(
            TEST,
            &[
                ("SSL_CERT_FILE", Some(roots.clone().into())),
                ("SSL_CERT_DIR", None),
                (
                    "TEST_H2_URL",
                    Some(format!("https://{}/s/", server.addr).into()),
                ),
            ],
        );
        let _ = std::fs::remove_file(roots);
        let streams = server.streams_per_connection();
        assert_eq!(streams.len(), 2, "{streams:?}");
        assert!(
            streams.values().all(|n| *n <= MAX_STREAMS as usize),
            "{streams:?}"
        );
        return;
    }
    let base = child::var("TEST_H2_URL");
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    for i in 0..HERE {
        app.world_mut()
            .spawn(EventSource::new(format!("{base}{i}")));
    }
    update_until(&mut app, "every source's first event", |app| {
        received(app).len() == HERE
    });
    assert!(collected::<SseErrored>(&app).is_empty());
}

/// A game's `SseClientBuilder` builds the clients of HTTP/2 lanes past the first on the IO
/// thread, when the first attempt on each lane goes out, not on the game's thread in the frame
/// that connects the sources: a build reads the system's root certificates (3–6 ms), once per
/// lane, 100 lanes at 10,000 sources.
#[test]
fn lane_clients_from_the_games_builder_are_built_off_the_games_thread() {
    const HERE: usize = 250;
    let server = H2Server::start(None);
    let mut app = test_app();
    let builds: Arc<Mutex<Vec<std::thread::ThreadId>>> = Arc::default();
    let seen = builds.clone();
    app.insert_resource(SseClientBuilder::new(move || {
        seen.lock().unwrap().push(std::thread::current().id());
        reqwest::Client::builder().http2_prior_knowledge()
    }));
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    for i in 0..HERE {
        app.world_mut().spawn(EventSource::new(server.url(i)));
    }
    update_until(&mut app, "every source's first event", |app| {
        received(app).len() == HERE
    });
    assert!(collected::<SseErrored>(&app).is_empty());
    let streams = server.streams_per_connection();
    assert_eq!(streams.len(), 3, "{streams:?}");
    let game = std::thread::current().id();
    let builds = builds.lock().unwrap();
    let on_game = builds.iter().filter(|thread| **thread == game).count();
    assert_eq!(
        (on_game, builds.len() - on_game),
        (1, 2),
        "lane 0 (the SseClient) on the game's thread, lanes 1 and 2 elsewhere: {builds:?}"
    );
}

/// A lane's client that the game's builder cannot build fails the attempts on that lane with
/// the fatal `SseError::Client`, reported like any failed attempt; lane 0's sources stream on.
#[test]
fn a_lane_client_the_builder_cannot_build_closes_its_sources_with_a_client_error() {
    const HERE: usize = 150;
    let server = H2Server::start(None);
    let mut app = test_app();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    app.insert_resource(SseClientBuilder::new(move || {
        let call = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let builder = reqwest::Client::builder().http2_prior_knowledge();
        // The second build (lane 1's) gets a TLS backend reqwest does not know, which it
        // refuses when it builds.
        if call == 0 {
            builder
        } else {
            builder.tls_backend_preconfigured(())
        }
    }));
    collect::<SseMessage>(&mut app);
    collect::<SseErrored>(&mut app);
    let sources: Vec<Entity> = (0..HERE)
        .map(|i| app.world_mut().spawn(EventSource::new(server.url(i))).id())
        .collect();
    update_until(&mut app, "lane 0's events and lane 1's closes", |app| {
        received(app).len() == MAX_STREAMS as usize
            && sources
                .iter()
                .filter(|source| state(app, **source) == ReadyState::Closed)
                .count()
                == HERE - MAX_STREAMS as usize
    });
    let errors = collected::<SseErrored>(&app);
    assert_eq!(errors.len(), HERE - MAX_STREAMS as usize);
    for errored in &errors {
        assert!(
            matches!(errored.error, SseError::Client { .. }),
            "{:?}",
            errored.error
        );
        assert!(errored.error.is_fatal());
    }
}
