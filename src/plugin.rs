//! [`SsePlugin`], its system sets and the shared HTTP client.

use std::time::Duration;

use bevy::prelude::*;

use crate::dispatch::{self, SseConfig, SseRuntime};
use crate::message::{
    SseClosed, SseComment, SseErrored, SseMessage, SseOpened, SseRetrying, SseStateChanged,
};
use crate::parser::ParserLimits;
use crate::retry::RetryPolicy;

/// Adds server-sent events to an app: spawn [`EventSource`](crate::source::EventSource)
/// entities, read [`SseMessage`]s.
#[derive(Clone, Debug)]
pub struct SsePlugin {
    /// How many batches (the body chunks that were ready together) may wait between the IO tasks and the
    /// game. When the game falls behind, the tasks wait, and TCP flow control slows the servers:
    /// memory stays bounded and nothing is dropped. Default 256.
    pub channel_capacity: usize,
    /// The most messages delivered per frame; the rest waits in the channel for the next frames.
    /// `None` (the default) delivers everything that arrived.
    pub max_messages_per_frame: Option<usize>,
    /// Line and event size limits for every source.
    pub parser_limits: ParserLimits,
    /// The reconnection policy of sources without a [`RetryPolicy`] component.
    pub retry_policy: RetryPolicy,
    /// How long the default [`SseClient`] waits for a TCP (and TLS) connection. Default 10 s.
    /// A client you insert yourself keeps its own settings.
    pub connect_timeout: Option<Duration>,
}

impl Default for SsePlugin {
    fn default() -> Self {
        Self {
            channel_capacity: 256,
            max_messages_per_frame: None,
            parser_limits: ParserLimits::default(),
            retry_policy: RetryPolicy::default(),
            connect_timeout: Some(Duration::from_secs(10)),
        }
    }
}

/// The plugin's systems, for ordering your own around them.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SseSystems {
    /// Runs in [`PreUpdate`]: applies what arrived since the last frame: states, components,
    /// messages, observers, named handlers. Events that arrived before it are visible to
    /// [`Update`] systems in the same frame.
    Receive,
    /// Runs in [`PreUpdate`], after [`Receive`](Self::Receive): opens the sources spawned since
    /// the last frame and starts the reconnections whose wait is over.
    Reconnect,
}

/// What the plugin's receive step ([`SseSystems::Receive`]) did in the last frame, over all
/// sources: for a network HUD, or to see what the plugin itself costs a frame.
#[derive(Resource, Clone, Debug, Default, PartialEq, Eq)]
pub struct SseStats {
    /// Messages ([`SseMessage`]) delivered in the last frame.
    pub frame_messages: usize,
    /// How long the receive step took in the last frame: draining the channel, parsing nothing
    /// (the IO task already did), writing messages and running observers and named handlers.
    pub frame_receive_time: Duration,
    /// Messages delivered since the plugin started.
    pub total_messages: u64,
}

/// The HTTP client every source uses. Replace it to set a proxy, root certificates or
/// timeouts; connections are pooled across sources. Insert it before or after adding the
/// plugin: the plugin builds its default (with [`SsePlugin::connect_timeout`]) only if none is
/// there.
///
/// Trusting a private root certificate (a certificate that is not trusted ends the source with
/// [`SseError::Tls`](crate::SseError::Tls)):
///
/// ```no_run
/// use bevy::prelude::*;
/// use bevy_eventsource::prelude::*;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let root = std::fs::read("certs/root.pem")?;
/// let client = reqwest::Client::builder()
///     .add_root_certificate(reqwest::Certificate::from_pem(&root)?)
///     .build()?;
/// App::new()
///     .insert_resource(SseClient(client))
///     .add_plugins((MinimalPlugins, SsePlugin::default()));
/// # Ok(())
/// # }
/// ```
#[derive(Resource, Clone, Debug, Default)]
pub struct SseClient(pub reqwest::Client);

impl Plugin for SsePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(SseConfig {
            parser_limits: self.parser_limits,
            max_messages_per_frame: self.max_messages_per_frame,
            retry_policy: self.retry_policy.clone(),
        })
        .insert_resource(SseRuntime::new(self.channel_capacity))
        .init_resource::<SseStats>()
        .add_message::<SseOpened>()
        .add_message::<SseMessage>()
        .add_message::<SseErrored>()
        .add_message::<SseRetrying>()
        .add_message::<SseComment>()
        .add_message::<SseClosed>()
        .add_message::<SseStateChanged>()
        .add_observer(dispatch::on_add_source)
        .add_observer(dispatch::on_remove_source)
        .add_observer(dispatch::on_remove_handlers)
        .configure_sets(
            PreUpdate,
            (SseSystems::Receive, SseSystems::Reconnect).chain(),
        )
        .add_systems(
            PreUpdate,
            (
                dispatch::receive.in_set(SseSystems::Receive),
                (dispatch::open_new, dispatch::reconnect).in_set(SseSystems::Reconnect),
            ),
        );
        if !app.world().contains_resource::<SseClient>() {
            let mut builder = reqwest::Client::builder();
            if let Some(timeout) = self.connect_timeout {
                builder = builder.connect_timeout(timeout);
            }
            // Building fails only if the TLS backend cannot start, and then reqwest's
            // default client (the fallback) cannot either.
            let client = builder.build().unwrap_or_default();
            app.insert_resource(SseClient(client));
        }
    }
}
