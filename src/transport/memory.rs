//! [`MemoryTransport`]: attempts scripted by a test, with no socket and no thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bevy::prelude::{Entity, Resource};
use reqwest::Method;
use reqwest::header::HeaderMap;

use super::{
    AttemptHandle, AttemptRequest, Report, ReportSender, Reports, StreamParser, Transport,
};
use crate::error::{SourceUrl, SseError};

/// A transport that a test drives by hand: every attempt the plugin starts is recorded as a
/// [`MemoryAttempt`], and the test says what its connection does ([`open`](MemoryAttempt::open),
/// [`send`](MemoryAttempt::send) stream bytes, [`end_stream`](MemoryAttempt::end_stream),
/// [`refuse`](MemoryAttempt::refuse), ...). The bytes go through the real parser and the
/// reports through the real channel and state machine, so what a test sees is what the network
/// gives; only the socket is missing. Nothing runs in the background: a report reaches the game
/// at the next `app.update()`, in order; a frame takes in at most
/// [`SsePlugin::max_batches_per_frame`](crate::plugin::SsePlugin::max_batches_per_frame)
/// batches (one per `send`), the rest in later frames, as from the network. The byte budget
/// does not apply: what a script sends is bounded by the script.
///
/// Insert it as a resource before the first source starts; the plugin then starts no IO thread.
///
/// ```
/// use bevy::prelude::*;
/// use bevy_eventsource::prelude::*;
/// use bevy_eventsource::transport::MemoryTransport;
///
/// let network = MemoryTransport::new();
/// let mut app = App::new();
/// app.add_plugins((MinimalPlugins, SsePlugin::default()))
///     .insert_resource(network.clone());
/// let source = app.world_mut().spawn(EventSource::new("http://game.test/feed")).id();
/// app.update(); // the attempt starts in PreUpdate
///
/// let attempt = network.last_attempt(source).unwrap();
/// assert_eq!(attempt.headers()["accept"], "text/event-stream");
/// attempt.open().send("event: join\ndata: ada\n\n");
/// app.update();
/// assert_eq!(app.world().get::<ReadyState>(source), Some(&ReadyState::Open));
/// ```
#[derive(Resource, Clone, Default)]
pub struct MemoryTransport {
    attempts: Arc<Mutex<Vec<MemoryAttempt>>>,
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("attempts", &self.attempts().len())
            .finish()
    }
}

impl MemoryTransport {
    /// A transport with no attempts yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<MemoryAttempt>> {
        self.attempts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every attempt the plugin started, oldest first: one per request that would have gone out.
    pub fn attempts(&self) -> Vec<MemoryAttempt> {
        self.lock().clone()
    }

    /// The attempts started for `source`, oldest first.
    pub fn attempts_of(&self, source: Entity) -> Vec<MemoryAttempt> {
        let attempts = self.lock();
        attempts
            .iter()
            .filter(|attempt| attempt.entity() == source)
            .cloned()
            .collect()
    }

    /// The newest attempt started for `source`.
    pub fn last_attempt(&self, source: Entity) -> Option<MemoryAttempt> {
        let attempts = self.lock();
        attempts
            .iter()
            .rev()
            .find(|attempt| attempt.entity() == source)
            .cloned()
    }

    /// The attempts whose connection is still up: not cancelled by the plugin, not ended by
    /// the test.
    pub fn live_attempts(&self) -> Vec<MemoryAttempt> {
        let attempts = self.lock();
        attempts
            .iter()
            .filter(|attempt| attempt.is_live())
            .cloned()
            .collect()
    }
}

impl Transport for MemoryTransport {
    fn needs_client(&self) -> bool {
        false
    }

    fn start(&self, request: AttemptRequest, reports: ReportSender) -> AttemptHandle {
        let shared = Arc::new(Shared {
            entity: reports.entity,
            parser: Mutex::new(StreamParser::new(&request)),
            url: request.url.clone(),
            request,
            reports,
            cancelled: AtomicBool::new(false),
            ended: AtomicBool::new(false),
        });
        self.lock().push(MemoryAttempt(shared.clone()));
        AttemptHandle::new(Cancel(shared))
    }
}

/// Cancels the attempt when the plugin drops its handle.
struct Cancel(Arc<Shared>);

impl Drop for Cancel {
    fn drop(&mut self) {
        self.0.cancelled.store(true, Ordering::Relaxed);
    }
}

struct Shared {
    entity: Entity,
    request: AttemptRequest,
    url: SourceUrl,
    parser: Mutex<StreamParser>,
    reports: ReportSender,
    cancelled: AtomicBool,
    ended: AtomicBool,
}

/// One attempt the plugin started on a [`MemoryTransport`]: the request it would have sent,
/// and the test's hand on its connection. Reports to an attempt that was cancelled or has
/// ended are ignored, as the network would.
#[derive(Clone)]
pub struct MemoryAttempt(Arc<Shared>);

impl std::fmt::Debug for MemoryAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryAttempt")
            .field("entity", &self.0.entity)
            .field("url", &self.0.url)
            .field("cancelled", &self.is_cancelled())
            .field("ended", &self.is_ended())
            .finish_non_exhaustive()
    }
}

impl MemoryAttempt {
    /// The source entity.
    pub fn entity(&self) -> Entity {
        self.0.entity
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        self.0.request.request.method()
    }

    /// The request URL, whole.
    pub fn url(&self) -> &str {
        self.0.url.as_str()
    }

    /// The request headers, exactly as they would go out.
    pub fn headers(&self) -> &HeaderMap {
        self.0.request.request.headers()
    }

    /// The request body, if any.
    pub fn body(&self) -> Option<&[u8]> {
        self.0
            .request
            .request
            .body()
            .and_then(reqwest::Body::as_bytes)
    }

    /// The response timeout the attempt runs with.
    pub fn response_timeout(&self) -> Option<Duration> {
        self.0.request.response_timeout
    }

    /// Whether the plugin cancelled the attempt (closed, replaced or despawned the source).
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Relaxed)
    }

    /// Whether the test ended the attempt.
    pub fn is_ended(&self) -> bool {
        self.0.ended.load(Ordering::Relaxed)
    }

    /// Neither cancelled nor ended.
    pub fn is_live(&self) -> bool {
        !self.is_cancelled() && !self.is_ended()
    }

    fn report(&self, reports: Reports) {
        self.report_received(0, reports);
    }

    fn report_received(&self, received: u64, reports: Reports) {
        // A cancelled attempt reports nothing more, as its task would not.
        if !self.is_live() || (received == 0 && reports.is_empty()) {
            return;
        }
        self.0.reports.send_now(received, reports);
    }

    fn finish(&self, last: Report) {
        self.report(Reports::one(last));
        self.0.ended.store(true, Ordering::Relaxed);
    }

    /// The server answers 200 with `text/event-stream`: the stream opens.
    pub fn open(&self) -> &Self {
        self.report(Reports::one(Report::Opened));
        self
    }

    /// The server sends these body bytes (any part of a stream: they need not end on an event
    /// boundary). They go through the real parser, limits and done sentinel included.
    pub fn send(&self, bytes: impl AsRef<[u8]>) -> &Self {
        if !self.is_live() {
            return self;
        }
        let chunk = bytes::Bytes::copy_from_slice(bytes.as_ref());
        let mut reports = Reports::new();
        let more = self
            .0
            .parser
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .feed(&chunk, &mut reports);
        self.report_received(chunk.len() as u64, reports);
        if !more {
            self.finish(Report::Done);
        }
        self
    }

    /// The server sends one event: `event: name` (left out when `name` is `"message"`, the
    /// default type), then a `data:` line per line of `data` (`\n`, `\r\n` or `\r` split it, as
    /// the parser would), then the blank line that dispatches it. Empty `data` is one empty
    /// `data:` line: the event arrives, with empty data.
    ///
    /// # Panics
    ///
    /// If `name` holds a line break: no server could send it as one event.
    pub fn event(&self, name: &str, data: &str) -> &Self {
        self.send(frame(name, None, data))
    }

    /// [`event`](Self::event) with an `id:` line: the source's [`LastEventId`] becomes `id`, and
    /// the next attempt sends it as `Last-Event-ID`.
    ///
    /// [`LastEventId`]: crate::source::LastEventId
    ///
    /// # Panics
    ///
    /// If `name` or `id` holds a line break.
    pub fn event_with_id(&self, name: &str, id: &str, data: &str) -> &Self {
        self.send(frame(name, Some(id), data))
    }

    /// The server sends one event whose data is `value` as JSON (on one line, as JSON text has
    /// no raw line break): what a source decoding `name` with
    /// [`with_json`](crate::source::EventSource::with_json) turns back into the value.
    ///
    /// # Panics
    ///
    /// If `value` does not serialize to JSON (a map with non-string keys), or `name` holds a
    /// line break.
    #[cfg(feature = "serde")]
    pub fn event_json(&self, name: &str, value: &impl serde::Serialize) -> &Self {
        let data = serde_json::to_string(value)
            .unwrap_or_else(|error| panic!("the {name:?} event's value is not JSON: {error}"));
        self.event(name, &data)
    }

    /// The server sends a comment line (`: text`), as servers do to keep a connection alive.
    ///
    /// # Panics
    ///
    /// If `text` holds a line break.
    pub fn comment(&self, text: &str) -> &Self {
        assert_one_line("comment", text);
        self.send(format!(":{text}\n"))
    }

    /// The server closes the stream ([`SseError::StreamEnded`]): a transient end.
    pub fn end_stream(&self) {
        let url = self.0.url.clone();
        self.finish(Report::Ended(SseError::StreamEnded { url }));
    }

    /// The server refuses with this status ([`SseError::Status`]).
    pub fn refuse(&self, status: u16) {
        self.refuse_with(status, None);
    }

    /// The server refuses with this status and a `Retry-After`.
    pub fn refuse_with(&self, status: u16, retry_after: Option<Duration>) {
        let url = self.0.url.clone();
        self.finish(Report::Ended(SseError::Status {
            url,
            status,
            body: String::new(),
            retry_after,
        }));
    }

    /// The attempt ends with this error.
    pub fn fail(&self, error: impl FnOnce(SourceUrl) -> SseError) {
        let error = error(self.0.url.clone());
        self.finish(Report::Ended(error));
    }
}

/// One event as a server writes it.
fn frame(name: &str, id: Option<&str>, data: &str) -> String {
    assert_one_line("event name", name);
    let mut frame = String::with_capacity(data.len() + name.len() + 16);
    if name != "message" {
        frame.push_str("event: ");
        frame.push_str(name);
        frame.push('\n');
    }
    if let Some(id) = id {
        assert_one_line("event id", id);
        frame.push_str("id: ");
        frame.push_str(id);
        frame.push('\n');
    }
    for line in data.split("\r\n").flat_map(|line| line.split(['\r', '\n'])) {
        frame.push_str("data: ");
        frame.push_str(line);
        frame.push('\n');
    }
    frame.push('\n');
    frame
}

fn assert_one_line(what: &str, text: &str) {
    assert!(
        !text.contains(['\r', '\n']),
        "{what} {text:?} holds a line break: a server cannot send it as one field"
    );
}
