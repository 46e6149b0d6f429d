//! A throwaway coturn TURN server on loopback.

use std::net::Ipv4Addr;
use std::time::Duration;

use tokio::net::{TcpStream, UdpSocket};
use tokio::process::Command;

use super::BrowserError;
use super::process::{self, POLL_INTERVAL, ProcessTree, ScratchDir};

/// How long coturn may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The UDP ports coturn relays from: below Linux's ephemeral range (32768 and up), so browsers'
/// own sockets do not take them, and few (a test allocates a handful), yet enough that servers
/// running at once rarely pick the same one.
const RELAY_PORTS: (u16, u16) = (29_000, 29_199);

/// A coturn `turnserver` process on 127.0.0.1, killed on drop.
///
/// It checks TURN REST credentials (`use-auth-secret`), the scheme
/// `velaro_ice_config::TurnCredentials` mints, so a test can prove minted credentials work
/// against a real server.
pub struct Coturn {
    // Declared before `scratch`: the process must be dead before its directory goes.
    process: ProcessTree,
    port: u16,
    scratch: ScratchDir,
}

impl Coturn {
    /// Starts coturn on 127.0.0.1 on a free port with `use-auth-secret` and this static secret
    /// and realm, loopback peers allowed, no TLS/DTLS, no CLI, relay ports in a small range, no
    /// config file; waits until it listens.
    ///
    /// Its database, pid file and log live in a scratch directory, so nothing outside it is
    /// touched and several servers can run at once.
    pub async fn start(secret: &str, realm: &str) -> Result<Coturn, BrowserError> {
        let program =
            process::find_program("turnserver", &[]).ok_or(BrowserError::DriverMissing {
                name: "turnserver",
                install: "apt-get install coturn",
            })?;
        process::clean_up_after_dead_owners();
        let scratch = ScratchDir::new("coturn")?;
        let port = process::free_tcp_and_udp_port()?;
        let dir = scratch.path();
        let mut command = Command::new(program);
        command
            .arg("-n") // no config file: ignore /etc/turnserver.conf
            .arg("--listening-ip=127.0.0.1")
            .arg(format!("--listening-port={port}"))
            .arg("--relay-ip=127.0.0.1")
            .arg(format!("--min-port={}", RELAY_PORTS.0))
            .arg(format!("--max-port={}", RELAY_PORTS.1))
            .arg("--use-auth-secret")
            .arg(format!("--static-auth-secret={secret}"))
            .arg(format!("--realm={realm}"))
            .arg("--allow-loopback-peers")
            .args(["--no-tls", "--no-dtls", "--no-cli", "--fingerprint"])
            .arg(format!("--userdb={}", dir.join("turndb").display()))
            .arg(format!("--pidfile={}", dir.join("turnserver.pid").display()))
            .arg("--log-file=stdout");
        let mut process = ProcessTree::spawn("turnserver", command, &scratch)?;
        wait_until_listening(&mut process, port).await?;
        Ok(Coturn { process, port, scratch })
    }

    /// The port it listens on, UDP and TCP, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `turn:127.0.0.1:<port>`, for an `RTCIceServer`'s `urls`.
    pub fn turn_url(&self) -> String {
        format!("turn:127.0.0.1:{}", self.port)
    }

    /// Kills the server and removes its directory, waiting for both (dropping does the same
    /// but blocks the thread).
    pub async fn stop(mut self) -> Result<(), BrowserError> {
        self.process.stop().await;
        self.scratch.remove()
    }
}

/// A STUN binding request (RFC 8489 §6) with a fixed transaction id: the readiness probe.
const BINDING_REQUEST: [u8; 20] = [
    0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, b'v', b'e', b'l', b'a', b'r', b'o', b'-', b'r',
    b'e', b'a', b'd', b'y',
];

/// Waits until coturn accepts TCP on `port` and answers a STUN binding request over UDP (what
/// browsers use; its UDP listener comes up after the TCP one), failing early if it exits.
async fn wait_until_listening(process: &mut ProcessTree, port: u16) -> Result<(), BrowserError> {
    let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|source| BrowserError::Io { context: "binding a UDP probe".to_owned(), source })?;
    let waited = tokio::time::timeout(START_TIMEOUT, async {
        let mut answer = [0; 512];
        loop {
            process.check_running()?;
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.is_ok()
                && probe.send_to(&BINDING_REQUEST, (Ipv4Addr::LOCALHOST, port)).await.is_ok()
                && let Ok(Ok(len)) =
                    tokio::time::timeout(POLL_INTERVAL, probe.recv(&mut answer)).await
                && answer.get(..2) == Some(&[0x01, 0x01])
                && len >= 20
            {
                return Ok(());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| {
        Err(process
            .start_error(format_args!("no STUN answer on port {port} after {START_TIMEOUT:?}")))
    })
}
