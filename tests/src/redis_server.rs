//! A `redis-server` of a test's own (`/usr/bin/redis-server`, Redis 7; `.ci/run` installs it),
//! for the cluster tests.

// The helper panics on purpose: a test that cannot start Redis fails there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// The IO edge: it spawns the server and waits on the real clock.
#![allow(clippy::disallowed_methods)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` of the test's own, on a free loopback port; killed when dropped, on every
/// path (a failed assertion too), its data directory (if any) removed.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    port: u16,
    /// Where a persistent server keeps its append-only file.
    dir: Option<PathBuf>,
}

impl RedisServer {
    /// Starts one without persistence on a free loopback port and waits until it takes
    /// connections (panics if it cannot).
    pub fn start() -> RedisServer {
        Self::start_on_free_port(None)
    }

    /// Starts one that writes every change to an append-only file, synced before Redis
    /// answers (`appendfsync always`): a [`restart`](Self::restart) loses nothing Redis
    /// acknowledged. That is how a cluster's Redis must run to survive its own restart.
    pub fn start_persistent() -> RedisServer {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("velaro-redis-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self::start_on_free_port(Some(dir))
    }

    fn start_on_free_port(dir: Option<PathBuf>) -> RedisServer {
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            if let Some(child) = spawn(port, dir.as_ref()) {
                return RedisServer { child, port, dir };
            }
            // The port was taken meanwhile: try another.
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

    /// Kills the server (`SIGKILL`: no goodbye to its clients, no last save), waits `down`,
    /// and starts a new one on the same port that loads what the old one wrote (everything,
    /// if it was [`start_persistent`](Self::start_persistent)); returns once it answers.
    pub fn restart(&mut self, down: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        let started = Instant::now();
        loop {
            if let Some(child) = spawn(self.port, self.dir.as_ref()) {
                self.child = child;
                return;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "redis-server did not restart");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A server on `port` (persisting into `dir`, if any) once it answers `PING` (it has loaded
/// its data); `None` if it exited (the port is taken).
fn spawn(port: u16, dir: Option<&PathBuf>) -> Option<Child> {
    let mut command = Command::new("/usr/bin/redis-server");
    command.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--daemonize", "no"]);
    command.args(["--save", ""]);
    match dir {
        Some(dir) => {
            command.arg("--dir").arg(dir);
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        }
        None => {
            command.args(["--appendonly", "no"]);
        }
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server (apt-get install redis-server; .ci/run installs it)");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        if answers_ping(port) {
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Whether the server on `port` answers `PING` with `PONG` (not `-LOADING`).
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
