use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::time::Duration;

use bytestring::ByteString;

/// The event type a message has when its block set no `event` field.
pub const DEFAULT_EVENT_TYPE: &str = "message";

/// One dispatched server-sent event: the WHATWG `MessageEvent`.
///
/// It carries what BestHTTP's `Message` carries: the event type (`Event`), the data (`Data`), the
/// last event ID as of this event (`Id`) and the `retry` value of its block (`Retry`).
///
/// # Storage
///
/// An event whose fields lie in one chunk of the stream (nearly all of them) shares that chunk:
/// parsing it allocates nothing, and cloning it is a reference count. The other events own their
/// text. Either way the event is `'static` and `Send`. An event keeps the chunk it came from
/// alive (up to the size of one read, typically 8–64 KiB), so to keep many events for a long
/// time, keep what you parse out of them, or [`into_data`](Self::into_data), which copies.
#[derive(Clone)]
pub struct MessageEvent {
    /// Holds the data and the event type.
    text: ByteString,
    data: Range<usize>,
    /// Empty for `message`.
    event_type: Range<usize>,
    last_event_id: Id,
    retry: Option<Duration>,
}

/// The last event ID handed to [`MessageEvent::from_shared`].
pub(crate) enum EventId<'a> {
    /// A range of the event's text.
    Range(Range<usize>),
    /// A string that may or may not lie in the event's text.
    Shared(&'a ByteString),
}

/// The last event ID: a range of the event's text when it came in the same chunk (no second
/// reference count to take), else a string of its own.
#[derive(Clone)]
enum Id {
    Text(Range<usize>),
    Own(ByteString),
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
        let text = ByteString::from(data.into());
        let end = text.len();
        Self {
            text,
            data: 0..end,
            event_type: end..end,
            last_event_id: Id::Text(end..end),
            retry: None,
        }
    }

    /// An event with its own text; an empty `event_type` means `message`.
    pub(crate) fn from_parts(
        data: &str,
        event_type: &str,
        last_event_id: ByteString,
        retry: Option<Duration>,
    ) -> Self {
        let mut text = String::with_capacity(data.len() + event_type.len());
        // An empty part is skipped: an empty buffer's pointer is dangling, and `memcpy`'s masked
        // vector load from it costs a microcode assist on some CPUs.
        if !data.is_empty() {
            text.push_str(data);
        }
        Self::from_owned_data(text, event_type, last_event_id, retry)
    }

    /// [`from_parts`](Self::from_parts) for data the parser owns: the event type is appended to
    /// it and the buffer becomes the event's text without a copy (a 16 MiB event is not copied
    /// once more; a named event's type may have to grow the buffer, which for blocks that large
    /// glibc grows by remapping pages rather than copying).
    pub(crate) fn from_owned_data(
        mut data: String,
        event_type: &str,
        last_event_id: ByteString,
        retry: Option<Duration>,
    ) -> Self {
        let event_type = if event_type == DEFAULT_EVENT_TYPE {
            ""
        } else {
            event_type
        };
        let data_end = data.len();
        if !event_type.is_empty() {
            data.push_str(event_type);
        }
        Self {
            text: ByteString::from(data),
            data: 0..data_end,
            event_type: data_end..data_end + event_type.len(),
            last_event_id: Id::Own(last_event_id),
            retry,
        }
    }

    /// An event whose data and event type are `data` and `event_type`, ranges of `text` on
    /// character boundaries; an empty or `message` type means `message`.
    #[inline]
    pub(crate) fn from_shared(
        text: ByteString,
        data: Range<usize>,
        event_type: Range<usize>,
        last_event_id: EventId<'_>,
        retry: Option<Duration>,
    ) -> Self {
        debug_assert!(text.get(data.clone()).is_some() && text.get(event_type.clone()).is_some());
        // Bytes, not text: the range is known to be on character boundaries.
        let event_type =
            if text.as_bytes().get(event_type.clone()) == Some(DEFAULT_EVENT_TYPE.as_bytes()) {
                event_type.start..event_type.start
            } else {
                event_type
            };
        let last_event_id = match last_event_id {
            EventId::Range(range) => Id::Text(range),
            EventId::Shared(id) => {
                // Where the ID lies in `text`, if it does: address arithmetic, no dereference.
                let base = text.as_ptr() as usize;
                let at = id.as_ptr() as usize;
                if id.is_empty() {
                    Id::Text(0..0)
                } else if at >= base && at + id.len() <= base + text.len() {
                    Id::Text(at - base..at - base + id.len())
                } else {
                    Id::Own(id.clone())
                }
            }
        };
        Self {
            text,
            data,
            event_type,
            last_event_id,
            retry,
        }
    }

    /// Sets the event type; an empty type means `message`, as in the standard.
    #[must_use]
    pub fn with_event_type(self, event_type: &str) -> Self {
        let id = ByteString::from(self.last_event_id());
        Self::from_parts(self.data(), event_type, id, self.retry)
    }

    /// Sets the last event ID carried by the event.
    #[must_use]
    pub fn with_last_event_id(self, id: &str) -> Self {
        Self::from_parts(self.data(), self.event_type(), id.into(), self.retry)
    }

    /// Sets the reconnection time the event's block carried.
    #[must_use]
    pub fn with_retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The event type: the block's `event` field, or `"message"` when it had none.
    #[inline]
    pub fn event_type(&self) -> &str {
        match self.text.get(self.event_type.clone()).unwrap_or_default() {
            "" => DEFAULT_EVENT_TYPE,
            named => named,
        }
    }

    /// The data: the block's `data` lines joined with `\n`.
    #[inline]
    pub fn data(&self) -> &str {
        self.text.get(self.data.clone()).unwrap_or_default()
    }

    /// The data as a [`ByteString`] that shares this event's storage: no copy.
    pub fn data_shared(&self) -> ByteString {
        self.text.slice_ref(self.data())
    }

    /// Takes the data out as a `String`: without a copy when the event owns its text and no
    /// clone shares it, else by copying the data alone (never the chunk it shares).
    pub fn into_data(self) -> String {
        let owns_text = self.data.start == 0
            && self.text.len() == self.data.end + self.event_type.len()
            && self.text.as_bytes().is_unique();
        if owns_text {
            let mut data = String::from(self.text);
            data.truncate(self.data.end);
            data
        } else {
            self.data().to_owned()
        }
    }

    /// The last event ID string at the time this event was dispatched (empty if none was set).
    ///
    /// As in the standard, an event without an `id` field carries the ID of the latest earlier
    /// event that had one.
    #[inline]
    pub fn last_event_id(&self) -> &str {
        match &self.last_event_id {
            Id::Text(range) => self.text.get(range.clone()).unwrap_or_default(),
            Id::Own(id) => id,
        }
    }

    /// The reconnection time from a valid `retry` field in this event's block, if it had one.
    #[inline]
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
