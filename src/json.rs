//! JSON events decoded off the main thread (feature `serde`).
//!
//! Declare on a source which event names carry JSON and of what type; each such event arrives
//! as an [`SseJson<T>`] message and entity event, decoded by the IO task, next to the raw
//! [`SseMessage`](crate::message::SseMessage) (still delivered, for code that wants the text).
//! A payload that does not decode is an [`SseErrored`](crate::message::SseErrored) with
//! [`SseError::Decode`](crate::SseError::Decode), and the stream goes on.
//!
//! ```
//! use bevy::prelude::*;
//! use bevy_eventsource::prelude::*;
//! use serde::Deserialize;
//!
//! #[derive(Deserialize, Clone, Debug)]
//! struct Position {
//!     id: u32,
//!     x: f32,
//!     y: f32,
//! }
//!
//! fn spawn(mut commands: Commands) {
//!     commands.spawn(EventSource::new("https://race.example/swarm").with_json::<Position>("pos"));
//! }
//!
//! fn move_racers(mut positions: MessageReader<SseJson<Position>>) {
//!     for SseJson { value: position, .. } in positions.read() {
//!         // A ready Position: no parsing on the main thread.
//!         let _ = (position.id, position.x, position.y);
//!     }
//! }
//! App::new()
//!     .add_plugins((MinimalPlugins, SsePlugin::default()))
//!     // For `MessageReader`s of the type (observers need no registration).
//!     .add_message::<SseJson<Position>>()
//!     .add_systems(Startup, spawn)
//!     .add_systems(Update, move_racers);
//! ```
//!
//! Observers work as for every other event: `commands.entity(source).observe(|pos:
//! On<SseJson<Position>>| ...)`.

use std::any::{Any, TypeId};

use bevy::ecs::message::MessageRegistry;
use bevy::prelude::*;
use serde::de::DeserializeOwned;

use crate::guard::{Flow, Token, has_observers};
use crate::parser::MessageEvent;
use crate::source::EventSource;
use crate::typed::{self, BatchWriter, Decoded, Decoder, Decoding};

/// An event of a name the source decodes as JSON ([`EventSource::with_json`]): the value,
/// decoded by the IO task. Both a [`Message`] and an [`EntityEvent`] targeting the source.
#[derive(Message, EntityEvent, Clone, Debug, PartialEq)]
pub struct SseJson<T: Send + Sync + 'static> {
    /// The source entity.
    pub entity: Entity,
    /// The decoded payload.
    pub value: T,
}

impl EventSource {
    /// Decodes events named `event` as JSON into `T` on the IO side: each arrives as an
    /// [`SseJson<T>`] (message and entity event) right after its raw
    /// [`SseMessage`](crate::message::SseMessage). Use `"message"` for events without an
    /// `event:` field. A later call for the same name replaces the type. A payload that is not
    /// a `T` is an [`SseError::Decode`](crate::SseError::Decode) (not fatal); the source's
    /// [done sentinel](Self::with_done_sentinel), such as `[DONE]`, is never decoded.
    ///
    /// A system that reads `MessageReader<SseJson<T>>` needs the message registered, as any
    /// Bevy message: `app.add_message::<SseJson<T>>()`. Observers need nothing.
    #[must_use]
    pub fn with_json<T>(mut self, event: &str) -> Self
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.decoders = typed::with(&self.decoders, event, decoder::<T>());
        self
    }
}

fn decoder<T>() -> Decoder
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    Decoder {
        decode: decode::<T>,
        type_name: std::any::type_name::<T>(),
    }
}

fn decode<T>(event: MessageEvent) -> Decoding
where
    T: DeserializeOwned + Clone + Send + Sync + 'static,
{
    match serde_json::from_str::<T>(event.data()) {
        Ok(value) => Ok(Box::new(Value {
            event: Some(event),
            value,
        })),
        Err(error) => Err(Box::new((event, problem(&error)))),
    }
}

/// The kind of mismatch and where: serde's own message would quote the payload.
fn problem(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match error.classify() {
        Category::Syntax => "not JSON",
        Category::Eof => "JSON cut short",
        Category::Data => "JSON of another shape (a missing field or a wrong type)",
        Category::Io => "unreadable",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

/// An event and the `T` decoded from it, on their way to the main thread.
struct Value<T> {
    event: Option<MessageEvent>,
    value: T,
}

impl<T: Clone + Send + Sync + 'static> Decoded for Value<T> {
    fn take_event(&mut self) -> Option<MessageEvent> {
        self.event.take()
    }

    fn value_type(&self) -> TypeId {
        TypeId::of::<T>()
    }

    fn observed(&self, world: &World, entity: Entity) -> bool {
        has_observers::<SseJson<T>>(world, entity)
    }

    fn deliver(self: Box<Self>, world: &mut World, token: Token) -> Flow {
        register::<T>(world);
        token.emit(
            world,
            SseJson {
                entity: token.entity,
                value: self.value,
            },
        )
    }

    fn batch_writer(&self) -> BatchWriter {
        write_batch::<T>
    }
}

fn write_batch<T: Clone + Send + Sync + 'static>(
    world: &mut World,
    entity: Entity,
    values: &mut Vec<Box<dyn Decoded>>,
) {
    register::<T>(world);
    world.write_message_batch(values.drain(..).filter_map(|value| {
        // Only values of this type are batched together.
        let value: Box<dyn Any> = value;
        let value = value.downcast::<Value<T>>().ok()?;
        Some(SseJson {
            entity,
            value: value.value,
        })
    }));
}

/// Registered on first use, so the game need not register every type it decodes.
fn register<T: Clone + Send + Sync + 'static>(world: &mut World) {
    if !world.contains_resource::<Messages<SseJson<T>>>() {
        MessageRegistry::register_message::<SseJson<T>>(world);
    }
}
