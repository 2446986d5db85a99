//! Headless smoke tests of the example games (`--features games`): each game runs as a process in
//! a real window (under `xvfb-run` when there is no display), against its embedded demo server,
//! presses its keys as a player would, saves a screenshot to `docs/screenshots/` (the README's
//! pictures) and prints a JSON report. The tests check the report's numbers and that the
//! screenshot is not a blank frame.
#![cfg(feature = "games")]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A game gets this long to start, stream, render and exit (it gives up by itself after 90 s).
const DEADLINE: Duration = Duration::from_secs(180);

fn example(name: &str) -> PathBuf {
    // `cargo test --test games` alone does not build examples: build the one we run.
    let mut path = std::env::current_exe().expect("test binary path");
    path.pop();
    path.pop();
    let release = path.ends_with("release");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--features", "games", "--example", name])
        .args(release.then_some("--release"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the {name} example failed");
    path.push("examples");
    path.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    path
}

/// Runs a game to its exit and returns its JSON report and the screenshot's path.
fn play(name: &str, frames: u32, args: &[&str]) -> (Value, PathBuf) {
    // One game at a time: they share two cores with a software renderer, and `xvfb-run -a`
    // started twice at once can pick the same display.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let screenshot = root.join("docs/screenshots").join(format!("{name}.png"));
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&screenshot);
    let logs = root.join("target/smoke");
    std::fs::create_dir_all(&logs).unwrap();
    let stdout_path = logs.join(format!("{name}.stdout"));
    let stderr_path = logs.join(format!("{name}.stderr"));

    let binary = example(name);
    let mut command =
        if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
            Command::new(&binary)
        } else {
            let mut xvfb = Command::new("xvfb-run");
            xvfb.args(["-a", "-s", "-screen 0 1280x720x24"])
                .arg(&binary);
            xvfb
        };
    command
        .args(["--exit-after-frames", &frames.to_string(), "--screenshot"])
        .arg(&screenshot)
        .args(args)
        .current_dir(root)
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap());
    let mut child = command.spawn().unwrap_or_else(|error| {
        panic!(
            "could not start {name} ({error}); with no display the test needs xvfb-run: \
             apt-get install -y xvfb mesa-vulkan-drivers libvulkan1 xauth"
        )
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!(
                "{name} did not exit within {DEADLINE:?}; see {}",
                stderr_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let tail: String = stderr.lines().rev().take(30).collect::<Vec<_>>().join("\n");
    assert!(
        status.success(),
        "{name} exited with {status}\nstdout:\n{stdout}\nstderr (last lines, newest first):\n{tail}"
    );
    let report = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str::<Value>(line).ok())
        .unwrap_or_else(|| panic!("{name} printed no JSON report:\n{stdout}"));
    assert_eq!(report["outcome"], "ok", "{report}");
    println!(
        "{name}: {report} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (report, screenshot)
}

/// The screenshot is a real frame: mostly not the clear colour, and many colours in it.
fn assert_rendered(path: &Path) {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        File::open(path).unwrap_or_else(|_| panic!("no screenshot at {}", path.display())),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (1280, 720), "window size");
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let background = &pixels[..3];
    let mut differing = 0usize;
    let mut colours = std::collections::HashSet::new();
    for pixel in pixels.chunks_exact(channels) {
        if pixel[..3] != *background {
            differing += 1;
        }
        colours.insert((pixel[0] >> 3, pixel[1] >> 3, pixel[2] >> 3));
    }
    let total = (info.width * info.height) as usize;
    assert!(
        differing * 100 > total * 5,
        "{}: only {differing} of {total} pixels differ from the corner's colour",
        path.display()
    );
    assert!(
        colours.len() > 50,
        "{}: only {} distinct colours",
        path.display(),
        colours.len()
    );
}

#[test]
fn chat_ticker_routes_events_and_resumes_without_loss_or_repeats() {
    // Mute and unmute the chat handler, force a reconnection, close and reopen, as a player would.
    let (report, screenshot) = play(
        "chat_ticker",
        30,
        &["--keys", "M@40,M@80,R@120,C@160,O@200"],
    );
    assert!(report["events"].as_u64().unwrap() >= 30, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["repeated"], 0, "{report}");
    // The forced reconnection, the reopen and the server's own drops.
    assert!(report["reconnects"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(report["closes"], 1, "{report}");
    assert_eq!(report["muted"], false, "{report}");
    // `Off` worked: every chat event was either shown by the handler or arrived while muted.
    let seen = report["chat_seen"].as_u64().unwrap();
    let shown = report["chat_shown"].as_u64().unwrap();
    let muted = report["chat_muted"].as_u64().unwrap();
    assert_eq!(shown + muted, seen, "{report}");
    assert!(shown > 0, "{report}");
    assert!(report["lobby"].as_u64().unwrap() >= 2, "{report}");
    assert_rendered(&screenshot);
}

#[test]
fn swarm_streams_hundreds_of_racers() {
    let (report, screenshot) = play("swarm", 240, &[]);
    assert_eq!(report["racers"], 300, "{report}");
    assert_eq!(report["malformed"], 0, "{report}");
    // At least a few whole ticks of 300 positions (the rate itself is printed, not asserted).
    assert!(report["events"].as_u64().unwrap() >= 900, "{report}");
    // The HUD reads the plugin's diagnostics.
    assert!(
        report["sse_messages_per_second"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(
        report["sse_kib_per_second"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(
        report["events_per_second"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert_rendered(&screenshot);
}

#[test]
fn npc_dialogue_streams_two_answers_one_shot() {
    // The first question is asked at start; Space asks the second once the first is answered.
    let (report, screenshot) = play("npc_dialogue", 30, &["--keys", "Space@ready"]);
    assert_eq!(report["asked"], 2, "{report}");
    assert_eq!(report["answered"], 2, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert!(report["tokens"].as_u64().unwrap() >= 40, "{report}");
    let answer = report["answer"].as_str().unwrap();
    assert!(answer.starts_with("The dragon? Ah."), "{answer}");
    assert!(!answer.contains("[DONE]"), "{answer}");
    assert_rendered(&screenshot);
}

#[test]
fn remote_inspector_watches_a_bevy_remote_app_across_its_restart() {
    // The inspector runs the watched scene in a child process; Down chooses the second body and
    // R restarts the scene. The screenshot waits for every stream to carry the new run's values.
    let (report, screenshot) = play("remote_inspector", 60, &["--keys", "Down@20,R@40"]);
    assert_eq!(report["bodies"], 5, "{report}");
    assert_eq!(report["selected"], "Tide", "{report}");
    assert_eq!(report["restarts"], 1, "{report}");
    // Every stream re-POSTed its request to the restarted scene and reads its values.
    assert_eq!(
        report["runs"],
        serde_json::json!([2, 2, 2, 2, 2]),
        "{report}"
    );
    assert!(report["reconnects"].as_u64().unwrap() >= 5, "{report}");
    assert_eq!(report["decode_errors"], 0, "{report}");
    // The scene's frame rate depends on what the software renderer leaves it of two cores.
    assert!(report["frames"].as_u64().unwrap() >= 25, "{report}");
    assert_rendered(&screenshot);
}
