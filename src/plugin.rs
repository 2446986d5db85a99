//! [`SsePlugin`], its system sets and the shared HTTP client.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use bevy::prelude::*;

use crate::delivery::{self, Inbox};
pub use crate::diagnostics::SseStats;
use crate::message::{
    SseClosed, SseComment, SseErrored, SseMessage, SseOpened, SseRetrying, SseStateChanged,
};
use crate::parser::ParserLimits;
use crate::retry::RetryPolicy;
use crate::runtime::SseRuntime;
pub use crate::runtime::{SseClient, SseClientBuilder};
pub use crate::settings::{OnSuspend, SseSettings};
use crate::systems;

/// Adds server-sent events to an app: spawn [`EventSource`](crate::source::EventSource)
/// entities, read [`SseMessage`]s.
///
/// Its fields seed the [`SseSettings`] resource, which a game may change while it runs; only
/// [`max_batches_per_frame`](Self::max_batches_per_frame),
/// [`max_queued_bytes`](Self::max_queued_bytes) and [`tokio_runtime`](Self::tokio_runtime) are
/// fixed when the plugin is built.
#[derive(Clone, Debug)]
pub struct SsePlugin {
    /// How many batches (the body chunks of one source that were ready together) the receive
    /// step takes in per frame; the rest waits for the next frames, so that a burst from
    /// thousands of sources at once is spread over a few frames instead of landing in one.
    /// What waits is bounded by [`max_queued_bytes`](Self::max_queued_bytes). Default 256.
    pub max_batches_per_frame: usize,
    /// How many bytes of received events may wait between the network and the game, over all
    /// sources: the body bytes read for them (which events over 76 bytes hold on to; shorter ones
    /// hold a copy in their report, so their text is counted twice: an upper bound) and their
    /// reports. When the game falls behind, the IO tasks wait and TCP flow control slows the
    /// servers, so memory stays bounded whatever the framing and nothing is dropped. A batch goes
    /// through whenever the budget is not spent yet, so what waits can pass this by one batch, and
    /// a batch larger than the whole budget still passes. A batch holds at most 128 KiB of one
    /// source's body and its events' reports (a larger read is cut into parts after a line end;
    /// only a longer line makes a larger batch), or the small HTTP chunks that were ready together,
    /// up to 4,096 events or 256 KiB. The game takes in up to this much a frame: at 60 frames a
    /// second, 1 MiB carries about 350,000 short events a second. Room that waiting batches
    /// leave holds event lists the game has emptied, for the next batches of a fast stream to
    /// fill (reusing them saves the IO thread 7–9 % of its time there); they count against this
    /// bound too, and are dropped as soon as a batch needs the room. Default 1 MiB.
    pub max_queued_bytes: usize,
    /// The most messages delivered per frame; the rest waits for the next frames. `None` (the
    /// default) delivers everything that was queued when the frame's receive step began.
    pub max_messages_per_frame: Option<NonZeroUsize>,
    /// The receive step stops delivering once it has run this long, leaving the rest for the
    /// next frames (it may overrun by the one report in hand, observers included). What is
    /// left takes turns, source by source, so a busy source does not hold back the others.
    /// `None` (the default): no limit.
    pub max_receive_time_per_frame: Option<Duration>,
    /// Line and event size limits for every source.
    pub parser_limits: ParserLimits,
    /// The reconnection policy of sources without a [`RetryPolicy`] component.
    pub retry_policy: RetryPolicy,
    /// How long the default [`SseClient`] waits for a TCP (and TLS) connection. Default 10 s.
    /// A client you insert yourself keeps its own settings.
    pub connect_timeout: Option<Duration>,
    /// What sources do while the app is suspended. Default: keep streaming.
    pub on_suspend: OnSuspend,
    /// With the `http2` feature: the most event streams one HTTP/2 connection carries; see
    /// [`SseSettings::max_streams_per_connection`]. Default 100.
    pub max_streams_per_connection: NonZeroU32,
    /// A tokio runtime of the game's to run connections on, instead of the plugin's own IO
    /// thread (which is then never started). It must have IO and time enabled
    /// (`enable_all()`). On a multi-thread runtime each HTTP chunk of a stream wakes the task
    /// that parses it across threads, which costs throughput on streams that send many small
    /// chunks (see the README's performance section). Default `None`: the IO thread.
    pub tokio_runtime: Option<tokio::runtime::Handle>,
}

impl Default for SsePlugin {
    fn default() -> Self {
        Self {
            max_batches_per_frame: 256,
            max_queued_bytes: 1024 * 1024,
            max_messages_per_frame: None,
            max_receive_time_per_frame: None,
            parser_limits: ParserLimits::default(),
            retry_policy: RetryPolicy::default(),
            connect_timeout: Some(Duration::from_secs(10)),
            on_suspend: OnSuspend::KeepStreaming,
            max_streams_per_connection: SseSettings::default().max_streams_per_connection,
            tokio_runtime: None,
        }
    }
}

impl SsePlugin {
    /// Runs connections on this tokio runtime instead of the plugin's IO thread; see
    /// [`tokio_runtime`](Self::tokio_runtime).
    #[must_use]
    pub fn with_tokio_runtime(mut self, handle: tokio::runtime::Handle) -> Self {
        self.tokio_runtime = Some(handle);
        self
    }

    /// The settings this plugin seeds.
    pub fn settings(&self) -> SseSettings {
        SseSettings {
            max_messages_per_frame: self.max_messages_per_frame,
            max_receive_time_per_frame: self.max_receive_time_per_frame,
            parser_limits: self.parser_limits,
            retry_policy: self.retry_policy.clone(),
            connect_timeout: self.connect_timeout,
            on_suspend: self.on_suspend,
            max_streams_per_connection: self.max_streams_per_connection,
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
    Connect,
}

impl Plugin for SsePlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.settings())
            .insert_resource(SseRuntime::new(
                self.max_batches_per_frame,
                self.max_queued_bytes,
                self.tokio_runtime.clone(),
            ))
            .init_resource::<Inbox>()
            .init_resource::<SseStats>()
            .add_message::<SseOpened>()
            .add_message::<SseMessage>()
            .add_message::<SseErrored>()
            .add_message::<SseRetrying>()
            .add_message::<SseComment>()
            .add_message::<SseClosed>()
            .add_message::<SseStateChanged>()
            .add_observer(systems::on_add_source)
            .add_observer(systems::on_remove_source)
            .add_observer(systems::on_remove_handlers)
            .add_observer(systems::name_source)
            .configure_sets(
                PreUpdate,
                (SseSystems::Receive, SseSystems::Connect).chain(),
            )
            .add_systems(
                PreUpdate,
                (
                    delivery::receive.in_set(SseSystems::Receive),
                    (systems::open_new_sources, systems::start_due_attempts)
                        .in_set(SseSystems::Connect),
                ),
            );
        #[cfg(feature = "app_lifecycle")]
        app.add_message::<bevy_window::AppLifecycle>().add_systems(
            PreUpdate,
            systems::follow_app_lifecycle
                .in_set(SseSystems::Receive)
                .after(delivery::receive),
        );
        #[cfg(feature = "reflect")]
        app.register_type::<SseSettings>()
            .register_type::<SseStats>()
            .register_type::<crate::diagnostics::SseSourceStats>()
            .register_type::<crate::source::ReadyState>()
            .register_type::<crate::source::LastEventId>()
            .register_type::<crate::source::ReconnectionTime>()
            .register_type::<RetryPolicy>()
            .register_type::<ParserLimits>()
            .register_type::<OnSuspend>()
            .register_type::<SseOpened>()
            .register_type::<SseStateChanged>()
            // The names sources get; registered by Bevy's default plugins too, not by
            // `MinimalPlugins`.
            .register_type::<Name>();
    }
}
