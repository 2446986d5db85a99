//! The thread that runs every source's connection.
//!
//! One current-thread tokio runtime on a thread of its own, per app. reqwest spawns its
//! connection tasks (hyper's HTTP/1 dispatchers) with `tokio::spawn`, so they land on this same
//! thread, next to the stream that reads them. That matters: hyper hands the body over one
//! HTTP chunk at a time and waits until it is taken, so when the reader runs on another thread
//! (a Bevy pool thread driven through async-compat, whose tokio thread runs the connection)
//! every chunk costs two cross-thread wake-ups. Servers that send each event as its own chunk
//! (axum and most frameworks do) then cap a stream at tens of thousands of events a second;
//! on one thread it is over a million (see `benches/end_to_end.rs`, `chunked/*`).

use bevy::log::tracing::Instrument;

use crate::connection::run_attempt;
use crate::transport::{AttemptHandle, AttemptRequest, ReportSender, Transport};

/// Owns the IO thread; dropping it (with the app) stops the thread and cancels every task.
pub(crate) struct IoThread {
    handle: tokio::runtime::Handle,
    /// Dropping the sender ends the thread.
    _stop: async_channel::Sender<()>,
}

impl IoThread {
    /// Starts the runtime and its thread. An error when the system refuses either (no file
    /// descriptor left for the runtime's event queue, no thread): the attempt that needed them
    /// fails with [`SseError::IoThread`](crate::error::SseError::IoThread) and the next one
    /// tries again.
    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = async_channel::bounded::<()>(1);
        std::thread::Builder::new()
            .name("bevy_eventsource-io".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let _ = stopped.recv().await;
                });
                // Cancel what is left without waiting for blocking work (DNS lookups).
                runtime.shutdown_background();
            })?;
        Ok(Self {
            handle,
            _stop: stop,
        })
    }
}

impl Transport for IoThread {
    fn start(&self, request: AttemptRequest, reports: ReportSender) -> AttemptHandle {
        spawn(&self.handle, request, reports)
    }
}

/// Runs an attempt as a task on a tokio runtime: the IO thread's, or the game's.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Handle,
    request: AttemptRequest,
    reports: ReportSender,
) -> AttemptHandle {
    // The task logs in the source's span, the one current when the attempt starts.
    let future = run_attempt(Box::new(request), reports).in_current_span();
    AttemptHandle::new(IoTask(runtime.spawn(future)))
}

/// A running IO task; dropping it cancels the task.
struct IoTask(tokio::task::JoinHandle<()>);

impl Drop for IoTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
