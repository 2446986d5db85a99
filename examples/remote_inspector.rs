//! Remote inspector: watches another Bevy app's entities live over Bevy's own remote protocol
//! (`bevy_remote`). It lists the watched app's bodies with one `world.query` request, then opens
//! a `world.get_components+watch` stream per body: an `EventSource` that POSTs the JSON-RPC
//! request and decodes each frame on the IO thread into a `WatchFrame`: the watched app's own
//! `Transform` and `Orbit`, so the game thread gets values, not JSON. When the watched app
//! restarts, every source re-POSTs its request and the subscription carries on; a body that is
//! gone answers with a JSON-RPC error, and the inspector lists the bodies again.
//!
//! Without `--url`, the inspector runs the watched scene itself, headless in a child process (this
//! same binary with `--serve-scene`) on a free loopback port, and R restarts it. With
//! `--url http://127.0.0.1:15702` it watches `cargo run --features games --example remote_scene`.
//! Up and Down choose the body whose components the right panel shows.
//!
//! ```text
//! cargo run --release --features games --example remote_inspector [-- --url http://127.0.0.1:15702]
//! ```

#[path = "support/game.rs"]
mod game;
#[path = "support/remote_scene.rs"]
mod remote_scene;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use game::{BRIGHT, DIM, Fonts, GameArgs, PANEL, Report, Watched};
use remote_scene::{NAME, ORBIT, Orbit, TRANSFORM, WatchFrame};
use serde_json::{Value, json};

/// Where the scene's centre is drawn, and how much smaller than in the watched app.
const VIEW_CENTRE: Vec2 = Vec2::new(-30.0, -10.0);
const VIEW_SCALE: f32 = 0.9;

fn main() -> AppExit {
    let mut argv = std::env::args().skip(1);
    if argv.next().as_deref() == Some("--serve-scene") {
        return serve_scene(argv);
    }
    let args = GameArgs::from_env("remote_inspector");
    let mut app = game::game_app("bevy_eventsource: remote inspector", &args);
    let endpoint = match &args.url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let scene = EmbeddedScene::start();
            let endpoint = format!("http://127.0.0.1:{}", scene.port);
            app.insert_resource(scene);
            endpoint
        }
    };
    app.insert_resource(Inspector {
        endpoint,
        ..default()
    })
    .add_message::<SseJson<WatchFrame>>()
    .add_observer(on_watch_frame)
    .add_systems(Startup, setup)
    .add_systems(
        Update,
        (
            list_bodies,
            keys,
            place_dots,
            draw_orbits,
            show_panels,
            report,
        )
            .chain(),
    );
    app.run()
}

/// The embedded default: the watched scene in a child process, restarted by R.
#[derive(Resource)]
struct EmbeddedScene {
    child: Child,
    port: u16,
    /// The scene's run number: 1, one more after each restart.
    run: u32,
}

impl EmbeddedScene {
    fn start() -> Self {
        let port = remote_scene::free_port();
        Self {
            child: spawn_scene(port, 1),
            port,
            run: 1,
        }
    }

    /// Stops the scene's process and starts a new one on the same port.
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.run += 1;
        self.child = spawn_scene(self.port, self.run);
    }
}

impl Drop for EmbeddedScene {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_scene(port: u16, run: u32) -> Child {
    Command::new(std::env::current_exe().expect("this binary's path"))
        .args(["--serve-scene", &port.to_string(), &run.to_string()])
        // The scene exits when this pipe closes, so it never outlives the inspector.
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the watched scene")
}

/// `--serve-scene PORT RUN`: the watched scene, headless, until standard input closes.
fn serve_scene(mut argv: impl Iterator<Item = String>) -> AppExit {
    let port = argv.next().and_then(|arg| arg.parse::<u16>().ok());
    let run = argv.next().and_then(|arg| arg.parse::<u32>().ok());
    let (Some(port), Some(run)) = (port, run) else {
        eprintln!("usage: remote_inspector --serve-scene PORT RUN");
        return AppExit::error();
    };
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    remote_scene::headless(port, run).run()
}

#[derive(Resource, Default)]
struct Inspector {
    /// The watched app's remote endpoint, e.g. `http://127.0.0.1:15702`.
    endpoint: String,
    /// The bodies listed last, in the watched app's order.
    bodies: Vec<Body>,
    /// Index into `bodies` of the one the right panel shows.
    selected: usize,
    /// A `world.query` in flight.
    listing: Option<Listing>,
    /// When the last listing started.
    listed_at: Option<Instant>,
    /// Why the last listing failed.
    listing_error: Option<String>,
    /// Times the list was asked for.
    listings: u32,
    restarts: u32,
    decode_errors: u32,
}

/// The answer to a `world.query` in flight: each body's entity bits and name.
type Listing = async_channel::Receiver<Result<Vec<(u64, String)>, String>>;

/// The left panel's rows, not the right panel's texts.
type RowsOnly = (Without<Detail>, Without<Status>);

/// One watched body: its entity in the watched app and the source that watches it.
struct Body {
    entity: u64,
    name: String,
    color: Color,
    source: Entity,
    dot: Entity,
}

/// The latest values of a body, kept on its source entity.
#[derive(Component)]
struct Live {
    translation: Option<Vec3>,
    orbit: Option<Orbit>,
    frames: u64,
    /// Frames in the current second, and the rate over the last whole second.
    window: (Instant, u32),
    rate: u32,
    /// The JSON-RPC error of the last frame, if it was one.
    error: Option<String>,
}

#[derive(Component)]
struct Dot;

#[derive(Component)]
struct BodyList;

#[derive(Component)]
struct Row(usize);

#[derive(Component)]
struct Detail;

#[derive(Component)]
struct Status;

fn setup(
    mut commands: Commands,
    fonts: Res<Fonts>,
    inspector: Res<Inspector>,
    scene: Option<Res<EmbeddedScene>>,
) {
    let embedded = if scene.is_some() {
        "R restarts the watched app · "
    } else {
        ""
    };
    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            left: px(14),
            top: px(10),
            width: px(300),
            padding: UiRect::all(px(12)),
            flex_direction: FlexDirection::Column,
            row_gap: px(6),
            border_radius: BorderRadius::all(px(10)),
            ..default()
        },
        BackgroundColor(PANEL),
        children![
            (
                Text::new("Remote inspector"),
                fonts.bold(26.0),
                TextColor(BRIGHT)
            ),
            (
                Text::new(format!("bevy_remote at {}", inspector.endpoint)),
                fonts.text(13.0),
                TextColor(DIM)
            ),
            (
                BodyList,
                Node {
                    flex_direction: FlexDirection::Column,
                    row_gap: px(2),
                    margin: UiRect::top(px(6)),
                    ..default()
                }
            ),
            (Status, Text::new(""), fonts.text(13.0), TextColor(DIM)),
        ],
    ));
    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            right: px(14),
            top: px(74),
            width: px(340),
            padding: UiRect::all(px(12)),
            border_radius: BorderRadius::all(px(10)),
            ..default()
        },
        BackgroundColor(PANEL),
        children![(Detail, Text::new(""), fonts.text(15.0), TextColor(BRIGHT))],
    ));
    commands.spawn((
        Text::new(format!(
            "Up/Down choose a body · {embedded}one world.get_components+watch stream per body"
        )),
        fonts.text(14.0),
        TextColor(DIM),
        Node {
            position_type: PositionType::Absolute,
            left: px(24),
            bottom: px(14),
            ..default()
        },
    ));
}

/// Lists the watched app's bodies (at start, and again while there are none or one of them is
/// gone) and keeps one watch stream per body.
fn list_bodies(
    mut commands: Commands,
    mut inspector: ResMut<Inspector>,
    mut watched: ResMut<Watched>,
    lives: Query<&Live>,
    list: Single<Entity, With<BodyList>>,
    fonts: Res<Fonts>,
) {
    if let Some(listing) = &inspector.listing {
        let Ok(answer) = listing.try_recv() else {
            return;
        };
        inspector.listing = None;
        match answer {
            Ok(listed) => {
                inspector.listing_error = None;
                watch(&mut commands, &mut inspector, listed, *list, &fonts);
            }
            Err(error) => inspector.listing_error = Some(error),
        }
    }
    watched.source = inspector
        .bodies
        .get(inspector.selected)
        .map(|body| body.source);
    let gone = inspector.bodies.iter().any(|body| {
        lives
            .get(body.source)
            .is_ok_and(|live| live.error.is_some())
    });
    let due = inspector
        .listed_at
        .is_none_or(|at| at.elapsed() > Duration::from_secs(1));
    if (inspector.bodies.is_empty() || gone) && inspector.listing.is_none() && due {
        inspector.listing = Some(query_bodies(&inspector.endpoint));
        inspector.listed_at = Some(Instant::now());
        inspector.listings += 1;
    }
}

/// Opens a watch stream for each newly listed body and closes those of bodies that are gone.
fn watch(
    commands: &mut Commands,
    inspector: &mut Inspector,
    listed: Vec<(u64, String)>,
    list: Entity,
    fonts: &Fonts,
) {
    let old = std::mem::take(&mut inspector.bodies);
    for body in old {
        if listed.contains(&(body.entity, body.name.clone())) {
            inspector.bodies.push(body);
        } else {
            commands.entity(body.source).despawn();
            commands.entity(body.dot).despawn();
        }
    }
    for (entity, name) in listed {
        if inspector.bodies.iter().any(|body| body.entity == entity) {
            continue;
        }
        let request = remote_scene::watch_request(entity, &[TRANSFORM, ORBIT]);
        let source = commands
            .spawn((
                EventSource::new(&inspector.endpoint)
                    .with_method(Method::POST)
                    .with_header("content-type", "application/json")
                    .with_body(request)
                    .with_json::<WatchFrame>("message"),
                Live {
                    translation: None,
                    orbit: None,
                    frames: 0,
                    window: (Instant::now(), 0),
                    rate: 0,
                    error: None,
                },
            ))
            .id();
        let color = remote_scene::BODIES
            .iter()
            .find(|body| body.0 == name)
            .map_or(BRIGHT, |body| Color::srgb_from_array(body.3));
        let dot = commands
            .spawn((
                Dot,
                Sprite::from_color(color, Vec2::splat(24.0)),
                Transform::from_xyz(0.0, 0.0, 1.0),
                Visibility::Hidden,
                children![(
                    Text2d::new(name.clone()),
                    fonts.text(14.0),
                    TextColor(DIM),
                    Transform::from_xyz(0.0, -26.0, 0.0),
                )],
            ))
            .id();
        inspector.bodies.push(Body {
            entity,
            name,
            color,
            source,
            dot,
        });
    }
    inspector.selected = inspector
        .selected
        .min(inspector.bodies.len().saturating_sub(1));
    // One row per body in the left panel.
    commands.entity(list).despawn_children();
    for index in 0..inspector.bodies.len() {
        commands.entity(list).with_child((
            Row(index),
            Text::new(""),
            fonts.text(16.0),
            TextColor(DIM),
        ));
    }
}

/// `world.query` for every entity with an `Orbit`, with its `Name`, on a thread of its own (a
/// plain JSON-RPC answer, not a stream).
fn query_bodies(endpoint: &str) -> Listing {
    let (tx, rx) = async_channel::bounded(1);
    let endpoint = endpoint.to_owned();
    let body = json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "world.query",
        "params": { "data": { "components": [NAME] }, "filter": { "with": [ORBIT] } },
    })
    .to_string();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let answer = runtime.block_on(async {
            let response = reqwest::Client::new()
                .post(&endpoint)
                .header("content-type", "application/json")
                .body(body)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .map_err(|error| format!("world.query: {error}"))?;
            let bytes = response.bytes().await.map_err(|error| error.to_string())?;
            let answer: Value =
                serde_json::from_slice(&bytes).map_err(|error| error.to_string())?;
            if let Some(error) = answer.get("error") {
                return Err(format!("world.query: {error}"));
            }
            let rows = answer["result"].as_array().cloned().unwrap_or_default();
            Ok(rows
                .iter()
                .filter_map(|row| {
                    let name = row["components"][NAME].as_str()?;
                    Some((row["entity"].as_u64()?, name.to_owned()))
                })
                .collect())
        });
        let _ = tx.try_send(answer);
    });
    rx
}

/// A watch frame, decoded on the IO thread: the body's latest values.
fn on_watch_frame(frame: On<SseJson<WatchFrame>>, mut lives: Query<&mut Live>) {
    let Ok(mut live) = lives.get_mut(frame.entity) else {
        return;
    };
    live.frames += 1;
    let (started, count) = live.window;
    if started.elapsed() >= Duration::from_secs(1) {
        live.rate = count;
        live.window = (Instant::now(), 1);
    } else {
        live.window.1 += 1;
    }
    let frame = &frame.value;
    if let Some(error) = &frame.error {
        live.error = Some(error.message.clone());
        return;
    }
    live.error = None;
    if let Some(translation) = frame.translation() {
        live.translation = Some(translation);
    }
    if let Some(orbit) = frame.orbit() {
        live.orbit = Some(orbit);
    }
}

fn keys(
    input: Res<ButtonInput<KeyCode>>,
    mut inspector: ResMut<Inspector>,
    scene: Option<ResMut<EmbeddedScene>>,
) {
    let count = inspector.bodies.len().max(1);
    if input.just_pressed(KeyCode::ArrowDown) {
        inspector.selected = (inspector.selected + 1) % count;
    }
    if input.just_pressed(KeyCode::ArrowUp) {
        inspector.selected = (inspector.selected + count - 1) % count;
    }
    if input.just_pressed(KeyCode::KeyR)
        && let Some(mut scene) = scene
    {
        scene.restart();
        inspector.restarts += 1;
    }
}

fn place_dots(
    inspector: Res<Inspector>,
    lives: Query<&Live>,
    mut dots: Query<(&mut Transform, &mut Visibility, &mut Sprite), With<Dot>>,
) {
    for (index, body) in inspector.bodies.iter().enumerate() {
        let (Ok(live), Ok((mut transform, mut visibility, mut sprite))) =
            (lives.get(body.source), dots.get_mut(body.dot))
        else {
            continue;
        };
        let Some(translation) = live.translation else {
            continue;
        };
        *visibility = Visibility::Inherited;
        let at = VIEW_CENTRE + translation.truncate() * VIEW_SCALE;
        transform.translation = at.extend(1.0);
        let size = if index == inspector.selected {
            32.0
        } else {
            22.0
        };
        sprite.custom_size = Some(Vec2::splat(size));
    }
}

fn draw_orbits(mut gizmos: Gizmos, inspector: Res<Inspector>, lives: Query<&Live>) {
    gizmos.circle_2d(VIEW_CENTRE, 10.0, Color::srgb(1.0, 0.85, 0.35));
    for (index, body) in inspector.bodies.iter().enumerate() {
        let Some(orbit) = lives.get(body.source).ok().and_then(|live| live.orbit) else {
            continue;
        };
        let color = if index == inspector.selected {
            body.color
        } else {
            body.color.with_alpha(0.35)
        };
        gizmos.circle_2d(VIEW_CENTRE, orbit.radius * VIEW_SCALE, color);
        if index == inspector.selected
            && let Some(translation) = lives
                .get(body.source)
                .ok()
                .and_then(|live| live.translation)
        {
            let at = VIEW_CENTRE + translation.truncate() * VIEW_SCALE;
            gizmos.circle_2d(at, 24.0, BRIGHT);
            gizmos.line_2d(VIEW_CENTRE, at, color.with_alpha(0.6));
        }
    }
}

fn show_panels(
    inspector: Res<Inspector>,
    scene: Option<Res<EmbeddedScene>>,
    sources: Query<(&Live, &ReadyState, &SseSourceStats)>,
    mut rows: Query<(&Row, &mut Text, &mut TextColor), RowsOnly>,
    mut detail: Single<&mut Text, (With<Detail>, Without<Status>)>,
    mut status: Single<&mut Text, (With<Status>, Without<Detail>)>,
) {
    for (Row(index), mut text, mut color) in &mut rows {
        let Some(body) = inspector.bodies.get(*index) else {
            continue;
        };
        let Ok((live, state, _)) = sources.get(body.source) else {
            continue;
        };
        let selected = *index == inspector.selected;
        text.0 = format!(
            "{} {:<6} {:>6} {:>3}/s {:?}",
            if selected { ">" } else { " " },
            body.name,
            entity_label(body.entity),
            live.rate,
            state
        );
        color.0 = if selected { body.color } else { DIM };
    }

    status.0 = match (&inspector.listing_error, &scene) {
        (Some(error), _) => format!("listing: {error}"),
        (None, Some(scene)) => format!(
            "watched app: embedded, run {} (pid {}), {} restart(s)",
            scene.run,
            scene.child.id(),
            inspector.restarts
        ),
        (None, None) => format!("{} bodies", inspector.bodies.len()),
    };

    let Some(body) = inspector.bodies.get(inspector.selected) else {
        detail.0 = "listing the watched app's bodies…".into();
        return;
    };
    let Ok((live, state, stats)) = sources.get(body.source) else {
        return;
    };
    let mut text = format!("{}  (entity {})\n", body.name, entity_label(body.entity));
    text += &format!(
        "stream {state:?} · {} frames · {}/s\nreconnected {}× · {} attempt(s)\n\n",
        live.frames, live.rate, stats.reconnections, stats.attempts
    );
    if let Some(error) = &live.error {
        text += &format!("JSON-RPC error: {error}\n\n");
    }
    if let Some(translation) = live.translation {
        text += &format!(
            "Transform\n  translation\n    x {:>8.2}\n    y {:>8.2}\n    z {:>8.2}\n",
            translation.x, translation.y, translation.z
        );
    }
    if let Some(orbit) = live.orbit {
        text += &format!(
            "Orbit\n  radius {:>6.1}\n  speed  {:>6.2} rad/s\n  angle  {:>6.2} rad\n  run    {:>6}\n",
            orbit.radius, orbit.speed, orbit.angle, orbit.run
        );
    }
    text += "\nwatched, decoded on the IO thread:\n  bevy_transform::…::Transform\n";
    text += &format!("  {ORBIT}\n");
    detail.0 = text;
}

/// An entity as Bevy prints it (`50v1`), from the bits `bevy_remote` sends.
fn entity_label(bits: u64) -> String {
    Entity::try_from_bits(bits).map_or_else(|| bits.to_string(), |entity| entity.to_string())
}

fn report(
    mut report: ResMut<Report>,
    mut inspector: ResMut<Inspector>,
    mut errors: MessageReader<SseErrored>,
    scene: Option<Res<EmbeddedScene>>,
    sources: Query<(&Live, &SseSourceStats)>,
) {
    // A frame the IO task could not decode into a `WatchFrame`.
    inspector.decode_errors += errors
        .read()
        .filter(|errored| matches!(errored.error, SseError::Decode { .. }))
        .count() as u32;
    let lives: Vec<_> = inspector
        .bodies
        .iter()
        .filter_map(|body| sources.get(body.source).ok())
        .collect();
    let run = scene.as_ref().map(|scene| scene.run);
    let live_run = |live: &Live| live.orbit.map(|orbit| orbit.run);
    report.ready = !lives.is_empty()
        && lives.iter().all(|(live, _)| {
            live.frames > 0 && live.error.is_none() && (run.is_none() || live_run(live) == run)
        });
    report.set("bodies", inspector.bodies.len());
    report.set(
        "frames",
        lives.iter().map(|(live, _)| live.frames).sum::<u64>(),
    );
    report.set(
        "reconnects",
        lives
            .iter()
            .map(|(_, stats)| u64::from(stats.reconnections))
            .sum::<u64>(),
    );
    report.set(
        "runs",
        lives
            .iter()
            .filter_map(|(live, _)| live_run(live))
            .collect::<Vec<_>>(),
    );
    report.set("restarts", inspector.restarts);
    report.set("listings", inspector.listings);
    report.set("decode_errors", inspector.decode_errors);
    if let Some(body) = inspector.bodies.get(inspector.selected) {
        report.set("selected", body.name.clone());
    }
}
