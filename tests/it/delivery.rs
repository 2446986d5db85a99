//! A source opens, and its events reach `Update` systems in the frame they arrive, with every
//! field, comments, the last event ID and the state changes.

use crate::support::app;
use crate::support::server;

use std::time::Duration;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use server::*;

#[test]
fn events_comments_and_states_arrive_in_order() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send(": hello\n\nid: 1\nevent: join\ndata: ada\n\n"),
        // Split inside a field, a CRLF and a UTF-8 sequence.
        send("id: 2\r"),
        send(b"\ndata: caf\xC3"),
        send(b"\xA9 \xE2\x9C\x8C\r\n\r\n"),
        send("retry: 5000\nid\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = test_app();
    collect::<SseOpened>(&mut app);
    collect::<SseMessage>(&mut app);
    collect::<SseComment>(&mut app);
    collect::<SseStateChanged>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/events")))
        .id();

    update_until(&mut app, "a cleared last event ID", |app| {
        app.world().get::<ReconnectionTime>(source).unwrap().0 == Duration::from_secs(5)
            && app.world().get::<LastEventId>(source).unwrap().0.is_empty()
            && collected::<SseMessage>(app).len() == 2
    });

    assert_eq!(collected::<SseOpened>(&app), [SseOpened { entity: source }]);
    let messages = collected::<SseMessage>(&app);
    assert_eq!(messages[0].entity, source);
    assert_eq!(
        (
            messages[0].event_type(),
            messages[0].data(),
            messages[0].last_event_id()
        ),
        ("join", "ada", "1")
    );
    assert_eq!(
        (
            messages[1].event_type(),
            messages[1].data(),
            messages[1].last_event_id()
        ),
        ("message", "caf\u{e9} \u{270c}", "2")
    );
    assert_eq!(
        collected::<SseComment>(&app),
        [SseComment {
            entity: source,
            text: " hello".into()
        }]
    );
    let states: Vec<_> = collected::<SseStateChanged>(&app)
        .iter()
        .map(|c| (c.old, c.new))
        .collect();
    assert_eq!(
        states,
        [
            (ReadyState::Initial, ReadyState::Connecting),
            (ReadyState::Connecting, ReadyState::Open)
        ]
    );
    assert_eq!(state(&app, source), ReadyState::Open);
}

#[test]
fn an_event_received_before_pre_update_is_read_in_the_same_frame() {
    let mut script = vec![send(OK_HEAD)];
    for i in 0..200 {
        script.push(send(format!("data: {i}\n\n")));
        if i % 20 == 0 {
            script.push(Step::Pause(Duration::from_millis(3)));
        }
    }
    script.push(Step::HoldUntilClientCloses);
    let server = ScriptedServer::start(vec![script]);
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    app.world_mut().spawn(EventSource::new(server.url("/")));
    let (mut written_total, mut frames_with_messages) = (0, 0);
    update_until(&mut app, "200 events", |app| {
        // Everything the plugin wrote during this update was already read by `Update`.
        let messages = app.world().resource::<Messages<SseMessage>>();
        let written = messages.iter_current_update_messages().count();
        written_total += written;
        frames_with_messages += usize::from(written > 0);
        let read_total = collected::<SseMessage>(app).len();
        assert_eq!(read_total, written_total, "an event waited a frame");
        read_total == 200
    });
    let data: Vec<String> = collected::<SseMessage>(&app)
        .iter()
        .map(|m| m.data().to_owned())
        .collect();
    assert_eq!(data, (0..200).map(|i| i.to_string()).collect::<Vec<_>>());
    assert!(
        frames_with_messages >= 1,
        "the check above ran on real deliveries"
    );
}

#[test]
fn a_preset_last_event_id_is_sent_and_kept() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: resumed\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = test_app();
    collect::<SseMessage>(&mut app);
    let source = app
        .world_mut()
        .spawn((EventSource::new(server.url("/")), LastEventId("41".into())))
        .id();
    update_until(&mut app, "one event", |app| {
        collected::<SseMessage>(app).len() == 1
    });
    assert_eq!(collected::<SseMessage>(&app)[0].last_event_id(), "41");
    assert_eq!(app.world().get::<LastEventId>(source).unwrap().0, "41");
    let request = &server.requests()[0];
    assert_eq!(request.header("last-event-id"), Some("41"));
}

#[test]
fn a_frame_budget_spreads_a_burst_over_frames_without_loss() {
    const EVENTS: usize = 5_000;
    const BUDGET: usize = 100;
    let body: String = (0..EVENTS)
        .map(|i| format!("id: {i}\ndata: {i}\n\n"))
        .collect();
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send(body),
        Step::HoldUntilClientCloses,
    ]]);
    // Two batches a frame: the IO side runs ahead (within the byte budget) while the game works
    // through the burst.
    let mut app = test_app_with(SsePlugin {
        max_batches_per_frame: 2,
        max_messages_per_frame: std::num::NonZeroUsize::new(BUDGET),
        ..default()
    });
    collect::<SseMessage>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
        .id();
    let mut seen = 0;
    let mut frames = 0;
    update_until(&mut app, "the whole burst", |app| {
        let now = collected::<SseMessage>(app).len();
        assert!(now - seen <= BUDGET, "{} messages in one frame", now - seen);
        seen = now;
        frames += 1;
        now == EVENTS
    });
    assert!(frames >= EVENTS / BUDGET, "only {frames} frames");
    let data: Vec<usize> = collected::<SseMessage>(&app)
        .iter()
        .map(|m| m.data().parse().unwrap())
        .collect();
    assert_eq!(data, (0..EVENTS).collect::<Vec<_>>(), "lost or reordered");
    assert_eq!(app.world().get::<LastEventId>(source).unwrap().0, "4999");
}

/// A stream sent as one HTTP chunk per event (axum's way) crosses to the game in batches of
/// many events, not one batch per event: at 4 batches a frame, 2,000 events sent at once
/// take far fewer than the 500 frames one-event batches would need.
#[test]
fn chunk_per_event_streams_are_batched_not_one_event_per_batch() {
    const EVENTS: usize = 2_000;
    let mut body = String::new();
    for i in 0..EVENTS {
        let event = format!("id: {i}\ndata: {i}\n\n");
        body.push_str(&format!("{:x}\r\n{event}\r\n", event.len()));
    }
    let server = ScriptedServer::start(vec![vec![
        send(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
        send(body),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = test_app_with(SsePlugin {
        max_batches_per_frame: 4,
        ..default()
    });
    collect::<SseMessage>(&mut app);
    app.world_mut()
        .spawn(EventSource::new(server.url("/chunks")));
    let mut frames_with_messages = 0;
    update_until(&mut app, "every event", |app| {
        if app.world().resource::<SseStats>().frame_messages > 0 {
            frames_with_messages += 1;
        }
        collected::<SseMessage>(app).len() == EVENTS
    });
    let ids: Vec<usize> = collected::<SseMessage>(&app)
        .iter()
        .map(|m| m.data().parse().unwrap())
        .collect();
    assert_eq!(ids, (0..EVENTS).collect::<Vec<_>>());
    assert!(
        frames_with_messages < 100,
        "{frames_with_messages} frames delivered messages: batches of about one event"
    );
}

/// A long run of one batch's messages goes to the game straight from the batch; short runs are
/// held and written with other sources' messages. Either way the game reads them in the order
/// they were applied, and a source's last event ID is that of the last message it delivered,
/// also when the frame's message budget cuts a run short.
#[test]
fn held_and_direct_runs_keep_their_order_and_last_event_ids() {
    use bevy_eventsource::testing::SseTestNetwork;

    const A: &str = "https://a.test/events";
    const B: &str = "https://b.test/events";
    fn events(source: &str, ids: std::ops::Range<usize>) -> String {
        ids.map(|i| format!("id: {source}{i}\ndata: {source}{i}\n\n"))
            .collect()
    }
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        SsePlugin {
            max_messages_per_frame: std::num::NonZeroUsize::new(100),
            ..default()
        },
    ));
    collect::<SseMessage>(&mut app);
    let network = SseTestNetwork::install(&mut app);
    let a = app.world_mut().spawn(EventSource::new(A)).id();
    let b = app.world_mut().spawn(EventSource::new(B)).id();
    app.update();
    let (to_a, to_b) = (network.connection(A), network.connection(B));
    to_a.open();
    to_b.open();
    app.update();

    // In the order the batches came: A's 3 messages held, B's run of 60, then A's run of 40,
    // of which the budget leaves 37.
    to_a.send(events("a", 0..3));
    to_b.send(events("b", 0..60));
    to_a.send(events("a", 3..43));
    app.update();
    let data = |app: &App| -> Vec<String> {
        collected::<SseMessage>(app)
            .iter()
            .map(|m| m.data().to_owned())
            .collect()
    };
    let last_id = |app: &App, source| app.world().get::<LastEventId>(source).unwrap().0.clone();
    let expected: Vec<String> = (0..3)
        .map(|i| format!("a{i}"))
        .chain((0..60).map(|i| format!("b{i}")))
        .chain((3..40).map(|i| format!("a{i}")))
        .collect();
    assert_eq!(data(&app), expected, "reordered");
    assert_eq!(last_id(&app, b), "b59");
    assert_eq!(
        last_id(&app, a),
        "a39",
        "the last event ID ran ahead of the messages"
    );

    app.update();
    assert_eq!(data(&app)[100..], ["a40", "a41", "a42"]);
    assert_eq!(last_id(&app, a), "a42");
}

/// A large chunk's messages cross to the game in a list of their own, beside the batch's
/// other reports. Every field of every message is what the parser makes of the same bytes, in
/// order; a frame's message budget cuts a run of them
/// anywhere and the source's last event ID is that of the last message delivered; a retry, a
/// comment and a long event between them keep their places; and a source whose messages an
/// observer sees gets the same messages one by one.
#[test]
fn messages_of_large_chunks_arrive_whole_in_order_with_their_last_event_ids() {
    use bevy_eventsource::testing::SseTestNetwork;

    const A: &str = "https://a.test/events";
    const B: &str = "https://b.test/events";
    const BUDGET: usize = 70;
    let events = |source: &str, ids: std::ops::Range<usize>| -> String {
        ids.map(|i| {
            // Named, unnamed, with and without their own ID line.
            match i % 4 {
                0 => format!("id: {source}{i}\ndata: {source}{i} padding to make it longer\n\n"),
                1 => format!("event: tick\ndata: {source}{i}\ndata: two lines\n\n"),
                2 => format!("id: {source}{i}\nevent: tock\ndata: {{\"n\":{i}}}\n\n"),
                _ => format!("data: {source}{i}\n\n"),
            }
        })
        .collect()
    };
    let long = format!("id: long\ndata: {}\n\n", "x".repeat(200));
    let body = |source: &str| {
        [
            events(source, 0..150),
            ": a comment between them\n".into(),
            "retry: 1500\ndata: with a retry\n\n".into(),
            events(source, 150..230),
            long.clone(),
            events(source, 230..300),
        ]
        .concat()
    };
    let body_a = body("a");
    assert!(body_a.len() > 8 * 1024, "a large chunk: {}", body_a.len());

    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        SsePlugin {
            max_messages_per_frame: std::num::NonZeroUsize::new(BUDGET),
            ..default()
        },
    ));
    collect::<SseMessage>(&mut app);
    #[derive(Resource, Default)]
    struct Observed(Vec<String>);
    app.init_resource::<Observed>();
    let network = SseTestNetwork::install(&mut app);
    let a = app.world_mut().spawn(EventSource::new(A)).id();
    let b = app
        .world_mut()
        .spawn(EventSource::new(B))
        .observe(|message: On<SseMessage>, mut observed: ResMut<Observed>| {
            observed.0.push(message.data().to_owned());
        })
        .id();
    app.update();
    network.connection(A).open().send(&body_a);
    app.update();

    let expected_a = parsed_fields(&body_a);
    assert_eq!(expected_a.len(), 302);
    let mut frames = 0;
    while collected::<SseMessage>(&app).len() < expected_a.len() {
        let got = message_fields(collected::<SseMessage>(&app), a);
        assert_eq!(got, expected_a[..got.len()], "frame {frames}");
        assert!(got.len() <= BUDGET * (frames + 1), "over the budget");
        assert_eq!(
            app.world().get::<LastEventId>(a).unwrap().0,
            got.last().unwrap().2,
            "the last event ID after {} messages",
            got.len()
        );
        app.update();
        frames += 1;
        assert!(frames < 10, "stuck at {}", got.len());
    }
    assert_eq!(message_fields(collected::<SseMessage>(&app), a), expected_a);
    assert_eq!(app.world().get::<LastEventId>(a).unwrap().0, "a298");
    assert_eq!(
        app.world().get::<ReconnectionTime>(a).unwrap().0,
        Duration::from_millis(1500)
    );

    let body_b = body("b");
    network.connection(B).open().send(&body_b);
    let expected_b = parsed_fields(&body_b);
    update_until(&mut app, "b's messages", |app| {
        message_fields(collected::<SseMessage>(app), b).len() >= expected_b.len()
    });
    assert_eq!(message_fields(collected::<SseMessage>(&app), b), expected_b);
    let data_b: Vec<String> = expected_b.into_iter().map(|(_, data, _)| data).collect();
    assert_eq!(app.world().resource::<Observed>().0, data_b);
    assert_eq!(app.world().get::<LastEventId>(b).unwrap().0, "b298");
}

/// Over the network, a fast stream's events cross to the game in lists that the game empties
/// and the IO side fills again (kept in the byte budget's room, and dropped when the budget
/// needs the room back). Two such streams at once, a small byte budget and a frame's message
/// budget that cuts the lists anywhere: every field of every message is what the parser makes
/// of the same bytes, in order, none lost, none twice.
#[test]
fn refilled_event_lists_carry_every_message_whole_and_in_order() {
    const EVENTS: usize = 30_000;
    let body = |source: &str| -> String {
        (0..EVENTS)
            .map(|i| match i % 5 {
                0 => format!("id: {source}{i}\ndata: {source}{i}\n\n"),
                1 => format!("event: tick\ndata: {source}{i} {}\n\n", "long ".repeat(20)),
                2 => format!(": a comment\ndata: {source}{i}\ndata: two lines\n\n"),
                3 => format!("id: {source}{i}\nevent: tock\ndata: {{\"n\":{i}}}\n\n"),
                _ => format!("data: {source}{i}\n\n"),
            })
            .collect()
    };
    let (body_a, body_b) = (body("a"), body("b"));
    assert!(body_a.len() > 1 << 20, "many parts: {}", body_a.len());
    let servers = [&body_a, &body_b].map(|body| {
        ScriptedServer::start(vec![vec![
            send(OK_HEAD),
            send(body),
            Step::HoldUntilClientCloses,
        ]])
    });
    let mut app = test_app_with(SsePlugin {
        max_queued_bytes: 512 * 1024,
        max_messages_per_frame: std::num::NonZeroUsize::new(3_001),
        ..default()
    });
    collect::<SseMessage>(&mut app);
    let [a, b] = servers.each_ref().map(|server| {
        app.world_mut()
            .spawn(EventSource::new(server.url("/")))
            .id()
    });
    update_until(&mut app, "both streams", |app| {
        collected::<SseMessage>(app).len() >= 2 * EVENTS
    });
    for (source, body) in [(a, &body_a), (b, &body_b)] {
        let expected = parsed_fields(body);
        assert_eq!(expected.len(), EVENTS);
        let got = message_fields(collected::<SseMessage>(&app), source);
        let first_wrong = got
            .iter()
            .zip(&expected)
            .position(|(got, want)| got != want);
        assert_eq!(first_wrong, None, "message {first_wrong:?} differs");
        assert_eq!(got.len(), EVENTS);
        let last_id = &expected.last().unwrap().2;
        assert_eq!(&app.world().get::<LastEventId>(source).unwrap().0, last_id);
    }
}

/// The type, data and last event ID of each message the parser makes of `body`.
fn parsed_fields(body: &str) -> Vec<(String, String, String)> {
    let mut parsed = Vec::new();
    bevy_eventsource::parser::SseParser::new()
        .feed(body.as_bytes(), |item| {
            if let bevy_eventsource::parser::Parsed::Message(event) = item {
                parsed.push((
                    event.event_type().to_owned(),
                    event.data().to_owned(),
                    event.last_event_id().to_owned(),
                ));
            }
        })
        .unwrap();
    parsed
}

/// The type, data and last event ID of each of `source`'s messages.
fn message_fields(messages: Vec<SseMessage>, source: Entity) -> Vec<(String, String, String)> {
    messages
        .into_iter()
        .filter(|m| m.entity == source)
        .map(|m| {
            (
                m.event_type().to_owned(),
                m.data().to_owned(),
                m.last_event_id().to_owned(),
            )
        })
        .collect()
}
