//! The README's "In a game", runnable against the embedded demo server (or `-- URL`).
#[path = "support/game_server.rs"]
mod game_server;
#[path = "support/loopback.rs"]
mod loopback;

use bevy::{app::ScheduleRunnerPlugin, log::LogPlugin, prelude::*};
use bevy_eventsource::prelude::*;

fn main() {
    let frame = std::time::Duration::from_secs_f64(1.0 / 60.0);
    App::new()
        .add_plugins(MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(frame)))
        .add_plugins((LogPlugin::default(), SsePlugin::default()))
        .add_systems(Startup, subscribe)
        .add_systems(Update, read_feed)
        .run();
}

fn subscribe(mut commands: Commands) {
    let url = game_server::url_or_start(std::env::args().nth(1).as_deref(), "/chat");
    commands
        .spawn(EventSource::new(url))
        // BestHTTP's On/Off: a system that runs only for `join` events.
        .on_sse_event("join", |In(join): In<SseMessage>| {
            info!("joined: {}", join.data())
        })
        // Any callback is also an entity event: OnError as an observer.
        .observe(|error: On<SseErrored>| warn!("{}", error.error));
}

// Every event, also the named ones, is a message, readable in the frame it arrived.
fn read_feed(mut messages: MessageReader<SseMessage>, states: Query<&ReadyState>) {
    for message in messages.read() {
        let state = states.get(message.entity).copied().unwrap_or_default();
        let (id, name, data) = (
            message.last_event_id(),
            message.event_type(),
            message.data(),
        );
        info!("{state:?} {id} {name}: {data}");
    }
}
