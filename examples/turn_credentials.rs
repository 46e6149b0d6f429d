//! Mints short-lived TURN credentials for one user and prints the browser's `RTCConfiguration`.
//!
//! ```text
//! VELARO_TURN_SECRET=… cargo run --example turn_credentials -- visitor-42
//! cargo run --example turn_credentials -- visitor-42 --secret-file /run/secrets/turn \
//!     --turn turns:turn.example.com --stun stun:turn.example.com --ttl 600 --relay
//! ```
//!
//! The secret comes from the `VELARO_TURN_SECRET` environment variable or `--secret-file`; it is
//! never printed. The JSON on stdout goes straight into `new RTCPeerConnection(…)`. Mint for
//! every call: credentials that outlive a call soon expire on a page that stays open.
//!
//! Credentials go only with `turn:` and `turns:` URLs (`--turn`); a STUN server (`--stun`)
//! gets none, and a URL given to the wrong option is refused.
//!
//! `-h` or `--help` prints the usage on stdout and exits 0. A usage error prints what is wrong
//! and the usage on stderr and exits 2; a secret that cannot be read or used exits 1.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use velaro_ice_config::{
    IceServer, IceTransportPolicy, IceUrl, MAX_TTL, MIN_TTL, RtcConfiguration, TurnCredentials,
    TurnSecret,
};

const USAGE: &str =
    "usage: turn_credentials <user> [--ttl SECONDS] [--turn URL]... [--stun URL]... \
                     [--relay] [--secret-file PATH]
  <user>              who the credentials are for (the TURN username after the expiry)
  --ttl SECONDS       how long they stay valid (default 3600)
  --turn URL          a TURN server, turn: or turns: (default turn:127.0.0.1:3478?transport=udp)
  --stun URL          a STUN server, stun: or stuns:, listed without credentials
  --relay             iceTransportPolicy relay: the browser uses the TURN server only
  --secret-file PATH  the secret shared with the TURN server (default: VELARO_TURN_SECRET)
  -h, --help          print this help";

/// Why the command failed.
enum Failure {
    /// The command line is wrong: exit 2 with the usage.
    Usage(String),
    /// The secret or the minting failed: exit 1.
    Failed(String),
}

/// What the command line asks for.
enum Command {
    Mint(Options),
    Help,
}

struct Options {
    user: String,
    ttl: Duration,
    turn: Vec<IceUrl>,
    stun: Vec<IceUrl>,
    policy: IceTransportPolicy,
    secret_file: Option<String>,
}

/// A `--turn` URL (credentials go with it) or a `--stun` one (they do not).
fn url(option: &str, text: &str, turn: bool) -> Result<IceUrl, String> {
    let url: IceUrl = text.parse().map_err(|e| format!("{option}: {e}"))?;
    match (turn, url.scheme().is_turn()) {
        (true, false) => Err(format!(
            "--turn `{url}`: credentials only go with turn: or turns: URLs (give a STUN server \
             with --stun)"
        )),
        (false, true) => {
            Err(format!("--stun `{url}`: a TURN server needs credentials (give it with --turn)"))
        }
        _ => Ok(url),
    }
}

/// Reads the arguments; an error is a usage error.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut options = Options {
        user: String::new(),
        ttl: Duration::from_secs(3600),
        turn: Vec::new(),
        stun: Vec::new(),
        policy: IceTransportPolicy::All,
        secret_file: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--ttl" => {
                let secs = value("--ttl")?;
                let ttl = secs.parse().map(Duration::from_secs).ok();
                options.ttl =
                    ttl.filter(|ttl| (MIN_TTL..=MAX_TTL).contains(ttl)).ok_or_else(|| {
                        format!(
                            "bad --ttl `{secs}`: {} to {} seconds",
                            MIN_TTL.as_secs(),
                            MAX_TTL.as_secs()
                        )
                    })?;
            }
            "--turn" => options.turn.push(url("--turn", &value("--turn")?, true)?),
            "--stun" => options.stun.push(url("--stun", &value("--stun")?, false)?),
            "--secret-file" => options.secret_file = Some(value("--secret-file")?),
            "--relay" => options.policy = IceTransportPolicy::Relay,
            "-h" | "--help" => return Ok(Command::Help),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            user if options.user.is_empty() => user.clone_into(&mut options.user),
            extra => return Err(format!("unexpected argument `{extra}`")),
        }
    }
    if options.user.is_empty() {
        return Err("turn_credentials needs a user".to_owned());
    }
    if options.turn.is_empty() {
        options.turn = vec![url("--turn", "turn:127.0.0.1:3478?transport=udp", true)?];
    }
    Ok(Command::Mint(options))
}

fn load_secret(file: Option<&str>) -> Result<TurnSecret, Failure> {
    let bytes = match file {
        Some(path) => std::fs::read(path)
            .map_err(|e| Failure::Failed(format!("cannot read secret file {path}: {e}")))?,
        None => std::env::var("VELARO_TURN_SECRET")
            .map_err(|_| Failure::Usage("set VELARO_TURN_SECRET or pass --secret-file".into()))?
            .into_bytes(),
    };
    // A trailing newline from `echo secret > file` is not part of the secret.
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    TurnSecret::new(trimmed.to_vec()).map_err(|e| Failure::Failed(e.to_string()))
}

fn run() -> Result<(), Failure> {
    let options = match parse_args(std::env::args().skip(1)).map_err(Failure::Usage)? {
        Command::Mint(options) => options,
        Command::Help => {
            println!("{USAGE}");
            return Ok(());
        }
    };
    let secret = load_secret(options.secret_file.as_deref())?;
    let failed = |e: &dyn std::fmt::Display| Failure::Failed(e.to_string());
    #[allow(clippy::disallowed_methods)] // the example is the IO edge: it owns the clock
    let now = SystemTime::now();
    let creds =
        TurnCredentials::mint(&secret, &options.user, options.ttl, now).map_err(|e| failed(&e))?;
    let mut servers = Vec::new();
    if !options.stun.is_empty() {
        servers.push(IceServer::stun(options.stun).map_err(|e| failed(&e))?);
    }
    servers.push(IceServer::turn(options.turn, &creds).map_err(|e| failed(&e))?);
    let config = RtcConfiguration::new(servers, options.policy).map_err(|e| failed(&e))?;
    let json = serde_json::to_string_pretty(&config).map_err(|e| failed(&e))?;
    println!("{json}");
    let expiry = creds.username().split(':').next().unwrap_or_default();
    eprintln!("credentials for `{}` expire at unix time {expiry}; secret not shown", options.user);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("turn_credentials: {message}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("turn_credentials: {message}");
            ExitCode::FAILURE
        }
    }
}
