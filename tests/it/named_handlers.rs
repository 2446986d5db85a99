//! BestHTTP's `On(eventName)` / `Off(eventName)`: handlers that run only for their event type.

use crate::support::app;
use crate::support::server;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use server::*;

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
    let mut script = vec![
        send(OK_HEAD),
        send("event: join\ndata: ada\n\nevent: chat\ndata: hi\n\ndata: plain\n\n"),
    ];
    // The second half comes once the test has called Off.
    script.push(Step::WaitForGate);
    script.push(send("event: join\ndata: bob\n\nevent: chat\ndata: yo\n\n"));
    script.push(Step::HoldUntilClientCloses);
    let server = ScriptedServer::start(vec![script]);
    let mut app = test_app();
    app.init_resource::<Seen>();
    collect::<SseMessage>(&mut app);
    let source = app
        .world_mut()
        .spawn(EventSource::new(server.url("/")))
        .id();
    app.world_mut()
        .commands()
        .entity(source)
        .on_sse_event("join", on_join)
        .on_sse_event("chat", on_chat);

    update_until(&mut app, "three messages", |app| {
        collected::<SseMessage>(app).len() == 3
    });
    assert_eq!(app.world().resource::<Seen>().0, ["join:ada", "chat:hi"]);

    app.world_mut()
        .commands()
        .entity(source)
        .off_sse_event("chat");
    app.update();
    server.open_gate();
    update_until(&mut app, "five messages", |app| {
        collected::<SseMessage>(app).len() == 5
    });
    // Off stopped the chat handler; the join handler and SseMessage kept going.
    assert_eq!(
        app.world().resource::<Seen>().0,
        ["join:ada", "chat:hi", "join:bob"]
    );
}
