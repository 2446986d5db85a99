//! A test whose body needs a process environment of its own (variables a library reads when it
//! runs, such as where the system's root certificates are) runs that body in a child process:
//! this test binary again, with that one test and the variables set. The parent checks that the
//! child ran the test and that it passed. No `std::env::set_var` in a process whose other tests
//! run on other threads.
#![allow(dead_code, unreachable_pub)]

use std::ffi::OsString;
use std::process::Command;

/// Names the test a child process runs.
const CHILD: &str = "BEVY_EVENTSOURCE_TEST_CHILD";

/// Whether this process is the child that runs `test` (its path in the binary, such as
/// `tls::a_test`).
pub fn is_child(test: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|running| running == test)
}

/// Runs `test` in a child process with `env` (a `None` value removes the variable) and panics
/// with the child's output unless it ran exactly that one test and the test passed.
pub fn run(test: &str, env: &[(&str, Option<OsString>)]) {
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test);
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let output = command.output().expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child process running {test} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // Shown with `--nocapture`.
    println!("{stdout}");
}

/// A variable the parent set for the child process.
pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set for the child process"))
}

/// A path in the temporary directory, unique to this process and `name`, with nothing there
/// (for a file the parent or the child writes, such as a roots file).
pub fn scratch_path(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("bevy_eventsource-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}
