//! NPC dialogue, LLM-style: each question is a POST with a JSON body that opens a one-shot token
//! stream (`EventSource::once()`), `data: {"choices":[{"delta":{"content":"..."}}]}` chunks ended
//! by `data: [DONE]` (`with_done_sentinel`). Each chunk is decoded into a `Chunk` on the IO thread
//! (`with_json`); the answer types out in a dialogue box as tokens arrive; Space asks the next
//! question. Observers on each request's entity (`On<SseJson<Chunk>>`, `On<SseClosed>`,
//! `On<SseErrored>`) do all the work.
//!
//! ```text
//! cargo run --release --features games --example npc_dialogue [-- --url http://host/v1/chat/completions]
//! ```

#[path = "support/game.rs"]
mod game;
#[path = "support/game_server.rs"]
mod game_server;
#[path = "support/loopback.rs"]
mod loopback;

use std::time::{Duration, Instant};

use bevy::image::{ImageLoaderSettings, ImageSampler};
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use game::{BRIGHT, DIM, Fonts, GameArgs, PANEL, Report, Watched};
use serde::Deserialize;
use serde_json::json;

/// One streamed chunk: `{"choices":[{"delta":{"content":"..."}}]}`.
#[derive(Deserialize, Clone, Debug)]
struct Chunk {
    choices: Vec<Choice>,
}

#[derive(Deserialize, Clone, Debug)]
struct Choice {
    delta: Delta,
}

#[derive(Deserialize, Clone, Debug)]
struct Delta {
    /// Absent in a chunk that only says the role or the finish reason.
    content: Option<String>,
}

const QUESTIONS: [&str; 6] = [
    "Who are you, old one?",
    "Tell me about the dragon.",
    "Where can I find a sword?",
    "What is there to see in town?",
    "Do you have a map?",
    "Thank you. Bye!",
];

/// How fast the box types out what has arrived, in characters per second.
const TYPING_SPEED: f32 = 90.0;

fn main() -> AppExit {
    let args = GameArgs::from_env("npc_dialogue");
    let url = game_server::url_or_start(args.url.as_deref(), "/v1/chat/completions");
    let mut app = game::game_app("bevy_eventsource: NPC dialogue", &args);
    app.insert_resource(Dialogue {
        url,
        next: 0,
        current: None,
        asked: 0,
        answered: 0,
        tokens: 0,
        errors: 0,
    })
    .add_systems(Startup, (setup, ask_next).chain())
    .add_systems(Update, (keys, type_out, update_hud).chain());
    app.run()
}

#[derive(Resource)]
struct Dialogue {
    url: String,
    next: usize,
    current: Option<Ask>,
    asked: u32,
    answered: u32,
    tokens: u64,
    errors: u32,
}

/// One question and its streamed answer.
struct Ask {
    source: Entity,
    question: &'static str,
    received: String,
    shown: usize,
    started: Instant,
    first_token: Option<Duration>,
    finished: Option<Duration>,
    error: Option<String>,
}

impl Ask {
    fn done(&self) -> bool {
        self.finished.is_some() || self.error.is_some()
    }
}

/// The texts the HUD rewrites each frame.
#[derive(Component, Clone, Copy, PartialEq, Eq)]
enum Line {
    Question,
    Answer,
    Prompt,
    Stats,
}

#[derive(Component)]
struct QuestionList;

fn setup(mut commands: Commands, fonts: Res<Fonts>, assets: Res<AssetServer>) {
    let npc = assets
        .load_builder()
        .with_settings(|settings: &mut ImageLoaderSettings| {
            settings.sampler = ImageSampler::nearest();
        })
        .load("sprites/npc.png");
    commands.spawn((
        Sprite {
            image: npc,
            custom_size: Some(Vec2::splat(224.0)),
            ..default()
        },
        Transform::from_xyz(-380.0, 80.0, 0.0),
    ));
    commands.spawn((
        Sprite::from_color(Color::srgb(0.16, 0.13, 0.30), Vec2::new(300.0, 300.0)),
        Transform::from_xyz(-380.0, 70.0, -1.0),
    ));
    commands.spawn((
        Text2d::new("Elder Quill"),
        fonts.bold(24.0),
        TextColor(Color::srgb(0.78, 0.70, 1.0)),
        Transform::from_xyz(-380.0, -55.0, 0.0),
    ));

    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            left: px(24),
            top: px(18),
            flex_direction: FlexDirection::Column,
            ..default()
        },
        children![
            (
                Text::new("NPC dialogue"),
                fonts.bold(30.0),
                TextColor(BRIGHT)
            ),
            (Line::Stats, Text::new(""), fonts.text(14.0), TextColor(DIM)),
        ],
    ));

    // The questions, the asked one highlighted.
    commands
        .spawn((
            QuestionList,
            Node {
                position_type: PositionType::Absolute,
                left: px(700),
                top: px(110),
                width: px(540),
                padding: UiRect::all(px(16)),
                flex_direction: FlexDirection::Column,
                row_gap: px(8),
                border_radius: BorderRadius::all(px(10)),
                ..default()
            },
            BackgroundColor(PANEL),
            children![(Text::new("Ask about…"), fonts.bold(20.0), TextColor(BRIGHT))],
        ))
        .with_children(|list| {
            for question in QUESTIONS {
                list.spawn((
                    Text::new(format!("  {question}")),
                    fonts.text(18.0),
                    TextColor(DIM),
                ));
            }
        });

    // The dialogue box.
    commands.spawn((
        Node {
            position_type: PositionType::Absolute,
            left: px(40),
            right: px(40),
            bottom: px(28),
            height: px(210),
            padding: UiRect::all(px(20)),
            flex_direction: FlexDirection::Column,
            row_gap: px(10),
            border: UiRect::all(px(3)),
            border_radius: BorderRadius::all(px(14)),
            ..default()
        },
        BackgroundColor(Color::srgba(0.08, 0.08, 0.16, 0.95)),
        BorderColor::all(Color::srgb(0.55, 0.45, 0.95)),
        children![
            (
                Line::Question,
                Text::new(""),
                fonts.text(18.0),
                TextColor(DIM)
            ),
            (
                Line::Answer,
                Text::new(""),
                fonts.text(22.0),
                TextColor(BRIGHT)
            ),
            (
                Line::Prompt,
                Text::new(""),
                fonts.text(16.0),
                TextColor(Color::srgb(0.78, 0.70, 1.0)),
                Node {
                    position_type: PositionType::Absolute,
                    right: px(20),
                    bottom: px(12),
                    ..default()
                },
            ),
        ],
    ));
}

/// Sends the next question: a POST with an OpenAI-style JSON body, one-shot, ended by `[DONE]`.
fn ask_next(mut commands: Commands, mut dialogue: ResMut<Dialogue>, mut watched: ResMut<Watched>) {
    let question = QUESTIONS[dialogue.next % QUESTIONS.len()];
    dialogue.next += 1;
    dialogue.asked += 1;
    let body = json!({
        "model": "npc-elder-quill",
        "stream": true,
        "messages": [
            { "role": "system", "content": "You are Elder Quill, an archivist in a fantasy valley." },
            { "role": "user", "content": question },
        ],
    });
    let source = commands
        .spawn(
            EventSource::new(dialogue.url.clone())
                .with_method(Method::POST)
                .with_header("content-type", "application/json")
                .with_header("accept", "text/event-stream")
                .with_body(body.to_string())
                .once()
                .with_done_sentinel("[DONE]")
                // Unnamed events are `message`s: each a chunk, decoded off the main thread.
                .with_json::<Chunk>("message"),
        )
        .observe(on_token)
        .observe(on_error)
        .observe(on_closed)
        .id();
    watched.source = Some(source);
    if let Some(old) = dialogue.current.replace(Ask {
        source,
        question,
        received: String::new(),
        shown: 0,
        started: Instant::now(),
        first_token: None,
        finished: None,
        error: None,
    }) && !old.done()
    {
        commands.entity(old.source).despawn();
    }
}

/// The question being answered, if `source` is its request (an older request's late events are
/// ignored).
fn asked_by(current: &mut Option<Ask>, source: Entity) -> Option<&mut Ask> {
    current.as_mut().filter(|ask| ask.source == source)
}

fn on_token(chunk: On<SseJson<Chunk>>, mut dialogue: ResMut<Dialogue>) {
    let dialogue = &mut *dialogue;
    let Some(ask) = asked_by(&mut dialogue.current, chunk.entity) else {
        return;
    };
    let content = chunk
        .value
        .choices
        .first()
        .and_then(|choice| choice.delta.content.as_deref());
    if let Some(content) = content {
        ask.received.push_str(content);
        ask.first_token.get_or_insert(ask.started.elapsed());
        dialogue.tokens += 1;
    }
}

fn on_error(error: On<SseErrored>, mut dialogue: ResMut<Dialogue>) {
    let dialogue = &mut *dialogue;
    if let Some(ask) = asked_by(&mut dialogue.current, error.entity) {
        ask.error = Some(error.error.to_string());
        dialogue.errors += 1;
    }
}

/// The stream ended (the `[DONE]` sentinel, or the server closed it): the answer is complete and
/// the request entity goes away.
fn on_closed(closed: On<SseClosed>, mut commands: Commands, mut dialogue: ResMut<Dialogue>) {
    let dialogue = &mut *dialogue;
    if let Some(ask) = asked_by(&mut dialogue.current, closed.entity) {
        ask.finished = Some(ask.started.elapsed());
        if ask.error.is_none() {
            dialogue.answered += 1;
        }
    }
    commands.entity(closed.entity).despawn();
}

fn keys(input: Res<ButtonInput<KeyCode>>, mut commands: Commands, mut dialogue: ResMut<Dialogue>) {
    if !(input.just_pressed(KeyCode::Space) || input.just_pressed(KeyCode::Enter)) {
        return;
    }
    match &mut dialogue.current {
        // Still typing: show everything that has arrived.
        Some(ask) if ask.shown < ask.received.chars().count() => {
            ask.shown = ask.received.chars().count();
        }
        Some(ask) if !ask.done() => {}
        _ => commands.run_system_cached(ask_next),
    }
}

fn type_out(time: Res<Time>, mut dialogue: ResMut<Dialogue>, mut typed: Local<f32>) {
    let Some(ask) = dialogue.current.as_mut() else {
        return;
    };
    let available = ask.received.chars().count();
    *typed += time.delta_secs() * TYPING_SPEED;
    let step = *typed as usize;
    *typed -= step as f32;
    ask.shown = (ask.shown + step).min(available);
}

fn update_hud(
    dialogue: Res<Dialogue>,
    time: Res<Time>,
    mut texts: Query<(&mut Text, Option<&Line>)>,
    list: Query<&Children, With<QuestionList>>,
    mut colors: Query<&mut TextColor>,
    mut report: ResMut<Report>,
) {
    let Some(ask) = &dialogue.current else {
        return;
    };
    let typed: String = ask.received.chars().take(ask.shown).collect();
    let typing = ask.shown < ask.received.chars().count() || !ask.done();
    let blink = ((time.elapsed_secs() * 3.0) as u32).is_multiple_of(2);
    for (mut text, line) in &mut texts {
        match line {
            Some(Line::Question) => text.0 = format!("You: {}", ask.question),
            Some(Line::Answer) => {
                text.0 = match &ask.error {
                    Some(error) => format!("{typed}\n[the stream failed: {error}]"),
                    None if typing && blink => format!("{typed}▌"),
                    None => typed.clone(),
                };
            }
            Some(Line::Prompt) => {
                text.0 = if typing {
                    String::new()
                } else {
                    "Space: ask the next question ▶".into()
                };
            }
            Some(Line::Stats) => {
                text.0 = format!(
                    "POST {}   one-shot, ends at [DONE]\nquestions {}   answers {}   tokens {}   \
                     first token {}   whole answer {}",
                    dialogue.url,
                    dialogue.asked,
                    dialogue.answered,
                    dialogue.tokens,
                    ask.first_token
                        .map_or("-".into(), |d| format!("{} ms", d.as_millis())),
                    ask.finished
                        .map_or("-".into(), |d| format!("{:.2} s", d.as_secs_f32())),
                );
            }
            None => {}
        }
    }
    if let Ok(children) = list.single() {
        let asked = (dialogue.next + QUESTIONS.len() - 1) % QUESTIONS.len();
        for (index, child) in children.iter().skip(1).enumerate() {
            if let Ok(mut color) = colors.get_mut(child) {
                color.0 = if index == asked {
                    Color::srgb(1.0, 0.85, 0.4)
                } else {
                    DIM
                };
            }
        }
    }

    report.set("asked", dialogue.asked);
    report.set("answered", dialogue.answered);
    report.set("tokens", dialogue.tokens);
    report.set("errors", dialogue.errors);
    report.set("answer", ask.received.clone());
    report.ready = ask.done() && !typing && dialogue.answered == dialogue.asked;
}
