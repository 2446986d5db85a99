//! A test app with the plugin, message collectors, and a deadline-bounded update loop.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use bevy::ecs::message::Message;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_eventsource::prelude::*;
use bevy_eventsource::transport::{MemoryAttempt, MemoryTransport};

/// Messages of type `M` that `Update` systems read, in order.
#[derive(Resource)]
pub struct Collected<M>(pub Vec<M>);

/// `MinimalPlugins` and the plugin, with virtual time advancing 50 ms per update.
pub fn test_app() -> App {
    test_app_with(SsePlugin::default())
}

pub fn test_app_with(plugin: SsePlugin) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, plugin))
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            50,
        )));
    app
}

/// Collects every `M` an `Update` system reads into [`Collected<M>`].
pub fn collect<M: Message + Clone>(app: &mut App) {
    app.insert_resource(Collected::<M>(Vec::new())).add_systems(
        Update,
        |mut reader: MessageReader<M>, mut seen: ResMut<Collected<M>>| {
            seen.0.extend(reader.read().cloned());
        },
    );
}

pub fn collected<M: Message + Clone>(app: &App) -> Vec<M> {
    app.world().resource::<Collected<M>>().0.clone()
}

/// Runs `app.update()` until `done` holds, for at most 10 seconds of wall time.
pub fn update_until(app: &mut App, what: &str, mut done: impl FnMut(&mut App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        app.update();
        if done(app) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        // Polling with a deadline: give the IO threads the core between frames.
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `app.update()` until `source` is `Closed`, for at most 10 seconds of wall time.
pub fn update_until_closed(app: &mut App, source: Entity) {
    update_until(app, "closed", |app| {
        state(app, source) == ReadyState::Closed
    });
}

pub fn state(app: &App, entity: Entity) -> ReadyState {
    *app.world()
        .get::<ReadyState>(entity)
        .expect("source has a ReadyState")
}

/// A close reason's name, without the error it may carry.
pub fn reason_name(reason: &CloseReason) -> &'static str {
    match reason {
        CloseReason::Requested => "requested",
        CloseReason::DoneSentinel => "done sentinel",
        CloseReason::OneShotComplete => "one-shot complete",
        CloseReason::Refused(_) => "refused",
        CloseReason::OneShotFailed(_) => "one-shot failed",
        CloseReason::GaveUp(_) => "gave up",
        CloseReason::Vetoed => "vetoed",
        CloseReason::Removed => "removed",
        CloseReason::Despawned => "despawned",
        _ => "other",
    }
}

/// The [`SseClosed`] messages read so far, as (source, reason name).
pub fn closes(app: &App) -> Vec<(Entity, &'static str)> {
    collected::<SseClosed>(app)
        .iter()
        .map(|closed| (closed.entity, reason_name(&closed.reason)))
        .collect()
}

/// A test app on the in-memory transport: no socket, no IO thread; network and game time both
/// advance 50 ms per update.
pub fn memory_app() -> (App, bevy_eventsource::transport::MemoryTransport) {
    memory_app_with(SsePlugin::default())
}

pub fn memory_app_with(plugin: SsePlugin) -> (App, bevy_eventsource::transport::MemoryTransport) {
    let network = bevy_eventsource::transport::MemoryTransport::new();
    let mut app = test_app_with(plugin);
    app.insert_resource(network.clone());
    collect::<SseStateChanged>(&mut app);
    collect::<SseClosed>(&mut app);
    collect::<SseErrored>(&mut app);
    collect::<SseMessage>(&mut app);
    collect::<SseRetrying>(&mut app);
    (app, network)
}

/// Spawns `count` sources of `url` on `network` and opens each one's attempt; returns them, with
/// their attempts, once every one is `Open` (each opening is a batch, which the frame's batch
/// limit may spread over frames).
pub fn open_sources(
    app: &mut App,
    network: &MemoryTransport,
    url: &str,
    count: usize,
) -> Vec<(Entity, MemoryAttempt)> {
    let sources: Vec<Entity> = (0..count)
        .map(|_| app.world_mut().spawn(EventSource::new(url)).id())
        .collect();
    app.update();
    for &source in &sources {
        network.last_attempt(source).unwrap().open();
    }
    update_until(app, "every source open", |app| {
        sources
            .iter()
            .all(|&source| state(app, source) == ReadyState::Open)
    });
    sources
        .into_iter()
        .map(|source| (source, network.last_attempt(source).unwrap()))
        .collect()
}

/// The state changes of `source` read so far, as (old, new).
pub fn transitions(app: &App, source: Entity) -> Vec<(ReadyState, ReadyState)> {
    collected::<SseStateChanged>(app)
        .iter()
        .filter(|change| change.entity == source)
        .map(|change| (change.old, change.new))
        .collect()
}

/// The data of the messages read so far.
pub fn data(app: &App) -> Vec<String> {
    collected::<SseMessage>(app)
        .iter()
        .map(|message| message.data().to_owned())
        .collect()
}

/// Runs `n` updates.
pub fn updates(app: &mut App, n: usize) {
    for _ in 0..n {
        app.update();
    }
}
