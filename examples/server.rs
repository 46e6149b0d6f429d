//! The browser demo: a chat with video calls between an agent's and a visitor's browser.
//!
//! ```text
//! cargo run --example server                 # then open http://127.0.0.1:8080/
//! cargo run --example server -- --port 9000 --turn turn:127.0.0.1:3478 --relay-only
//! cargo run --example server -- --port 8081 --redis redis://127.0.0.1:6379/ --node a
//! ```
//!
//! Open `/agent?conversation=demo` and `/visitor?conversation=demo` in two browser windows;
//! the agent's camera icon starts a call. With `--turn URL` (a `turn:` or `turns:` URL) the
//! pages get TURN credentials minted from the secret in `VELARO_TURN_SECRET` (coturn's
//! `static-auth-secret`), fresh for every call; `--relay-only` makes both browsers use the TURN
//! server only, and the relay drop every candidate but a relay one from what visitors send.
//!
//! The server is the host: it renders each page with a join token for its conversation, the
//! role of its path and a party id of its own making, and admits a page's WebSocket with that
//! token only (see `velaro_signaling::JoinKeys`). Tokens are signed with the secret in
//! `VELARO_JOIN_KEY` (at least 32 bytes) if it is set, else with a random key made at start
//! from `/dev/urandom` (a page rendered before a restart then reloads to get a new token).
//!
//! With `--redis URL` the server is one node (named by `--node NAME`) of a relay cluster on
//! that Redis: its pages' sockets go through a `ClusterNode` instead of the in-process relay,
//! and its chat goes through Redis, so demo servers on different ports serve one conversation
//! (an agent page on one, a visitor page on another), and a call goes on when one of them is
//! restarted. The nodes share the join key in `VELARO_JOIN_KEY`, or else one the first node
//! keeps in Redis, so a page's token outlives its server's restart.
//!
//! `-h` or `--help` prints the usage on stdout and exits 0; a usage error prints what is wrong
//! and the usage on stderr and exits 2; a server that cannot start or stops exits 1.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use velaro_demo::{ClusterSettings, DemoConfig, DemoServer, TurnConfig, shared_join_key};
use velaro_ice_config::{IceTransportPolicy, IceUrl, TurnSecret};
use velaro_signaling::{JoinKey, JoinKeys};

const USAGE: &str =
    "usage: server [--port N] [--turn URL]... [--relay-only] [--records FILE] [--quiet]
              [--redis URL --node NAME]
  --port N       listen on 127.0.0.1:N (default 8080; 0 picks a free port)
  --turn URL     a TURN server sharing VELARO_TURN_SECRET (e.g. turn:127.0.0.1:3478)
  --relay-only   both browsers use only the TURN server (iceTransportPolicy relay), and the
                 relay passes only relay candidates from visitors
  --records FILE append one JSON line per ended call to FILE (who, when, outcome, talk time,
                 media used), to store and bill from
  --quiet        do not print the relay's events
  --redis URL    be one node of a relay cluster on this Redis (e.g. redis://127.0.0.1:6379/):
                 pages on any node of it share conversations, chat and calls, and a call
                 goes on when a node restarts; without it, the relay is in this process
  --node NAME    this node's name in the cluster (needed with --redis; 1 to 40 characters
                 of 0-9 A-Z a-z . _ -)
  -h, --help     print this help
Pages get join tokens signed with VELARO_JOIN_KEY (a secret of at least 32 bytes) if it is
set, else with a random key made at start (from /dev/urandom), or with --redis one that the
cluster's first node makes and keeps in Redis for every node.
A cluster of two on one machine:
  redis-server --port 6379 --save '' &
  cargo run --example server -- --port 8081 --redis redis://127.0.0.1:6379/ --node a &
  cargo run --example server -- --port 8082 --redis redis://127.0.0.1:6379/ --node b";

/// What the command line asks for.
enum Command {
    Serve(Box<DemoConfig>),
    Help,
}

/// A `--turn` URL: credentials are minted for it, so it must be a TURN URL.
fn turn_url(text: &str) -> Result<IceUrl, String> {
    let url: IceUrl = text.parse().map_err(|e| format!("--turn: {e}"))?;
    if !url.scheme().is_turn() {
        return Err(format!(
            "--turn `{url}`: credentials only go with turn: or turns: URLs (a STUN server \
             needs none)"
        ));
    }
    Ok(url)
}

/// Reads the arguments; an error is a usage error.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut config = DemoConfig { verbose: true, ..DemoConfig::default() };
    let mut turn_urls = Vec::new();
    let mut relay_only = false;
    let (mut redis, mut node) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                let port = args.next().ok_or("--port needs a number")?;
                let port: u16 =
                    port.parse().map_err(|_| format!("--port: `{port}` is not a port"))?;
                config.addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            }
            "--turn" => {
                let url = args.next().ok_or("--turn needs a URL")?;
                turn_urls.push(turn_url(&url)?);
            }
            "--relay-only" => relay_only = true,
            "--records" => {
                let file = args.next().ok_or("--records needs a file")?;
                config.records = Some(file.into());
            }
            "--quiet" => config.verbose = false,
            "--redis" => redis = Some(args.next().ok_or("--redis needs a URL")?),
            "--node" => node = Some(args.next().ok_or("--node needs a name")?),
            "-h" | "--help" => return Ok(Command::Help),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if !turn_urls.is_empty() {
        let secret = std::env::var("VELARO_TURN_SECRET")
            .map_err(|_| "--turn needs the shared secret in VELARO_TURN_SECRET".to_owned())?;
        let secret = TurnSecret::new(secret).map_err(|e| format!("VELARO_TURN_SECRET: {e}"))?;
        config.turn = Some(TurnConfig { urls: turn_urls, secret, ttl: Duration::from_secs(3600) });
    } else if relay_only {
        return Err("--relay-only needs a --turn server".to_owned());
    }
    config.cluster = match (redis, node) {
        (Some(url), Some(node)) => Some(ClusterSettings::new(url, node)?),
        (Some(_), None) => return Err("--redis needs a --node name".to_owned()),
        (None, Some(_)) => return Err("--node needs --redis".to_owned()),
        (None, None) => None,
    };
    if let Some(secret) = std::env::var_os("VELARO_JOIN_KEY") {
        let secret = secret.into_encoded_bytes();
        let key = JoinKey::new("env", secret).map_err(|e| format!("VELARO_JOIN_KEY: {e}"))?;
        config = config.with_join_keys(JoinKeys::new(key));
    }
    if relay_only {
        // One setting for both ends: the browsers' policy, and (from the visitor's) the
        // relay's filter on what visitors send (`DemoConfig::relay_config`).
        config.visitor_policy = IceTransportPolicy::Relay;
        config.agent_policy = IceTransportPolicy::Relay;
    }
    Ok(Command::Serve(Box::new(config)))
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match parse(std::env::args().skip(1)) {
        Ok(Command::Serve(config)) => *config,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("server: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cluster_node = config.cluster.as_ref().map(|cluster| cluster.node.clone());
    let mut config = config;
    // Without VELARO_JOIN_KEY every node of a cluster signs with the key kept in Redis.
    let given_key = std::env::var_os("VELARO_JOIN_KEY").is_some();
    if let Some(cluster) = config.cluster.as_ref().filter(|_| !given_key) {
        match shared_join_key(cluster).await {
            Ok(key) => config = config.with_join_keys(JoinKeys::new(key)),
            Err(error) => {
                eprintln!("cannot start the demo server: the cluster's join key: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    let server = match DemoServer::start(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot start the demo server: {error}");
            return ExitCode::FAILURE;
        }
    };
    match &cluster_node {
        Some(node) => println!("Velaro call demo on {} (cluster node {node})", server.url("/")),
        None => println!("Velaro call demo on {}", server.url("/")),
    }
    println!("  agent:   {}", server.url("/agent?conversation=demo"));
    println!("  visitor: {}", server.url("/visitor?conversation=demo"));
    match server.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("the demo server stopped: {error}");
            ExitCode::FAILURE
        }
    }
}
