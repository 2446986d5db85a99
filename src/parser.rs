//! A sans-IO, incremental parser for `text/event-stream` bodies.
//!
//! [`SseParser`] implements the WHATWG HTML standard, section 9.2.5 "Parsing an event stream" and
//! 9.2.6 "Interpreting an event stream", on bytes pushed in chunks of any size. It knows nothing of
//! sockets, HTTP or async runtimes, so it parses SSE from any byte source:
//!
//! ```
//! use bevy_eventsource::parser::{Parsed, SseParser};
//!
//! let mut parser = SseParser::new();
//! let mut seen = Vec::new();
//! // Chunks may split lines, CRLF pairs and UTF-8 sequences anywhere.
//! for chunk in [&b"event: add\ndata: fir"[..], b"st\r", b"\ndata: second\n\n: ping\n"] {
//!     parser.feed(chunk, |item| seen.push(item.into_owned())).unwrap();
//! }
//! let Parsed::Message(event) = &seen[0] else { panic!() };
//! assert_eq!((event.event_type(), event.data()), ("add", "first\nsecond"));
//! assert_eq!(seen[1], Parsed::Comment(" ping".into()));
//! ```
//!
//! # How the standard maps onto bytes
//!
//! The standard decodes the stream as UTF-8 before it splits lines. Every byte the algorithm looks
//! at (CR, LF, `:`, space, NUL) is ASCII, and the UTF-8 decoder never swallows an ASCII byte into a
//! replacement character, so the parser splits on bytes and decodes each value once, when it
//! becomes a string. The result is the same, and the common all-valid case costs one validation.
//!
//! # Limits
//!
//! [`ParserLimits`] bounds the longest line and the largest event. Input over a limit is
//! discarded (the rest of the line, and the event it belonged to), [`SseParser::feed`] returns a
//! [`ParseError`], and parsing goes on with the next line: memory never grows past the limits.

mod message_event;

use std::borrow::Cow;
use std::cell::OnceCell;
use std::mem;
use std::ops::Range;
use std::time::Duration;

#[cfg(feature = "reflect")]
use bevy::prelude::{Reflect, ReflectDefault};

use bytes::Bytes;
use bytestring::ByteString;
use memchr::memchr;

pub use message_event::{DEFAULT_EVENT_TYPE, MessageEvent};
use message_event::{EventId, InlinePlan};

/// The UTF-8 byte order mark, stripped once at the start of a stream.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";
/// `bom_matched` once the start of the stream is behind us.
const BOM_DONE: u8 = u8::MAX;

/// Size limits that keep a hostile or broken stream from growing memory without bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Debug, Default, PartialEq, Clone)
)]
#[non_exhaustive]
pub struct ParserLimits {
    /// The longest line, in bytes, without its line ending, field name included. Default
    /// 16 MiB and 1 KiB: an event of the default [`max_event_len`](Self::max_event_len) fits
    /// on one `data: ` line. Setting both to the same value leaves no room for the field name
    /// (`data: ` is 6 bytes) on a one-line event.
    pub max_line_len: usize,
    /// The largest event data, in bytes, without the final newline. Default 16 MiB.
    pub max_event_len: usize,
}

/// Default [`ParserLimits::max_event_len`].
const DEFAULT_MAX_EVENT_LEN: usize = 16 << 20;
/// What a line may hold beyond the event limit: a field name, a colon and a space.
const FIELD_ROOM: usize = 1 << 10;

impl Default for ParserLimits {
    fn default() -> Self {
        Self {
            max_line_len: DEFAULT_MAX_EVENT_LEN + FIELD_ROOM,
            max_event_len: DEFAULT_MAX_EVENT_LEN,
        }
    }
}

impl ParserLimits {
    /// Sets [`max_line_len`](Self::max_line_len).
    #[must_use]
    pub fn with_max_line_len(mut self, bytes: usize) -> Self {
        self.max_line_len = bytes;
        self
    }

    /// Sets [`max_event_len`](Self::max_event_len).
    #[must_use]
    pub fn with_max_event_len(mut self, bytes: usize) -> Self {
        self.max_event_len = bytes;
        self
    }
}

/// Input that broke a [`ParserLimits`] bound. The offending line or event was discarded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A line was longer than [`ParserLimits::max_line_len`].
    #[error("an event-stream line is longer than the limit of {limit} bytes")]
    LineTooLong {
        /// The limit in force.
        limit: usize,
    },
    /// An event's data was larger than [`ParserLimits::max_event_len`].
    #[error("an event's data is larger than the limit of {limit} bytes")]
    EventTooLarge {
        /// The limit in force.
        limit: usize,
    },
}

/// What the parser reports while it reads a stream, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A dispatched event (a block with data, ended by an empty line).
    Message(MessageEvent),
    /// A comment line: the text after the leading `:`, exactly as sent.
    Comment(Cow<'a, str>),
    /// A valid `retry` field: the stream's reconnection time is now this. Reported when the field
    /// is read, before the event of its block (if any) is dispatched.
    Retry(Duration),
    /// The last event ID string changed at the end of a block that dispatched no event (an
    /// `id`-only block, or one with empty data). When an event is dispatched, its
    /// [`MessageEvent::last_event_id`] carries the change instead.
    LastEventId(Cow<'a, str>),
}

impl Parsed<'_> {
    /// Copies borrowed text so the item can outlive the chunk it came from.
    pub fn into_owned(self) -> Parsed<'static> {
        match self {
            Parsed::Message(event) => Parsed::Message(event),
            Parsed::Comment(text) => Parsed::Comment(Cow::Owned(text.into_owned())),
            Parsed::Retry(retry) => Parsed::Retry(retry),
            Parsed::LastEventId(id) => Parsed::LastEventId(Cow::Owned(id.into_owned())),
        }
    }
}

/// Where [`SseParser`] hands what it reads: a closure for the public API, the plugin's batch of
/// reports for its streams.
pub(crate) trait Sink {
    /// The next item.
    fn item(&mut self, item: Parsed<'_>);

    /// A place for the next event, if the sink keeps events in a buffer and that event is
    /// short: the parser builds it there. Built apart and handed over, the event is copied once
    /// more, and read back while the stores that built it are still in flight (a load that
    /// waits for every earlier store, the batch's among them).
    #[inline(always)]
    fn place(&mut self) -> Option<&mut MessageEvent> {
        None
    }
}

/// A closure as a [`Sink`].
struct FnSink<F>(F);

impl<F: FnMut(Parsed<'_>)> Sink for FnSink<F> {
    #[inline(always)]
    fn item(&mut self, item: Parsed<'_>) {
        (self.0)(item);
    }
}

/// The incremental `text/event-stream` parser. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct SseParser {
    limits: ParserLimits,
    /// How many BOM bytes the stream has started with so far, or [`BOM_DONE`].
    bom_matched: u8,
    /// The previous chunk ended in CR: an LF starting this one belongs to that line ending.
    skip_lf: bool,
    /// The start of a line whose end has not arrived yet.
    line: Vec<u8>,
    /// The current line went over the limit: drop bytes until its end.
    discard_line: bool,
    /// The data buffer: each `data` value followed by LF...
    data: Vec<u8>,
    /// ...except a first `data` value still in the buffer being parsed, kept as a range so that a
    /// one-line event is copied once, straight into the event.
    pending_data: Option<Range<usize>>,
    /// The current event lost input to a limit: do not dispatch it.
    discard_event: bool,
    /// The event type buffer, still undecoded.
    event_type: Slot,
    /// The `retry` of the current block.
    block_retry: Option<Duration>,
    /// The last event ID buffer, still undecoded.
    id_buffer: Slot,
    /// An `id` field was seen since the last blank line, so the buffer may differ from the string.
    id_seen: bool,
    /// The event source's last event ID string, set from the buffer at each blank line. Shares
    /// the chunk it came from, like the events...
    last_event_id: ByteString,
    /// ...unless it was set from valid text of the buffer being parsed: then it is that range
    /// until the parser is done with the buffer, so that events carry it at no cost.
    last_event_id_range: Option<Range<usize>>,
    /// The stream's reconnection time, once a `retry` field set it.
    reconnection_time: Option<Duration>,
    /// The first limit error of the current `feed` call.
    error: Option<ParseError>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser at the start of a stream, with default [`ParserLimits`] and no last event ID.
    pub fn new() -> Self {
        Self::with_limits(ParserLimits::default())
    }

    /// A parser with these limits.
    pub fn with_limits(limits: ParserLimits) -> Self {
        Self {
            limits,
            bom_matched: 0,
            skip_lf: false,
            line: Vec::new(),
            discard_line: false,
            data: Vec::new(),
            pending_data: None,
            discard_event: false,
            event_type: Slot::default(),
            block_retry: None,
            id_buffer: Slot::default(),
            id_seen: false,
            last_event_id: ByteString::new(),
            last_event_id_range: None,
            reconnection_time: None,
            error: None,
        }
    }

    /// Seeds the last event ID, as when resuming a stream after a reconnection.
    #[must_use]
    pub fn with_last_event_id(mut self, id: &str) -> Self {
        self.set_last_event_id(id);
        self
    }

    /// Sets the last event ID string (and buffer) to `id`.
    pub fn set_last_event_id(&mut self, id: &str) {
        self.last_event_id = ByteString::from(id);
        self.last_event_id_range = None;
        self.id_seen = false;
    }

    /// The limits in force.
    pub fn limits(&self) -> ParserLimits {
        self.limits
    }

    /// The last event ID string: what a reconnection sends as `Last-Event-ID`.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the stream set with its latest valid `retry` field.
    pub fn reconnection_time(&self) -> Option<Duration> {
        self.reconnection_time
    }

    /// Bytes held between calls: a partial line, the data and the event type of the current
    /// block, the last event ID buffer. At most three lines and one event: bounded by the
    /// [`ParserLimits`].
    pub fn buffered_len(&self) -> usize {
        self.line.len() + self.data.len() + self.event_type.owned.len() + self.id_buffer.owned.len()
    }

    /// Ends the current stream and readies the parser for the next one (a reconnection).
    ///
    /// As the standard says for the end of a stream, a partial line and an event without its
    /// closing blank line are discarded. The last event ID string and the reconnection time are
    /// kept; the next stream may start with a byte order mark again.
    pub fn end_stream(&mut self) {
        self.bom_matched = 0;
        self.skip_lf = false;
        self.line.clear();
        self.discard_line = false;
        self.reset_block();
        self.id_seen = false;
        self.error = None;
    }

    /// Parses the next chunk of the stream, handing each item to `sink` as it completes.
    ///
    /// Items that end inside the chunk are all delivered before `feed` returns; the rest is kept
    /// for the next call. Work is linear in the chunk's length, whatever the chunk size.
    ///
    /// # Errors
    ///
    /// [`ParseError`] when a line or an event broke the [`ParserLimits`]. The offending input was
    /// discarded and the rest of the chunk parsed; the error is the first one in this chunk.
    pub fn feed(&mut self, chunk: &[u8], sink: impl FnMut(Parsed<'_>)) -> Result<(), ParseError> {
        self.feed_from(chunk, None, &mut FnSink(sink))
    }

    /// [`feed`](Self::feed) for a chunk held in [`Bytes`], as HTTP clients deliver them: an
    /// event larger than its inline form (see [`MessageEvent`]) shares the chunk instead of
    /// copying out of it.
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed).
    pub fn feed_bytes(
        &mut self,
        chunk: &Bytes,
        sink: impl FnMut(Parsed<'_>),
    ) -> Result<(), ParseError> {
        self.feed_from(chunk, Some(chunk), &mut FnSink(sink))
    }

    /// [`feed_bytes`](Self::feed_bytes) into a [`Sink`], which may have short events built in
    /// place.
    pub(crate) fn feed_bytes_into(
        &mut self,
        chunk: &Bytes,
        sink: &mut impl Sink,
    ) -> Result<(), ParseError> {
        self.feed_from(chunk, Some(chunk), sink)
    }

    /// `chunk` is `source`'s bytes, if there is a `source`.
    fn feed_from(
        &mut self,
        chunk: &[u8],
        source: Option<&Bytes>,
        sink: &mut impl Sink,
    ) -> Result<(), ParseError> {
        let mut input = chunk;
        if self.bom_matched != BOM_DONE {
            input = self.strip_bom(input);
        }
        if self.skip_lf && !input.is_empty() {
            self.skip_lf = false;
            if input[0] == b'\n' {
                input = &input[1..];
            }
        }

        let mut ends = LineEnds::new(input);
        let mut start = 0;
        if !self.line.is_empty() || self.discard_line {
            // Finish the line that the previous chunk started.
            let Some(end) = ends.next_from(0) else {
                self.push_partial_line(input);
                return self.error.take().map_or(Ok(()), Err);
            };
            if self.discard_line {
                self.discard_line = false;
            } else if self.line.len() + end > self.limits.max_line_len {
                self.line_too_long();
            } else {
                let mut line = mem::take(&mut self.line);
                line.extend_from_slice(&input[..end]);
                let share = Share::new(None);
                let buf = &Buf::new(&line, 0, &share);
                self.process_split_line(buf, line.len(), sink);
                match self.pending_data.take() {
                    // The first data line of an event, a large one: the line buffer becomes the
                    // data buffer (its field name moved out in place) instead of being copied
                    // into it; the next long line starts a buffer of its own.
                    Some(value) if value.len() > OWN_DATA_FROM && self.data.is_empty() => {
                        self.flush_ranges(buf);
                        line.truncate(value.end);
                        line.drain(..value.start);
                        line.push(b'\n');
                        self.data = line;
                    }
                    pending => {
                        self.pending_data = pending;
                        self.flush_ranges(buf);
                        line.clear();
                        self.line = line;
                    }
                }
            }
            start = self.after_line_end(input, end);
        }
        let offset = chunk.len() - input.len();
        let share = Share::new(source.map(|bytes| (bytes, offset)));
        let buf = &Buf::new(input, start, &share);
        while let Some(end) = ends.next_from(start) {
            self.process_line(buf, start, end, sink);
            start = self.after_line_end(input, end);
        }
        self.flush_ranges(buf);
        self.push_partial_line(&input[start..]);
        self.error.take().map_or(Ok(()), Err)
    }

    /// Consumes the byte order mark at the start of the stream, even one split across chunks.
    fn strip_bom<'i>(&mut self, input: &'i [u8]) -> &'i [u8] {
        let mut consumed = 0;
        while let Some(&byte) = input.get(consumed) {
            let matched = usize::from(self.bom_matched);
            if byte != BOM[matched] {
                // Not a BOM: the bytes held back so far are the start of the first line.
                self.line.extend_from_slice(&BOM[..matched]);
                self.bom_matched = BOM_DONE;
                return &input[consumed..];
            }
            consumed += 1;
            if matched + 1 == BOM.len() {
                self.bom_matched = BOM_DONE;
                return &input[consumed..];
            }
            self.bom_matched += 1;
        }
        &input[consumed..]
    }

    /// The offset after the line ending at `end`; notes a CR that may pair with the next chunk's LF.
    #[inline]
    fn after_line_end(&mut self, input: &[u8], end: usize) -> usize {
        if input[end] == b'\r' {
            match input.get(end + 1) {
                Some(b'\n') => return end + 2,
                Some(_) => {}
                None => self.skip_lf = true,
            }
        }
        end + 1
    }

    /// Keeps the start of a line whose end is in a later chunk.
    fn push_partial_line(&mut self, bytes: &[u8]) {
        if bytes.is_empty() || self.discard_line {
            return;
        }
        if self.line.len() + bytes.len() > self.limits.max_line_len {
            self.line_too_long();
            self.discard_line = true;
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    fn line_too_long(&mut self) {
        self.line.clear();
        self.discard_event = true;
        self.fail(ParseError::LineTooLong {
            limit: self.limits.max_line_len,
        });
    }

    fn fail(&mut self, error: ParseError) {
        self.error.get_or_insert(error);
    }

    /// Moves a data value that is still a range of `buf` into the data buffer, before `buf` goes.
    #[inline]
    fn flush_pending_data(&mut self, buf: &Buf<'_>) {
        if let Some(range) = self.pending_data.take() {
            self.data.extend_from_slice(&buf.bytes[range]);
            self.data.push(b'\n');
        }
    }

    /// [`process_line`](Self::process_line) for a line that chunks split, all of `buf`: out
    /// of line, so that the loop over whole lines has the steps to itself.
    #[inline(never)]
    fn process_split_line(&mut self, buf: &Buf<'_>, end: usize, sink: &mut impl Sink) {
        self.process_line(buf, 0, end, sink);
    }

    /// 9.2.6: the steps for the line `buf[start..end]`, without its line ending.
    #[inline(always)]
    fn process_line(&mut self, buf: &Buf<'_>, start: usize, end: usize, sink: &mut impl Sink) {
        let line = &buf.bytes[start..end];
        // "If the line is empty (a blank line): Dispatch the event."
        if line.is_empty() {
            return self.dispatch(buf, sink);
        }
        if line.len() > self.limits.max_line_len {
            return self.line_too_long();
        }
        // The fields servers send, recognised by their first bytes: the name before the first
        // colon is exactly the one matched. The general steps below give the same result.
        let value_from = |name_len: usize| {
            let value = start + name_len + 1;
            value + usize::from(value < end && buf.bytes[value] == b' ')
        };
        match line {
            [b'd', b'a', b't', b'a', b':', ..] => return self.append_data(buf, value_from(4)..end),
            [b'i', b'd', b':', ..] => {
                return self.process_field(b"id", buf, value_from(2)..end, sink);
            }
            [b'e', b'v', b'e', b'n', b't', b':', ..] => {
                return self.event_type.set(value_from(5)..end);
            }
            _ => {}
        }
        match find_colon(line) {
            // "If the line starts with a U+003A COLON character (:): Ignore the line."
            // The plugin reports it as a comment.
            Some(0) => sink.item(Parsed::Comment(buf.str(start + 1..end))),
            // "Collect the characters on the line before the first U+003A COLON character (:),
            // and let field be that string. Collect the characters on the line after the first
            // U+003A COLON character (:), and let value be that string. If value starts with a
            // U+0020 SPACE character, remove it from value."
            Some(colon) => {
                let mut value = start + colon + 1;
                if value < end && buf.bytes[value] == b' ' {
                    value += 1;
                }
                self.process_field(&line[..colon], buf, value..end, sink);
            }
            // "Otherwise, the string is not empty but does not contain a U+003A COLON character
            // (:): Process the field using the whole line as the field name, and the empty
            // string as the field value."
            None => self.process_field(line, buf, end..end, sink),
        }
    }

    /// 9.2.6: "the steps to process the field given a field name and a field value", the value
    /// being `buf[value]`.
    #[inline]
    fn process_field(
        &mut self,
        name: &[u8],
        buf: &Buf<'_>,
        value: Range<usize>,
        sink: &mut impl Sink,
    ) {
        match name {
            // "Append the field value to the data buffer, then append a single U+000A LINE FEED
            // (LF) character to the data buffer."
            b"data" => self.append_data(buf, value),
            // "Set the event type buffer to field value."
            b"event" => self.event_type.set(value),
            // "If the field value does not contain U+0000 NULL, then set the last event ID buffer
            // to the field value. Otherwise, ignore the field." Only a 0x00 byte decodes to U+0000.
            b"id" if !contains_nul(&buf.bytes[value.clone()]) => {
                self.id_buffer.set(value);
                self.id_seen = true;
            }
            // "If the field value consists of only ASCII digits, then interpret the field value as
            // an integer in base ten, and set the event stream's reconnection time to that
            // integer. Otherwise, ignore the field." An empty value is ignored, as browsers do;
            // values past u64 milliseconds saturate.
            b"retry" => {
                if let Some(retry) = parse_retry(&buf.bytes[value]) {
                    self.block_retry = Some(retry);
                    self.reconnection_time = Some(retry);
                    sink.item(Parsed::Retry(retry));
                }
            }
            // "Otherwise: The field is ignored."
            _ => {}
        }
    }

    #[inline(always)]
    fn append_data(&mut self, buf: &Buf<'_>, value: Range<usize>) {
        if self.discard_event {
            return;
        }
        // The data this event would dispatch: what is buffered (less its final LF, plus the LF
        // separating it from this value), plus this value.
        let buffered = match &self.pending_data {
            Some(pending) => pending.len() + 1,
            None => self.data.len(),
        };
        if buffered + value.len() > self.limits.max_event_len {
            self.data.clear();
            self.pending_data = None;
            self.discard_event = true;
            return self.fail(ParseError::EventTooLarge {
                limit: self.limits.max_event_len,
            });
        }
        if buffered == 0 {
            self.pending_data = Some(value);
        } else {
            self.flush_pending_data(buf);
            self.data.extend_from_slice(&buf.bytes[value]);
            self.data.push(b'\n');
        }
    }

    /// 9.2.6: "dispatch the event".
    fn dispatch(&mut self, buf: &Buf<'_>, sink: &mut impl Sink) {
        // "1. Set the last event ID string of the event source to the value of the last event ID
        // buffer. The buffer does not get reset, so the last event ID string of the event source
        // remains set to this value until the next time it is set by the server."
        // Comparing only after an `id` field keeps id-less streams free of the work.
        // "2. If the data buffer is an empty string, ..." (below)
        let has_data = self.pending_data.is_some() || !self.data.is_empty();
        let dispatches = has_data && !self.discard_event;
        let mut id_changed = false;
        if mem::take(&mut self.id_seen) {
            // An ID in the validated text is kept as its range, uncompared and undecoded.
            let range = (self.id_buffer.range.clone()).filter(|range| buf.in_text(range));
            // Only a block that dispatches nothing reports the change, so only it compares.
            if dispatches && range.is_some() {
                self.last_event_id_range = range;
            } else {
                let id = self.id_buffer.str(buf);
                if dispatches || differ(&id, self.current_last_event_id(buf)) {
                    id_changed = true;
                    if range.is_none() {
                        self.last_event_id = ByteString::from(id.into_owned());
                    }
                    self.last_event_id_range = range;
                }
            }
        }
        // "2. If the data buffer is an empty string, set the data buffer and the event type
        // buffer to the empty string and return." A discarded event is not dispatched either.
        if !dispatches {
            self.reset_block();
            if id_changed {
                sink.item(Parsed::LastEventId(Cow::Borrowed(
                    self.current_last_event_id(buf),
                )));
            }
            return;
        }
        // "7. Initialize event's type attribute to "message" ... If the event type buffer has a
        // value other than the empty string, change the type of the newly created event to equal
        // the value of the event type buffer."
        let Some((data, event_type)) = self.text_parts(buf) else {
            return self.dispatch_owned(buf, sink);
        };
        let retry = self.block_retry;
        // "8. Set the data buffer and the event type buffer to the empty string."
        self.reset_block();
        let id = match &self.last_event_id_range {
            Some(range) => EventId::Range(buf.relative(range.clone()).unwrap_or_default()),
            None => EventId::Shared(&self.last_event_id),
        };
        // Built in the call: an event built first and then moved is read back from the words
        // just written, a store-forwarding stall.
        if let Some(plan) = InlinePlan::new(buf.text, &data, &event_type, &id) {
            match sink.place() {
                Some(event) => event.fill_planned(buf.text, &plan, &id, retry),
                None => sink.item(Parsed::Message(MessageEvent::inline_planned(
                    buf.text, &plan, &id, retry,
                ))),
            }
        } else {
            sink.item(Parsed::Message(MessageEvent::from_shared(
                buf.shared().clone(),
                data,
                event_type,
                id,
                retry,
            )));
        }
    }

    /// [`dispatch`](Self::dispatch) of an event that owns its text: its data or type is not
    /// valid text of the buffer being parsed (it came in an earlier chunk, or it is not UTF-8).
    #[inline(never)]
    fn dispatch_owned(&mut self, buf: &Buf<'_>, sink: &mut impl Sink) {
        let id = match &self.last_event_id_range {
            Some(_) => ByteString::from(self.current_last_event_id(buf)),
            None => self.last_event_id.clone(),
        };
        let event_type = self.event_type.str(buf);
        let event = if self.pending_data.is_none() && self.data.len() > OWN_DATA_FROM {
            // A large event: its data buffer becomes the event's text, uncopied; the next event
            // starts a buffer of its own.
            let mut data = mem::take(&mut self.data);
            // "3. If the data buffer's last character is a U+000A LINE FEED (LF) character, then
            // remove the last character from the data buffer."
            data.pop();
            let data = String::from_utf8(data)
                .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned());
            MessageEvent::from_owned_data(data, &event_type, id, self.block_retry)
        } else {
            let data = match &self.pending_data {
                Some(range) => buf.str(range.clone()),
                // "3. ..." (the data buffer's last character always is an LF)
                None => decode(&self.data[..self.data.len() - 1]),
            };
            MessageEvent::from_parts(&data, &event_type, id, self.block_retry)
        };
        // "8. ..."
        self.reset_block();
        sink.item(Parsed::Message(event));
    }

    /// The last event ID string, while `buf` is the buffer being parsed.
    #[inline]
    fn current_last_event_id<'b>(&'b self, buf: &Buf<'b>) -> &'b str {
        match &self.last_event_id_range {
            // Only a valid range is ever stored.
            Some(range) => buf.valid(range.clone()).unwrap_or_default(),
            None => &self.last_event_id,
        }
    }

    /// When the event's data and type are valid text of `buf`: their ranges of that text.
    #[inline]
    fn text_parts(&self, buf: &Buf<'_>) -> Option<(Range<usize>, Range<usize>)> {
        let data = buf.relative(self.pending_data.clone()?)?;
        let event_type = match &self.event_type.range {
            Some(range) => buf.relative(range.clone())?,
            None if self.event_type.owned.is_empty() => data.start..data.start,
            None => return None,
        };
        Some((data, event_type))
    }

    /// Copies every value that is still a range of `buf`, before `buf` goes away.
    fn flush_ranges(&mut self, buf: &Buf<'_>) {
        self.flush_pending_data(buf);
        self.event_type.flush(buf);
        self.id_buffer.flush(buf);
        if let Some(range) = self.last_event_id_range.take() {
            self.last_event_id = buf
                .share(range.clone())
                .unwrap_or_else(|| ByteString::from(buf.str(range).into_owned()));
        }
    }

    fn reset_block(&mut self) {
        self.data.clear();
        self.pending_data = None;
        self.event_type.clear();
        self.block_retry = None;
        self.discard_event = false;
    }
}

/// The buffer being parsed, and the part of it known to be valid UTF-8.
///
/// The part from the first complete line to the last line end is validated once, in one pass,
/// so the values cut from it at ASCII delimiters need no check of their own.
#[derive(Clone, Copy)]
struct Buf<'a> {
    bytes: &'a [u8],
    /// `bytes[text_start..]`, up to its last line end, if that is valid UTF-8; else empty.
    text: &'a str,
    text_start: usize,
    share: &'a Share<'a>,
}

/// `text` of a [`Buf`] as a [`ByteString`], made when the first event needs it: a slice of the
/// chunk's [`Bytes`] when there are some, else one copy for the whole buffer.
struct Share<'a> {
    /// The chunk, and where the buffer being parsed starts in it.
    source: Option<(&'a Bytes, usize)>,
    text: OnceCell<ByteString>,
}

impl<'a> Share<'a> {
    fn new(source: Option<(&'a Bytes, usize)>) -> Self {
        Self {
            source,
            text: OnceCell::new(),
        }
    }
}

impl<'a> Buf<'a> {
    fn new(bytes: &'a [u8], from: usize, share: &'a Share<'a>) -> Self {
        let tail = &bytes[from..];
        let lines_end = memchr::memrchr2(b'\n', b'\r', tail).map_or(0, |end| end + 1);
        Self {
            bytes,
            text: std::str::from_utf8(&tail[..lines_end]).unwrap_or_default(),
            text_start: from,
            share,
        }
    }

    /// The validated text as a [`ByteString`].
    fn shared(&self) -> &'a ByteString {
        self.share.text.get_or_init(|| match self.share.source {
            Some((bytes, offset)) => {
                let start = offset + self.text_start;
                ByteString::try_from(bytes.slice(start..start + self.text.len()))
                    .unwrap_or_else(|_| ByteString::from(self.text))
            }
            None => ByteString::from(self.text),
        })
    }

    /// `bytes[range]` as a range of the validated text, if it lies in it.
    #[inline]
    fn relative(&self, range: Range<usize>) -> Option<Range<usize>> {
        self.in_text(&range)
            .then(|| range.start - self.text_start..range.end - self.text_start)
    }

    /// Whether `bytes[range]` lies in the validated text. The parser's ranges start and end
    /// next to ASCII delimiters (a line end, a colon, a space), so one that lies in valid text
    /// is on character boundaries: a bounds check is enough.
    #[inline]
    fn in_text(&self, range: &Range<usize>) -> bool {
        range.start >= self.text_start && range.end <= self.text_start + self.text.len()
    }

    /// `bytes[range]` as a [`ByteString`] sharing the validated text, if it lies in it.
    ///
    /// A slice of the shared text when an event made it already. Else a slice of the chunk's
    /// `Bytes` of its own, which `ByteString` validates again: the range alone, not the whole
    /// text (a chunk of short events, which hold their text, has no shared text, and making it
    /// for the last event ID validated the chunk a second time). Without a chunk, a copy of the
    /// range.
    fn share(&self, range: Range<usize>) -> Option<ByteString> {
        let range = self.relative(range)?;
        if let Some(shared) = self.share.text.get() {
            return Some(shared.slice_ref(&shared[range]));
        }
        let text = self.text.get(range.clone())?;
        Some(match self.share.source {
            Some((bytes, offset)) => {
                let start = offset + self.text_start + range.start;
                ByteString::try_from(bytes.slice(start..start + text.len()))
                    .unwrap_or_else(|_| ByteString::from(text))
            }
            None => ByteString::from(text),
        })
    }

    /// `bytes[range]` as text, if it lies in the validated part.
    #[inline]
    fn valid(&self, range: Range<usize>) -> Option<&'a str> {
        let start = range.start.checked_sub(self.text_start)?;
        self.text.get(start..range.end - self.text_start)
    }

    /// `bytes[range]` decoded, with U+FFFD for invalid sequences.
    #[inline]
    fn str(&self, range: Range<usize>) -> Cow<'a, str> {
        match self.valid(range.clone()) {
            Some(text) => Cow::Borrowed(text),
            None => decode(&self.bytes[range]),
        }
    }
}

/// A field value: a range of the buffer being parsed, or owned bytes once that buffer is gone.
///
/// Values are copied only when a chunk ends in the middle of their event, not once per field.
#[derive(Clone, Debug, Default)]
struct Slot {
    range: Option<Range<usize>>,
    owned: Vec<u8>,
}

impl Slot {
    #[inline]
    fn set(&mut self, range: Range<usize>) {
        self.range = Some(range);
    }

    /// The value as text, while `buf` is the buffer being parsed.
    #[inline]
    fn str<'b>(&'b self, buf: &Buf<'b>) -> Cow<'b, str> {
        match &self.range {
            Some(range) => buf.str(range.clone()),
            None => decode(&self.owned),
        }
    }

    fn flush(&mut self, buf: &Buf<'_>) {
        if let Some(range) = self.range.take() {
            self.owned.clear();
            self.owned.extend_from_slice(&buf.bytes[range]);
        }
    }

    fn clear(&mut self) {
        self.range = None;
        self.owned.clear();
    }
}

/// Finds line ends (CR or LF) in a chunk.
///
/// Short lines are the common case, and a `memchr` call per line costs more than the search
/// itself. So the finder marks the line ends of 64 bytes at a time in a bit mask (one vectorised
/// pass) and takes each line's end from the mask. Past a block without a line end (a long line)
/// it searches with `memchr2`, and goes on that way while lines stay longer than a block.
struct LineEnds<'a> {
    input: &'a [u8],
    /// Where the marked block starts; `usize::MAX` when no block is marked.
    base: usize,
    /// Bit `i` is set when `input[base + i]` is CR or LF.
    mask: u64,
    /// The last line was longer than a block: search with `memchr2`, not masks.
    long_lines: bool,
}

impl<'a> LineEnds<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            base: usize::MAX,
            mask: 0,
            long_lines: false,
        }
    }

    /// The first CR or LF at or after `from`.
    #[inline(always)]
    fn next_from(&mut self, from: usize) -> Option<usize> {
        if let Some(skip) = from.checked_sub(self.base).filter(|&skip| skip < 64) {
            let mask = self.mask & (u64::MAX << skip);
            if mask != 0 {
                return Some(self.base + mask.trailing_zeros() as usize);
            }
            return self.search(self.base + 64);
        }
        self.search(from)
    }

    /// Marks the block at `from` and returns its first line end, if it has one.
    #[inline(always)]
    fn search(&mut self, from: usize) -> Option<usize> {
        if !self.long_lines
            && let Some(block) = self.input.get(from..).and_then(<[u8]>::first_chunk)
        {
            self.base = from;
            self.mask = line_end_mask(block);
            if self.mask != 0 {
                return Some(from + self.mask.trailing_zeros() as usize);
            }
            return self.search_further(from, from + 64);
        }
        self.search_further(from, from)
    }

    /// [`search`](Self::search) from `from` on with `memchr2`: past a block without a line
    /// end, while lines are long, and in the input's last 64 bytes. A line end found within a
    /// block of `start` has the block from it marked (its last bytes copied when the input
    /// ends sooner).
    #[inline(never)]
    fn search_further(&mut self, start: usize, from: usize) -> Option<usize> {
        let found = from + memchr::memchr2(b'\n', b'\r', self.input.get(from..)?)?;
        self.long_lines = found - start >= 64;
        self.base = usize::MAX;
        if !self.long_lines {
            let rest = &self.input[found..];
            let mut block = [0; 64];
            let block = match rest.first_chunk() {
                Some(block) => block,
                None => {
                    block[..rest.len()].copy_from_slice(rest);
                    &block
                }
            };
            self.base = found;
            self.mask = line_end_mask(block);
        }
        Some(found)
    }
}

/// Bit `i` set when `block[i]` is CR or LF: SSE2's compare and movemask, 16 bytes at a time.
#[cfg(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
))]
#[inline]
fn line_end_mask(block: &[u8; 64]) -> u64 {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let (lf, cr) = (
        set_splat_i8_m128i(b'\n' as i8),
        set_splat_i8_m128i(b'\r' as i8),
    );
    let mut mask = 0;
    for (i, part) in block.as_chunks::<16>().0.iter().enumerate() {
        let bytes = load_unaligned_m128i(part);
        let ends = cmp_eq_mask_i8_m128i(bytes, lf) | cmp_eq_mask_i8_m128i(bytes, cr);
        // The mask's 16 bits are the low half of the `i32`.
        mask |= u64::from(move_mask_i8_m128i(ends) as u16) << (16 * i);
    }
    mask
}

/// [`line_end_mask`] without SSE2.
#[cfg(not(all(
    any(target_arch = "x86", target_arch = "x86_64"),
    target_feature = "sse2"
)))]
#[inline]
fn line_end_mask(block: &[u8; 64]) -> u64 {
    portable_line_end_mask(block)
}

/// [`line_end_mask`] in portable code, written so that the compiler vectorises the comparisons;
/// the bits of each 8 bytes are then gathered with one multiplication.
#[cfg_attr(
    all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse2"
    ),
    allow(dead_code)
)]
#[inline]
fn portable_line_end_mask(block: &[u8; 64]) -> u64 {
    let hits: [u8; 64] = std::array::from_fn(|i| u8::from(block[i] == b'\n' || block[i] == b'\r'));
    let mut mask = 0;
    for (i, word) in hits.as_chunks::<8>().0.iter().enumerate() {
        mask |= (u64::from_le_bytes(*word).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    mask
}

/// `a != b`, without handing `memcmp` the dangling pointers of two empty strings.
#[inline]
fn differ(a: &str, b: &str) -> bool {
    a.len() != b.len() || (!a.is_empty() && a != b)
}

/// Above this many bytes, an event's data buffer is handed over as the event's text instead of
/// being copied into it (below, keeping the buffer's allocation for the next event is cheaper).
const OWN_DATA_FROM: usize = 64 * 1024;

/// UTF-8 decode with U+FFFD replacement. `from_utf8_lossy` walks the input chunk by chunk
/// even when it is valid; the plain check is far faster for the valid case that nearly every
/// stream is.
#[inline]
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A `retry` value: ASCII digits only, in milliseconds, saturating past `u64`.
fn parse_retry(value: &[u8]) -> Option<Duration> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let millis = value.iter().fold(0u64, |millis, digit| {
        millis
            .saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    });
    Some(Duration::from_millis(millis))
}

/// Whether a value holds a 0x00 byte. IDs are short: a plain loop beats setting up `memchr`.
#[inline]
fn contains_nul(value: &[u8]) -> bool {
    if value.len() <= 32 {
        value.contains(&0)
    } else {
        memchr(0, value).is_some()
    }
}

/// The first `:` in a line. Field names are short, so a plain loop over the first bytes finds
/// it before a vectorised search would have set up; long names fall back to `memchr`.
#[inline]
fn find_colon(line: &[u8]) -> Option<usize> {
    const SHORT: usize = 8;
    match line.iter().take(SHORT).position(|&byte| byte == b':') {
        Some(colon) => Some(colon),
        None if line.len() > SHORT => memchr(b':', &line[SHORT..]).map(|colon| colon + SHORT),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both masks mark exactly the CR and LF bytes, at every position and next to every byte.
    #[test]
    fn line_end_masks_mark_cr_and_lf_only() {
        for byte in 0..=u8::MAX {
            for at in 0..64 {
                let mut block = [b'x'; 64];
                block[at] = byte;
                block[63 - at] = b'\n';
                let expected = (0..64)
                    .filter(|&i| matches!(block[i], b'\n' | b'\r'))
                    .fold(0u64, |mask, i| mask | 1 << i);
                assert_eq!(line_end_mask(&block), expected, "byte {byte:#04x} at {at}");
                assert_eq!(
                    portable_line_end_mask(&block),
                    expected,
                    "byte {byte:#04x} at {at}"
                );
            }
        }
    }
}
