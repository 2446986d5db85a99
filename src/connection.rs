//! The IO side: one task per connection attempt, on the app's IO thread (see `io.rs`).
//!
//! The task sends the request, checks the response, parses the body and sends what it finds to
//! the ECS in batches (the body chunks that are ready, together) over the shared bounded
//! channel. When the attempt ends, it sends why and exits; the ECS side decides what comes next.

use std::sync::Arc;
use std::time::Duration;

use bevy::prelude::Entity;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};

use crate::error::SseError;
use crate::parser::{MessageEvent, ParseError, Parsed, ParserLimits, SseParser};

/// One thing an attempt reports.
#[derive(Debug)]
pub(crate) enum Frame {
    Opened,
    Message(MessageEvent),
    Comment(String),
    Retry(Duration),
    LastEventId(String),
    /// The attempt failed or the stream ended; always the last frame of an attempt...
    Ended(SseError),
    /// ...or the stream sent the source's done sentinel: close, no error.
    Done,
}

/// Frames of one attempt of one source, in stream order.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) entity: Entity,
    pub(crate) attempt: u64,
    pub(crate) frames: Vec<Frame>,
}

/// Everything an attempt needs, copied out of the ECS when it starts.
pub(crate) struct AttemptRequest {
    pub(crate) client: reqwest::Client,
    pub(crate) url: Arc<str>,
    pub(crate) method: Method,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) response_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) done_sentinel: Option<String>,
    pub(crate) last_event_id: String,
    pub(crate) limits: ParserLimits,
}

/// Runs one attempt to its end and reports every step to `tx`.
pub(crate) async fn run_attempt(
    request: AttemptRequest,
    entity: Entity,
    attempt: u64,
    tx: async_channel::Sender<Batch>,
) {
    // Borrows the sender: no clone per batch.
    let send = |frames| {
        tx.send(Batch {
            entity,
            attempt,
            frames,
        })
    };
    let last = match stream(request, &send).await {
        Ok(End::Done) => Frame::Done,
        Ok(End::Failed(ended)) | Err(ended) => {
            bevy::log::debug!(error = %ended, "attempt ended");
            Frame::Ended(ended)
        }
    };
    let _ = send(vec![last]).await;
}

/// How an open stream ended.
enum End {
    Failed(SseError),
    /// The done sentinel arrived.
    Done,
}

/// Connects and streams; returns how the stream ended (`Err` for failures before it opened).
async fn stream<F, Fut>(request: AttemptRequest, send: &F) -> Result<End, SseError>
where
    F: Fn(Vec<Frame>) -> Fut,
    Fut: Future<Output = Result<(), async_channel::SendError<Batch>>>,
{
    let url = request.url.clone();
    let mut response = connect(&request).await?;
    if response.status() != StatusCode::OK {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| parse_retry_after(value.as_bytes()));
        let body = body_prefix(&mut response).await;
        return Err(SseError::Status {
            url,
            status,
            body,
            retry_after,
        });
    }
    let content_type = response.headers().get(CONTENT_TYPE);
    if !content_type.is_some_and(is_event_stream) {
        let content_type =
            content_type.map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        return Err(SseError::ContentType { url, content_type });
    }
    bevy::log::debug!("stream open");
    if send(vec![Frame::Opened]).await.is_err() {
        return Ok(End::Failed(SseError::StreamEnded { url }));
    }

    let mut parser =
        SseParser::with_limits(request.limits).with_last_event_id(&request.last_event_id);
    let sentinel = request.done_sentinel.as_deref();
    loop {
        let next = response.chunk();
        let read = match request.read_timeout {
            Some(timeout) => match tokio::time::timeout(timeout, next).await {
                Ok(read) => read,
                Err(_) => {
                    let timeout_ms = timeout.as_millis();
                    return Ok(End::Failed(SseError::ReadTimeout { url, timeout_ms }));
                }
            },
            None => next.await,
        };
        let chunk = match read {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(End::Failed(SseError::StreamEnded { url })),
            Err(source) => return Ok(End::Failed(SseError::from_client(url, source))),
        };
        let mut frames = Vec::new();
        let mut bytes = chunk.len();
        let mut outcome = feed(&mut parser, &chunk, sentinel, &mut frames);
        // Chunks that are already here join the same batch: servers often send each event as
        // its own HTTP chunk (axum does), and one batch per event would cost a channel send and
        // an ECS-side dequeue each. Only what is ready is taken; nothing waits for more.
        let mut ended = None;
        while matches!(outcome, Fed::More)
            && frames.len() < COALESCE_FRAMES
            && bytes < COALESCE_BYTES
        {
            match futures_lite::future::poll_once(response.chunk()).await {
                Some(Ok(Some(chunk))) => {
                    bytes += chunk.len();
                    outcome = feed(&mut parser, &chunk, sentinel, &mut frames);
                }
                Some(Ok(None)) => {
                    ended = Some(SseError::StreamEnded { url: url.clone() });
                    break;
                }
                Some(Err(source)) => {
                    ended = Some(SseError::from_client(url.clone(), source));
                    break;
                }
                None => break,
            }
        }
        if !frames.is_empty() && send(frames).await.is_err() {
            // The ECS side is gone (app exit): stop quietly.
            return Ok(End::Failed(SseError::StreamEnded { url }));
        }
        match outcome {
            Fed::More => {}
            Fed::Done => return Ok(End::Done),
            Fed::Failed(source) => return Ok(End::Failed(SseError::Parse { url, source })),
        }
        if let Some(error) = ended {
            return Ok(End::Failed(error));
        }
    }
}

/// At most this many frames, or this many body bytes, go into one coalesced batch.
const COALESCE_FRAMES: usize = 4096;
const COALESCE_BYTES: usize = 256 * 1024;

/// What feeding one chunk led to.
enum Fed {
    /// Keep reading.
    More,
    /// The done sentinel arrived; nothing after it was kept.
    Done,
    /// The chunk broke a parser limit.
    Failed(ParseError),
}

/// Parses one chunk into `frames`, stopping at the done sentinel.
fn feed(
    parser: &mut SseParser,
    chunk: &bytes::Bytes,
    sentinel: Option<&str>,
    frames: &mut Vec<Frame>,
) -> Fed {
    let mut done = false;
    let fed = parser.feed_bytes(chunk, |item| {
        if done {
            // Nothing after the sentinel is delivered.
            return;
        }
        frames.push(match item {
            Parsed::Message(event) if sentinel == Some(event.data()) => {
                done = true;
                return;
            }
            Parsed::Message(event) => Frame::Message(event),
            Parsed::Comment(text) => Frame::Comment(text.into_owned()),
            Parsed::Retry(retry) => Frame::Retry(retry),
            Parsed::LastEventId(id) => Frame::LastEventId(id.into_owned()),
        });
    });
    match (done, fed) {
        (true, _) => Fed::Done,
        (false, Err(error)) => Fed::Failed(error),
        (false, Ok(())) => Fed::More,
    }
}

/// `Retry-After`: delay seconds, or an HTTP date (a date in the past means now).
fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(
        date.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// Sends the request and waits for the response headers, within the response timeout.
async fn connect(request: &AttemptRequest) -> Result<reqwest::Response, SseError> {
    let url = &request.url;
    let invalid = |reason: String| SseError::InvalidRequest {
        url: url.clone(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|error| invalid(format!("bad URL: {error}")))?;
    let mut builder = request
        .client
        .request(request.method.clone(), parsed)
        .header(ACCEPT, "text/event-stream")
        .header(CACHE_CONTROL, "no-cache");
    if !request.last_event_id.is_empty() {
        let value = HeaderValue::from_str(&request.last_event_id)
            .map_err(|_| invalid("the last event ID is not a valid header value".into()))?;
        builder = builder.header("Last-Event-ID", value);
    }
    for (name, value) in &request.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("bad header name {name:?}")))?;
        // The value is not echoed: it may be a secret.
        let value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("bad value for header {name:?}")))?;
        builder = builder.header(header, value);
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let send = builder.send();
    let response = match request.response_timeout {
        Some(timeout) => {
            tokio::time::timeout(timeout, send)
                .await
                .map_err(|_| SseError::Timeout {
                    url: url.clone(),
                    timeout_ms: timeout.as_millis(),
                })?
        }
        None => send.await,
    };
    response.map_err(|source| SseError::from_client(url.clone(), source))
}

/// `text/event-stream`, with any parameters, any case.
fn is_event_stream(value: &HeaderValue) -> bool {
    let essence = value
        .as_bytes()
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"text/event-stream")
}

/// The first [`SseError::BODY_PREFIX`] bytes of a refused response, for the error message.
async fn body_prefix(response: &mut reqwest::Response) -> String {
    let mut prefix = Vec::new();
    while prefix.len() < SseError::BODY_PREFIX {
        match response.chunk().await {
            Ok(Some(chunk)) => prefix.extend_from_slice(&chunk),
            _ => break,
        }
    }
    prefix.truncate(SseError::BODY_PREFIX);
    String::from_utf8_lossy(&prefix).into_owned()
}
