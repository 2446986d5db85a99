//! BestHTTP's `On(eventName)` / `Off(eventName)`: handlers that run only for their event type.

use crate::support::app;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;

#[derive(Resource, Default)]
struct Seen(Vec<String>);

fn on_join(In(message): In<SseMessage>, mut seen: ResMut<Seen>) {
    seen.0.push(format!("join:{}", message.data()));
}

fn on_chat(In(message): In<SseMessage>, mut seen: ResMut<Seen>) {
    seen.0.push(format!("chat:{}", message.data()));
}

#[test]
fn handlers_run_for_their_event_type_only_and_off_removes_them() {
    let (mut app, network) = memory_app();
    app.init_resource::<Seen>();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/lobby"))
        .id();
    app.world_mut()
        .commands()
        .entity(source)
        .on_sse_event("join", on_join)
        .on_sse_event("chat", on_chat);
    app.update();
    let attempt = network.last_attempt(source).unwrap();
    attempt
        .open()
        .send("event: join\ndata: ada\n\nevent: chat\ndata: hi\n\ndata: plain\n\n");
    app.update();
    assert_eq!(data(&app), ["ada", "hi", "plain"]);
    assert_eq!(app.world().resource::<Seen>().0, ["join:ada", "chat:hi"]);

    app.world_mut()
        .commands()
        .entity(source)
        .off_sse_event("chat");
    attempt.send("event: join\ndata: bob\n\nevent: chat\ndata: yo\n\n");
    app.update();
    assert_eq!(data(&app).len(), 5);
    // Off stopped the chat handler; the join handler and SseMessage kept going.
    assert_eq!(
        app.world().resource::<Seen>().0,
        ["join:ada", "chat:hi", "join:bob"]
    );
}

#[test]
fn a_handler_added_mid_batch_by_an_observer_sees_the_rest_of_the_batch() {
    let (mut app, network) = memory_app();
    app.init_resource::<Seen>();
    let source = app
        .world_mut()
        .spawn(EventSource::new("http://game.test/lobby"))
        .observe(|message: On<SseMessage>, mut commands: Commands| {
            if message.data() == "subscribe" {
                commands
                    .entity(message.entity)
                    .on_sse_event("join", on_join);
            }
        })
        .id();
    app.update();
    network
        .last_attempt(source)
        .unwrap()
        .open()
        .send("event: join\ndata: early\n\ndata: subscribe\n\nevent: join\ndata: late\n\n");
    app.update();
    assert_eq!(app.world().resource::<Seen>().0, ["join:late"]);
}
