//! A `redis-server` of a test's own (`/usr/bin/redis-server`, Redis 7; `.ci/run` installs it),
//! for the cluster tests.

// The helper panics on purpose: a test that cannot start Redis fails there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The IO edge: it spawns the server and waits on the real clock.
#![allow(clippy::disallowed_methods)]

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of the test's own, on a free loopback port, without persistence; killed
/// when dropped, on every path (a failed assertion too).
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts one on a free loopback port and waits until it takes connections (panics if it
    /// cannot).
    pub fn start() -> RedisServer {
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let child = Command::new("/usr/bin/redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server (apt-get install redis-server; .ci/run installs it)");
            let mut server = RedisServer { child, port };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                if server.child.try_wait().unwrap().is_some() {
                    break; // the port was taken meanwhile: try another
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return server;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start");
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops (`SIGSTOP`) or continues (`SIGCONT`) the server: unreachable, with its data kept.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(status.success(), "kill {signal} {pid}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
