//! The seam between the IO side and the ECS side.
//!
//! The ECS side hands a transport an attempt request (a ready HTTP request and what the stream
//! needs); the transport runs the attempt and sends ordered reports (opened, event, comment,
//! retry, id, ended with why) back over the plugin's channel (bounded in bytes), tagged with
//! the source entity and the attempt's id; dropping the handle it returned cancels the attempt. Nothing
//! else crosses. The seam is crate-internal for now; [`MemoryTransport`] is its public face for
//! tests.
//!
//! Two transports exist: the IO thread (`io.rs`, reqwest on a current-thread tokio runtime),
//! and [`MemoryTransport`], which a test scripts by hand. A fetch-based web transport would be a
//! third.

mod memory;

pub use memory::{MemoryAttempt, MemoryTransport};

use std::sync::Arc;
use std::time::Duration;

use bevy::prelude::Entity;

use crate::budget::{ByteBudget, Credit};
use crate::error::{SourceUrl, SseError};
use crate::lanes::LaneSlot;
use crate::parser::{MessageEvent, ParseError, Parsed, ParserLimits, Sink, SseParser};
use crate::typed::{self, Decoded, Decoders};

/// One thing an attempt reports, in stream order.
#[derive(Debug)]
pub(crate) enum Report {
    /// The server answered 200 with `text/event-stream`.
    Opened,
    Message(MessageEvent),
    /// The next `count` events of the batch's own list ([`Reports`]). Never applied as it is:
    /// [`BatchReports`] hands out each message.
    Messages {
        count: usize,
    },
    /// A message whose payload the source's decoder for its name turned into a value, the two
    /// in one allocation (inline, the variant would make every report larger).
    Typed(Box<dyn Decoded>),
    Comment(String),
    Retry(Duration),
    LastEventId(String),
    /// A problem the stream survives (an event over the size limit was dropped).
    Problem(SseError),
    /// The attempt failed or the stream ended; always the last report of an attempt...
    Ended(SseError),
    /// ...or the stream sent the source's done sentinel: close, no error.
    Done,
}

/// A batch's reports: one inline (a quiet stream's batch, sent and applied without a heap
/// allocation), more on the heap; and, for a large chunk, its messages in a list of their own.
///
/// A message taken out of a [`Report`] is read field by field (the enum keeps its tag in the
/// event's retry) and then copied whole into the game's message buffer: the copy's wide loads
/// wait for the narrow stores before them (a failed store-to-load forwarding), and that one
/// load was two fifths of the receive step on a fast stream. Messages in a list of their own
/// are copied as they lie, with no tag to look at.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    list: smallvec::SmallVec<[Report; 1]>,
    events: Vec<MessageEvent>,
}

impl Reports {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn one(report: Report) -> Self {
        Self {
            list: smallvec::smallvec![report],
            events: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, report: Report) {
        self.list.push(report);
    }

    /// How many reports, each message counted (and each run of listed ones once more).
    pub(crate) fn len(&self) -> usize {
        self.list.len() + self.events.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The list of events (for tests).
    #[cfg(test)]
    pub(crate) fn listed(&self) -> &Vec<MessageEvent> {
        &self.events
    }

    /// The bytes the reports take.
    fn size(&self) -> usize {
        self.list.capacity() * std::mem::size_of::<Report>()
            + self.events.capacity() * std::mem::size_of::<MessageEvent>()
    }

    /// Counts the last `count` listed events as a run, after the reports before them.
    #[inline]
    fn count_listed(&mut self, count: usize) {
        if count > 0 {
            self.list.push(Report::Messages { count });
        }
    }

    /// The reports, each listed message as a [`Report::Message`] (for tests).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn into_vec(self) -> Vec<Report> {
        let mut reports = BatchReports::new(self);
        std::iter::from_fn(|| reports.next()).collect()
    }
}

/// The last event ID of the `run`th of `events` (the runs' counts add up to the listed
/// events; read with `get` all the same).
fn last_of(events: &[MessageEvent], run: usize) -> &str {
    run.checked_sub(1)
        .and_then(|last| events.get(last))
        .map_or("", MessageEvent::last_event_id)
}

/// What is left of a batch's reports as the game's thread applies them.
pub(crate) struct BatchReports {
    reports: smallvec::IntoIter<[Report; 1]>,
    events: std::vec::IntoIter<MessageEvent>,
    /// How many events of the run being taken are left.
    run: usize,
}

/// The next messages of a batch: a run of listed events, or one message.
pub(crate) enum NextMessages<'a> {
    Listed(std::iter::Take<&'a mut std::vec::IntoIter<MessageEvent>>),
    One(MessageEvent),
}

impl BatchReports {
    pub(crate) fn new(reports: Reports) -> Self {
        Self {
            reports: reports.list.into_iter(),
            events: reports.events.into_iter(),
            run: 0,
        }
    }

    /// Whether every report was taken.
    pub(crate) fn is_empty(&self) -> bool {
        self.run == 0 && self.reports.len() == 0
    }

    /// The batch's list of events, emptied (what was not taken is dropped), its capacity kept.
    pub(crate) fn into_list(self) -> Vec<MessageEvent> {
        // Collected in place: the iterator's own buffer comes back.
        self.events.filter(|_| false).collect()
    }

    /// At least as many as are left, each message counted.
    pub(crate) fn upper_bound(&self) -> usize {
        self.reports.len() + self.events.len()
    }

    /// How many messages in a row, at most `limit`, are left from the next report on, and the
    /// last event ID of the last of them.
    pub(crate) fn message_run(&self, limit: usize) -> (usize, &str) {
        let mut run = self.run.min(limit);
        let mut events = self.events.as_slice();
        let mut last = last_of(events, run);
        events = events.get(self.run..).unwrap_or_default();
        for report in self.reports.as_slice() {
            if run == limit {
                break;
            }
            match report {
                Report::Message(event) => {
                    run += 1;
                    last = event.last_event_id();
                }
                Report::Messages { count } => {
                    let take = (*count).min(limit - run);
                    run += take;
                    last = last_of(events, take);
                    events = events.get(*count..).unwrap_or_default();
                }
                _ => break,
            }
        }
        (run, last)
    }

    /// The next messages, at most `max` (at least 1), if the next report is a message: the
    /// caller takes every one it is handed.
    #[inline]
    pub(crate) fn next_messages(&mut self, max: usize) -> Option<NextMessages<'_>> {
        if self.run == 0 {
            match self.reports.as_slice().first()? {
                Report::Message(_) => {
                    return match self.reports.next() {
                        Some(Report::Message(event)) => Some(NextMessages::One(event)),
                        _ => None,
                    };
                }
                Report::Messages { count } => {
                    self.run = *count;
                    self.reports.next();
                }
                _ => return None,
            }
        }
        let take = self.run.min(max);
        self.run -= take;
        Some(NextMessages::Listed(self.events.by_ref().take(take)))
    }

    /// The next report; listed messages as [`Report::Message`]s.
    pub(crate) fn next(&mut self) -> Option<Report> {
        if self.run == 0
            && !matches!(
                self.reports.as_slice().first(),
                Some(Report::Messages { .. })
            )
        {
            return self.reports.next();
        }
        match self.next_messages(1)? {
            NextMessages::Listed(mut one) => one.next().map(Report::Message),
            NextMessages::One(event) => Some(Report::Message(event)),
        }
    }
}

/// Reports of one attempt of one source, in stream order.
#[derive(Debug)]
pub(crate) struct ReportBatch {
    pub(crate) entity: Entity,
    pub(crate) attempt: u64,
    /// Body bytes read since the attempt's last batch (counted on the IO side): a field, not a
    /// report, so that a one-event batch is one report (at 10,000 sources, every report of a
    /// frame is a cache miss on the game's thread).
    pub(crate) received: u64,
    pub(crate) reports: Reports,
    /// The batch's share of the byte budget, given back when the batch is dropped.
    pub(crate) credit: Credit,
}

/// Everything an attempt needs, built by the ECS side when it starts.
pub(crate) struct AttemptRequest {
    /// The HTTP client, for a transport that [needs one](Transport::needs_client).
    pub(crate) client: Option<crate::lanes::HttpClient>,
    /// The attempt's place on its client's HTTP/2 lane, held until the attempt ends.
    pub(crate) lane: Option<LaneSlot>,
    /// The request, headers and body included, exactly as it goes out.
    pub(crate) request: reqwest::Request,
    pub(crate) url: SourceUrl,
    pub(crate) response_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) done_sentinel: Option<String>,
    /// What the parser starts from (the request carries it as `Last-Event-ID`, if valid).
    pub(crate) last_event_id: String,
    pub(crate) limits: ParserLimits,
    /// The source's decoders by event name.
    pub(crate) decoders: Decoders,
}

/// Where an attempt sends its reports: the plugin's channel, with the source and attempt filled
/// in.
#[derive(Clone)]
pub(crate) struct ReportSender {
    tx: async_channel::Sender<ReportBatch>,
    /// The plugin's byte budget ([`SsePlugin::max_queued_bytes`](crate::plugin::SsePlugin)),
    /// which [`send`](Self::send) waits for.
    budget: Option<Arc<ByteBudget>>,
    entity: Entity,
    attempt: u64,
}

impl ReportSender {
    pub(crate) fn new(
        tx: async_channel::Sender<ReportBatch>,
        budget: Option<Arc<ByteBudget>>,
        entity: Entity,
        attempt: u64,
    ) -> Self {
        Self {
            tx,
            budget,
            entity,
            attempt,
        }
    }

    fn batch(&self, received: u64, reports: Reports, credit: Credit) -> ReportBatch {
        ReportBatch {
            entity: self.entity,
            attempt: self.attempt,
            received,
            reports,
            credit,
        }
    }

    /// Sends, waiting while the byte budget is spent (backpressure).
    /// `false`: the ECS side is gone.
    pub(crate) async fn send(&self, reports: Reports) -> bool {
        self.send_received(0, reports).await
    }

    /// [`send`](Self::send) with the body bytes read since the last batch.
    pub(crate) async fn send_received(&self, received: u64, reports: Reports) -> bool {
        let credit = self.credit(received, &reports).await;
        self.send_with(credit, received, reports)
    }

    /// Waits until the byte budget has room for a batch of `reports` and `received` body bytes,
    /// and takes it. The future holds only the cost.
    pub(crate) fn credit(
        &self,
        received: u64,
        reports: &Reports,
    ) -> impl Future<Output = Credit> + use<> {
        let budget = self.budget.clone();
        let cost = cost(received, reports);
        async move {
            match budget {
                Some(budget) => budget.acquire(cost).await,
                None => Credit::default(),
            }
        }
    }

    /// Sends a batch whose [`credit`](Self::credit) was taken: at once, since the channel is
    /// bounded by the budget alone. `false`: the ECS side is gone.
    pub(crate) fn send_with(&self, credit: Credit, received: u64, reports: Reports) -> bool {
        self.tx
            .try_send(self.batch(received, reports, credit))
            .is_ok()
    }

    /// Sends without waiting and outside the byte budget (the in-memory transport, bounded by
    /// its script; the channel is bounded by that budget only). Nothing is sent once the ECS
    /// side is gone.
    pub(crate) fn send_now(&self, received: u64, reports: Reports) {
        let _ = self
            .tx
            .try_send(self.batch(received, reports, Credit::default()));
    }
}

/// What a batch holds on to until the game applies it: its reports, and the body bytes read for
/// it (its events over 76 bytes share those buffers; shorter ones hold copies, and for them the
/// body bytes are counted though the buffer may be free: an upper bound).
fn cost(received: u64, reports: &Reports) -> usize {
    let body = usize::try_from(received).unwrap_or(usize::MAX);
    body.saturating_add(reports.size())
}

/// A running attempt: dropping it cancels the attempt.
pub(crate) struct AttemptHandle(#[allow(dead_code)] Box<dyn Send + Sync>);

impl AttemptHandle {
    pub(crate) fn new(guard: impl Send + Sync + 'static) -> Self {
        Self(Box::new(guard))
    }
}

/// Runs attempts. Implementations send every report of an attempt through its
/// [`ReportSender`], the last one being [`Report::Ended`] or [`Report::Done`], unless the
/// handle was dropped first.
pub(crate) trait Transport: Send + Sync + 'static {
    fn start(&self, request: AttemptRequest, reports: ReportSender) -> AttemptHandle;

    /// Whether attempts need the shared `reqwest::Client` (building one loads the TLS roots).
    fn needs_client(&self) -> bool {
        true
    }
}

/// The parser of one attempt, turning body chunks into reports; shared by the transports, so
/// that bytes a test scripts go through exactly what bytes from the network go through.
pub(crate) struct StreamParser {
    parser: SseParser,
    url: SourceUrl,
    done_sentinel: Option<String>,
    done: bool,
    decoders: Decoders,
    /// Where a batch that starts a list of events takes one the game emptied
    /// ([`ByteBudget::keep`]); none for the in-memory transport and the tests.
    kept_lists: Option<Arc<ByteBudget>>,
}

impl StreamParser {
    pub(crate) fn new(request: &AttemptRequest) -> Self {
        Self::with_parts(
            request.limits,
            &request.last_event_id,
            request.url.clone(),
            request.done_sentinel.clone(),
            request.decoders.clone(),
        )
    }

    pub(crate) fn with_parts(
        limits: ParserLimits,
        last_event_id: &str,
        url: SourceUrl,
        done_sentinel: Option<String>,
        decoders: Decoders,
    ) -> Self {
        Self {
            parser: SseParser::with_limits(limits).with_last_event_id(last_event_id),
            url,
            done_sentinel,
            done: false,
            decoders,
            kept_lists: None,
        }
    }

    /// Lists of events start from those the game emptied, kept in the byte budget of `reports`.
    pub(crate) fn reusing_lists_of(mut self, reports: &ReportSender) -> Self {
        self.kept_lists = reports.budget.clone();
        self
    }

    /// Parses one chunk into `reports`. Returns `false` once the done sentinel arrived: nothing
    /// after it is reported, and the stream should end with [`Report::Done`].
    pub(crate) fn feed(&mut self, chunk: &bytes::Bytes, reports: &mut Reports) -> bool {
        if self.done {
            return false;
        }
        let lists = chunk.len() >= LIST_FROM;
        // A list starts here, unless decoders take the messages (their reports are not listed).
        if lists
            && reports.events.capacity() == 0
            && self.decoders.is_empty()
            && let Some(budget) = &self.kept_lists
        {
            reports.events = budget.spare_list();
        }
        let mut sink = ReportSink {
            lists,
            listed: 0,
            sentinel: self.done_sentinel.as_deref(),
            done: &mut self.done,
            url: &self.url,
            decoders: &self.decoders,
            reports,
        };
        let fed = self.parser.feed_bytes_into(chunk, &mut sink);
        sink.reports.count_listed(sink.listed);
        if let Err(source) = fed
            && !self.done
        {
            reports.push(self.problem(source));
        }
        !self.done
    }

    /// Whether the done sentinel came.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    pub(crate) fn url(&self) -> &SourceUrl {
        &self.url
    }

    fn problem(&self, source: ParseError) -> Report {
        Report::Problem(SseError::Parse {
            url: self.url.clone(),
            source,
        })
    }
}

/// Chunks of at least this many bytes have their messages in the batch's list of events
/// ([`Reports`]). A smaller chunk's (a quiet stream's one event) are reports, as a one-event
/// batch is one report, inline: no allocation for a list.
const LIST_FROM: usize = 4 * 1024;

/// Where [`StreamParser::feed`] has the parser put what it reads: reports in `reports`, short
/// events built in place there.
struct ReportSink<'a> {
    /// Messages go to the batch's list of events (a large chunk).
    lists: bool,
    /// Events listed since the last report: the run's count goes in before the next report
    /// (and at the end of the chunk), not looked up and raised at each event.
    listed: usize,
    sentinel: Option<&'a str>,
    /// The done sentinel came: nothing more is reported.
    done: &'a mut bool,
    url: &'a SourceUrl,
    decoders: &'a [(Box<str>, typed::Decoder)],
    reports: &'a mut Reports,
}

impl Sink for ReportSink<'_> {
    #[inline(always)]
    fn item(&mut self, item: Parsed<'_>) {
        if *self.done {
            return;
        }
        let report = match item {
            Parsed::Message(event) if self.sentinel == Some(event.data()) => {
                *self.done = true;
                return;
            }
            Parsed::Message(event) if self.decoders.is_empty() => {
                if self.lists {
                    self.listed += 1;
                    self.reports.events.push(event);
                    return;
                }
                Report::Message(event)
            }
            Parsed::Message(event) => decode(self.decoders, self.url, event, self.reports),
            Parsed::Comment(text) => Report::Comment(text.into_owned()),
            Parsed::Retry(retry) => Report::Retry(retry),
            Parsed::LastEventId(id) => Report::LastEventId(id.into_owned()),
        };
        // Never listed while there are decoders (above): their reports follow any run.
        self.reports.count_listed(std::mem::take(&mut self.listed));
        self.reports.push(report);
    }

    /// Events that the sink passes on as they are: not a sentinel's (compared first), not a
    /// decoder's.
    #[inline(always)]
    fn place(&mut self) -> Option<&mut MessageEvent> {
        if *self.done || self.sentinel.is_some() || !self.decoders.is_empty() {
            return None;
        }
        // Written where it stays: `push` builds its argument apart first, then copies it.
        if self.lists {
            self.listed += 1;
            let events = &mut self.reports.events;
            events.extend(std::iter::once_with(MessageEvent::empty));
            return events.last_mut();
        }
        self.reports.list.extend(std::iter::once_with(|| {
            Report::Message(MessageEvent::empty())
        }));
        match self.reports.list.last_mut() {
            Some(Report::Message(event)) => Some(event),
            _ => None,
        }
    }
}

/// The report for `event` on a source that decodes some event names: kept out of the
/// parser's loop, which sources without decoders run without it.
#[inline(never)]
fn decode(
    decoders: &[(Box<str>, typed::Decoder)],
    url: &SourceUrl,
    event: MessageEvent,
    reports: &mut Reports,
) -> Report {
    let Some(decoder) = typed::find(decoders, event.event_type()) else {
        return Report::Message(event);
    };
    match (decoder.decode)(event) {
        Ok(typed) => Report::Typed(typed),
        Err(undecoded) => {
            let (event, problem) = *undecoded;
            let name = event.event_type().to_owned();
            reports.push(Report::Message(event));
            Report::Problem(SseError::Decode {
                url: url.clone(),
                event: name,
                type_name: decoder.type_name,
                problem,
            })
        }
    }
}

/// For the tests and the fuzz targets: the parser's items and a batch's reports as text to
/// compare, and a batch taken back as the receive step takes it.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod compare {
    use bytes::Bytes;

    use super::*;

    /// What the public parser hands a closure for `chunks`, as `keep` keeps it.
    pub(crate) fn parsed<T>(
        chunks: &[Bytes],
        mut keep: impl FnMut(Parsed<'_>) -> Option<T>,
    ) -> Vec<T> {
        let mut kept = Vec::new();
        let mut parser = SseParser::new();
        for chunk in chunks {
            parser
                .feed_bytes(chunk, |item| kept.extend(keep(item)))
                .expect("within the default limits");
        }
        kept
    }

    /// The plugin's parser of a source with default settings.
    pub(crate) fn stream_parser() -> StreamParser {
        let url = SourceUrl::new("http://reports.test/");
        StreamParser::with_parts(Default::default(), "", url, None, Default::default())
    }

    pub(crate) fn parsed_text(item: Parsed<'_>) -> String {
        match item {
            Parsed::Message(event) => format!("{event:?}"),
            Parsed::Comment(text) => format!("comment {text}"),
            Parsed::Retry(retry) => format!("retry {retry:?}"),
            Parsed::LastEventId(id) => format!("id {id}"),
        }
    }

    /// A report as [`parsed_text`] writes the parser's item it came from.
    pub(crate) fn report_text(report: Report) -> String {
        match report {
            Report::Message(event) => format!("{event:?}"),
            Report::Comment(text) => format!("comment {text}"),
            Report::Retry(retry) => format!("retry {retry:?}"),
            Report::LastEventId(id) => format!("id {id}"),
            other => format!("{other:?}"),
        }
    }

    /// Takes `reports` back as the receive step does: runs of at most `max` messages (at least
    /// 1), each measured first with [`BatchReports::message_run`], the other reports one by one;
    /// every message as a [`Report::Message`]. Panics where a batch hands out more messages than
    /// asked or an empty run, a run is not what `message_run` said (its length, its last event
    /// ID), the upper bound is below a run, or a report is left.
    pub(crate) fn take_in_runs(reports: Reports, max: usize) -> Vec<Report> {
        let max = max.max(1);
        let mut batch = BatchReports::new(reports);
        let mut taken = Vec::new();
        loop {
            let left = batch.upper_bound();
            let (run, last) = batch.message_run(max);
            let last = last.to_owned();
            let before = taken.len();
            while taken.len() - before < run {
                let asked = run - (taken.len() - before);
                let had = taken.len();
                match batch.next_messages(asked) {
                    Some(NextMessages::Listed(events)) => {
                        taken.extend(events.map(Report::Message));
                    }
                    Some(NextMessages::One(event)) => taken.push(Report::Message(event)),
                    None => panic!("message_run said {run} messages, {} came", had - before),
                }
                assert!(
                    (1..=asked).contains(&(taken.len() - had)),
                    "asked for {asked} messages, got {}",
                    taken.len() - had
                );
            }
            if run > 0 {
                assert!(left >= run, "upper bound {left} below a run of {run}");
                if let Some(Report::Message(event)) = taken.last() {
                    assert_eq!(event.last_event_id(), last, "the run's last event ID");
                }
                continue;
            }
            match batch.next() {
                Some(report) => taken.push(report),
                None => break,
            }
        }
        assert!(batch.is_empty(), "a batch with reports left");
        taken
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::compare::{parsed, parsed_text, report_text, stream_parser, take_in_runs};
    use super::*;

    fn events(item: Parsed<'_>) -> Option<MessageEvent> {
        match item {
            Parsed::Message(event) => Some(event),
            _ => None,
        }
    }

    /// A large chunk's messages go to the batch's list of events, a report counting each run
    /// of them; a small chunk's are reports. Taken back, they are the events the parser hands
    /// a closure, in their places among the other reports, and a run of messages across the
    /// list and the reports has the right length and last event ID.
    #[test]
    fn a_large_chunks_messages_are_listed_and_taken_back_in_order() {
        let mut stream = String::from("id: early\ndata: a small chunk\n\n");
        let split = stream.len();
        for i in 0..200 {
            stream.push_str(&match i % 4 {
                0 => format!("id: {i}\ndata: {i}\n\n"),
                1 => format!("event: tick\ndata: {i}\ndata: two lines\n\n"),
                2 => format!("retry: {i}\ndata: {} a long one\n\n", "y".repeat(80)),
                _ => format!(": comment {i}\ndata: after a comment\n\n"),
            });
        }
        let chunks = [
            Bytes::copy_from_slice(&stream.as_bytes()[..split]),
            Bytes::copy_from_slice(&stream.as_bytes()[split..]),
        ];
        assert!(chunks[1].len() >= LIST_FROM);
        let expected = parsed(&chunks, events);
        let mut parser = stream_parser();
        let mut reports = Reports::new();
        assert!(parser.feed(&chunks[0], &mut reports));
        assert!(
            reports.events.is_empty() && matches!(reports.list[..], [Report::Message(_)]),
            "a small chunk's message is a report"
        );
        assert!(parser.feed(&chunks[1], &mut reports));
        assert_eq!(reports.events.len(), 200);
        // The small chunk's report, then runs of messages between the 50 retries and the 50
        // comments: one run before the first retry, then one after each retry and comment (a
        // run after a comment goes on into the next group).
        let runs = 1 + 50 + 50;
        assert_eq!(reports.list.len(), 1 + 50 + 50 + runs);

        let mut taken = BatchReports::new(reports);
        assert_eq!(
            taken.message_run(usize::MAX),
            (3, "0"),
            "the small chunk's, then the first run"
        );
        assert_eq!(taken.message_run(2), (2, "0"));
        assert_eq!(taken.message_run(1), (1, "early"));
        let mut built = Vec::new();
        while let Some(report) = taken.next() {
            if let Report::Message(event) = report {
                built.push(event);
            }
            if taken.run == 1 {
                // Halfway through a run.
                assert_eq!(taken.message_run(5).0, 1);
            }
        }
        assert_eq!(built, expected);
        assert!(taken.is_empty());
    }

    /// Lines and pieces of lines that streams are made of: every field, every line end, a value
    /// long enough for a shared event, broken UTF-8 and NUL, and pieces that leave a line open
    /// across a cut. Many of them make chunks large enough for a list of events.
    const PIECES: &[&[u8]] = &[
        b"data: x\n",
        b"data: yz\n",
        b"data\n",
        b"data:7\n",
        b"\n",
        b"\n",
        b"\r\n",
        b"\r",
        b"event: tick\n",
        b"event: message\n",
        b"event\n",
        b"id: 12\n",
        b"id\n",
        b"id: \xE2\x82\xAC\n",
        b"retry: 1500\n",
        b"retry: x\n",
        b": a comment\n",
        b"data: a longer piece of data, to make its event a shared one, past the inline form\n",
        b"data: \xFF broken\n",
        b"data: \xE2\x82",
        b"data: open",
        b"\0",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        /// Whatever the stream and its chunking, a batch's reports, taken back as the receive
        /// step takes them (runs of at most `max` messages), are the items the parser hands a
        /// closure, in order.
        #[test]
        fn reports_with_listed_messages_are_the_parsers_items_in_any_chunking(
            tokens in proptest::collection::vec(proptest::sample::select(PIECES), 0..1500),
            cuts in proptest::collection::vec(0usize..20_000, 0..4),
            max in proptest::sample::select(vec![1usize, 3, 64, usize::MAX]),
        ) {
            let stream = tokens.concat();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut.min(stream.len())).collect();
            cuts.push(stream.len());
            cuts.sort_unstable();
            let mut start = 0;
            let chunks: Vec<Bytes> = cuts
                .into_iter()
                .map(|end| {
                    let chunk = Bytes::copy_from_slice(&stream[start..end]);
                    start = end;
                    chunk
                })
                .collect();
            let expected = parsed(&chunks, |item| Some(parsed_text(item)));
            let mut parser = stream_parser();
            let mut reported = Vec::new();
            for chunk in &chunks {
                let mut reports = Reports::new();
                proptest::prop_assert!(parser.feed(chunk, &mut reports));
                reported.extend(take_in_runs(reports, max).into_iter().map(report_text));
            }
            proptest::prop_assert_eq!(reported, expected);
        }
    }

    /// Short events built in place in the batch are the events the parser hands a closure: every
    /// field, over every way an event is made (one chunk, an ID from an earlier chunk, a split
    /// event, a shared one, with and without a type and a retry), in any chunking.
    #[test]
    fn events_built_in_the_batch_are_the_events_the_parser_hands_out() {
        const LONG: &str =
            "a longer event, more than the seventy-six bytes of the inline form of a short one";
        let stream = [
            "data: one\n\n",
            "id: 7\nevent: join\ndata: ada\nretry: 1500\n\n",
            "data: the ID came before\n\n",
            "event: message\ndata: two\ndata: lines\n\n",
            &format!("id: 8\ndata: {LONG}\n\n"),
            ": a comment\n",
            "event: tick\ndata: {\"x\":1}\n\n",
        ]
        .concat();
        for chunk_len in [1, 3, 7, 16, 64, stream.len()] {
            let chunks: Vec<Bytes> = stream
                .as_bytes()
                .chunks(chunk_len)
                .map(Bytes::copy_from_slice)
                .collect();
            let expected = parsed(&chunks, events);
            let mut parser = stream_parser();
            let mut reports = Reports::new();
            for chunk in &chunks {
                assert!(parser.feed(chunk, &mut reports));
            }
            let built: Vec<MessageEvent> = reports
                .into_vec()
                .into_iter()
                .filter_map(|report| match report {
                    Report::Message(event) => Some(event),
                    _ => None,
                })
                .collect();
            assert_eq!(built, expected, "chunks of {chunk_len}");
            let fields: Vec<_> = built
                .iter()
                .map(|event| {
                    (
                        event.event_type(),
                        event.data(),
                        event.last_event_id(),
                        event.retry(),
                    )
                })
                .collect();
            let retry = Some(Duration::from_millis(1500));
            assert_eq!(
                fields,
                [
                    ("message", "one", "", None),
                    ("join", "ada", "7", retry),
                    ("message", "the ID came before", "7", None),
                    ("message", "two\nlines", "7", None),
                    ("message", LONG, "8", None),
                    ("tick", "{\"x\":1}", "8", None),
                ],
                "chunks of {chunk_len}"
            );
        }
    }
}
