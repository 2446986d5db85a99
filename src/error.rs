//! [`SseError`]: why a connection attempt failed or ended.

use std::sync::Arc;
use std::time::Duration;

use crate::parser::ParseError;

/// Why a connection attempt failed or ended. Carried by [`SseErrored`](crate::message::SseErrored).
///
/// Every variant names the URL. Cheap to clone (the large parts are shared).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// The request could not be built: a bad URL, header name or header value.
    #[error("{url}: invalid request: {reason}")]
    InvalidRequest {
        /// The source's URL.
        url: Arc<str>,
        /// What was wrong.
        reason: String,
    },
    /// The connection failed or broke: DNS, TCP, TLS, HTTP framing, a redirect loop.
    #[error("{url}: connection failed: {source}")]
    Transport {
        /// The source's URL.
        url: Arc<str>,
        /// The HTTP client's error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// No response headers arrived within the source's response timeout.
    #[error("{url}: no response within {timeout_ms} ms")]
    Timeout {
        /// The source's URL.
        url: Arc<str>,
        /// The timeout in force.
        timeout_ms: u128,
    },
    /// The server answered with a status other than 200 OK. As the standard says, the source
    /// closes and does not reconnect, unless its [`RetryPolicy`](crate::retry::RetryPolicy)
    /// lists the status.
    #[error("{url}: server answered {status}{}", body_suffix(.body))]
    Status {
        /// The source's URL.
        url: Arc<str>,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (at most [`SseError::BODY_PREFIX`] bytes), lossily
        /// decoded.
        body: String,
        /// The `Retry-After` header (seconds or an HTTP date), if the server sent one.
        retry_after: Option<Duration>,
    },
    /// The response was not `text/event-stream`. The source closes and does not reconnect.
    #[error("{url}: Content-Type is {}, not text/event-stream", content_type.as_deref().unwrap_or("missing"))]
    ContentType {
        /// The source's URL.
        url: Arc<str>,
        /// The Content-Type header, if there was one.
        content_type: Option<String>,
    },
    /// The stream broke a [`ParserLimits`](crate::parser::ParserLimits) bound.
    #[error("{url}: {source}")]
    Parse {
        /// The source's URL.
        url: Arc<str>,
        /// What the parser found.
        #[source]
        source: ParseError,
    },
    /// The server closed the stream. The source reconnects, as the standard says.
    #[error("{url}: the server ended the stream")]
    StreamEnded {
        /// The source's URL.
        url: Arc<str>,
    },
    /// No byte arrived (comments count) within the source's read timeout: the connection is
    /// presumed dead. The source reconnects.
    #[error("{url}: no data for {timeout_ms} ms")]
    ReadTimeout {
        /// The source's URL.
        url: Arc<str>,
        /// The timeout in force.
        timeout_ms: u128,
    },
    /// The [`RetryPolicy`](crate::retry::RetryPolicy)'s maximum of consecutive failed attempts
    /// was reached: the source closed.
    #[error("{url}: gave up after {attempts} failed attempts in a row")]
    GaveUp {
        /// The source's URL.
        url: Arc<str>,
        /// How many attempts failed in a row.
        attempts: u32,
    },
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

impl SseError {
    /// How many bytes of a refused response's body [`SseError::Status`] keeps.
    pub const BODY_PREFIX: usize = 512;

    /// The URL of the source the error belongs to.
    pub fn url(&self) -> &str {
        match self {
            Self::InvalidRequest { url, .. }
            | Self::Transport { url, .. }
            | Self::Timeout { url, .. }
            | Self::Status { url, .. }
            | Self::ContentType { url, .. }
            | Self::Parse { url, .. }
            | Self::StreamEnded { url }
            | Self::ReadTimeout { url, .. }
            | Self::GaveUp { url, .. } => url,
        }
    }

    /// Whether the standard says to stop for good (`true`) rather than reconnect: a refused
    /// status, a wrong Content-Type, or a request that can never be sent. (A
    /// [`RetryPolicy`](crate::retry::RetryPolicy) may still retry some statuses.)
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::InvalidRequest { .. }
                | Self::Status { .. }
                | Self::ContentType { .. }
                | Self::GaveUp { .. }
        )
    }
}
