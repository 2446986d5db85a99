//! [`SseError`]: why a connection attempt failed or ended.

use std::sync::Arc;
use std::time::Duration;

use crate::parser::ParseError;

/// Why a connection attempt failed or ended. Carried by [`SseErrored`](crate::message::SseErrored).
///
/// Every variant keeps the URL ([`url`](Self::url)). The messages show it without its query string
/// and credentials (`https://host/path?…`), since those often carry tokens and the messages end up
/// in logs. Cheap to clone (the large parts are shared).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// The request could not be built: a bad URL, header name or header value.
    #[error("{}: invalid request: {reason}", redact(url))]
    InvalidRequest {
        /// The source's URL.
        url: Arc<str>,
        /// What was wrong.
        reason: String,
    },
    /// The connection failed or broke: DNS, TCP, connect timeout, HTTP framing. The source
    /// reconnects. The message includes every cause, e.g. `connection refused`.
    #[error("{}: connection failed: {}", redact(url), causes(source))]
    Transport {
        /// The source's URL.
        url: Arc<str>,
        /// The HTTP client's error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The TLS handshake failed: most often a certificate that is not trusted, has expired or
    /// does not name the host. Trying again cannot help, so the source closes (the standard lets
    /// a client fail the connection when reconnecting is futile). Trust a private root with a
    /// custom [`SseClient`](crate::plugin::SseClient).
    #[error("{}: TLS failed: {}", redact(url), causes(source))]
    Tls {
        /// The source's URL.
        url: Arc<str>,
        /// The HTTP client's error; its sources name the TLS failure.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// Following redirects failed: a loop, more than the client allows (10 by default), or a
    /// redirect the client's policy refused. The source closes: trying again would loop again.
    #[error("{}: redirect failed: {}", redact(url), causes(source))]
    Redirect {
        /// The source's URL.
        url: Arc<str>,
        /// The HTTP client's error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// No response headers arrived within the source's response timeout.
    #[error("{}: no response within {timeout_ms} ms", redact(url))]
    Timeout {
        /// The source's URL.
        url: Arc<str>,
        /// The timeout in force.
        timeout_ms: u128,
    },
    /// The server answered with a status other than 200 OK. As the standard says, the source
    /// closes and does not reconnect, unless its [`RetryPolicy`](crate::retry::RetryPolicy)
    /// lists the status.
    #[error("{}: server answered {status}{}", redact(url), body_suffix(.body))]
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
    #[error("{}: Content-Type is {}, not text/event-stream", redact(url), content_type.as_deref().unwrap_or("missing"))]
    ContentType {
        /// The source's URL.
        url: Arc<str>,
        /// The Content-Type header, if there was one.
        content_type: Option<String>,
    },
    /// The stream broke a [`ParserLimits`](crate::parser::ParserLimits) bound.
    #[error("{}: {source}", redact(url))]
    Parse {
        /// The source's URL.
        url: Arc<str>,
        /// What the parser found.
        #[source]
        source: ParseError,
    },
    /// The server closed the stream. The source reconnects, as the standard says.
    #[error("{}: the server ended the stream", redact(url))]
    StreamEnded {
        /// The source's URL.
        url: Arc<str>,
    },
    /// No byte arrived (comments count) within the source's read timeout: the connection is
    /// presumed dead. The source reconnects.
    #[error("{}: no data for {timeout_ms} ms", redact(url))]
    ReadTimeout {
        /// The source's URL.
        url: Arc<str>,
        /// The timeout in force.
        timeout_ms: u128,
    },
    /// The [`RetryPolicy`](crate::retry::RetryPolicy)'s maximum of consecutive failed attempts
    /// was reached: the source closed.
    #[error("{}: gave up after {attempts} failed attempts in a row", redact(url))]
    GaveUp {
        /// The source's URL.
        url: Arc<str>,
        /// How many attempts failed in a row.
        attempts: u32,
    },
}

/// The URL as messages and logs show it: without credentials, and with its query replaced by
/// `?…`, since both often carry secrets.
pub(crate) fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let had_query = parsed.query().is_some();
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            let mut shown = parsed.to_string();
            if had_query {
                shown.push_str("?…");
            }
            shown
        }
        // Not a URL: show only what cannot be a query or credentials.
        Err(_) => url
            .split(['?', '#', '@'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// An error and all its causes, `: `-separated (a cause whose text the previous one already
/// ends with is left out).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let line = cause.to_string();
        if !text.ends_with(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        next = cause.source();
    }
    text
}

/// Whether the error or one of its causes is a TLS failure. An `io::Error` that wraps another
/// error is looked into: its `source()` skips the wrapped error.
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(cause) = next {
        if cause.is::<rustls::Error>() {
            return true;
        }
        next = match cause.downcast_ref::<std::io::Error>() {
            Some(io) if io.get_ref().is_some() => io.get_ref().map(|inner| inner as _),
            _ => cause.source(),
        };
    }
    false
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

    /// Classifies an error of the HTTP client: [`Redirect`](Self::Redirect),
    /// [`Tls`](Self::Tls) or [`Transport`](Self::Transport).
    pub(crate) fn from_client(url: Arc<str>, error: reqwest::Error) -> Self {
        // The URL is ours to show (redacted); reqwest's own would repeat it in full.
        let error = error.without_url();
        if error.is_redirect() {
            Self::Redirect {
                url,
                source: Arc::new(error),
            }
        } else if is_tls(&error) {
            Self::Tls {
                url,
                source: Arc::new(error),
            }
        } else {
            Self::Transport {
                url,
                source: Arc::new(error),
            }
        }
    }

    /// The URL of the source the error belongs to.
    pub fn url(&self) -> &str {
        match self {
            Self::InvalidRequest { url, .. }
            | Self::Transport { url, .. }
            | Self::Tls { url, .. }
            | Self::Redirect { url, .. }
            | Self::Timeout { url, .. }
            | Self::Status { url, .. }
            | Self::ContentType { url, .. }
            | Self::Parse { url, .. }
            | Self::StreamEnded { url }
            | Self::ReadTimeout { url, .. }
            | Self::GaveUp { url, .. } => url,
        }
    }

    /// Whether the source stops for good (`true`) rather than reconnect: a refused status or a
    /// wrong Content-Type (as the standard says), or a failure that another attempt cannot fix:
    /// a request that can never be sent, a TLS failure, a redirect loop, the retry limit. (A
    /// [`RetryPolicy`](crate::retry::RetryPolicy) may still retry some statuses.)
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::InvalidRequest { .. }
                | Self::Tls { .. }
                | Self::Redirect { .. }
                | Self::Status { .. }
                | Self::ContentType { .. }
                | Self::GaveUp { .. }
        )
    }
}
