//! [`SseSettings`]: the plugin's settings as a resource a game may change while it runs.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use bevy::prelude::*;

use crate::parser::ParserLimits;
use crate::retry::RetryPolicy;

/// The plugin's settings, seeded from [`SsePlugin`](crate::plugin::SsePlugin)'s fields. Change
/// them at any time: each field says when a change takes effect.
///
/// ```
/// use std::time::Duration;
/// use bevy::prelude::*;
/// use bevy_eventsource::prelude::*;
///
/// // A loading screen: let the plugin take more of the frame.
/// fn loading_screen(mut settings: ResMut<SseSettings>) {
///     settings.max_receive_time_per_frame = Some(Duration::from_millis(8));
/// }
/// # let mut app = App::new();
/// # app.add_plugins((MinimalPlugins, SsePlugin::default())).add_systems(Update, loading_screen);
/// # app.update();
/// # assert_eq!(app.world().resource::<SseSettings>().max_receive_time_per_frame, Some(Duration::from_millis(8)));
/// ```
#[derive(Resource, Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Resource, Debug, PartialEq, Clone)
)]
pub struct SseSettings {
    /// The most messages delivered per frame; the rest waits for the next frames. `None`:
    /// everything that was queued when the frame's receive step began. From the next frame.
    pub max_messages_per_frame: Option<NonZeroUsize>,
    /// The receive step stops delivering once it has run this long, leaving the rest for the
    /// next frames (it may overrun by the one report in hand, observers included). `None`: no
    /// limit. From the next frame.
    pub max_receive_time_per_frame: Option<Duration>,
    /// Line and event size limits. From each source's next attempt.
    pub parser_limits: ParserLimits,
    /// The reconnection policy of sources without a [`RetryPolicy`] component. From the next
    /// time a source's attempt ends.
    pub retry_policy: RetryPolicy,
    /// How long the plugin's default [`SseClient`](crate::plugin::SseClient) waits for a TCP
    /// (and TLS) connection. From the next attempt: the default client is rebuilt with it
    /// (a client you inserted yourself keeps its own settings).
    pub connect_timeout: Option<Duration>,
    /// What sources do while the app is suspended (Bevy's `AppLifecycle`, with the
    /// `app_lifecycle` feature). From the next suspension.
    pub on_suspend: OnSuspend,
    /// With the `http2` feature: the most event streams one HTTP/2 connection carries. Sources
    /// to one origin beyond it go out on another connection (another client from the
    /// [`SseClientBuilder`](crate::plugin::SseClientBuilder)), because hyper holds back every
    /// stream past the server's `SETTINGS_MAX_CONCURRENT_STREAMS` until one ends, which an event
    /// stream never does. Default 100, the least the HTTP/2 standard recommends servers allow;
    /// lower it for a server that allows fewer. From the next attempt.
    pub max_streams_per_connection: NonZeroU32,
}

impl Default for SseSettings {
    fn default() -> Self {
        Self {
            max_messages_per_frame: None,
            max_receive_time_per_frame: None,
            parser_limits: ParserLimits::default(),
            retry_policy: RetryPolicy::default(),
            connect_timeout: Some(Duration::from_secs(10)),
            on_suspend: OnSuspend::default(),
            max_streams_per_connection: const { NonZeroU32::new(100).unwrap() },
        }
    }
}

/// What sources do while the app is suspended: on mobile and on the web, when the game goes to
/// the background (Bevy's `AppLifecycle::WillSuspend` … `WillResume`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Debug, PartialEq, Clone, Default, Hash)
)]
pub enum OnSuspend {
    /// Streams go on (as far as the operating system lets them): a long answer being streamed
    /// is not cut off and sent again. The default.
    #[default]
    KeepStreaming,
    /// Every source that is not closed closes when the app is about to be suspended
    /// ([`CloseReason::Suspended`](crate::message::CloseReason::Suspended)) and reopens when it
    /// resumes, sending its `Last-Event-ID`: a server that honours it resends exactly what the
    /// game had not received yet. Saves battery and data in the background.
    CloseWhileSuspended,
}
