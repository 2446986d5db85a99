//! A live lobby feed: named SSE events (`join`, `leave`, `chat`) routed with `On`/`Off` handlers
//! (`on_sse_event` / `off_sse_event`) to different effects, a connection badge driven by the
//! source's `ReadyState`, and keys to close (C), reopen (O) and force a reconnection (R), or to
//! mute the chat handler (M, `Off`/`On`). The embedded demo server hangs up every 8–20 events, so
//! you watch the source reconnect and resume from `Last-Event-ID`: the counters show that no
//! message is lost or repeated.
//!
//! ```text
//! cargo run --release --features games --example chat_ticker [-- --url http://host/chat]
//! ```

#[path = "support/game.rs"]
mod game;
#[path = "support/game_server.rs"]
mod game_server;
#[path = "support/loopback.rs"]
mod loopback;

use std::collections::HashMap;

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use game::{BRIGHT, DIM, Fonts, GameArgs, PANEL, Report, Watched};
use serde_json::Value;

/// How many chat lines the ticker keeps.
const TICKER_LINES: usize = 19;
/// Where the lobby's avatars stand.
const LOBBY_CENTER: Vec2 = Vec2::new(300.0, 10.0);
const LOBBY_RADIUS: f32 = 190.0;
const SLOTS: usize = 12;

fn main() -> AppExit {
    let args = GameArgs::from_env("chat_ticker");
    let url = game_server::url_or_start(args.url.as_deref(), "/chat");
    let mut app = game::game_app("bevy_eventsource: lobby feed", &args);
    app.add_plugins(Lobby { url })
        .add_systems(Startup, setup.after(join_lobby))
        .add_observer(dress_avatar)
        .add_systems(
            Update,
            (
                show_ticker_lines,
                show_state,
                keys,
                animate_avatars,
                update_hud,
            )
                .chain()
                .after(track_state),
        );
    app.run()
}

/// The lobby's logic, with no window and no asset: the feed, its handlers, the avatars as data
/// and the counters. What `main` adds on top only shows it; the tests at the end of this file
/// run this plugin alone, on `bevy_eventsource::testing`.
struct Lobby {
    url: String,
}

impl Plugin for Lobby {
    fn build(&self, app: &mut App) {
        app.insert_resource(Feed {
            url: self.url.clone(),
            ..default()
        })
        .add_message::<TickerLine>()
        .add_systems(Startup, join_lobby)
        .add_systems(Update, (check_sequence, track_state).chain());
    }
}

/// A line for the ticker, written by the handlers and shown by the view.
#[derive(Message)]
struct TickerLine {
    id: String,
    spans: Vec<(String, Color)>,
}

#[derive(Resource, Default)]
struct Feed {
    url: String,
    source: Option<Entity>,
    events: u64,
    expected: Option<u64>,
    lost: u64,
    repeated: u64,
    opens: u64,
    closes: u64,
    muted: bool,
    /// `chat` events: seen by the reader, shown by the handler, arrived while muted.
    chat_seen: u64,
    chat_shown: u64,
    chat_muted: u64,
    lobby: HashMap<String, Entity>,
}

#[derive(Component)]
struct Ticker;

#[derive(Component)]
struct StatusLine;

/// An avatar in the lobby: grows in when its user joins, shrinks away when they leave, and
/// bounces when they chat.
#[derive(Component)]
struct Avatar {
    user: String,
    slot: usize,
    age: f32,
    bounce: f32,
    leaving: Option<f32>,
}

fn join_lobby(mut commands: Commands, mut feed: ResMut<Feed>) {
    let source = commands
        .spawn(EventSource::new(feed.url.clone()))
        .on_sse_event("join", on_join)
        .on_sse_event("leave", on_leave)
        .on_sse_event("chat", on_chat)
        .id();
    feed.source = Some(source);
}

fn setup(
    mut commands: Commands,
    fonts: Res<Fonts>,
    feed: Res<Feed>,
    mut watched: ResMut<Watched>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
) {
    watched.source = feed.source;

    // Title.
    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            left: px(24),
            top: px(18),
            flex_direction: FlexDirection::Column,
            ..default()
        },
        children![
            (Text::new("Lobby feed"), fonts.bold(30.0), TextColor(BRIGHT)),
            (
                Text::new(feed.url.clone()),
                fonts.text(14.0),
                TextColor(DIM)
            ),
        ],
    ));

    // Connection badge.

    // The ticker panel.
    commands.spawn((
        Ticker,
        Node {
            position_type: PositionType::Absolute,
            left: px(24),
            top: px(96),
            width: px(560),
            height: px(540),
            padding: UiRect::all(px(14)),
            flex_direction: FlexDirection::Column,
            justify_content: JustifyContent::FlexEnd,
            row_gap: px(6),
            border_radius: BorderRadius::all(px(10)),
            overflow: Overflow::clip(),
            ..default()
        },
        BackgroundColor(PANEL),
    ));

    // Help and counters.
    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            left: px(24),
            bottom: px(16),
            flex_direction: FlexDirection::Column,
            row_gap: px(4),
            ..default()
        },
        children![
            (
                StatusLine,
                Text::new(""),
                fonts.text(16.0),
                TextColor(BRIGHT)
            ),
            (
                Text::new(
                    "C close   O reopen   R reconnect now   M mute/unmute chat (Off/On handler)"
                ),
                fonts.text(14.0),
                TextColor(DIM)
            ),
        ],
    ));

    // The lobby floor.
    commands.spawn((
        Mesh2d(meshes.add(Circle::new(LOBBY_RADIUS + 75.0))),
        MeshMaterial2d(materials.add(Color::srgb(0.11, 0.12, 0.17))),
        Transform::from_translation(LOBBY_CENTER.extend(-1.0)),
    ));
    commands.spawn((
        Text2d::new("lobby"),
        fonts.bold(22.0),
        TextColor(DIM),
        Transform::from_translation(LOBBY_CENTER.extend(-0.5)),
    ));
}

fn user_color(user: &str) -> Color {
    let hash = user.bytes().fold(7u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    });
    Color::hsl((hash % 360) as f32, 0.65, 0.62)
}

fn user_of(message: &SseMessage) -> String {
    serde_json::from_str::<Value>(message.data())
        .ok()
        .and_then(|data| data["user"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn show_ticker_lines(
    mut lines: MessageReader<TickerLine>,
    mut commands: Commands,
    fonts: Res<Fonts>,
    ticker: Query<(Entity, Option<&Children>), With<Ticker>>,
) {
    let Ok((panel, shown)) = ticker.single() else {
        return;
    };
    let mut shown: Vec<Entity> = shown.map(|c| c.to_vec()).unwrap_or_default();
    for TickerLine { id, spans } in lines.read() {
        if shown.len() >= TICKER_LINES {
            for old in shown.drain(..=shown.len() - TICKER_LINES) {
                commands.entity(old).despawn();
            }
        }
        let line = commands
            .spawn((
                Text::new(format!("#{id:<5} ")),
                fonts.text(17.0),
                TextColor(DIM),
            ))
            .with_children(|line| {
                for (text, color) in spans {
                    line.spawn((
                        TextSpan::new(text.clone()),
                        fonts.text(17.0),
                        TextColor(*color),
                    ));
                }
            })
            .id();
        commands.entity(panel).add_child(line);
        shown.push(line);
    }
}

fn on_join(
    In(message): In<SseMessage>,
    mut commands: Commands,
    mut feed: ResMut<Feed>,
    mut ticker: MessageWriter<TickerLine>,
    avatars: Query<&Avatar>,
) {
    let user = user_of(&message);
    ticker.write(TickerLine {
        id: message.last_event_id().to_owned(),
        spans: vec![
            (format!("+ {user}"), user_color(&user)),
            (" joined the lobby".into(), Color::srgb(0.45, 0.85, 0.55)),
        ],
    });
    if feed.lobby.contains_key(&user) {
        return;
    }
    let taken: Vec<usize> = avatars
        .iter()
        .filter(|avatar| avatar.leaving.is_none())
        .map(|avatar| avatar.slot)
        .collect();
    let slot = (0..SLOTS).find(|slot| !taken.contains(slot)).unwrap_or(0);
    let angle = slot as f32 / SLOTS as f32 * std::f32::consts::TAU;
    let position = LOBBY_CENTER + Vec2::new(angle.cos(), angle.sin()) * LOBBY_RADIUS;
    let avatar = commands
        .spawn((
            Avatar {
                user: user.clone(),
                slot,
                age: 0.0,
                bounce: 0.0,
                leaving: None,
            },
            Transform::from_translation(position.extend(0.0)).with_scale(Vec3::ZERO),
        ))
        .id();
    feed.lobby.insert(user, avatar);
}

/// The view of a new avatar: its sprite in the user's color and its name.
fn dress_avatar(
    add: On<Add, Avatar>,
    avatars: Query<&Avatar>,
    mut commands: Commands,
    fonts: Res<Fonts>,
    assets: Res<AssetServer>,
) {
    let Ok(avatar) = avatars.get(add.entity) else {
        return;
    };
    commands.entity(add.entity).insert((
        Sprite {
            image: assets.load("sprites/avatar.png"),
            color: user_color(&avatar.user),
            custom_size: Some(Vec2::splat(72.0)),
            ..default()
        },
        children![(
            Text2d::new(avatar.user.clone()),
            fonts.bold(18.0),
            TextColor(BRIGHT),
            Transform::from_xyz(0.0, -54.0, 0.1),
        )],
    ));
}

fn on_leave(
    In(message): In<SseMessage>,
    mut feed: ResMut<Feed>,
    mut ticker: MessageWriter<TickerLine>,
    mut avatars: Query<&mut Avatar>,
) {
    let user = user_of(&message);
    ticker.write(TickerLine {
        id: message.last_event_id().to_owned(),
        spans: vec![
            (format!("- {user}"), user_color(&user)),
            (" left".into(), Color::srgb(0.90, 0.45, 0.45)),
        ],
    });
    if let Some(entity) = feed.lobby.remove(&user)
        && let Ok(mut avatar) = avatars.get_mut(entity)
    {
        avatar.leaving = Some(0.0);
    }
}

fn on_chat(
    In(message): In<SseMessage>,
    mut feed: ResMut<Feed>,
    mut ticker: MessageWriter<TickerLine>,
    mut avatars: Query<&mut Avatar>,
) {
    feed.chat_shown += 1;
    let data: Value = serde_json::from_str(message.data()).unwrap_or_default();
    let user = data["user"].as_str().unwrap_or("?");
    let text = data["text"].as_str().unwrap_or("");
    ticker.write(TickerLine {
        id: message.last_event_id().to_owned(),
        spans: vec![
            (user.to_owned(), user_color(user)),
            (format!(": {text}"), BRIGHT),
        ],
    });
    if let Some(&entity) = feed.lobby.get(user)
        && let Ok(mut avatar) = avatars.get_mut(entity)
    {
        avatar.bounce = 1.0;
    }
}

/// Every message, whatever its handler: event IDs must follow each other with no gap and no
/// repeat, across the server's drops and the player's close/reopen/reconnect.
fn check_sequence(mut messages: MessageReader<SseMessage>, mut feed: ResMut<Feed>) {
    for message in messages.read() {
        feed.events += 1;
        if message.event_type() == "chat" {
            feed.chat_seen += 1;
            // The handler ran for it, unless the player had muted it with `Off`.
            if feed.muted {
                feed.chat_muted += 1;
            }
        }
        let Ok(id) = message.last_event_id().parse::<u64>() else {
            continue;
        };
        match feed.expected {
            Some(expected) if id < expected => feed.repeated += 1,
            Some(expected) if id > expected => feed.lost += id - expected,
            _ => {}
        }
        feed.expected = Some(id + 1);
    }
}

fn track_state(mut changes: MessageReader<SseStateChanged>, mut feed: ResMut<Feed>) {
    for change in changes.read() {
        match change.new {
            ReadyState::Open => feed.opens += 1,
            ReadyState::Closed => feed.closes += 1,
            _ => {}
        }
    }
}

/// The badge's note: when the next attempt starts, while retrying.
fn show_state(
    mut changes: MessageReader<SseStateChanged>,
    mut retries: MessageReader<SseRetrying>,
    mut watched: ResMut<Watched>,
) {
    for retry in retries.read() {
        watched.note = Some(format!("in {} ms", retry.delay.as_millis()));
    }
    for change in changes.read() {
        if matches!(change.new, ReadyState::Open | ReadyState::Closed) {
            watched.note = None;
        }
    }
}

fn keys(input: Res<ButtonInput<KeyCode>>, mut commands: Commands, mut feed: ResMut<Feed>) {
    let Some(source) = feed.source else {
        return;
    };
    let mut entity = commands.entity(source);
    if input.just_pressed(KeyCode::KeyC) {
        entity.close_event_source();
    }
    if input.just_pressed(KeyCode::KeyO) {
        entity.open_event_source();
    }
    if input.just_pressed(KeyCode::KeyR) {
        entity.reconnect_event_source();
    }
    if input.just_pressed(KeyCode::KeyM) {
        toggle_mute(&mut entity, &mut feed);
    }
}

/// Mutes the chat (BestHTTP's `Off("chat")`: the handler goes, the messages still arrive) or
/// unmutes it (`On("chat")`).
fn toggle_mute(source: &mut EntityCommands, feed: &mut Feed) {
    if feed.muted {
        source.on_sse_event("chat", on_chat);
    } else {
        source.off_sse_event("chat");
    }
    feed.muted = !feed.muted;
}

fn animate_avatars(
    time: Res<Time>,
    mut commands: Commands,
    mut avatars: Query<(Entity, &mut Avatar, &mut Transform, &mut Sprite)>,
) {
    let dt = time.delta_secs();
    for (entity, mut avatar, mut transform, mut sprite) in &mut avatars {
        avatar.age += dt;
        avatar.bounce = (avatar.bounce - dt * 3.0).max(0.0);
        let grow = (avatar.age * 4.0).min(1.0);
        let pop = 1.0 + 0.25 * (1.0 - grow) * (grow * std::f32::consts::PI).sin();
        let bounce = 1.0 + 0.18 * (avatar.bounce * std::f32::consts::PI).sin();
        let mut scale = grow * pop * bounce;
        if let Some(leaving) = avatar.leaving.as_mut() {
            *leaving += dt;
            let fade = (1.0 - *leaving * 2.0).max(0.0);
            scale *= fade;
            sprite.color.set_alpha(fade);
            if fade == 0.0 {
                commands.entity(entity).despawn();
                continue;
            }
        }
        transform.scale = Vec3::splat(scale);
    }
}

fn update_hud(
    feed: Res<Feed>,
    states: Query<&ReadyState>,
    mut status: Query<&mut Text, With<StatusLine>>,
    mut report: ResMut<Report>,
) {
    let state = feed
        .source
        .and_then(|source| states.get(source).ok())
        .copied()
        .unwrap_or_default();
    let reconnects = feed.opens.saturating_sub(1);
    if let Ok(mut text) = status.single_mut() {
        text.0 = format!(
            "events {}   last id {}   reconnects {}   lost {}   repeated {}   chat {}",
            feed.events,
            feed.expected
                .map_or("-".into(), |next| (next - 1).to_string()),
            reconnects,
            feed.lost,
            feed.repeated,
            if feed.muted { "muted" } else { "shown" },
        );
    }
    report.set("events", feed.events);
    report.set("lost", feed.lost);
    report.set("repeated", feed.repeated);
    report.set("reconnects", reconnects);
    report.set("closes", feed.closes);
    report.set("muted", feed.muted);
    report.set("chat_seen", feed.chat_seen);
    report.set("chat_shown", feed.chat_shown);
    report.set("chat_muted", feed.chat_muted);
    report.set("lobby", feed.lobby.len());
    report.ready = feed.events >= 30 && reconnects >= 2 && state == ReadyState::Open;
}

/// The lobby's logic on a scripted network (`bevy_eventsource::testing`): no window, no
/// socket, no sleep. `cargo test --features games --example chat_ticker`
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bevy_eventsource::testing::{SseTestAppExt, SseTestNetwork};

    use super::*;

    const URL: &str = "http://lobby.test/chat";

    fn lobby_app() -> (App, SseTestNetwork) {
        let mut app = App::new();
        app.add_plugins((
            MinimalPlugins,
            SsePlugin::default(),
            Lobby { url: URL.into() },
        ));
        let network = SseTestNetwork::install(&mut app);
        app.update(); // the source is spawned and connects
        (app, network)
    }

    /// Who stands in the lobby (not leaving), by slot.
    fn standing(app: &mut App) -> Vec<(usize, String)> {
        let mut avatars = app.world_mut().query::<&Avatar>();
        let mut standing: Vec<(usize, String)> = avatars
            .iter(app.world())
            .filter(|avatar| avatar.leaving.is_none())
            .map(|avatar| (avatar.slot, avatar.user.clone()))
            .collect();
        standing.sort();
        standing
    }

    #[test]
    fn a_join_brings_an_avatar_to_a_free_slot_and_a_leave_sends_it_away() {
        let (mut app, network) = lobby_app();
        network
            .connection(URL)
            .open()
            .event_with_id("join", "1", r#"{"user":"ada"}"#)
            .event_with_id("join", "2", r#"{"user":"bo"}"#)
            .event_with_id("join", "3", r#"{"user":"ada"}"#);
        app.update();
        assert_eq!(standing(&mut app), [(0, "ada".into()), (1, "bo".into())]);

        network
            .connection(URL)
            .event_with_id("leave", "4", r#"{"user":"ada"}"#)
            .event_with_id("join", "5", r#"{"user":"cy"}"#);
        app.update();
        // Ada's slot is free again, and Cy takes it.
        assert_eq!(standing(&mut app), [(0, "cy".into()), (1, "bo".into())]);
        let feed = app.world().resource::<Feed>();
        assert_eq!(feed.lobby.len(), 2);
        assert_eq!((feed.events, feed.lost, feed.repeated), (5, 0, 0));
    }

    #[test]
    fn chat_bounces_the_speaker_and_muting_keeps_counting() {
        let (mut app, network) = lobby_app();
        network
            .connection(URL)
            .open()
            .event_with_id("join", "1", r#"{"user":"ada"}"#)
            .event_with_id("chat", "2", r#"{"user":"ada","text":"hi"}"#);
        app.update();
        let mut avatars = app.world_mut().query::<&Avatar>();
        let ada = avatars.single(app.world()).unwrap();
        assert_eq!(ada.bounce, 1.0);
        let lines: Vec<String> = app
            .world_mut()
            .resource_mut::<Messages<TickerLine>>()
            .drain()
            .map(|line| line.spans[0].0.clone() + &line.spans[1].0)
            .collect();
        assert_eq!(lines, ["+ ada joined the lobby", "ada: hi"]);
        let feed = app.world().resource::<Feed>();
        assert_eq!((feed.chat_seen, feed.chat_shown), (1, 1));

        // M, then one chat: (seen, shown, muted) afterwards.
        let toggle_and_chat = |app: &mut App, id: &str, text: &str| {
            mute(app);
            let data = format!(r#"{{"user":"ada","text":"{text}"}}"#);
            network.connection(URL).event_with_id("chat", id, &data);
            app.update();
            let feed = app.world().resource::<Feed>();
            (feed.chat_seen, feed.chat_shown, feed.chat_muted)
        };
        // Muted: the handler is off, the reader still counts the chat.
        assert_eq!(toggle_and_chat(&mut app, "3", "quiet"), (2, 1, 1));
        // Unmuted: the handler is back.
        assert_eq!(toggle_and_chat(&mut app, "4", "back"), (3, 2, 1));
    }

    /// The M key's effect, as `keys` applies it.
    fn mute(app: &mut App) {
        app.world_mut()
            .resource_scope(|world, mut feed: Mut<Feed>| {
                let source = feed.source.unwrap();
                toggle_mute(&mut world.commands().entity(source), &mut feed);
            });
        app.world_mut().flush();
    }

    #[test]
    fn a_hang_up_resumes_from_the_last_event_id_with_nothing_lost_or_repeated() {
        let (mut app, network) = lobby_app();
        network
            .connection(URL)
            .open()
            .send("retry: 300\n\n")
            .event_with_id("join", "1", r#"{"user":"ada"}"#)
            .event_with_id("chat", "2", r#"{"user":"ada","text":"brb"}"#)
            .end_stream();
        app.update();
        app.advance(Duration::from_millis(300));
        let again = network.connection(URL);
        assert_eq!(again.headers()["last-event-id"], "2");
        again
            .open()
            .event_with_id("chat", "3", r#"{"user":"ada","text":"back"}"#);
        app.update();
        let feed = app.world().resource::<Feed>();
        assert_eq!(feed.opens, 2);
        assert_eq!((feed.events, feed.lost, feed.repeated), (3, 0, 0));
        // The avatar stayed: the lobby is the game's, not the connection's.
        assert_eq!(standing(&mut app), [(0, "ada".into())]);
    }

    #[test]
    fn a_gap_in_event_ids_counts_as_lost() {
        let (mut app, network) = lobby_app();
        network
            .connection(URL)
            .open()
            .event_with_id("chat", "1", r#"{"user":"ada","text":"a"}"#)
            .event_with_id("chat", "4", r#"{"user":"ada","text":"b"}"#)
            .event_with_id("chat", "4", r#"{"user":"ada","text":"b"}"#);
        app.update();
        let feed = app.world().resource::<Feed>();
        assert_eq!((feed.lost, feed.repeated), (2, 1));
    }
}
