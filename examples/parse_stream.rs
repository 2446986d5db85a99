//! Parses an event stream from a file (default: `assets/demo.sse`) with the sans-IO parser, in
//! small chunks as a socket would deliver it, and prints what it finds.
//!
//! `cargo run --example parse_stream [FILE]`

use std::process::ExitCode;

use bevy_eventsource::parser::{Parsed, SseParser};

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "assets/demo.sse".into());
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("cannot read {path}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut parser = SseParser::new();
    // Seven-byte chunks split lines, CRLF pairs and UTF-8 sequences: the output is the same.
    for chunk in bytes.chunks(7) {
        let fed = parser.feed(chunk, |item| match item {
            Parsed::Message(event) => println!(
                "message  type={:?} id={:?} data={:?}",
                event.event_type(),
                event.last_event_id(),
                event.data()
            ),
            Parsed::Comment(text) => println!("comment  {text:?}"),
            Parsed::Retry(retry) => println!("retry    {} ms", retry.as_millis()),
            Parsed::LastEventId(id) => println!("id       {id:?}"),
        });
        if let Err(error) = fed {
            eprintln!("{path}: {error}");
        }
    }
    parser.end_stream();
    ExitCode::SUCCESS
}
