//! Parser throughput on generated corpora, side by side with the peer parsers `sse-parse` and
//! `eventsource-stream` and with a bare `memchr` line count (the practical ceiling).
//!
//! Every contender gets the same bytes in the same chunks and builds owned events.
//! Run: `cargo bench --bench parser`.

#[path = "support/corpus.rs"]
mod corpus;

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bevy_eventsource::parser::{Parsed, SseParser};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_lite::{StreamExt, future, stream};

/// The same chunks, as slices (what `sse-parse` takes) and as `Bytes` (what HTTP clients deliver,
/// and what `eventsource-stream` takes). Each parser gets the form it takes, made before the clock
/// starts.
struct Chunks<'a> {
    slices: Vec<&'a [u8]>,
    bytes: Vec<bytes::Bytes>,
}

impl<'a> Chunks<'a> {
    fn new(stream: &'a [u8], len: usize) -> Self {
        let slices: Vec<&[u8]> = stream.chunks(len).collect();
        let bytes = slices
            .iter()
            .map(|chunk| bytes::Bytes::copy_from_slice(chunk))
            .collect();
        Self { slices, bytes }
    }
}

fn ours(chunks: &Chunks<'_>) -> usize {
    let mut parser = SseParser::new();
    let mut events = 0;
    for chunk in &chunks.slices {
        parser
            .feed(chunk, |item| {
                if let Parsed::Message(event) = item {
                    events += 1;
                    black_box(event);
                }
            })
            .unwrap();
    }
    events
}

/// The path the plugin takes: chunks arrive as `Bytes`, as HTTP clients deliver them, and the
/// events share them. A near-copy of [`ours`] on purpose: a shared helper would need a `dyn`
/// sink, and a virtual call per item would be measured too.
fn ours_bytes(chunks: &Chunks<'_>) -> usize {
    let mut parser = SseParser::new();
    let mut events = 0;
    for chunk in &chunks.bytes {
        parser
            .feed_bytes(chunk, |item| {
                if let Parsed::Message(event) = item {
                    events += 1;
                    black_box(event);
                }
            })
            .unwrap();
    }
    events
}

/// [`ours_bytes`] with a sink that reads each event where it is (its data's length) instead of
/// moving it into `black_box`: moving a 120-byte event the parser has just written reads it
/// back as vectors from words still in the store buffer, a stall that costs about as much as
/// the parse of a short line. A game's system reads its messages in place, like this sink.
fn ours_bytes_read(chunks: &Chunks<'_>) -> usize {
    let mut parser = SseParser::new();
    let (mut events, mut bytes) = (0, 0);
    for chunk in &chunks.bytes {
        parser
            .feed_bytes(chunk, |item| {
                if let Parsed::Message(event) = item {
                    events += 1;
                    bytes += event.data().len();
                }
            })
            .unwrap();
    }
    black_box(bytes);
    events
}

/// [`sse_parse`] with the sink of [`ours_bytes_read`].
fn sse_parse_read(chunks: &Chunks<'_>) -> usize {
    let mut parser = sse_parse::SseParser::new();
    let (mut events, mut bytes) = (0, 0);
    for chunk in &chunks.slices {
        parser.feed(chunk);
        while let Some(event) = parser.next_event() {
            events += 1;
            bytes += event.data.len();
        }
    }
    black_box(bytes);
    events
}

fn sse_parse(chunks: &Chunks<'_>) -> usize {
    let mut parser = sse_parse::SseParser::new();
    let mut events = 0;
    for chunk in &chunks.slices {
        parser.feed(chunk);
        while let Some(event) = parser.next_event() {
            events += 1;
            black_box(event);
        }
    }
    events
}

fn eventsource_stream(chunks: &Chunks<'_>) -> usize {
    // Cloning a `Bytes` is a reference count, not a copy.
    let body = stream::iter(chunks.bytes.iter().cloned().map(Ok::<_, Infallible>));
    let mut events = eventsource_stream::EventStream::new(body);
    future::block_on(async {
        let mut count = 0;
        while let Some(event) = events.next().await {
            count += 1;
            black_box(event.unwrap());
        }
        count
    })
}

fn memchr_lines(chunks: &Chunks<'_>) -> usize {
    chunks
        .slices
        .iter()
        .map(|chunk| {
            // Visit every line end: a bare `count()` takes memchr's counting shortcut.
            memchr::memchr_iter(b'\n', chunk).fold(0, |lines, end| lines + usize::from(end > 0))
        })
        .sum()
}

const LINE_SCAN: &str = "memchr_line_scan";

type Contender = (&'static str, fn(&Chunks<'_>) -> usize);

const CONTENDERS: &[Contender] = &[
    ("bevy_eventsource", ours),
    ("bevy_eventsource_bytes", ours_bytes),
    ("bevy_eventsource_bytes_read", ours_bytes_read),
    ("sse-parse", sse_parse),
    ("sse-parse_read", sse_parse_read),
    ("eventsource-stream", eventsource_stream),
    (LINE_SCAN, memchr_lines),
];

fn corpora(c: &mut Criterion) {
    for (name, corpus) in corpus::all() {
        for chunk_len in [64 * 1024, 4 * 1024] {
            let chunks = Chunks::new(&corpus, chunk_len);
            // All parsers must agree on the event count before their speed means anything.
            let expected = ours(&chunks);
            // (The line scan counts lines, not events.)
            for (contender, run) in CONTENDERS.iter().filter(|(id, _)| *id != LINE_SCAN) {
                assert_eq!(run(&chunks), expected, "{contender} disagrees on {name}");
            }

            let mut group = c.benchmark_group(format!("parse/{name}/{}KiB", chunk_len / 1024));
            group.throughput(Throughput::Bytes(corpus.len() as u64));
            for (contender, run) in CONTENDERS {
                group.bench_function(*contender, |b| b.iter(|| run(black_box(&chunks))));
            }
            group.finish();
        }
    }
}

/// One 16 MiB single-line event at chunk sizes from 1 byte to 64 KiB: linear time means flat
/// throughput across the row.
fn chunk_sizes(c: &mut Criterion) {
    let mut stream = b"data: ".to_vec();
    stream.resize(16 << 20, b'z');
    stream.extend(b"\n\n");
    let mut group = c.benchmark_group("parse/16MiB_line");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.sample_size(10);
    for chunk_len in [1usize, 64, 1024, 64 * 1024] {
        let chunks = Chunks::new(&stream, chunk_len);
        group.bench_with_input(
            BenchmarkId::new("bevy_eventsource", chunk_len),
            &chunks,
            |b, chunks| b.iter(|| assert_eq!(ours(chunks), 1)),
        );
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = corpora, chunk_sizes }
criterion_main!(benches);
