//! Decodes signaling frames, one JSON document per line, and prints one verdict line per frame
//! (or, with `--ladder`, the whole log as a call ladder): a debugging aid for integrators.
//!
//! ```text
//! cargo run --example inspect -- frames.jsonl
//! websocat wss://relay.example.com/… | cargo run --example inspect
//! cargo run --example inspect -- --ladder frames.jsonl
//! cargo run --example quickstart -- --frames | cargo run --example inspect -- --ladder
//! ```
//!
//! # Output contract
//!
//! The verdict format is a contract: scripts and CI jobs parse it, so it only ever changes in a
//! backwards-compatible way (a new `<kind>`, say), and `tests/tests/inspect_example.rs` pins it.
//! (Before the first release it gained the line numbers and the `unknown` verdict.)
//!
//! Input is read as bytes and split on `\n`; one trailing `\r` per line is dropped. Blank lines
//! (empty, or only spaces, tabs and `\r`) are skipped and print nothing. Every other line is one
//! frame, given to [`velaro_call_protocol::decode`] as is, and yields exactly one line on stdout,
//! in input order, as soon as the frame is read (so it works on a live stream), starting with
//! the frame's line number in the input (from 1) and `: `:
//!
//! - `<line>: ok <type> call=<call_id>` when the frame decodes to a message this version knows,
//!   e.g. `1: ok call.invite call=call-2024-05-01.a1b2c3`;
//! - `<line>: unknown <type> call=<call_id>` when it decodes but its type is one this version
//!   does not know (a newer peer's, or a typo): a relay of this version refuses it
//!   (`unknown_type`);
//! - `<line>: error <kind>: <detail>` when it does not decode, `<kind>` being the stable
//!   `snake_case` name of the `DecodeError` variant and `<detail>` the error's `Display` text,
//!   e.g. ``3: error duplicate_field: duplicate field `seq` ``.
//!
//! The kinds are `frame_too_large`, `invalid_utf8`, `not_an_object` (JSON, but not an object),
//! `syntax` (not JSON at all), `trailing_data`, `missing_field`, `duplicate_field`, `wrong_type`,
//! `bad_value`, `invalid`, `unsupported_version`, and `other` for a variant added to the library
//! after this tool.
//!
//! So that a verdict is always exactly one line, control characters in `<detail>` and `<type>`
//! (a newline in an unknown variant or type, say) are written as Rust escapes (`\n`, `\u{1b}`),
//! and so is whitespace in `<type>`, which therefore never contains a space (the library checks
//! types against `[0-9A-Za-z._-]` too; the escaping is belt and braces). Ids cannot contain
//! either (their grammar is `[0-9A-Za-z._~-]`). Only `<detail>` may contain spaces, so `ok` and
//! `unknown` lines split into exactly four fields on single spaces, and `error` lines split on
//! the first two `: `.
//!
//! `--ladder` reads the whole input first and prints a call ladder instead: a column per party
//! (agents left, visitors right, the relay between them), each frame an arrow from its sender
//! with its line number, type, `seq` and the fields one looks for (media, SDP type, candidate
//! types, reasons, rejection codes); a frame that does not decode is a line marked `✗`, as is
//! a relay's `call.rejected`. The ladder is for people: its layout is not a contract.
//!
//! Arguments: `[--ladder] [FILE | -]`; `-` or no file reads stdin. `-h` or `--help`, alone,
//! prints the usage on stdout and exits 0 without reading anything; any other argument starting
//! with `-` is a usage error (write `./-name` for such a file).
//!
//! Nothing else is written to stdout. The exit status is 0 when every frame decoded (or there
//! were none; an `unknown` type decoded), 1 when at least one did not, and 2 on a usage or IO
//! error, with a message on stderr (and, for a usage error, the usage; verdicts already printed
//! stay valid).

mod ladder;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::process::ExitCode;

use velaro_call_protocol::{DecodeError, Envelope, Message, decode};

const USAGE: &str = "usage: inspect [--ladder] [FILE | -]  (frames, one JSON document per line; \
                     stdin when FILE is `-` or absent)
  --ladder    draw the frames as a call ladder (a column per party and the relay)
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

/// What one frame turned out to be.
enum Verdict {
    Decoded(Box<Envelope>),
    /// `error <kind>: <detail>`.
    Failed(String),
}

impl Verdict {
    fn of(frame: &[u8]) -> Verdict {
        match decode(frame) {
            Ok(envelope) => Verdict::Decoded(Box::new(envelope)),
            Err(error) => {
                let detail = escaped(&error.to_string(), false);
                Verdict::Failed(format!("error {}: {detail}", kind(&error)))
            }
        }
    }

    /// The verdict line (without the line number and newline).
    fn line(&self) -> String {
        match self {
            Verdict::Decoded(envelope) => {
                let word =
                    if matches!(envelope.message, Message::Unknown(_)) { "unknown" } else { "ok" };
                let message_type = escaped(envelope.message_type(), true);
                format!("{word} {message_type} call={}", envelope.call_id)
            }
            Verdict::Failed(text) => text.clone(),
        }
    }
}

/// A line with nothing to decode.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// Calls `each` with the line number and verdict of every frame of `input`, in order.
fn read_frames(
    input: impl BufRead,
    mut each: impl FnMut(usize, Verdict) -> Result<(), String>,
) -> Result<(), String> {
    for (index, line) in input.split(b'\n').enumerate() {
        let line = line.map_err(|e| format!("cannot read the input: {e}"))?;
        let frame = line.strip_suffix(b"\r").unwrap_or(&line);
        if !is_blank(frame) {
            each(index + 1, Verdict::of(frame))?;
        }
    }
    Ok(())
}

fn write_error(e: &io::Error) -> String {
    format!("cannot write the output: {e}")
}

/// Prints a verdict for every frame of `input` as it is read; `Ok(true)` when all decoded.
fn inspect(input: impl BufRead, mut output: impl Write) -> Result<bool, String> {
    let mut all_ok = true;
    read_frames(input, |line, verdict| {
        all_ok &= matches!(verdict, Verdict::Decoded(_));
        writeln!(output, "{line}: {}", verdict.line()).map_err(|e| write_error(&e))
    })?;
    output.flush().map_err(|e| write_error(&e))?;
    Ok(all_ok)
}

/// Prints the ladder of all of `input`; `Ok(true)` when every frame decoded.
fn inspect_ladder(input: impl BufRead, mut output: impl Write) -> Result<bool, String> {
    let mut frames = Vec::new();
    read_frames(input, |line, verdict| {
        frames.push((line, verdict));
        Ok(())
    })?;
    output.write_all(ladder::draw(&frames).as_bytes()).map_err(|e| write_error(&e))?;
    output.flush().map_err(|e| write_error(&e))?;
    Ok(frames.iter().all(|(_, verdict)| matches!(verdict, Verdict::Decoded(_))))
}

fn run() -> Result<bool, String> {
    let mut ladder = false;
    let mut path: Option<OsString> = None;
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let stdout = io::stdout().lock();
    if let [flag] = args.as_slice()
        && (flag == "-h" || flag == "--help")
    {
        let mut stdout = stdout;
        writeln!(stdout, "{USAGE}").map_err(|e| write_error(&e))?;
        return Ok(true);
    }
    for arg in args {
        if arg == "--ladder" && !ladder {
            ladder = true;
        } else if arg != "-" && arg.to_string_lossy().starts_with('-') {
            return Err(format!("unknown option `{}`\n{USAGE}", arg.to_string_lossy()));
        } else if path.is_none() {
            path = Some(arg);
        } else {
            return Err(format!("too many arguments\n{USAGE}"));
        }
    }
    let input: Box<dyn BufRead> = match path {
        Some(path) if path != "-" => {
            let file = File::open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.to_string_lossy()))?;
            Box::new(BufReader::new(file))
        }
        _ => Box::new(io::stdin().lock()),
    };
    // Line-buffered: each verdict shows as soon as its frame is read, for a live stream.
    if ladder { inspect_ladder(input, stdout) } else { inspect(input, stdout) }
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
