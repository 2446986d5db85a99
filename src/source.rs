//! The [`EventSource`] component and the state components that come with it.

use std::time::Duration;

use std::fmt;

use bevy::prelude::*;
use reqwest::Method;

use crate::diagnostics::SseSourceStats;
use crate::error::redact;
use crate::guard::Epoch;
use crate::lifecycle::SourceSpan;
use crate::typed::Decoders;

/// The reconnection time a source starts with, as BestHTTP and browsers use.
pub const DEFAULT_RECONNECTION_TIME: Duration = Duration::from_secs(2);

/// One server-sent events subscription. Spawning an entity with it opens the connection.
///
/// It holds the request (BestHTTP's `InternalRequest`): URL, method, headers, body and response
/// timeout. The request is rebuilt from this component before every attempt, so a system or an
/// [`SseRetrying`](crate::message::SseRetrying) observer can change headers (a fresh token) or
/// the URL for the next attempt. Despawning the entity, or removing this component, closes the
/// connection.
///
/// ```
/// use bevy_eventsource::prelude::*;
///
/// let source = EventSource::new("http://127.0.0.1:8080/events")
///     .with_header("Authorization", "Bearer token")
///     .with_method(Method::POST)
///     .with_body(r#"{"prompt":"hi"}"#);
/// assert_eq!(source.headers()[0].0, "Authorization");
/// ```
///
/// Its `Debug` shows header names but not their values, the body's length but not the body,
/// and the URL without its query or credentials: it is safe to log.
#[derive(Component, Clone)]
// Every component a source ever has in a table comes with it, so it never moves to another
// table (each move left the old table's capacity behind: at 10,000 sources, ~1 KiB each). Its
// transient components are sparse sets. The `Name` is made from the URL when it is added.
#[require(
    ReadyState,
    LastEventId,
    ReconnectionTime,
    SseSourceStats,
    Epoch,
    SourceSpan,
    Name = Name::new(crate::lifecycle::UNNAMED)
)]
pub struct EventSource {
    url: String,
    method: Method,
    headers: Vec<(String, String)>,
    /// Shared with each attempt's request, not copied.
    body: Option<bytes::Bytes>,
    response_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    once: bool,
    done_sentinel: Option<String>,
    /// Event names decoded on the IO side, and into what.
    pub(crate) decoders: Decoders,
}

impl fmt::Debug for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<_> = self
            .headers
            .iter()
            .map(|(name, _)| format!("{name}: …"))
            .collect();
        f.debug_struct("EventSource")
            .field("url", &redact(&self.url))
            .field("method", &self.method)
            .field("headers", &headers)
            .field("body_len", &self.body.as_ref().map(bytes::Bytes::len))
            .field("response_timeout", &self.response_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("once", &self.once)
            .field("done_sentinel", &self.done_sentinel)
            .field(
                "decoded",
                &self
                    .decoders
                    .iter()
                    .map(|(name, decoder)| (&**name, decoder.type_name))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl EventSource {
    /// A `GET` subscription to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            method: Method::GET,
            headers: Vec::new(),
            body: None,
            response_timeout: None,
            read_timeout: None,
            once: false,
            done_sentinel: None,
            decoders: Decoders::default(),
        }
    }

    /// Uses this HTTP method (BestHTTP: `MethodType`).
    #[must_use]
    pub fn with_method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Adds a request header. Invalid names or values fail the attempt with
    /// [`SseError::InvalidRequest`](crate::SseError::InvalidRequest).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sends this request body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into().into());
        self
    }

    /// Fails an attempt whose response headers take longer than this.
    #[must_use]
    pub fn with_response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = Some(timeout);
        self
    }

    /// Fails an attempt when no byte (comments count) arrives for this long, so a dead
    /// connection is noticed and the normal reconnection runs. Pair it with a server that sends
    /// keep-alive comments more often than this.
    #[must_use]
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// One-shot mode, for request/response streams such as LLM APIs: the source never
    /// reconnects. A clean end of the stream closes it without an error; a failure reports
    /// [`SseErrored`](crate::message::SseErrored) and closes it. The request (a `POST` body) is
    /// never sent twice.
    #[must_use]
    pub fn once(mut self) -> Self {
        self.once = true;
        self
    }

    /// Closes the source, without an error, when an event's data is exactly `sentinel` (such
    /// as `[DONE]`); the sentinel event itself is not delivered, nor anything after it.
    #[must_use]
    pub fn with_done_sentinel(mut self, sentinel: impl Into<String>) -> Self {
        self.done_sentinel = Some(sentinel.into());
        self
    }

    /// The URL (BestHTTP: `Uri`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Changes the URL; the next attempt uses it.
    pub fn set_url(&mut self, url: impl Into<String>) {
        self.url = url.into();
    }

    /// The HTTP method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The extra request headers, in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// Sets a header, replacing every earlier header of that name (names compare
    /// case-insensitively). The next attempt sends it.
    pub fn set_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.headers
            .retain(|(old, _)| !old.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
    }

    /// Removes every header of this name.
    pub fn remove_header(&mut self, name: &str) {
        self.headers
            .retain(|(old, _)| !old.eq_ignore_ascii_case(name));
    }

    /// The request body, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The body, shared (a reference-counted handle, no copy).
    pub(crate) fn shared_body(&self) -> Option<bytes::Bytes> {
        self.body.clone()
    }

    /// Sets or clears the request body.
    pub fn set_body(&mut self, body: Option<Vec<u8>>) {
        self.body = body.map(bytes::Bytes::from);
    }

    /// The response timeout, if any.
    pub fn response_timeout(&self) -> Option<Duration> {
        self.response_timeout
    }

    /// The read timeout, if any.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// Whether the source is one-shot: it never reconnects.
    pub fn is_once(&self) -> bool {
        self.once
    }

    /// The data value that closes the source, if any.
    pub fn done_sentinel(&self) -> Option<&str> {
        self.done_sentinel.as_deref()
    }
}

/// Where a source is in its life (BestHTTP: `State`). Only the plugin changes it, and every
/// change is announced once as [`SseStateChanged`](crate::message::SseStateChanged).
///
/// `Initial` → `Connecting` → `Open`; a dropped stream goes `Retrying` → `Connecting` again;
/// [`close`](crate::commands::SseEntityCommandsExt::close_event_source) goes `Closing` → `Closed`,
/// and so does a refusal by the server. The whole table is [`can_change_to`](Self::can_change_to).
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Component, Debug, Default, PartialEq, Hash, Clone)
)]
pub enum ReadyState {
    /// Spawned, no attempt started yet.
    #[default]
    Initial,
    /// Waiting for the response of an attempt.
    Connecting,
    /// The stream is flowing.
    Open,
    /// The stream ended; waiting the reconnection time before the next attempt.
    Retrying,
    /// Being closed.
    Closing,
    /// Closed for good, until reopened.
    Closed,
}

impl ReadyState {
    /// BestHTTP's `IsClosed`.
    pub fn is_closed(self) -> bool {
        self == Self::Closed
    }

    /// Whether the plugin ever changes a source from `self` to `new`:
    ///
    /// | from | to |
    /// |---|---|
    /// | `Initial` | `Connecting` (first attempt), `Closing` (closed before it) |
    /// | `Connecting` | `Open`, `Retrying`, `Closing` |
    /// | `Open` | `Retrying`, `Connecting` (a forced reconnection), `Closing` |
    /// | `Retrying` | `Connecting`, `Closing` |
    /// | `Closing` | `Closed`, `Connecting` (reconnected by an observer of the close) |
    /// | `Closed` | `Connecting` (reopened) |
    pub fn can_change_to(self, new: Self) -> bool {
        use ReadyState::*;
        matches!(
            (self, new),
            (Initial, Connecting | Closing)
                | (Connecting, Open | Retrying | Closing)
                | (Open, Retrying | Connecting | Closing)
                | (Retrying, Connecting | Closing)
                | (Closing, Closed | Connecting)
                | (Closed, Connecting)
        )
    }
}

/// The last event ID string (BestHTTP: `LastEventId`): sent as `Last-Event-ID` when reconnecting.
///
/// Insert it with a value before the first attempt to resume a stream; the server's `id` fields
/// update it, and an empty `id` clears it.
#[derive(Component, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Component, Debug, Default, PartialEq, Hash, Clone)
)]
pub struct LastEventId(pub String);

/// How long to wait before reconnecting (BestHTTP: `ReconnectionTime`). Defaults to 2 seconds;
/// a server's `retry` field overrides it.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Component, Debug, Default, PartialEq, Hash, Clone)
)]
pub struct ReconnectionTime(pub Duration);

impl Default for ReconnectionTime {
    fn default() -> Self {
        Self(DEFAULT_RECONNECTION_TIME)
    }
}
