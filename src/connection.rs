//! The IO side: one task per connection attempt, on the app's IO thread (see `io.rs`).
//!
//! The task sends the request, checks the response, parses the body and reports what it finds
//! to the ECS in batches (the body chunks that are ready, together) over the shared channel,
//! bounded in bytes. When the attempt ends, it reports why and exits; the ECS side decides what comes
//! next.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use tokio::time::Instant;

use crate::error::{SourceUrl, SseError};
use crate::lanes::LaneSlot;
use crate::transport::{AttemptRequest, Report, ReportSender, Reports, StreamParser};

/// How long the body of a refused response may take when the source has no response timeout:
/// its first bytes only go into the error message.
pub(crate) const REFUSED_BODY_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs one attempt to its end and reports every step.
///
/// Every source's task holds this future while its stream is open, so its size is memory per
/// source: the request comes boxed and is unboxed and sent by [`respond`], and the functions
/// below borrow the parser and the response that [`stream`] owns instead of taking them by
/// value (an async fn keeps its arguments for its whole life and copies them into its locals:
/// a future of 4.3 KiB, now 1.4 KiB).
pub(crate) async fn run_attempt(request: Box<AttemptRequest>, reports: ReportSender) {
    let last = match stream(request, &reports).await {
        Ok(()) => Report::Done,
        Err(ended) => {
            bevy::log::debug!(error = %ended, "attempt ended");
            Report::Ended(ended)
        }
    };
    let _ = reports.send(Reports::one(last)).await;
}

/// Connects and streams; `Ok` when the done sentinel arrived, `Err` with why it ended otherwise.
async fn stream(request: Box<AttemptRequest>, reports: &ReportSender) -> Result<(), SseError> {
    let mut parser = StreamParser::new(&request).reusing_lists_of(reports);
    let read_timeout = request.read_timeout;
    let (mut response, _lane) = respond(request).await?;
    let ended = receive(&mut response, &mut parser, read_timeout, reports).await;
    // The response, and so its HTTP/2 stream, goes before the lane place.
    drop(response);
    ended
}

/// Sends the request and checks the response. Apart from [`stream`], so that the request's box
/// is freed once it is sent (400 bytes per source) and the steps before the stream opens take
/// no room in the future that lives as long as the stream.
async fn respond(
    request: Box<AttemptRequest>,
) -> Result<(reqwest::Response, Option<LaneSlot>), SseError> {
    let AttemptRequest {
        client,
        lane,
        request,
        url,
        response_timeout,
        ..
    } = *request;
    let deadline = response_timeout.map(|timeout| (Instant::now() + timeout, timeout));
    let client = match client {
        Some(client) => client.into_client(),
        // Only a transport that needs no client leaves it out, and those do not come here.
        // Built, not `reqwest::Client::default()`, which panics where a build fails.
        None => reqwest::Client::builder().build().map_err(Arc::new),
    }
    .map_err(|source| SseError::Client {
        url: url.clone(),
        source,
    })?;
    let send = client.execute(request);
    let response = match deadline {
        Some((deadline, timeout)) => {
            tokio::time::timeout_at(deadline, send).await.map_err(|_| {
                SseError::ResponseTimeout {
                    url: url.clone(),
                    timeout,
                }
            })?
        }
        None => send.await,
    };
    let response = response.map_err(|source| SseError::from_connect(url.clone(), source))?;
    if let Some(lane) = &lane {
        lane.answered(response.version());
    }
    let until = deadline.map_or_else(|| Instant::now() + REFUSED_BODY_TIMEOUT, |(at, _)| at);
    Ok((check(response, &url, until).await?, lane))
}

/// Reads an open stream until it ends; `Ok` when the done sentinel arrived.
pub(crate) async fn receive(
    response: &mut reqwest::Response,
    parser: &mut StreamParser,
    read_timeout: Option<Duration>,
    reports: &ReportSender,
) -> Result<(), SseError> {
    let url = parser.url().clone();
    bevy::log::debug!("stream open");
    if !reports.send(Reports::one(Report::Opened)).await {
        return Err(SseError::StreamEnded { url });
    }
    // Bytes read but not reported yet: those of an event still arriving.
    let mut unreported = 0;
    let ended = read(response, parser, read_timeout, reports, &mut unreported).await;
    if unreported > 0 {
        let _ = reports.send_received(unreported, Reports::new()).await;
    }
    ended
}

/// [`receive`]'s loop. Each batch carries the body bytes read since the last batch;
/// `unreported` is what no batch carried yet.
async fn read(
    response: &mut reqwest::Response,
    parser: &mut StreamParser,
    read_timeout: Option<Duration>,
    reports: &ReportSender,
    unreported: &mut u64,
) -> Result<(), SseError> {
    let url = parser.url().clone();
    let mut yields = Yields::default();
    // What is left of a large chunk after the part the last batch took.
    let mut rest = None;
    loop {
        let mut chunk = match rest.take() {
            Some(rest) => rest,
            None => next_chunk(response, read_timeout, &url).await?,
        };
        // Room for one report, inline: most batches of a quiet stream hold one event; a burst's
        // batches grow as they must.
        let mut batch = Reports::new();
        let mut gathered = Gathered::default();
        rest = first_part(&mut chunk);
        let mut bytes = chunk.len();
        let mut more = gathered.take(chunk, parser, &mut batch);
        // Chunks that are already here join the same batch: servers often send each event as
        // its own HTTP chunk (axum does), and one batch per event would cost a channel send and
        // an ECS-side dequeue each. Only what is ready is taken; nothing waits for more. hyper
        // decodes the next chunk in its connection task, so while the batch is small a chunk
        // not ready yet gets one yield (that task runs, and hands over what it had buffered)
        // before the batch goes. Large chunks (a plain body) need no help.
        let mut ended = None;
        let mut yielded = false;
        while more && rest.is_none() && batch.len() < COALESCE_REPORTS && bytes < COALESCE_BYTES {
            match futures_lite::future::poll_once(response.chunk()).await {
                Some(Ok(Some(mut chunk))) => {
                    if yielded {
                        yields.paid(true);
                    }
                    yielded = false;
                    rest = first_part(&mut chunk);
                    bytes += chunk.len();
                    more = gathered.take(chunk, parser, &mut batch);
                }
                Some(Ok(None)) => {
                    ended = Some(SseError::StreamEnded { url: url.clone() });
                    break;
                }
                Some(Err(source)) => {
                    ended = Some(SseError::from_stream(url.clone(), source));
                    break;
                }
                None if !yielded && bytes < YIELD_BELOW_BYTES && yields.next() => {
                    yielded = true;
                    tokio::task::yield_now().await;
                }
                None => {
                    if yielded {
                        yields.paid(false);
                    }
                    break;
                }
            }
        }
        more = gathered.parse(parser, &mut batch);
        *unreported += bytes as u64;
        if !batch.is_empty() {
            // Waiting for the budget holds only the cost, so that this future keeps one copy
            // of the batch, not three (its inline report is 120 bytes, per source).
            let received = std::mem::take(unreported);
            let credit = reports.credit(received, &batch).await;
            if !reports.send_with(credit, received, batch) {
                // The ECS side is gone (app exit): stop quietly.
                return Err(SseError::StreamEnded { url });
            }
        }
        if !more {
            return Ok(());
        }
        if let Some(error) = ended {
            return Err(error);
        }
    }
}

/// The next body chunk, within the read timeout; the stream's end is an error (it ended).
async fn next_chunk(
    response: &mut reqwest::Response,
    read_timeout: Option<Duration>,
    url: &SourceUrl,
) -> Result<bytes::Bytes, SseError> {
    let next = response.chunk();
    let read = match read_timeout {
        Some(timeout) => {
            tokio::time::timeout(timeout, next)
                .await
                .map_err(|_| SseError::ReadTimeout {
                    url: url.clone(),
                    timeout,
                })?
        }
        None => next.await,
    };
    match read {
        Ok(Some(chunk)) => Ok(chunk),
        Ok(None) => Err(SseError::StreamEnded { url: url.clone() }),
        Err(source) => Err(SseError::from_stream(url.clone(), source)),
    }
}

/// A chunk over this many bytes is parsed and sent as parts of about this size, each its own
/// batch. hyper reads as much as the socket holds, up to about 400 KiB: on a fast stream of
/// short events that was one batch of 7,000 events whose reports (0.8 MiB) went past the byte
/// budget together, whatever the budget, and into one frame. In parts, what waits for the game
/// is the budget and one part. Smaller parts hold less but cost speed: with 32 KiB parts
/// `sse_tail` read LLM tokens 15–20 % slower (more batches and frames); 128 KiB parts cost
/// nothing measurable.
pub(crate) const PART_BYTES: usize = 128 * 1024;

/// Cuts `chunk` after its first part and returns the rest, if any. A part ends after a line end:
/// the last one within [`PART_BYTES`], or else the first one after (a line is never cut, so that
/// the parser need not collect it). A chunk without one is not cut.
fn first_part(chunk: &mut bytes::Bytes) -> Option<bytes::Bytes> {
    if chunk.len() <= PART_BYTES {
        return None;
    }
    let end = memchr::memrchr2(b'\n', b'\r', &chunk[..PART_BYTES])
        .or_else(|| memchr::memchr2(b'\n', b'\r', &chunk[PART_BYTES..]).map(|at| at + PART_BYTES))
        .map(|at| at + 1)?;
    (end < chunk.len()).then(|| chunk.split_off(end))
}

/// The small chunks of one batch, copied into one buffer of the batch's own and parsed together.
///
/// hyper reads into a buffer of 8 KiB or more and hands out each chunk as a slice of it. An event
/// over 76 bytes shares the chunk it came in, and so does the parser's last event ID until the
/// next ID comes.
/// While any slice of hyper's buffer lives, hyper cannot read into it again and allocates another:
/// a quiet stream's one small event held a whole buffer (at 10,000 sources, 4 KiB of memory a
/// source). Copied, a small chunk leaves hyper its buffer, and a burst of one-event chunks (axum
/// sends each event as a chunk of its own) is parsed in one go, its events sharing one buffer:
/// 15 % faster on chunk-per-event framing than parsing each chunk, where copying each chunk on its
/// own was 10 % slower. A large chunk is parsed where it lies.
#[derive(Default)]
struct Gathered(bytes::BytesMut);

impl Gathered {
    /// Chunks below this many bytes are copied.
    const SMALL: usize = 8 * 1024;
    /// What is gathered is parsed once it reaches this many bytes.
    const PARSE_AT: usize = 32 * 1024;

    /// Takes the next chunk of the batch. `false` once the done sentinel came (nothing after it
    /// is reported).
    fn take(
        &mut self,
        chunk: bytes::Bytes,
        parser: &mut StreamParser,
        batch: &mut Reports,
    ) -> bool {
        if chunk.len() < Self::SMALL {
            // A quiet stream's one chunk takes its own size; the second chunk of a burst makes
            // room for a whole parse's worth, so that a burst is not copied again as it grows.
            if !self.0.is_empty() && self.0.capacity() - self.0.len() < chunk.len() {
                self.0.reserve(Self::PARSE_AT);
            }
            self.0.extend_from_slice(&chunk);
            if self.0.len() < Self::PARSE_AT {
                return !parser.is_done();
            }
            return self.parse(parser, batch);
        }
        self.parse(parser, batch) && parser.feed(&chunk, batch)
    }

    /// Parses what was gathered. `false` once the done sentinel came.
    fn parse(&mut self, parser: &mut StreamParser, batch: &mut Reports) -> bool {
        if self.0.is_empty() {
            return !parser.is_done();
        }
        parser.feed(&std::mem::take(&mut self.0).freeze(), batch)
    }
}

/// At most this many reports, or this many body bytes, go into one coalesced batch.
const COALESCE_REPORTS: usize = 4096;
const COALESCE_BYTES: usize = 256 * 1024;
/// Below this many body bytes in the batch, a chunk that is not ready yet is waited for with
/// one yield.
const YIELD_BELOW_BYTES: usize = 32 * 1024;

/// Whether a batch waits one yield for a chunk not ready yet. A yield costs the IO thread a
/// turn of its event loop (a system call), and on a quiet stream it finds nothing: at 10,000
/// sources × 1 event/s, that was 8 % of the IO thread. After a yield that found nothing, the
/// next 1, 2, 4, ... 64 batches go without one; a yield that finds a chunk (a burst of small
/// HTTP chunks) makes every batch yield again.
#[derive(Default)]
struct Yields {
    /// Batches to go without a yield.
    skip: u32,
    /// What `skip` starts from after the next yield that finds nothing.
    backoff: u32,
}

impl Yields {
    const MAX_BACKOFF: u32 = 64;

    /// Whether this batch may yield.
    fn next(&mut self) -> bool {
        if self.skip == 0 {
            return true;
        }
        self.skip -= 1;
        false
    }

    /// What the last yield found.
    fn paid(&mut self, found_a_chunk: bool) {
        if found_a_chunk {
            self.backoff = 0;
        } else {
            self.backoff = (self.backoff * 2).clamp(1, Self::MAX_BACKOFF);
            self.skip = self.backoff;
        }
    }
}

/// `Retry-After`: delay seconds, or an HTTP date (a date in the past means now).
fn parse_retry_after(value: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(
        date.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// Checks the status and the Content-Type of a response. The body of a refused one is read, for
/// the error message, until `until`: a refusal whose body trickles or never ends must not hold
/// the source in `Connecting`.
pub(crate) async fn check(
    mut response: reqwest::Response,
    url: &SourceUrl,
    until: Instant,
) -> Result<reqwest::Response, SseError> {
    let url = url.clone();
    if response.status() != StatusCode::OK {
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| parse_retry_after(value.as_bytes()));
        let body = body_prefix(&mut response, until).await;
        return Err(SseError::Status {
            url,
            status,
            body,
            retry_after,
        });
    }
    let content_type = response.headers().get(CONTENT_TYPE);
    if !content_type.is_some_and(is_event_stream) {
        let content_type =
            content_type.map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        return Err(SseError::ContentType { url, content_type });
    }
    body_only(&mut response);
    Ok(response)
}

/// Only the body is read from here on: the headers and extensions go now instead of staying for
/// as long as the stream is open (over HTTP/2, 650 bytes per source). Not inlined into the
/// async fn, whose future would keep room for the new map.
fn body_only(response: &mut reqwest::Response) {
    *response.headers_mut() = HeaderMap::new();
    response.extensions_mut().clear();
}

/// `text/event-stream`, with any parameters, any case.
fn is_event_stream(value: &HeaderValue) -> bool {
    let essence = value
        .as_bytes()
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"text/event-stream")
}

/// The first [`SseError::BODY_PREFIX`] bytes of a refused response, for the error message: what
/// arrived by `until`.
async fn body_prefix(response: &mut reqwest::Response, until: Instant) -> String {
    let mut prefix = Vec::new();
    while prefix.len() < SseError::BODY_PREFIX {
        match tokio::time::timeout_at(until, response.chunk()).await {
            Ok(Ok(Some(chunk))) => prefix.extend_from_slice(&chunk),
            _ => break,
        }
    }
    prefix.truncate(SseError::BODY_PREFIX);
    String::from_utf8_lossy(&prefix).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_stream_yields_rarely_and_a_burst_every_batch() {
        let mut yields = Yields::default();
        let mut yielded = 0;
        for _ in 0..1000 {
            if yields.next() {
                yielded += 1;
                yields.paid(false);
            }
        }
        assert!(
            (16..=24).contains(&yielded),
            "a quiet stream: 1 batch in 64 yields, after the first few ({yielded})"
        );
        // A burst: the next yield finds a chunk, and every batch yields again.
        while !yields.next() {}
        yields.paid(true);
        assert!((0..100).all(|_| {
            let next = yields.next();
            yields.paid(true);
            next
        }));
    }

    /// hyper hands out each chunk as a slice of its read buffer, as here; it can read into that
    /// buffer again only once no slice of it is left.
    #[test]
    fn small_chunks_leave_the_read_buffer_to_hyper_and_are_parsed_together() {
        let url = SourceUrl::new("http://gather.test/");
        let mut parser =
            StreamParser::with_parts(Default::default(), "", url, None, Default::default());
        let mut batch = Reports::new();
        let mut gathered = Gathered::default();
        let mut read_buffer = bytes::BytesMut::with_capacity(16 * 1024);
        for event in [&b"id: 7\ndata: tick"[..], b"\n\n", b"data: tock\n\n"] {
            read_buffer.extend_from_slice(event);
            assert!(gathered.take(read_buffer.split().freeze(), &mut parser, &mut batch));
            assert!(
                read_buffer.try_reclaim(16 * 1024),
                "a small chunk must not keep hyper's buffer"
            );
        }
        assert!(batch.is_empty(), "parsed with the batch's last chunk");
        assert!(gathered.parse(&mut parser, &mut batch));
        let data: Vec<_> = batch
            .into_vec()
            .into_iter()
            .map(|report| match report {
                Report::Message(event) => {
                    (event.data().to_owned(), event.last_event_id().to_owned())
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            data,
            [("tick".into(), "7".into()), ("tock".into(), "7".into())]
        );

        // A large chunk is parsed where it lies, after what was gathered before it.
        let mut batch = Reports::new();
        read_buffer.extend_from_slice(b"data: small\n\n");
        gathered.take(read_buffer.split().freeze(), &mut parser, &mut batch);
        read_buffer.extend_from_slice(b"data: ");
        read_buffer.resize(Gathered::SMALL, b'x');
        read_buffer.extend_from_slice(b"\n\n");
        let large = read_buffer.split().freeze();
        let start = large.as_ptr();
        assert!(gathered.take(large, &mut parser, &mut batch));
        let batch = batch.into_vec();
        assert_eq!(batch.len(), 2);
        assert!(matches!(&batch[0], Report::Message(event) if event.data() == "small"));
        assert!(
            matches!(&batch[1], Report::Message(event) if event.data().as_ptr() == start.wrapping_add(6))
        );
        assert!(
            !read_buffer.try_reclaim(16 * 1024),
            "the large event shares hyper's buffer"
        );
    }

    /// The game's thread keeps each emptied list of events in the byte budget's room; the next
    /// batch that starts a list fills the oldest of them, and a batch of small chunks, which
    /// needs none, leaves them.
    #[test]
    fn a_batch_that_starts_a_list_fills_one_the_game_kept() {
        let budget = crate::budget::ByteBudget::new(1 << 20);
        let (older, newer) = (Vec::with_capacity(4096), Vec::with_capacity(4096));
        let (older_at, newer_at) = (older.as_ptr(), newer.as_ptr());
        budget.keep(older);
        budget.keep(newer);
        let (tx, _rx) = async_channel::unbounded();
        let reports = ReportSender::new(
            tx,
            Some(budget.clone()),
            bevy::prelude::Entity::PLACEHOLDER,
            1,
        );
        let url = SourceUrl::new("http://lists.test/");
        let mut parser =
            StreamParser::with_parts(Default::default(), "", url, None, Default::default())
                .reusing_lists_of(&reports);
        let mut gathered = Gathered::default();

        let mut small = Reports::new();
        assert!(gathered.take(bytes::Bytes::from("data: one\n\n"), &mut parser, &mut small));
        assert!(gathered.parse(&mut parser, &mut small));
        assert_eq!(
            small.listed().capacity(),
            0,
            "a quiet stream's batch takes no list"
        );

        let mut batch = Reports::new();
        let chunk = bytes::Bytes::from("data: tick\n\n".repeat(1000));
        assert!(gathered.take(chunk, &mut parser, &mut batch));
        let listed = batch.listed();
        assert_eq!(listed.as_ptr(), older_at, "the oldest kept list");
        assert_eq!(listed.len(), 1000);
        assert!(listed.iter().all(|event| event.data() == "tick"));

        let mut next = Reports::new();
        let chunk = bytes::Bytes::from("data: tock\n\n".repeat(1000));
        assert!(gathered.take(chunk, &mut parser, &mut next));
        assert_eq!(next.listed().as_ptr(), newer_at);
        assert_eq!(next.listed().len(), 1000);

        // A source with decoders lists no messages: it leaves the kept list to others.
        budget.keep(Vec::with_capacity(4096));
        let decoder = crate::typed::Decoder {
            decode: |event| Err(Box::new((event, String::new()))),
            type_name: "Unused",
        };
        let mut decoding = StreamParser::with_parts(
            Default::default(),
            "",
            SourceUrl::new("http://typed.test/"),
            None,
            [(Box::from("other"), decoder)].into(),
        )
        .reusing_lists_of(&reports);
        let mut typed = Reports::new();
        assert!(gathered.take(
            bytes::Bytes::from("data: tick\n\n".repeat(1000)),
            &mut decoding,
            &mut typed
        ));
        assert_eq!(typed.listed().capacity(), 0);
        assert_eq!(budget.spare_list().capacity(), 4096, "still kept");
    }

    /// The batches `receive` sends for a body that arrives as `chunks`.
    fn batches_of(chunks: Vec<bytes::Bytes>) -> Vec<crate::transport::ReportBatch> {
        let body = reqwest::Body::wrap_stream(futures_lite::stream::iter(
            chunks.into_iter().map(Ok::<_, std::io::Error>),
        ));
        let response = hyper::Response::builder()
            .header(CONTENT_TYPE, "text/event-stream")
            .body(body)
            .unwrap();
        let mut response = reqwest::Response::from(response);
        let url = SourceUrl::new("http://parts.test/");
        let mut parser =
            StreamParser::with_parts(Default::default(), "", url, None, Default::default());
        let (tx, rx) = async_channel::unbounded();
        let reports = ReportSender::new(tx, None, bevy::prelude::Entity::PLACEHOLDER, 1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let ended = runtime.block_on(receive(&mut response, &mut parser, None, &reports));
        assert!(
            matches!(ended, Err(SseError::StreamEnded { .. })),
            "{ended:?}"
        );
        drop(reports);
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    /// One read of a fast stream of short events (hyper reads up to about 400 KiB) goes to the
    /// game in parts, each its own batch, every event once and in order.
    #[test]
    fn a_large_chunk_is_sent_in_parts_cut_at_line_ends() {
        let mut body = String::new();
        let mut id = 0;
        while body.len() < 400 * 1024 {
            body.push_str(&format!(
                "id: {id}\ndata: {{\"content\":\"token {id}\"}}\n\n"
            ));
            id += 1;
        }
        let batches = batches_of(vec![bytes::Bytes::from(body.clone())]);
        // The first batch reports the stream open.
        let parts: Vec<u64> = batches.iter().skip(1).map(|batch| batch.received).collect();
        assert_eq!(parts.iter().sum::<u64>(), body.len() as u64);
        assert!(
            parts.len() == body.len().div_ceil(PART_BYTES)
                && parts.iter().all(|&part| part <= PART_BYTES as u64),
            "parts of {parts:?} bytes"
        );
        let ids: Vec<String> = batches
            .into_iter()
            .flat_map(|batch| batch.reports.into_vec())
            .filter_map(|report| match report {
                Report::Message(event) => Some(event.last_event_id().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(ids, (0..id).map(|id| id.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn a_part_ends_after_a_line_end_and_a_long_line_is_not_cut() {
        let cut = |text: String| {
            let mut chunk = bytes::Bytes::from(text);
            let rest = first_part(&mut chunk);
            (chunk.len(), rest.map(|rest| rest.len()))
        };
        // Up to PART_BYTES, nothing is cut.
        assert_eq!(cut("x".repeat(PART_BYTES)), (PART_BYTES, None));
        // After the last line end within PART_BYTES (LF, CR or the LF of a CRLF)...
        let line = "data: 0123456789\r\n";
        let lines = line.repeat(PART_BYTES / line.len() + 10);
        let within = PART_BYTES / line.len() * line.len();
        assert_eq!(cut(lines.clone()), (within, Some(lines.len() - within)));
        let text = format!("{}\r{}", "x".repeat(PART_BYTES - 10), "y".repeat(100));
        assert_eq!(cut(text), (PART_BYTES - 9, Some(100)));
        // ...else after the first one past it: a line is never cut...
        let text = format!("{}\n\n{}", "x".repeat(PART_BYTES + 5), "y".repeat(10));
        assert_eq!(cut(text), (PART_BYTES + 6, Some(11)));
        // ...and a chunk with no line end after PART_BYTES is not cut at all.
        assert_eq!(cut("x".repeat(PART_BYTES * 3)), (PART_BYTES * 3, None));
        let text = format!("{}\n", "x".repeat(PART_BYTES * 3));
        assert_eq!(cut(text), (PART_BYTES * 3 + 1, None));
    }

    /// The task of every open source holds this future: at 10,000 sources each KiB of it is
    /// 10 MB. It was 4,264 bytes while the request and the parser were passed by value; 1,456
    /// now.
    #[test]
    fn an_attempt_future_stays_small() {
        let url = SourceUrl::new("http://size.test/");
        let request = AttemptRequest {
            client: None,
            lane: None,
            request: reqwest::Request::new(
                reqwest::Method::GET,
                "http://size.test/".parse().unwrap(),
            ),
            url,
            response_timeout: None,
            read_timeout: None,
            done_sentinel: None,
            last_event_id: String::new(),
            limits: Default::default(),
            decoders: Default::default(),
        };
        let (tx, _rx) = async_channel::unbounded();
        let reports = ReportSender::new(tx, None, bevy::prelude::Entity::PLACEHOLDER, 1);
        let future = run_attempt(Box::new(request), reports);
        let size = std::mem::size_of_val(&future);
        assert!(size <= 2048, "the attempt future is {size} bytes");
    }
}
