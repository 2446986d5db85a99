//! The response path: status, headers (Content-Type variants, Retry-After forms, raw bytes) and
//! body chunks chosen by the fuzzer, through the real checks, parser and batching. Invariants:
//! no panic; it ends (a finite body always ends); a response that is not 200 with
//! `text/event-stream` ends in `Status` or `ContentType` with no report; every other ending is
//! one of the documented stream endings.
#![no_main]

use bevy_eventsource::SseError;
use bevy_eventsource::fuzzing::response_path;
use bevy_eventsource::parser::ParserLimits;
use libfuzzer_sys::fuzz_target;

const STATUSES: [u16; 8] = [200, 200, 200, 204, 301, 401, 429, 503];
const CONTENT_TYPES: [&[u8]; 8] = [
    b"text/event-stream",
    b"TEXT/Event-Stream; charset=utf-8",
    b" text/event-stream ;",
    b"text/event-streams",
    b"application/json",
    b"",
    b"text/event-stream\xff",
    b";text/event-stream",
];
const RETRY_AFTERS: [&[u8]; 6] = [
    b"5",
    b"Wed, 21 Oct 2015 07:28:00 GMT",
    b"-1",
    b"99999999999999999999999",
    b"Sun, 06 Nov 2994 08:49:37 GMT",
    b"\xfe soon",
];

fuzz_target!(|input: &[u8]| {
    let Some((head, rest)) = input.split_first_chunk::<4>() else {
        return;
    };
    let [status, content_type, retry_after, shape] = *head;
    let status = match status {
        0..=199 => STATUSES[usize::from(status) % STATUSES.len()],
        other => 100 + u16::from(other) * 4,
    };
    let mut headers = Vec::new();
    if content_type < 240 {
        let value = CONTENT_TYPES[usize::from(content_type) % CONTENT_TYPES.len()];
        headers.push((b"content-type".to_vec(), value.to_vec()));
    }
    if retry_after < 200 {
        let value = RETRY_AFTERS[usize::from(retry_after) % RETRY_AFTERS.len()];
        headers.push((b"retry-after".to_vec(), value.to_vec()));
    }
    // The body, cut into chunks at every byte 0xFF (dropped), so chunk boundaries are the
    // fuzzer's to choose.
    let chunks: Vec<Vec<u8>> = rest.split(|&byte| byte == 0xFF).map(<[u8]>::to_vec).collect();
    let limits = if shape & 1 == 1 {
        ParserLimits::default()
            .with_max_line_len(64)
            .with_max_event_len(48)
    } else {
        ParserLimits::default()
    };
    let sentinel = (shape & 2 == 2).then(|| "[DONE]".to_owned());
    let Some(outcome) = response_path(status, &headers, chunks, limits, sentinel) else {
        return;
    };
    match outcome.ended {
        Ok(()) => assert!(shape & 2 == 2, "done without a sentinel"),
        Err(SseError::Status { status: got, .. }) => {
            assert_ne!(got, 200);
            assert!(outcome.reports.is_empty());
        }
        Err(SseError::ContentType { .. }) => {
            assert_eq!(status, 200);
            assert!(outcome.reports.is_empty());
        }
        Err(SseError::StreamEnded { .. }) => {
            assert_eq!(outcome.reports.first().map(String::as_str), Some("Opened"));
        }
        Err(other) => panic!("undocumented ending: {other:?}"),
    }
});
