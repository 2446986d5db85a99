//! A headless command-line SSE client: prints one JSON object per line for everything a source
//! reports. With no URL it starts the embedded demo server and tails it.
//!
//! ```text
//! cargo run --release --example sse_tail -- [URL] [--header 'Name: value']... [--method M]
//!     [--body STRING] [--last-event-id ID] [--retry-ms N] [--max-events N] [--count]
//!     [--read-timeout-ms N] [--once] [--done-sentinel STRING] [--max-retries N]
//! ```
//!
//! A line `restart` on stdin drops the stream and reconnects at once.

#[path = "support/demo_server.rs"]
mod demo_server;
#[path = "support/loopback.rs"]
mod loopback;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use bevy::app::ScheduleRunnerPlugin;
use bevy::ecs::message::{MessageRegistry, ShouldUpdateMessages};
use bevy::prelude::*;
use bevy_eventsource::prelude::*;
use serde_json::json;

#[derive(Resource, Clone, Debug, Default)]
struct Options {
    url: Option<String>,
    headers: Vec<(String, String)>,
    method: Option<Method>,
    body: Option<String>,
    last_event_id: Option<String>,
    retry: Option<Duration>,
    max_events: Option<u64>,
    count: bool,
    read_timeout: Option<Duration>,
    once: bool,
    done_sentinel: Option<String>,
    max_retries: Option<u32>,
}

/// Lines typed on stdin, read by a thread of their own.
#[derive(Resource)]
struct Stdin(async_channel::Receiver<String>);

#[derive(Component)]
struct Tailed;

#[derive(Resource, Default)]
struct Tally {
    messages: u64,
    data_bytes: u64,
}

/// The loop's frame time.
const FRAME: Duration = Duration::from_millis(1);
/// The shortest wait after a frame in which nothing came.
const SHORTEST_WAIT: Duration = Duration::from_micros(50);

fn main() -> ExitCode {
    let mut options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("sse_tail: {error}");
            return ExitCode::from(2);
        }
    };
    if options.url.is_none() {
        let addr = demo_server::start(demo_server::DemoConfig::default());
        eprintln!(
            "sse_tail: no URL given; tailing the embedded demo server at http://{addr}/events"
        );
        options.url = Some(format!("http://{addr}/events"));
        options.max_events.get_or_insert(20);
    }

    let mut app = App::new();
    // The default settings, the byte budget (1 MiB) included, which `run` paces its frames by. A
    // 128 KiB part of short events counts about half a MiB against the budget, so a smaller one
    // holds one batch at a time and the IO thread and this one take turns (README, "Whole
    // processes and many sources").
    let plugin = SsePlugin::default();
    let budget = plugin.max_queued_bytes;
    app.add_plugins((
        // The frame loop is `run`'s.
        MinimalPlugins.build().disable::<ScheduleRunnerPlugin>(),
        plugin,
    ))
    .set_runner(move |app| run(app, budget))
    .insert_resource(options.clone())
    .init_resource::<Tally>()
    .add_systems(Startup, spawn_source)
    .add_systems(
        Update,
        (count_messages, exit_when_done, restart_on_stdin).chain(),
    )
    .add_systems(Last, update_messages_every_frame);
    let (lines, stdin) = async_channel::unbounded();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if lines.send_blocking(line).is_err() {
                break;
            }
        }
    });
    app.insert_resource(Stdin(stdin));
    if !options.count {
        app.add_observer(print_open)
            .add_observer(print_message)
            .add_observer(print_comment)
            .add_observer(print_error);
    }
    app.add_observer(print_closed);
    match app.run() {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    }
}

/// The frame loop (`budget`: the plugin's byte budget): a frame at most every millisecond,
/// sooner while the stream is fast. After each frame it waits as long as the stream, at the rate the last frame took it in, needs to
/// fill a quarter of the byte budget, counted as the budget counts it (the body bytes and each
/// event's report, about the size of its message), and never more than a millisecond. A fast
/// stream is then taken in before the budget fills and the IO thread has to wait for the game;
/// a slower one is taken in a millisecond's worth at a time (frames back to back would each take
/// a handful of events, at a cost per frame). After a frame in which nothing came, it waits
/// twice as long as the last time, from 50 µs up to a millisecond: a quiet stream sleeps, and a
/// frame that ran just before the IO thread had handed anything over does not cost a whole
/// millisecond of a fast stream.
///
/// Counting body bytes alone against the budget, for a stream of short events (whose reports
/// are most of what the budget counts) the wait grew to a millisecond a frame: with a 256 KiB
/// budget, a million LLM tokens took 0.70 s instead of 0.09 s.
fn run(mut app: App, budget: usize) -> AppExit {
    // As Bevy's own runner starts.
    while app.plugins_state() == bevy::app::PluginsState::Adding {
        bevy::tasks::tick_global_task_pools_on_main_thread();
    }
    app.finish();
    app.cleanup();
    let quarter = (budget / 4) as f64;
    let per_event = std::mem::size_of::<SseMessage>() as u64;
    let mut counted = 0;
    let mut previous = std::time::Instant::now();
    let mut wait = SHORTEST_WAIT;
    loop {
        let started = std::time::Instant::now();
        app.update();
        if let Some(exit) = app.should_exit() {
            return exit;
        }
        let stats = app.world().resource::<SseStats>();
        let total = stats.total_bytes + stats.total_messages * per_event;
        let took = total - std::mem::replace(&mut counted, total);
        // What came in since the last frame began, at that rate: how long a quarter takes.
        let since = started.duration_since(std::mem::replace(&mut previous, started));
        wait = if took == 0 {
            (wait * 2).clamp(SHORTEST_WAIT, FRAME)
        } else {
            since.mul_f64(quarter / took as f64).min(FRAME)
        };
        std::thread::sleep(wait.saturating_sub(started.elapsed()));
    }
}

/// Bevy keeps messages until two fixed timesteps have run (31 ms at the default 64 Hz), for
/// `FixedUpdate` systems; this app has none. At millions of events a second and 1 ms frames that
/// alone held 137,000 messages (30 MB); a fixed timestep as short as the shortest frame still let
/// frames run back to back between two of its steps, and one frame's buffer of messages grew to
/// 2 MiB (heaptrack, one chunk per event). Signalled at the end of every frame, the next frame
/// drops the messages of the one before it.
fn update_messages_every_frame(mut registry: ResMut<MessageRegistry>) {
    registry.should_update = ShouldUpdateMessages::Ready;
}

fn spawn_source(mut commands: Commands, options: Res<Options>) {
    let mut source = EventSource::new(options.url.clone().unwrap_or_default());
    for (name, value) in &options.headers {
        source = source.with_header(name, value);
    }
    if let Some(method) = &options.method {
        source = source.with_method(method.clone());
    }
    if let Some(body) = &options.body {
        source = source.with_body(body.clone());
    }
    if let Some(timeout) = options.read_timeout {
        source = source.with_read_timeout(timeout);
    }
    if options.once {
        source = source.once();
    }
    if let Some(sentinel) = &options.done_sentinel {
        source = source.with_done_sentinel(sentinel.clone());
    }
    let mut entity = commands.spawn((source, Tailed));
    if let Some(retries) = options.max_retries {
        // --max-retries N: N reconnections after a failure, so N + 1 failed attempts in a row.
        entity.insert(RetryPolicy::default().with_max_attempts(retries.saturating_add(1)));
    }
    if let Some(id) = &options.last_event_id {
        entity.insert(LastEventId(id.clone()));
    }
    if let Some(retry) = options.retry {
        entity.insert(ReconnectionTime(retry));
    }
}

fn line(value: serde_json::Value) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(stdout, "{value}").and_then(|()| stdout.flush());
}

fn print_open(_: On<SseOpened>) {
    line(json!({"kind": "open"}));
}

fn print_message(message: On<SseMessage>, options: Res<Options>, mut printed: Local<u64>) {
    // Messages past --max-events that arrived in the same frame are not shown.
    if options.max_events.is_some_and(|max| *printed >= max) {
        return;
    }
    *printed += 1;
    line(json!({
        "kind": "message",
        "event": message.event_type(),
        "data": message.data(),
        "last_event_id": message.last_event_id(),
    }));
}

fn print_comment(comment: On<SseComment>) {
    line(json!({"kind": "comment", "text": comment.text}));
}

fn print_error(error: On<SseErrored>) {
    line(json!({"kind": "error", "message": error.error.to_string()}));
}

fn print_closed(closed: On<SseClosed>, mut exit: MessageWriter<AppExit>) {
    line(json!({"kind": "closed", "reason": closed.reason.to_string()}));
    exit.write(AppExit::Success);
}

fn count_messages(
    mut messages: MessageReader<SseMessage>,
    mut tally: ResMut<Tally>,
    options: Res<Options>,
) {
    let room = options
        .max_events
        .map_or(u64::MAX, |max| max - tally.messages);
    for message in messages
        .read()
        .take(usize::try_from(room).unwrap_or(usize::MAX))
    {
        tally.messages += 1;
        tally.data_bytes += message.data().len() as u64;
    }
}

fn exit_when_done(
    options: Res<Options>,
    tally: Res<Tally>,
    mut exit: MessageWriter<AppExit>,
    mut exiting: Local<bool>,
) {
    if *exiting || options.max_events.is_none_or(|max| tally.messages < max) {
        return;
    }
    *exiting = true;
    if options.count {
        line(
            json!({"kind": "summary", "messages": tally.messages, "data_bytes": tally.data_bytes}),
        );
    }
    exit.write(AppExit::Success);
}

fn restart_on_stdin(
    stdin: Res<Stdin>,
    sources: Query<Entity, With<Tailed>>,
    mut commands: Commands,
) {
    while let Ok(line) = stdin.0.try_recv() {
        if line.trim() == "restart" {
            for source in &sources {
                commands.entity(source).reconnect_event_source();
            }
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--header" => {
                let header = value("--header")?;
                let (name, value) = header
                    .split_once(':')
                    .ok_or_else(|| format!("--header {header:?} is not 'Name: value'"))?;
                options.headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
            "--method" => {
                let method = value("--method")?;
                options.method = Some(
                    Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                        .map_err(|_| format!("bad method {method:?}"))?,
                );
            }
            "--body" => options.body = Some(value("--body")?),
            "--last-event-id" => options.last_event_id = Some(value("--last-event-id")?),
            "--retry-ms" => options.retry = Some(Duration::from_millis(number(&value("--retry-ms")?)?)),
            "--max-events" => options.max_events = Some(number(&value("--max-events")?)?),
            "--count" => options.count = true,
            "--read-timeout-ms" => {
                options.read_timeout = Some(Duration::from_millis(number(&value("--read-timeout-ms")?)?));
            }
            "--once" => options.once = true,
            "--done-sentinel" => options.done_sentinel = Some(value("--done-sentinel")?),
            "--max-retries" => {
                let retries = number(&value("--max-retries")?)?;
                options.max_retries = Some(u32::try_from(retries).map_err(|_| format!("--max-retries {retries} is too large"))?);
            }
            "-h" | "--help" => return Err("usage: sse_tail [URL] [--header 'Name: value']... [--method M] [--body S] [--last-event-id ID] [--retry-ms N] [--max-events N] [--count] [--read-timeout-ms N] [--once] [--done-sentinel S] [--max-retries N]".into()),
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            url if options.url.is_none() => options.url = Some(url.to_owned()),
            extra => return Err(format!("unexpected argument {extra:?}")),
        }
    }
    Ok(options)
}

fn number(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a whole number"))
}
