//! Property tests: any chunking of a stream gives the same items as the whole stream, and the
//! parser agrees with a straightforward transcription of the standard that decodes first.

use crate::support::parsing;

use bevy_eventsource::parser::ParserLimits;
use parsing::{parse_chunks, reference, split_at};
use proptest::prelude::*;

/// Pieces that hit every rule: field names, separators, all line ends, BOM, multi-byte and
/// broken UTF-8, NUL, digits.
const TOKENS: &[&[u8]] = &[
    b"data",
    b"data:",
    b"data: ",
    b"event:",
    b"event: ",
    b"id:",
    b"id: ",
    b"retry:",
    b"retry: ",
    b":",
    b" ",
    b"x",
    b"yz",
    b"7",
    b"12",
    b"\n",
    b"\n",
    b"\n\n",
    b"\r",
    b"\r\n",
    b"\xEF\xBB\xBF",
    b"\xE2\x82\xAC",
    b"\xE2\x82",
    b"\xFF",
    b"\0",
    b"ping",
    b"\xF0\x9F\x98\x80",
];

fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..120).prop_map(|tokens| tokens.concat())
}

fn stream_and_cuts() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    stream().prop_flat_map(|stream| {
        let len = stream.len();
        let cuts = prop::collection::vec(0..=len, 0..12).prop_map(|mut cuts| {
            cuts.sort_unstable();
            cuts
        });
        (Just(stream), cuts)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_chunking_gives_the_same_items((stream, cuts) in stream_and_cuts()) {
        let whole = parse_chunks(ParserLimits::default(), [&stream[..]]);
        let chunked = parse_chunks(ParserLimits::default(), split_at(&stream, &cuts));
        let bytewise = parse_chunks(ParserLimits::default(), stream.chunks(1));
        prop_assert_eq!(&whole, &chunked);
        prop_assert_eq!(&whole.items, &bytewise.items);
    }

    #[test]
    fn agrees_with_the_reference_transcription(stream in stream()) {
        let parsed = parse_chunks(ParserLimits::default(), [&stream[..]]);
        prop_assert_eq!(parsed.items, reference(&stream));
    }

    #[test]
    fn chunking_is_invisible_under_tight_limits((stream, cuts) in stream_and_cuts()) {
        let limits = ParserLimits::default().with_max_line_len(9).with_max_event_len(7);
        let whole = parse_chunks(limits, [&stream[..]]);
        let chunked = parse_chunks(limits, split_at(&stream, &cuts));
        prop_assert_eq!(whole.items, chunked.items);
        prop_assert_eq!(whole.errors.is_empty(), chunked.errors.is_empty());
    }
}

proptest! {
    // Arbitrary bytes stand in for a fuzzer (cargo fuzz needs a nightly toolchain, which this
    // project does not have): no panic, and parse_chunks asserts the buffers stay in bounds.
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        stream in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(0usize..400, 0..8),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut.min(stream.len())).collect();
        cuts.sort_unstable();
        let limits = ParserLimits::default().with_max_line_len(16).with_max_event_len(24);
        parse_chunks(limits, split_at(&stream, &cuts));
        let unlimited = parse_chunks(ParserLimits::default(), split_at(&stream, &cuts));
        prop_assert_eq!(unlimited.items, reference(&stream));
    }
}

/// Events larger than the parser's hand-over threshold (64 KiB: their data buffer becomes the
/// event's text instead of being copied), with an event type, several data lines, an ID, broken
/// UTF-8 and a small event after each, in chunks that cut everywhere, agree with the reference.
#[test]
fn large_events_agree_with_the_reference_whatever_the_chunking() {
    let big = "x".repeat(100 * 1024);
    let mut stream = Vec::new();
    stream.extend_from_slice(format!("event: big\nid: 7\ndata: {big}\ndata: {big}\n\n").as_bytes());
    stream.extend_from_slice(b"data: small\n\n");
    stream.extend_from_slice(format!("data: {big}").as_bytes());
    stream.extend_from_slice(b"\xFF\xC3 tail\n\n");
    stream.extend_from_slice(format!("data: é{big}\r\n\r\n").as_bytes());
    stream.extend_from_slice(b"event: after\ndata: small again\n\n");
    let expected = reference(&stream);
    // Five events, nothing else (an ID is reported alone only by a block without data).
    assert_eq!(expected.len(), 5, "{expected:?}");
    for chunk in [1usize << 20, 65_536, 4_099, 1_000] {
        let parsed = parse_chunks(ParserLimits::default(), stream.chunks(chunk));
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.items, expected, "{chunk}-byte chunks");
    }
}
