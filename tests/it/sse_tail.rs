//! The `sse_tail` example as a process: its JSON lines, its options, its exit.
//!
//! `cargo test` builds the examples before it runs the tests; this test runs the binary it built.

use crate::support::server;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use server::*;

struct Run {
    code: Option<i32>,
    lines: Vec<Value>,
    stderr: String,
}

fn sse_tail() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    example("sse_tail", &BUILT)
}

/// The binary of a headless example, built once per test run.
fn example(name: &str, built: &std::sync::Once) -> PathBuf {
    // `cargo test --test it` alone does not build examples: make sure it is current.
    // target/<profile>/deps/<this test>
    let mut path = std::env::current_exe().expect("test binary path");
    path.pop();
    path.pop();
    let release = path.ends_with("release");
    built.call_once(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .args(release.then_some("--release"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "building {name} failed");
    });
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing after `cargo build --example {name}`",
        path.display()
    );
    path
}

/// `examples/basic.rs` (the README's "In a game") on its embedded demo server: the `join`
/// handler runs and every event is logged with the source's state.
#[test]
fn the_basic_example_reads_the_demo_lobby() {
    use std::io::BufRead;
    static BUILT: std::sync::Once = std::sync::Once::new();
    let mut child = Command::new(example("basic", &BUILT))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start basic");
    // Bevy's LogPlugin writes to stderr.
    let stdout = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut joined, mut opened) = (false, false);
    while !(joined && opened) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            let _ = child.kill();
            panic!("basic printed no join and open event within 20 s");
        };
        joined |= line.contains("joined: ");
        opened |= line.contains("Open 0 join: ");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `sse_tail` with `args` to its exit, killing it after 20 seconds.
fn run(args: &[&str]) -> Run {
    let mut child = Command::new(sse_tail())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sse_tail");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sse_tail {args:?} did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let lines = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line:?}")))
        .collect();
    Run {
        code: status.code(),
        lines,
        stderr,
    }
}

fn kinds(run: &Run) -> Vec<&str> {
    run.lines
        .iter()
        .map(|line| line["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn prints_every_callback_as_json_and_exits_when_closed() {
    let server = ScriptedServer::start(vec![
        vec![
            send(OK_HEAD),
            send(": hi\nid: 5\nevent: tick\ndata: a\"b\n\n"),
        ],
        vec![send("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")],
    ]);
    let run = run(&[
        &server.url("/stream"),
        "--retry-ms",
        "10",
        "--header",
        "Authorization: Bearer t0k",
        "--method",
        "post",
        "--body",
        "{\"q\":1}",
        "--last-event-id",
        "4",
    ]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(
        kinds(&run),
        ["open", "comment", "message", "error", "error", "closed"]
    );
    assert_eq!(run.lines[1]["text"], " hi");
    assert_eq!(run.lines[2]["event"], "tick");
    assert_eq!(run.lines[2]["data"], "a\"b");
    assert_eq!(run.lines[2]["last_event_id"], "5");
    assert!(run.lines[4]["message"].as_str().unwrap().contains("204"));
    let reason = run.lines[5]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("refused: ") && reason.contains("204"),
        "{reason}"
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].request_line().starts_with("POST /stream "));
    assert_eq!(requests[0].header("authorization"), Some("Bearer t0k"));
    assert_eq!(requests[0].header("last-event-id"), Some("4"));
    assert_eq!(requests[0].body, b"{\"q\":1}");
    assert_eq!(requests[1].header("last-event-id"), Some("5"));
}

#[test]
fn count_prints_only_a_summary() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: abc\n\ndata: de\n\ndata: f\n\ndata: never counted\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let run = run(&[&server.url("/"), "--count", "--max-events", "3"]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(kinds(&run), ["summary"]);
    assert_eq!(run.lines[0]["messages"], 3);
    assert_eq!(run.lines[0]["data_bytes"], 6);
}

#[test]
fn without_a_url_it_tails_the_embedded_demo_server() {
    let run = run(&["--max-events", "5"]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    let messages = run.lines.iter().filter(|l| l["kind"] == "message").count();
    assert_eq!(messages, 5);
    assert_eq!(run.lines[0]["kind"], "open");
}

#[test]
fn bad_options_are_a_usage_error() {
    let run = run(&["--max-events", "many"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("not a whole number"), "{}", run.stderr);
}

#[test]
fn once_with_a_done_sentinel_ends_after_the_sentinel() {
    let server = ScriptedServer::start(vec![vec![
        send(OK_HEAD),
        send("data: tok\n\ndata: [DONE]\n\n"),
        Step::HoldUntilClientCloses,
    ]]);
    let run = run(&[
        &server.url("/"),
        "--once",
        "--done-sentinel",
        "[DONE]",
        "--method",
        "POST",
        "--body",
        "{}",
    ]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(kinds(&run), ["open", "message", "closed"]);
    assert_eq!(run.lines[2]["reason"], "done sentinel");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn max_retries_gives_up_with_an_error() {
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD)]]);
    let run = run(&[&server.url("/"), "--retry-ms", "10", "--max-retries", "1"]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(
        kinds(&run),
        ["open", "error", "open", "error", "error", "closed"]
    );
    assert!(
        run.lines[4]["message"]
            .as_str()
            .unwrap()
            .contains("gave up")
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn read_timeout_reports_a_silent_stream() {
    let server = ScriptedServer::start(vec![vec![send(OK_HEAD), Step::HoldUntilClientCloses]]);
    let run = run(&[&server.url("/"), "--read-timeout-ms", "100", "--once"]);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(kinds(&run), ["open", "error", "closed"]);
    assert!(
        run.lines[1]["message"]
            .as_str()
            .unwrap()
            .contains("no data for 100ms")
    );
}

#[test]
fn restart_on_stdin_reconnects_with_the_last_event_id() {
    use std::io::{BufRead, BufReader, Write};
    let server = ScriptedServer::start(vec![
        vec![
            send(OK_HEAD),
            send("id: 1\ndata: a\n\n"),
            Step::HoldUntilClientCloses,
        ],
        vec![
            send(OK_HEAD),
            send("data: b\n\n"),
            Step::HoldUntilClientCloses,
        ],
    ]);
    let mut child = Command::new(sse_tail())
        .args([&server.url("/"), "--max-events", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start sse_tail");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(20))
            .expect("sse_tail went quiet")
    };
    assert!(next().contains("\"open\""));
    assert!(next().contains("\"data\":\"a\""));
    writeln!(child.stdin.as_mut().unwrap(), "restart").unwrap();
    assert!(next().contains("\"open\""));
    assert!(next().contains("\"data\":\"b\""));
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "sse_tail did not exit");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(server.requests()[1].header("last-event-id"), Some("1"));
}
