//! Events parsed from `Bytes` hold short text themselves and share the chunk for the rest,
//! instead of copying it, and stay correct when they outlive the parser, the chunk, or are
//! taken apart.

use bevy_eventsource::parser::{MessageEvent, Parsed, SseParser};
use bytes::Bytes;

fn events(parser: &mut SseParser, chunk: &Bytes) -> Vec<MessageEvent> {
    let mut events = Vec::new();
    parser
        .feed_bytes(chunk, |item| {
            if let Parsed::Message(event) = item {
                events.push(event);
            }
        })
        .unwrap();
    events
}

fn lies_in(part: &str, chunk: &[u8]) -> bool {
    let range = chunk.as_ptr_range();
    range.contains(&part.as_ptr()) && part.len() <= chunk.len()
}

#[test]
fn large_events_in_one_chunk_share_it() {
    let data = format!("{{\"text\":\"{}\"}}", "x".repeat(100));
    let chunk = Bytes::from(format!(
        "id: 7\nevent: tick\ndata: {data}\n\ndata: {data}\n\n"
    ));
    let events = events(&mut SseParser::new(), &chunk);
    assert_eq!(events.len(), 2);
    for part in [
        events[0].data(),
        events[0].event_type(),
        events[0].last_event_id(),
        events[1].data(),
        events[1].last_event_id(),
    ] {
        assert!(lies_in(part, &chunk), "{part:?} was copied");
    }
    assert!(lies_in(&events[0].data_shared(), &chunk));
    assert_eq!(events[0].data(), data);
    assert_eq!(events[1].last_event_id(), "7");
}

/// A short event holds its text itself: it takes no share of the chunk, so dropping it on the
/// game's thread touches nothing the IO thread wrote, and the chunk is free once parsed.
#[test]
fn short_events_hold_their_text_and_leave_the_chunk_free() {
    let chunk =
        Bytes::from(b"id: 7\nevent: tick\ndata: {\"x\":1}\n\n: note\ndata: next\n\n".to_vec());
    let events = events(&mut SseParser::new(), &chunk);
    assert!(chunk.is_unique(), "an event holds a share of the chunk");
    assert_eq!(
        events
            .iter()
            .map(|e| (e.event_type(), e.data(), e.last_event_id()))
            .collect::<Vec<_>>(),
        [("tick", "{\"x\":1}", "7"), ("message", "next", "7")]
    );
    for event in &events {
        assert!(!lies_in(event.data(), &chunk));
    }
    assert_eq!(events[0].data_shared(), "{\"x\":1}");
}

/// Feeds `{before}{data}\n\n`, `data` being `data_len` bytes, and checks that the event reads
/// that data with `event_type` and `id`. Whether the event shares the chunk.
fn shares_chunk(
    parser: &mut SseParser,
    before: &str,
    data_len: usize,
    (event_type, id): (&str, &str),
) -> bool {
    let data = "d".repeat(data_len);
    let chunk = Bytes::from(format!("{before}{data}\n\n"));
    let event = events(parser, &chunk).remove(0);
    assert_eq!(
        (event.event_type(), event.data(), event.last_event_id()),
        (event_type, data.as_str(), id)
    );
    // Not `is_unique`: the parser itself may share the chunk (for the stream's last event ID).
    lies_in(event.data(), &chunk)
}

/// Where the inline form ends: fields that span 76 bytes of the stream (from the first byte of
/// the ID's value to the last of the data) are held by the event, 77 share the chunk. Either
/// way the event reads the same.
#[test]
fn the_inline_form_ends_at_76_bytes_of_stream() {
    // "7\nevent: tick\ndata: " is 20 bytes before the data.
    let before = "id: 7\nevent: tick\ndata: ";
    assert!(!shares_chunk(
        &mut SseParser::new(),
        before,
        56,
        ("tick", "7")
    ));
    assert!(shares_chunk(
        &mut SseParser::new(),
        before,
        57,
        ("tick", "7")
    ));
}

/// An ID from an earlier chunk is copied in after the stretch of this one, while it fits; an
/// event it would overflow shares the chunk and the ID.
#[test]
fn an_id_from_an_earlier_chunk_fits_in_or_the_event_shares() {
    let mut parser = SseParser::new();
    events(
        &mut parser,
        &Bytes::from_static(b"id: 0123456789\ndata: 1\n\n"),
    );
    let expected = ("message", "0123456789");
    assert!(!shares_chunk(&mut parser, "data: ", 66, expected));
    assert!(shares_chunk(&mut parser, "data: ", 67, expected));
}

#[test]
fn events_outlive_the_parser_and_the_chunk() {
    let mut parser = SseParser::new();
    let kept = {
        let chunk = Bytes::from(b"id: 1\ndata: a\n\nid: 2\nevent: e\ndata: b\n\n".to_vec());
        events(&mut parser, &chunk)
    };
    drop(parser);
    assert_eq!(
        kept.iter()
            .map(|e| (e.event_type(), e.data(), e.last_event_id()))
            .collect::<Vec<_>>(),
        [("message", "a", "1"), ("e", "b", "2")]
    );
}

#[test]
fn into_data_copies_only_the_data_of_a_shared_event() {
    // Past the inline form's 76 bytes: the event shares the chunk.
    let small = "s".repeat(100);
    let mut stream = format!("data: {small}\n\n").into_bytes();
    stream.extend(std::iter::repeat_n(b':', 60_000));
    stream.push(b'\n');
    let chunk = Bytes::from(stream);
    let event = events(&mut SseParser::new(), &chunk).remove(0);
    assert!(lies_in(event.data(), &chunk));
    let clone = event.clone();
    let data = event.into_data();
    assert_eq!(data, small);
    assert!(
        data.capacity() < 1024,
        "into_data kept {} bytes",
        data.capacity()
    );
    assert_eq!(clone.data(), small);
}

#[test]
fn an_id_from_an_earlier_chunk_is_carried_by_later_events() {
    let mut parser = SseParser::new();
    let first = events(&mut parser, &Bytes::from_static(b"id: abc\ndata: 1\n\n"));
    let second = events(&mut parser, &Bytes::from_static(b"data: 2\n\n"));
    assert_eq!(first[0].last_event_id(), "abc");
    assert_eq!(second[0].last_event_id(), "abc");
    assert_eq!(parser.last_event_id(), "abc");
}

#[test]
fn owned_events_are_unchanged_by_the_storage() {
    let event = MessageEvent::new("hello")
        .with_event_type("greeting")
        .with_last_event_id("9");
    assert_eq!(event.clone().into_data(), "hello");
    assert_eq!(
        (event.event_type(), event.data(), event.last_event_id()),
        ("greeting", "hello", "9")
    );
    let message = MessageEvent::new("x").with_event_type("message");
    assert_eq!(message, MessageEvent::new("x"));
}
