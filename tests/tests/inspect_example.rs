//! The `inspect` example (`examples/inspect/`) run as a real process: its output is a contract
//! integrators script against, so these tests pin it line for line, with the exit status.
//!
//! The example is built once per test run with `cargo build --example inspect -p
//! velaro-examples`, and its path is taken from cargo's JSON messages, so the tests work from a
//! fresh clone and with any target directory (`CARGO_TARGET_DIR`, `build.target-dir`).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Builds the examples this file runs (once per test binary) and returns the path of `name`,
/// as cargo reports it.
fn example_binary(name: &str) -> &'static Path {
    static BINARIES: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let binaries = BINARIES.get_or_init(|| {
        let root = workspace();
        let output = Command::new(env!("CARGO"))
            .current_dir(&root)
            .arg("build")
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .args(["-p", "velaro-examples", "--example", "inspect", "--example", "quickstart"])
            .arg("--message-format=json-render-diagnostics")
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run cargo");
        assert!(output.status.success(), "cargo build --example failed: {}", output.status);
        let stdout = String::from_utf8(output.stdout).unwrap();
        stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| {
                message["reason"] == "compiler-artifact"
                    && message["target"]["kind"]
                        .as_array()
                        .is_some_and(|kinds| kinds.iter().any(|kind| kind == "example"))
            })
            .filter_map(|message| {
                let name = message["target"]["name"].as_str()?.to_owned();
                Some((name, PathBuf::from(message["executable"].as_str()?)))
            })
            .collect()
    });
    let (_, executable) = binaries
        .iter()
        .find(|(built, _)| built == name)
        .unwrap_or_else(|| panic!("cargo reported no executable for the {name} example"));
    assert!(executable.is_file(), "{} is missing", executable.display());
    executable
}

fn inspect_binary() -> &'static Path {
    example_binary("inspect")
}

/// What one run printed, and its exit code.
struct Run {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

impl Run {
    /// The lines of stdout, each of which must end with `\n` (and hold no `\r`).
    fn lines(&self) -> Vec<&str> {
        assert!(!self.stdout.contains('\r'), "{:?}", self.stdout);
        if self.stdout.is_empty() {
            return Vec::new();
        }
        let body = self.stdout.strip_suffix('\n');
        body.unwrap_or_else(|| panic!("unterminated line: {:?}", self.stdout)).split('\n').collect()
    }
}

/// Runs the example with `args`, piping `stdin` into it.
fn run(args: &[&std::ffi::OsStr], stdin: &[u8]) -> Run {
    let mut child = Command::new(inspect_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the inspect example");
    let mut pipe = child.stdin.take().unwrap();
    // Feed stdin while the output is read, so that neither side can block the other.
    let Output { status, stdout, stderr } = std::thread::scope(|scope| {
        scope.spawn(move || {
            // The example may exit before reading everything (a usage error): that is fine.
            let _ = pipe.write_all(stdin);
        });
        child.wait_with_output().unwrap()
    });
    Run {
        stdout: String::from_utf8(stdout).expect("stdout is not utf-8"),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        code: status.code(),
    }
}

/// The files of `tests/fixtures/v1/` (not its subdirectories), in name order.
fn fixture_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// Every fixture, one per line, and the verdict line each must get, worked out from the JSON
/// without the library.
fn fixtures_and_verdicts() -> (Vec<u8>, Vec<String>) {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for (index, path) in fixture_files().into_iter().enumerate() {
        let mut frame = std::fs::read(&path).unwrap();
        if frame.last() == Some(&b'\n') {
            frame.pop();
        }
        assert!(!frame.contains(&b'\n'), "{} is not one line", path.display());
        let json: serde_json::Value = serde_json::from_slice(&frame).unwrap();
        let (message_type, call_id) = (json["type"].as_str(), json["call_id"].as_str());
        let line = index + 1;
        expected.push(format!("{line}: ok {} call={}", message_type.unwrap(), call_id.unwrap()));
        input.extend_from_slice(&frame);
        input.push(b'\n');
    }
    (input, expected)
}

#[test]
fn every_fixture_decodes_in_order() {
    let (input, expected) = fixtures_and_verdicts();
    let concatenated = Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspect-fixtures-v1.jsonl");
    std::fs::write(&concatenated, &input).unwrap();

    let run = run(&[concatenated.as_os_str()], b"");
    assert_eq!(run.lines(), expected, "stderr: {}", run.stderr);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    assert_eq!(run.stderr, "");
    let invite = run
        .lines()
        .into_iter()
        .find(|line| line.ends_with(": ok call.invite call=call-2024-05-01.a1b2c3"));
    assert!(invite.is_some(), "{}", run.stdout);
}

#[test]
fn stdin_is_read_without_an_argument_or_with_a_dash() {
    let (input, expected) = fixtures_and_verdicts();
    for args in [&[][..], &["-".as_ref()][..]] {
        let run = run(args, &input);
        assert_eq!(run.lines(), expected, "args {args:?}, stderr: {}", run.stderr);
        assert_eq!(run.code, Some(0), "args {args:?}, stderr: {}", run.stderr);
    }
}

/// The envelope fields of a frame, between its `type`/`version` and its `seq`.
const HEAD: &str =
    r#""conversation_id":"conv-1","call_id":"call-9","party_id":"agent-tab-1","role":"agent""#;

/// Valid and invalid frames, with blank lines and CRLF, and the exact lines they must print.
fn mixed_input() -> (Vec<u8>, Vec<&'static str>) {
    let invite = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1/invite.json"),
    )
    .unwrap();
    let lines: Vec<Vec<u8>> = vec![
        // CRLF line ending: the `\r` is not part of the frame.
        format!("{}\r", invite.trim_end()).into_bytes(),
        b"".to_vec(),
        b"[]".to_vec(),
        br#"{"type":"#.to_vec(),
        b" \t \r".to_vec(),
        format!(r#"{{"type":"call.ringing","version":1,{HEAD},"seq":1,"seq":2,"body":{{}}}}"#)
            .into_bytes(),
        format!(r#"{{"type":"call.ringing","version":2,{HEAD},"seq":1,"body":{{}}}}"#).into_bytes(),
        b"{\"type\":\"call.ringing\xff\"}".to_vec(),
        format!(r#"{{"type":"call.ringing","version":1,{HEAD},"seq":0}}"#).into_bytes(),
        format!(r#"{{"type":"call.hangup","version":1,{HEAD},"seq":3}} {{}}"#).into_bytes(),
        format!(r#"{{"type":"call.reaction","version":1,{HEAD},"seq":4,"body":{{"emoji":"x"}}}}"#)
            .into_bytes(),
        // A newline inside a value must not split the verdict line.
        r#"{"type":"call.ringing","version":1,"conversation_id":"conv-1","call_id":"call-9","party_id":"p","role":"host\nagent","seq":5}"#
            .as_bytes()
            .to_vec(),
        // The last line has no newline.
        b"hello".to_vec(),
        format!(r#"{{"type":"call.ringing","version":1,{HEAD},"seq":6}}"#).into_bytes(),
    ];
    let expected = vec![
        "1: ok call.invite call=call-2024-05-01.a1b2c3",
        "3: error not_an_object: frame is not a json object",
        "4: error syntax: malformed json at line 1 column 8: EOF while parsing a value",
        "6: error duplicate_field: duplicate field `seq`",
        "7: error unsupported_version: unsupported protocol version 2 (this peer speaks 1)",
        "8: error invalid_utf8: frame is not utf-8 (invalid byte at offset 21)",
        "9: error invalid: field `seq`: seq is 0, outside 1..=9007199254740991",
        "10: error trailing_data: trailing data after the json document at line 1 column 130",
        "11: unknown call.reaction call=call-9",
        r"12: error bad_value: field `role` is invalid: unknown variant `host\nagent`, expected `agent` or `visitor`",
        "13: error syntax: malformed json at line 1 column 1: expected value",
        "14: ok call.ringing call=call-9",
    ];
    (lines.join(&b'\n'), expected)
}

#[test]
fn mixed_input_prints_one_exact_line_per_frame_and_fails() {
    let (input, expected) = mixed_input();
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspect-mixed.jsonl");
    std::fs::write(&path, &input).unwrap();

    let from_file = run(&[path.as_os_str()], b"");
    assert_eq!(from_file.lines(), expected, "stderr: {}", from_file.stderr);
    assert_eq!(from_file.code, Some(1), "stderr: {}", from_file.stderr);
    assert_eq!(from_file.stderr, "");

    let from_stdin = run(&[], &input);
    assert_eq!(from_stdin.lines(), expected, "stderr: {}", from_stdin.stderr);
    assert_eq!(from_stdin.code, Some(1), "stderr: {}", from_stdin.stderr);
}

#[test]
fn one_bad_frame_is_enough_to_fail() {
    let run = run(&[], b"{\"version\":1}\n");
    assert_eq!(run.lines(), ["1: error missing_field: missing field `type`"]);
    assert_eq!(run.code, Some(1));
}

#[test]
fn blank_input_prints_nothing_and_succeeds() {
    for input in [&b""[..], b"\n", b"\r\n  \n\t\n"] {
        let run = run(&[], input);
        assert_eq!(run.stdout, "", "input {input:?}");
        assert_eq!(run.code, Some(0), "input {input:?}, stderr: {}", run.stderr);
    }
}

#[test]
fn usage_and_io_errors_exit_2_with_a_message_on_stderr() {
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("inspect-no-such-file.jsonl");
    let cases: [&[&std::ffi::OsStr]; 3] =
        [&[missing.as_os_str()], &["a.jsonl".as_ref(), "b.jsonl".as_ref()], &["--frames".as_ref()]];
    for args in cases {
        let run = run(args, b"{}\n");
        assert_eq!(run.code, Some(2), "args {args:?}");
        assert_eq!(run.stdout, "", "args {args:?}");
        assert!(run.stderr.starts_with("inspect: "), "args {args:?}: {}", run.stderr);
    }
    let run = run(&[missing.as_os_str()], b"");
    assert!(run.stderr.contains("cannot open"), "{}", run.stderr);
}

#[test]
fn each_verdict_is_printed_before_the_input_ends() {
    use std::io::BufRead as _;

    let mut child = Command::new(inspect_binary())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (sender, receiver) = std::sync::mpsc::channel();
    let first = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            let _ = sender.send(line);
        });
        stdin.write_all(b"[]\n").unwrap();
        stdin.flush().unwrap();
        // stdin stays open: the verdict must come without waiting for the end of the input.
        let first = receiver.recv_timeout(std::time::Duration::from_secs(60));
        if first.is_err() {
            // Unblocks the reader (end of file) before the scope joins it.
            child.kill().unwrap();
        }
        first
    });
    let first = first.expect("no verdict while the input was still open");
    assert_eq!(first, "1: error not_an_object: frame is not a json object\n");
    drop(stdin);
    assert_eq!(child.wait().unwrap().code(), Some(1));
}

/// The columns of a ladder's arrow line: where it starts and ends, and which way it points.
fn arrow_of(line: &str) -> Option<(usize, usize, bool)> {
    let chars: Vec<char> = line.chars().collect();
    let head = chars.iter().position(|c| *c == '►' || *c == '◄')?;
    let start = chars.iter().position(|c| *c == '─')?;
    let end = chars.iter().rposition(|c| *c == '─' || *c == '►')?;
    Some((start, end, chars[head] == '►'))
}

/// Each frame's label line and whether its arrow points right (agent to visitor).
fn ladder_rows(ladder: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = ladder.lines().collect();
    lines
        .windows(2)
        .filter_map(|pair| {
            let numbered = pair[0].trim_start().split(' ').next()?.parse::<usize>().is_ok();
            let (_, _, right) = arrow_of(pair[1])?;
            numbered.then(|| (pair[0].trim().to_owned(), right))
        })
        .collect()
}

#[test]
fn the_quickstarts_frames_draw_the_whole_call_as_a_ladder() {
    let quickstart = Command::new(example_binary("quickstart"))
        .arg("--frames")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("cannot run the quickstart");
    assert!(quickstart.status.success(), "{}", String::from_utf8_lossy(&quickstart.stderr));
    let story = String::from_utf8_lossy(&quickstart.stderr);
    assert!(story.contains("call ended"), "the story went to stderr: {story}");

    let frames = run(&[], &quickstart.stdout);
    assert_eq!(frames.code, Some(0), "every frame decodes: {}", frames.stdout);
    let run = run(&["--ladder".as_ref()], &quickstart.stdout);
    assert_eq!(run.code, Some(0), "stderr: {}", run.stderr);
    let ladder = run.stdout;
    let header = ladder.lines().next().unwrap();
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(columns, ["agent-tab", "relay", "visitor-tab"], "{ladder}");

    let rows = ladder_rows(&ladder);
    let find = |needle: &str| {
        rows.iter()
            .position(|(label, _)| label.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in the ladder:\n{ladder}"))
    };
    // The whole call, in order, each arrow pointing from its sender.
    let story = [
        ("call.invite #1 audio+video", true),
        ("call.ringing #1", false),
        ("call.accept #2 audio+video", false),
        ("offer (2 m-sections", true),
        ("answer (2 m-sections", false),
        ("sharing window", true),
        ("call.quality", true),
        // The agent falls back to audio only, and the visitor follows.
        ("audio only (quality)", true),
        ("call.hangup #", true),
    ];
    let mut last = 0;
    for (needle, right) in story {
        let at = find(needle);
        assert!(at >= last, "`{needle}` out of order:\n{ladder}");
        assert_eq!(rows[at].1, right, "`{needle}` points the wrong way:\n{ladder}");
        last = at;
    }
    let candidates: Vec<bool> = rows
        .iter()
        .filter(|(label, _)| label.contains("call.candidates") && label.contains("host"))
        .map(|(_, right)| *right)
        .collect();
    assert!(
        candidates.contains(&true) && candidates.contains(&false),
        "both sides trickle:\n{ladder}"
    );
    // An ack goes to the relay and stops there: its arrow spans half of a forwarded frame's.
    let arrow_after = |needle: &str| {
        let lines: Vec<&str> = ladder.lines().collect();
        let at = lines.iter().position(|line| line.contains(needle)).expect(needle);
        let (start, end, _) = arrow_of(lines[at + 1]).expect("an arrow");
        end - start
    };
    let (ack, invite) = (arrow_after("call.ack"), arrow_after("call.invite"));
    assert!(ack * 3 < invite * 2, "ack {ack} columns, invite {invite}:\n{ladder}");
}

#[test]
fn a_ladder_marks_frames_that_do_not_decode_and_relay_refusals() {
    let rejected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1/rejected.json"),
    )
    .unwrap();
    let invite = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/v1/invite.json"),
    )
    .unwrap();
    let input = format!("{}\nhello\n{}\n", invite.trim_end(), rejected.trim_end());
    let run = run(&["--ladder".as_ref()], input.as_bytes());
    assert_eq!(run.code, Some(1), "a frame did not decode: {}", run.stdout);
    let refused = run
        .stdout
        .lines()
        .find(|line| line.contains("✗ error syntax"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(refused.trim_start().starts_with("2 "), "with its line number: {refused}");
    let rejection = run
        .stdout
        .lines()
        .find(|line| line.contains("call.rejected"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(rejection.contains("✗ call.rejected #1 forbidden (of #3)"), "{rejection}");
    assert!(rejection.trim_start().starts_with("3 "), "{rejection}");

    let twice = run_args(&["--ladder", "--ladder"]);
    assert_eq!(twice.code, Some(2));
    assert!(twice.stderr.contains("unknown option `--ladder`"), "{}", twice.stderr);
}

fn run_args(args: &[&str]) -> Run {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    run(&args, b"")
}
