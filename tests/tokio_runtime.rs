//! A game that already runs tokio hands the plugin its runtime: attempts run there and the
//! plugin's IO thread is never started. A binary of its own, so that no other test's app has
//! started an IO thread in this process.

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;

/// The names of this process's threads (Linux truncates them to 15 bytes).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("procfs")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

#[derive(Resource, Default)]
struct Received(Vec<String>);

#[test]
fn events_flow_on_the_games_runtime_and_no_io_thread_starts() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("game-tokio")
        .enable_all()
        .build()
        .unwrap();
    // A real SSE server on the game's runtime too: axum on 127.0.0.1:0.
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    runtime.spawn(async move {
        use axum::response::sse::{Event, Sse};
        let events = || async {
            let stream =
                futures_lite::stream::iter((1..=5).map(|n| {
                    Ok::<_, std::convert::Infallible>(Event::default().data(n.to_string()))
                }));
            Sse::new(futures_lite::StreamExt::chain(
                stream,
                futures_lite::stream::pending(),
            ))
        };
        let app = axum::Router::new().route("/events", axum::routing::get(events));
        axum::serve(listener, app).await.unwrap();
    });

    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        SsePlugin::default().with_tokio_runtime(runtime.handle().clone()),
    ))
    .init_resource::<Received>()
    .add_systems(
        Update,
        |mut messages: MessageReader<SseMessage>, mut received: ResMut<Received>| {
            received
                .0
                .extend(messages.read().map(|message| message.data().to_owned()));
        },
    );
    app.world_mut().spawn(EventSource::new(url));
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.world().resource::<Received>().0.len() < 5 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the events"
        );
        app.update();
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        app.world().resource::<Received>().0,
        ["1", "2", "3", "4", "5"]
    );
    let names = thread_names();
    println!("{names:?}");
    assert!(names.iter().any(|name| name.starts_with("game-tokio")));
    assert!(
        !names.iter().any(|name| name.starts_with("bevy_eventsourc")),
        "the plugin started its IO thread: {names:?}"
    );
    // The attempt is a task on the game's runtime.
    assert!(runtime.metrics().num_alive_tasks() >= 2);
}
