//! Real browsers and a real TURN server for end-to-end tests (feature `browser`).
//!
//! [`Browser`] drives headless Chromium or Firefox through their `WebDriver` servers
//! (chromedriver, geckodriver) with fake camera and microphone, so a test can open a page and
//! make a real WebRTC call on a loopback-only host. [`Coturn`] runs a TURN server that checks
//! the credentials `velaro_ice_config::TurnCredentials` mints.
//!
//! Every process started here ends with its owner (dropped or closed), because one leaked
//! browser slows down or breaks every later run. Each driver leads its own process group, which
//! the browser and its helpers inherit, and carries an environment variable naming its owner's
//! scratch directory, which also marks the crash handlers that leave the group; all of them are
//! killed. Each browser's fresh profile lives in that directory, which is removed too. A test
//! process that dies without running destructors (SIGKILL, or Ctrl-C: the terminal's SIGINT
//! does not reach our process groups) leaves its browsers running; the next [`Browser::start`]
//! or [`Coturn::start`] kills them and removes their directories.
//!
//! Needs `chromium`, `chromedriver`, `firefox-esr`, `geckodriver` and `turnserver` installed
//! (`.ci/run` installs them); a missing one is a [`BrowserError::DriverMissing`].

#![deny(missing_docs)]
#![warn(clippy::pedantic, clippy::unwrap_used, clippy::expect_used)]
// As in the workspace's lint table: pedantic lints that cost more than they give here.
#![allow(clippy::missing_errors_doc, clippy::must_use_candidate, clippy::module_name_repetitions)]

mod chromium;
mod coturn;
mod firefox;
mod process;

use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::error::{CmdError, ErrorStatus, NewSessionError};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

pub use coturn::Coturn;
use process::{POLL_INTERVAL, ProcessTree, ScratchDir};

/// How long a driver may take to answer `/status`.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long one `/status` request may take.
const STATUS_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the driver may take to start the browser (Firefox takes about 5 s here).
const SESSION_START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long [`Browser::close`] waits for the driver to end the session gracefully.
const SESSION_END_TIMEOUT: Duration = Duration::from_secs(10);

/// Which browser to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BrowserKind {
    /// Debian's `chromium` through `chromedriver`.
    Chromium,
    /// `firefox-esr` through `geckodriver`.
    Firefox,
}

impl BrowserKind {
    /// Both kinds, for tests that must hold in every browser.
    pub const ALL: [BrowserKind; 2] = [BrowserKind::Chromium, BrowserKind::Firefox];

    /// A short lowercase name for messages and directory names.
    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Firefox => "firefox",
        }
    }
}

/// What the page gets when it asks for the camera and microphone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaPermission {
    /// Granted without a prompt, to fake devices (a test pattern and a tone), so calls can run
    /// on a machine without a camera. In Chromium `getDisplayMedia` also resolves, with a fake
    /// screen (`displaySurface` `"monitor"`); headless Firefox has no screen to share and
    /// rejects it with `NotFoundError`.
    #[default]
    Fake,
    /// Refused as if the visitor had blocked the site: `getUserMedia` rejects with
    /// `NotAllowedError`. In Chromium `getDisplayMedia` then never settles (it waits for a
    /// picker that headless Chromium does not show).
    Denied,
}

/// How to start a [`Browser`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserOptions {
    /// Camera and microphone permission.
    pub media: MediaPermission,
    /// Window size in CSS pixels, fixed so layouts and screenshots do not depend on the host.
    pub window_size: (u32, u32),
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions { media: MediaPermission::Fake, window_size: (1280, 800) }
    }
}

/// Why a browser, driver or TURN server could not be started or driven.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    /// A program this module runs is not installed.
    #[error("{name} is not installed (install it with `{install}`)")]
    DriverMissing {
        /// The program looked for.
        name: &'static str,
        /// How to install it.
        install: &'static str,
    },
    /// A program started but exited or did not become ready in time.
    #[error("{name} did not start: {reason}")]
    DriverStart {
        /// The program.
        name: &'static str,
        /// What went wrong, with the end of its log.
        reason: String,
    },
    /// The driver refused to start a browser session.
    #[error("webdriver session not created: {0}")]
    NewSession(Box<NewSessionError>),
    /// A `WebDriver` command failed (a script threw, an element is missing, the browser died).
    #[error("webdriver command failed: {0}")]
    WebDriver(Box<CmdError>),
    /// Something did not happen in time.
    #[error("timed out waiting for {what}; last seen: {last}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// The last value or error seen while waiting.
        last: String,
    },
    /// A file or socket operation failed.
    #[error("{context}: {source}")]
    Io {
        /// The operation and its path or address.
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl BrowserError {
    fn io(path: &Path, doing: &str, source: io::Error) -> Self {
        BrowserError::Io { context: format!("{doing} {}", path.display()), source }
    }
}

impl From<CmdError> for BrowserError {
    fn from(error: CmdError) -> Self {
        BrowserError::WebDriver(Box::new(error))
    }
}

/// One headless browser: a `WebDriver` session, the driver process that runs it, and a fresh
/// profile.
///
/// Dropping it kills the driver and everything it started (so the browser too) and removes the
/// profile, blocking the thread for the few milliseconds that takes; [`close`](Self::close)
/// first ends the session gracefully and waits without blocking.
pub struct Browser {
    kind: BrowserKind,
    // Drop order matters: the session, then the processes, then the directory they wrote to.
    client: Client,
    driver: ProcessTree,
    scratch: ScratchDir,
    profile: PathBuf,
}

impl Browser {
    /// Starts the driver on a free loopback port, waits until it is ready, and opens a session
    /// with a fresh profile and the flags or prefs `options` asks for.
    pub async fn start(
        kind: BrowserKind,
        options: BrowserOptions,
    ) -> Result<Browser, BrowserError> {
        process::clean_up_after_dead_owners();
        let scratch = ScratchDir::new(kind.name())?;
        let profile = scratch.path().join("profile");
        std::fs::create_dir(&profile).map_err(|e| BrowserError::io(&profile, "creating", e))?;
        let port = process::free_tcp_port()?;
        let (command, capabilities) = match kind {
            BrowserKind::Chromium => chromium::launch(&options, &profile, port)?,
            BrowserKind::Firefox => firefox::launch(&options, &profile, port)?,
        };
        let driver_name = match kind {
            BrowserKind::Chromium => "chromedriver",
            BrowserKind::Firefox => "geckodriver",
        };
        let mut driver = ProcessTree::spawn(driver_name, command, &scratch)?;
        wait_until_ready(&mut driver, port).await?;

        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{port}");
        let client = match tokio::time::timeout(SESSION_START_TIMEOUT, builder.connect(&url)).await
        {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(BrowserError::NewSession(Box::new(e))),
            Err(_) => {
                return Err(driver.start_error(format_args!(
                    "no {} session after {SESSION_START_TIMEOUT:?}",
                    kind.name()
                )));
            }
        };
        Ok(Browser { kind, client, driver, scratch, profile })
    }

    /// Which browser this is.
    pub fn kind(&self) -> BrowserKind {
        self.kind
    }

    /// The browser's profile directory, removed when the browser is closed or dropped. Its
    /// parent, the scratch directory, is the value of the environment variable
    /// `VELARO_E2E_SCRATCH` in every process this browser started, so a test can look for
    /// processes left behind.
    pub fn profile_dir(&self) -> &Path {
        &self.profile
    }

    /// Navigates to `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        Ok(self.client.goto(url).await?)
    }

    /// Runs `script` as a `WebDriver` "execute script" body (so it may `return` a value or a
    /// Promise, which `WebDriver` awaits).
    ///
    /// The body is wrapped in an `async` function, so it may also `await`: geckodriver rejects
    /// a bare `await`. A thrown error is a [`BrowserError::WebDriver`] naming it.
    pub async fn eval(&self, script: &str) -> Result<Value, BrowserError> {
        let body = format!("return (async () => {{\n{script}\n}})();");
        Ok(self.client.execute(&body, Vec::new()).await?)
    }

    /// Clicks the first element matching `css_selector`, as a user would: the page gets a user
    /// activation, which APIs like `getDisplayMedia` and unmuted `play()` may require.
    pub async fn click(&self, css_selector: &str) -> Result<(), BrowserError> {
        self.client.find(Locator::Css(css_selector)).await?.click().await?;
        Ok(())
    }

    /// Polls `expression` (a JS expression) until it is truthy, returns its value; a timeout
    /// error names the expression and the last value seen.
    ///
    /// An expression that throws (say, a variable the page has not defined yet) counts as not
    /// yet true. The expression should settle quickly: a Promise still pending at the timeout
    /// holds the session until the driver's script timeout.
    pub async fn wait_for(
        &self,
        expression: &str,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let script = format!("return ({expression});");
        let mut last = String::from("nothing (no answer yet)");
        let polled = tokio::time::timeout(timeout, async {
            loop {
                match self.eval(&script).await {
                    Ok(value) if is_truthy(&value) => return Ok(value),
                    Ok(value) => last = value.to_string(),
                    Err(BrowserError::WebDriver(error)) if is_script_error(&error) => {
                        last = format!("error {error}");
                    }
                    Err(other) => return Err(other),
                }
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        })
        .await;
        polled.unwrap_or_else(|_| {
            Err(BrowserError::Timeout {
                what: format!("`{expression}` to be truthy within {timeout:?}"),
                last,
            })
        })
    }

    /// Saves a PNG of the viewport to `path`, to see what a failing test saw.
    pub async fn screenshot(&self, path: &Path) -> Result<(), BrowserError> {
        let png = self.client.screenshot().await?;
        std::fs::write(path, png).map_err(|e| BrowserError::io(path, "writing", e))
    }

    /// Ends the session (the driver quits the browser), then kills whatever the driver started
    /// that still runs and removes the profile, waiting for each without blocking the runtime.
    ///
    /// Cleans up even when ending the session fails, then returns that error.
    pub async fn close(mut self) -> Result<(), BrowserError> {
        // A clone shares the session; closing it ends the session for every clone.
        let ended =
            match tokio::time::timeout(SESSION_END_TIMEOUT, self.client.clone().close()).await {
                Ok(result) => result.map_err(BrowserError::from),
                Err(_) => Err(BrowserError::Timeout {
                    what: format!("the {} session to end", self.kind.name()),
                    last: "no answer".to_owned(),
                }),
            };
        self.driver.stop().await;
        self.scratch.remove()?;
        ended
    }
}

/// JavaScript truthiness of a value that came back through JSON (`NaN` arrives as `null`).
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// Whether the page's script threw, as opposed to the session or browser failing.
fn is_script_error(error: &CmdError) -> bool {
    matches!(error, CmdError::Standard(e) if e.error == ErrorStatus::JavascriptError)
}

/// Waits until the driver on `port` answers `/status` with `"ready": true`, failing early if it
/// exits (say, because another process took the port).
async fn wait_until_ready(driver: &mut ProcessTree, port: u16) -> Result<(), BrowserError> {
    let waited = tokio::time::timeout(DRIVER_START_TIMEOUT, async {
        loop {
            driver.check_running()?;
            if status_is_ready(port).await {
                return Ok(());
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| {
        Err(driver.start_error(format_args!("/status not ready after {DRIVER_START_TIMEOUT:?}")))
    })
}

/// One `GET /status`, by hand: cheaper than an HTTP client for one question. Reads until the
/// body parses, since a driver may keep the connection open.
async fn status_is_ready(port: u16) -> bool {
    let probe = async {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.ok()?;
        // geckodriver rejects a Host header without the port.
        let request =
            format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        loop {
            if stream.read_buf(&mut response).await.ok()? == 0 {
                return None;
            }
            let text = String::from_utf8_lossy(&response);
            let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
            if let Ok(status) = serde_json::from_str::<Value>(body) {
                return Some(status.pointer("/value/ready") == Some(&Value::Bool(true)));
            }
        }
    };
    matches!(tokio::time::timeout(STATUS_PROBE_TIMEOUT, probe).await, Ok(Some(true)))
}
