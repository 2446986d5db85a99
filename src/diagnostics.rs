//! What the plugin did and costs: [`SseStats`] over all sources, [`SseSourceStats`] per
//! source, and [`SseDiagnosticsPlugin`], which feeds Bevy's `DiagnosticsStore`.

use std::time::Duration;

use bevy::diagnostic::{Diagnostic, DiagnosticPath, Diagnostics, RegisterDiagnostic};
use bevy::prelude::*;

/// What the plugin's receive step ([`SseSystems::Receive`](crate::plugin::SseSystems::Receive))
/// did in the last frame, and totals over all sources since the plugin started: for a network
/// HUD, or to see what the plugin itself costs a frame. [`SseDiagnosticsPlugin`] turns it into
/// Bevy diagnostics.
#[derive(Resource, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Resource, Debug, PartialEq, Clone, Default)
)]
pub struct SseStats {
    /// Messages ([`SseMessage`](crate::message::SseMessage)) delivered in the last frame.
    pub frame_messages: usize,
    /// How long the receive step took in the last frame: draining the channel, parsing nothing
    /// (the IO task already did), writing messages and running observers and named handlers.
    pub frame_receive_time: Duration,
    /// Batches taken from the channel but left for later frames by the frame's message or time
    /// budget, at the end of the last frame (at most `SsePlugin::max_batches_per_frame`).
    pub frame_backlog: usize,
    /// Messages delivered since the plugin started.
    pub total_messages: u64,
    /// Response body bytes received since the plugin started, counted by the IO tasks as they
    /// read them (the bytes of a stream's last, unfinished event included).
    pub total_bytes: u64,
    /// Sources that are [`Open`](crate::source::ReadyState::Open) now.
    pub open_sources: usize,
    /// Attempts started after a source's first one: reconnections, reopens included.
    pub total_reconnections: u64,
    /// [`SseErrored`](crate::message::SseErrored) messages since the plugin started.
    pub total_errors: u64,
}

/// One source's counters; the plugin adds it to every [`EventSource`](crate::source::EventSource)
/// and updates it only when something happens to the source, so idle sources cost nothing per
/// frame.
///
/// Times are on the network clock (`Time<Real>::elapsed()`, the clock reconnection waits run
/// on): pass that as `now` to [`open_for`](Self::open_for) and [`retry_in`](Self::retry_in).
#[derive(Component, Clone, Debug, Default, PartialEq)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Component, Debug, PartialEq, Clone, Default)
)]
pub struct SseSourceStats {
    /// Messages delivered.
    pub messages: u64,
    /// Response body bytes received, counted by the IO task.
    pub bytes: u64,
    /// Connection attempts started.
    pub attempts: u32,
    /// Attempts started after the first.
    pub reconnections: u32,
    /// [`SseErrored`](crate::message::SseErrored) messages about this source.
    pub errors: u32,
    /// The last error, as its message says it (URLs redacted).
    pub last_error: Option<String>,
    /// When the current stream opened; `None` unless the source is `Open`.
    pub opened_at: Option<Duration>,
    /// When the next attempt starts; `None` unless the source is `Retrying`.
    pub retry_at: Option<Duration>,
}

impl SseSourceStats {
    /// How long the stream has been open, if it is.
    pub fn open_for(&self, now: Duration) -> Option<Duration> {
        self.opened_at.map(|at| now.saturating_sub(at))
    }

    /// How long until the next attempt, while the source is `Retrying`.
    pub fn retry_in(&self, now: Duration) -> Option<Duration> {
        self.retry_at.map(|at| at.saturating_sub(now))
    }
}

/// Feeds Bevy's `DiagnosticsStore` from [`SseStats`], as Bevy's own diagnostics plugins do:
/// add `LogDiagnosticsPlugin` to log them, or read them in a HUD.
///
/// ```
/// use bevy::diagnostic::{DiagnosticsStore, LogDiagnosticsPlugin};
/// use bevy::prelude::*;
/// use bevy_eventsource::diagnostics::SseDiagnosticsPlugin;
/// use bevy_eventsource::prelude::*;
///
/// fn hud(store: Res<DiagnosticsStore>) {
///     if let Some(rate) = store
///         .get(&SseDiagnosticsPlugin::MESSAGES_PER_SECOND)
///         .and_then(|diagnostic| diagnostic.smoothed())
///     {
///         info!("{rate:.0} events/s");
///     }
/// }
///
/// App::new()
///     .add_plugins((MinimalPlugins, SsePlugin::default(), SseDiagnosticsPlugin::default()))
///     .add_plugins(LogDiagnosticsPlugin::default())
///     .add_systems(Update, hud);
/// ```
#[derive(Clone, Debug)]
pub struct SseDiagnosticsPlugin {
    /// How many measurements (frames) each diagnostic keeps for its average. Default 120.
    pub max_history_length: usize,
}

impl Default for SseDiagnosticsPlugin {
    fn default() -> Self {
        Self {
            max_history_length: 120,
        }
    }
}

impl SseDiagnosticsPlugin {
    /// Messages delivered per second.
    pub const MESSAGES_PER_SECOND: DiagnosticPath =
        DiagnosticPath::const_new("sse/messages_per_second");
    /// Response body bytes received per second.
    pub const BYTES_PER_SECOND: DiagnosticPath = DiagnosticPath::const_new("sse/bytes_per_second");
    /// Sources that are open.
    pub const OPEN_SOURCES: DiagnosticPath = DiagnosticPath::const_new("sse/open_sources");
    /// Reconnections since the plugin started.
    pub const RECONNECTIONS: DiagnosticPath = DiagnosticPath::const_new("sse/reconnections");
    /// Errors since the plugin started.
    pub const ERRORS: DiagnosticPath = DiagnosticPath::const_new("sse/errors");
    /// The receive step's time in the frame, in milliseconds.
    pub const RECEIVE_TIME: DiagnosticPath = DiagnosticPath::const_new("sse/receive_time");

    fn measure(
        mut diagnostics: Diagnostics,
        // Absent without `SsePlugin`: nothing to measure.
        stats: Option<Res<SseStats>>,
        time: Res<Time<Real>>,
        mut last_bytes: Local<u64>,
    ) {
        let Some(stats) = stats else { return };
        let bytes = stats.total_bytes - *last_bytes;
        *last_bytes = stats.total_bytes;
        let seconds = time.delta_secs_f64();
        if seconds > 0.0 {
            diagnostics.add_measurement(&Self::MESSAGES_PER_SECOND, || {
                stats.frame_messages as f64 / seconds
            });
            diagnostics.add_measurement(&Self::BYTES_PER_SECOND, || bytes as f64 / seconds);
        }
        diagnostics.add_measurement(&Self::OPEN_SOURCES, || stats.open_sources as f64);
        diagnostics.add_measurement(&Self::RECONNECTIONS, || stats.total_reconnections as f64);
        diagnostics.add_measurement(&Self::ERRORS, || stats.total_errors as f64);
        diagnostics.add_measurement(&Self::RECEIVE_TIME, || {
            stats.frame_receive_time.as_secs_f64() * 1000.0
        });
    }
}

impl Plugin for SseDiagnosticsPlugin {
    fn build(&self, app: &mut App) {
        let history = self.max_history_length;
        let rate = |path| Diagnostic::new(path).with_max_history_length(history);
        // Totals and gauges: an average of them would mean nothing.
        let level = |path| {
            Diagnostic::new(path)
                .with_max_history_length(1)
                .with_smoothing_factor(0.0)
        };
        app.register_diagnostic(rate(Self::MESSAGES_PER_SECOND).with_suffix(" msg/s"))
            .register_diagnostic(rate(Self::BYTES_PER_SECOND).with_suffix(" B/s"))
            .register_diagnostic(rate(Self::RECEIVE_TIME).with_suffix(" ms"))
            .register_diagnostic(level(Self::OPEN_SOURCES))
            .register_diagnostic(level(Self::RECONNECTIONS))
            .register_diagnostic(level(Self::ERRORS))
            .add_systems(
                PreUpdate,
                Self::measure.after(crate::plugin::SseSystems::Receive),
            );
    }
}
