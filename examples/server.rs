//! The browser demo: a chat with video calls between an agent's and a visitor's browser.
//!
//! ```text
//! cargo run --example server                 # then open http://127.0.0.1:8080/
//! cargo run --example server -- --port 9000 --turn turn:127.0.0.1:3478 --relay-only
//! ```
//!
//! Open `/agent?conversation=demo` and `/visitor?conversation=demo` in two browser windows;
//! the agent's camera icon starts a call. With `--turn URL` the pages get TURN credentials
//! minted from the secret in `VELARO_TURN_SECRET` (coturn's `static-auth-secret`), and
//! `--relay-only` makes both browsers use the TURN server only.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use velaro_demo::{DemoConfig, DemoServer, TurnConfig};
use velaro_ice_config::{IceTransportPolicy, TurnSecret};

const USAGE: &str = "usage: server [--port N] [--turn URL]... [--relay-only] [--quiet]
  --port N       listen on 127.0.0.1:N (default 8080; 0 picks a free port)
  --turn URL     a TURN server sharing VELARO_TURN_SECRET (e.g. turn:127.0.0.1:3478)
  --relay-only   both browsers use only the TURN server (iceTransportPolicy relay)
  --quiet        do not print the relay's events";

fn config(mut args: impl Iterator<Item = String>) -> Result<DemoConfig, String> {
    let mut config = DemoConfig { verbose: true, ..DemoConfig::default() };
    let mut turn_urls = Vec::new();
    let mut relay_only = false;
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
                turn_urls.push(url.parse().map_err(|e| format!("--turn: {e}"))?);
            }
            "--relay-only" => relay_only = true,
            "--quiet" => config.verbose = false,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
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
    if relay_only {
        config.visitor_policy = IceTransportPolicy::Relay;
        config.agent_policy = IceTransportPolicy::Relay;
    }
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match config(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let server = match DemoServer::start(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("cannot start the demo server: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("Velaro call demo on {}", server.url("/"));
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
