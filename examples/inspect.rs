//! Decodes signaling frames, one JSON document per line, and prints one verdict line per frame:
//! a debugging aid for integrators.
//!
//! ```text
//! cargo run --example inspect -- frames.jsonl
//! websocat wss://relay.example.com/… | cargo run --example inspect
//! cargo run --example inspect -- - < frames.jsonl
//! ```
//!
//! # Output contract
//!
//! The output format is a contract: scripts and CI jobs parse it, so it only ever changes in a
//! backwards-compatible way (a new `<kind>`, say), and `tests/tests/inspect_example.rs` pins it.
//!
//! Input is read as bytes and split on `\n`; one trailing `\r` per line is dropped. Blank lines
//! (empty, or only spaces, tabs and `\r`) are skipped and print nothing. Every other line is one
//! frame, given to [`velaro_call_protocol::decode`] as is, and yields exactly one line on stdout,
//! in input order, as soon as the frame is read (so it works on a live stream):
//!
//! - `ok <type> call=<call_id>` when the frame decodes, `<type>` being the message type as
//!   received (`call.invite`, or a type this version does not know) and `<call_id>` the call
//!   id, e.g. `ok call.invite call=call-2024-05-01.a1b2c3`;
//! - `error <kind>: <detail>` when it does not, `<kind>` being the stable `snake_case` name of the
//!   `DecodeError` variant and `<detail>` the error's `Display` text, e.g.
//!   ``error duplicate_field: duplicate field `seq` ``.
//!
//! The kinds are `frame_too_large`, `invalid_utf8`, `not_an_object`, `syntax`, `trailing_data`,
//! `missing_field`, `duplicate_field`, `wrong_type`, `bad_value`, `invalid`,
//! `unsupported_version`, and `other` for a variant added to the library after this tool.
//!
//! So that a verdict is always exactly one line, control characters in `<detail>` and `<type>`
//! (a newline in an unknown variant or type, say) are written as Rust escapes (`\n`, `\u{1b}`),
//! and so is whitespace in `<type>`, which therefore never contains a space (the library checks
//! types against `[0-9A-Za-z._-]` too; the escaping is belt and braces). Ids cannot contain
//! either (their grammar is `[0-9A-Za-z._~-]`). Only `<detail>` may contain spaces, so `ok` lines split into exactly
//! three fields on single spaces and `error` lines split on the first `: `.
//!
//! The only argument is the input file; `-` or no argument reads stdin. The one option is `-h`
//! or `--help`, alone, which prints the usage on stdout and exits 0 without reading anything;
//! any other argument starting with `-` is a usage error (write `./-name` for such a file).
//!
//! Nothing else is written to stdout. The exit status is 0 when every frame decoded (or there
//! were none), 1 when at least one did not, and 2 on a usage or IO error, with a message on
//! stderr (and, for a usage error, the usage; verdicts already printed stay valid).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::process::ExitCode;

use velaro_call_protocol::{DecodeError, decode};

const USAGE: &str = "usage: inspect [FILE | -]  (frames, one JSON document per line; stdin when \
                     FILE is `-` or absent)
  -h, --help  print this help";

/// The stable name of an error's variant, the `<kind>` of an `error` line.
fn kind(error: &DecodeError) -> &'static str {
    match error {
        DecodeError::FrameTooLarge { .. } => "frame_too_large",
        DecodeError::InvalidUtf8 { .. } => "invalid_utf8",
        DecodeError::NotAnObject => "not_an_object",
        DecodeError::Syntax { .. } => "syntax",
        DecodeError::TrailingData { .. } => "trailing_data",
        DecodeError::MissingField { .. } => "missing_field",
        DecodeError::DuplicateField { .. } => "duplicate_field",
        DecodeError::WrongType { .. } => "wrong_type",
        DecodeError::BadValue { .. } => "bad_value",
        DecodeError::Invalid { .. } => "invalid",
        DecodeError::UnsupportedVersion { .. } => "unsupported_version",
        _ => "other",
    }
}

/// `text` with control characters (and, with `whitespace`, all whitespace) escaped, so that it
/// fits on one line (and, for a type, in one space-separated field).
fn escaped(text: &str, whitespace: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '\n' | '\r' | '\t') {
            out.extend(ch.escape_default());
        } else if ch.is_control() || (whitespace && ch.is_whitespace()) {
            let _ = write!(out, "{}", ch.escape_unicode());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The verdict line for one frame (without its newline), and whether the frame decoded.
fn verdict(frame: &[u8]) -> (String, bool) {
    match decode(frame) {
        Ok(envelope) => {
            let message_type = escaped(envelope.message_type(), true);
            (format!("ok {message_type} call={}", envelope.call_id), true)
        }
        Err(error) => {
            let detail = escaped(&error.to_string(), false);
            (format!("error {}: {detail}", kind(&error)), false)
        }
    }
}

/// A line with nothing to decode.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// Prints a verdict for every frame of `input`; `Ok(true)` when all of them decoded.
fn inspect(input: impl BufRead, mut output: impl Write) -> Result<bool, String> {
    let mut all_ok = true;
    for line in input.split(b'\n') {
        let line = line.map_err(|e| format!("cannot read the input: {e}"))?;
        let frame = line.strip_suffix(b"\r").unwrap_or(&line);
        if is_blank(frame) {
            continue;
        }
        let (text, ok) = verdict(frame);
        all_ok &= ok;
        writeln!(output, "{text}").map_err(|e| format!("cannot write the output: {e}"))?;
    }
    output.flush().map_err(|e| format!("cannot write the output: {e}"))?;
    Ok(all_ok)
}

fn run() -> Result<bool, String> {
    let mut args = std::env::args_os().skip(1);
    let path = args.next();
    if args.next().is_some() {
        return Err(format!("too many arguments\n{USAGE}"));
    }
    // Line-buffered: each verdict shows as soon as its frame is read, for a live stream.
    let stdout = io::stdout().lock();
    match path {
        None => inspect(io::stdin().lock(), stdout),
        Some(path) if path == "-" => inspect(io::stdin().lock(), stdout),
        Some(flag) if flag == "-h" || flag == "--help" => {
            let mut stdout = stdout;
            writeln!(stdout, "{USAGE}").map_err(|e| format!("cannot write the output: {e}"))?;
            Ok(true)
        }
        Some(path) if path.to_string_lossy().starts_with('-') => {
            Err(format!("unknown option `{}`\n{USAGE}", path.to_string_lossy()))
        }
        Some(path) => {
            let file = File::open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.to_string_lossy()))?;
            inspect(BufReader::new(file), stdout)
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("inspect: {message}");
            ExitCode::from(2)
        }
    }
}
