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
    let was = states.get(entity).copied().unwrap_or_default();
    // On despawn the entity is gone by the time this runs, and its attempt with it.
    commands.queue(move |world: &mut World| lifecycle::source_removed(world, entity, was));
}

/// A source spawned without a [`Name`] gets one from its URL: `sse host/path` (in place: it
/// came with the placeholder, so the source stays in its table).
pub(crate) fn name_source(
    add: On<Add, EventSource>,
    mut sources: Query<(&EventSource, &mut Name)>,
) {
    if let Ok((source, mut name)) = sources.get_mut(add.entity)
        && name.as_str() == lifecycle::UNNAMED
    {
        *name = lifecycle::source_name(source.url());
    }
}

/// Runs in `PreUpdate`, after the receive step: with
/// [`OnSuspend::CloseWhileSuspended`](crate::plugin::OnSuspend::CloseWhileSuspended), closes the
/// sources when the app is about to be suspended and reopens them when it resumes.
#[cfg(feature = "app_lifecycle")]
pub(crate) fn follow_app_lifecycle(
    mut lifecycle: MessageReader<bevy_window::AppLifecycle>,
    settings: Res<crate::settings::SseSettings>,
    mut suspended: Local<bool>,
    mut commands: Commands,
) {
    use bevy_window::AppLifecycle;
    for event in lifecycle.read() {
        match event {
            AppLifecycle::WillSuspend | AppLifecycle::Suspended if !*suspended => {
                *suspended = true;
                if settings.on_suspend == crate::settings::OnSuspend::CloseWhileSuspended {
                    commands.queue(lifecycle::suspend);
                }
            }
            AppLifecycle::WillResume | AppLifecycle::Running if *suspended => {
                *suspended = false;
                // Sources closed by an earlier suspension reopen even if the setting changed.
                commands.queue(lifecycle::resume);
            }
            _ => {}
        }
    }
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
