//! Events parsed from `Bytes` share the chunk instead of copying it, and stay correct when they
//! outlive the parser, the chunk, or are taken apart.

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
fn events_in_one_chunk_share_it() {
    let chunk = Bytes::from_static(b"id: 7\nevent: tick\ndata: {\"x\":1}\n\ndata: next\n\n");
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
    assert_eq!(events[1].last_event_id(), "7");
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
    let mut stream = b"data: small\n\n".to_vec();
    stream.extend(std::iter::repeat_n(b':', 60_000));
    stream.push(b'\n');
    let chunk = Bytes::from(stream);
    let event = events(&mut SseParser::new(), &chunk).remove(0);
    let clone = event.clone();
    let data = event.into_data();
    assert_eq!(data, "small");
    assert!(
        data.capacity() < 1024,
        "into_data kept {} bytes",
        data.capacity()
    );
    assert_eq!(clone.data(), "small");
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
