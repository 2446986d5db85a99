//! What a source reports: each type is both a buffered [`Message`] (read it with
//! [`MessageReader`]) and an [`EntityEvent`] on the source entity (watch it with an observer).
//!
//! | BestHTTP callback | message / entity event |
//! |---|---|
//! | `OnOpen` | [`SseOpened`] |
//! | `OnMessage` | [`SseMessage`] (every message, named ones too) |
//! | `OnError` | [`SseErrored`] |
//! | `OnRetry` | [`SseRetrying`] (an observer can [`veto`](SseRetrying::veto) it) |
//! | `OnComment` | [`SseComment`] |
//! | `OnClosed` | [`SseClosed`] |
//! | `OnStateChanged` | [`SseStateChanged`] |

use std::ops::Deref;
use std::time::Duration;

use bevy::prelude::*;

use crate::error::SseError;
use crate::parser::MessageEvent;
use crate::source::ReadyState;

/// The stream opened: the server answered 200 with `text/event-stream` (BestHTTP: `OnOpen`).
#[derive(Message, EntityEvent, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "reflect", derive(Reflect), reflect(Debug, PartialEq, Clone))]
pub struct SseOpened {
    /// The source entity.
    pub entity: Entity,
}

/// A server-sent event arrived (BestHTTP: `OnMessage`). Dereferences to the parsed
/// [`MessageEvent`]: `message.data()`, `message.event_type()`, `message.last_event_id()`,
/// `message.retry()`.
#[derive(Message, EntityEvent, Clone, Debug, PartialEq, Eq)]
pub struct SseMessage {
    /// The source entity.
    pub entity: Entity,
    /// The event.
    pub event: MessageEvent,
}

impl Deref for SseMessage {
    type Target = MessageEvent;

    fn deref(&self) -> &MessageEvent {
        &self.event
    }
}

/// An attempt failed or the stream ended (BestHTTP: `OnError`); or, with
/// [`SseError::Parse`], an event over the size limit was dropped and the stream goes on.
#[derive(Message, EntityEvent, Clone, Debug)]
pub struct SseErrored {
    /// The source entity.
    pub entity: Entity,
    /// What happened.
    pub error: SseError,
}

/// The source will reconnect after `delay` (BestHTTP: `OnRetry`).
///
/// Observers run before the wait starts. One that calls [`veto`](Self::veto) closes the source
/// instead, as BestHTTP's `return false` does; one that changes the [`EventSource`] component
/// (headers, URL) changes the next attempt. The buffered message is written after the observers
/// ran, with the veto they decided.
///
/// [`EventSource`]: crate::source::EventSource
#[derive(Message, EntityEvent, Clone, Debug)]
pub struct SseRetrying {
    /// The source entity.
    pub entity: Entity,
    /// How many attempts in a row have failed, counting the one that just ended.
    pub attempt: u32,
    /// How long the source waits before the next attempt.
    pub delay: Duration,
    /// Why the last attempt ended.
    pub error: SseError,
    vetoed: bool,
}

impl SseRetrying {
    pub(crate) fn new(entity: Entity, attempt: u32, delay: Duration, error: SseError) -> Self {
        Self {
            entity,
            attempt,
            delay,
            error,
            vetoed: false,
        }
    }

    /// Cancels the reconnection: the source closes instead.
    pub fn veto(&mut self) {
        self.vetoed = true;
    }

    /// Whether an observer vetoed the reconnection.
    pub fn is_vetoed(&self) -> bool {
        self.vetoed
    }
}

/// A comment line arrived (BestHTTP: `OnComment`): the text after the `:`, exactly as sent.
#[derive(Message, EntityEvent, Clone, Debug, PartialEq, Eq)]
pub struct SseComment {
    /// The source entity.
    pub entity: Entity,
    /// The comment text.
    pub text: String,
}

/// The source closed for good (BestHTTP: `OnClosed`), and why.
///
/// Every close writes it once, despawning the source included (then only global observers see
/// it, and the entity no longer exists when systems read the message).
#[derive(Message, EntityEvent, Clone, Debug)]
pub struct SseClosed {
    /// The source entity.
    pub entity: Entity,
    /// Why it closed.
    pub reason: CloseReason,
}

/// Why a source closed ([`SseClosed::reason`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// The game closed it ([`close_event_source`](crate::commands::SseEntityCommandsExt::close_event_source)).
    Requested,
    /// The stream sent the source's done sentinel.
    DoneSentinel,
    /// A [one-shot](crate::source::EventSource::once) stream ended cleanly.
    OneShotComplete,
    /// An error that another attempt cannot fix ([`SseError::is_fatal`]): the server refused
    /// (a status, a wrong Content-Type), TLS, a redirect loop, a request that cannot be built.
    Refused(SseError),
    /// A [one-shot](crate::source::EventSource::once) stream failed; it is never sent twice.
    OneShotFailed(SseError),
    /// The [`RetryPolicy`](crate::retry::RetryPolicy)'s maximum of failed attempts in a row was
    /// reached ([`SseError::GaveUp`]).
    GaveUp(SseError),
    /// An [`SseRetrying`] observer vetoed the reconnection.
    Vetoed,
    /// The [`EventSource`](crate::source::EventSource) component was removed.
    Removed,
    /// The source entity was despawned.
    Despawned,
    /// The app is about to be suspended and [`SseSettings::on_suspend`](crate::plugin::SseSettings::on_suspend)
    /// says to close: the source reopens when the app resumes.
    Suspended,
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Requested => f.write_str("requested"),
            Self::DoneSentinel => f.write_str("done sentinel"),
            Self::OneShotComplete => f.write_str("one-shot complete"),
            Self::Refused(error) => write!(f, "refused: {error}"),
            Self::OneShotFailed(error) => write!(f, "one-shot failed: {error}"),
            Self::GaveUp(error) => write!(f, "{error}"),
            Self::Vetoed => f.write_str("retry vetoed"),
            Self::Removed => f.write_str("EventSource removed"),
            Self::Despawned => f.write_str("despawned"),
            Self::Suspended => f.write_str("app suspended"),
        }
    }
}

impl CloseReason {
    /// The error behind the close, if an error closed it.
    pub fn error(&self) -> Option<&SseError> {
        match self {
            Self::Refused(error) | Self::OneShotFailed(error) | Self::GaveUp(error) => Some(error),
            _ => None,
        }
    }
}

/// The [`ReadyState`] changed (BestHTTP: `OnStateChanged`).
#[derive(Message, EntityEvent, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "reflect", derive(Reflect), reflect(Debug, PartialEq, Clone))]
pub struct SseStateChanged {
    /// The source entity.
    pub entity: Entity,
    /// The state before.
    pub old: ReadyState,
    /// The state now.
    pub new: ReadyState,
}
