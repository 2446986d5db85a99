use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Range;
use std::time::Duration;

use arrayvec::ArrayString;
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
/// A short event (a game's tick, an LLM token) holds its text itself, in its inline form:
/// parsing it allocates nothing and shares nothing, cloning it copies its 112 bytes, and
/// dropping it gives nothing back to the thread that parsed it. The parser makes that form when
/// the stretch of the stream from the first to the last byte of the event's data, event type
/// and ID (field names between them included), plus an ID that came earlier, takes at most 76
/// bytes; an event made of parts (split across chunks, or made with [`new`](Self::new)) when
/// they take 76 bytes together. A larger event whose fields lie in one chunk of the stream
/// shares that chunk: parsing it allocates nothing, and cloning it is a reference count; it
/// keeps the chunk alive (up to the size of one read, typically 8–64 KiB), so to keep many of
/// them for a long time, keep what you parse out of them, or [`into_data`](Self::into_data),
/// which copies. The other events own their text. Either way the event is `'static` and
/// `Send`, and reads the same.
#[derive(Clone)]
pub struct MessageEvent {
    text: Text,
    retry: Option<Duration>,
}

/// Events whose text takes at most this many bytes hold it themselves. 76 is the most that
/// leaves [`MessageEvent`] at 112 bytes, the size of the shared form.
const INLINE: usize = 76;

/// Where an event's data, event type and last event ID are.
#[derive(Clone)]
enum Text {
    /// Spans of a text in the event itself: no reference count to take when it is made, or to
    /// give back, maybe on another thread, when it is dropped.
    Inline {
        text: ArrayString<INLINE>,
        data: Span,
        /// Empty for `message`.
        event_type: Span,
        last_event_id: Span,
    },
    /// Ranges of a text that may be shared.
    Shared {
        /// Holds the data and the event type.
        text: ByteString,
        data: Range<usize>,
        /// Empty for `message`.
        event_type: Range<usize>,
        last_event_id: Id,
    },
}

/// A range of an inline text.
#[derive(Clone, Copy, Default)]
struct Span {
    start: u8,
    end: u8,
}

impl Span {
    /// `range` less `from`, which fits: both ends are within [`INLINE`] bytes of `from`.
    fn within(range: &Range<usize>, from: usize) -> Self {
        Self {
            start: (range.start - from) as u8,
            end: (range.end - from) as u8,
        }
    }

    fn of(self, text: &str) -> &str {
        text.get(usize::from(self.start)..usize::from(self.end))
            .unwrap_or_default()
    }
}

/// How the parser makes an event's inline form: it copies `text[from..to]`, the stretch that
/// holds the event's data, its event type and its last event ID if it lies there (one copy,
/// field names and all, costs less than one per part), then the last event ID if it lies
/// elsewhere.
pub(crate) struct InlinePlan {
    from: usize,
    to: usize,
    data: Span,
    event_type: Span,
    last_event_id: Span,
}

impl InlinePlan {
    /// The plan for an event whose data and event type (empty or `message` for `message`) are
    /// ranges of `text` on character boundaries, if its inline form fits.
    #[inline]
    pub(crate) fn new(
        text: &str,
        data: &Range<usize>,
        event_type: &Range<usize>,
        last_event_id: &EventId<'_>,
    ) -> Option<Self> {
        let named = names_a_type(text, event_type);
        let (mut from, mut to) = (data.start, data.end);
        if named {
            from = from.min(event_type.start);
            to = to.max(event_type.end);
        }
        let id_elsewhere = match last_event_id {
            EventId::Range(range) if !range.is_empty() => {
                from = from.min(range.start);
                to = to.max(range.end);
                0
            }
            EventId::Range(_) => 0,
            EventId::Shared(id) => id.len(),
        };
        if to - from + id_elsewhere > INLINE {
            return None;
        }
        let last_event_id = match last_event_id {
            EventId::Range(range) if !range.is_empty() => Span::within(range, from),
            _ => Span::within(&(to..to + id_elsewhere), from),
        };
        Some(Self {
            from,
            to,
            data: Span::within(data, from),
            event_type: if named {
                Span::within(event_type, from)
            } else {
                Span::within(&(data.start..data.start), from)
            },
            last_event_id,
        })
    }

    /// Appends the event's text to `inline`: the stretch, then the last event ID if it lies
    /// elsewhere. Both fit: the plan measured them.
    #[inline(always)]
    fn copy(&self, text: &str, last_event_id: &EventId<'_>, inline: &mut ArrayString<INLINE>) {
        let _fits = inline.try_push_str(text.get(self.from..self.to).unwrap_or_default());
        if let EventId::Shared(id) = last_event_id
            && !id.is_empty()
        {
            let _fits = inline.try_push_str(id);
        }
    }
}

/// The last event ID handed to [`MessageEvent::from_shared`].
pub(crate) enum EventId<'a> {
    /// A range of the event's text.
    Range(Range<usize>),
    /// A string that may or may not lie in the event's text.
    Shared(&'a ByteString),
}

/// The last event ID of a shared text: a range of the text when it came in the same chunk (no
/// second reference count to take), else a string of its own.
#[derive(Clone)]
enum Id {
    Text(Range<usize>),
    Own(ByteString),
}

/// Whether `text[range]` names an event type the event keeps: neither empty nor `message`.
/// Bytes, not text: the range is on character boundaries.
fn names_a_type(text: &str, range: &Range<usize>) -> bool {
    text.as_bytes()
        .get(range.clone())
        .is_some_and(|name| !name.is_empty() && name != DEFAULT_EVENT_TYPE.as_bytes())
}

/// `event_type` as the event keeps it: empty for `message`.
fn named(event_type: &str) -> &str {
    if event_type == DEFAULT_EVENT_TYPE {
        ""
    } else {
        event_type
    }
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
        Self::from_owned_data(data.into(), "", ByteString::new(), None)
    }

    /// The event in its inline form, if its text fits: its parts one after the other.
    #[inline]
    pub(crate) fn inline(
        data: &str,
        event_type: &str,
        last_event_id: &str,
        retry: Option<Duration>,
    ) -> Option<Self> {
        let event_type = named(event_type);
        let type_end = data.len() + event_type.len();
        if type_end + last_event_id.len() > INLINE {
            return None;
        }
        let mut text = ArrayString::new();
        // Empty parts are skipped: an empty string's pointer may be dangling, and a masked
        // vector load from it costs a microcode assist on some CPUs.
        for part in [data, event_type, last_event_id] {
            if !part.is_empty() {
                text.try_push_str(part).ok()?;
            }
        }
        Some(Self {
            text: Text::Inline {
                data: Span::within(&(0..data.len()), 0),
                event_type: Span::within(&(data.len()..type_end), 0),
                last_event_id: Span::within(&(type_end..text.len()), 0),
                text,
            },
            retry,
        })
    }

    /// An empty `message` in its inline form: a place for [`fill_planned`](Self::fill_planned).
    #[inline(always)]
    pub(crate) const fn empty() -> Self {
        Self {
            text: Text::Inline {
                text: ArrayString::new_const(),
                data: Span { start: 0, end: 0 },
                event_type: Span { start: 0, end: 0 },
                last_event_id: Span { start: 0, end: 0 },
            },
            retry: None,
        }
    }

    /// The inline form the parser makes by `plan`, of `text`.
    ///
    /// The text is copied into the event where it is built, not into a string then moved into
    /// it: a move reads the bytes back while the copy's stores are still in flight, a stall
    /// that cost more than the reference count the inline form saves.
    #[inline(always)]
    pub(crate) fn inline_planned(
        text: &str,
        plan: &InlinePlan,
        last_event_id: &EventId<'_>,
        retry: Option<Duration>,
    ) -> Self {
        let mut event = Self {
            text: Text::Inline {
                text: ArrayString::new(),
                data: plan.data,
                event_type: plan.event_type,
                last_event_id: plan.last_event_id,
            },
            retry,
        };
        if let Text::Inline { text: inline, .. } = &mut event.text {
            plan.copy(text, last_event_id, inline);
        }
        event
    }

    /// Makes this event [`inline_planned`](Self::inline_planned)'s, where it is: a sink that
    /// keeps events in a buffer has the parser build each one there (see
    /// [`Sink::place`](super::Sink::place)), in a place made by [`empty`](Self::empty).
    #[inline(always)]
    pub(crate) fn fill_planned(
        &mut self,
        text: &str,
        plan: &InlinePlan,
        last_event_id: &EventId<'_>,
        retry: Option<Duration>,
    ) {
        let Text::Inline {
            text: inline,
            data,
            event_type,
            last_event_id: id_span,
        } = &mut self.text
        else {
            *self = Self::inline_planned(text, plan, last_event_id, retry);
            return;
        };
        inline.clear();
        plan.copy(text, last_event_id, inline);
        (*data, *event_type, *id_span) = (plan.data, plan.event_type, plan.last_event_id);
        self.retry = retry;
    }

    /// An event with its own text; an empty `event_type` means `message`.
    pub(crate) fn from_parts(
        data: &str,
        event_type: &str,
        last_event_id: ByteString,
        retry: Option<Duration>,
    ) -> Self {
        if let Some(event) = Self::inline(data, event_type, &last_event_id, retry) {
            return event;
        }
        let mut text = String::with_capacity(data.len() + event_type.len());
        if !data.is_empty() {
            text.push_str(data);
        }
        Self::owning(text, event_type, last_event_id, retry)
    }

    /// [`from_parts`](Self::from_parts) for data the caller owns: the event type is appended to
    /// it and the buffer becomes the event's text without a copy (a 16 MiB event is not copied
    /// once more; a named event's type may have to grow the buffer, which for blocks that large
    /// glibc grows by remapping pages rather than copying). Short text is kept inline and the
    /// buffer dropped.
    pub(crate) fn from_owned_data(
        data: String,
        event_type: &str,
        last_event_id: ByteString,
        retry: Option<Duration>,
    ) -> Self {
        Self::inline(&data, event_type, &last_event_id, retry)
            .unwrap_or_else(|| Self::owning(data, event_type, last_event_id, retry))
    }

    /// The shared form over `data`, which becomes the text with the event type appended.
    fn owning(
        mut data: String,
        event_type: &str,
        last_event_id: ByteString,
        retry: Option<Duration>,
    ) -> Self {
        let event_type = named(event_type);
        let data_end = data.len();
        if !event_type.is_empty() {
            data.push_str(event_type);
        }
        Self {
            text: Text::Shared {
                text: ByteString::from(data),
                data: 0..data_end,
                event_type: data_end..data_end + event_type.len(),
                last_event_id: Id::Own(last_event_id),
            },
            retry,
        }
    }

    /// An event whose data and event type are `data` and `event_type`, ranges of `text` on
    /// character boundaries; an empty or `message` type means `message`. The parser builds the
    /// [`inline`](Self::inline) form instead where the text fits.
    #[inline]
    pub(crate) fn from_shared(
        text: ByteString,
        data: Range<usize>,
        event_type: Range<usize>,
        last_event_id: EventId<'_>,
        retry: Option<Duration>,
    ) -> Self {
        debug_assert!(text.get(data.clone()).is_some() && text.get(event_type.clone()).is_some());
        let event_type = if names_a_type(&text, &event_type) {
            event_type
        } else {
            event_type.start..event_type.start
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
            text: Text::Shared {
                text,
                data,
                event_type,
                last_event_id,
            },
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
        let event_type = match &self.text {
            Text::Inline {
                text, event_type, ..
            } => event_type.of(text),
            Text::Shared {
                text, event_type, ..
            } => text.get(event_type.clone()).unwrap_or_default(),
        };
        match event_type {
            "" => DEFAULT_EVENT_TYPE,
            named => named,
        }
    }

    /// The data: the block's `data` lines joined with `\n`.
    #[inline]
    pub fn data(&self) -> &str {
        match &self.text {
            Text::Inline { text, data, .. } => data.of(text),
            Text::Shared { text, data, .. } => text.get(data.clone()).unwrap_or_default(),
        }
    }

    /// The data as a [`ByteString`]: one that shares this event's storage (no copy) when the
    /// event shares or owns a buffer, a copy when the event holds its text itself (76 bytes at
    /// most).
    pub fn data_shared(&self) -> ByteString {
        match &self.text {
            Text::Inline { .. } => ByteString::from(self.data()),
            Text::Shared { text, .. } => text.slice_ref(self.data()),
        }
    }

    /// Takes the data out as a `String`: without a copy when the event owns its text and no
    /// clone shares it, else by copying the data alone (never the chunk it shares).
    pub fn into_data(self) -> String {
        match self.text {
            Text::Shared {
                text,
                data,
                event_type,
                ..
            } if data.start == 0
                && text.len() == data.end + event_type.len()
                && text.as_bytes().is_unique() =>
            {
                let mut owned = String::from(text);
                owned.truncate(data.end);
                owned
            }
            _ => self.data().to_owned(),
        }
    }

    /// The last event ID string at the time this event was dispatched (empty if none was set).
    ///
    /// As in the standard, an event without an `id` field carries the ID of the latest earlier
    /// event that had one.
    #[inline]
    pub fn last_event_id(&self) -> &str {
        match &self.text {
            Text::Inline {
                text,
                last_event_id,
                ..
            } => last_event_id.of(text),
            Text::Shared {
                text,
                last_event_id: Id::Text(range),
                ..
            } => text.get(range.clone()).unwrap_or_default(),
            Text::Shared {
                last_event_id: Id::Own(id),
                ..
            } => id,
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

#[cfg(test)]
mod tests {
    use super::MessageEvent;

    /// The inline form costs no size: it fits beside the shared form's niche.
    #[test]
    fn an_event_is_112_bytes_in_either_form() {
        assert_eq!(size_of::<MessageEvent>(), 112);
    }

    /// Text built by parts (an event split across chunks, or made by the game) is inline up to
    /// 76 bytes, and reads the same either way.
    #[test]
    fn events_made_of_parts_read_the_same_in_either_form() {
        for len in [0, 1, 60, 65, 66, 200] {
            let data = "é".repeat(len / 2);
            let event = MessageEvent::new(data.clone())
                .with_event_type("tick")
                .with_last_event_id("1234567");
            assert_eq!(
                (event.event_type(), event.data(), event.last_event_id()),
                ("tick", data.as_str(), "1234567")
            );
            assert_eq!(event.clone().into_data(), data);
            assert_eq!(event.data_shared(), data.as_str());
        }
        let message = MessageEvent::new("x").with_event_type("message");
        assert_eq!(message.event_type(), "message");
        assert_eq!(message, MessageEvent::new("x"));
    }
}
