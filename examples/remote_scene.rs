//! The app the remote inspector watches: five bodies orbiting a point, with Bevy's remote
//! protocol (`RemotePlugin` + `RemoteHttpPlugin`) on 127.0.0.1:15702, Bevy's default port, or
//! `--port N`. Run it, then the inspector against it in a second terminal, and stop and start
//! this one as often as you like: the inspector's watch streams carry on.
//!
//! ```text
//! cargo run --release --features games --example remote_scene [-- --port 15702]
//! cargo run --release --features games --example remote_inspector -- --url http://127.0.0.1:15702
//! ```

#[path = "support/remote_scene.rs"]
mod remote_scene;

use bevy::prelude::*;
use bevy::remote::http::DEFAULT_PORT;
use bevy::window::WindowResolution;
use remote_scene::{BODIES, Orbit, RemoteScene};

fn main() -> AppExit {
    let mut args = std::env::args().skip(1);
    let port = match (args.next().as_deref(), args.next()) {
        (None, _) => DEFAULT_PORT,
        (Some("--port"), Some(port)) if port.parse::<u16>().is_ok() => port.parse().unwrap(),
        _ => {
            eprintln!("usage: remote_scene [--port N]");
            return AppExit::error();
        }
    };
    let mut app = App::new();
    app.add_plugins((
        DefaultPlugins.set(WindowPlugin {
            primary_window: Some(Window {
                title: format!("bevy_eventsource: remote scene (bevy_remote on 127.0.0.1:{port})"),
                resolution: WindowResolution::new(720, 720),
                ..default()
            }),
            ..default()
        }),
        RemoteScene { run: 1 },
    ))
    .insert_resource(ClearColor(Color::srgb(0.07, 0.08, 0.11)))
    .add_systems(Startup, |mut commands: Commands| {
        commands.spawn(Camera2d);
    })
    .add_systems(Update, draw_orbits)
    .add_observer(dress_body);
    remote_scene::serve(&mut app, port);
    println!("bevy_remote on http://127.0.0.1:{port}");
    app.run()
}

/// Gives each body a sprite in its colour as it spawns.
fn dress_body(add: On<Add, Orbit>, names: Query<&Name>, mut commands: Commands) {
    let Ok(name) = names.get(add.entity) else {
        return;
    };
    let color = BODIES
        .iter()
        .find(|body| body.0 == name.as_str())
        .map_or(Color::WHITE, |body| Color::srgb_from_array(body.3));
    commands
        .entity(add.entity)
        .insert(Sprite::from_color(color, Vec2::splat(26.0)));
}

fn draw_orbits(mut gizmos: Gizmos, orbits: Query<&Orbit>) {
    gizmos.circle_2d(Vec2::ZERO, 10.0, Color::srgb(1.0, 0.85, 0.35));
    for orbit in &orbits {
        gizmos.circle_2d(Vec2::ZERO, orbit.radius, Color::srgba(1.0, 1.0, 1.0, 0.2));
    }
}
