//! Test your game's SSE logic in a plain `#[test]`: no socket, no thread, no sleep.
//!
//! [`SseTestNetwork::install`] puts a [`MemoryTransport`] under the plugin and a manual clock
//! under the app: every `app.update()` is one frame of [`SseTestNetwork::FRAME`] (1/60 s) of
//! real time, and [`advance`](SseTestAppExt::advance) runs frames until a span of time has
//! passed. Your game spawns its sources as it always does; the test finds a source's connection
//! by its URL ([`SseTestNetwork::connection`]) and says what the server does: open, send events
//! or raw bytes, hang up, refuse. The bytes go through the real parser and the reports through
//! the real channel and state machine, so what passes here behaves the same on the wire; a
//! report reaches the game at the next `app.update()`.
//!
//! ```
//! use std::time::Duration;
//!
//! use bevy::prelude::*;
//! use bevy_eventsource::prelude::*;
//! use bevy_eventsource::testing::{SseTestAppExt, SseTestNetwork};
//!
//! // The game: an avatar appears when the server says `join`.
//! #[derive(Component)]
//! struct Avatar(String);
//!
//! fn lobby(app: &mut App) {
//!     app.add_systems(Startup, |mut commands: Commands| {
//!         commands
//!             .spawn(EventSource::new("https://lobby.example/events"))
//!             .on_sse_event("join", |In(join): In<SseMessage>, mut commands: Commands| {
//!                 commands.spawn(Avatar(join.data().to_owned()));
//!             });
//!     });
//! }
//!
//! // The test.
//! let mut app = App::new();
//! app.add_plugins((MinimalPlugins, SsePlugin::default(), lobby));
//! let network = SseTestNetwork::install(&mut app);
//! app.update(); // Startup spawns the source; its first attempt starts
//!
//! let lobby = network.connection("https://lobby.example/events");
//! lobby.open().event("join", "ada");
//! app.update();
//! let mut avatars = app.world_mut().query::<&Avatar>();
//! assert_eq!(avatars.iter(app.world()).map(|a| a.0.as_str()).collect::<Vec<_>>(), ["ada"]);
//!
//! // The server hangs up: the source waits its reconnection time (2 s), then asks again,
//! // with the last event ID it saw.
//! lobby.event_with_id("join", "7", "grace").end_stream();
//! app.update();
//! let source = lobby.entity();
//! assert_eq!(app.world().get::<ReadyState>(source), Some(&ReadyState::Retrying));
//! app.advance(Duration::from_secs(2));
//! let again = network.connection("https://lobby.example/events");
//! assert_eq!(again.headers()["last-event-id"], "7");
//! again.refuse(401);
//! app.update();
//! assert_eq!(app.world().get::<ReadyState>(source), Some(&ReadyState::Closed));
//! ```

use std::time::Duration;

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;

use crate::settings::SseSettings;
use crate::transport::{MemoryAttempt, MemoryTransport};

/// The scripted network of a test app: what the plugin's sources connect to instead of
/// sockets. Cheap to clone; all clones are the same network.
#[derive(Clone, Debug)]
pub struct SseTestNetwork {
    transport: MemoryTransport,
}

impl SseTestNetwork {
    /// The real time one `app.update()` advances once the network is installed: 1/60 s.
    pub const FRAME: Duration = Duration::from_nanos(16_666_667);

    /// Installs a [`MemoryTransport`] into `app` (before its first source connects, so that no
    /// IO thread starts) and a manual clock: each `app.update()` advances real time, and with
    /// it the plugin's network clock and the game's virtual time, by [`FRAME`](Self::FRAME).
    /// Reconnection waits are exact: the default [`RetryPolicy`](crate::retry::RetryPolicy) in
    /// [`SseSettings`] gets no jitter (a source's own policy keeps its own).
    ///
    /// # Panics
    ///
    /// If `app` has no [`SsePlugin`](crate::plugin::SsePlugin) yet: add the plugins first, or
    /// the plugin's settings would later replace the exact ones.
    #[track_caller]
    pub fn install(app: &mut App) -> Self {
        let transport = MemoryTransport::new();
        let Some(mut settings) = app.world_mut().get_resource_mut::<SseSettings>() else {
            panic!("SseTestNetwork::install: add SsePlugin to the app first");
        };
        settings.retry_policy.jitter = 0.0;
        app.insert_resource(transport.clone())
            .insert_resource(TimeUpdateStrategy::ManualDuration(Self::FRAME));
        Self { transport }
    }

    /// The transport underneath, for what the network does not wrap.
    pub fn transport(&self) -> &MemoryTransport {
        &self.transport
    }

    /// The newest live connection to `url` (the source's URL, exactly as the game gave it):
    /// the one whose server the test plays next.
    ///
    /// # Panics
    ///
    /// If no source is connecting to `url` now, with the URLs that are: a test that expected a
    /// connection fails there, saying what there was instead.
    #[track_caller]
    pub fn connection(&self, url: &str) -> MemoryAttempt {
        self.try_connection(url).unwrap_or_else(|| {
            let live: Vec<String> = self
                .transport
                .live_attempts()
                .iter()
                .map(|attempt| attempt.url().to_owned())
                .collect();
            panic!("no live connection to {url}; live connections: {live:?}")
        })
    }

    /// The newest live connection to `url`, if a source is connecting to it now.
    pub fn try_connection(&self, url: &str) -> Option<MemoryAttempt> {
        self.transport
            .live_attempts()
            .into_iter()
            .rev()
            .find(|attempt| attempt.url() == url)
    }

    /// Every connection made to `url` so far, live or not, oldest first: one per request the
    /// sources sent there.
    pub fn connections_to(&self, url: &str) -> Vec<MemoryAttempt> {
        self.transport
            .attempts()
            .into_iter()
            .filter(|attempt| attempt.url() == url)
            .collect()
    }

    /// The connections that are live now, oldest first.
    pub fn live_connections(&self) -> Vec<MemoryAttempt> {
        self.transport.live_attempts()
    }
}

/// Time for a test app whose network is an [`SseTestNetwork`].
pub trait SseTestAppExt {
    /// Runs frames of [`SseTestNetwork::FRAME`] until `by` of real time has passed (the last
    /// frame shorter if `by` is not a whole number of frames): reconnection waits, timeouts and
    /// the game's own timers run as they would over that span, frame by frame.
    ///
    /// # Panics
    ///
    /// If real time does not move (the app has no `TimePlugin`, or the test replaced the
    /// manual clock [`SseTestNetwork::install`] set up).
    fn advance(&mut self, by: Duration) -> &mut Self;

    /// Runs `frames` updates.
    fn update_frames(&mut self, frames: usize) -> &mut Self;
}

impl SseTestAppExt for App {
    #[track_caller]
    fn advance(&mut self, by: Duration) -> &mut Self {
        let elapsed = |app: &App| {
            app.world()
                .get_resource::<Time<Real>>()
                .map_or(Duration::ZERO, Time::elapsed)
        };
        let until = elapsed(self) + by;
        let mut still = 0;
        loop {
            let now = elapsed(self);
            if now >= until {
                break;
            }
            let step = (until - now).min(SseTestNetwork::FRAME);
            self.insert_resource(TimeUpdateStrategy::ManualDuration(step));
            self.update();
            // An app's first update starts its clock without advancing it.
            still = if elapsed(self) == now { still + 1 } else { 0 };
            assert!(
                still < 2,
                "real time does not advance: advance needs TimePlugin and the manual clock of \
                 SseTestNetwork::install"
            );
        }
        self.insert_resource(TimeUpdateStrategy::ManualDuration(SseTestNetwork::FRAME));
        self
    }

    fn update_frames(&mut self, frames: usize) -> &mut Self {
        for _ in 0..frames {
            self.update();
        }
        self
    }
}
