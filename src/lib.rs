//! # bevy_eventsource
//!
//! A Server-Sent Events (WHATWG `EventSource`) client for the Bevy game engine, built on a
//! spec-exact, incremental parser.
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

pub mod commands;
mod connection;
mod dispatch;
pub mod error;
pub mod message;
pub mod parser;
pub mod plugin;
pub mod source;

pub use error::SseError;

/// The types a game needs: `use bevy_eventsource::prelude::*;`.
pub mod prelude {
    pub use crate::commands::SseEntityCommandsExt;
    pub use crate::error::SseError;
    pub use crate::message::{
        SseClosed, SseComment, SseErrored, SseMessage, SseOpened, SseRetrying, SseStateChanged,
    };
    pub use crate::parser::MessageEvent;
    pub use crate::plugin::{SseClient, SsePlugin, SseSystems};
    pub use crate::source::{EventSource, LastEventId, ReadyState, ReconnectionTime};
    pub use reqwest::Method;
}

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
