//! A race of hundreds: the server streams every racer's position as a JSON `pos` event, 300
//! racers at 30 Hz by default (9,000 events a second), and each sprite glides towards its latest
//! position. The HUD shows events per second, the frame time and a frame-time graph, so you can
//! see that the plugin keeps up without frame hitches. The source decodes `pos` into a
//! `Position` on the IO thread (`with_json`), so the game reads ready values with a plain
//! `MessageReader<SseJson<Position>>`; the HUD shows what the main thread spends per frame on
//! the stream (the plugin's receive step and the game's reading). `SWARM_DECODE=main` decodes
//! on the main thread instead, from the raw `SseMessage`s, for comparison.
//!
//! ```text
//! cargo run --release --features games --example swarm [-- --url 'http://host/swarm?racers=500&hz=60']
//! ```

#[path = "support/game.rs"]
mod game;
#[path = "support/game_server.rs"]
mod game_server;
#[path = "support/loopback.rs"]
mod loopback;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bevy::diagnostic::{Diagnostic, DiagnosticPath, DiagnosticsStore};
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use game::{BRIGHT, DIM, Fonts, GameArgs, PANEL, Report, Watched};
use game_server::Position;

/// Frame times kept for the graph.
const GRAPH_FRAMES: usize = 240;

fn main() -> AppExit {
    let args = GameArgs::from_env("swarm");
    let url = game_server::url_or_start(args.url.as_deref(), "/swarm?racers=300&hz=30");
    let mut app = game::game_app("bevy_eventsource: swarm race", &args);
    // The HUD's network figures come from the plugin's Bevy diagnostics.
    let decode_on_main = std::env::var("SWARM_DECODE").is_ok_and(|where_| where_ == "main");
    app.add_plugins(SseDiagnosticsPlugin::default())
        .add_message::<SseJson<Position>>()
        .insert_resource(Race {
            url,
            decode_on_main,
            ..default()
        })
        .add_systems(Startup, setup)
        .add_systems(
            Update,
            (
                (
                    read_positions.run_if(|race: Res<Race>| !race.decode_on_main),
                    read_and_decode_positions.run_if(|race: Res<Race>| race.decode_on_main),
                ),
                glide,
                measure,
                draw_track_and_graph,
                update_hud,
            )
                .chain(),
        );
    app.run()
}

#[derive(Resource, Default)]
struct Race {
    url: String,
    /// `SWARM_DECODE=main`: parse the raw messages in the game instead.
    decode_on_main: bool,
    source: Option<Entity>,
    /// Per racer ID: its entity, latest position and distance.
    racers: Vec<Option<Racer>>,
    events: u64,
    malformed: u64,
    /// Events and frames in the current one-second window.
    window_events: u64,
    window_time: f32,
    window_worst: f32,
    /// The game's reading of the stream (`read_positions`) in the current window.
    window_read: Duration,
    window_frames: u32,
    read_avg_us: f64,
    events_per_second: f64,
    worst_frame_ms: f32,
    frame_times: VecDeque<f32>,
    streaming_for: f32,
}

#[derive(Clone, Copy)]
struct Racer {
    entity: Entity,
    target: Vec2,
    distance: f32,
}

#[derive(Component)]
struct RacerSprite;

#[derive(Component)]
struct Hud;

#[derive(Component)]
struct Leaders;

fn setup(
    mut commands: Commands,
    fonts: Res<Fonts>,
    mut race: ResMut<Race>,
    mut watched: ResMut<Watched>,
) {
    let source = EventSource::new(race.url.clone());
    let source = if race.decode_on_main {
        source
    } else {
        // Decoded by the IO task: the game gets ready `Position`s.
        source.with_json::<Position>("pos")
    };
    race.source = Some(commands.spawn(source).id());
    watched.source = race.source;

    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            left: px(14),
            top: px(10),
            padding: UiRect::all(px(10)),
            flex_direction: FlexDirection::Column,
            row_gap: px(4),
            border_radius: BorderRadius::all(px(10)),
            ..default()
        },
        BackgroundColor(PANEL),
        children![
            (Text::new("Swarm race"), fonts.bold(30.0), TextColor(BRIGHT)),
            (
                Text::new(race.url.clone()),
                fonts.text(14.0),
                TextColor(DIM)
            ),
            (Hud, Text::new(""), fonts.text(17.0), TextColor(BRIGHT)),
        ],
    ));
    commands.spawn((
        Text::new("frame time, last 240 frames (0–50 ms; green: 60 fps)"),
        fonts.text(13.0),
        TextColor(DIM),
        Node {
            position_type: PositionType::Absolute,
            left: px(24),
            bottom: px(124),
            ..default()
        },
    ));
    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            right: px(24),
            top: px(80),
            width: px(190),
            padding: UiRect::all(px(12)),
            flex_direction: FlexDirection::Column,
            border_radius: BorderRadius::all(px(10)),
            ..default()
        },
        BackgroundColor(PANEL),
        children![
            (Text::new("Leaders"), fonts.bold(18.0), TextColor(BRIGHT)),
            (Leaders, Text::new(""), fonts.text(16.0), TextColor(BRIGHT)),
        ],
    ));
}

fn racer_color(id: usize) -> Color {
    Color::hsl((id as f32 * 137.508) % 360.0, 0.75, 0.62)
}

/// Reads every `pos` value of the frame (decoded by the IO task) and spawns racers the first
/// time they appear.
fn read_positions(
    mut positions: MessageReader<SseJson<Position>>,
    mut errors: MessageReader<SseErrored>,
    mut commands: Commands,
    mut race: ResMut<Race>,
    assets: Res<AssetServer>,
) {
    let started = Instant::now();
    for SseJson { value, .. } in positions.read() {
        place(&mut race, &mut commands, &assets, value);
    }
    // A `pos` the IO task could not decode.
    race.malformed += errors
        .read()
        .filter(|errored| matches!(errored.error, SseError::Decode { .. }))
        .count() as u64;
    race.window_read += started.elapsed();
}

/// `SWARM_DECODE=main`: the same from the raw messages, decoded here on the main thread.
fn read_and_decode_positions(
    mut messages: MessageReader<SseMessage>,
    mut commands: Commands,
    mut race: ResMut<Race>,
    assets: Res<AssetServer>,
) {
    let started = Instant::now();
    for message in messages.read() {
        match serde_json::from_str::<Position>(message.data()) {
            Ok(position) => place(&mut race, &mut commands, &assets, &position),
            Err(_) => race.malformed += 1,
        }
    }
    race.window_read += started.elapsed();
}

fn place(race: &mut Race, commands: &mut Commands, assets: &AssetServer, position: &Position) {
    race.events += 1;
    race.window_events += 1;
    let id = position.id;
    if id >= 100_000 {
        race.malformed += 1;
        return;
    }
    let (target, distance) = (Vec2::new(position.x, position.y), position.d);
    if race.racers.len() <= id {
        race.racers.resize(id + 1, None);
    }
    match &mut race.racers[id] {
        Some(racer) => {
            racer.target = target;
            racer.distance = distance;
        }
        slot @ None => {
            let entity = commands
                .spawn((
                    RacerSprite,
                    Sprite {
                        image: assets.load("sprites/blip.png"),
                        color: racer_color(id),
                        custom_size: Some(Vec2::splat(22.0)),
                        ..default()
                    },
                    Transform::from_translation(target.extend(id as f32 * 1e-4)),
                ))
                .id();
            *slot = Some(Racer {
                entity,
                target,
                distance,
            });
        }
    }
}

/// Sprites move a fixed share of the way to their latest position each frame, whatever the
/// frame rate, so 30 Hz updates look smooth at 60+ frames per second.
fn glide(time: Res<Time>, race: Res<Race>, mut sprites: Query<&mut Transform, With<RacerSprite>>) {
    let follow = 1.0 - (-time.delta_secs() * 18.0).exp();
    for racer in race.racers.iter().flatten() {
        if let Ok(mut transform) = sprites.get_mut(racer.entity) {
            let position = transform.translation.truncate();
            let next = position + (racer.target - position) * follow;
            transform.translation = next.extend(transform.translation.z);
        }
    }
}

fn measure(time: Res<Time>, mut race: ResMut<Race>, states: Query<&ReadyState>) {
    let dt = time.delta_secs();
    let open = race
        .source
        .and_then(|source| states.get(source).ok())
        .is_some_and(|state| *state == ReadyState::Open);
    if open {
        race.streaming_for += dt;
    }
    race.frame_times.push_back(dt * 1000.0);
    if race.frame_times.len() > GRAPH_FRAMES {
        race.frame_times.pop_front();
    }
    race.window_time += dt;
    race.window_frames += 1;
    race.window_worst = race.window_worst.max(dt * 1000.0);
    if race.window_time >= 1.0 {
        race.read_avg_us =
            race.window_read.as_secs_f64() * 1e6 / f64::from(race.window_frames.max(1));
        race.window_read = Duration::ZERO;
        race.window_frames = 0;
        race.events_per_second = race.window_events as f64 / f64::from(race.window_time);
        race.worst_frame_ms = race.window_worst;
        race.window_events = 0;
        race.window_time = 0.0;
        race.window_worst = 0.0;
    }
}

fn draw_track_and_graph(mut gizmos: Gizmos, race: Res<Race>) {
    let track = Color::srgba(1.0, 1.0, 1.0, 0.10);
    for lane in [0.78, 1.17] {
        gizmos.ellipse_2d(Isometry2d::IDENTITY, Vec2::new(470.0, 215.0) * lane, track);
    }
    // Frame-time graph, bottom left: 0–50 ms over 240 frames, a line at 16.7 ms.
    let origin = Vec2::new(-616.0, -340.0);
    let size = Vec2::new(360.0, 100.0);
    let y_of = |ms: f32| origin.y + (ms / 50.0).min(1.0) * size.y;
    gizmos.rect_2d(
        Isometry2d::from_translation(origin + size / 2.0),
        size,
        Color::srgba(1.0, 1.0, 1.0, 0.25),
    );
    gizmos.line_2d(
        Vec2::new(origin.x, y_of(1000.0 / 60.0)),
        Vec2::new(origin.x + size.x, y_of(1000.0 / 60.0)),
        Color::srgba(0.3, 0.9, 0.5, 0.5),
    );
    let step = size.x / GRAPH_FRAMES as f32;
    gizmos.linestrip_2d(
        race.frame_times
            .iter()
            .enumerate()
            .map(|(i, &ms)| Vec2::new(origin.x + i as f32 * step, y_of(ms))),
        Color::srgb(1.0, 0.8, 0.3),
    );
}

fn update_hud(
    race: Res<Race>,
    diagnostics: Res<DiagnosticsStore>,
    mut hud: Query<&mut Text, (With<Hud>, Without<Leaders>)>,
    mut leaders: Query<&mut Text, (With<Leaders>, Without<Hud>)>,
    mut report: ResMut<Report>,
) {
    let racers = race.racers.iter().flatten().count();
    let frame_ms = race.frame_times.back().copied().unwrap_or(0.0);
    // The plugin's diagnostics: rates smoothed over the last frames, the receive step's cost
    // (moving the events from the IO task into messages) averaged and at worst.
    let smoothed = |path: &DiagnosticPath| {
        diagnostics
            .get(path)
            .and_then(Diagnostic::smoothed)
            .unwrap_or(0.0)
    };
    let messages_per_second = smoothed(&SseDiagnosticsPlugin::MESSAGES_PER_SECOND);
    let kib_per_second = smoothed(&SseDiagnosticsPlugin::BYTES_PER_SECOND) / 1024.0;
    let reconnections = smoothed(&SseDiagnosticsPlugin::RECONNECTIONS);
    let receive = diagnostics.get(&SseDiagnosticsPlugin::RECEIVE_TIME);
    let receive_avg_us = receive.and_then(Diagnostic::average).unwrap_or(0.0) * 1000.0;
    let receive_worst_us = receive
        .map(|receive| receive.values().copied().fold(0.0, f64::max))
        .unwrap_or(0.0)
        * 1000.0;
    if let Ok(mut text) = hud.single_mut() {
        text.0 = format!(
            "racers {racers}   events/s {messages_per_second:.0}   {kib_per_second:.0} KiB/s   total {}\n\
             frame {frame_ms:.1} ms   worst in last second {:.1} ms\n\
             SSE receive {receive_avg_us:.0} µs/frame, worst {receive_worst_us:.0} µs   reconnections {reconnections:.0}\n\
             game reads the stream in {:.0} µs/frame (JSON decoded on the {} thread)",
            race.events,
            race.worst_frame_ms,
            race.read_avg_us,
            if race.decode_on_main { "main" } else { "IO" },
        );
    }
    let mut order: Vec<(usize, f32)> = race
        .racers
        .iter()
        .enumerate()
        .filter_map(|(id, racer)| racer.map(|racer| (id, racer.distance)))
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1));
    if let Ok(mut text) = leaders.single_mut() {
        text.0 = order
            .iter()
            .take(5)
            .enumerate()
            .map(|(place, (id, distance))| {
                let lap = (distance / std::f32::consts::TAU).floor() + 1.0;
                format!("{}. #{id:<4} lap {lap}", place + 1)
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    report.set("events", race.events);
    report.set("malformed", race.malformed);
    report.set("racers", racers);
    report.set("events_per_second", race.events_per_second.round());
    report.set("worst_frame_ms", f64::from(race.worst_frame_ms));
    report.set("sse_messages_per_second", messages_per_second.round());
    report.set("sse_kib_per_second", kib_per_second.round());
    report.set("receive_avg_us", receive_avg_us.round());
    report.set("receive_worst_us", receive_worst_us.round());
    report.set("read_avg_us", race.read_avg_us.round());
    report.set("decode_on_main", race.decode_on_main);
    report.ready = racers > 0 && race.streaming_for >= 3.0 && race.events_per_second > 0.0;
}
