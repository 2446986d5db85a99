//! The one guard around calls into game code.
//!
//! Every observer, named handler and flush of observer commands may close, reopen, reconnect
//! or despawn the source it was told about. So each source carries an epoch, which every
//! lifecycle transition replaces with a fresh number, and the code that works on a source holds
//! a [`Token`]: the source and the epoch it started from. After each call into game code it
//! asks the token whether that is still the source's epoch; if not, someone else has taken the
//! source over (or it is gone), and the work in hand stops. An attempt's id is the epoch it
//! started, so "this attempt is still the current one" is the same question.

use std::sync::atomic::{AtomicU64, Ordering};

use bevy::ecs::event::EventKey;
use bevy::prelude::*;

/// The source's epoch. A fresh value marks every transition; no two are ever equal, across
/// sources and apps.
#[derive(Component, Debug, Default)]
pub(crate) struct Epoch {
    current: u64,
    /// A message of this epoch reached the game. Kept here, not with the attempt, because the
    /// receive step reads the epoch of every source it serves anyway: at 10,000 sources, one
    /// component fewer to fetch from memory per source per frame.
    delivered: bool,
}

static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// Work in hand on one source, valid while the source's epoch has not moved on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) entity: Entity,
    pub(crate) epoch: u64,
}

/// The work in hand was superseded: the source moved on or is gone. Stop.
#[derive(Debug)]
pub(crate) struct Superseded;

/// What each step of work on a source returns; `?` stops at the first superseded step.
pub(crate) type Flow = Result<(), Superseded>;

impl Token {
    /// Starts a new epoch on the source: everything holding an older token stops at its next
    /// check. `None` if the source is gone.
    pub(crate) fn begin(world: &mut World, entity: Entity) -> Option<Self> {
        let mut epoch = world.get_mut::<Epoch>(entity)?;
        *epoch = Epoch {
            current: NEXT_EPOCH.fetch_add(1, Ordering::Relaxed),
            delivered: false,
        };
        Some(Self {
            entity,
            epoch: epoch.current,
        })
    }

    /// The token for an attempt: valid while the attempt is the source's current work.
    pub(crate) fn of_attempt(entity: Entity, attempt: u64) -> Self {
        Self {
            entity,
            epoch: attempt,
        }
    }

    /// Whether the source still exists and is still in this epoch.
    pub(crate) fn holds(self, world: &World) -> bool {
        world
            .get::<Epoch>(self.entity)
            .is_some_and(|epoch| epoch.current == self.epoch)
    }

    /// Notes that a message of this epoch reached the game (no change detection: the epoch is
    /// the plugin's own).
    pub(crate) fn mark_delivered(self, world: &mut World) {
        if let Some(mut epoch) = world.get_mut::<Epoch>(self.entity)
            && epoch.current == self.epoch
            && !epoch.delivered
        {
            epoch.bypass_change_detection().delivered = true;
        }
    }

    /// Whether a message of this epoch reached the game.
    pub(crate) fn delivered(self, world: &World) -> bool {
        world
            .get::<Epoch>(self.entity)
            .is_some_and(|epoch| epoch.current == self.epoch && epoch.delivered)
    }

    pub(crate) fn check(self, world: &World) -> Flow {
        if self.holds(world) {
            Ok(())
        } else {
            Err(Superseded)
        }
    }

    /// Calls into game code: runs `call`, applies the commands it queued (observers' commands
    /// included), then checks that the work in hand still holds.
    pub(crate) fn call_game(self, world: &mut World, call: impl FnOnce(&mut World)) -> Flow {
        call(world);
        world.flush();
        self.check(world)
    }

    /// Writes `event` as a message and triggers it for observers (a copy only when some
    /// observer, global or on this source, watches it), then checks.
    pub(crate) fn emit<E>(self, world: &mut World, event: E) -> Flow
    where
        E: Message + EntityEvent + Clone,
        for<'a> E::Trigger<'a>: Default,
    {
        if has_observers::<E>(world, event.event_target()) {
            world.write_message(event.clone());
            self.call_game(world, |world| world.trigger(event))
        } else {
            world.write_message(event);
            Ok(())
        }
    }
}

/// Whether an observer of `E` watches this source (globally or on the entity).
pub(crate) fn has_observers<E: Event>(world: &World, entity: Entity) -> bool {
    world
        .event_key::<E>()
        .is_some_and(|key| has_observers_of(world, key, entity))
}

/// Whether an observer of the event `key` watches this source (globally or on the entity).
pub(crate) fn has_observers_of(world: &World, key: EventKey, entity: Entity) -> bool {
    world
        .observers()
        .try_get_observers(key)
        .is_some_and(|observers| {
            !observers.global_observers().is_empty()
                || observers.entity_observers().contains_key(&entity)
        })
}
