//! Game code calls back into the plugin at any moment: in the frame a source is spawned, and
//! from observers and named handlers in the middle of a transition or a batch. Each time the
//! game gets exactly what it asked for: one live attempt, the request it set, no stale timer.
//! On the in-memory transport: no socket, no sleep.

use crate::support::app::*;

use ReadyState::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use bevy_eventsource::transport::MemoryTransport;

const URL: &str = "http://game.test/feed";

#[test]
fn spawn_and_close_in_one_frame_sends_nothing() {
    let (mut app, network) = memory_app();
    let source = app.world_mut().spawn(EventSource::new(URL)).id();
    app.world_mut()
        .commands()
        .entity(source)
        .close_event_source();
    updates(&mut app, 5);
    assert!(network.attempts().is_empty(), "{:?}", network.attempts());
    assert_eq!(
        transitions(&app, source),
        [(Initial, Closing), (Closing, Closed)]
    );
    assert_eq!(closes(&app), [(source, "requested")]);
}

#[test]
fn a_one_shot_post_closed_in_its_spawn_frame_never_sends_its_body() {
    let (mut app, network) = memory_app();
    let mut commands = app.world_mut().commands();
    let source = commands
        .spawn(
            EventSource::new(URL)
                .with_method(Method::POST)
                .with_body("{\"prompt\":\"hi\"}")
                .once(),
        )
        .close_event_source()
        .id();
    updates(&mut app, 5);
    assert!(network.attempts().is_empty());
    assert_eq!(closes(&app), [(source, "requested")]);
}

#[test]
fn spawn_and_reconnect_in_one_frame_sends_one_request() {
    let (mut app, network) = memory_app();
    let source = app.world_mut().spawn(EventSource::new(URL)).id();
    app.world_mut()
        .commands()
        .entity(source)
        .reconnect_event_source();
    updates(&mut app, 5);
    assert_eq!(network.attempts().len(), 1);
    assert_eq!(transitions(&app, source), [(Initial, Connecting)]);
}

/// Refreshes the token and reconnects, once.
fn refresh_and_reconnect(
    entity: Entity,
    sources: &mut Query<&mut EventSource>,
    commands: &mut Commands,
) {
    let mut source = sources.get_mut(entity).unwrap();
    if source.headers()[0].1 == "Bearer old" {
        source.set_header("Authorization", "Bearer new");
        commands.entity(entity).reconnect_event_source();
    }
}

fn spawn_with_old_token(app: &mut App) -> Entity {
    app.world_mut()
        .spawn(EventSource::new(URL).with_header("Authorization", "Bearer old"))
        .id()
}

/// A source whose `SseErrored` observer refreshes the token and reconnects.
fn spawn_refreshing_on_error(app: &mut App) -> Entity {
    let source = spawn_with_old_token(app);
    app.world_mut().entity_mut(source).observe(
        |error: On<SseErrored>, mut sources: Query<&mut EventSource>, mut commands: Commands| {
            refresh_and_reconnect(error.entity, &mut sources, &mut commands);
        },
    );
    source
}

/// The game's new attempt is the only one, runs with the new token, and nothing later replaces
/// or cancels it.
fn assert_the_refreshed_attempt_runs(app: &mut App, network: &MemoryTransport, source: Entity) {
    let attempts = network.attempts_of(source);
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[1].headers()["authorization"], "Bearer new");
    assert_eq!(network.live_attempts().len(), 1);
    assert!(attempts[1].is_live());
    // Long past any reconnection time: no stale retry starts a third attempt.
    updates(app, 200);
    assert_eq!(network.attempts_of(source).len(), 2);
    attempts[1].open().send("data: fresh\n\n");
    app.update();
    assert_eq!(state(app, source), Open);
    assert_eq!(data(app).last().map(String::as_str), Some("fresh"));
    assert!(closes(app).is_empty(), "{:?}", closes(app));
}

#[test]
fn an_error_observer_that_refreshes_the_token_on_a_401_gets_its_attempt() {
    let (mut app, network) = memory_app();
    let source = spawn_refreshing_on_error(&mut app);
    app.update();
    network.last_attempt(source).unwrap().refuse(401);
    app.update();
    assert_the_refreshed_attempt_runs(&mut app, &network, source);
}

#[test]
fn an_error_observer_that_refreshes_the_token_on_a_dropped_stream_gets_its_attempt() {
    let (mut app, network) = memory_app();
    let source = spawn_refreshing_on_error(&mut app);
    app.update();
    let first = network.last_attempt(source).unwrap();
    first.open().send("data: one\n\n");
    app.update();
    first.end_stream();
    app.update();
    assert_the_refreshed_attempt_runs(&mut app, &network, source);
}

#[test]
fn a_retrying_observer_that_refreshes_the_token_gets_its_attempt() {
    let (mut app, network) = memory_app();
    let source = spawn_with_old_token(&mut app);
    app.world_mut().entity_mut(source).observe(
        |retry: On<SseRetrying>, mut sources: Query<&mut EventSource>, mut commands: Commands| {
            refresh_and_reconnect(retry.entity, &mut sources, &mut commands);
        },
    );
    app.update();
    network.last_attempt(source).unwrap().end_stream();
    app.update();
    assert_the_refreshed_attempt_runs(&mut app, &network, source);
}

#[derive(Resource, Default)]
struct Kicked(Vec<String>);

fn spawn_with_handler<M>(
    app: &mut App,
    handler: impl IntoSystem<In<SseMessage>, (), M> + Send + 'static,
) -> Entity {
    app.init_resource::<Kicked>();
    let mut commands = app.world_mut().commands();
    let source = commands
        .spawn(EventSource::new(URL))
        .on_sse_event("kick", handler)
        .id();
    app.update();
    source
}

/// One batch: a message, the `kick` the handler reacts to, and two more after it.
const BATCH: &str = "data: before\n\nevent: kick\ndata: kick\n\ndata: after\n\ndata: later\n\n";

/// A source whose `kick` handler is `handler`, after [`BATCH`]: the messages up to the kick
/// arrived, none after it.
fn kick_mid_batch<M>(
    handler: impl IntoSystem<In<SseMessage>, (), M> + Send + 'static,
) -> (App, MemoryTransport, Entity) {
    let (mut app, network) = memory_app();
    let source = spawn_with_handler(&mut app, handler);
    network.last_attempt(source).unwrap().open().send(BATCH);
    updates(&mut app, 3);
    assert_eq!(data(&app), ["before", "kick"]);
    (app, network, source)
}

#[test]
fn a_named_handler_that_closes_its_source_mid_batch_stops_the_batch() {
    let (app, network, source) =
        kick_mid_batch(|In(message): In<SseMessage>, mut commands: Commands| {
            commands.entity(message.entity).close_event_source();
        });
    assert_eq!(state(&app, source), Closed);
    assert_eq!(closes(&app), [(source, "requested")]);
    assert!(network.live_attempts().is_empty());
}

#[test]
fn a_named_handler_that_closes_and_reopens_mid_batch_gets_one_fresh_attempt() {
    let (app, network, source) = kick_mid_batch(
        |In(message): In<SseMessage>, mut commands: Commands, mut kicked: ResMut<Kicked>| {
            kicked.0.push(message.data().to_owned());
            commands
                .entity(message.entity)
                .close_event_source()
                .open_event_source();
        },
    );
    assert_eq!(app.world().resource::<Kicked>().0, ["kick"]);
    let attempts = network.attempts_of(source);
    assert_eq!(attempts.len(), 2);
    assert!(attempts[0].is_cancelled());
    assert_eq!(network.live_attempts().len(), 1);
    assert_eq!(state(&app, source), Connecting);
    assert_eq!(closes(&app), [(source, "requested")]);
}

#[test]
fn a_named_handler_that_despawns_its_source_mid_batch_stops_the_batch() {
    let (app, network, source) =
        kick_mid_batch(|In(message): In<SseMessage>, mut commands: Commands| {
            commands.entity(message.entity).despawn();
        });
    assert!(app.world().get_entity(source).is_err());
    assert_eq!(closes(&app), [(source, "despawned")]);
    assert!(network.live_attempts().is_empty());
}

#[test]
fn every_close_says_why() {
    let (mut app, network) = memory_app();
    let world = app.world_mut();
    let requested = world.spawn(EventSource::new(URL)).id();
    let sentinel = world
        .spawn(EventSource::new(URL).with_done_sentinel("[DONE]"))
        .id();
    let one_shot = world.spawn(EventSource::new(URL).once()).id();
    let one_shot_failed = world.spawn(EventSource::new(URL).once()).id();
    let refused = world.spawn(EventSource::new(URL)).id();
    let gave_up = world
        .spawn((
            EventSource::new(URL),
            RetryPolicy::default().with_max_attempts(1),
        ))
        .id();
    let vetoed = world
        .spawn(EventSource::new(URL))
        .observe(|mut retry: On<SseRetrying>| retry.event_mut().veto())
        .id();
    let removed = world.spawn(EventSource::new(URL)).id();
    let despawned = world.spawn(EventSource::new(URL)).id();
    app.update();
    let attempt = |source| network.last_attempt(source).unwrap();
    app.world_mut()
        .commands()
        .entity(requested)
        .close_event_source();
    attempt(sentinel).open().send("data: [DONE]\n\n");
    attempt(one_shot).open().send("data: all\n\n").end_stream();
    attempt(one_shot_failed).refuse(503);
    attempt(refused).refuse(401);
    attempt(gave_up).end_stream();
    attempt(vetoed).end_stream();
    app.world_mut().entity_mut(removed).remove::<EventSource>();
    app.world_mut().despawn(despawned);
    app.update();
    let mut seen = closes(&app);
    seen.sort();
    let mut expected = vec![
        (requested, "requested"),
        (sentinel, "done sentinel"),
        (one_shot, "one-shot complete"),
        (one_shot_failed, "refused"),
        (refused, "refused"),
        (gave_up, "gave up"),
        (vetoed, "vetoed"),
        (removed, "removed"),
        (despawned, "despawned"),
    ];
    expected.sort();
    assert_eq!(seen, expected);
    // Each close is announced once, and the errors ride along.
    let closed = collected::<SseClosed>(&app);
    let refusal = closed.iter().find(|c| c.entity == refused).unwrap();
    assert!(matches!(
        refusal.reason.error(),
        Some(SseError::Status { status: 401, .. })
    ));
}

#[test]
fn a_one_shot_that_fails_transiently_closes_as_one_shot_failed() {
    let (mut app, network) = memory_app();
    let source = app.world_mut().spawn(EventSource::new(URL).once()).id();
    app.update();
    let attempt = network.last_attempt(source).unwrap();
    attempt.open();
    attempt.fail(|url| SseError::ReadTimeout {
        url,
        timeout: std::time::Duration::from_secs(1),
    });
    updates(&mut app, 3);
    assert_eq!(closes(&app), [(source, "one-shot failed")]);
    assert_eq!(network.attempts().len(), 1);
}

#[test]
fn a_global_observer_hears_of_a_despawned_source() {
    #[derive(Resource, Default)]
    struct Heard(Vec<Entity>);
    let (mut app, _network) = memory_app();
    app.init_resource::<Heard>()
        .add_observer(|closed: On<SseClosed>, mut heard: ResMut<Heard>| {
            heard.0.push(closed.entity)
        });
    let source = app.world_mut().spawn(EventSource::new(URL)).id();
    app.update();
    app.world_mut().despawn(source);
    app.update();
    assert_eq!(app.world().resource::<Heard>().0, [source]);
}

#[test]
fn a_source_whose_component_is_removed_and_inserted_again_reopens() {
    let (mut app, network) = memory_app();
    let source = app.world_mut().spawn(EventSource::new(URL)).id();
    app.update();
    app.world_mut().entity_mut(source).remove::<EventSource>();
    app.update();
    assert_eq!(state(&app, source), Closed);
    assert!(network.attempts()[0].is_cancelled());
    app.world_mut()
        .entity_mut(source)
        .insert(EventSource::new("http://game.test/other"));
    app.update();
    let attempts = network.attempts_of(source);
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1].url(), "http://game.test/other");
    assert_eq!(state(&app, source), Connecting);
}

#[test]
fn spawn_and_despawn_in_one_command_queue_is_quiet() {
    let (mut app, network) = memory_app();
    let mut commands = app.world_mut().commands();
    let source = commands.spawn(EventSource::new(URL)).id();
    commands.entity(source).despawn();
    updates(&mut app, 3);
    assert!(network.attempts().is_empty());
    assert!(app.world().get_entity(source).is_err());
}

/// Found by the lifecycle fuzz target: an observer of the source despawned in the same command
/// queue as a reconnection (the supported form; see the note in `fuzz/fuzz_targets/lifecycle.rs`
/// for the raw-world form that Bevy 0.19.1 itself gets wrong).
#[test]
fn an_observer_despawned_with_a_reconnect_in_one_command_queue() {
    let (mut app, network) = memory_app();
    let source = app.world_mut().spawn(EventSource::new(URL)).id();
    let observer = app
        .world_mut()
        .spawn(
            Observer::new(|changed: On<SseStateChanged>, mut commands: Commands| {
                if changed.new == Open {
                    commands.entity(changed.entity).close_event_source();
                }
            })
            .with_entity(source),
        )
        .id();
    app.update();
    let mut commands = app.world_mut().commands();
    commands.entity(observer).despawn();
    commands.entity(source).reconnect_event_source();
    updates(&mut app, 2);
    assert_eq!(network.attempts_of(source).len(), 2);
    assert_eq!(state(&app, source), Connecting);
    // The observer is gone: the new stream opens and stays open.
    network.last_attempt(source).unwrap().open();
    updates(&mut app, 2);
    assert_eq!(state(&app, source), Open);
    assert!(closes(&app).is_empty());
}
