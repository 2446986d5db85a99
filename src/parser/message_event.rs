use std::fmt;
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// The event type a message has when its block set no `event` field.
pub const DEFAULT_EVENT_TYPE: &str = "message";

/// One dispatched server-sent event: the WHATWG `MessageEvent`.
///
/// It carries what BestHTTP's `Message` carries: the event type (`Event`), the data (`Data`), the
/// last event ID as of this event (`Id`) and the `retry` value of its block (`Retry`).
///
/// The three strings share one allocation, data first, so a parsed event costs one allocation and
/// [`into_data`](Self::into_data) gives the data away without copying it.
#[derive(Clone)]
pub struct MessageEvent {
    /// Data, then the event type (empty for `message`), then the last event ID.
    text: String,
    data_end: usize,
    type_end: usize,
    retry: Option<Duration>,
}

impl MessageEvent {
    /// A `message`-typed event with this data, no ID and no retry.
    ///
    /// Parsers build these; the constructor exists for tests and for games that inject events.
    ///
    /// ```
    /// use bevy_eventsource::parser::MessageEvent;
    ///
    /// let event = MessageEvent::new("hello").with_event_type("greeting").with_last_event_id("7");
    /// assert_eq!((event.event_type(), event.data(), event.last_event_id()), ("greeting", "hello", "7"));
    /// ```
    #[must_use]
    pub fn new(data: impl Into<String>) -> Self {
        let text = data.into();
        let end = text.len();
        Self {
            text,
            data_end: end,
            type_end: end,
            retry: None,
        }
    }

    /// Builds an event from its parts; an empty `event_type` means `message`.
    pub(crate) fn from_parts(
        data: &str,
        event_type: &str,
        last_event_id: &str,
        retry: Option<Duration>,
    ) -> Self {
        let event_type = if event_type == DEFAULT_EVENT_TYPE {
            ""
        } else {
            event_type
        };
        let mut text = String::with_capacity(data.len() + event_type.len() + last_event_id.len());
        // Empty parts are skipped: an empty buffer's pointer is dangling, and `memcpy`'s masked
        // vector load from it costs a microcode assist on some CPUs.
        for part in [data, event_type, last_event_id] {
            if !part.is_empty() {
                text.push_str(part);
            }
        }
        Self::from_text(text, data.len(), data.len() + event_type.len(), retry)
    }

    /// An event over `text` = data ++ event type ++ last event ID, split at the two offsets,
    /// which must be character boundaries.
    pub(crate) fn from_text(
        text: String,
        data_end: usize,
        type_end: usize,
        retry: Option<Duration>,
    ) -> Self {
        debug_assert!(text.is_char_boundary(data_end) && text.is_char_boundary(type_end));
        Self {
            text,
            data_end,
            type_end,
            retry,
        }
    }

    /// Sets the event type; an empty type means `message`, as in the standard.
    #[must_use]
    pub fn with_event_type(self, event_type: &str) -> Self {
        Self::from_parts(self.data(), event_type, self.last_event_id(), self.retry)
    }

    /// Sets the last event ID carried by the event.
    #[must_use]
    pub fn with_last_event_id(self, id: &str) -> Self {
        Self::from_parts(self.data(), self.event_type(), id, self.retry)
    }

    /// Sets the reconnection time the event's block carried.
    #[must_use]
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The event type: the block's `event` field, or `"message"` when it had none.
    pub fn event_type(&self) -> &str {
        match &self.text[self.data_end..self.type_end] {
            "" => DEFAULT_EVENT_TYPE,
            named => named,
        }
    }

    /// The data: the block's `data` lines joined with `\n`.
    pub fn data(&self) -> &str {
        &self.text[..self.data_end]
    }

    /// Takes the data out without copying it.
    pub fn into_data(mut self) -> String {
        self.text.truncate(self.data_end);
        self.text
    }

    /// The last event ID string at the time this event was dispatched (empty if none was set).
    ///
    /// As in the standard, an event without an `id` field carries the ID of the latest earlier
    /// event that had one.
    pub fn last_event_id(&self) -> &str {
        &self.text[self.type_end..]
    }

    /// The reconnection time from a valid `retry` field in this event's block, if it had one.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }
}

impl fmt::Debug for MessageEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageEvent")
            .field("event_type", &self.event_type())
            .field("data", &self.data())
            .field("last_event_id", &self.last_event_id())
            .field("retry", &self.retry)
            .finish()
    }
}

impl PartialEq for MessageEvent {
    fn eq(&self, other: &Self) -> bool {
        self.data() == other.data()
            && self.event_type() == other.event_type()
            && self.last_event_id() == other.last_event_id()
            && self.retry == other.retry
    }
}

impl Eq for MessageEvent {}

impl Hash for MessageEvent {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (
            self.data(),
            self.event_type(),
            self.last_event_id(),
            self.retry,
        )
            .hash(state);
    }
}
