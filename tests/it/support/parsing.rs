//! Helpers shared by the parser tests: feed a stream in chunks and collect what comes out.
#![allow(dead_code, unreachable_pub)]
use std::borrow::Cow;
use std::time::Duration;

use bevy_eventsource::parser::{MessageEvent, ParseError, Parsed, ParserLimits, SseParser};
use bytes::Bytes;

/// Everything a stream produced: the items in order, and the errors `feed` returned.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub items: Vec<Parsed<'static>>,
    pub errors: Vec<ParseError>,
}

/// Feeds `chunks` to a fresh parser with `limits`, in order, through both [`SseParser::feed`]
/// and [`SseParser::feed_bytes`], and checks that the two agree.
pub fn parse_chunks<'a>(
    limits: ParserLimits,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Outcome {
    let chunks: Vec<&[u8]> = chunks.into_iter().collect();
    let copied = parse_with(limits, &chunks, |parser, chunk, sink| {
        parser.feed(chunk, sink)
    });
    let shared = parse_with(limits, &chunks, |parser, chunk, sink| {
        parser.feed_bytes(&Bytes::copy_from_slice(chunk), sink)
    });
    assert_eq!(copied, shared, "feed and feed_bytes disagree");
    copied
}

type Sink<'s> = &'s mut dyn FnMut(Parsed<'_>);

fn parse_with(
    limits: ParserLimits,
    chunks: &[&[u8]],
    feed: impl Fn(&mut SseParser, &[u8], Sink<'_>) -> Result<(), ParseError>,
) -> Outcome {
    let mut parser = SseParser::with_limits(limits);
    let mut outcome = Outcome::default();
    for chunk in chunks {
        let fed = feed(&mut parser, chunk, &mut |item| {
            outcome.items.push(item.into_owned());
        });
        if let Err(error) = fed {
            outcome.errors.push(error);
        }
        assert!(
            parser.buffered_len() <= 3 * limits.max_line_len + limits.max_event_len + 1,
            "parser holds {} bytes, over its limits {limits:?}",
            parser.buffered_len()
        );
    }
    outcome
}

/// Feeds `stream` to a fresh parser with default limits in one chunk.
pub fn parse(stream: &[u8]) -> Vec<Parsed<'static>> {
    let outcome = parse_chunks(ParserLimits::default(), [stream]);
    assert_eq!(outcome.errors, []);
    outcome.items
}

/// Splits `stream` at the given sorted offsets.
pub fn split_at<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        chunks.push(&stream[start..cut]);
        start = cut;
    }
    chunks.push(&stream[start..]);
    chunks
}

pub fn message(event_type: &str, data: &str, id: &str) -> Parsed<'static> {
    Parsed::Message(
        MessageEvent::new(data)
            .with_event_type(event_type)
            .with_last_event_id(id),
    )
}

pub fn message_with_retry(data: &str, id: &str, retry_ms: u64) -> Parsed<'static> {
    Parsed::Message(
        MessageEvent::new(data)
            .with_last_event_id(id)
            .with_retry(Duration::from_millis(retry_ms)),
    )
}

pub fn comment(text: &str) -> Parsed<'static> {
    Parsed::Comment(Cow::Owned(text.to_owned()))
}

pub fn retry(ms: u64) -> Parsed<'static> {
    Parsed::Retry(Duration::from_millis(ms))
}

pub fn last_event_id(id: &str) -> Parsed<'static> {
    Parsed::LastEventId(Cow::Owned(id.to_owned()))
}

/// WHATWG HTML 9.2.5/9.2.6 written the obvious way: decode the whole stream, split lines,
/// interpret each. Slow and simple, as an oracle.
pub fn reference(stream: &[u8]) -> Vec<Parsed<'static>> {
    let stream = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    let text = String::from_utf8_lossy(stream);
    let mut lines = Vec::new();
    let mut rest = &text[..];
    while let Some(end) = rest.find(['\r', '\n']) {
        lines.push(&rest[..end]);
        rest = if rest[end..].starts_with("\r\n") {
            &rest[end + 2..]
        } else {
            &rest[end + 1..]
        };
    }

    let mut out = Vec::new();
    let (mut data, mut event_type, mut id_buffer, mut last_id) =
        (String::new(), String::new(), String::new(), String::new());
    let mut block_retry = None;
    for line in lines {
        if line.is_empty() {
            let changed = last_id != id_buffer;
            last_id = id_buffer.clone();
            if data.is_empty() {
                if changed {
                    out.push(Parsed::LastEventId(Cow::Owned(last_id.clone())));
                }
            } else {
                data.pop();
                let mut event = MessageEvent::new(data.clone())
                    .with_event_type(&event_type)
                    .with_last_event_id(&last_id);
                if let Some(retry) = block_retry {
                    event = event.with_retry(retry);
                }
                out.push(Parsed::Message(event));
            }
            data.clear();
            event_type.clear();
            block_retry = None;
            continue;
        }
        if let Some(comment) = line.strip_prefix(':') {
            out.push(Parsed::Comment(Cow::Owned(comment.to_owned())));
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "event" => event_type = value.to_owned(),
            "id" if !value.contains('\0') => id_buffer = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                let millis = value.parse::<u64>().unwrap_or(u64::MAX);
                block_retry = Some(Duration::from_millis(millis));
                out.push(Parsed::Retry(Duration::from_millis(millis)));
            }
            _ => {}
        }
    }
    out
}
