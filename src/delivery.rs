//! The receive step: drain what the transport queued, share the frame fairly between sources,
//! and apply each report (messages and their handlers here; state changes in the lifecycle).

use std::collections::VecDeque;
use std::mem;
use std::num::NonZeroUsize;

use std::any::TypeId;

use bevy::ecs::component::ComponentId;
use bevy::ecs::entity::EntityHashMap;
use bevy::ecs::event::EventKey;
use bevy::ecs::system::SystemId;
use bevy::platform::collections::HashMap;
use bevy::platform::time::Instant;
use bevy::prelude::*;

use crate::budget::Credit;
use crate::diagnostics::{SseSourceStats, SseStats};
use crate::guard::{Flow, Token, has_observers_of};
use crate::lifecycle::{self, span_of};
use crate::message::{CloseReason, SseComment, SseErrored, SseMessage};
use crate::runtime::SseRuntime;
use crate::settings::SseSettings;
use crate::source::{LastEventId, ReconnectionTime};
use crate::transport::{BatchReports, NextMessages, Report, ReportBatch};
use crate::typed::Decoded;

/// How many reports a source may apply in one turn before the next source with reports gets
/// its turn.
const QUANTUM: usize = 256;

/// How many messages the step holds back before it writes them to the game in one go: enough
/// that a write costs little a message, few enough that the held copies stay small. Held for a
/// whole step, a fast stream's frame of messages took 2 MiB (a Vec that doubled as it grew)
/// beside Bevy's own two buffers of them.
const WRITE_EVERY: usize = 1024;

/// A run of at least this many messages in one batch goes to the game straight from the batch,
/// not through the held messages: one copy of each message less. Shorter runs are held, so
/// that many sources' few messages make one write.
const DIRECT_RUN: usize = 32;

/// Named handlers: BestHTTP's `On(eventName, handler)`.
#[derive(Component, Default)]
pub(crate) struct SseHandlers(pub(crate) HashMap<String, SystemId<In<SseMessage>>>);

/// Reports taken from the channel and not applied yet, per source, and the order in which
/// sources take turns.
#[derive(Resource)]
pub(crate) struct Inbox {
    /// Where each source with reports has its queue in `queues`.
    slots: EntityHashMap<usize>,
    /// The queues, where they stay while they are served: a queue is not moved in and out of
    /// a map at each turn (at 10,000 sources, copying them was a sixth of the step). A queue
    /// left empty keeps its capacity for the next source.
    queues: Vec<Queue>,
    /// Slots of `queues` that are free.
    free: Vec<usize>,
    /// Sources with reports, and their slots, in the order of their turns.
    turns: VecDeque<(Entity, usize)>,
    /// Batches held, at most `max_batches_per_frame`: what a frame takes in.
    held: usize,
    /// What every batch the step applies shares.
    step: Step,
}

impl FromWorld for Inbox {
    fn from_world(world: &mut World) -> Self {
        Self {
            slots: default(),
            queues: default(),
            free: default(),
            turns: default(),
            held: 0,
            step: Step {
                scratch: default(),
                tally: default(),
                ids: Ids {
                    message: world.register_event_key::<SseMessage>(),
                    handlers: world.register_component::<SseHandlers>(),
                },
            },
        }
    }
}

/// What every batch a step applies shares.
struct Step {
    /// Reused for the messages (and decoded values) written in one go.
    scratch: Unobserved,
    /// What the last source served delivered, not yet added to its counters.
    tally: Tally,
    ids: Ids,
}

/// Ids the step asks about for every batch, looked up once: `World::event_key` and
/// `World::get` look a type's id up by its `TypeId` each time (about 90 instructions; at 10,000
/// sources the step's lookups were a fifth of its instructions).
#[derive(Clone, Copy)]
struct Ids {
    /// [`SseMessage`]'s, as an event observers watch.
    message: EventKey,
    /// [`SseHandlers`]', which only sources with named handlers have.
    handlers: ComponentId,
}

/// A source's delivered messages and bytes, added to its [`SseSourceStats`] before the step
/// applies another source's batch (whose observers may read them) or ends: one update for a
/// source's consecutive batches (a stream of one chunk per event is thousands of them a frame),
/// not one for each.
#[derive(Default)]
struct Tally(Option<(Entity, u64, u64)>);

impl Tally {
    /// Counts for `entity` from now on: what another source delivered goes to its counters.
    fn serve(&mut self, world: &mut World, entity: Entity) {
        if self.0.is_some_and(|(counted, ..)| counted != entity) {
            self.flush(world);
        }
        self.0.get_or_insert((entity, 0, 0));
    }

    /// Adds to the source being served.
    fn add(&mut self, messages: u64, bytes: u64) {
        if let Some((_, m, b)) = &mut self.0 {
            *m += messages;
            *b += bytes;
        }
    }

    fn flush(&mut self, world: &mut World) {
        if let Some((entity, messages, bytes)) = self.0.take()
            && (messages, bytes) != (0, 0)
            && let Some(mut stats) = world.get_mut::<SseSourceStats>(entity)
        {
            stats.messages += messages;
            stats.bytes += bytes;
        }
    }
}

/// What is left of one batch.
struct Pending {
    attempt: u64,
    /// Body bytes the batch carried, counted when it is served.
    received: u64,
    reports: BatchReports,
    /// Given back to the byte budget when the batch is applied or discarded.
    credit: Credit,
}

/// One source's batches, in order. The first is inline: a source with one batch a frame (every
/// source, at 10,000 quiet ones) queues without a heap allocation.
#[derive(Default)]
struct Queue {
    first: Option<Pending>,
    rest: VecDeque<Pending>,
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.is_empty()
    }

    fn push_back(&mut self, pending: Pending) {
        if self.is_empty() {
            self.first = Some(pending);
        } else {
            self.rest.push_back(pending);
        }
    }

    fn front_mut(&mut self) -> Option<&mut Pending> {
        match &mut self.first {
            Some(first) => Some(first),
            None => self.rest.front_mut(),
        }
    }

    fn pop_front(&mut self) -> Option<Pending> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

impl Inbox {
    /// Queues a batch behind its source's others; a source with none gets a turn at the back.
    fn push(&mut self, entity: Entity, pending: Pending) {
        let slot = *self.slots.entry(entity).or_insert_with(|| {
            let slot = self.free.pop().unwrap_or_else(|| {
                self.queues.push(Queue::default());
                self.queues.len() - 1
            });
            self.turns.push_back((entity, slot));
            slot
        });
        self.queues[slot].push_back(pending);
        self.held += 1;
    }

    /// Takes in one batch. With `direct`, a batch of a source with nothing queued is applied
    /// at once while the budget allows, without going through the queue (at 10,000 quiet
    /// sources, every batch: the queue's hash lookup and two moves of the batch less); what the
    /// turn or the budget leaves of it is queued like any batch. Returns how many batches it
    /// finished.
    fn take(
        &mut self,
        world: &mut World,
        batch: ReportBatch,
        budget: &mut Budget,
        direct: bool,
    ) -> usize {
        let entity = batch.entity;
        if !direct || budget.spent() || self.slots.contains_key(&entity) {
            self.push(entity, Pending::new(batch));
            return 0;
        }
        let mut pending = Pending::new(batch);
        let mut quantum = QUANTUM;
        let finished = serve_batch(
            world,
            entity,
            &mut pending,
            &mut quantum,
            budget,
            &mut self.step,
        );
        if finished {
            pending.finish();
            1
        } else {
            self.push(entity, pending);
            0
        }
    }
}

impl Pending {
    fn new(batch: ReportBatch) -> Self {
        Self {
            attempt: batch.attempt,
            received: batch.received,
            reports: BatchReports::new(batch.reports),
            credit: batch.credit,
        }
    }

    /// Done with: its room goes back to the byte budget (quietly: the step wakes a waiting IO
    /// task once, at its end), and its list of events, emptied, stays there for the IO side.
    fn finish(self) {
        self.credit
            .release_quietly_keeping(self.reports.into_list());
    }
}

/// What the frame still allows.
struct Budget {
    messages: usize,
    deadline: Option<Instant>,
    /// A report was applied this frame: the time budget may stop the step only after one, so
    /// that every frame makes progress.
    progressed: bool,
    /// Body bytes the applied batches carried.
    bytes: u64,
}

impl Budget {
    fn spent(&self) -> bool {
        self.messages == 0
            || (self.progressed
                && self
                    .deadline
                    .is_some_and(|deadline| Instant::now() >= deadline))
    }
}

/// Runs in `PreUpdate`: applies what the transport reported since the last frame, within the
/// frame's budgets: only what was queued when the step began, at most
/// `max_messages_per_frame` messages, stopping once `max_receive_time_per_frame` has passed.
/// Batches are applied in the order they came, at most [`QUANTUM`] reports of each at once;
/// what that or the budget leaves waits, and the next frame's sources take turns of at most
/// [`QUANTUM`] reports before anything new, so one busy source cannot hold back the others.
pub(crate) fn receive(world: &mut World) {
    let started = Instant::now();
    let settings = world.resource::<SseSettings>();
    let mut budget = Budget {
        messages: settings
            .max_messages_per_frame
            .map_or(usize::MAX, NonZeroUsize::get),
        deadline: settings
            .max_receive_time_per_frame
            .map(|limit| started + limit),
        progressed: false,
        bytes: 0,
    };
    let max_batches = world.resource::<SseRuntime>().max_batches_per_frame;
    // `resource_scope` removes the resource first, and that applies the commands queued before
    // the step (a despawned observer's unregistration among them) before any game callback in
    // it runs. Taking the inbox out without that flush let the lifecycle fuzz target's seed
    // crash-c87d17a5 fail (a closed source's ended attempt went on to Retrying).
    let delivered = world.resource_scope(|world, mut inbox: Mut<Inbox>| {
        let before = budget.messages;
        take_in(world, &mut inbox, max_batches, &mut budget);
        while !budget.spent() {
            let Some((entity, slot)) = inbox.turns.pop_front() else {
                break;
            };
            let inbox = &mut *inbox;
            let queue = &mut inbox.queues[slot];
            let done = serve(world, entity, queue, &mut budget, &mut inbox.step);
            inbox.held -= done;
            if queue.is_empty() {
                inbox.slots.remove(&entity);
                inbox.free.push(slot);
            } else {
                inbox.turns.push_back((entity, slot));
            }
        }
        // Messages of many sources go to the game in one write.
        inbox.step.scratch.flush(world);
        inbox.step.tally.flush(world);
        // The room the applied batches gave back: one wake-up, which the IO tasks pass on.
        world.resource::<SseRuntime>().budget.wake_one();
        before - budget.messages
    });
    let backlog = world.resource::<Inbox>().held;
    let mut stats = world.resource_mut::<SseStats>();
    stats.frame_messages = delivered;
    stats.total_messages += delivered as u64;
    stats.total_bytes += budget.bytes;
    stats.frame_receive_time = started.elapsed();
    stats.frame_backlog = backlog;
}

/// Takes in the batches the lifecycle reported itself, then what was queued when the step began
/// while the frame has taken in fewer batches than `max_batches_per_frame`. Batches are
/// applied as they are taken, in the order they came, unless a source's turn is left over from
/// the last frame (then every batch queues behind the turns, and sources take turns in order);
/// a source's batches stay in order either way.
fn take_in(world: &mut World, inbox: &mut Inbox, max_batches: usize, budget: &mut Budget) {
    let direct = inbox.turns.is_empty();
    let mut finished = 0;
    for batch in mem::take(&mut world.resource_mut::<SseRuntime>().unsent) {
        finished += inbox.take(world, batch, budget, direct);
    }
    // A handle of its own, so that batches are applied (with the world) while it is read.
    let rx = world.resource::<SseRuntime>().rx.clone();
    for _ in 0..rx.len() {
        if inbox.held + finished >= max_batches {
            break;
        }
        match rx.try_recv() {
            Ok(batch) => finished += inbox.take(world, batch, budget, direct),
            Err(_) => break,
        }
    }
}

/// One turn of one source: applies up to [`QUANTUM`] of its reports within the budget. Returns
/// how many batches it finished (or dropped, being from an attempt that is over).
fn serve(
    world: &mut World,
    entity: Entity,
    queue: &mut Queue,
    budget: &mut Budget,
    step: &mut Step,
) -> usize {
    let mut quantum = QUANTUM;
    let mut done = 0;
    while let Some(pending) = queue.front_mut() {
        if !serve_batch(world, entity, pending, &mut quantum, budget, step) {
            // The turn or the frame's budget ran out: the rest waits.
            break;
        }
        if let Some(done) = queue.pop_front() {
            done.finish();
        }
        done += 1;
        if quantum == 0 || budget.spent() {
            break;
        }
    }
    done
}

/// Applies what `quantum` and the budget allow of one batch, and counts what it delivered.
/// Returns whether the batch is done with: applied whole, or from an attempt that was closed,
/// replaced or despawned meanwhile. Its room then goes back to the byte budget (the caller
/// releases its credit; the step wakes a waiting IO task once, at its end).
fn serve_batch(
    world: &mut World,
    entity: Entity,
    pending: &mut Pending,
    quantum: &mut usize,
    budget: &mut Budget,
    step: &mut Step,
) -> bool {
    let token = Token::of_attempt(entity, pending.attempt);
    if !token.holds(world) {
        return true;
    }
    step.tally.serve(world, entity);
    let (messages, received) = (budget.messages, mem::take(&mut pending.received));
    budget.bytes += received;
    let _ = apply_reports(
        world,
        token,
        &mut pending.reports,
        quantum,
        budget,
        &mut step.scratch,
        step.ids,
    );
    let delivered = (messages - budget.messages) as u64;
    step.tally.add(delivered, received);
    pending.reports.is_empty() || !token.holds(world)
}

/// Applies reports in order while the turn and the budget allow.
///
/// While nothing but `Update` systems can see them (no named handler and no observer of
/// [`SseMessage`] on this source), consecutive messages are written as one batch and the last
/// event ID is set once per batch: same result, a fraction of the per-message work. Decoded
/// values ([`Report::Typed`]) are batched the same way while nothing observes their type.
fn apply_reports(
    world: &mut World,
    token: Token,
    reports: &mut BatchReports,
    quantum: &mut usize,
    budget: &mut Budget,
    pending: &mut Unobserved,
    ids: Ids,
) -> Flow {
    let entity = token.entity;
    let mut batchable = messages_unobserved(world, entity, ids);
    pending.observed = None;
    // Whether the next report may start a run of messages to write straight from the batch:
    // at the start, and after a report that is not a held message (a shorter run is looked at
    // once, not again at each of its messages).
    let mut run_may_start = true;
    let flow = loop {
        if *quantum == 0 || budget.spent() {
            break Ok(());
        }
        if batchable && mem::take(&mut run_may_start) && reports.upper_bound() >= DIRECT_RUN {
            let run = write_run(
                world,
                token,
                reports,
                (*quantum).min(budget.messages),
                pending,
            );
            if run > 0 {
                *quantum -= run;
                budget.messages -= run;
                budget.progressed = true;
                continue;
            }
        }
        let Some(report) = reports.next() else {
            break Ok(());
        };
        *quantum -= 1;
        budget.progressed = true;
        match report {
            Report::Message(event) if batchable => {
                pending.messages.push(SseMessage { entity, event });
                budget.messages -= 1;
                pending.write_if_full(world, token);
            }
            Report::Typed(mut typed)
                if batchable && !pending.is_observed(world, entity, &*typed) =>
            {
                if let Some(event) = typed.take_event() {
                    pending.messages.push(SseMessage { entity, event });
                }
                pending.push_typed(world, entity, typed);
                budget.messages -= 1;
                pending.write_if_full(world, token);
                run_may_start = true;
            }
            report => {
                pending.write(world, token);
                // Whatever the report does (emit a message, run game code) comes after the
                // messages applied before it, of every source.
                pending.flush(world);
                if matches!(report, Report::Message(_) | Report::Typed(_)) {
                    budget.messages -= 1;
                }
                if let Err(superseded) = apply(world, token, report) {
                    break Err(superseded);
                }
                // The report's observers may have added handlers or observers.
                batchable = messages_unobserved(world, entity, ids);
                pending.observed = None;
                run_may_start = true;
            }
        }
    };
    pending.write(world, token);
    flow
}

/// If the next reports start a run of at least [`DIRECT_RUN`] messages (at most `limit`) of a
/// source that nothing but `Update` systems see, writes them straight from the batch to the
/// game: after what is held (order stays), a listed run of them in one write, with the last
/// event ID set once. Returns how many it wrote (0: the run is too short, nothing was done).
fn write_run(
    world: &mut World,
    token: Token,
    reports: &mut BatchReports,
    limit: usize,
    pending: &mut Unobserved,
) -> usize {
    let (run, last) = reports.message_run(limit);
    if run < DIRECT_RUN {
        return 0;
    }
    let entity = token.entity;
    pending.write(world, token);
    pending.flush(world);
    delivered(world, token, last);
    let mut left = run;
    while left > 0 {
        match reports.next_messages(left) {
            Some(NextMessages::Listed(events)) => {
                left -= events.len();
                world.write_message_batch(events.map(|event| SseMessage { entity, event }));
            }
            Some(NextMessages::One(event)) => {
                left -= 1;
                world.write_message(SseMessage { entity, event });
            }
            None => break,
        }
    }
    run - left
}

/// What a turn holds back to write as batches: messages, and values of one decoded type.
#[derive(Default)]
pub(crate) struct Unobserved {
    /// Messages of this frame's turns so far, of every source, in order; written to the game by
    /// [`flush`](Self::flush) at the end of the step, before anything else reaches the game, and
    /// whenever [`WRITE_EVERY`] are held.
    messages: Vec<SseMessage>,
    /// Where the current turn's messages start in `messages`.
    turn_start: usize,
    /// All of one type.
    typed: Vec<Box<dyn Decoded>>,
    /// Whether the last decoded type seen is observed on this source, until game code runs.
    observed: Option<(TypeId, bool)>,
}

impl Unobserved {
    fn is_observed(&mut self, world: &World, entity: Entity, value: &dyn Decoded) -> bool {
        let type_id = value.value_type();
        match self.observed {
            Some((seen, observed)) if seen == type_id => observed,
            _ => {
                let observed = value.observed(world, entity);
                self.observed = Some((type_id, observed));
                observed
            }
        }
    }

    fn push_typed(&mut self, world: &mut World, entity: Entity, value: Box<dyn Decoded>) {
        if self
            .typed
            .first()
            .is_some_and(|first| first.value_type() != value.value_type())
        {
            self.write_typed(world, entity);
        }
        self.typed.push(value);
    }

    fn write_typed(&mut self, world: &mut World, entity: Entity) {
        if let Some(first) = self.typed.first() {
            let write = first.batch_writer();
            write(world, entity, &mut self.typed);
        }
    }

    /// Ends a stretch of one source's batched messages: its last event ID and delivery mark are
    /// set once, and its decoded values written.
    fn write(&mut self, world: &mut World, token: Token) {
        let entity = token.entity;
        if let Some(last) = self.messages[self.turn_start..].last() {
            delivered(world, token, last.last_event_id());
            self.turn_start = self.messages.len();
        }
        self.write_typed(world, entity);
    }

    /// Writes what is held to the game once [`WRITE_EVERY`] messages are.
    fn write_if_full(&mut self, world: &mut World, token: Token) {
        if self.messages.len() >= WRITE_EVERY {
            self.write(world, token);
            self.flush(world);
        }
    }

    /// Writes the held messages to the game.
    pub(crate) fn flush(&mut self, world: &mut World) {
        if !self.messages.is_empty() {
            world.write_message_batch(self.messages.drain(..));
        }
        self.turn_start = 0;
    }
}

/// Whether nothing but `Update` systems see the source's messages: no named handler and no
/// observer of [`SseMessage`], global or on the source.
fn messages_unobserved(world: &World, entity: Entity, ids: Ids) -> bool {
    let no_handlers = world.get_entity(entity).ok().is_none_or(|source| {
        !source.contains_id(ids.handlers)
            || source
                .get::<SseHandlers>()
                .is_none_or(|handlers| handlers.0.is_empty())
    });
    no_handlers && !has_observers_of(world, ids.message, entity)
}

fn apply(world: &mut World, token: Token, report: Report) -> Flow {
    let entity = token.entity;
    match report {
        Report::Opened => lifecycle::attempt_opened(world, token),
        Report::Message(event) => {
            delivered(world, token, event.last_event_id());
            let message = SseMessage { entity, event };
            let handler = world
                .get::<SseHandlers>(entity)
                .and_then(|handlers| handlers.0.get(message.event_type()).copied());
            let Some(handler) = handler else {
                return token.emit(world, message);
            };
            // Delivered first: the message stands even if its handler closes the source.
            token.emit(world, message.clone())?;
            token.call_game(world, |world| {
                if let Err(error) = world.run_system_with(handler, message) {
                    warn!(%entity, %error, "named event handler failed");
                }
            })
        }
        // Handed out as messages by `BatchReports`, never applied as they are.
        Report::Messages { .. } => Ok(()),
        Report::Comment(text) => token.emit(world, SseComment { entity, text }),
        Report::Retry(retry) => {
            let retry = lifecycle::policy_of(world, entity).clamp_server_retry(retry);
            if let Some(mut time) = world.get_mut::<ReconnectionTime>(entity) {
                time.0 = retry;
            }
            Ok(())
        }
        Report::LastEventId(id) => {
            set_last_event_id(world, entity, &id);
            Ok(())
        }
        Report::Typed(mut typed) => {
            if let Some(event) = typed.take_event() {
                apply(world, token, Report::Message(event))?;
            }
            typed.deliver(world, token)
        }
        Report::Problem(error) => {
            span_of(world, entity).in_scope(|| info!(%error, "dropped from the stream"));
            lifecycle::note_error(world, entity, &error);
            token.emit(world, SseErrored { entity, error })
        }
        Report::Ended(error) => lifecycle::attempt_ended(world, token, error),
        Report::Done => {
            span_of(world, entity).in_scope(|| debug!("done sentinel"));
            lifecycle::close_with(world, entity, CloseReason::DoneSentinel)
        }
    }
}

/// A message of `token`'s attempt reached the game: the source's last event ID becomes the
/// message's, and the attempt counts as having delivered.
fn delivered(world: &mut World, token: Token, last_event_id: &str) {
    set_last_event_id(world, token.entity, last_event_id);
    token.mark_delivered(world);
}

fn set_last_event_id(world: &mut World, entity: Entity, id: &str) {
    if let Some(mut last) = world.get_mut::<LastEventId>(entity)
        && last.0 != id
    {
        id.clone_into(&mut last.0);
    }
}

#[cfg(test)]
mod tests {
    use bevy::prelude::*;

    use super::{Inbox, WRITE_EVERY};
    use crate::plugin::SsePlugin;
    use crate::prelude::*;
    use crate::transport::MemoryTransport;

    #[derive(Resource, Default)]
    struct Read(Vec<String>);

    /// A frame of many messages is written to the game in parts: the step never holds more than
    /// [`WRITE_EVERY`] of them, and the game still reads them all, in order, with the last event
    /// ID of the last one.
    #[test]
    fn a_large_frame_is_written_in_parts_in_order() {
        let transport = MemoryTransport::new();
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, SsePlugin::default()))
            .insert_resource(transport.clone())
            .init_resource::<Read>()
            .add_systems(
                Update,
                |mut messages: MessageReader<SseMessage>, mut read: ResMut<Read>| {
                    read.0
                        .extend(messages.read().map(|message| message.data().to_owned()));
                },
            );
        let source = app
            .world_mut()
            .spawn(EventSource::new("http://w.test/"))
            .id();
        app.update();
        let attempt = transport.live_attempts().remove(0);
        attempt.open();
        let count = WRITE_EVERY * 3 + 7;
        let body: String = (0..count)
            .map(|seq| format!("id: {seq}\ndata: {seq}\n\n"))
            .collect();
        attempt.send(body);
        app.update();

        let read = &app.world().resource::<Read>().0;
        let expected: Vec<String> = (0..count).map(|seq| seq.to_string()).collect();
        assert_eq!(*read, expected);
        let last = (count - 1).to_string();
        assert_eq!(app.world().get::<LastEventId>(source).unwrap().0, last);
        let held = app
            .world()
            .resource::<Inbox>()
            .step
            .scratch
            .messages
            .capacity();
        assert!(held <= WRITE_EVERY, "held room for {held} messages");
    }
}
