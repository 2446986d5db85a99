//! The embedded demo SSE server the examples start on 127.0.0.1:0: a real axum SSE endpoint on
//! its own tokio runtime thread, so the examples run with no network.
//!
//! `GET /events` streams numbered `tick` and `chat` events (20 per second), resumes after the
//! `Last-Event-ID` it is sent, asks for 250 ms reconnections, and ends the connection after
//! every `drop_every` events so clients show their reconnection.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::routing::get;
use futures_lite::{Stream, stream};

/// How the demo stream behaves.
#[derive(Clone, Copy, Debug)]
pub struct DemoConfig {
    /// Events per connection before the server hangs up (0: never).
    pub drop_every: u64,
    /// Pause between events.
    pub interval: Duration,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            drop_every: 7,
            interval: Duration::from_millis(50),
        }
    }
}

/// Starts the server on a background thread; returns its address once it accepts connections.
pub fn start(config: DemoConfig) -> SocketAddr {
    let app = Router::new()
        .route("/events", get(events))
        .with_state(config);
    crate::loopback::serve("demo-sse-server", app)
}

async fn events(
    State(config): State<DemoConfig>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let resume_after = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let first = resume_after.map_or(0, |id| id + 1);
    let last = if config.drop_every == 0 {
        u64::MAX
    } else {
        first + config.drop_every
    };
    let events = stream::unfold(first, move |id| async move {
        if id >= last {
            return None;
        }
        if id > first {
            tokio::time::sleep(config.interval).await;
        }
        let event = if id % 5 == 4 {
            Event::default()
                .event("chat")
                .data(format!(r#"{{"from":"npc","text":"hello #{id}"}}"#))
        } else {
            Event::default().event("tick").data(format!(
                r#"{{"seq":{id},"x":{},"y":{}}}"#,
                id * 37 % 640,
                id * 91 % 360
            ))
        };
        let event = event.id(id.to_string());
        let event = if id == first {
            event.retry(Duration::from_millis(250))
        } else {
            event
        };
        Some((Ok(event), id + 1))
    });
    Sse::new(events)
}
