//! The IO thread cannot start (no file descriptor left for its runtime's event queue): the
//! attempt fails with a typed, non-fatal error instead of a panic, the source waits to reconnect,
//! and once descriptors are free again the next attempt starts the thread and the stream flows.
//! A binary of its own: it lowers the whole process's file descriptor limit, and no other test's
//! app may have started an IO thread in this process.

#[path = "it/support/server.rs"]
mod server;

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use server::{OK_HEAD, ScriptedServer, Step, send};

#[derive(Resource, Default)]
struct Seen {
    errors: Vec<SseError>,
    data: Vec<String>,
}

fn update_until(app: &mut App, what: &str, done: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done(app.world().resource::<Seen>()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        app.update();
        std::thread::yield_now();
    }
}

#[test]
fn an_io_thread_that_cannot_start_is_a_typed_error_and_the_next_attempt_starts_it() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: hello\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, SsePlugin::default()))
        .init_resource::<Seen>()
        .add_systems(
            Update,
            |mut errors: MessageReader<SseErrored>,
             mut messages: MessageReader<SseMessage>,
             mut seen: ResMut<Seen>| {
                for errored in errors.read() {
                    seen.errors.push(errored.error.clone());
                }
                for message in messages.read() {
                    seen.data.push(message.data().to_owned());
                }
            },
        );
    app.update();
    let source = app
        .world_mut()
        .spawn((
            EventSource::new(format!("http://{}/", server.addr)),
            ReconnectionTime(Duration::from_millis(20)),
        ))
        .id();

    // No new file descriptor from here on: the runtime's epoll instance cannot be created.
    let limit = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(0),
            maximum: limit.maximum,
        },
    )
    .expect("lower the file descriptor limit");
    // Not `update_until`: the limit goes back before anything is asserted, so that a failure
    // here still reports (and the rest of the process can open files).
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.world().resource::<Seen>().errors.is_empty() && Instant::now() < deadline {
        app.update();
    }
    let state = *app.world().get::<ReadyState>(source).unwrap();
    setrlimit(Resource::Nofile, limit).expect("restore the file descriptor limit");

    let errors = &app.world().resource::<Seen>().errors;
    assert!(
        matches!(errors.first(), Some(SseError::IoThread { .. })),
        "{errors:?}"
    );
    let error = &errors[0];
    assert!(!error.is_fatal(), "{error}");
    assert!(
        error
            .to_string()
            .contains("the IO thread could not be started"),
        "{error}"
    );
    assert_eq!(state, ReadyState::Retrying, "the source waits to reconnect");

    update_until(&mut app, "the stream, once the thread starts", |seen| {
        !seen.data.is_empty()
    });
    assert_eq!(app.world().resource::<Seen>().data, ["hello"]);
    assert_eq!(
        *app.world().get::<ReadyState>(source).unwrap(),
        ReadyState::Open
    );
}
