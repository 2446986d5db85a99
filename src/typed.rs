//! Events decoded on the IO side into a game's own types (feature `serde`: [`SseJson`]).
//!
//! A source carries, per event name, a [`Decoder`]: a function made for one type. The
//! attempt's parser runs it on the IO thread right after an event is parsed, and the event and
//! its value cross the channel together, in one allocation, as a [`Decoded`] trait object that
//! knows how to become the game's messages on the main thread. The main thread never parses a
//! payload.
//!
//! [`SseJson`]: crate::json::SseJson

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::Arc;

use bevy::prelude::{Entity, World};

use crate::guard::{Flow, Token};
use crate::parser::MessageEvent;

/// An event and the value decoded from it on the IO side, on their way to the main thread.
pub(crate) trait Decoded: Any + Send + Sync {
    /// The raw event, taken out first: its message goes before the value's. `None` once taken.
    fn take_event(&mut self) -> Option<MessageEvent>;
    /// The decoded type, to tell values of different types apart.
    fn value_type(&self) -> TypeId;
    /// Whether anything observes the type's entity event on this source (the value then
    /// reaches game code at once, so what came before it must be applied first).
    fn observed(&self, world: &World, entity: Entity) -> bool;
    /// Writes the value as the game's message and triggers its observers.
    fn deliver(self: Box<Self>, world: &mut World, token: Token) -> Flow;
    /// What writes values of this type (and only of this type) as one batch of messages,
    /// leaving the vector empty: for when nothing observes them.
    fn batch_writer(&self) -> BatchWriter;
}

impl fmt::Debug for dyn Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoded").finish_non_exhaustive()
    }
}

/// See [`Decoded::batch_writer`].
pub(crate) type BatchWriter = fn(&mut World, Entity, &mut Vec<Box<dyn Decoded>>);

/// What a [`Decoder`] makes of an event: the event with its value, or (rarely, so boxed) the
/// event back with what kind of mismatch its payload was.
pub(crate) type Decoding = Result<Box<dyn Decoded>, Box<(MessageEvent, String)>>;

/// How one event name's payloads become one type's values.
#[derive(Clone, Copy)]
pub(crate) struct Decoder {
    /// On the IO side: the event with its payload decoded, or the event back with what kind
    /// of mismatch it was (never the payload).
    pub(crate) decode: fn(MessageEvent) -> Decoding,
    /// The type's name, for errors.
    pub(crate) type_name: &'static str,
}

/// A source's decoders by event name: few, so a list.
pub(crate) type Decoders = Arc<[(Box<str>, Decoder)]>;

/// The decoder for `event_type`, if the source has one.
#[inline]
pub(crate) fn find<'d>(
    decoders: &'d [(Box<str>, Decoder)],
    event_type: &str,
) -> Option<&'d Decoder> {
    decoders
        .iter()
        .find(|(name, _)| &**name == event_type)
        .map(|(_, decoder)| decoder)
}

/// `decoders` with `decoder` for `name`, replacing an earlier one for that name.
#[cfg(feature = "serde")]
pub(crate) fn with(decoders: &Decoders, name: &str, decoder: Decoder) -> Decoders {
    decoders
        .iter()
        .filter(|(known, _)| &**known != name)
        .cloned()
        .chain([(Box::from(name), decoder)])
        .collect()
}
