//! Which HTTP client an attempt goes out on: HTTP/2 lanes (feature `http2`).
//!
//! Over HTTP/2, hyper's client sends every request to an origin on one connection, and when the
//! server's `SETTINGS_MAX_CONCURRENT_STREAMS` (typically 100 to 128) is reached it never opens
//! another: the next stream waits until one ends, which for event streams is never. A client is
//! one connection pool, so the plugin keeps *lanes*: lane 0 is the [`SseClient`], lane `k` a
//! client built from the [`SseClientBuilder`], and each lane carries at most
//! [`SseSettings::max_streams_per_connection`](crate::settings::SseSettings) streams to each
//! origin. Sources to one origin fill lane 0, then lane 1, and so on; a source that reconnects
//! takes the first lane with room again.
//!
//! An origin counts as HTTP/2 until one of its responses says otherwise: an HTTP/1.1 origin's
//! sources each have a connection of their own anyway, so once one of its responses was
//! HTTP/1.1, all of its attempts go out on lane 0, uncounted. Without the `http2` feature
//! reqwest speaks only HTTP/1.1, and every attempt goes out on lane 0.

use bevy::prelude::*;

#[cfg(feature = "http2")]
pub(crate) use imp::{LaneSlot, Lanes};

/// The HTTP client an attempt goes out on: built, or the client of an HTTP/2 lane past the
/// first that the game's [`SseClientBuilder`](crate::runtime::SseClientBuilder) builds when the
/// first attempt on that lane goes out, on the IO thread: a build reads the system's root
/// certificates (3–6 ms), and 10,000 sources need 100 lanes, which the frame that connects them
/// would otherwise wait for.
#[derive(Clone)]
pub(crate) enum HttpClient {
    Built(reqwest::Client),
    #[cfg(feature = "http2")]
    Lane(std::sync::Arc<imp::LaneClient>),
}

impl HttpClient {
    /// The client, built now if it is a lane's that no attempt built yet. An error: the game's
    /// builder could not build it (every attempt on that lane gets the same error).
    pub(crate) fn into_client(self) -> Result<reqwest::Client, std::sync::Arc<reqwest::Error>> {
        match self {
            Self::Built(client) => Ok(client),
            #[cfg(feature = "http2")]
            Self::Lane(lane) => lane.get(),
        }
    }
}

/// The client `url`'s attempt goes out on, and its place on that client's lane (counted until
/// the attempt ends; `None` when it is not counted).
#[cfg(feature = "http2")]
pub(crate) fn client_for(
    world: &mut World,
    url: &reqwest::Url,
) -> Result<(HttpClient, Option<LaneSlot>), reqwest::Error> {
    imp::client_for(world, url)
}

/// Without the `http2` feature: the [`SseClient`](crate::runtime::SseClient), uncounted.
#[cfg(not(feature = "http2"))]
pub(crate) fn client_for(
    world: &mut World,
    _url: &reqwest::Url,
) -> Result<(HttpClient, Option<LaneSlot>), reqwest::Error> {
    Ok((HttpClient::Built(crate::runtime::client(world)?), None))
}

/// Without the `http2` feature there are no lanes to hold a place on.
#[cfg(not(feature = "http2"))]
pub(crate) enum LaneSlot {}

#[cfg(not(feature = "http2"))]
impl LaneSlot {
    pub(crate) fn answered(&self, _version: reqwest::Version) {
        match *self {}
    }
}

#[cfg(feature = "http2")]
mod imp {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, OnceLock};

    use bevy::ecs::change_detection::Tick;
    use bevy::prelude::*;

    use super::HttpClient;
    use crate::runtime::{
        SseClient, SseClientBuilder, SseRuntime, client, is_default_client, new_client,
    };
    use crate::settings::SseSettings;

    /// From this many origins on, a new one first makes the lanes forget the idle ones.
    pub(super) const FORGET_IDLE_FROM: usize = 64;

    /// The lanes beyond the first, and each origin's streams on every lane.
    #[derive(Default)]
    pub(crate) struct Lanes {
        /// Lanes 1, 2, …: made when first needed, kept while the [`SseClient`] stays.
        pub(super) clients: Vec<HttpClient>,
        /// By origin (`scheme://host:port`).
        pub(super) origins: HashMap<String, Origin>,
        /// The change ticks of the [`SseClient`] and the [`SseClientBuilder`] these lanes were
        /// built for: when either changes, the lanes start over (attempts already running keep
        /// the client they went out on).
        built_for: Option<(Tick, Option<Tick>)>,
    }

    /// One origin's streams.
    pub(super) struct Origin {
        known: Arc<Known>,
        /// Streams per lane, counted down by [`LaneSlot`]s as attempts end.
        pub(super) streams: Vec<Arc<AtomicU32>>,
    }

    /// What the attempts learnt about an origin.
    struct Known {
        /// `scheme://host:port`, for the warning.
        origin: String,
        /// One of its responses was HTTP/1.x.
        http1: AtomicBool,
        /// The plugin warned that its streams share one connection past the limit.
        warned: AtomicBool,
    }

    /// An attempt's place on a lane: it travels with the attempt to the IO side and frees the
    /// place when the attempt ends there (its response, and so its stream, dropped first).
    pub(crate) struct LaneSlot {
        streams: Arc<AtomicU32>,
        known: Arc<Known>,
        /// The limit, when the lane is the only one (a client inserted without a builder).
        alone_past: Option<u32>,
    }

    impl LaneSlot {
        /// The origin answered with `version`: from HTTP/1.x on, its attempts are not spread.
        /// Over HTTP/2 on a lane that cannot be spread, past the limit: a warning, once.
        pub(crate) fn answered(&self, version: reqwest::Version) {
            if version < reqwest::Version::HTTP_2 {
                self.known.http1.store(true, Ordering::Relaxed);
            } else if let Some(cap) = self.alone_past
                && self.streams.load(Ordering::Relaxed) > cap
                && !self.known.warned.swap(true, Ordering::Relaxed)
            {
                warn!(
                    "more than {cap} event streams to {} share one HTTP/2 connection, and the \
                     server may hold back every stream past its limit: insert an \
                     SseClientBuilder (instead of an SseClient) so that the plugin can open \
                     more connections",
                    self.known.origin
                );
            }
        }
    }

    impl Drop for LaneSlot {
        fn drop(&mut self) {
            self.streams.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A lane's client, built from the game's builder by the first attempt that needs it.
    pub(crate) struct LaneClient {
        builder: SseClientBuilder,
        built: OnceLock<Result<reqwest::Client, Arc<reqwest::Error>>>,
    }

    impl LaneClient {
        pub(super) fn get(&self) -> Result<reqwest::Client, Arc<reqwest::Error>> {
            self.built
                .get_or_init(|| self.builder.builder().build().map_err(Arc::new))
                .clone()
        }
    }

    pub(super) fn client_for(
        world: &mut World,
        url: &reqwest::Url,
    ) -> Result<(HttpClient, Option<LaneSlot>), reqwest::Error> {
        let first = client(world)?;
        let cap = world
            .resource::<SseSettings>()
            .max_streams_per_connection
            .get();
        let ticks = (
            world.resource_ref::<SseClient>().last_changed(),
            world
                .get_resource_ref::<SseClientBuilder>()
                .map(|builder| builder.last_changed()),
        );
        // More lanes come from the game's builder, or are more of the plugin's own client.
        let can_grow = ticks.1.is_some() || is_default_client(world);
        let lanes = &mut world.resource_mut::<SseRuntime>().into_inner().lanes;
        if lanes.built_for != Some(ticks) {
            *lanes = Lanes {
                built_for: Some(ticks),
                ..Lanes::default()
            };
        }
        let key = url.origin().ascii_serialization();
        if !lanes.origins.contains_key(&key) && lanes.origins.len() >= FORGET_IDLE_FROM {
            // A game that met many origins over time: those with no stream left are forgotten.
            lanes.origins.retain(|_, origin| {
                origin
                    .streams
                    .iter()
                    .any(|streams| streams.load(Ordering::Relaxed) > 0)
            });
        }
        let origin = lanes.origins.entry(key.clone()).or_insert_with(|| Origin {
            known: Arc::new(Known {
                origin: key,
                http1: AtomicBool::new(false),
                warned: AtomicBool::new(false),
            }),
            streams: vec![Arc::default()],
        });
        if origin.known.http1.load(Ordering::Relaxed) {
            return Ok((HttpClient::Built(first), None));
        }
        let free = origin
            .streams
            .iter()
            .position(|streams| streams.load(Ordering::Relaxed) < cap);
        let lane = match free {
            Some(lane) => lane,
            None if can_grow => origin.streams.len(),
            // The one client there is: its responses warn if it is HTTP/2.
            None => 0,
        };
        if lane == origin.streams.len() {
            origin.streams.push(Arc::default());
        }
        origin.streams[lane].fetch_add(1, Ordering::Relaxed);
        let slot = LaneSlot {
            streams: origin.streams[lane].clone(),
            known: origin.known.clone(),
            alone_past: (!can_grow).then_some(cap),
        };
        let built = lanes.clients.len();
        if lane == 0 {
            return Ok((HttpClient::Built(first), Some(slot)));
        }
        for _ in built..lane {
            // The game's builder runs where the lane's first attempt goes out; the plugin's own
            // client is cheap to build here (its roots are read at the first handshake).
            let client = match world.get_resource::<SseClientBuilder>() {
                Some(builder) => HttpClient::Lane(Arc::new(LaneClient {
                    builder: builder.clone(),
                    built: OnceLock::new(),
                })),
                None => HttpClient::Built(new_client(world)?),
            };
            world
                .resource_mut::<SseRuntime>()
                .lanes
                .clients
                .push(client);
        }
        let client = world.resource::<SseRuntime>().lanes.clients[lane - 1].clone();
        Ok((client, Some(slot)))
    }
}

#[cfg(all(test, feature = "http2"))]
mod tests {
    use bevy::prelude::*;

    use super::client_for;
    use crate::runtime::SseRuntime;
    use crate::settings::SseSettings;

    fn world() -> World {
        let mut world = World::new();
        world.insert_resource(SseSettings::default());
        world.insert_resource(SseRuntime::new(256, 1 << 20, None));
        world
    }

    fn url(host: usize) -> reqwest::Url {
        reqwest::Url::parse(&format!("http://host{host}.test/events")).unwrap()
    }

    #[test]
    fn an_origin_fills_lanes_of_at_most_the_limit_and_a_freed_place_is_taken_again() {
        let mut world = world();
        let slots: Vec<_> = (0..250)
            .map(|_| client_for(&mut world, &url(0)).unwrap().1.unwrap())
            .collect();
        let origins = &world.resource::<SseRuntime>().lanes.origins;
        let streams: Vec<u32> = origins["http://host0.test"]
            .streams
            .iter()
            .map(|streams| streams.load(std::sync::atomic::Ordering::Relaxed))
            .collect();
        assert_eq!(streams, [100, 100, 50]);
        assert_eq!(world.resource::<SseRuntime>().lanes.clients.len(), 2);
        drop(slots);
        let _again = client_for(&mut world, &url(0)).unwrap().1.unwrap();
        let origins = &world.resource::<SseRuntime>().lanes.origins;
        assert_eq!(
            origins["http://host0.test"].streams[0].load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn idle_origins_are_forgotten_once_there_are_many() {
        let mut world = world();
        let held = client_for(&mut world, &url(0)).unwrap().1;
        for host in 1..200 {
            // Each attempt ends at once: its origin is idle.
            let _ = client_for(&mut world, &url(host)).unwrap();
        }
        let origins = &world.resource::<SseRuntime>().lanes.origins;
        assert!(
            origins.len() <= super::imp::FORGET_IDLE_FROM,
            "{}",
            origins.len()
        );
        assert!(
            origins.contains_key("http://host0.test"),
            "an origin with a stream stays"
        );
        drop(held);
    }
}
