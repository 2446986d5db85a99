//! Table-driven tests: one case per rule of WHATWG HTML 9.2.5/9.2.6, each checked whole, split in
//! two at every offset, and fed one byte at a time.

use crate::support::parsing;

use bevy_eventsource::parser::{Parsed, ParserLimits};
use parsing::*;

struct Case {
    name: &'static str,
    stream: &'static [u8],
    expected: Vec<Parsed<'static>>,
}

fn case(name: &'static str, stream: &'static [u8], expected: Vec<Parsed<'static>>) -> Case {
    Case {
        name,
        stream,
        expected,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "one data line",
            b"data: hello\n\n",
            vec![message("message", "hello", "")],
        ),
        case(
            "data lines join with LF",
            b"data: a\ndata: b\ndata\n\n",
            vec![message("message", "a\nb\n", "")],
        ),
        case(
            "LF line ends",
            b"data: x\n\n",
            vec![message("message", "x", "")],
        ),
        case(
            "CRLF line ends",
            b"data: x\r\n\r\n",
            vec![message("message", "x", "")],
        ),
        case(
            "CR line ends",
            b"data: x\r\r",
            vec![message("message", "x", "")],
        ),
        case(
            "mixed line ends",
            b"data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\n\n",
            vec![
                message("message", "a\nb\nc", ""),
                message("message", "d", ""),
            ],
        ),
        case(
            "CR then LF is one line end, CR CR is two",
            b"data: a\r\r\ndata: b\r\n\r",
            vec![message("message", "a", ""), message("message", "b", "")],
        ),
        case(
            "BOM stripped",
            b"\xEF\xBB\xBFdata: x\n\n",
            vec![message("message", "x", "")],
        ),
        case(
            "second BOM is content",
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n",
            vec![message("message", "y", "")],
        ),
        case(
            "BOM in data is kept",
            b"data: \xEF\xBB\xBFx\n\n",
            vec![message("message", "\u{FEFF}x", "")],
        ),
        case(
            "partial BOM is a line start",
            b"\xEF\xBB\ndata: x\n\n",
            vec![message("message", "x", "")],
        ),
        case(
            "partial BOM then colon is not a comment",
            b"\xEF:c\n\n",
            vec![],
        ),
        case(
            "event sets the type",
            b"event: add\ndata: 1\n\n",
            vec![message("add", "1", "")],
        ),
        case(
            "empty event type means message",
            b"event\ndata: 1\n\nevent:\ndata: 2\n\n",
            vec![message("message", "1", ""), message("message", "2", "")],
        ),
        case(
            "event type resets after dispatch",
            b"event: a\ndata: 1\n\ndata: 2\n\n",
            vec![message("a", "1", ""), message("message", "2", "")],
        ),
        case(
            "event type of an empty block is dropped",
            b"event: a\n\ndata: 2\n\n",
            vec![message("message", "2", "")],
        ),
        case(
            "last event type wins",
            b"event: a\nevent: b\ndata: 1\n\n",
            vec![message("b", "1", "")],
        ),
        case(
            "id persists across events",
            b"id: 1\ndata: a\n\ndata: b\n\n",
            vec![message("message", "a", "1"), message("message", "b", "1")],
        ),
        case(
            "empty id resets",
            b"id: 1\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n",
            vec![
                message("message", "a", "1"),
                message("message", "b", ""),
                message("message", "c", ""),
            ],
        ),
        case(
            "id with NUL is ignored",
            b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
            vec![message("message", "a", "1"), message("message", "b", "1")],
        ),
        case(
            "id-only block updates the last event ID",
            b"id: 7\n\ndata: a\n\n",
            vec![last_event_id("7"), message("message", "a", "7")],
        ),
        case(
            "id in an empty-data block, then a reset",
            b"id: 7\n\nid\n\n",
            vec![last_event_id("7"), last_event_id("")],
        ),
        case(
            "unchanged id reports nothing",
            b"id: 7\n\nid: 7\n\n",
            vec![last_event_id("7")],
        ),
        case(
            "id takes effect at dispatch, for the whole block",
            b"data: a\nid: 9\n\n",
            vec![message("message", "a", "9")],
        ),
        case(
            "id is kept verbatim, spaces and colons included",
            b"id:  a:b \ndata: x\n\n",
            vec![message("message", "x", " a:b ")],
        ),
        case(
            "retry sets the reconnection time",
            b"retry: 1500\ndata: a\n\ndata: b\n\n",
            vec![
                retry(1500),
                message_with_retry("a", "", 1500),
                message("message", "b", ""),
            ],
        ),
        case("retry-only block", b"retry: 10\n\n", vec![retry(10)]),
        case(
            "retry with non-digits is ignored",
            b"retry: 1a\nretry: -1\nretry: 1.5\nretry:  10\nretry: 10 \nretry\nretry:\n\n",
            vec![],
        ),
        case(
            "retry with leading zeros",
            b"retry: 007\n\n",
            vec![retry(7)],
        ),
        case(
            "huge retry saturates",
            b"retry: 99999999999999999999999\n\n",
            vec![retry(u64::MAX)],
        ),
        case("comment", b": hello\n", vec![comment(" hello")]),
        case("empty comment", b":\n", vec![comment("")]),
        case(
            "comments inside a block",
            b"data: a\n:c\ndata: b\n\n",
            vec![comment("c"), message("message", "a\nb", "")],
        ),
        case(
            "only one leading space removed",
            b"data:  x\n\n",
            vec![message("message", " x", "")],
        ),
        case(
            "no space after colon",
            b"data:x\n\n",
            vec![message("message", "x", "")],
        ),
        case(
            "tab is not removed",
            b"data:\tx\n\n",
            vec![message("message", "\tx", "")],
        ),
        case(
            "split at the first colon only",
            b"data: a:b: c\n\n",
            vec![message("message", "a:b: c", "")],
        ),
        case(
            "field without colon has an empty value",
            b"data\n\n",
            vec![message("message", "", "")],
        ),
        case(
            "space before colon makes an unknown field",
            b"data : x\n\n",
            vec![],
        ),
        case(
            "field names are case-sensitive",
            b"Data: x\nDATA: y\nEvent: e\n\n",
            vec![],
        ),
        case(
            "unknown fields are ignored",
            b"foo: bar\ndata: x\nbaz\n\n",
            vec![message("message", "x", "")],
        ),
        case(
            "block without data is not dispatched",
            b"event: a\nid\n\n",
            vec![],
        ),
        case(
            "several blank lines",
            b"\n\n\ndata: x\n\n\n\n",
            vec![message("message", "x", "")],
        ),
        case(
            "event at end of stream without blank line is discarded",
            b"data: a\n\ndata: b\n",
            vec![message("message", "a", "")],
        ),
        case(
            "partial last line is discarded",
            b"data: a\n\ndata: b",
            vec![message("message", "a", "")],
        ),
        case(
            "multi-byte UTF-8",
            "data: caf\u{e9} \u{20ac} \u{1F600}\n\n".as_bytes(),
            vec![message("message", "caf\u{e9} \u{20ac} \u{1F600}", "")],
        ),
        case(
            "invalid UTF-8 becomes U+FFFD",
            b"data: a\xFFb\xC3\n\n",
            vec![message("message", "a\u{FFFD}b\u{FFFD}", "")],
        ),
        case(
            "truncated sequence before a line end is one U+FFFD",
            b"data: \xE2\x82\ndata: x\n\n",
            vec![message("message", "\u{FFFD}\nx", "")],
        ),
        case(
            "invalid UTF-8 in event type and id",
            b"event: \xFF\nid: \xFE\ndata: x\n\n",
            vec![message("\u{FFFD}", "x", "\u{FFFD}")],
        ),
        case(
            "invalid UTF-8 in a comment",
            b":\xC0\n",
            vec![comment("\u{FFFD}")],
        ),
        case(
            "surrogate encodings are invalid",
            b"data: \xED\xA0\x80\n\n",
            vec![message("message", "\u{FFFD}\u{FFFD}\u{FFFD}", "")],
        ),
        case(
            "U+2028 and U+2029 are not line ends",
            "data: a\u{2028}b\u{2029}c\n\n".as_bytes(),
            vec![message("message", "a\u{2028}b\u{2029}c", "")],
        ),
        case(
            "NUL in data is kept",
            b"data: a\x00b\n\n",
            vec![message("message", "a\u{0}b", "")],
        ),
        case(
            "vertical tab and form feed are not line ends",
            b"data: a\x0Bb\x0Cc\n\n",
            vec![message("message", "a\u{B}b\u{C}c", "")],
        ),
    ]
}

#[test]
fn each_rule_whole_stream() {
    for case in cases() {
        assert_eq!(parse(case.stream), case.expected, "case {:?}", case.name);
    }
}

#[test]
fn each_rule_split_in_two_at_every_offset() {
    for case in cases() {
        for cut in 0..=case.stream.len() {
            let outcome = parse_chunks(ParserLimits::default(), split_at(case.stream, &[cut]));
            assert_eq!(outcome.errors, [], "case {:?} cut at {cut}", case.name);
            assert_eq!(
                outcome.items, case.expected,
                "case {:?} cut at {cut}",
                case.name
            );
        }
    }
}

#[test]
fn each_rule_split_in_three_at_every_pair_of_offsets() {
    for case in cases() {
        let len = case.stream.len();
        for first in 0..=len {
            for second in first..=len {
                let chunks = split_at(case.stream, &[first, second]);
                let outcome = parse_chunks(ParserLimits::default(), chunks);
                assert_eq!(
                    outcome.items, case.expected,
                    "case {:?} cut at {first} and {second}",
                    case.name
                );
            }
        }
    }
}

#[test]
fn each_rule_one_byte_at_a_time() {
    for case in cases() {
        let outcome = parse_chunks(ParserLimits::default(), case.stream.chunks(1));
        assert_eq!(outcome.items, case.expected, "case {:?}", case.name);
    }
}

#[test]
fn empty_chunks_change_nothing() {
    let stream = b"\xEF\xBB\xBFdata: a\r\n\r\n";
    let mut chunks = Vec::new();
    for byte in stream.chunks(1) {
        chunks.extend([&b""[..], byte, b""]);
    }
    let outcome = parse_chunks(ParserLimits::default(), chunks);
    assert_eq!(outcome.items, [message("message", "a", "")]);
}
