//! The app the remote inspector watches: a few bodies orbiting a point, served over Bevy's own
//! remote protocol (`bevy_remote`'s `RemotePlugin` + `RemoteHttpPlugin`). Shared by
//! `examples/remote_scene.rs` (the scene in a window), `examples/remote_inspector.rs` (its
//! embedded default runs the scene headless in a child process) and `tests/remote.rs` (in the
//! test's process).
#![allow(dead_code)]

use std::time::Duration;

use bevy::app::ScheduleRunnerPlugin;
use bevy::prelude::*;
use bevy::remote::RemotePlugin;
use bevy::remote::http::RemoteHttpPlugin;
use serde::{Deserialize, Serialize};

/// `Transform`'s type path, as `bevy_remote` names components.
pub const TRANSFORM: &str = "bevy_transform::components::transform::Transform";
/// `Orbit`'s type path (fixed by `#[type_path]`, whichever binary the scene is built into).
pub const ORBIT: &str = "remote_scene::Orbit";
/// `Name`'s type path.
pub const NAME: &str = "bevy_ecs::name::Name";

/// A body's orbit: it moves every frame, so a watch on it reports every frame.
#[derive(Component, Reflect, Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[reflect(Component)]
#[type_path = "remote_scene"]
pub struct Orbit {
    /// Distance from the centre, in pixels.
    pub radius: f32,
    /// Radians per second (negative: clockwise).
    pub speed: f32,
    /// Where the body is now, in radians.
    pub angle: f32,
    /// Which run of the scene this is: 1, then one more after each restart, so a watcher can
    /// tell a restarted scene's values from the old ones.
    pub run: u32,
}

/// The bodies: name, radius, speed, colour (the windowed scene and the inspector draw them alike).
pub const BODIES: [(&str, f32, f32, [f32; 3]); 5] = [
    ("Ember", 90.0, 1.6, [0.98, 0.55, 0.25]),
    ("Tide", 150.0, -1.1, [0.30, 0.65, 0.98]),
    ("Moss", 205.0, 0.8, [0.45, 0.85, 0.40]),
    ("Dusk", 255.0, -0.6, [0.72, 0.50, 0.95]),
    ("Frost", 300.0, 0.45, [0.80, 0.92, 0.98]),
];

/// The scene's logic: spawns the bodies and moves them. No window, no assets.
pub struct RemoteScene {
    /// See [`Orbit::run`].
    pub run: u32,
}

#[derive(Resource)]
struct Run(u32);

impl Plugin for RemoteScene {
    fn build(&self, app: &mut App) {
        app.register_type::<Orbit>()
            .register_type::<Transform>()
            .register_type::<Name>()
            .insert_resource(Run(self.run))
            .add_systems(Startup, spawn_bodies)
            .add_systems(Update, orbit);
    }
}

fn spawn_bodies(mut commands: Commands, run: Res<Run>) {
    for (index, (name, radius, speed, _)) in BODIES.into_iter().enumerate() {
        let angle = index as f32 * 1.3;
        commands.spawn((
            Name::new(name),
            Orbit {
                radius,
                speed,
                angle,
                run: run.0,
            },
            Transform::from_translation(position(radius, angle).extend(0.0)),
        ));
    }
}

fn orbit(time: Res<Time>, mut bodies: Query<(&mut Orbit, &mut Transform)>) {
    for (mut orbit, mut transform) in &mut bodies {
        orbit.angle = (orbit.angle + orbit.speed * time.delta_secs()) % std::f32::consts::TAU;
        transform.translation = position(orbit.radius, orbit.angle).extend(0.0);
    }
}

/// Where a body at `angle` on an orbit of `radius` is.
pub fn position(radius: f32, angle: f32) -> Vec2 {
    Vec2::new(angle.cos(), angle.sin()) * radius
}

/// The scene with no window at 60 frames a second, its remote endpoint on 127.0.0.1:`port`.
pub fn headless(port: u16, run: u32) -> App {
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins.set(ScheduleRunnerPlugin::run_loop(Duration::from_secs_f64(
            1.0 / 60.0,
        ))),
        RemoteScene { run },
    ));
    serve(&mut app, port);
    app
}

/// Adds Bevy's remote protocol over HTTP on 127.0.0.1:`port`.
pub fn serve(app: &mut App, port: u16) {
    app.add_plugins((
        RemotePlugin::default(),
        RemoteHttpPlugin::default()
            .with_address([127, 0, 0, 1])
            .with_port(port),
    ));
}

/// A loopback port nobody listens on. `RemoteHttpPlugin` binds the port it is given and never
/// says which one the system chose for port 0, so the port is asked for here and given back just
/// before the scene binds it.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

/// The JSON-RPC body of a `world.get_components+watch` request for these components of `entity`
/// (its `Entity::to_bits`).
pub fn watch_request(entity: u64, components: &[&str]) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": entity,
        "method": "world.get_components+watch",
        "params": { "entity": entity, "components": components },
    })
    .to_string()
}

/// One frame of a watch stream, `data: {"jsonrpc":"2.0","id":..,"result":{..}}`: the watched
/// components that changed, decoded by the IO task straight into the scene's own types (the
/// game thread gets values, not JSON), or the JSON-RPC error (an entity that is gone).
#[derive(Deserialize, Clone, Debug)]
pub struct WatchFrame {
    /// What changed this frame.
    pub result: Option<Changed>,
    /// Why the server could not answer, e.g. the entity does not exist.
    pub error: Option<bevy::remote::BrpError>,
}

/// The `result` of a `world.get_components+watch` frame (`BrpGetComponentsWatchingResponse`,
/// with the components this scene watches typed).
#[derive(Deserialize, Clone, Debug, Default)]
pub struct Changed {
    /// The watched components that changed, by type path.
    #[serde(default)]
    pub components: Components,
    /// Type paths of the watched components that were removed.
    #[serde(default)]
    pub removed: Vec<String>,
}

/// The watched components, each present when it changed this frame.
#[derive(Deserialize, Clone, Debug, Default)]
pub struct Components {
    /// [`TRANSFORM`].
    #[serde(rename = "bevy_transform::components::transform::Transform")]
    pub transform: Option<Transform>,
    /// [`ORBIT`].
    #[serde(rename = "remote_scene::Orbit")]
    pub orbit: Option<Orbit>,
}

impl WatchFrame {
    /// The body's orbit, if it changed this frame.
    pub fn orbit(&self) -> Option<Orbit> {
        self.result.as_ref()?.components.orbit
    }

    /// The body's translation, if its transform changed this frame.
    pub fn translation(&self) -> Option<Vec3> {
        Some(self.result.as_ref()?.components.transform?.translation)
    }
}
