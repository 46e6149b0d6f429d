//! Child processes that cannot outlive their owner, scratch directories and free ports.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::BrowserError;

/// How often to look again at something that is not ready yet.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How long killed processes may take to disappear.
const EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of a process's log an error quotes.
const LOG_TAIL_BYTES: u64 = 2_000;

/// Set in every process a [`ProcessTree`] starts (and inherited by everything those start): its
/// scratch directory, which names the tree.
pub(crate) const SCRATCH_VARIABLE: &str = "VELARO_E2E_SCRATCH";

/// Set alongside [`SCRATCH_VARIABLE`]: the pid of the test process that owns the tree.
const OWNER_VARIABLE: &str = "VELARO_E2E_OWNER";

/// How scratch directory names start, so that [`clean_up_after_dead_owners`] recognises them.
const SCRATCH_PREFIX: &str = "velaro-e2e-";

/// A child process and everything it starts, killed together.
///
/// A driver starts the browser and the browser starts its helpers; killing only the driver
/// would leave a browser running that holds its profile, ports and CPU and poisons every later
/// test. The child leads its own process group, which its descendants inherit, and carries
/// environment tags for those that leave the group: Chromium's crashpad handler and Firefox's
/// crashhelper call `setsid` and are reparented to init. Everything is killed when this is
/// dropped or [`stop`](Self::stop)ped.
pub(crate) struct ProcessTree {
    name: &'static str,
    child: Child,
    pgid: u32,
    scratch: String,
    log: PathBuf,
    leader_reaped: bool,
    stopped: bool,
}

impl ProcessTree {
    /// Spawns `command` leading a new process group, tagged with `scratch` (the owner's
    /// directory), with stdout and stderr going to `<scratch>/<name>.log`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        scratch: &ScratchDir,
    ) -> Result<Self, BrowserError> {
        let log = scratch.path().join(format!("{name}.log"));
        let stdout = File::create(&log).map_err(|e| BrowserError::io(&log, "creating", e))?;
        let stderr = stdout.try_clone().map_err(|e| BrowserError::io(&log, "opening", e))?;
        let tag = scratch.path().display().to_string();
        command.env(SCRATCH_VARIABLE, &tag).env(OWNER_VARIABLE, std::process::id().to_string());
        command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        command.process_group(0).kill_on_drop(true);
        let child = command.spawn().map_err(|e| BrowserError::DriverStart {
            name,
            reason: format!("spawn failed: {e}"),
        })?;
        // `id` is `None` only once the child has been reaped, which nothing has done yet.
        let pgid = child.id().ok_or_else(|| BrowserError::DriverStart {
            name,
            reason: "exited before it could be watched".to_owned(),
        })?;
        Ok(ProcessTree {
            name,
            child,
            pgid,
            scratch: tag,
            log,
            leader_reaped: false,
            stopped: false,
        })
    }

    /// Fails if the child has exited: it should run until it is stopped.
    pub(crate) fn check_running(&mut self) -> Result<(), BrowserError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => {
                self.leader_reaped = true;
                Err(self.start_error(format_args!("exited with {status}")))
            }
            Err(e) => Err(self.start_error(format_args!("cannot be watched: {e}"))),
        }
    }

    /// A [`BrowserError::DriverStart`] quoting the end of the process's log.
    pub(crate) fn start_error(&self, reason: impl std::fmt::Display) -> BrowserError {
        BrowserError::DriverStart {
            name: self.name,
            reason: format!("{reason}; end of {}:\n{}", self.log.display(), log_tail(&self.log)),
        }
    }

    /// Kills every process of the tree and waits until none runs any more (bounded).
    pub(crate) async fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.kill();
        let _ = tokio::time::timeout(EXIT_TIMEOUT, async {
            let _ = self.child.wait().await;
            self.leader_reaped = true;
            while !self.live_members().is_empty() {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        })
        .await;
        self.stopped = true;
    }

    fn kill(&self) {
        let mut targets = self.live_members();
        // While the leader is unreaped its id cannot be reused, so signalling the group is safe;
        // it also catches a process forked after the scan.
        if !self.leader_reaped {
            targets.push(-i64::from(self.pgid));
        }
        kill(&targets);
    }

    /// The live processes in the group or carrying the tag.
    fn live_members(&self) -> Vec<i64> {
        live_processes()
            .filter(|p| {
                p.pgrp == self.pgid || p.env_var(SCRATCH_VARIABLE) == Some(self.scratch.as_bytes())
            })
            .map(|p| i64::from(p.pid))
            .collect()
    }
}

impl Drop for ProcessTree {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        self.kill();
        // Wait (blocking: drop cannot await) so that the owner can remove the profile the
        // processes were writing to; killed processes are gone within milliseconds.
        let polls = EXIT_TIMEOUT.as_millis() / POLL_INTERVAL.as_millis();
        for _ in 0..polls {
            if self.live_members().is_empty() {
                break;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }
}

/// Kills what an earlier test process left behind when it died without running destructors:
/// SIGKILL, a panic with `panic = "abort"`, or Ctrl-C (the terminal's SIGINT reaches only the
/// foreground process group, and our trees run in their own). Its processes carry a dead
/// [`OWNER_VARIABLE`]; its directories are named after the dead pid.
pub(crate) fn clean_up_after_dead_owners() {
    let live: Vec<ProcessInfo> = live_processes().collect();
    let is_dead = |pid: u32| !live.iter().any(|p| p.pid == pid);
    let orphans: Vec<i64> = live
        .iter()
        .filter(|p| {
            let owner =
                p.env_var(OWNER_VARIABLE).and_then(|v| std::str::from_utf8(v).ok()?.parse().ok());
            owner.is_some_and(is_dead)
        })
        .map(|p| i64::from(p.pid))
        .collect();
    kill(&orphans);
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if scratch_owner(&name.to_string_lossy()).is_some_and(is_dead) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Sends SIGKILL to each pid (a negative one names a process group).
fn kill(targets: &[i64]) {
    if targets.is_empty() {
        return;
    }
    let targets: Vec<String> = targets.iter().map(i64::to_string).collect();
    // The shell's `kill` builtin signals processes and groups without `unsafe` or libc, and
    // `/bin/sh` exists even where procps does not.
    let _ = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s KILL -- {}", targets.join(" ")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// What `/proc` tells about one process.
struct ProcessInfo {
    pid: u32,
    pgrp: u32,
    environ: Vec<u8>,
}

impl ProcessInfo {
    fn env_var(&self, name: &str) -> Option<&[u8]> {
        self.environ
            .split(|&b| b == 0)
            .find_map(|var| var.strip_prefix(name.as_bytes())?.strip_prefix(b"="))
    }
}

/// Every process that is alive (zombies, already dead, do not count).
fn live_processes() -> impl Iterator<Item = ProcessInfo> {
    let entries = std::fs::read_dir("/proc").into_iter().flatten().flatten();
    entries.filter_map(|entry| {
        let pid = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        // `pid (comm) state ppid pgrp ...`; `comm` may hold spaces and parentheses.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
        let (state, pgrp) = (fields.next()?, fields.nth(1)?.parse().ok()?);
        if state == "Z" || state == "X" {
            return None;
        }
        // Unreadable for other users' processes, which are not ours to kill anyway.
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        Some(ProcessInfo { pid, pgrp, environ })
    })
}

/// The last [`LOG_TAIL_BYTES`] of `log`, for error messages.
fn log_tail(log: &Path) -> String {
    let mut tail = Vec::new();
    let read = File::open(log).and_then(|mut file| {
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
        file.read_to_end(&mut tail)
    });
    match read {
        Ok(_) => String::from_utf8_lossy(&tail).into_owned(),
        Err(e) => format!("(unreadable: {e})"),
    }
}

/// A fresh directory under the system temp dir, removed with everything in it on drop.
pub(crate) struct ScratchDir {
    path: PathBuf,
    removed: bool,
}

impl ScratchDir {
    /// Creates `velaro-e2e-<label>-<pid>-<n>`, a name no other process or call uses.
    pub(crate) fn new(label: &str) -> Result<Self, BrowserError> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("{SCRATCH_PREFIX}{label}-{}-{n}", std::process::id());
            let path = std::env::temp_dir().join(name);
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(ScratchDir { path, removed: false }),
                // Left behind by an earlier process that had our pid: take the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(BrowserError::io(&path, "creating", e)),
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the directory now, reporting failure (dropping it removes it silently).
    pub(crate) fn remove(&mut self) -> Result<(), BrowserError> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        match std::fs::remove_dir_all(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(BrowserError::io(&self.path, "removing", e))
            }
            _ => Ok(()),
        }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

/// The owner pid in a scratch directory name `velaro-e2e-<label>-<pid>-<n>`.
fn scratch_owner(name: &str) -> Option<u32> {
    let mut parts = name.strip_prefix(SCRATCH_PREFIX)?.rsplitn(3, '-');
    let (n, pid, label) = (parts.next()?, parts.next()?, parts.next()?);
    let is_word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (is_word(label) && is_number(n)).then(|| pid.parse().ok()).flatten()
}

/// A loopback TCP port nothing listens on, to pass to a program that cannot pick its own and
/// report it. Another process could take it before the program binds it; the program then fails
/// to start and says so.
pub(crate) fn free_tcp_port() -> Result<u16, BrowserError> {
    let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map_err(|e| BrowserError::io(Path::new("127.0.0.1:0"), "binding", e))?;
    Ok(addr.port())
}

/// A loopback port free for both TCP and UDP (a TURN server listens on both).
pub(crate) fn free_tcp_and_udp_port() -> Result<u16, BrowserError> {
    loop {
        let port = free_tcp_port()?;
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
}

/// The first `name` on `PATH`, else in `extra_dirs`.
pub(crate) fn find_program(name: &str, extra_dirs: &[PathBuf]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra_dirs.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(pid: u32) -> bool {
        live_processes().any(|p| p.pid == pid)
    }

    /// The pid a `sh` child wrote to `file`, once it has.
    async fn read_pid(file: &Path) -> u32 {
        loop {
            if let Some(pid) =
                std::fs::read_to_string(file).ok().and_then(|s| s.trim().parse().ok())
            {
                return pid;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    #[tokio::test]
    async fn dropping_a_tree_kills_a_helper_that_left_the_group() {
        let scratch = ScratchDir::new("unit").unwrap();
        let pid_file = scratch.path().join("escaped.pid");
        let mut command = Command::new("/bin/sh");
        let script = format!("setsid sleep 600 & echo $! > {}; sleep 600", pid_file.display());
        command.arg("-c").arg(script);
        let tree = ProcessTree::spawn("sh", command, &scratch).unwrap();
        let escaped = read_pid(&pid_file).await;
        assert!(running(escaped));

        drop(tree);
        assert!(!running(escaped), "the setsid child outlived its tree");
    }

    #[tokio::test]
    async fn processes_of_a_dead_owner_are_killed_and_their_directory_removed() {
        let dead = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        let mut dead = dead;
        dead.wait().unwrap();
        let leftover = std::env::temp_dir().join(format!("{SCRATCH_PREFIX}unit-{dead_pid}-0"));
        std::fs::create_dir_all(&leftover).unwrap();
        let mut orphan = std::process::Command::new("sleep")
            .arg("600")
            .env(OWNER_VARIABLE, dead_pid.to_string())
            .spawn()
            .unwrap();
        // `spawn` returns once the child is in `execve`, but the kernel publishes the new
        // environment a moment later: until then `/proc/<pid>/environ` reads empty.
        let orphan_pid = orphan.id();
        let shows_owner =
            || live_processes().any(|p| p.pid == orphan_pid && p.env_var(OWNER_VARIABLE).is_some());
        tokio::time::timeout(EXIT_TIMEOUT, async {
            while !shows_owner() {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        })
        .await
        .expect("the orphan's environment never showed its owner");

        clean_up_after_dead_owners();
        let exited = tokio::time::timeout(EXIT_TIMEOUT, async {
            loop {
                if let Some(status) = orphan.try_wait().unwrap() {
                    return status;
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        })
        .await;
        let Ok(status) = exited else {
            orphan.kill().unwrap();
            orphan.wait().unwrap();
            panic!("the orphan of a dead owner was left running");
        };
        assert!(!status.success(), "killed, not exited");
        assert!(!leftover.exists());
    }

    #[test]
    fn scratch_owner_reads_only_our_names() {
        assert_eq!(scratch_owner("velaro-e2e-chromium-6067-8"), Some(6067));
        assert_eq!(scratch_owner("velaro-e2e-coturn-1-0"), Some(1));
        assert_eq!(scratch_owner("velaro-e2e-chromium-6067"), None);
        assert_eq!(scratch_owner("velaro-e2e--6067-8"), None);
        assert_eq!(scratch_owner("velaro-e2e-chromium-x-8"), None);
        assert_eq!(scratch_owner("velaro-demo-6067-8"), None);
    }
}
