//! [`RetryPolicy`]: whether and how soon a source reconnects after an attempt ends.

use std::time::Duration;

use bevy::prelude::*;

/// How a source reconnects. Put it on a source entity, or set the plugin's default
/// ([`SsePlugin::retry_policy`](crate::plugin::SsePlugin::retry_policy)).
///
/// The delay before a reconnection starts at the source's
/// [`ReconnectionTime`](crate::source::ReconnectionTime) (a server's `retry:` field sets it,
/// clamped to [`min_server_retry`](Self::min_server_retry)..=[`max_server_retry`](Self::max_server_retry),
/// so `retry: 0` cannot make a tight loop; a value the game sets is used as given). Each
/// consecutive failed attempt multiplies it by [`backoff_factor`](Self::backoff_factor), up to
/// [`max_delay`](Self::max_delay), and up to [`jitter`](Self::jitter) of it is added at random so
/// that many clients do not reconnect in step.
///
/// An attempt that delivered at least one event, or stayed open for
/// [`healthy_after`](Self::healthy_after), is not a failure: the next reconnection waits the
/// reconnection time itself (plus jitter), as the standard expects.
///
/// ```
/// use std::time::Duration;
/// use bevy_eventsource::prelude::*;
///
/// let policy = RetryPolicy::default()
///     .with_max_attempts(5)
///     .retry_on_overload(); // 429, 502, 503, 504 reconnect, honouring Retry-After
/// assert_eq!(policy.delay(Duration::from_secs(1), 3, None, 0.0), Duration::from_secs(4));
/// ```
#[derive(Component, Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "reflect",
    derive(Reflect),
    reflect(Component, Debug, Default, PartialEq, Clone)
)]
pub struct RetryPolicy {
    /// A server's `retry:` is raised to at least this. Default 100 ms.
    pub min_server_retry: Duration,
    /// A server's `retry:` (and `Retry-After`) is lowered to at most this. Default 60 s.
    pub max_server_retry: Duration,
    /// Each consecutive failed attempt multiplies the delay by this. Default 2.
    pub backoff_factor: f64,
    /// Backoff never makes the delay longer than this (or than the reconnection time, if that is
    /// longer). Default 30 s.
    pub max_delay: Duration,
    /// Up to this fraction of the delay is added at random. Default 0.1.
    pub jitter: f64,
    /// After this many consecutive failed attempts the source closes with
    /// [`SseError::GaveUp`](crate::error::SseError::GaveUp). Default `None`: never.
    pub max_attempts: Option<u32>,
    /// An attempt that stayed open this long is healthy even if it delivered no event.
    /// Default 10 s.
    pub healthy_after: Duration,
    /// HTTP statuses that reconnect (honouring `Retry-After`) instead of closing the source, as
    /// the standard says every non-200 status does. 204 No Content always closes. Default: none.
    pub retry_statuses: Vec<u16>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            min_server_retry: Duration::from_millis(100),
            max_server_retry: Duration::from_secs(60),
            backoff_factor: 2.0,
            max_delay: Duration::from_secs(30),
            jitter: 0.1,
            max_attempts: None,
            healthy_after: Duration::from_secs(10),
            retry_statuses: Vec::new(),
        }
    }
}

impl RetryPolicy {
    /// The statuses of an overloaded or restarting server: 429, 502, 503, 504.
    pub const OVERLOAD_STATUSES: [u16; 4] = [429, 502, 503, 504];

    /// Reconnect on [`OVERLOAD_STATUSES`](Self::OVERLOAD_STATUSES) instead of closing.
    #[must_use]
    pub fn retry_on_overload(mut self) -> Self {
        for status in Self::OVERLOAD_STATUSES {
            if !self.retry_statuses.contains(&status) {
                self.retry_statuses.push(status);
            }
        }
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }

    /// Sets [`backoff_factor`](Self::backoff_factor) and [`max_delay`](Self::max_delay).
    #[must_use]
    pub fn with_backoff(mut self, factor: f64, max_delay: Duration) -> Self {
        self.backoff_factor = factor;
        self.max_delay = max_delay;
        self
    }

    /// Sets [`jitter`](Self::jitter); 0 makes delays exact.
    #[must_use]
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// Sets [`healthy_after`](Self::healthy_after).
    #[must_use]
    pub fn with_healthy_after(mut self, open_for: Duration) -> Self {
        self.healthy_after = open_for;
        self
    }

    /// Sets the bounds a server's `retry:` and `Retry-After` are clamped to.
    #[must_use]
    pub fn with_server_retry_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_server_retry = min;
        self.max_server_retry = max.max(min);
        self
    }

    /// A server-sent delay (`retry:` or `Retry-After`), clamped to the bounds.
    pub fn clamp_server_retry(&self, delay: Duration) -> Duration {
        delay.clamp(
            self.min_server_retry,
            self.max_server_retry.max(self.min_server_retry),
        )
    }

    /// Whether a refused response with this status reconnects.
    pub fn retries_status(&self, status: u16) -> bool {
        status != 204 && self.retry_statuses.contains(&status)
    }

    /// The wait before the next attempt, given the reconnection time, the number of consecutive
    /// failed attempts (0 after a healthy one), the server's `Retry-After` if it sent one, and a
    /// random number in `0.0..1.0` for the jitter.
    pub fn delay(
        &self,
        reconnection_time: Duration,
        failures: u32,
        retry_after: Option<Duration>,
        random: f64,
    ) -> Duration {
        let growth = self
            .backoff_factor
            .max(1.0)
            .powi(i32::try_from(failures.saturating_sub(1)).unwrap_or(i32::MAX));
        let cap = self.max_delay.max(reconnection_time);
        let mut delay = Duration::try_from_secs_f64(reconnection_time.as_secs_f64() * growth)
            .unwrap_or(cap)
            .min(cap);
        if let Some(retry_after) = retry_after {
            delay = delay.max(self.clamp_server_retry(retry_after));
        }
        let jitter = self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0);
        delay.mul_f64(1.0 + jitter)
    }
}
