//! # bevy_eventsource
//!
//! A Server-Sent Events (WHATWG `EventSource`) client for the Bevy game engine, built on a
//! spec-exact, incremental parser. Connections run off the main thread, on one IO thread per
//! app: a current-thread tokio runtime that reqwest's own connection tasks share, so a stream
//! sent as many small HTTP chunks never crosses threads per chunk (on Bevy's task pools it
//! would, twice per chunk, at a tenth of the throughput). A game that already runs tokio can
//! hand the plugin its runtime instead ([`SsePlugin::with_tokio_runtime`](plugin::SsePlugin::with_tokio_runtime)).
//! The ECS side only applies what the IO side parsed, in `PreUpdate`.
//!
//! Add [`SsePlugin`](plugin::SsePlugin), spawn entities with an
//! [`EventSource`](source::EventSource), and read [`SseMessage`](message::SseMessage)s with a
//! `MessageReader` or an observer. The README has the whole tour and the BestHTTP name mapping;
//! `examples/basic.rs` is the smallest game.
//!
//! ```no_run
//! use bevy::prelude::*;
//! use bevy_eventsource::prelude::*;
//!
//! App::new()
//!     .add_plugins((MinimalPlugins, SsePlugin::default()))
//!     .add_systems(Startup, |mut commands: Commands| {
//!         commands.spawn(EventSource::new("http://127.0.0.1:8080/events"));
//!     })
//!     .add_systems(Update, |mut messages: MessageReader<SseMessage>| {
//!         for message in messages.read() {
//!             info!("{}: {}", message.event_type(), message.data());
//!         }
//!     })
//!     .run();
//! ```
//!
//! Events reach the ECS in batches over a channel bounded in bytes, drained in `PreUpdate`
//! ([`SseSystems::Receive`](plugin::SseSystems::Receive)). [`SseSettings`](plugin::SseSettings)
//! can be changed while the game runs; [`SseStats`](plugin::SseStats), the per-source
//! [`SseSourceStats`](diagnostics::SseSourceStats) and
//! [`SseDiagnosticsPlugin`](diagnostics::SseDiagnosticsPlugin) say what the plugin did and cost.
//! With the `reflect` feature (on by default) the state components, settings and stats are
//! `Reflect` and registered, for inspectors and `bevy_remote`. With the `serde` feature (on by
//! default), `EventSource::with_json::<T>(name)` has the IO thread decode that event name's JSON
//! payloads, and the game reads ready `SseJson<T>` values.
//!
//! Observers and named handlers may close, reopen, reconnect or despawn their source at any
//! moment; the plugin re-checks after every call into game code and does exactly what the game
//! asked. Reconnection waits run on real time, so a paused game still reconnects. To test your
//! game's logic, [`testing`] replaces the network and the clock: play the server for each
//! connection (open, events, hang-ups, refusals) and advance time, with no socket and no sleep.
//!
//! The [`parser`] module is usable on its own: feed it bytes from any source, get events out.
//!
//! ```
//! use bevy_eventsource::parser::{Parsed, SseParser};
//!
//! let mut parser = SseParser::new();
//! let mut data = Vec::new();
//! parser
//!     .feed(b"id: 1\ndata: hello\n\n", |item| {
//!         if let Parsed::Message(event) = item {
//!             data.push(event.into_data());
//!         }
//!     })
//!     .unwrap();
//! assert_eq!(data, ["hello"]);
//! assert_eq!(parser.last_event_id(), "1");
//! ```

mod budget;
pub mod commands;
mod connection;
mod delivery;
pub mod diagnostics;
pub mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod io;
#[cfg(feature = "serde")]
pub mod json;
mod lanes;
mod lifecycle;
pub mod message;
pub mod parser;
pub mod plugin;
mod request;
pub mod retry;
mod runtime;
pub mod settings;
pub mod source;
mod systems;
pub mod testing;
mod tls;
pub mod transport;
mod typed;

pub use error::{SourceUrl, SseError};

/// The types a game needs: `use bevy_eventsource::prelude::*;`.
pub mod prelude {
    pub use crate::commands::SseEntityCommandsExt;
    pub use crate::diagnostics::{SseDiagnosticsPlugin, SseSourceStats};
    pub use crate::error::SseError;
    #[cfg(feature = "serde")]
    pub use crate::json::SseJson;
    pub use crate::message::{
        CloseReason, SseClosed, SseComment, SseErrored, SseMessage, SseOpened, SseRetrying,
        SseStateChanged,
    };
    pub use crate::parser::MessageEvent;
    pub use crate::plugin::{
        OnSuspend, SseClient, SseClientBuilder, SsePlugin, SseSettings, SseStats, SseSystems,
    };
    pub use crate::retry::RetryPolicy;
    pub use crate::source::{EventSource, LastEventId, ReadyState, ReconnectionTime};
    pub use reqwest::Method;
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
