//! The resources that both the lifecycle and the delivery use: settings, the transport and its
//! channel, the shared HTTP client, the stats, and the network clock.

use std::sync::Arc;
use std::time::Duration;

use bevy::ecs::change_detection::Tick;
use bevy::platform::time::Instant;
use bevy::prelude::*;

use crate::budget::ByteBudget;
use crate::io::IoThread;
use crate::settings::SseSettings;
use crate::transport::{MemoryTransport, ReportBatch, Transport};

/// The transport (chosen at the first attempt) and the channel every attempt reports to.
#[derive(Resource)]
pub(crate) struct SseRuntime {
    transport: Option<Arc<dyn Transport>>,
    pub(crate) tx: async_channel::Sender<ReportBatch>,
    pub(crate) rx: async_channel::Receiver<ReportBatch>,
    /// What the network attempts may hold between them and the game, in bytes.
    pub(crate) budget: Arc<ByteBudget>,
    /// Reports of attempts that failed before reaching the transport (a request that could not
    /// be built), for the next receive step.
    pub(crate) unsent: Vec<ReportBatch>,
    /// How many batches the receive step takes from the channel per frame.
    pub(crate) max_batches_per_frame: usize,
    /// The network clock's zero, when the app has no [`Time<Real>`].
    started: Instant,
    /// How the plugin built its own client, while that client is the [`SseClient`] resource: a
    /// change of [`SseSettings::connect_timeout`] or of the [`SseClientBuilder`] rebuilds it.
    default_client: Option<BuiltClient>,
    /// The HTTP/2 lanes: more clients, so that no connection carries more streams than its
    /// server allows.
    #[cfg(feature = "http2")]
    pub(crate) lanes: crate::lanes::Lanes,
    /// A tokio runtime of the game's, to run attempts on instead of the plugin's IO thread.
    pub(crate) tokio: Option<tokio::runtime::Handle>,
    /// The TLS configuration of every client the plugin builds itself: one verifier, so that
    /// the system's root certificates are read once, at the first TLS handshake.
    default_tls: std::sync::OnceLock<Option<rustls::ClientConfig>>,
}

impl SseRuntime {
    pub(crate) fn new(
        max_batches_per_frame: usize,
        queued_bytes: usize,
        tokio: Option<tokio::runtime::Handle>,
    ) -> Self {
        let max_batches_per_frame = max_batches_per_frame.max(1);
        // Not bounded in batches: the byte budget bounds what waits, and an IO task that waits
        // for room in a full channel has to be woken from the game's thread, one by one (at
        // 10,000 sources that was half of the plugin's CPU time).
        let (tx, rx) = async_channel::unbounded();
        Self {
            transport: None,
            tx,
            rx,
            budget: ByteBudget::new(queued_bytes),
            unsent: Vec::new(),
            max_batches_per_frame,
            started: Instant::now(),
            default_client: None,
            #[cfg(feature = "http2")]
            lanes: Default::default(),
            tokio,
            default_tls: std::sync::OnceLock::new(),
        }
    }
}

/// The transport attempts run on: a [`MemoryTransport`] the game inserted, or else the game's
/// tokio runtime if it gave one, or else the IO thread, started the first time a source
/// connects. An error when the IO thread could not be started; the next call tries again.
pub(crate) fn transport(world: &mut World) -> std::io::Result<Arc<dyn Transport>> {
    let runtime = world.resource::<SseRuntime>();
    if let Some(transport) = &runtime.transport {
        return Ok(transport.clone());
    }
    let transport: Arc<dyn Transport> = match world.get_resource::<MemoryTransport>() {
        Some(memory) => Arc::new(memory.clone()),
        None => match &runtime.tokio {
            Some(handle) => Arc::new(GameRuntime(handle.clone())),
            None => Arc::new(IoThread::start()?),
        },
    };
    world.resource_mut::<SseRuntime>().transport = Some(transport.clone());
    Ok(transport)
}

/// What the plugin's own client was built from.
#[derive(Clone, Copy, PartialEq)]
struct BuiltClient {
    /// The [`SseClientBuilder`]'s change tick, or (without one) the connect timeout.
    from: Result<Tick, Option<Duration>>,
    /// The [`SseClient`] resource's change tick when the plugin inserted it.
    inserted: Tick,
}

/// The shared HTTP client (lane 0): the [`SseClient`] resource, or one the plugin builds (from
/// the [`SseClientBuilder`], or its default with the settings' connect timeout) and inserts the
/// first time a source connects over the network, and rebuilds when what it was built from
/// changes. An error: the game's builder could not build a client.
pub(crate) fn client(world: &mut World) -> Result<reqwest::Client, reqwest::Error> {
    let from = built_from(world);
    if let Some(client) = world.get_resource_ref::<SseClient>() {
        let ours = world.resource::<SseRuntime>().default_client;
        // The plugin's client, untouched since it was inserted, built from something else.
        let stale =
            ours.is_some_and(|built| built.inserted == client.last_changed() && built.from != from);
        if !stale {
            return Ok(client.0.clone());
        }
    }
    let client = new_client(world)?;
    world.insert_resource(SseClient(client.clone()));
    let inserted = world.resource_ref::<SseClient>().last_changed();
    world.resource_mut::<SseRuntime>().default_client = Some(BuiltClient { from, inserted });
    Ok(client)
}

fn built_from(world: &World) -> Result<Tick, Option<Duration>> {
    match world.get_resource_ref::<SseClientBuilder>() {
        Some(builder) => Ok(builder.last_changed()),
        None => Err(world.resource::<SseSettings>().connect_timeout),
    }
}

/// Whether the [`SseClient`] resource is the one the plugin built.
#[cfg(feature = "http2")]
pub(crate) fn is_default_client(world: &World) -> bool {
    let ours = world.resource::<SseRuntime>().default_client;
    world
        .get_resource_ref::<SseClient>()
        .is_some_and(|client| ours.is_some_and(|built| built.inserted == client.last_changed()))
}

/// A new client, built as the plugin builds its own: from the [`SseClientBuilder`], or else
/// reqwest's default with the settings' connect timeout and a TLS configuration that reads the
/// system's root certificates at the first TLS handshake (on the IO thread), not here on the
/// game's thread (src/tls.rs).
pub(crate) fn new_client(world: &World) -> Result<reqwest::Client, reqwest::Error> {
    if let Some(builder) = world.get_resource::<SseClientBuilder>() {
        return builder.builder().build();
    }
    let mut builder = reqwest::Client::builder();
    if let Some(tls) = world
        .resource::<SseRuntime>()
        .default_tls
        .get_or_init(crate::tls::default_config)
    {
        builder = builder.tls_backend_preconfigured(tls.clone());
    }
    if let Some(timeout) = world.resource::<SseSettings>().connect_timeout {
        builder = builder.connect_timeout(timeout);
    }
    builder.build()
}

/// Attempts on a tokio runtime the game gave ([`SsePlugin::tokio_runtime`](crate::plugin::SsePlugin::tokio_runtime)).
struct GameRuntime(tokio::runtime::Handle);

impl Transport for GameRuntime {
    fn start(
        &self,
        request: crate::transport::AttemptRequest,
        reports: crate::transport::ReportSender,
    ) -> crate::transport::AttemptHandle {
        crate::io::spawn(&self.0, request, reports)
    }
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
/// it. That default verifies servers against the system's root certificates, as reqwest's own
/// default does, but reads them at its first TLS handshake, on the IO thread; a client built
/// with reqwest's builder reads them when it is built (3–6 ms on Linux), so build yours before
/// the game's first frame.
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

/// How the plugin builds HTTP clients, when the game wants its own settings (a proxy, root
/// certificates, timeouts, HTTP/2 with prior knowledge) and still lets the plugin build them.
///
/// When there is no [`SseClient`], the plugin builds it with this. With the `http2` feature it
/// also builds more clients with it when sources to one HTTP/2 origin need more connections than
/// one ([`SseSettings::max_streams_per_connection`]): a client is one connection pool, and
/// hyper never opens a second HTTP/2 connection to an origin by itself. A client you insert as
/// [`SseClient`] cannot be copied, so without a builder those sources share its one connection
/// (the plugin warns). Changing the resource rebuilds the clients for the next attempts. The
/// builder's settings are the client's: the plugin's
/// [`connect_timeout`](SseSettings::connect_timeout) does not apply. Unless your builder is
/// given its TLS configuration, each build reads the system's root certificates (3–6 ms on
/// Linux), where the plugin's default client reads them once, at its first TLS handshake: the
/// [`SseClient`] is built on the game's thread, when the first source connects, and the HTTP/2
/// lanes' clients where their first attempt goes out (the IO thread, or your tokio runtime),
/// not in the frame that connects their sources.
///
/// ```no_run
/// use bevy::prelude::*;
/// use bevy_eventsource::prelude::*;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let root = reqwest::Certificate::from_pem(&std::fs::read("certs/root.pem")?)?;
/// App::new()
///     .insert_resource(SseClientBuilder::new(move || {
///         reqwest::Client::builder().add_root_certificate(root.clone())
///     }))
///     .add_plugins((MinimalPlugins, SsePlugin::default()));
/// # Ok(())
/// # }
/// ```
///
/// A builder that fails to build a client (`ClientBuilder::build` returns an error) fails each
/// attempt that needed it with the fatal [`SseError::Client`](crate::SseError::Client).
#[derive(Resource, Clone)]
pub struct SseClientBuilder(Arc<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>);

impl SseClientBuilder {
    /// Builds clients from what `builder` returns.
    pub fn new(builder: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static) -> Self {
        Self(Arc::new(builder))
    }

    /// A new `reqwest::ClientBuilder`, as the game configures it.
    pub fn builder(&self) -> reqwest::ClientBuilder {
        (self.0)()
    }
}

impl std::fmt::Debug for SseClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SseClientBuilder").finish_non_exhaustive()
    }
}
