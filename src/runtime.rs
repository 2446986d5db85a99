//! The resources that both the lifecycle and the delivery use: settings, the transport and its
//! channel, the shared HTTP client, the stats, and the network clock.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use bevy::platform::time::Instant;
use bevy::prelude::*;

use crate::io::IoThread;
use crate::parser::ParserLimits;
use crate::retry::RetryPolicy;
use crate::transport::{MemoryTransport, ReportBatch, Transport};

/// Settings copied from the plugin.
#[derive(Resource, Clone, Debug)]
pub(crate) struct SseConfig {
    pub(crate) parser_limits: ParserLimits,
    pub(crate) max_messages_per_frame: Option<NonZeroUsize>,
    pub(crate) max_receive_time_per_frame: Option<Duration>,
    /// For sources without a [`RetryPolicy`] of their own.
    pub(crate) retry_policy: RetryPolicy,
    /// How many batches may wait between the transport and the game.
    pub(crate) channel_capacity: usize,
    /// For the default [`SseClient`].
    pub(crate) connect_timeout: Option<Duration>,
}

/// The transport (chosen at the first attempt) and the channel every attempt reports to.
#[derive(Resource)]
pub(crate) struct SseRuntime {
    transport: Option<Arc<dyn Transport>>,
    pub(crate) tx: async_channel::Sender<ReportBatch>,
    pub(crate) rx: async_channel::Receiver<ReportBatch>,
    /// Reports of attempts that failed before reaching the transport (a request that could not
    /// be built), for the next receive step.
    pub(crate) unsent: Vec<ReportBatch>,
    /// The network clock's zero, when the app has no [`Time<Real>`].
    started: Instant,
}

impl SseRuntime {
    pub(crate) fn new(capacity: usize) -> Self {
        let (tx, rx) = async_channel::bounded(capacity.max(1));
        Self {
            transport: None,
            tx,
            rx,
            unsent: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Lets the transport push what waits for room in the channel.
    pub(crate) fn flush_transport(&self) {
        if let Some(transport) = &self.transport {
            transport.flush();
        }
    }
}

/// The transport attempts run on: a [`MemoryTransport`] the game inserted, or else the IO
/// thread, started the first time a source connects.
pub(crate) fn transport(world: &mut World) -> Arc<dyn Transport> {
    if let Some(transport) = &world.resource::<SseRuntime>().transport {
        return transport.clone();
    }
    let transport: Arc<dyn Transport> = match world.get_resource::<MemoryTransport>() {
        Some(memory) => Arc::new(memory.clone()),
        None => Arc::new(IoThread::start()),
    };
    world.resource_mut::<SseRuntime>().transport = Some(transport.clone());
    transport
}

/// The shared HTTP client: the [`SseClient`] resource, or a default one (with the plugin's
/// connect timeout) built and inserted the first time a source connects over the network.
pub(crate) fn client(world: &mut World) -> reqwest::Client {
    if let Some(client) = world.get_resource::<SseClient>() {
        return client.0.clone();
    }
    let mut builder = reqwest::Client::builder();
    if let Some(timeout) = world.resource::<SseConfig>().connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    // Building fails only if the TLS backend cannot start, and then reqwest's default client
    // (the fallback) cannot either.
    let client = builder.build().unwrap_or_default();
    world.insert_resource(SseClient(client.clone()));
    client
}

/// Network time: reconnection waits and the health of a stream are measured on it, never on
/// game time, so a paused or slowed game clock does not hold a reconnection back. It is
/// [`Time<Real>`] (which a test can drive with `TimeUpdateStrategy`), or the wall clock when
/// the app has no `TimePlugin`.
pub(crate) fn network_now(world: &World) -> Duration {
    network_time(
        world.get_resource::<Time<Real>>(),
        world.resource::<SseRuntime>(),
    )
}

/// [`network_now`] for a system that has the resources.
pub(crate) fn network_time(real: Option<&Time<Real>>, runtime: &SseRuntime) -> Duration {
    real.map_or_else(|| runtime.started.elapsed(), Time::elapsed)
}

/// The HTTP client every source uses. Replace it to set a proxy, root certificates or
/// timeouts; connections are pooled across sources. Insert it before or after adding the
/// plugin: when the first source connects and none is there, the plugin builds its default
/// (with [`SsePlugin::connect_timeout`](crate::plugin::SsePlugin::connect_timeout)) and inserts
/// it.
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

/// What the plugin's receive step ([`SseSystems::Receive`](crate::plugin::SseSystems::Receive))
/// did in the last frame, over all sources: for a network HUD, or to see what the plugin itself
/// costs a frame.
#[derive(Resource, Clone, Debug, Default, PartialEq, Eq)]
pub struct SseStats {
    /// Messages ([`SseMessage`](crate::message::SseMessage)) delivered in the last frame.
    pub frame_messages: usize,
    /// How long the receive step took in the last frame: draining the channel, parsing nothing
    /// (the IO task already did), writing messages and running observers and named handlers.
    pub frame_receive_time: Duration,
    /// Messages delivered since the plugin started.
    pub total_messages: u64,
    /// Batches taken from the channel but left for later frames by the frame's message or time
    /// budget, at the end of the last frame (at most the channel capacity).
    pub frame_backlog: usize,
}
