//! What the end-to-end tests share: running the `eosim` binary in the crate root, reading its streams and the
//! files it writes, a fresh scratch directory per test, and headless Chromium for the page tests.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where the browser tests find headless Chromium (`.ci/run` installs it).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Longest a Chromium run may take before the test gives up on it.
pub const BROWSER_TIMEOUT: Duration = Duration::from_secs(180);

/// The environment variables `--shard auto` reads; removed from every child so that a CI runner's own
/// variables cannot change what a test sees.
pub const SHARD_VARS: [&str; 4] = ["JOB_COMPLETION_INDEX", "EOSIM_SHARDS", "CI_NODE_INDEX", "CI_NODE_TOTAL"];

/// The `eosim` binary with `args`, to run in the crate root.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_eosim"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for name in SHARD_VARS {
        command.env_remove(name);
    }
    command
}

/// Runs `eosim` with `args` in the crate root.
pub fn eosim(args: &[&str]) -> Output {
    command(args).output().expect("the eosim binary runs")
}

/// What the command printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What the command printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `eosim campaign SCENARIO --seeds SEEDS --jobs 2 --coverage full` plus `extra` flags (the whole coverage
/// table, for [`runs_reaching`]); returns its exit status and both streams, stdout first.
pub fn campaign_run(scenario: &str, seeds: &str, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["campaign", scenario, "--seeds", seeds, "--jobs", "2", "--coverage", "full"];
    args.extend_from_slice(extra);
    let output = eosim(&args);
    (output.status.code(), format!("{}\n{}", stdout(&output), stderr(&output)))
}

/// The run count on a campaign summary's coverage line of `point`; zero when no run reached it.
pub fn runs_reaching(text: &str, point: &str) -> u64 {
    let line = text.lines().find(|line| line.trim_start().starts_with(&format!("{point} ")));
    line.and_then(|line| line.split_whitespace().nth(1)).map_or(0, |runs| runs.parse().expect("a run count"))
}

/// Asserts the exit status, showing both streams when it is wrong.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(output),
        stderr(output)
    );
}

/// A fresh, empty directory for one test's files, under the test binary's `group`.
pub fn scratch_dir(group: &str, name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(group).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch directory can be created");
    dir
}

/// A scratch path as a command-line argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

/// A file's text, or a panic naming it.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A JSON file, or a panic naming it.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Runs headless Chromium on `page` with `extra` flags and a fresh profile, and returns its output.
pub fn chromium(page: &Path, profile: &Path, extra: &[String]) -> Output {
    chromium_at(page, "", profile, extra)
}

/// Runs headless Chromium on `page` opened at `fragment` (`#view=...`, or empty) with `extra` flags and a fresh
/// profile, and returns its output.
pub fn chromium_at(page: &Path, fragment: &str, profile: &Path, extra: &[String]) -> Output {
    let _ = std::fs::remove_dir_all(profile);
    std::fs::create_dir_all(profile).expect("a fresh profile directory");
    let url = format!("file://{}{fragment}", page.canonicalize().expect("the page exists").display());
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    .iter()
    .map(|flag| flag.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.extend(extra.iter().cloned());
    args.push(url);
    let child = Command::new(CHROMIUM)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    wait_bounded(child)
}

/// Waits for a child, killing it after [`BROWSER_TIMEOUT`]: a hung browser must fail the test, not hang CI.
/// Its streams are drained meanwhile, so that a large `--dump-dom` cannot fill a pipe and stall the browser.
pub fn wait_bounded(mut child: std::process::Child) -> Output {
    use std::io::Read;
    let drain = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|stream| Box::new(stream) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|stream| Box::new(stream) as Box<dyn Read + Send>));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium can be waited for") {
            break status;
        }
        if start.elapsed() > BROWSER_TIMEOUT {
            let _ = child.kill();
            panic!("chromium did not finish within {BROWSER_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = stdout.join().expect("the stdout reader ends");
    let stderr = stderr.join().expect("the stderr reader ends");
    Output { status, stdout, stderr }
}

/// Whether the browser half runs: Chromium is there, or skipping was asked for; else the test fails.
pub fn browser_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    if std::env::var("EOSIM_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("EOSIM_SKIP_BROWSER=1: not loading the page in a browser");
        return false;
    }
    panic!(
        "{CHROMIUM} is missing, so the page cannot be checked in a real browser. Install it \
         (`apt-get install -y chromium`; .ci/run does) or set EOSIM_SKIP_BROWSER=1 to skip this check on purpose."
    );
}
