//! The embedded demo SSE server of the example games: a real axum server on its own tokio
//! runtime thread, bound to 127.0.0.1:0, so every game runs with no network.
//!
//! - `GET /chat`: a scripted lobby (`join`, `leave`, `chat` events with sequential IDs, a pure
//!   function of the ID so that a reconnection resumes exactly after `Last-Event-ID`). The server
//!   hangs up after 8–20 events and asks for 400 ms reconnections.
//! - `GET /swarm?racers=N&hz=H`: `pos` events, one per racer per tick, as JSON
//!   (`{"id":7,"x":-310.5,"y":120.25,"d":1234.5}`), default 300 racers at 30 Hz.
//! - `POST /v1/chat/completions`: an LLM-style one-shot stream. The JSON body's last user message
//!   picks the NPC's answer, streamed word by word as
//!   `data: {"choices":[{"delta":{"content":"..."}}]}` and ended by `data: [DONE]`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_lite::{Stream, stream};
use serde_json::{Value, json};

/// Starts the server on a background thread; returns its address once it accepts connections.
pub fn start() -> SocketAddr {
    let app = Router::new()
        .route("/chat", get(chat))
        .route("/swarm", get(swarm))
        .route("/v1/chat/completions", post(completions))
        .with_state(Arc::new(lobby_script(20_000)));
    crate::loopback::serve("demo-game-server", app)
}

/// The URL a game connects to: `--url` if given, else `path` on a newly started embedded server.
pub fn url_or_start(given: Option<&str>, path: &str) -> String {
    match given {
        // A path alone: the embedded server, with other parameters (`/swarm?racers=3000`).
        Some(path) if path.starts_with('/') => format!("http://{}{path}", start()),
        Some(url) => url.to_owned(),
        None => format!("http://{}{path}", start()),
    }
}

// --- chat ------------------------------------------------------------------------------------

const NAMES: [&str; 12] = [
    "Ada", "Bo", "Cyd", "Dax", "Eve", "Fin", "Gus", "Hal", "Ivy", "Jo", "Kai", "Lux",
];

const LINES: [&str; 16] = [
    "anyone up for a raid?",
    "gg everyone",
    "that boss took forever",
    "lag spike, sorry",
    "who has the map?",
    "meet at the north gate",
    "nice shot!",
    "brb, pizza",
    "does the bridge respawn?",
    "trading 3 iron for 1 gold",
    "the server is smooth today",
    "lol",
    "new patch notes are up",
    "watch out, dragon incoming",
    "can someone revive me",
    "first!",
];

/// The lobby, as `(event type, JSON data)` by event ID: a deterministic simulation, so any
/// connection can resume at any ID.
fn lobby_script(len: usize) -> Vec<(&'static str, String)> {
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % bound
    };
    let mut present: Vec<usize> = vec![0, 1, 2];
    let mut script = Vec::with_capacity(len);
    for (slot, &user) in present.iter().enumerate() {
        script.push((
            "join",
            json!({ "user": NAMES[user], "slot": slot }).to_string(),
        ));
    }
    while script.len() < len {
        let roll = next(100);
        if roll < 12 && present.len() < NAMES.len() {
            let absent: Vec<usize> = (0..NAMES.len()).filter(|u| !present.contains(u)).collect();
            let user = absent[next(absent.len() as u64) as usize];
            present.push(user);
            script.push(("join", json!({ "user": NAMES[user] }).to_string()));
        } else if roll < 20 && present.len() > 2 {
            let user = present.remove(next(present.len() as u64) as usize);
            script.push(("leave", json!({ "user": NAMES[user] }).to_string()));
        } else {
            let user = present[next(present.len() as u64) as usize];
            let line = LINES[next(LINES.len() as u64) as usize];
            script.push((
                "chat",
                json!({ "user": NAMES[user], "text": line }).to_string(),
            ));
        }
    }
    script
}

async fn chat(
    State(script): State<Arc<Vec<(&'static str, String)>>>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let first = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok())
        .map_or(0, |id| id + 1);
    // Hang up after 8–20 events, a different number each connection.
    let last = (first + 8 + (first * 7919) % 13).min(script.len());
    let events = stream::unfold(first, move |id| {
        let script = Arc::clone(&script);
        async move {
            if id >= last {
                return None;
            }
            if id > first {
                let pause = 120 + (id * 37 % 160) as u64;
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            let (kind, data) = &script[id];
            let mut event = Event::default().event(*kind).data(data).id(id.to_string());
            if id == first {
                event = event.retry(Duration::from_millis(400));
            }
            Some((Ok(event), id + 1))
        }
    });
    Sse::new(events)
}

// --- swarm -----------------------------------------------------------------------------------

/// Where racer `id` is at time `t` (seconds) on the oval track, and how far it has gone.
pub fn racer_position(id: u32, t: f64) -> (f64, f64, f64) {
    let seed = f64::from(id);
    let speed = 0.55 + 0.25 * (seed * 1.618).fract() + 0.05 * (t * 0.3 + seed).sin();
    let distance = t * speed + (seed * 0.618_034).fract() * std::f64::consts::TAU;
    let angle = distance;
    let lane = 0.80 + 0.35 * (seed * 2.414).fract() + 0.05 * (t * 1.7 + seed * 3.0).sin();
    let x = angle.cos() * 470.0 * lane;
    let y = angle.sin() * 215.0 * lane;
    (x, y, distance)
}

/// A `pos` event of `/swarm`, as the games decode it: `{"id":7,"x":-310.5,"y":120.25,"d":1234.5}`
/// (`d`, the distance run, may be absent).
#[derive(serde::Deserialize, Clone, Debug)]
pub struct Position {
    pub id: usize,
    pub x: f32,
    pub y: f32,
    #[serde(default)]
    pub d: f32,
}

async fn swarm(
    Query(query): Query<HashMap<String, String>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let racers: u32 = query
        .get("racers")
        .and_then(|value| value.parse().ok())
        .unwrap_or(300)
        .clamp(1, 10_000);
    let hz: u64 = query
        .get("hz")
        .and_then(|value| value.parse().ok())
        .unwrap_or(30)
        .clamp(1, 240);
    let start = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / hz));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let ticks = stream::unfold(ticker, move |mut ticker| async move {
        ticker.tick().await;
        let t = start.elapsed().as_secs_f64();
        let batch: Vec<Result<Event, Infallible>> = (0..racers)
            .map(|id| {
                let (x, y, d) = racer_position(id, t);
                Ok(Event::default()
                    .event("pos")
                    .data(format!(r#"{{"id":{id},"x":{x:.2},"y":{y:.2},"d":{d:.3}}}"#)))
            })
            .collect();
        Some((stream::iter(batch), ticker))
    });
    Sse::new(stream::StreamExt::flatten(ticks))
}

// --- NPC dialogue ----------------------------------------------------------------------------

/// The NPC's answers, picked by a word of the question.
const ANSWERS: [(&str, &str); 6] = [
    (
        "who",
        "Greetings, traveller. I am Elder Quill, keeper of the Lantern Archive. \
         For three hundred winters I have catalogued every rumour that drifts through this valley.",
    ),
    (
        "dragon",
        "The dragon? Ah. She sleeps beneath the Ember Peaks and wakes only when the bells of \
         Harrowmere ring thrice. Bring frost salts, and do not look her in the eye.",
    ),
    (
        "sword",
        "The Sunken Blade lies in the flooded crypt east of the mill. The water rises at dusk, \
         so go at dawn, and take a lantern that does not fear the damp.",
    ),
    (
        "town",
        "Harrowmere has a smith who owes me a favour, an inn with terrible stew, and a mayor \
         who counts the gold twice. Tell them Quill sent you; it opens doors.",
    ),
    (
        "map",
        "Here, take this map. The roads are true, the rivers are mostly true, and the \
         dotted line is where my apprentice swore he saw a talking goat.",
    ),
    (
        "bye",
        "Farewell, traveller. May your lantern stay lit and your streams never drop mid-sentence.",
    ),
];

async fn completions(body: String) -> Response {
    let request: Value = match serde_json::from_str(&body) {
        Ok(request) => request,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, format!("invalid JSON: {error}")).into_response();
        }
    };
    let question = request["messages"]
        .as_array()
        .and_then(|messages| {
            messages
                .iter()
                .rev()
                .find(|message| message["role"] == "user")
        })
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
        .to_lowercase();
    let answer = ANSWERS
        .iter()
        .find(|(word, _)| question.contains(word))
        .map_or(
            "Hmm. The archive has nothing on that, traveller. Ask me another.",
            |(_, a)| a,
        );
    // Word-sized tokens, each with the space before it, as LLM APIs send them.
    let mut tokens: Vec<String> = Vec::new();
    for (index, word) in answer.split(' ').enumerate() {
        tokens.push(if index == 0 {
            word.to_owned()
        } else {
            format!(" {word}")
        });
    }
    let events = stream::unfold(
        (tokens.into_iter(), false),
        |(mut tokens, done)| async move {
            if done {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(45)).await;
            match tokens.next() {
                Some(token) => {
                    let chunk = json!({ "choices": [{ "delta": { "content": token } }] });
                    Some((
                        Ok::<_, Infallible>(Event::default().data(chunk.to_string())),
                        (tokens, false),
                    ))
                }
                None => Some((Ok(Event::default().data("[DONE]")), (tokens, true))),
            }
        },
    );
    Sse::new(events).into_response()
}
