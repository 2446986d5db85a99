//! The ECS side: drain the channel, apply what the IO tasks found, run the state machine.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Duration;

use bevy::ecs::system::SystemId;
use bevy::log::tracing::Span;
use bevy::platform::collections::HashMap;
use bevy::platform::time::Instant;
use bevy::prelude::*;

use crate::connection::{AttemptRequest, Batch, Frame, run_attempt};
use crate::error::SseError;
use crate::io::{IoTask, IoThread};
use crate::message::{
    SseClosed, SseComment, SseErrored, SseMessage, SseOpened, SseRetrying, SseStateChanged,
};
use crate::parser::ParserLimits;
use crate::plugin::{SseClient, SseStats};
use crate::retry::RetryPolicy;
use crate::source::{EventSource, LastEventId, ReadyState, ReconnectionTime};

/// Settings copied from the plugin.
#[derive(Resource, Clone, Debug)]
pub(crate) struct SseConfig {
    pub(crate) parser_limits: ParserLimits,
    pub(crate) max_messages_per_frame: Option<usize>,
    /// For sources without a [`RetryPolicy`] of their own.
    pub(crate) retry_policy: RetryPolicy,
}

/// The IO thread, the channel every IO task sends to, and what is left of a batch cut by the
/// frame budget.
#[derive(Resource)]
pub(crate) struct SseRuntime {
    io: IoThread,
    pub(crate) tx: async_channel::Sender<Batch>,
    pub(crate) rx: async_channel::Receiver<Batch>,
    pending: VecDeque<Batch>,
    next_attempt: u64,
}

impl SseRuntime {
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, rx) = async_channel::bounded(capacity.max(1));
        Self {
            io: IoThread::start(),
            tx,
            rx,
            pending: VecDeque::new(),
            next_attempt: 0,
        }
    }
}

/// The running attempt. Dropping it cancels the IO task.
#[derive(Component)]
pub(crate) struct Connection {
    _task: IoTask,
    attempt: u64,
    /// When the stream opened, on [`Time`].
    opened_at: Option<Duration>,
    /// Whether it delivered a message.
    delivered: bool,
}

/// The source's logging context: a span with its entity and URL.
#[derive(Component, Clone)]
pub(crate) struct SourceSpan(pub(crate) Span);

/// Waiting to reconnect.
#[derive(Component)]
pub(crate) struct RetryTimer(Timer);

/// Attempts that failed in a row.
#[derive(Component, Default)]
pub(crate) struct FailedAttempts(u32);

/// Named handlers: BestHTTP's `On(eventName, handler)`.
#[derive(Component, Default)]
pub(crate) struct SseHandlers(pub(crate) HashMap<String, SystemId<In<SseMessage>>>);

/// Runs in `PreUpdate`: applies what the IO tasks sent since the last frame.
pub(crate) fn receive(world: &mut World) {
    let started = Instant::now();
    let budget = world
        .resource::<SseConfig>()
        .max_messages_per_frame
        .unwrap_or(usize::MAX);
    let mut delivered = 0;
    while delivered < budget {
        let next = {
            let mut runtime = world.resource_mut::<SseRuntime>();
            runtime
                .pending
                .pop_front()
                .or_else(|| runtime.rx.try_recv().ok())
        };
        let Some(mut batch) = next else { break };
        if !is_current(world, batch.entity, batch.attempt) {
            // From an attempt that was closed or replaced meanwhile.
            continue;
        }
        let mut frames = batch.frames.drain(..);
        let (entity, attempt) = (batch.entity, batch.attempt);
        delivered += apply_frames(world, entity, attempt, &mut frames, budget - delivered);
        let rest: Vec<Frame> = frames.collect();
        if !rest.is_empty() {
            batch.frames = rest;
            world.resource_mut::<SseRuntime>().pending.push_front(batch);
        }
    }
    let mut stats = world.resource_mut::<SseStats>();
    stats.frame_messages = delivered;
    stats.total_messages += delivered as u64;
    stats.frame_receive_time = started.elapsed();
}

/// Applies frames in order until `budget` messages are delivered; returns how many were.
///
/// While nothing but `Update` systems can see them (no named handler and no observer of
/// [`SseMessage`] on this source), consecutive messages are written as one batch and the last
/// event ID is set once per batch: same result, a fraction of the per-message work.
fn apply_frames(
    world: &mut World,
    entity: Entity,
    attempt: u64,
    frames: &mut impl Iterator<Item = Frame>,
    budget: usize,
) -> usize {
    let mut delivered = 0;
    let mut unobserved = Vec::new();
    let mut batchable = messages_unobserved(world, entity);
    while delivered < budget {
        let Some(frame) = frames.next() else { break };
        match frame {
            Frame::Message(event) if batchable => {
                unobserved.push(SseMessage { entity, event });
                delivered += 1;
            }
            frame => {
                write_unobserved(world, entity, &mut unobserved);
                delivered += usize::from(matches!(frame, Frame::Message(_)));
                apply(world, entity, frame);
                if !is_current(world, entity, attempt) {
                    // An observer or handler closed, reopened or despawned the source.
                    frames.for_each(drop);
                    break;
                }
                // The frame's observers may have added handlers or observers.
                batchable = messages_unobserved(world, entity);
            }
        }
    }
    write_unobserved(world, entity, &mut unobserved);
    delivered
}

fn is_current(world: &World, entity: Entity, attempt: u64) -> bool {
    world
        .get::<Connection>(entity)
        .is_some_and(|connection| connection.attempt == attempt)
}

fn messages_unobserved(world: &World, entity: Entity) -> bool {
    world
        .get::<SseHandlers>(entity)
        .is_none_or(|handlers| handlers.0.is_empty())
        && !has_observers::<SseMessage>(world, entity)
}

fn write_unobserved(world: &mut World, entity: Entity, messages: &mut Vec<SseMessage>) {
    let Some(last) = messages.last() else { return };
    let id = last.last_event_id().to_owned();
    set_last_event_id(world, entity, &id);
    mark_delivered(world, entity);
    world.write_message_batch(messages.drain(..));
}

fn apply(world: &mut World, entity: Entity, frame: Frame) {
    match frame {
        Frame::Opened => {
            let now = elapsed(world);
            if let Some(mut connection) = world.get_mut::<Connection>(entity) {
                connection.opened_at = Some(now);
            }
            set_state(world, entity, ReadyState::Open);
            emit(world, SseOpened { entity });
        }
        Frame::Message(event) => {
            set_last_event_id(world, entity, event.last_event_id());
            mark_delivered(world, entity);
            let message = SseMessage { entity, event };
            let handler = world
                .get::<SseHandlers>(entity)
                .and_then(|handlers| handlers.0.get(message.event_type()).copied());
            if let Some(handler) = handler
                && let Err(error) = world.run_system_with(handler, message.clone())
            {
                warn!(%entity, %error, "named event handler failed");
            }
            emit(world, message);
        }
        Frame::Comment(text) => emit(world, SseComment { entity, text }),
        Frame::Retry(retry) => {
            let retry = policy_of(world, entity).clamp_server_retry(retry);
            if let Some(mut time) = world.get_mut::<ReconnectionTime>(entity) {
                time.0 = retry;
            }
        }
        Frame::LastEventId(id) => set_last_event_id(world, entity, &id),
        Frame::Ended(error) => end_attempt(world, entity, error),
        Frame::Done => {
            span_of(world, entity).in_scope(|| debug!("done sentinel"));
            close(world, entity);
        }
    }
}

fn mark_delivered(world: &mut World, entity: Entity) {
    if let Some(mut connection) = world.get_mut::<Connection>(entity)
        && !connection.delivered
    {
        connection.delivered = true;
    }
}

fn elapsed(world: &World) -> Duration {
    world
        .get_resource::<Time>()
        .map_or(Duration::ZERO, Time::elapsed)
}

fn policy_of(world: &World, entity: Entity) -> RetryPolicy {
    match world.get::<RetryPolicy>(entity) {
        Some(policy) => policy.clone(),
        None => world.resource::<SseConfig>().retry_policy.clone(),
    }
}

/// A number in `0.0..1.0` for the jitter: std's randomly keyed hasher, no RNG dependency.
fn random_unit(seed: u64) -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(seed);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

fn set_last_event_id(world: &mut World, entity: Entity, id: &str) {
    if let Some(mut last) = world.get_mut::<LastEventId>(entity)
        && last.0 != id
    {
        id.clone_into(&mut last.0);
    }
}

/// Writes the message and triggers the entity event, skipping the copy for the trigger when no
/// observer watches this event type (globally or on this entity).
fn emit<E>(world: &mut World, event: E)
where
    E: Message + EntityEvent + Clone,
    for<'a> E::Trigger<'a>: Default,
{
    let entity = event.event_target();
    if has_observers::<E>(world, entity) {
        world.trigger(event.clone());
        // Apply the observers' commands now: a source closed in `OnMessage` gets no more.
        world.flush();
    }
    world.write_message(event);
}

fn has_observers<E: Event>(world: &World, entity: Entity) -> bool {
    let Some(key) = world.event_key::<E>() else {
        return false;
    };
    world
        .observers()
        .try_get_observers(key)
        .is_some_and(|observers| {
            !observers.global_observers().is_empty()
                || observers.entity_observers().contains_key(&entity)
        })
}

fn set_state(world: &mut World, entity: Entity, new: ReadyState) {
    let Some(mut state) = world.get_mut::<ReadyState>(entity) else {
        return;
    };
    let old = *state;
    if old == new {
        return;
    }
    *state = new;
    span_of(world, entity).in_scope(|| debug!(?old, ?new, "state changed"));
    emit(world, SseStateChanged { entity, old, new });
}

fn span_of(world: &World, entity: Entity) -> Span {
    world
        .get::<SourceSpan>(entity)
        .map_or_else(Span::none, |span| span.0.clone())
}

fn end_attempt(world: &mut World, entity: Entity, error: SseError) {
    let connection = world.entity_mut(entity).take::<Connection>();
    let policy = policy_of(world, entity);
    let now = elapsed(world);
    let healthy = connection.as_ref().is_some_and(|connection| {
        connection.delivered
            || connection
                .opened_at
                .is_some_and(|opened| now.saturating_sub(opened) >= policy.healthy_after)
    });
    let once = world
        .get::<EventSource>(entity)
        .is_some_and(EventSource::is_once);
    if once && matches!(error, SseError::StreamEnded { .. }) {
        // A one-shot stream that ended cleanly is complete, not failed.
        return close(world, entity);
    }
    span_of(world, entity).in_scope(|| info!(%error, "attempt ended"));
    emit(
        world,
        SseErrored {
            entity,
            error: error.clone(),
        },
    );
    let (fatal, retry_after) = match &error {
        SseError::Status {
            status,
            retry_after,
            ..
        } => (!policy.retries_status(*status), *retry_after),
        error => (error.is_fatal(), None),
    };
    if fatal || once {
        return close(world, entity);
    }
    if world
        .get::<ReadyState>(entity)
        .is_none_or(|state| state.is_closed())
    {
        // An OnError observer closed or despawned it.
        return;
    }
    let failures = {
        let mut source = world.entity_mut(entity);
        let mut failed = source.entry::<FailedAttempts>().or_default().into_mut();
        failed.0 = if healthy { 0 } else { failed.0 + 1 };
        failed.0
    };
    if let Some(max) = policy.max_attempts
        && failures >= max
    {
        let url = Arc::from(error.url());
        span_of(world, entity).in_scope(|| warn!(failures, "giving up"));
        let gave_up = SseError::GaveUp {
            url,
            attempts: failures,
        };
        emit(
            world,
            SseErrored {
                entity,
                error: gave_up,
            },
        );
        return close(world, entity);
    }
    let reconnection_time = world
        .get::<ReconnectionTime>(entity)
        .copied()
        .unwrap_or_default()
        .0;
    let seed = entity.to_bits() ^ u64::from(failures) ^ now.as_nanos() as u64;
    let delay = policy.delay(reconnection_time, failures, retry_after, random_unit(seed));
    set_state(world, entity, ReadyState::Retrying);
    let mut retrying = SseRetrying::new(entity, failures.max(1), delay, error);
    if has_observers::<SseRetrying>(world, entity) {
        world.trigger_ref(&mut retrying);
        world.flush();
    }
    let vetoed = retrying.is_vetoed();
    world.write_message(retrying);
    let still_retrying = world.get::<ReadyState>(entity) == Some(&ReadyState::Retrying);
    if vetoed && still_retrying {
        close(world, entity);
    } else if still_retrying {
        world
            .entity_mut(entity)
            .insert(RetryTimer(Timer::new(delay, TimerMode::Once)));
    }
}

/// Runs in `PreUpdate`: starts the attempts whose reconnection time has passed.
pub(crate) fn reconnect(
    mut commands: Commands,
    time: Res<Time>,
    mut waiting: Query<(Entity, &mut RetryTimer)>,
) {
    for (entity, mut timer) in &mut waiting {
        // The frame's delta passed before the wait began.
        if timer.is_added() {
            continue;
        }
        if timer.0.tick(time.delta()).is_finished() {
            commands.entity(entity).remove::<RetryTimer>();
            commands.queue(move |world: &mut World| start_attempt(world, entity));
        }
    }
}

/// Starts a connection attempt for the source, replacing any running one.
pub(crate) fn start_attempt(world: &mut World, entity: Entity) {
    let Some(source) = world.get::<EventSource>(entity) else {
        return;
    };
    let url: Arc<str> = source.url().into();
    let request = AttemptRequest {
        client: world.resource::<SseClient>().0.clone(),
        url: url.clone(),
        method: source.method().clone(),
        headers: source.headers().to_vec(),
        body: source.body().map(<[u8]>::to_vec),
        response_timeout: source.response_timeout(),
        read_timeout: source.read_timeout(),
        done_sentinel: source.done_sentinel().map(str::to_owned),
        last_event_id: world
            .get::<LastEventId>(entity)
            .map(|id| id.0.clone())
            .unwrap_or_default(),
        limits: world.resource::<SseConfig>().parser_limits,
    };
    let span = match world.get::<SourceSpan>(entity) {
        Some(span) => span.0.clone(),
        None => {
            let url = crate::error::redact(&url);
            info_span!("event_source", %entity, %url)
        }
    };
    let (tx, attempt) = {
        let mut runtime = world.resource_mut::<SseRuntime>();
        runtime.next_attempt += 1;
        (runtime.tx.clone(), runtime.next_attempt)
    };
    span.in_scope(|| debug!(attempt, "connecting"));
    let future = bevy::log::tracing::Instrument::instrument(
        run_attempt(request, entity, attempt, tx),
        span.clone(),
    );
    let task = world.resource::<SseRuntime>().io.spawn(future);
    world.entity_mut(entity).remove::<RetryTimer>().insert((
        Connection {
            _task: task,
            attempt,
            opened_at: None,
            delivered: false,
        },
        SourceSpan(span),
    ));
    set_state(world, entity, ReadyState::Connecting);
}

/// Closes the source: `Closing`, the task cancelled, `Closed`, [`SseClosed`].
pub(crate) fn close(world: &mut World, entity: Entity) {
    let Some(state) = world.get::<ReadyState>(entity).copied() else {
        return;
    };
    if state.is_closed() {
        return;
    }
    set_state(world, entity, ReadyState::Closing);
    if let Ok(mut source) = world.get_entity_mut(entity) {
        source.remove::<(Connection, RetryTimer)>();
    }
    set_state(world, entity, ReadyState::Closed);
    span_of(world, entity).in_scope(|| info!("closed"));
    emit(world, SseClosed { entity });
}

/// Drops the current attempt (or the wait for the next) and connects again at once, keeping the
/// last event ID. A closed source reopens.
pub(crate) fn restart(world: &mut World, entity: Entity) {
    if world.get::<EventSource>(entity).is_none() {
        return;
    }
    span_of(world, entity).in_scope(|| debug!("restart"));
    if let Some(mut failed) = world.get_mut::<FailedAttempts>(entity) {
        failed.0 = 0;
    }
    start_attempt(world, entity);
}

/// Reopens a closed source (BestHTTP: `Open`); a source that is not closed is left alone.
pub(crate) fn open(world: &mut World, entity: Entity) {
    if world
        .get::<ReadyState>(entity)
        .is_some_and(|state| state.is_closed())
    {
        if let Some(mut failed) = world.get_mut::<FailedAttempts>(entity) {
            failed.0 = 0;
        }
        start_attempt(world, entity);
    }
}

/// A new source, to open at the next `PreUpdate`: observers and components added in the frame it
/// was spawned in see the whole story, from `Initial` on.
#[derive(Component)]
pub(crate) struct PendingOpen;

pub(crate) fn on_add_source(add: On<Add, EventSource>, mut commands: Commands) {
    commands.entity(add.entity).insert(PendingOpen);
}

/// Runs in `PreUpdate`: opens the sources spawned since the last frame.
pub(crate) fn open_new(mut commands: Commands, new: Query<Entity, With<PendingOpen>>) {
    for entity in &new {
        commands.entity(entity).remove::<PendingOpen>();
        commands.queue(move |world: &mut World| start_attempt(world, entity));
    }
}

pub(crate) fn on_remove_source(remove: On<Remove, EventSource>, mut commands: Commands) {
    let entity = remove.entity;
    // On despawn the entity is gone by then, and its components (the task among them) with it.
    commands.queue(move |world: &mut World| close(world, entity));
}

pub(crate) fn on_remove_handlers(
    remove: On<Remove, SseHandlers>,
    handlers: Query<&SseHandlers>,
    mut commands: Commands,
) {
    if let Ok(handlers) = handlers.get(remove.entity) {
        for &system in handlers.0.values() {
            commands.unregister_system(system);
        }
    }
}
