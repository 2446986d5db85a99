//! Limits, stream ends and seeding: the parser's state beyond single events.

use crate::support::parsing;

use bevy_eventsource::parser::{ParseError, Parsed, ParserLimits, SseParser};
use parsing::*;

fn tight() -> ParserLimits {
    ParserLimits::default()
        .with_max_line_len(16)
        .with_max_event_len(10)
}

#[test]
fn a_line_at_the_limit_is_fine_and_one_byte_more_is_an_error() {
    // "data: " + 10 bytes = 16 bytes: exactly the line limit.
    let ok = parse_chunks(tight(), [&b"data: 0123456789\n\n"[..]]);
    assert_eq!(ok.errors, []);
    assert_eq!(ok.items, [message("message", "0123456789", "")]);

    let over = parse_chunks(tight(), [&b"data: 0123456789A\n\ndata: next\n\n"[..]]);
    assert_eq!(over.errors, [ParseError::LineTooLong { limit: 16 }]);
    assert_eq!(
        over.items,
        [message("message", "next", "")],
        "parsing goes on after the error"
    );
}

#[test]
fn a_long_line_split_over_chunks_is_caught_before_it_is_buffered() {
    let mut stream = b"data: a\n".to_vec();
    stream.extend(std::iter::repeat_n(b'x', 10_000));
    stream.extend(b"\n\ndata: after\n\n");
    for chunk_len in [1, 3, 7, 64, 4096] {
        let outcome = parse_chunks(tight(), stream.chunks(chunk_len));
        // The first over-long chunk errors; the event the line belonged to is dropped.
        assert_eq!(
            outcome.errors,
            [ParseError::LineTooLong { limit: 16 }],
            "chunks of {chunk_len}"
        );
        assert_eq!(
            outcome.items,
            [message("message", "after", "")],
            "chunks of {chunk_len}"
        );
    }
}

#[test]
fn an_event_over_the_limit_is_dropped_with_an_error() {
    let stream =
        b"id: 1\ndata: 01234\ndata: 5678\n\nid: 2\ndata: 01234\ndata: 56789\n\ndata: ok\n\n";
    let outcome = parse_chunks(tight(), [&stream[..]]);
    assert_eq!(outcome.errors, [ParseError::EventTooLarge { limit: 10 }]);
    // 10 bytes with the separator: fine. 11: dropped, yet its id still took effect.
    assert_eq!(
        outcome.items,
        [
            message("message", "01234\n5678", "1"),
            last_event_id("2"),
            message("message", "ok", "2")
        ]
    );
}

#[test]
fn an_endless_event_keeps_memory_bounded() {
    let limits = ParserLimits::default()
        .with_max_line_len(64)
        .with_max_event_len(1024);
    let mut parser = SseParser::with_limits(limits);
    let mut errors = 0;
    for _ in 0..100_000 {
        if parser
            .feed(b"data: 0123456789\n", |_| panic!("nothing completes"))
            .is_err()
        {
            errors += 1;
        }
        assert!(parser.buffered_len() <= 1024 + 3 * 64);
    }
    assert_eq!(
        errors, 1,
        "one error, then the event is discarded until its end"
    );
}

#[test]
fn a_16_mib_line_in_1_kib_chunks_arrives_whole() {
    // Linear time: each chunk is scanned once, never the buffered line. A rescan per chunk would
    // make this 16,384 chunks x 8 MiB on average.
    let len = 16 << 20;
    let limits = ParserLimits::default()
        .with_max_line_len(len + 6)
        .with_max_event_len(len);
    let mut stream = b"data: ".to_vec();
    stream.resize(len + 6, b'z');
    stream.extend(b"\n\n");
    let outcome = parse_chunks(limits, stream.chunks(1024));
    assert_eq!(outcome.errors, []);
    let [Parsed::Message(event)] = &outcome.items[..] else {
        panic!("expected one event, got {} items", outcome.items.len())
    };
    assert_eq!(event.data().len(), len);
    assert!(event.data().bytes().all(|b| b == b'z'));
}

#[test]
fn end_stream_discards_the_partial_event_and_keeps_the_last_event_id() {
    let mut parser = SseParser::new();
    let mut items = Vec::new();
    parser
        .feed(b"id: 5\ndata: a\n\nid: 6\ndata: lost", |item| {
            items.push(item.into_owned())
        })
        .unwrap();
    parser.end_stream();
    assert_eq!(
        parser.last_event_id(),
        "5",
        "id 6 was in an undispatched block"
    );
    // A new stream may start with a BOM again, and ids continue from 5.
    parser
        .feed(b"\xEF\xBB\xBFdata: b\n\n", |item| {
            items.push(item.into_owned())
        })
        .unwrap();
    assert_eq!(
        items,
        [message("message", "a", "5"), message("message", "b", "5")]
    );
}

#[test]
fn a_seeded_last_event_id_is_carried_until_the_server_changes_it() {
    let mut parser = SseParser::new().with_last_event_id("41");
    let mut items = Vec::new();
    parser
        .feed(b"data: a\n\nid: 42\ndata: b\n\n", |item| {
            items.push(item.into_owned())
        })
        .unwrap();
    assert_eq!(
        items,
        [message("message", "a", "41"), message("message", "b", "42")]
    );
}

#[test]
fn the_reconnection_time_is_the_latest_valid_retry() {
    let mut parser = SseParser::new();
    assert_eq!(parser.reconnection_time(), None);
    parser.feed(b"retry: 300\nretry: x\n\n", |_| {}).unwrap();
    assert_eq!(
        parser.reconnection_time(),
        Some(std::time::Duration::from_millis(300))
    );
}

/// `max_event_len` as its doc says, with the default limits: an event whose data is exactly
/// 16 MiB passes even on one `data: ` line (the line's field name does not eat into it), and
/// one byte more is refused as too large an event.
#[test]
fn with_the_defaults_a_single_line_event_of_exactly_the_event_limit_passes() {
    let limit = ParserLimits::default().max_event_len;
    let event = |data_len: usize| {
        let mut stream = b"data: ".to_vec();
        stream.resize(stream.len() + data_len, b'x');
        stream.extend(b"\n\ndata: after\n\n");
        stream
    };
    let exact = event(limit);
    let outcome = parse_chunks(ParserLimits::default(), exact.chunks(64 << 10));
    assert_eq!(outcome.errors, []);
    assert_eq!(outcome.items.len(), 2);
    assert!(
        matches!(&outcome.items[0], Parsed::Message(m) if m.data().len() == limit),
        "the 16 MiB event"
    );

    let over = event(limit + 1);
    let outcome = parse_chunks(ParserLimits::default(), over.chunks(64 << 10));
    assert_eq!(outcome.errors, [ParseError::EventTooLarge { limit }]);
    assert_eq!(outcome.items, [message("message", "after", "")]);
}
