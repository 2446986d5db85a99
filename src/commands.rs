//! BestHTTP's methods `Open`, `Close`, `On` and `Off`, and a forced reconnection, as
//! [`EntityCommands`] methods.

use bevy::ecs::system::IntoSystem;
use bevy::prelude::*;

use crate::delivery::SseHandlers;
use crate::lifecycle;
use crate::message::CloseReason;
use crate::message::SseMessage;

/// Methods on a source entity's commands.
///
/// ```
/// use bevy::prelude::*;
/// use bevy_eventsource::prelude::*;
///
/// fn on_join(In(message): In<SseMessage>) {
///     info!("joined: {}", message.data());
/// }
///
/// fn subscribe(mut commands: Commands) {
///     commands
///         .spawn(EventSource::new("http://127.0.0.1:8080/feed"))
///         .on_sse_event("join", on_join);
/// }
/// # bevy::ecs::system::assert_is_system(subscribe);
/// ```
pub trait SseEntityCommandsExt {
    /// Closes the source (BestHTTP: `Close`): the connection dropped, `Closing`, `Closed`,
    /// [`SseClosed`](crate::message::SseClosed) with [`CloseReason::Requested`]. It stays closed
    /// until reopened. A source spawned in this frame closes before any request goes out.
    fn close_event_source(&mut self) -> &mut Self;

    /// Reopens a closed source (BestHTTP: `Open`), keeping its last event ID.
    fn open_event_source(&mut self) -> &mut Self;

    /// Drops the current stream (or the wait for the next attempt) and connects again at once,
    /// sending the last event ID. A closed source reopens; a source spawned in this frame opens
    /// now, once.
    fn reconnect_event_source(&mut self) -> &mut Self;

    /// Runs `handler` for each message whose event type is `event_type` (BestHTTP: `On`).
    /// A second handler for the same type replaces the first. [`SseMessage`] is still written
    /// and triggered for every message.
    fn on_sse_event<M>(
        &mut self,
        event_type: impl Into<String>,
        handler: impl IntoSystem<In<SseMessage>, (), M> + Send + 'static,
    ) -> &mut Self;

    /// Removes the handler for `event_type` (BestHTTP: `Off`); the stream keeps flowing.
    fn off_sse_event(&mut self, event_type: &str) -> &mut Self;
}

impl SseEntityCommandsExt for EntityCommands<'_> {
    fn close_event_source(&mut self) -> &mut Self {
        self.queue(world_command(|world, entity| {
            lifecycle::close(world, entity, CloseReason::Requested);
        }))
    }

    fn open_event_source(&mut self) -> &mut Self {
        self.queue(world_command(lifecycle::open))
    }

    fn reconnect_event_source(&mut self) -> &mut Self {
        self.queue(world_command(lifecycle::reconnect_now))
    }

    fn on_sse_event<M>(
        &mut self,
        event_type: impl Into<String>,
        handler: impl IntoSystem<In<SseMessage>, (), M> + Send + 'static,
    ) -> &mut Self {
        let event_type = event_type.into();
        self.queue(move |mut entity: EntityWorldMut<'_>| {
            let system = entity.world_scope(|world| world.register_system(handler));
            let old = (entity.entry::<SseHandlers>().or_default().into_mut().0)
                .insert(event_type, system);
            if let Some(old) = old {
                entity.world_scope(|world| {
                    let _ = world.unregister_system(old);
                });
            }
        })
    }

    fn off_sse_event(&mut self, event_type: &str) -> &mut Self {
        let event_type = event_type.to_owned();
        self.queue(move |mut entity: EntityWorldMut<'_>| {
            let old = entity
                .get_mut::<SseHandlers>()
                .and_then(|mut handlers| handlers.0.remove(&event_type));
            if let Some(old) = old {
                entity.world_scope(|world| {
                    let _ = world.unregister_system(old);
                });
            }
        })
    }
}

/// An entity command that runs `action` on the whole world, for this entity.
fn world_command(action: fn(&mut World, Entity)) -> impl FnOnce(EntityWorldMut<'_>) {
    move |entity: EntityWorldMut<'_>| {
        let id = entity.id();
        action(entity.into_world_mut(), id);
    }
}
