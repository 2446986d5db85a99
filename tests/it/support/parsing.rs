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
