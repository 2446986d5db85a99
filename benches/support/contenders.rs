//! The in-process contenders that `end_to_end` and `alternate` both run: the plugin in a Bevy
//! app whose frames run back to back, and reqwest with this crate's parser and no ECS (the
//! ceilings), each reading one stream of `events` events and checking that every one came. The
//! bench declares `floors` beside this module.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::parser::{Parsed, SseParser};
use bevy_eventsource::prelude::*;

use crate::floors;

#[derive(Resource, Default)]
struct Tally {
    messages: u64,
    data_bytes: usize,
}

/// An app with `plugin` and an `Update` system that reads every message.
pub fn bevy_app(plugin: SsePlugin) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, plugin))
        .init_resource::<Tally>()
        .add_systems(
            Update,
            |mut messages: MessageReader<SseMessage>, mut tally: ResMut<Tally>| {
                for message in messages.read() {
                    tally.messages += 1;
                    tally.data_bytes += black_box(message.data()).len();
                }
            },
        );
    app.update();
    app
}

/// One stream of `events` events into `app`: from spawning the source until its last message
/// was read, frames back to back.
pub fn bevy_stream(app: &mut App, url: &str, events: u64) -> Duration {
    *app.world_mut().resource_mut::<Tally>() = Tally::default();
    let start = Instant::now();
    let source = app.world_mut().spawn(EventSource::new(url)).id();
    while app.world().resource::<Tally>().messages < events {
        app.update();
    }
    let elapsed = start.elapsed();
    app.world_mut().despawn(source);
    app.update();
    black_box(app.world().resource::<Tally>().data_bytes);
    elapsed
}

/// reqwest 0.13 and this crate's parser, no ECS: one stream, a chunk at a time.
pub async fn ingest(client: reqwest::Client, url: String, events: u64) {
    let mut response = floors::open_reqwest(&client, &url).await;
    let mut parser = SseParser::new();
    let (mut messages, mut data_bytes) = (0, 0);
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        parser
            .feed_bytes(&chunk, |item| {
                if let Parsed::Message(event) = item {
                    messages += 1;
                    data_bytes += black_box(event).data().len();
                }
            })
            .expect("parse");
    }
    assert_eq!(messages, events);
    black_box(data_bytes);
}

/// [`ingest`] on `runtime` (current-thread) on a thread of its own, while `app` runs frames back
/// to back until it is done: the plugin's two busy threads without the handoff.
pub fn ingest_beside_game(
    app: &mut App,
    runtime: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    events: u64,
) {
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("ingest".into())
            .spawn_scoped(scope, || {
                runtime.block_on(ingest(client.clone(), url.to_owned(), events))
            })
            .expect("spawn the reader");
        while !reader.is_finished() {
            app.update();
        }
        reader.join().expect("the reader panicked");
    });
}

pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

pub fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
