//! The command lines of the examples (`server`, `turn_credentials`, `inspect`) run as real
//! processes: `--help` prints the usage on stdout and exits 0; a usage error prints what is
//! wrong and the usage on stderr and exits 2.
//!
//! The examples are built with `cargo build -p velaro-examples --example …` and their paths
//! taken from cargo's JSON messages (as `tests/tests/inspect_example.rs` does), so the tests
//! work with any target directory.

#![allow(clippy::disallowed_methods)] // tests own their clocks

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const EXAMPLES: [&str; 3] = ["server", "turn_credentials", "inspect"];

/// Builds the three examples (once per test binary) and returns their paths by name.
fn binaries() -> &'static [(String, PathBuf)] {
    static BINARIES: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        let mut command = Command::new(env!("CARGO"));
        command.arg("build").arg("--manifest-path").arg(&manifest).args(["-p", "velaro-examples"]);
        for name in EXAMPLES {
            command.args(["--example", name]);
        }
        let output = command
            .arg("--message-format=json-render-diagnostics")
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run cargo");
        assert!(output.status.success(), "cargo build --example failed: {}", output.status);
        let stdout = String::from_utf8(output.stdout).expect("utf-8");
        let built: Vec<(String, PathBuf)> = stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .filter(|message| {
                message["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "example"))
            })
            .filter_map(|message| {
                let name = message["target"]["name"].as_str()?.to_owned();
                Some((name, PathBuf::from(message["executable"].as_str()?)))
            })
            .collect();
        for name in EXAMPLES {
            assert!(built.iter().any(|(n, _)| n == name), "cargo built no {name} example");
        }
        built
    })
}

fn binary(name: &str) -> &'static Path {
    let found = binaries().iter().find(|(n, _)| n == name);
    &found.unwrap_or_else(|| panic!("no {name} example")).1
}

struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

/// Runs the example `name` with `args`, no stdin, and `VELARO_TURN_SECRET` set or not.
fn run_example(name: &str, args: &[&str], secret: Option<&str>) -> Run {
    let mut command = Command::new(binary(name));
    command.args(args).stdin(Stdio::null());
    match secret {
        Some(secret) => command.env("VELARO_TURN_SECRET", secret),
        None => command.env_remove("VELARO_TURN_SECRET"),
    };
    let mut child =
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the example starts");
    // A server that took its arguments would serve for ever: stop it after a while.
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("output");
    Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        code: output.status.code(),
    }
}

#[test]
fn help_prints_the_usage_on_stdout_and_exits_0() {
    for name in EXAMPLES {
        for flag in ["--help", "-h"] {
            let run = run_example(name, &[flag], None);
            assert_eq!(run.code, Some(0), "{name} {flag}: stderr {}", run.stderr);
            assert!(
                run.stdout.starts_with(&format!("usage: {name}")),
                "{name} {flag}: {}",
                run.stdout
            );
            assert_eq!(run.stderr, "", "{name} {flag}");
        }
    }
}

#[test]
fn usage_errors_exit_2_with_the_usage_on_stderr() {
    let cases: [(&str, &[&str], &str); 11] = [
        ("server", &["--bogus"], "unknown argument `--bogus`"),
        ("server", &["--port"], "--port needs a number"),
        ("server", &["--port", "http"], "`http` is not a port"),
        ("server", &["--redis"], "--redis needs a URL"),
        ("server", &["--redis", "redis://127.0.0.1:1/"], "--redis needs a --node name"),
        ("server", &["--node", "a"], "--node needs --redis"),
        ("server", &["--redis", "redis://127.0.0.1:1/", "--node", "node a"], "node name `node a`"),
        ("turn_credentials", &[], "needs a user"),
        ("turn_credentials", &["visitor-1", "--ttl", "soon"], "bad --ttl `soon`"),
        ("turn_credentials", &["visitor-1", "--bogus"], "unknown option `--bogus`"),
        ("inspect", &["--bogus"], "unknown option `--bogus`"),
    ];
    for (name, args, complaint) in cases {
        let run = run_example(name, args, Some("cli-test-secret-0123456789"));
        assert_eq!(run.code, Some(2), "{name} {args:?}: stderr {}", run.stderr);
        assert_eq!(run.stdout, "", "{name} {args:?}");
        assert!(run.stderr.contains(complaint), "{name} {args:?}: {}", run.stderr);
        assert!(run.stderr.contains(&format!("usage: {name}")), "{name} {args:?}: {}", run.stderr);
    }
}

#[test]
fn turn_credentials_go_only_with_turn_urls() {
    for (flag, url) in [("--turn", "stun:stun.example.com"), ("--turn", "stuns:stun.example.com")] {
        let run = run_example(
            "turn_credentials",
            &["visitor-1", flag, url],
            Some("cli-test-secret-0123456789"),
        );
        assert_eq!(run.code, Some(2), "{flag} {url}: stdout {}", run.stdout);
        assert_eq!(run.stdout, "", "no credentials printed for {url}");
        assert!(
            run.stderr.contains("credentials only go with turn: or turns: URLs"),
            "{flag} {url}: {}",
            run.stderr
        );
    }
    // The server mints for its --turn URLs the same way, so it refuses a STUN URL there too.
    let run = run_example(
        "server",
        &["--port", "0", "--turn", "stun:stun.example.com"],
        Some("cli-test-secret-0123456789"),
    );
    assert_eq!(run.code, Some(2), "server --turn stun:: stdout {}", run.stdout);
    assert!(run.stderr.contains("credentials only go with turn: or turns: URLs"), "{}", run.stderr);

    // A TURN URL works, and a STUN server still goes with --stun, without credentials.
    let args = ["visitor-1", "--turn", "turn:turn.example.com", "--stun", "stun:stun.example.com"];
    let run = run_example("turn_credentials", &args, Some("cli-test-secret-0123456789"));
    assert_eq!(run.code, Some(0), "stderr {}", run.stderr);
    let config: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(config["iceServers"][0]["urls"], serde_json::json!(["stun:stun.example.com"]));
    assert!(config["iceServers"][0].get("credential").is_none(), "{config}");
    assert!(config["iceServers"][1]["credential"].is_string(), "{config}");
}

/// `--redis` with a Redis that is not there: the server says so and exits 1, at once.
#[test]
fn a_cluster_node_without_its_redis_does_not_start() {
    binary("server"); // built first: the build's time is not the server's
    let start = Instant::now();
    let args = ["--port", "0", "--redis", "redis://127.0.0.1:1/", "--node", "a"];
    let run = run_example("server", &args, None);
    assert_eq!(run.code, Some(1), "stdout {} stderr {}", run.stdout, run.stderr);
    assert!(run.stderr.contains("cannot start the demo server"), "{}", run.stderr);
    assert!(start.elapsed() < Duration::from_secs(15), "took {:?}", start.elapsed());
}
