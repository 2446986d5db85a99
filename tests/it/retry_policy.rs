//! `RetryPolicy`: backoff over failed attempts, reset by a healthy one, clamped server `retry:`,
//! jitter bounds, giving up (on the in-memory transport); opt-in retry of overload statuses with
//! `Retry-After` (against a real server, which sends the header).

use crate::support::app;
use crate::support::server;

use std::time::Duration;

use app::*;
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use server::*;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn delays(app: &App) -> Vec<Duration> {
    collected::<SseRetrying>(app)
        .iter()
        .map(|r| r.delay)
        .collect()
}

fn spawn(app: &mut App, source: EventSource, policy: RetryPolicy, time: Duration) -> Entity {
    collect::<SseRetrying>(app);
    collect::<SseErrored>(app);
    collect::<SseMessage>(app);
    app.world_mut()
        .spawn((source, policy, ReconnectionTime(time)))
        .id()
}

/// A source on the in-memory transport with this policy and reconnection time.
fn spawn_in_memory(
    policy: RetryPolicy,
    time: Duration,
) -> (App, bevy_eventsource::transport::MemoryTransport, Entity) {
    let (mut app, network) = memory_app();
    let source = app
        .world_mut()
        .spawn((
            EventSource::new("http://game.test/"),
            policy,
            ReconnectionTime(time),
        ))
        .id();
    app.update();
    (app, network, source)
}

/// Ends each attempt as soon as it starts, after `stream` (opened first unless empty), until
/// the source has made `attempts` attempts or closed.
fn run_attempts(
    app: &mut App,
    network: &bevy_eventsource::transport::MemoryTransport,
    source: Entity,
    attempts: usize,
    stream: impl Fn(usize) -> &'static str,
) {
    for _ in 0..10_000 {
        let started = network.attempts_of(source);
        let last = started.last().unwrap();
        if last.is_live() {
            let body = stream(started.len());
            if !body.is_empty() {
                last.open().send(body);
            }
            if started.len() < attempts {
                last.end_stream();
            }
        }
        app.update();
        if state(app, source) == ReadyState::Closed || started.len() == attempts {
            return;
        }
    }
    panic!("never got to {attempts} attempts");
}

#[test]
fn failed_attempts_back_off_exponentially_then_give_up() {
    let policy = RetryPolicy::default()
        .with_jitter(0.0)
        .with_backoff(2.0, ms(350))
        .with_max_attempts(5);
    let (mut app, network, source) = spawn_in_memory(policy, ms(100));
    // Every attempt ends at once, with no event: each one is a failure.
    run_attempts(&mut app, &network, source, 6, |_| "");
    // 100, 200, 400 capped at 350, 350; the fifth failure gives up.
    assert_eq!(delays(&app), [ms(100), ms(200), ms(350), ms(350)]);
    let attempts: Vec<u32> = collected::<SseRetrying>(&app)
        .iter()
        .map(|r| r.attempt)
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4]);
    let errors = collected::<SseErrored>(&app);
    assert!(matches!(
        errors.last().unwrap().error,
        SseError::GaveUp { attempts: 5, .. }
    ));
    assert!(errors.last().unwrap().error.to_string().contains("gave up"));
    assert_eq!(network.attempts().len(), 5);
    assert_eq!(closes(&app), [(source, "gave up")]);
}

#[test]
fn an_attempt_that_delivered_an_event_resets_the_backoff() {
    let policy = RetryPolicy::default().with_jitter(0.0);
    let (mut app, network, source) = spawn_in_memory(policy, ms(100));
    run_attempts(&mut app, &network, source, 4, |attempt| match attempt {
        3 => "data: healthy\n\n",
        _ => "",
    });
    assert_eq!(delays(&app), [ms(100), ms(200), ms(100)]);
    let attempts: Vec<u32> = collected::<SseRetrying>(&app)
        .iter()
        .map(|r| r.attempt)
        .collect();
    assert_eq!(attempts, [1, 2, 1]);
}

#[test]
fn a_server_retry_is_clamped_but_a_game_value_is_used_as_given() {
    let policy = RetryPolicy::default().with_jitter(0.0);
    let (mut app, network, source) = spawn_in_memory(policy.clone(), ms(5));
    run_attempts(&mut app, &network, source, 2, |_| "retry: 0\ndata: a\n\n");
    assert_eq!(delays(&app), [ms(100)], "retry: 0 is raised to the floor");
    assert_eq!(
        app.world().get::<ReconnectionTime>(source).unwrap().0,
        ms(100)
    );

    // The game's own 5 ms, with no server retry, is not raised.
    let (mut app, network, source) = spawn_in_memory(policy, ms(5));
    run_attempts(&mut app, &network, source, 2, |_| "data: a\n\n");
    assert_eq!(delays(&app), [ms(5)]);
}

#[test]
fn jitter_adds_at_most_its_fraction() {
    let policy = RetryPolicy::default().with_jitter(0.1);
    let (mut app, network, source) = spawn_in_memory(policy, ms(100));
    run_attempts(&mut app, &network, source, 20, |_| "data: a\n\n");
    let delays = delays(&app);
    assert_eq!(delays.len(), 19);
    for &delay in &delays {
        assert!((ms(100)..=ms(110)).contains(&delay), "{delay:?}");
    }
    assert!(delays.iter().any(|&delay| delay != delays[0]), "{delays:?}");
}

const UNAVAILABLE: &str =
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3\r\nContent-Length: 0\r\n\r\n";

#[test]
fn an_opted_in_overload_status_retries_after_retry_after() {
    let server = ScriptedServer::start(vec![
        vec![send(UNAVAILABLE)],
        vec![
            send(OK_HEAD),
            send("data: back\n\n"),
            Step::HoldUntilClientCloses,
        ],
    ]);
    let mut app = test_app();
    let policy = RetryPolicy::default().with_jitter(0.0).retry_on_overload();
    let source = spawn(&mut app, EventSource::new(server.url("/")), policy, ms(100));
    update_until(&mut app, "the message after the 503", |app| {
        !collected::<SseMessage>(app).is_empty()
    });
    assert_eq!(delays(&app), [Duration::from_secs(3)]);
    let errors = collected::<SseErrored>(&app);
    assert!(matches!(
        errors[0].error,
        SseError::Status {
            status: 503,
            retry_after: Some(after),
            ..
        } if after == Duration::from_secs(3)
    ));
    assert_eq!(state(&app, source), ReadyState::Open);
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let when = std::time::SystemTime::now() + Duration::from_secs(5);
    let response = format!(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {}\r\nContent-Length: 0\r\n\r\n",
        httpdate::fmt_http_date(when)
    );
    let server = ScriptedServer::start(vec![
        vec![send(response)],
        vec![send(OK_HEAD), Step::HoldUntilClientCloses],
    ]);
    let mut app = test_app();
    let policy = RetryPolicy::default().with_jitter(0.0).retry_on_overload();
    spawn(&mut app, EventSource::new(server.url("/")), policy, ms(100));
    update_until(&mut app, "retrying", |app| !delays(app).is_empty());
    // The date has a resolution of one second.
    let delay = delays(&app)[0];
    assert!((ms(3_500)..=ms(5_000)).contains(&delay), "{delay:?}");
}

#[test]
fn without_opting_in_an_overload_status_closes_and_204_always_does() {
    for response in [
        UNAVAILABLE,
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
    ] {
        let server = ScriptedServer::start(vec![vec![send(response)]]);
        let mut app = test_app();
        let mut policy = RetryPolicy::default();
        if response.contains("204") {
            policy.retry_statuses.push(204);
        }
        let source = spawn(&mut app, EventSource::new(server.url("/")), policy, ms(10));
        update_until(&mut app, "closed", |app| {
            state(app, source) == ReadyState::Closed
        });
        for _ in 0..5 {
            app.update();
        }
        assert_eq!(server.requests().len(), 1, "{response}");
        assert!(delays(&app).is_empty());
    }
}
