//! Mints short-lived TURN credentials for one user and prints the browser's `RTCConfiguration`.
//!
//! ```text
//! VELARO_TURN_SECRET=… cargo run --example turn_credentials -- visitor-42
//! cargo run --example turn_credentials -- visitor-42 --secret-file /run/secrets/turn \
//!     --turn turns:turn.example.com --stun stun:turn.example.com --ttl 600 --relay
//! ```
//!
//! The secret comes from the `VELARO_TURN_SECRET` environment variable or `--secret-file`; it is
//! never printed. The JSON on stdout goes straight into `new RTCPeerConnection(…)`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use velaro_ice_config::{
    IceServer, IceTransportPolicy, IceUrl, RtcConfiguration, TurnCredentials, TurnSecret,
};

const USAGE: &str = "usage: turn_credentials <user> [--ttl SECONDS] [--turn URL]... [--stun URL]... \
                     [--relay] [--secret-file PATH]  (or set VELARO_TURN_SECRET)";

struct Options {
    user: String,
    ttl: Duration,
    turn: Vec<IceUrl>,
    stun: Vec<IceUrl>,
    policy: IceTransportPolicy,
    secret_file: Option<String>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
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
                options.ttl =
                    Duration::from_secs(secs.parse().map_err(|_| format!("bad --ttl `{secs}`"))?);
            }
            "--turn" => {
                options.turn.push(value("--turn")?.parse().map_err(|e| format!("--turn: {e}"))?)
            }
            "--stun" => {
                options.stun.push(value("--stun")?.parse().map_err(|e| format!("--stun: {e}"))?)
            }
            "--secret-file" => options.secret_file = Some(value("--secret-file")?),
            "--relay" => options.policy = IceTransportPolicy::Relay,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            user if options.user.is_empty() => user.clone_into(&mut options.user),
            extra => return Err(format!("unexpected argument `{extra}`")),
        }
    }
    if options.user.is_empty() {
        return Err(USAGE.to_owned());
    }
    if options.turn.is_empty() {
        options.turn =
            vec!["turn:127.0.0.1:3478?transport=udp".parse().map_err(|e| format!("{e}"))?];
    }
    Ok(options)
}

fn load_secret(file: Option<&str>) -> Result<TurnSecret, String> {
    let bytes = match file {
        Some(path) => {
            std::fs::read(path).map_err(|e| format!("cannot read secret file {path}: {e}"))?
        }
        None => std::env::var("VELARO_TURN_SECRET")
            .map_err(|_| format!("set VELARO_TURN_SECRET or pass --secret-file\n{USAGE}"))?
            .into_bytes(),
    };
    // A trailing newline from `echo secret > file` is not part of the secret.
    let trimmed = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    TurnSecret::new(trimmed.to_vec()).map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let options = parse_args(std::env::args().skip(1))?;
    let secret = load_secret(options.secret_file.as_deref())?;
    #[allow(clippy::disallowed_methods)] // the example is the IO edge: it owns the clock
    let now = SystemTime::now();
    let creds = TurnCredentials::mint(&secret, &options.user, options.ttl, now)
        .map_err(|e| e.to_string())?;
    let mut servers = Vec::new();
    if !options.stun.is_empty() {
        servers.push(IceServer::stun(options.stun).map_err(|e| e.to_string())?);
    }
    servers.push(IceServer::turn(options.turn, &creds).map_err(|e| e.to_string())?);
    let config = RtcConfiguration::new(servers, options.policy).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    println!("{json}");
    let expiry = creds.username().split(':').next().unwrap_or_default();
    eprintln!("credentials for `{}` expire at unix time {expiry}; secret not shown", options.user);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("turn_credentials: {message}");
            ExitCode::FAILURE
        }
    }
}
