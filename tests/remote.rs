//! Interoperability with Bevy's own remote protocol (`bevy_remote`): a real SSE server nobody
//! here wrote. The watched scene of `examples/remote_scene.rs` runs in this process with
//! `RemotePlugin` + `RemoteHttpPlugin`; the client app watches one body's components with a
//! `world.get_components+watch` POST and receives every frame as a typed value, also after the
//! scene restarts.
//!
//! Needs `--features games` (`bevy_remote` comes with Bevy's renderer):
//! `cargo test --features games --test remote`.
#![cfg(feature = "games")]

#[path = "../examples/support/loopback.rs"]
#[allow(dead_code)] // its axum `serve` is not used here
mod loopback;
#[path = "../examples/support/remote_scene.rs"]
mod remote_scene;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use remote_scene::{NAME, ORBIT, Orbit, TRANSFORM, WatchFrame};

/// Frames of the watch stream that `Update` systems read, in order.
#[derive(Resource, Default)]
struct Frames(Vec<WatchFrame>);

fn client_app() -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, SsePlugin::default()))
        .add_message::<SseJson<WatchFrame>>()
        .init_resource::<Frames>()
        .add_systems(
            Update,
            |mut reader: MessageReader<SseJson<WatchFrame>>, mut frames: ResMut<Frames>| {
                frames
                    .0
                    .extend(reader.read().map(|json| json.value.clone()));
            },
        );
    app
}

/// The scene in this process, its remote endpoint on a free loopback port.
fn start_scene(run: u32) -> (App, u16) {
    let port = remote_scene::free_port();
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, remote_scene::RemoteScene { run }));
    remote_scene::serve(&mut app, port);
    app.update();
    (app, port)
}

/// The entity of the body called `name`, as `bevy_remote` names entities (`Entity::to_bits`).
fn body(scene: &mut App, name: &str) -> u64 {
    let world = scene.world_mut();
    let mut bodies = world.query::<(Entity, &Name)>();
    bodies
        .iter(world)
        .find(|(_, body)| body.as_str() == name)
        .map(|(entity, _)| entity.to_bits())
        .unwrap_or_else(|| panic!("no body called {name}"))
}

/// Updates the scene and the client together until `done`, for at most 20 s of wall time.
fn run_until(scene: &mut App, client: &mut App, what: &str, mut done: impl FnMut(&App) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        scene.update();
        client.update();
        if done(client) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn frames(client: &App) -> &[WatchFrame] {
    &client.world().resource::<Frames>().0
}

fn orbits_of_run(client: &App, run: u32) -> Vec<Orbit> {
    frames(client)
        .iter()
        .filter_map(WatchFrame::orbit)
        .filter(|orbit| orbit.run == run)
        .collect()
}

#[test]
fn watched_components_arrive_as_typed_values_across_a_scene_restart() {
    let (mut scene, port) = start_scene(1);
    let moon = body(&mut scene, "Tide");
    let proxy = Proxy::start(port);

    let mut client = client_app();
    let source = client
        .world_mut()
        .spawn((
            EventSource::new(format!("http://{}/", proxy.addr))
                .with_method(Method::POST)
                .with_header("content-type", "application/json")
                .with_body(remote_scene::watch_request(moon, &[TRANSFORM, ORBIT]))
                .with_json::<WatchFrame>("message"),
            ReconnectionTime(Duration::from_millis(100)),
        ))
        .id();

    run_until(&mut scene, &mut client, "10 frames of run 1", |client| {
        orbits_of_run(client, 1).len() >= 10
    });
    let first = orbits_of_run(&client, 1);
    assert_eq!(first[0].radius, 150.0, "the body asked for: {first:?}");
    assert!(
        first.windows(2).any(|pair| pair[0].angle != pair[1].angle),
        "the body moves: {first:?}"
    );
    // Each frame carries both components, decoded from Bevy's own reflection JSON.
    let last = frames(&client).last().unwrap();
    let translation = last.translation().expect("a Transform in the frame");
    let orbit = last.orbit().unwrap();
    let expected = remote_scene::position(orbit.radius, orbit.angle);
    assert!(
        (translation.truncate() - expected).length() < 0.01,
        "{translation} vs {expected}"
    );
    assert!(last.error.is_none(), "{:?}", last.error);

    // The scene stops and starts again: a new world and a new server, reached at the same URL.
    drop(scene);
    let (mut scene, port) = start_scene(2);
    assert_eq!(
        body(&mut scene, "Tide"),
        moon,
        "the restarted scene spawns alike"
    );
    proxy.switch_to(port);

    // The same source re-POSTs the same request and the subscription carries on.
    run_until(&mut scene, &mut client, "10 frames of run 2", |client| {
        orbits_of_run(client, 2).len() >= 10
    });
    let stats = client.world().get::<SseSourceStats>(source).unwrap();
    assert!(stats.reconnections >= 1, "{stats:?}");
    assert_eq!(
        client.world().get::<ReadyState>(source),
        Some(&ReadyState::Open)
    );
    // Nothing of run 1 arrives after run 2 started.
    let runs: Vec<u32> = frames(&client)
        .iter()
        .filter_map(|frame| frame.orbit().map(|orbit| orbit.run))
        .collect();
    let switched = runs.iter().position(|&run| run == 2).unwrap();
    assert!(runs[switched..].iter().all(|&run| run == 2), "{runs:?}");
}

#[test]
fn an_entity_that_is_gone_is_a_typed_json_rpc_error_not_a_stream_error() {
    let (mut scene, port) = start_scene(1);
    let missing = Entity::from_raw_u32(4000).unwrap().to_bits();
    let mut client = client_app();
    client.insert_resource(Errors::default()).add_systems(
        Update,
        |mut errors: MessageReader<SseErrored>, mut seen: ResMut<Errors>| {
            seen.0
                .extend(errors.read().map(|error| error.error.to_string()));
        },
    );
    client.world_mut().spawn(
        EventSource::new(format!("http://127.0.0.1:{port}/"))
            .with_method(Method::POST)
            .with_header("content-type", "application/json")
            .with_body(remote_scene::watch_request(missing, &[NAME]))
            .with_json::<WatchFrame>("message"),
    );
    run_until(&mut scene, &mut client, "3 error frames", |client| {
        frames(client).len() >= 3
    });
    for frame in frames(&client) {
        let error = frame.error.as_ref().expect("a JSON-RPC error");
        assert!(error.message.contains("not found"), "{error:?}");
        assert!(frame.result.is_none());
    }
    assert!(client.world().resource::<Errors>().0.is_empty());
}

#[derive(Resource, Default)]
struct Errors(Vec<String>);

/// A TCP forwarder on 127.0.0.1:0 in front of the scene: `RemoteHttpPlugin` cannot be stopped
/// (its listener lives on in Bevy's IO task pool after the app is dropped), so a restarted scene
/// listens on a new port and the forwarder keeps the URL, as a fixed port would. Switching cuts
/// every forwarded connection, as the old process's exit would.
struct Proxy {
    addr: SocketAddr,
    upstream: tokio::sync::watch::Sender<u16>,
}

impl Proxy {
    fn start(port: u16) -> Self {
        let (upstream, watch) = tokio::sync::watch::channel(port);
        let addr = loopback::spawn("scene forwarder", move |listener| async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut watch = watch.clone();
                let port = *watch.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = watch.changed() => {}
                    }
                });
            }
        });
        Self { addr, upstream }
    }

    fn switch_to(&self, port: u16) {
        self.upstream.send_replace(port);
    }
}
