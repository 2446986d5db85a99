//! The floors under the clients the benches compare: a stream read with nothing on top, events
//! counted by their blank lines. No SSE parser, no reconnection, no game.
//!
//! - hyper's HTTP/1.1 client connection alone, under every client built on it (reqwest,
//!   `eventsource-client`, this plugin): one connection, its body read frame by frame, no pool.
//! - reqwest's response alone, under every client built on reqwest (this plugin): the body read
//!   with `Response::chunk`.

use std::hint::black_box;
use std::pin::Pin;

use hyper::body::{Body, Incoming};

/// Opens a connection to `url` and asks for its event stream: the response's body.
pub async fn open_hyper(url: &str) -> Incoming {
    let uri: hyper::Uri = url.parse().expect("url");
    let address = uri.authority().expect("authority").to_string();
    let stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    let request = hyper::Request::get(uri.path())
        .header("host", &address)
        .header("accept", "text/event-stream")
        .body(String::new())
        .unwrap();
    sender
        .send_request(request)
        .await
        .expect("response")
        .into_body()
}

/// Reads `body` to its end, handing `events` how many events (blank lines) each frame ended.
pub async fn count_hyper_events(mut body: Incoming, mut events: impl FnMut(u64)) {
    let mut after_newline = false;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(data) = frame.expect("body").into_data() else {
            continue;
        };
        events(blank_lines(&data, &mut after_newline));
    }
}

/// A reqwest client built as the plugin builds its default one, over plain HTTP (the rustls
/// configuration it also sets only matters for `https`).
pub fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Asks `client` for the event stream at `url`: its response, once its head came.
pub async fn open_reqwest(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .get(url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("response")
}

/// Reads `response`'s body to its end, handing `events` how many events each chunk ended.
pub async fn count_reqwest_events(mut response: reqwest::Response, mut events: impl FnMut(u64)) {
    let mut after_newline = false;
    while let Some(chunk) = response.chunk().await.expect("body") {
        events(blank_lines(&chunk, &mut after_newline));
    }
}

/// How many blank lines (`\n\n`, events) `data` ends; `after_newline` carries whether the
/// last byte before it was a line end.
pub fn blank_lines(data: &[u8], after_newline: &mut bool) -> u64 {
    let mut ended = 0;
    for &byte in black_box(data) {
        ended += u64::from(*after_newline && byte == b'\n');
        *after_newline = byte == b'\n';
    }
    ended
}
