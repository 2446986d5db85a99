//! What the example games share: the command line, the window, the fonts, the HUD colours and the
//! headless smoke-test harness that `tests/games.rs` drives.
//!
//! ```text
//! --url URL                 connect there instead of the embedded demo server; a path alone
//!                           (`/swarm?racers=3000`) stays on the embedded server
//! --exit-after-frames N     smoke test: once N frames ran and the game has something to show,
//!                           take the screenshot (if asked), print a JSON report and exit 0;
//!                           exit 1 if it has nothing to show after 90 s
//! --screenshot PATH         where the smoke test saves its PNG
//! --keys KEY@WHEN,...       press keys in order, as a player would: C, O, R, M, Space, Up or
//!                           Down, at a frame number, or `ready` for the first frame the game
//!                           has something to show (a finished answer, say)
//! ```
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bevy::input::ButtonState;
use bevy::input::keyboard::{Key, KeyboardInput, NativeKey};
use bevy::prelude::*;
use bevy::render::view::window::screenshot::{Screenshot, ScreenshotCaptured, save_to_disk};
use bevy::window::{PrimaryWindow, WindowResolution};
use bevy_eventsource::prelude::*;
use serde_json::{Map, Value};

/// The window's size in logical pixels; the games lay themselves out for it.
pub const WIDTH: f32 = 1280.0;
/// See [`WIDTH`].
pub const HEIGHT: f32 = 720.0;

/// How long a smoke run may wait for the game to have something to show.
const SMOKE_DEADLINE: Duration = Duration::from_secs(90);

/// The background and the HUD palette.
pub const BACKGROUND: Color = Color::srgb(0.07, 0.08, 0.11);
/// Panels.
pub const PANEL: Color = Color::srgba(0.13, 0.15, 0.20, 0.92);
/// Secondary text.
pub const DIM: Color = Color::srgb(0.60, 0.64, 0.72);
/// Primary text.
pub const BRIGHT: Color = Color::srgb(0.93, 0.94, 0.97);

/// The parsed command line.
#[derive(Resource, Clone, Debug, Default)]
pub struct GameArgs {
    /// `--url`, if given.
    pub url: Option<String>,
    /// `--exit-after-frames`.
    pub exit_after_frames: Option<u32>,
    /// `--screenshot`.
    pub screenshot: Option<PathBuf>,
    /// `--keys`.
    pub keys: Vec<(KeyCode, When)>,
}

impl GameArgs {
    /// Parses `std::env::args`, or prints the usage and exits with status 2.
    pub fn from_env(game: &str) -> Self {
        match Self::parse(std::env::args().skip(1)) {
            Ok(args) => args,
            Err(error) => {
                eprintln!("{game}: {error}");
                eprintln!(
                    "usage: {game} [--url URL] [--exit-after-frames N] [--screenshot PATH] \
                     [--keys KEY@FRAME,...]"
                );
                std::process::exit(2);
            }
        }
    }

    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Self::default();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--url" => parsed.url = Some(value("--url")?),
                "--exit-after-frames" => {
                    let n = value("--exit-after-frames")?;
                    parsed.exit_after_frames =
                        Some(n.parse().map_err(|_| format!("not a frame count: {n}"))?);
                }
                "--screenshot" => parsed.screenshot = Some(value("--screenshot")?.into()),
                "--keys" => parsed.keys = parse_keys(&value("--keys")?)?,
                other => return Err(format!("unknown argument: {other}")),
            }
        }
        Ok(parsed)
    }
}

/// When a scripted key is pressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// At this frame (or the first frame after the keys before it).
    Frame(u32),
    /// At the first frame the game reports that it is ready.
    Ready,
}

fn parse_keys(list: &str) -> Result<Vec<(KeyCode, When)>, String> {
    list.split(',')
        .map(|item| {
            let (key, frame) = item
                .split_once('@')
                .ok_or(format!("expected KEY@FRAME, got {item:?}"))?;
            let key = match key {
                "C" => KeyCode::KeyC,
                "O" => KeyCode::KeyO,
                "R" => KeyCode::KeyR,
                "M" => KeyCode::KeyM,
                "Space" => KeyCode::Space,
                "Up" => KeyCode::ArrowUp,
                "Down" => KeyCode::ArrowDown,
                other => return Err(format!("unknown key {other:?}")),
            };
            let when = match frame {
                "ready" => When::Ready,
                frame => When::Frame(
                    frame
                        .parse()
                        .map_err(|_| format!("not a frame number or `ready`: {frame:?}"))?,
                ),
            };
            Ok((key, when))
        })
        .collect()
}

/// The fonts under `assets/fonts`.
#[derive(Resource, Clone)]
pub struct Fonts {
    /// DejaVu Sans Mono.
    pub regular: Handle<Font>,
    /// DejaVu Sans Mono Bold.
    pub bold: Handle<Font>,
}

impl Fonts {
    /// A regular text style.
    pub fn text(&self, size: f32) -> TextFont {
        TextFont::from_font_size(size).with_font(self.regular.clone())
    }

    /// A bold text style.
    pub fn bold(&self, size: f32) -> TextFont {
        TextFont::from_font_size(size).with_font(self.bold.clone())
    }
}

/// What the game tells the smoke test: `ready` once there is something worth a screenshot, and
/// the numbers printed as JSON when the run ends.
#[derive(Resource, Default, Debug)]
pub struct Report {
    /// The game has something to show.
    pub ready: bool,
    /// The game's own numbers.
    pub fields: Map<String, Value>,
}

impl Report {
    /// Sets one number or string of the report.
    pub fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.fields.insert(name.to_owned(), value.into());
    }
}

/// Builds the app every game starts from: the window, Bevy's default plugins, the SSE plugin,
/// the fonts, a 2D camera and, with `--exit-after-frames`, the smoke-test harness.
pub fn game_app(title: &str, args: &GameArgs) -> App {
    let mut app = App::new();
    app.add_plugins((
        DefaultPlugins
            .set(AssetPlugin {
                // The crate's assets/ wherever the binary is started from.
                file_path: concat!(env!("CARGO_MANIFEST_DIR"), "/assets").to_owned(),
                ..default()
            })
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: title.to_owned(),
                    resolution: WindowResolution::new(WIDTH as u32, HEIGHT as u32)
                        .with_scale_factor_override(1.0),
                    resizable: false,
                    ..default()
                }),
                ..default()
            }),
        SsePlugin::default(),
    ))
    .insert_resource(ClearColor(BACKGROUND))
    .insert_resource(args.clone())
    .init_resource::<Report>()
    .init_resource::<Watched>()
    .add_systems(PreStartup, setup_common)
    .add_systems(Startup, spawn_badge)
    .add_systems(PostUpdate, show_badge);
    if let Some(after) = args.exit_after_frames {
        app.insert_resource(Smoke {
            after,
            frame: 0,
            started: Instant::now(),
            screenshot: args.screenshot.clone(),
            requested: false,
            captured: false,
            keys: args
                .keys
                .iter()
                .map(|&(key, when)| (key, when, None))
                .collect(),
        })
        .add_systems(First, press_scripted_keys)
        .add_systems(Last, smoke_test);
    }
    app
}

fn setup_common(mut commands: Commands, assets: Res<AssetServer>) {
    commands.insert_resource(Fonts {
        regular: assets.load("fonts/DejaVuSansMono.ttf"),
        bold: assets.load("fonts/DejaVuSansMono-Bold.ttf"),
    });
    commands.spawn(Camera2d);
}

#[derive(Resource)]
struct Smoke {
    after: u32,
    frame: u32,
    started: Instant,
    screenshot: Option<PathBuf>,
    requested: bool,
    captured: bool,
    /// The scripted keys, in order, with the frame each was pressed at.
    keys: Vec<(KeyCode, When, Option<u32>)>,
}

/// Presses the `--keys` one after the other, each when its time comes, and releases each a frame
/// later, through the same `KeyboardInput` messages the window sends.
fn press_scripted_keys(
    mut smoke: ResMut<Smoke>,
    report: Res<Report>,
    window: Query<Entity, With<PrimaryWindow>>,
    mut input: MessageWriter<KeyboardInput>,
) {
    let Ok(window) = window.single() else {
        return;
    };
    let frame = smoke.frame;
    let message = |key_code, state| KeyboardInput {
        key_code,
        logical_key: Key::Unidentified(NativeKey::Unidentified),
        state,
        text: None,
        repeat: false,
        window,
    };
    for (key, _, pressed_at) in &smoke.keys {
        if *pressed_at == Some(frame.wrapping_sub(1)) {
            input.write(message(*key, ButtonState::Released));
        }
    }
    let next = smoke
        .keys
        .iter_mut()
        .find(|(_, _, pressed)| pressed.is_none());
    if let Some((key, when, pressed_at)) = next {
        let due = match when {
            When::Frame(at) => frame >= *at,
            When::Ready => report.ready,
        };
        if due {
            input.write(message(*key, ButtonState::Pressed));
            *pressed_at = Some(frame);
        }
    }
}

fn smoke_test(
    mut commands: Commands,
    mut smoke: ResMut<Smoke>,
    report: Res<Report>,
    mut exit: MessageWriter<AppExit>,
) {
    smoke.frame += 1;
    let print = |outcome: &str| {
        let mut fields = report.fields.clone();
        fields.insert("outcome".into(), outcome.into());
        fields.insert("frames".into(), smoke.frame.into());
        fields.insert("ready".into(), report.ready.into());
        println!("{}", Value::Object(fields));
    };
    if smoke.captured || (smoke.requested && smoke.screenshot.is_none()) {
        print("ok");
        exit.write(AppExit::Success);
        return;
    }
    if smoke.requested {
        return;
    }
    let keys_done = smoke
        .keys
        .iter()
        .all(|(_, _, pressed)| pressed.is_some_and(|at| smoke.frame > at + 1));
    if smoke.frame >= smoke.after && report.ready && keys_done {
        smoke.requested = true;
        if let Some(path) = smoke.screenshot.clone() {
            commands
                .spawn(Screenshot::primary_window())
                .observe(save_to_disk(path))
                .observe(|_: On<ScreenshotCaptured>, mut smoke: ResMut<Smoke>| {
                    smoke.captured = true;
                });
        }
    } else if smoke.started.elapsed() > SMOKE_DEADLINE {
        print("nothing to show before the deadline");
        exit.write(AppExit::error());
    }
}

/// The source the connection badge (top right) shows, and a note after its state.
#[derive(Resource, Default)]
pub struct Watched {
    /// The source; a despawned one shows as closed.
    pub source: Option<Entity>,
    /// Shown after the state, e.g. `in 400 ms`.
    pub note: Option<String>,
}

#[derive(Component)]
struct Badge;

#[derive(Component)]
struct BadgeLabel;

fn spawn_badge(mut commands: Commands, fonts: Res<Fonts>) {
    commands.spawn((
        Badge,
        Node {
            position_type: PositionType::Absolute,
            right: px(24),
            top: px(22),
            padding: UiRect::axes(px(16), px(8)),
            border_radius: BorderRadius::all(px(18)),
            ..default()
        },
        BackgroundColor(state_badge(ReadyState::Initial).1),
        children![(
            BadgeLabel,
            Text::new("INITIAL"),
            fonts.bold(20.0),
            TextColor(Color::BLACK)
        )],
    ));
}

/// Paints the badge with the watched source's `ReadyState`.
fn show_badge(
    watched: Res<Watched>,
    states: Query<&ReadyState>,
    mut badge: Query<&mut BackgroundColor, With<Badge>>,
    mut label: Query<&mut Text, With<BadgeLabel>>,
) {
    let Some(source) = watched.source else {
        return;
    };
    let state = states.get(source).copied().unwrap_or(ReadyState::Closed);
    let (name, color) = state_badge(state);
    for mut background in &mut badge {
        background.0 = color;
    }
    for mut text in &mut label {
        text.0 = match &watched.note {
            Some(note) => format!("{name} {note}"),
            None => name.to_owned(),
        };
    }
}

/// The badge text and colour for a connection state.
fn state_badge(state: ReadyState) -> (&'static str, Color) {
    match state {
        ReadyState::Initial => ("INITIAL", Color::srgb(0.45, 0.47, 0.52)),
        ReadyState::Connecting => ("CONNECTING", Color::srgb(0.95, 0.70, 0.20)),
        ReadyState::Open => ("OPEN", Color::srgb(0.25, 0.78, 0.42)),
        ReadyState::Retrying => ("RETRYING", Color::srgb(0.92, 0.45, 0.18)),
        ReadyState::Closing => ("CLOSING", Color::srgb(0.70, 0.35, 0.35)),
        ReadyState::Closed => ("CLOSED", Color::srgb(0.85, 0.25, 0.28)),
    }
}
