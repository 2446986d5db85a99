//! The state machine: the only code that changes [`ReadyState`], through [`enter`].
//!
//! Each operation (start an attempt, the stream opened, the attempt ended, close, reopen,
//! reconnect) begins a new epoch on the source ([`Token::begin`]) and announces what it does
//! through [`Token::emit`] and [`Token::call_game`], which stop it with `Err(Superseded)` as
//! soon as game code has taken the source elsewhere. So an observer that reconnects, closes or
//! despawns the source always gets exactly what it asked for.

use std::hash::BuildHasher;
use std::time::Duration;

use bevy::log::tracing::Span;
use bevy::prelude::*;

use crate::diagnostics::{SseSourceStats, SseStats};
use crate::error::{SourceUrl, SseError};
use crate::guard::{Flow, Superseded, Token, has_observers};
use crate::lanes;
use crate::message::{CloseReason, SseClosed, SseErrored, SseOpened, SseRetrying, SseStateChanged};
use crate::request;
use crate::retry::RetryPolicy;
use crate::runtime::{SseRuntime, network_now, transport};
use crate::settings::SseSettings;
use crate::source::{EventSource, LastEventId, ReadyState, ReconnectionTime};
use crate::transport::{AttemptHandle, AttemptRequest, Report, ReportBatch, ReportSender, Reports};

/// The running attempt. Dropping it cancels the attempt.
#[derive(Component)]
#[component(storage = "SparseSet")]
pub(crate) struct Attempt {
    /// `None` when the request could not be built: its failure is already queued.
    _handle: Option<AttemptHandle>,
    /// When the stream opened, on the network clock.
    opened_at: Option<Duration>,
}

/// Waiting to reconnect until this time on the network clock ([`network_now`]).
#[derive(Component)]
#[component(storage = "SparseSet")]
pub(crate) struct RetryAt(pub(crate) Duration);

/// A new source, to open at the next `PreUpdate`: observers and components added in the frame
/// it was spawned in see the whole story, from `Initial` on.
#[derive(Component)]
#[component(storage = "SparseSet")]
pub(crate) struct PendingOpen;

/// The source's [`EventSource`] was removed (the entity stays): inserting one again reopens it.
#[derive(Component)]
#[component(storage = "SparseSet")]
struct Detached;

/// Attempts that failed in a row.
#[derive(Component, Default)]
#[component(storage = "SparseSet")]
struct FailedAttempts(u32);

/// The source's logging context: a span with its entity and URL (redacted), remade when the URL
/// changes.
#[derive(Component, Clone)]
pub(crate) struct SourceSpan {
    span: Span,
    url: String,
}

/// Before the first attempt: no span, and no URL (so the first attempt makes its span).
impl Default for SourceSpan {
    fn default() -> Self {
        Self {
            span: Span::none(),
            url: String::new(),
        }
    }
}

pub(crate) fn span_of(world: &World, entity: Entity) -> Span {
    world
        .get::<SourceSpan>(entity)
        .map_or_else(Span::none, |source| source.span.clone())
}

/// The one transition function: sets the state and announces the change.
fn enter(world: &mut World, token: Token, new: ReadyState) -> Flow {
    let entity = token.entity;
    let mut state = world.get_mut::<ReadyState>(entity).ok_or(Superseded)?;
    let old = *state;
    if old == new {
        return Ok(());
    }
    debug_assert!(old.can_change_to(new), "{old:?} -> {new:?}");
    *state = new;
    note_state(world, entity, old, new);
    span_of(world, entity).in_scope(|| debug!(?old, ?new, "state changed"));
    token.emit(world, SseStateChanged { entity, old, new })
}

/// Keeps the stats that follow the state: open sources, since when, until when.
fn note_state(world: &mut World, entity: Entity, old: ReadyState, new: ReadyState) {
    let opened = match (old, new) {
        (_, ReadyState::Open) => 1,
        (ReadyState::Open, _) => -1,
        _ => 0,
    };
    if opened != 0 {
        let mut stats = world.resource_mut::<SseStats>();
        stats.open_sources = stats.open_sources.saturating_add_signed(opened);
    }
    let now = (new == ReadyState::Open).then(|| network_now(world));
    if let Some(mut stats) = world.get_mut::<SseSourceStats>(entity) {
        stats.opened_at = now;
        if old == ReadyState::Retrying {
            stats.retry_at = None;
        }
    }
}

/// Counts an error about the source, which the caller announces as `SseErrored`.
pub(crate) fn note_error(world: &mut World, entity: Entity, error: &SseError) {
    world.resource_mut::<SseStats>().total_errors += 1;
    if let Some(mut stats) = world.get_mut::<SseSourceStats>(entity) {
        stats.errors += 1;
        stats.last_error = Some(error.to_string());
    }
}

/// Counts an attempt; all but a source's first are reconnections.
fn note_attempt(world: &mut World, entity: Entity) {
    let Some(mut stats) = world.get_mut::<SseSourceStats>(entity) else {
        return;
    };
    stats.attempts += 1;
    if stats.attempts > 1 {
        stats.reconnections += 1;
        world.resource_mut::<SseStats>().total_reconnections += 1;
    }
}

/// Starts a connection attempt, replacing the running one or the wait for the next.
pub(crate) fn start_attempt(world: &mut World, entity: Entity) {
    let Some(Prepared {
        built,
        span,
        span_url,
    }) = prepare(world, entity)
    else {
        return;
    };
    let Some(token) = Token::begin(world, entity) else {
        return;
    };
    span.in_scope(|| debug!(attempt = token.epoch, "connecting"));
    note_attempt(world, entity);
    let runtime = world.resource::<SseRuntime>();
    let sender = ReportSender::new(
        runtime.tx.clone(),
        Some(runtime.budget.clone()),
        entity,
        token.epoch,
    );
    let built = built.and_then(|mut request| {
        let transport = transport(world).map_err(|source| SseError::IoThread {
            url: request.url.clone(),
            source: std::sync::Arc::new(source),
        })?;
        if transport.needs_client() {
            let (client, lane) =
                lanes::client_for(world, request.request.url()).map_err(|source| {
                    SseError::Client {
                        url: request.url.clone(),
                        source: std::sync::Arc::new(source),
                    }
                })?;
            request.client = Some(client);
            request.lane = lane;
        }
        Ok((transport, request))
    });
    let handle = match built {
        Ok((transport, request)) => Some(span.in_scope(|| transport.start(request, sender))),
        Err(error) => {
            // Reported like any failed attempt, at the next receive step.
            world.resource_mut::<SseRuntime>().unsent.push(ReportBatch {
                entity,
                attempt: token.epoch,
                received: 0,
                reports: Reports::one(Report::Ended(error)),
                credit: Default::default(),
            });
            None
        }
    };
    rename(world, entity, &span_url);
    world
        .entity_mut(entity)
        .remove::<(RetryAt, PendingOpen, Suspended)>()
        .insert((
            Attempt {
                _handle: handle,
                opened_at: None,
            },
            SourceSpan {
                span,
                url: span_url,
            },
        ));
    let _ = enter(world, token, ReadyState::Connecting);
}

/// The [`Name`] a source is spawned with when it has none, until [`source_name`] replaces it.
pub(crate) const UNNAMED: &str = "sse (unnamed)";

/// The [`Name`] a source gets when it has none: `sse host/path`, without the query or any
/// credentials.
pub(crate) fn source_name(url: &str) -> Name {
    match reqwest::Url::parse(url) {
        Ok(url) => {
            let host = url.host_str().unwrap_or_default();
            match url.port() {
                Some(port) => Name::new(format!("sse {host}:{port}{}", url.path())),
                None => Name::new(format!("sse {host}{}", url.path())),
            }
        }
        Err(_) => Name::new("sse (invalid URL)"),
    }
}

/// Renames a source whose URL changed, if its name is still the one the plugin gave it.
fn rename(world: &mut World, entity: Entity, url: &str) {
    let Some(old) = world.get::<SourceSpan>(entity).map(|span| span.url.clone()) else {
        return;
    };
    if old == url {
        return;
    }
    let given = source_name(&old);
    if let Some(mut name) = world.get_mut::<Name>(entity)
        && *name == given
    {
        *name = source_name(url);
    }
}

/// What an attempt is built from, read from the source without copying it.
struct Prepared {
    /// The attempt (its client still to be chosen), or why its request cannot be built.
    built: Result<AttemptRequest, SseError>,
    span: Span,
    /// The URL the span names.
    span_url: String,
}

/// Builds the attempt from the source's components; `None` without an [`EventSource`].
fn prepare(world: &World, entity: Entity) -> Option<Prepared> {
    let source = world.get::<EventSource>(entity)?;
    let span = source_span(world, entity, source);
    let last_event_id = world
        .get::<LastEventId>(entity)
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let url = SourceUrl::new(source.url());
    let built = span
        .in_scope(|| request::build(source, &url, &last_event_id))
        .map(|request| AttemptRequest {
            client: None,
            lane: None,
            request,
            url,
            response_timeout: source.response_timeout(),
            read_timeout: source.read_timeout(),
            done_sentinel: source.done_sentinel().map(str::to_owned),
            last_event_id,
            limits: world.resource::<SseSettings>().parser_limits,
            decoders: source.decoders.clone(),
        });
    Some(Prepared {
        built,
        span,
        span_url: source.url().to_owned(),
    })
}

/// The source's span, remade if its URL changed since the last attempt.
fn source_span(world: &World, entity: Entity, source: &EventSource) -> Span {
    match world.get::<SourceSpan>(entity) {
        Some(current) if current.url == source.url() => current.span.clone(),
        _ => {
            let url = crate::error::redact(source.url());
            info_span!("event_source", %entity, %url)
        }
    }
}

/// The attempt's stream opened.
pub(crate) fn attempt_opened(world: &mut World, token: Token) -> Flow {
    let now = network_now(world);
    if let Some(mut attempt) = world.get_mut::<Attempt>(token.entity) {
        attempt.opened_at = Some(now);
    }
    enter(world, token, ReadyState::Open)?;
    token.emit(
        world,
        SseOpened {
            entity: token.entity,
        },
    )
}

/// The attempt failed or its stream ended: report it, then close or wait to reconnect.
pub(crate) fn attempt_ended(world: &mut World, token: Token, error: SseError) -> Flow {
    let entity = token.entity;
    let attempt = world.entity_mut(entity).take::<Attempt>();
    // Read before the new epoch begins: it marks what the attempt's epoch delivered.
    let delivered = token.delivered(world);
    let token = Token::begin(world, entity).ok_or(Superseded)?;
    let now = network_now(world);
    let once = world
        .get::<EventSource>(entity)
        .is_some_and(EventSource::is_once);
    if once && matches!(error, SseError::StreamEnded { .. }) {
        // A one-shot stream that ended cleanly is complete, not failed.
        return close_with(world, entity, CloseReason::OneShotComplete);
    }
    span_of(world, entity).in_scope(|| info!(%error, "attempt ended"));
    note_error(world, entity, &error);
    token.emit(
        world,
        SseErrored {
            entity,
            error: error.clone(),
        },
    )?;
    // Decided after the observers ran: they may have changed the policy.
    let policy = policy_of(world, entity);
    let (fatal, retry_after) = match &error {
        SseError::Status {
            status,
            retry_after,
            ..
        } => (!policy.retries_status(*status), *retry_after),
        error => (error.is_fatal(), None),
    };
    if fatal {
        return close_with(world, entity, CloseReason::Refused(error));
    }
    if once {
        return close_with(world, entity, CloseReason::OneShotFailed(error));
    }
    let healthy = attempt.is_some_and(|attempt| {
        delivered
            || attempt
                .opened_at
                .is_some_and(|opened| now.saturating_sub(opened) >= policy.healthy_after)
    });
    let failures = {
        let mut source = world.entity_mut(entity);
        let mut failed = source.entry::<FailedAttempts>().or_default().into_mut();
        failed.0 = if healthy { 0 } else { failed.0 + 1 };
        failed.0
    };
    if let Some(max) = policy.max_attempts
        && failures >= max
    {
        span_of(world, entity).in_scope(|| warn!(failures, "giving up"));
        let gave_up = SseError::GaveUp {
            url: error.source_url().clone(),
            attempts: failures,
        };
        note_error(world, entity, &gave_up);
        token.emit(
            world,
            SseErrored {
                entity,
                error: gave_up.clone(),
            },
        )?;
        return close_with(world, entity, CloseReason::GaveUp(gave_up));
    }
    let reconnection_time = world
        .get::<ReconnectionTime>(entity)
        .copied()
        .unwrap_or_default()
        .0;
    let seed = entity.to_bits() ^ u64::from(failures) ^ now.as_nanos() as u64;
    let delay = policy.delay(reconnection_time, failures, retry_after, random_unit(seed));
    enter(world, token, ReadyState::Retrying)?;
    let mut retrying = SseRetrying::new(entity, failures.max(1), delay, error);
    let flow = if has_observers::<SseRetrying>(world, entity) {
        token.call_game(world, |world| world.trigger_ref(&mut retrying))
    } else {
        Ok(())
    };
    let vetoed = retrying.is_vetoed();
    // Written with the veto the observers decided.
    world.write_message(retrying);
    flow?;
    if vetoed {
        return close_with(world, entity, CloseReason::Vetoed);
    }
    world.entity_mut(entity).insert(RetryAt(now + delay));
    if let Some(mut stats) = world.get_mut::<SseSourceStats>(entity) {
        stats.retry_at = Some(now + delay);
    }
    Ok(())
}

/// Closes the source: the attempt (or the wait) dropped, `Closing`, `Closed`, [`SseClosed`].
/// A source that is closed, or closing, is left alone.
pub(crate) fn close(world: &mut World, entity: Entity, reason: CloseReason) {
    if !matches!(reason, CloseReason::Suspended)
        && let Ok(mut source) = world.get_entity_mut(entity)
    {
        // The game closed it itself: it stays closed when the app resumes.
        source.remove::<Suspended>();
    }
    if world
        .get::<ReadyState>(entity)
        .is_none_or(|state| matches!(state, ReadyState::Closing | ReadyState::Closed))
    {
        return;
    }
    let _ = close_with(world, entity, reason);
}

/// [`close`] without the check, for work in hand that decided to close.
pub(crate) fn close_with(world: &mut World, entity: Entity, reason: CloseReason) -> Flow {
    let token = Token::begin(world, entity).ok_or(Superseded)?;
    world
        .entity_mut(entity)
        .remove::<(Attempt, RetryAt, PendingOpen)>();
    enter(world, token, ReadyState::Closing)?;
    enter(world, token, ReadyState::Closed)?;
    span_of(world, entity).in_scope(|| info!(%reason, "closed"));
    token.emit(world, SseClosed { entity, reason })
}

/// Reopens a closed source (BestHTTP: `Open`); a source that is not closed is left alone.
pub(crate) fn open(world: &mut World, entity: Entity) {
    if world
        .get::<ReadyState>(entity)
        .is_some_and(|state| state.is_closed())
    {
        reconnect_now(world, entity);
    }
}

/// Drops the current attempt (or the wait for the next) and connects again at once, keeping
/// the last event ID. A closed source reopens; a source spawned in this frame opens now.
pub(crate) fn reconnect_now(world: &mut World, entity: Entity) {
    if world.get::<EventSource>(entity).is_none() {
        return;
    }
    span_of(world, entity).in_scope(|| debug!("reconnecting now"));
    if let Some(mut failed) = world.get_mut::<FailedAttempts>(entity) {
        failed.0 = 0;
    }
    start_attempt(world, entity);
}

/// Opens a source spawned since the last frame, unless the game already opened or closed it;
/// or one whose [`EventSource`] was inserted again after being removed.
pub(crate) fn open_new(world: &mut World, entity: Entity) {
    let Ok(mut source) = world.get_entity_mut(entity) else {
        return;
    };
    if source.take::<PendingOpen>().is_none() {
        return;
    }
    let reattached = source.take::<Detached>().is_some();
    if source.get::<ReadyState>() == Some(&ReadyState::Initial) {
        start_attempt(world, entity);
    } else if reattached {
        reconnect_now(world, entity);
    }
}

/// Starts the next attempt if the source's wait is over.
pub(crate) fn retry_if_due(world: &mut World, entity: Entity) {
    let now = network_now(world);
    if world
        .get::<RetryAt>(entity)
        .is_some_and(|retry| retry.0 <= now)
    {
        start_attempt(world, entity);
    }
}

/// The [`EventSource`] component went: its entity was despawned, or the component removed.
/// `was`: its state then.
pub(crate) fn source_removed(world: &mut World, entity: Entity, was: ReadyState) {
    let was_closed = was.is_closed();
    if was_closed {
        if let Ok(mut source) = world.get_entity_mut(entity) {
            source.insert(Detached);
        }
        return;
    }
    if let Ok(mut source) = world.get_entity_mut(entity) {
        source.insert(Detached);
        return close(world, entity, CloseReason::Removed);
    }
    // Despawned: its components (the attempt among them) are gone. Systems and global
    // observers still hear of it.
    if was == ReadyState::Open {
        let mut stats = world.resource_mut::<SseStats>();
        stats.open_sources = stats.open_sources.saturating_sub(1);
    }
    let closed = SseClosed {
        entity,
        reason: CloseReason::Despawned,
    };
    world.write_message(closed.clone());
    if has_observers::<SseClosed>(world, entity) {
        world.trigger(closed);
    }
}

pub(crate) fn policy_of(world: &World, entity: Entity) -> RetryPolicy {
    match world.get::<RetryPolicy>(entity) {
        Some(policy) => policy.clone(),
        None => world.resource::<SseSettings>().retry_policy.clone(),
    }
}

/// A number in `0.0..1.0` for the jitter: std's randomly keyed hasher, no RNG dependency.
fn random_unit(seed: u64) -> f64 {
    let bits = std::collections::hash_map::RandomState::new().hash_one(seed);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The app is about to be suspended: closes every source that is not closed, marked to reopen
/// on resume.
#[cfg(feature = "app_lifecycle")]
pub(crate) fn suspend(world: &mut World) {
    let mut live = world.query_filtered::<(Entity, &ReadyState), With<EventSource>>();
    let entities: Vec<Entity> = live
        .iter(world)
        .filter(|(_, state)| !matches!(state, ReadyState::Closing | ReadyState::Closed))
        .map(|(entity, _)| entity)
        .collect();
    for entity in entities {
        world.entity_mut(entity).insert(Suspended);
        close(world, entity, CloseReason::Suspended);
    }
}

/// The app resumed: reopens the sources [`suspend`] closed, with their last event ID, unless
/// the game reopened or despawned them meanwhile.
#[cfg(feature = "app_lifecycle")]
pub(crate) fn resume(world: &mut World) {
    let mut suspended = world.query_filtered::<Entity, With<Suspended>>();
    let entities: Vec<Entity> = suspended.iter(world).collect();
    for entity in entities {
        world.entity_mut(entity).remove::<Suspended>();
        open(world, entity);
    }
}

/// Closed by [`suspend`], to reopen on resume.
#[derive(Component)]
#[component(storage = "SparseSet")]
pub(crate) struct Suspended;
