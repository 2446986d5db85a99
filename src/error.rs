//! [`SseError`]: why a connection attempt failed or ended.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use crate::parser::ParseError;

/// A source's URL as errors carry it: [`Display`](fmt::Display) and [`Debug`] show it without
/// credentials and with its query replaced by `?…` (both often carry tokens, and errors end up
/// in logs); [`as_str`](Self::as_str) (or deref) gives the whole URL. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SourceUrl(Arc<str>);

impl SourceUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<Arc<str>>) -> Self {
        Self(url.into())
    }

    /// The whole URL, query and credentials included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for SourceUrl {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for SourceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact(&self.0))
    }
}

/// Why a connection attempt failed or ended. Carried by [`SseErrored`](crate::message::SseErrored).
///
/// Every variant keeps the URL ([`url`](Self::url)). The messages, and `Debug`, show it without its
/// query string and credentials (`https://host/path?…`), since those often carry tokens and the
/// messages end up in logs. Cheap to clone (the large parts are shared).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// The request could not be built: a bad URL, header name or header value.
    #[error("{url}: invalid request: {reason}")]
    InvalidRequest {
        /// The source's URL.
        url: SourceUrl,
        /// What was wrong.
        reason: String,
    },
    /// The game's [`SseClientBuilder`](crate::plugin::SseClientBuilder) could not build an HTTP
    /// client (`reqwest::ClientBuilder::build` failed: a bad certificate or proxy, say). The
    /// source closes: the next attempt would fail the same way.
    #[error("{url}: the HTTP client could not be built: {}", causes(source))]
    Client {
        /// The source's URL.
        url: SourceUrl,
        /// The HTTP client builder's error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The plugin could not start its IO thread or the thread's tokio runtime: the system
    /// refused a thread, or a file descriptor for the runtime's event queue (`ulimit -n`
    /// reached). The source reconnects, and the next attempt tries again to start it.
    #[error("{url}: the IO thread could not be started: {source}")]
    IoThread {
        /// The source's URL.
        url: SourceUrl,
        /// The system's error.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The connection failed or broke: DNS, TCP, connect timeout, HTTP framing. The source
    /// reconnects. The message includes every cause, e.g. `connection refused`.
    #[error("{url}: connection failed: {}", causes(source))]
    Transport {
        /// The source's URL.
        url: SourceUrl,
        /// The HTTP client's error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The TLS handshake failed: most often a certificate that is not trusted, has expired or
    /// does not name the host. Trying again cannot help, so the source closes (the standard lets
    /// a client fail the connection when reconnecting is futile). Trust a private root with a
    /// custom [`SseClient`](crate::plugin::SseClient).
    #[error("{url}: TLS failed: {}", causes(source))]
    Tls {
        /// The source's URL.
        url: SourceUrl,
        /// The HTTP client's error; its sources name the TLS failure.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// Following redirects failed: a loop, more than the client allows (10 by default), or a
    /// redirect the client's policy refused. The source closes: trying again would loop again.
    #[error("{url}: redirect failed: {}", causes(source))]
    Redirect {
        /// The source's URL.
        url: SourceUrl,
        /// The HTTP client's error.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The response headers did not arrive within the source's response timeout. The source
    /// reconnects.
    #[error("{url}: no response within {timeout:?}")]
    ResponseTimeout {
        /// The source's URL.
        url: SourceUrl,
        /// The timeout in force.
        timeout: Duration,
    },
    /// The server answered with a status other than 200 OK. As the standard says, the source
    /// closes and does not reconnect, unless its [`RetryPolicy`](crate::retry::RetryPolicy)
    /// lists the status.
    #[error("{url}: server answered {status}{}", body_suffix(.body))]
    Status {
        /// The source's URL.
        url: SourceUrl,
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
        url: SourceUrl,
        /// The Content-Type header, if there was one.
        content_type: Option<String>,
    },
    /// The stream broke a [`ParserLimits`](crate::parser::ParserLimits) bound: the line or event
    /// was dropped and the stream goes on (the source stays open, nothing reconnects).
    #[error("{url}: {source}")]
    Parse {
        /// The source's URL.
        url: SourceUrl,
        /// What the parser found.
        #[source]
        source: ParseError,
    },
    /// An event whose name the source decodes as JSON (`with_json`, feature `serde`) did not
    /// decode into its type. The raw message was still delivered; the stream goes on. The text
    /// says where and what kind of mismatch, never a part of the payload (serde's own messages
    /// quote values, and payloads may be private).
    #[error("{url}: event {event:?} is not a {type_name}: {problem}")]
    Decode {
        /// The source's URL.
        url: SourceUrl,
        /// The event's name.
        event: String,
        /// The type it was to decode into.
        type_name: &'static str,
        /// The kind of mismatch and its place (line and column in the data).
        problem: String,
    },
    /// The server closed the stream. The source reconnects, as the standard says.
    #[error("{url}: the server ended the stream")]
    StreamEnded {
        /// The source's URL.
        url: SourceUrl,
    },
    /// No byte arrived (comments count) within the source's read timeout: the connection is
    /// presumed dead. The source reconnects.
    #[error("{url}: no data for {timeout:?}")]
    ReadTimeout {
        /// The source's URL.
        url: SourceUrl,
        /// The timeout in force.
        timeout: Duration,
    },
    /// The [`RetryPolicy`](crate::retry::RetryPolicy)'s maximum of consecutive failed attempts
    /// was reached: the source closed.
    #[error("{url}: gave up after {attempts} failed attempts in a row")]
    GaveUp {
        /// The source's URL.
        url: SourceUrl,
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

/// Whether the error or one of its causes is a TLS failure that another attempt would meet
/// again: a certificate or handshake failure. A broken record (a decrypt error, a malformed
/// message) is a broken connection instead, even when it shows while the response head is
/// read. An `io::Error` that wraps another error is looked into: its `source()` skips the
/// wrapped error.
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(cause) = next {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_)
                    | rustls::Error::NoCertificatesPresented
                    | rustls::Error::UnsupportedNameType
                    | rustls::Error::PeerIncompatible(_)
                    | rustls::Error::AlertReceived(_)
                    | rustls::Error::InvalidCertRevocationList(_)
                    | rustls::Error::InappropriateHandshakeMessage { .. }
                    | rustls::Error::HandshakeNotComplete
                    | rustls::Error::NoApplicationProtocol
                    | rustls::Error::InvalidEncryptedClientHello(_)
            );
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

    /// Classifies an error of the HTTP client while connecting: [`Redirect`](Self::Redirect),
    /// [`Tls`](Self::Tls) or [`Transport`](Self::Transport).
    pub(crate) fn from_connect(url: SourceUrl, error: reqwest::Error) -> Self {
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

    /// Classifies an error of the HTTP client on an open stream: always
    /// [`Transport`](Self::Transport), so the source reconnects. A TLS error there is a broken
    /// connection, not a certificate the next attempt would meet again.
    pub(crate) fn from_stream(url: SourceUrl, error: reqwest::Error) -> Self {
        Self::Transport {
            url,
            source: Arc::new(error.without_url()),
        }
    }

    /// The URL of the source the error belongs to.
    pub fn url(&self) -> &str {
        self.source_url().as_str()
    }

    /// [`url`](Self::url), as the error carries it (redacted when shown).
    pub fn source_url(&self) -> &SourceUrl {
        match self {
            Self::InvalidRequest { url, .. }
            | Self::Client { url, .. }
            | Self::IoThread { url, .. }
            | Self::Transport { url, .. }
            | Self::Tls { url, .. }
            | Self::Redirect { url, .. }
            | Self::ResponseTimeout { url, .. }
            | Self::Status { url, .. }
            | Self::ContentType { url, .. }
            | Self::Parse { url, .. }
            | Self::Decode { url, .. }
            | Self::StreamEnded { url }
            | Self::ReadTimeout { url, .. }
            | Self::GaveUp { url, .. } => url,
        }
    }

    /// Whether the source stops for good (`true`) rather than reconnect: a refused status or a
    /// wrong Content-Type (as the standard says), or a failure that another attempt cannot fix:
    /// a request that can never be sent, a client that cannot be built, a TLS failure, a
    /// redirect loop, the retry limit. (A
    /// [`RetryPolicy`](crate::retry::RetryPolicy) may still retry some statuses.)
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::InvalidRequest { .. }
                | Self::Client { .. }
                | Self::Tls { .. }
                | Self::Redirect { .. }
                | Self::Status { .. }
                | Self::ContentType { .. }
                | Self::GaveUp { .. }
        )
    }
}
