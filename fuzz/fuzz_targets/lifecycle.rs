//! The state machine under game commands: a fuzzer-chosen interleaving of transport reports
//! (opened, bytes, ended with each kind of error) and game actions (close, open, reconnect,
//! set a header, despawn and respawn, add and remove named handlers and observers that
//! themselves close, reopen, reconnect, despawn or veto, a paused clock, time passing)
//! over three sources on the in-memory transport, with a budget of 5 messages a frame (so that
//! frames leave work for the next as well as apply batches as they come).
//!
//! Invariants: no panic; `ReadyState` changes only along `ReadyState::can_change_to`, every
//! change is announced once (each announcement starts from the state the previous one ended in,
//! and the component matches the last one); at most one live attempt per source, none while it
//! is `Closed` or `Retrying`; nothing is delivered for a source after its `SseClosed` until it
//! connects again; the last event ID of the messages never goes backwards within an attempt.
#![no_main]

use std::time::Duration;

use bevy::ecs::schedule::SingleThreadedExecutor;
use bevy::platform::collections::HashMap;
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy_eventsource::parser::ParserLimits;
use bevy_eventsource::prelude::*;
use bevy_eventsource::transport::MemoryTransport;
use libfuzzer_sys::fuzz_target;

const SOURCES: usize = 3;
const URL: &str = "http://fuzz.test/feed";

/// What the invariant observers know of each source.
#[derive(Resource, Default)]
struct Seen {
    /// The state the last announcement ended in.
    state: HashMap<Entity, ReadyState>,
    /// `SseClosed` was announced and no attempt started since.
    closed: HashMap<Entity, bool>,
    /// The highest numeric last event ID delivered in the current attempt.
    last_id: HashMap<Entity, u64>,
}

/// What a game callback does to its source.
#[derive(Clone, Copy)]
enum Act {
    Nothing,
    Close,
    Reopen,
    Reconnect,
    Despawn,
    Veto,
}

impl Act {
    fn from(byte: u8) -> Self {
        match byte % 6 {
            0 => Self::Nothing,
            1 => Self::Close,
            2 => Self::Reopen,
            3 => Self::Reconnect,
            4 => Self::Despawn,
            _ => Self::Veto,
        }
    }

    fn run(self, entity: Entity, commands: &mut Commands) {
        let Ok(mut source) = commands.get_entity(entity) else {
            return;
        };
        match self {
            Self::Nothing | Self::Veto => {}
            Self::Close => {
                source.close_event_source();
            }
            Self::Reopen => {
                source.close_event_source().open_event_source();
            }
            Self::Reconnect => {
                source.reconnect_event_source();
            }
            Self::Despawn => {
                source.despawn();
            }
        }
    }
}

fn invariant_observers(app: &mut App) {
    app.init_resource::<Seen>()
        .add_observer(|change: On<SseStateChanged>, mut seen: ResMut<Seen>| {
            let (entity, old, new) = (change.entity, change.old, change.new);
            assert!(old.can_change_to(new), "{old:?} -> {new:?}");
            let before = seen.state.get(&entity).copied().unwrap_or_default();
            assert_eq!(before, old, "announced from {old:?}, but was {before:?}");
            seen.state.insert(entity, new);
            if new == ReadyState::Connecting {
                seen.closed.insert(entity, false);
                seen.last_id.remove(&entity);
            }
        })
        .add_observer(|closed: On<SseClosed>, mut seen: ResMut<Seen>| {
            let entity = closed.entity;
            assert!(
                !seen.closed.get(&entity).copied().unwrap_or(false),
                "closed twice"
            );
            seen.closed.insert(entity, true);
        })
        .add_observer(|message: On<SseMessage>, mut seen: ResMut<Seen>| {
            let entity = message.entity;
            assert!(
                !seen.closed.get(&entity).copied().unwrap_or(false),
                "a message after SseClosed"
            );
            if let Ok(id) = message.last_event_id().parse::<u64>() {
                let last = seen.last_id.entry(entity).or_default();
                assert!(id >= *last, "last event ID went back from {last} to {id}");
                *last = id;
            }
        });
}

/// Checks what can be checked between frames.
fn check(app: &App, network: &MemoryTransport, sources: &[Option<Entity>]) {
    let seen = app.world().resource::<Seen>();
    for entity in sources.iter().flatten() {
        let Some(state) = app.world().get::<ReadyState>(*entity) else {
            continue;
        };
        let announced = seen.state.get(entity).copied().unwrap_or_default();
        assert_eq!(*state, announced, "the component and the announcements differ");
        let live = network
            .attempts_of(*entity)
            .iter()
            .filter(|attempt| attempt.is_live())
            .count();
        assert!(live <= 1, "{live} live attempts");
        if matches!(state, ReadyState::Closed | ReadyState::Retrying) {
            assert_eq!(live, 0, "a live attempt while {state:?}");
        }
    }
}

/// One frame, as far as the plugin is concerned: `First` (time, message buffers) and `PreUpdate`
/// (the plugin's systems). The rest of the main schedule holds nothing here, and building it
/// for every input would cost most of the run.
fn frame(app: &mut App) {
    let world = app.world_mut();
    world.run_schedule(First);
    world.run_schedule(PreUpdate);
    world.flush();
}

fn spawn(app: &mut App, index: usize) -> Entity {
    let source = EventSource::new(format!("{URL}/{index}"))
        .with_header("Authorization", "Bearer 0")
        .with_done_sentinel("[DONE]");
    let policy = RetryPolicy::default()
        .with_jitter(0.0)
        .with_max_attempts(4 + index as u32);
    app.world_mut().spawn((source, policy)).id()
}

fuzz_target!(|input: &[u8]| {
    let network = MemoryTransport::new();
    let mut app = App::new();
    // Time only: no task pools (threads per app) and single-threaded schedules, for speed; the
    // state machine runs on the main thread either way.
    app.add_plugins((
        bevy::time::TimePlugin,
        SsePlugin {
            max_batches_per_frame: 4,
            // Frames that leave work for the next (whose sources then go first) as well as
            // frames that apply batches as they come.
            max_messages_per_frame: std::num::NonZeroUsize::new(5),
            parser_limits: ParserLimits::default().with_max_event_len(24),
            ..SsePlugin::default()
        },
    ))
    .insert_resource(network.clone())
    .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(50)));
    // A game command for an entity that a callback despawned first fails in Bevy (and panics by
    // default), whatever the plugin does; the plugin's own commands check for the entity.
    app.set_error_handler(bevy::ecs::error::ignore);
    invariant_observers(&mut app);
    app.finish();
    app.cleanup();
    for (_, schedule) in app.world_mut().resource_mut::<Schedules>().iter_mut() {
        schedule.set_executor(SingleThreadedExecutor::new());
    }
    let mut sources: Vec<Option<Entity>> = (0..SOURCES).map(|i| Some(spawn(&mut app, i))).collect();
    let mut next_id = 0u64;
    let mut observers: Vec<Entity> = Vec::new();
    let mut bytes = input.iter().copied();
    let mut steps = 0;
    while let (Some(op), Some(arg)) = (bytes.next(), bytes.next()) {
        steps += 1;
        if steps > 120 {
            break;
        }
        let index = usize::from(arg) % SOURCES;
        let act = Act::from(arg / 3);
        let attempt = sources[index].and_then(|entity| network.last_attempt(entity));
        match op % 20 {
            0..=3 => {
                for _ in 0..=(arg % 4) {
                    frame(&mut app);
                    check(&app, &network, &sources);
                }
            }
            4 => {
                if let Some(attempt) = attempt {
                    attempt.open();
                }
            }
            5 | 6 => {
                if let Some(attempt) = attempt {
                    next_id += 1;
                    let chunk = match arg % 8 {
                        0 => format!("id: {next_id}\ndata: {next_id}\n\n"),
                        1 => format!("id: {next_id}\ndata: "),
                        2 => "x\n\n".to_owned(),
                        3 => ": ping\nretry: 30\n".to_owned(),
                        4 => "event: kick\ndata: k\n\n".to_owned(),
                        5 => "data: [DONE]\n\n".to_owned(),
                        6 => "data: far too long for the event size limit\n\n".to_owned(),
                        _ => "id\n\n\r".to_owned(),
                    };
                    attempt.send(chunk);
                }
            }
            7 => {
                if let Some(attempt) = attempt {
                    attempt.end_stream();
                }
            }
            8 => {
                if let Some(attempt) = attempt {
                    let statuses = [401, 204, 503, 500];
                    attempt.refuse_with(
                        statuses[usize::from(arg) % 4],
                        Some(Duration::from_millis(u64::from(arg))),
                    );
                }
            }
            9 => {
                if let Some(attempt) = attempt {
                    attempt.fail(|url| SseError::ReadTimeout {
                        url,
                        timeout: Duration::from_millis(10),
                    });
                }
            }
            10..=12 => {
                if let Some(entity) = sources[index] {
                    let mut commands = app.world_mut().commands();
                    let mut source = commands.entity(entity);
                    match op % 20 {
                        10 => source.close_event_source(),
                        11 => source.open_event_source(),
                        _ => source.reconnect_event_source(),
                    };
                }
            }
            13 => {
                if let Some(entity) = sources[index]
                    && let Some(mut source) = app.world_mut().get_mut::<EventSource>(entity)
                {
                    source.set_header("Authorization", format!("Bearer {arg}"));
                }
            }
            14 => match sources[index] {
                Some(entity) => {
                    // Bevy 0.19.1 unregisters a despawned observer through a command queued
                    // behind those already waiting, and a trigger in between reaches the dead
                    // observer (and panics, with no plugin involved: `world.commands()
                    // .trigger(E)` then `world.entity_mut(observer).despawn()`). Apply what
                    // waits first, as a system's commands would have been.
                    app.world_mut().flush();
                    app.world_mut().despawn(entity);
                    sources[index] = None;
                }
                None => sources[index] = Some(spawn(&mut app, index)),
            },
            15 => {
                if let Some(entity) = sources[index] {
                    let mut commands = app.world_mut().commands();
                    commands.entity(entity).on_sse_event(
                        "kick",
                        move |In(message): In<SseMessage>, mut commands: Commands| {
                            act.run(message.entity, &mut commands);
                        },
                    );
                }
            }
            16 if arg % 2 == 0 => {
                if let Some(entity) = sources[index] {
                    app.world_mut().commands().entity(entity).off_sse_event("kick");
                }
            }
            17 => {
                if let Some(entity) = sources[index] {
                    let observer = match arg % 5 {
                        0 => Observer::new(move |e: On<SseErrored>, mut c: Commands| {
                            act.run(e.entity, &mut c)
                        }),
                        1 => Observer::new(move |mut e: On<SseRetrying>, mut c: Commands| {
                            if matches!(act, Act::Veto) {
                                e.event_mut().veto();
                            }
                            act.run(e.entity, &mut c)
                        }),
                        2 => Observer::new(move |e: On<SseStateChanged>, mut c: Commands| {
                            if e.new == ReadyState::Open {
                                act.run(e.entity, &mut c)
                            }
                        }),
                        3 => Observer::new(move |e: On<SseMessage>, mut c: Commands| {
                            act.run(e.entity, &mut c)
                        }),
                        _ => Observer::new(move |e: On<SseOpened>, mut c: Commands| {
                            act.run(e.entity, &mut c)
                        }),
                    };
                    let id = app.world_mut().spawn(observer.with_entity(entity)).id();
                    observers.push(id);
                }
            }
            16 => {
                // Removes an observer the fuzzer added.
                if !observers.is_empty() {
                    let id = observers.swap_remove(usize::from(arg) % observers.len());
                    // As for despawning a source (above).
                    app.world_mut().flush();
                    if let Ok(observer) = app.world_mut().get_entity_mut(id) {
                        observer.despawn();
                    }
                }
            }
            18 => {
                let mut time = app.world_mut().resource_mut::<Time<Virtual>>();
                if time.is_paused() {
                    time.unpause();
                } else {
                    time.pause();
                }
            }
            _ => {
                // Time passes: one frame of up to 12.75 s, then 50 ms frames again.
                app.insert_resource(TimeUpdateStrategy::ManualDuration(
                    Duration::from_millis(u64::from(arg) * 50),
                ));
                frame(&mut app);
                check(&app, &network, &sources);
                app.insert_resource(TimeUpdateStrategy::ManualDuration(
                    Duration::from_millis(50),
                ));
            }
        }
        // Despawns by game callbacks.
        for slot in &mut sources {
            if slot.is_some_and(|entity| app.world().get_entity(entity).is_err()) {
                *slot = None;
            }
        }
    }
    frame(&mut app);
    check(&app, &network, &sources);
});
