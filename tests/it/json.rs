//! Typed events (`with_json`, feature `serde`): decoded by the IO task, delivered as
//! `SseJson<T>` messages and entity events next to the raw message; a payload that does not
//! decode is a non-fatal `SseError::Decode` that never quotes the payload.

use std::sync::Mutex;

use crate::support::app::*;
use crate::support::server::{OK_HEAD, ScriptedServer, Step, send};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Clone, Debug, PartialEq)]
struct Position {
    id: u32,
    x: f32,
}

#[derive(Resource, Default)]
struct Seen(Vec<String>);

/// Registers `SseJson<T>` for readers, as a game must, and collects what `Update` reads.
fn collect_json<T: Clone + Send + Sync + 'static>(app: &mut App) {
    app.add_message::<SseJson<T>>();
    collect::<SseJson<T>>(app);
}

#[test]
fn typed_events_arrive_as_messages_and_entity_events_after_their_raw_message() {
    let (mut app, network) = memory_app();
    collect_json::<Position>(&mut app);
    app.init_resource::<Seen>();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/race").with_json::<Position>("pos"))
        .observe(
            |pos: On<SseJson<Position>>, ids: Query<&LastEventId>, mut seen: ResMut<Seen>| {
                // The source's last event ID is this event's when its observer runs.
                let id = &ids.get(pos.entity).unwrap().0;
                seen.0.push(format!("{} at {id}", pos.value.id));
            },
        )
        .id();
    app.update();
    network.last_attempt(source).unwrap().open().send(
        "event: pos\nid: 1\ndata: {\"id\":7,\"x\":1.5}\n\n\
         event: chat\nid: 2\ndata: {\"id\":8,\"x\":0}\n\n\
         event: pos\nid: 3\ndata: {\"id\":9,\"x\":-2}\n\n",
    );
    app.update();
    let typed: Vec<(Entity, Position)> = collected::<SseJson<Position>>(&app)
        .into_iter()
        .map(|json| (json.entity, json.value))
        .collect();
    assert_eq!(
        typed,
        [
            (source, Position { id: 7, x: 1.5 }),
            (source, Position { id: 9, x: -2.0 })
        ]
    );
    // Every raw message still arrives, the decoded ones included.
    assert_eq!(
        collected::<SseMessage>(&app)
            .iter()
            .map(|m| m.last_event_id().to_owned())
            .collect::<Vec<_>>(),
        ["1", "2", "3"]
    );
    assert_eq!(app.world().resource::<Seen>().0, ["7 at 1", "9 at 3"]);
}

#[test]
fn a_payload_that_does_not_decode_is_a_decode_error_that_never_quotes_it_and_the_stream_goes_on() {
    let (mut app, network) = memory_app();
    collect_json::<Position>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/race?key=k").with_json::<Position>("pos"))
        .id();
    app.update();
    network.last_attempt(source).unwrap().open().send(
        "event: pos\ndata: {\"id\":\"s3cret-token\",\"x\":1}\n\n\
         event: pos\ndata: {\"id\":1\n\n\
         event: pos\ndata: hunter2\n\n\
         event: pos\ndata: {\"id\":2,\"x\":3}\n\n",
    );
    app.update();
    let errors: Vec<String> = collected::<SseErrored>(&app)
        .iter()
        .map(|e| {
            assert!(
                matches!(&e.error, SseError::Decode { event, .. } if event == "pos"),
                "{:?}",
                e.error
            );
            assert!(!e.error.is_fatal());
            e.error.to_string()
        })
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    for text in &errors {
        assert!(
            !text.contains("s3cret") && !text.contains("hunter2") && !text.contains("key=k"),
            "{text}"
        );
        assert!(text.contains("json::Position"), "{text}");
    }
    assert!(errors[0].contains("another shape"), "{}", errors[0]);
    assert!(errors[1].contains("cut short"), "{}", errors[1]);
    assert!(errors[2].contains("not JSON"), "{}", errors[2]);
    // The raw messages all arrived; the stream went on and the last one decoded.
    assert_eq!(collected::<SseMessage>(&app).len(), 4);
    let typed: Vec<Position> = collected::<SseJson<Position>>(&app)
        .into_iter()
        .map(|json| json.value)
        .collect();
    assert_eq!(typed, [Position { id: 2, x: 3.0 }]);
    assert_eq!(state(&app, source), ReadyState::Open);
    let stats = app.world().get::<SseSourceStats>(source).unwrap();
    assert_eq!(stats.errors, 3);
}

/// The LLM shape: one JSON object per token, then `[DONE]`, which ends the stream and is
/// never decoded.
#[test]
fn json_tokens_end_with_the_done_sentinel_which_is_not_decoded() {
    #[derive(Deserialize, Clone, Debug)]
    struct Delta {
        token: String,
    }
    let (mut app, network) = memory_app();
    collect_json::<Delta>(&mut app);
    let source = app
        .world_mut()
        .spawn(
            EventSource::new("http://game.test/npc")
                .with_json::<Delta>("message")
                .with_done_sentinel("[DONE]"),
        )
        .id();
    app.update();
    network.last_attempt(source).unwrap().open().send(
        "data: {\"token\":\"Well\"}\n\ndata: {\"token\":\", traveller\"}\n\ndata: [DONE]\n\n",
    );
    app.update();
    let text: String = collected::<SseJson<Delta>>(&app)
        .into_iter()
        .map(|json| json.value.token)
        .collect();
    assert_eq!(text, "Well, traveller");
    assert!(collected::<SseErrored>(&app).is_empty());
    assert_eq!(state(&app, source), ReadyState::Closed);
}

#[test]
fn a_later_with_json_for_the_same_name_replaces_the_type() {
    #[derive(Deserialize, Clone, Debug)]
    struct Other {
        x: f32,
    }
    let (mut app, network) = memory_app();
    collect_json::<Position>(&mut app);
    collect_json::<Other>(&mut app);
    let source = app
        .world_mut()
        .spawn(
            EventSource::new("http://game.test/race")
                .with_json::<Position>("pos")
                .with_json::<Other>("pos"),
        )
        .id();
    app.update();
    network
        .last_attempt(source)
        .unwrap()
        .open()
        .send("event: pos\ndata: {\"id\":1,\"x\":4}\n\n");
    app.update();
    assert!(collected::<SseJson<Position>>(&app).is_empty());
    assert_eq!(collected::<SseJson<Other>>(&app)[0].value.x, 4.0);
}

/// Threads that decoded a `Traced`.
static DECODED_ON: Mutex<Vec<Option<String>>> = Mutex::new(Vec::new());

#[derive(Deserialize, Clone, Debug)]
#[serde(from = "u32")]
struct Traced(u32);

impl From<u32> for Traced {
    fn from(value: u32) -> Self {
        let thread = std::thread::current().name().map(str::to_owned);
        DECODED_ON.lock().unwrap().push(thread);
        Self(value)
    }
}

#[test]
fn decoding_happens_on_the_io_thread_not_the_main_thread() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("event: n\ndata: 1\n\nevent: n\ndata: 2\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = test_app();
    collect_json::<Traced>(&mut app);
    app.world_mut()
        .spawn(EventSource::new(server.url("/n")).with_json::<Traced>("n"));
    update_until(&mut app, "two values", |app| {
        collected::<SseJson<Traced>>(app).len() == 2
    });
    let values: Vec<u32> = collected::<SseJson<Traced>>(&app)
        .into_iter()
        .map(|json| json.value.0)
        .collect();
    assert_eq!(values, [1, 2]);
    let main = std::thread::current().name().map(str::to_owned);
    let threads = DECODED_ON.lock().unwrap().clone();
    assert_eq!(threads.len(), 2);
    for thread in threads {
        assert_ne!(thread, main, "decoded on the test's (the app's) thread");
        assert!(
            thread
                .as_deref()
                .is_some_and(|name| name == "bevy_eventsource-io"),
            "{thread:?}"
        );
    }
}

/// With nothing observing them, decoded values are written in batches: every value of each
/// type arrives, in stream order, however the types interleave.
#[test]
fn unobserved_values_of_interleaved_types_all_arrive_in_order() {
    #[derive(Deserialize, Clone, Debug, PartialEq)]
    struct Score(u32);
    let (mut app, network) = memory_app();
    app.add_message::<SseJson<Position>>();
    app.add_message::<SseJson<Score>>();
    collect::<SseJson<Position>>(&mut app);
    collect::<SseJson<Score>>(&mut app);
    let source = app
        .world_mut()
        .spawn(
            EventSource::new("http://game.test/race")
                .with_json::<Position>("pos")
                .with_json::<Score>("score"),
        )
        .id();
    app.update();
    let mut stream = String::new();
    for i in 0..50u32 {
        let name = if i % 7 < 4 { "pos" } else { "score" };
        let data = if name == "pos" {
            format!("{{\"id\":{i},\"x\":0}}")
        } else {
            i.to_string()
        };
        stream.push_str(&format!("event: {name}\nid: {i}\ndata: {data}\n\n"));
    }
    stream.push_str("event: chat\nid: 50\ndata: hi\n\n");
    network.last_attempt(source).unwrap().open().send(stream);
    app.update();
    let positions: Vec<u32> = collected::<SseJson<Position>>(&app)
        .iter()
        .map(|json| json.value.id)
        .collect();
    let scores: Vec<u32> = collected::<SseJson<Score>>(&app)
        .iter()
        .map(|json| json.value.0)
        .collect();
    assert_eq!(positions, (0..50).filter(|i| i % 7 < 4).collect::<Vec<_>>());
    assert_eq!(scores, (0..50).filter(|i| i % 7 >= 4).collect::<Vec<_>>());
    assert_eq!(collected::<SseMessage>(&app).len(), 51);
    assert_eq!(app.world().get::<LastEventId>(source).unwrap().0, "50");
}
