//! The test kit (`bevy_eventsource::testing`) as a game's test uses it: sources found by URL,
//! events framed as a server frames them, time advanced frame by frame, reconnections exact.

use std::time::Duration;

use crate::support::app::{collect, collected};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use bevy_eventsource::testing::{SseTestAppExt, SseTestNetwork};

const FEED: &str = "https://game.test/feed";

fn kit_app() -> (App, SseTestNetwork) {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, SsePlugin::default()));
    collect::<SseMessage>(&mut app);
    collect::<SseComment>(&mut app);
    let network = SseTestNetwork::install(&mut app);
    (app, network)
}

/// A kit app with one source on [`FEED`], connecting.
fn feed_app() -> (App, SseTestNetwork, Entity) {
    let (mut app, network) = kit_app();
    let source = app.world_mut().spawn(EventSource::new(FEED)).id();
    app.update();
    (app, network, source)
}

fn state(app: &App, source: Entity) -> ReadyState {
    *app.world().get::<ReadyState>(source).unwrap()
}

#[test]
fn events_are_framed_as_a_server_frames_them() {
    let (mut app, network, _) = feed_app();
    network
        .connection(FEED)
        .open()
        .event("message", "plain")
        .event("join", "line one\nline two\r\nline three\rline four")
        .event_with_id("chat", "41", "{\"text\":\"hi\"}")
        .comment(" keep-alive")
        .event("empty", "");
    app.update();
    let messages: Vec<(String, String, String)> = collected::<SseMessage>(&app)
        .iter()
        .map(|m| {
            (
                m.event_type().to_owned(),
                m.data().to_owned(),
                m.last_event_id().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [
            ("message".into(), "plain".into(), String::new()),
            (
                "join".into(),
                "line one\nline two\nline three\nline four".into(),
                String::new()
            ),
            ("chat".into(), "{\"text\":\"hi\"}".into(), "41".into()),
            ("empty".into(), String::new(), "41".into()),
        ]
    );
    let comments: Vec<String> = collected::<SseComment>(&app)
        .iter()
        .map(|c| c.text.to_string())
        .collect();
    assert_eq!(comments, [" keep-alive"]);
}

#[test]
#[should_panic(
    expected = "no live connection to https://game.test/other; live connections: [\"https://game.test/feed\"]"
)]
fn a_missing_connection_fails_the_test_naming_the_live_ones() {
    // The app stays alive: dropping it would cancel the feed's connection.
    let (_app, network, _) = feed_app();
    network.connection("https://game.test/other");
}

#[test]
#[should_panic(expected = "holds a line break")]
fn an_event_name_with_a_line_break_fails_the_test() {
    let (_app, network, _) = feed_app();
    network
        .connection(FEED)
        .open()
        .event("join\ndata: forged", "x");
}

#[test]
fn advance_runs_whole_frames_and_a_last_short_one() {
    let (mut app, _network) = kit_app();
    app.update();
    let start = app.world().resource::<Time<Real>>().elapsed();
    let frames = app.world().resource::<Time>().elapsed();
    app.advance(Duration::from_millis(1000));
    let real = app.world().resource::<Time<Real>>().elapsed() - start;
    assert_eq!(real, Duration::from_millis(1000));
    // Game time followed, frame by frame (no frame over the virtual clock's 250 ms cap).
    let game = app.world().resource::<Time>().elapsed() - frames;
    assert_eq!(game, Duration::from_millis(1000));
    // Back to whole frames afterwards.
    app.update();
    let real = app.world().resource::<Time<Real>>().elapsed() - start;
    assert_eq!(real, Duration::from_millis(1000) + SseTestNetwork::FRAME);
}

#[test]
fn advance_on_a_fresh_app_starts_its_clock_first() {
    let (mut app, _network) = kit_app();
    app.advance(Duration::from_millis(100));
    assert_eq!(
        app.world().resource::<Time<Real>>().elapsed(),
        Duration::from_millis(100)
    );
}

#[test]
fn a_reconnection_starts_exactly_when_its_wait_is_over_with_the_last_event_id() {
    let (mut app, network, source) = feed_app();
    let first = network.connection(FEED);
    first
        .open()
        .send("retry: 500\n\n")
        .event_with_id("tick", "9", "x")
        .end_stream();
    app.update();
    assert_eq!(state(&app, source), ReadyState::Retrying);
    // No jitter: not a frame early...
    app.advance(Duration::from_millis(500) - SseTestNetwork::FRAME);
    assert_eq!(network.connections_to(FEED).len(), 1);
    // ...and not a frame late.
    app.advance(SseTestNetwork::FRAME);
    assert_eq!(network.connections_to(FEED).len(), 2);
    let second = network.connection(FEED);
    assert_eq!(second.headers()["last-event-id"], "9");
    assert!(!first.is_live());
    second.open();
    app.update();
    assert_eq!(state(&app, source), ReadyState::Open);
}

#[test]
fn a_refusal_closes_and_a_despawn_ends_the_connection() {
    let (mut app, network) = kit_app();
    let refused = app.world_mut().spawn(EventSource::new(FEED)).id();
    let other = "https://game.test/other";
    let despawned = app.world_mut().spawn(EventSource::new(other)).id();
    app.update();
    network.connection(FEED).refuse(401);
    network.connection(other).open();
    app.update();
    assert_eq!(state(&app, refused), ReadyState::Closed);
    assert_eq!(state(&app, despawned), ReadyState::Open);
    app.world_mut().despawn(despawned);
    app.update();
    assert!(network.live_connections().is_empty());
    assert!(network.try_connection(other).is_none());
}

#[test]
fn typed_events_are_scripted_as_json_and_arrive_decoded() {
    #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
    struct Join {
        user: String,
        level: u8,
    }
    let (mut app, network) = kit_app();
    app.add_message::<SseJson<Join>>();
    collect::<SseJson<Join>>(&mut app);
    app.world_mut()
        .spawn(EventSource::new(FEED).with_json::<Join>("join"));
    app.update();
    let ada = Join {
        user: "ada\nlovelace".into(),
        level: 3,
    };
    network.connection(FEED).open().event_json("join", &ada);
    app.update();
    let joined: Vec<Join> = collected::<SseJson<Join>>(&app)
        .into_iter()
        .map(|json| json.value)
        .collect();
    assert_eq!(joined, [ada]);
}

#[test]
#[should_panic(expected = "add SsePlugin to the app first")]
fn installing_before_the_plugin_fails_the_test_at_once() {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    SseTestNetwork::install(&mut app);
}
