//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): not part of the API.

use std::time::Duration;

use bevy::prelude::Entity;
use reqwest::header::{HeaderName, HeaderValue};

use crate::connection::{check, receive};
use crate::error::{SourceUrl, SseError};
use crate::parser::ParserLimits;
use crate::transport::{ReportSender, Reports, StreamParser, compare};

/// What the response path made of one response.
#[derive(Debug)]
pub struct ResponseOutcome {
    /// Each report, as text, in order.
    pub reports: Vec<String>,
    /// How the attempt ended: `Ok` for the done sentinel.
    pub ended: Result<(), SseError>,
}

/// Runs the real response path (status and Content-Type checks, the refused body's prefix,
/// then the body through the parser, limits and sentinel, with batching) on a synthetic
/// response. `None` if the status is not a valid HTTP status.
pub fn response_path(
    status: u16,
    headers: &[(Vec<u8>, Vec<u8>)],
    chunks: Vec<Vec<u8>>,
    limits: ParserLimits,
    done_sentinel: Option<String>,
) -> Option<ResponseOutcome> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            builder = builder.header(name, value);
        }
    }
    let body = reqwest::Body::wrap_stream(futures_lite::stream::iter(
        chunks
            .into_iter()
            .map(|chunk| Ok::<_, std::io::Error>(bytes::Bytes::from(chunk))),
    ));
    let response: reqwest::Response = builder.body(body).ok()?.into();
    let url = SourceUrl::new("http://fuzz.test/events?token=x");
    let mut parser = StreamParser::with_parts(
        limits,
        "",
        url.clone(),
        done_sentinel,
        crate::typed::Decoders::default(),
    );
    let (tx, rx) = async_channel::bounded(16);
    let sender = ReportSender::new(tx, None, Entity::PLACEHOLDER, 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .ok()?;
    let attempt = async move {
        let until = tokio::time::Instant::now() + Duration::from_secs(1);
        let ended = match check(response, &url, until).await {
            Ok(mut response) => receive(&mut response, &mut parser, None, &sender).await,
            Err(error) => Err(error),
        };
        drop(sender);
        ended
    };
    let collect = async move {
        let mut reports = Vec::new();
        while let Ok(batch) = rx.recv().await {
            let batch = batch.reports.into_vec();
            reports.extend(batch.iter().map(|report| format!("{report:?}")));
        }
        reports
    };
    let (ended, reports) = runtime.block_on(futures_lite::future::zip(attempt, collect));
    Some(ResponseOutcome { reports, ended })
}

/// One stream through the plugin's batches, and through the parser alone, each item as text.
#[derive(Debug)]
pub struct BatchOutcome {
    /// What the batches handed back, in order.
    pub batched: Vec<String>,
    /// What the parser handed a closure, in order.
    pub parsed: Vec<String>,
}

/// Parses each of `chunks` into one batch as the IO task does (a chunk of 4 KiB or more lists
/// its messages apart from the other reports), then takes every batch back as the receive step
/// does, in runs of at most `max` messages. Panics where a batch hands out more messages than
/// asked, or a run is not what `message_run` said (its length, its last event ID), or the upper
/// bound is below what is left (see `transport::compare::take_in_runs`).
pub fn batch_path(chunks: &[&[u8]], max: usize) -> BatchOutcome {
    let chunks: Vec<bytes::Bytes> = chunks
        .iter()
        .map(|chunk| bytes::Bytes::copy_from_slice(chunk))
        .collect();
    let parsed = compare::parsed(&chunks, |item| Some(compare::parsed_text(item)));
    let mut stream = compare::stream_parser();
    let mut batched = Vec::new();
    for chunk in &chunks {
        let mut reports = Reports::new();
        stream.feed(chunk, &mut reports);
        batched.extend(
            compare::take_in_runs(reports, max)
                .into_iter()
                .map(compare::report_text),
        );
    }
    BatchOutcome { batched, parsed }
}
