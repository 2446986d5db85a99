//! LaunchDarkly's `eventsource-client` 0.18 as the benchmarks run it: no reconnection, hyper's
//! plain HTTP transport.
#![allow(dead_code)]

use std::hint::black_box;

use eventsource_client::{Client, ClientBuilder, ReconnectOptions, SSE};
use futures_lite::StreamExt;
use launchdarkly_sdk_transport::HyperTransport;

/// A new transport: a hyper connection pool of its own.
pub fn launchdarkly_transport() -> HyperTransport {
    HyperTransport::builder().build_http().expect("transport")
}

/// A client for `url` on `transport` that does not reconnect.
pub fn launchdarkly_client(url: &str, transport: HyperTransport) -> impl Client + use<> {
    ClientBuilder::for_url(url)
        .expect("url")
        .reconnect(ReconnectOptions::reconnect(false).build())
        .build_with_transport(transport)
}

/// Reads `events` events from `url`, data included, and panics if the stream stops before.
pub async fn launchdarkly(url: &str, events: u64) {
    let client = launchdarkly_client(url, launchdarkly_transport());
    let mut stream = client.stream();
    let (mut messages, mut data_bytes) = (0, 0);
    while messages < events {
        match stream.next().await {
            Some(Ok(SSE::Event(event))) => {
                messages += 1;
                data_bytes += black_box(&event.data).len();
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("eventsource-client failed: {error:?}"),
            None => panic!("eventsource-client ended early after {messages}"),
        }
    }
    black_box(data_bytes);
}
