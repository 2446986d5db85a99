//! The plugin's scheduled systems and lifecycle observers: they only find the sources that need
//! something and hand them to the lifecycle.

use bevy::prelude::*;

use crate::delivery::SseHandlers;
use crate::lifecycle::{self, PendingOpen, RetryAt};
use crate::runtime::{SseRuntime, network_time};
use crate::source::{EventSource, ReadyState};

pub(crate) fn on_add_source(add: On<Add, EventSource>, mut commands: Commands) {
    // `try_`: the game may despawn it in the same flush.
    commands.entity(add.entity).try_insert(PendingOpen);
}

/// Runs in `PreUpdate`: opens the sources spawned since the last frame.
pub(crate) fn open_new_sources(mut commands: Commands, new: Query<Entity, With<PendingOpen>>) {
    for entity in &new {
        commands.queue(move |world: &mut World| lifecycle::open_new(world, entity));
    }
}

/// Runs in `PreUpdate`: starts the attempts whose reconnection wait is over, on network time.
pub(crate) fn start_due_attempts(
    mut commands: Commands,
    real: Option<Res<Time<Real>>>,
    runtime: Res<SseRuntime>,
    waiting: Query<(Entity, &RetryAt)>,
) {
    let now = network_time(real.as_deref(), &runtime);
    for (entity, retry) in &waiting {
        if retry.0 <= now {
            commands.queue(move |world: &mut World| lifecycle::retry_if_due(world, entity));
        }
    }
}

/// Despawning a source, or removing its [`EventSource`], closes it.
pub(crate) fn on_remove_source(
    remove: On<Remove, EventSource>,
    states: Query<&ReadyState>,
    mut commands: Commands,
) {
    let entity = remove.entity;
    let was_closed = states.get(entity).is_ok_and(|state| state.is_closed());
    // On despawn the entity is gone by the time this runs, and its attempt with it.
    commands.queue(move |world: &mut World| lifecycle::source_removed(world, entity, was_closed));
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
