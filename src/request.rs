//! The request an attempt sends, built from the [`EventSource`] component at each attempt.

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CACHE_CONTROL, COOKIE, HeaderMap, HeaderName, HeaderValue,
    PROXY_AUTHORIZATION,
};

use crate::error::{SourceUrl, SseError};
use crate::source::EventSource;

/// The header that resumes a stream.
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// Headers whose values are marked sensitive, so that HTTP layers never print them.
const SENSITIVE: [HeaderName; 3] = [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION];

/// Builds the request: the standard's headers (`Accept: text/event-stream`, `Cache-Control:
/// no-cache`, `Last-Event-ID` when there is one), then the source's own, which replace a default
/// of the same name. A last event ID that cannot be a header value (a server `id` with a control
/// byte) is left out with a warning; the stream goes on without it.
pub(crate) fn build(
    source: &EventSource,
    url: &SourceUrl,
    last_event_id: &str,
) -> Result<reqwest::Request, SseError> {
    let invalid = |reason: String| SseError::InvalidRequest {
        url: url.clone(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|error| invalid(format!("bad URL: {error}")))?;
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if !last_event_id.is_empty() {
        match HeaderValue::from_str(last_event_id) {
            Ok(value) => {
                headers.insert(LAST_EVENT_ID, value);
            }
            Err(_) => bevy::log::warn!(
                "the last event ID is not a valid header value; the request goes without it"
            ),
        }
    }
    // The game's headers replace the defaults of the same name; its own repeats are kept.
    let mut replaced = Vec::<HeaderName>::new();
    for (given, value) in source.headers() {
        let name = HeaderName::from_bytes(given.as_bytes())
            .map_err(|_| invalid(format!("bad header name {given:?}")))?;
        // The value is not echoed: it may be a secret.
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| invalid(format!("bad value for header {given:?}")))?;
        if SENSITIVE.contains(&name) {
            value.set_sensitive(true);
        }
        if replaced.contains(&name) {
            headers.append(name, value);
        } else {
            headers.insert(name.clone(), value);
            replaced.push(name);
        }
    }
    let mut request = reqwest::Request::new(source.method().clone(), parsed);
    *request.headers_mut() = headers;
    if let Some(body) = source.shared_body() {
        *request.body_mut() = Some(body.into());
    }
    Ok(request)
}
