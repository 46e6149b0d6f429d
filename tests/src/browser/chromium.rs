//! How to launch headless Chromium through chromedriver.
//!
//! Findings on Chromium 156 headless (`--headless=new`); `tests/browser_driver.rs` checks fake
//! media, denial, loopback ICE and the clicked screen share, the rest was tried by hand:
//! - Fake media: `--use-fake-device-for-media-stream` gives the devices (labels
//!   `"Fake Default Audio Input"` and `"fake_device_0"`), `--use-fake-ui-for-media-stream`
//!   grants them without a prompt.
//! - Denied: without `--use-fake-ui-for-media-stream`, with `--deny-permission-prompts` and the
//!   camera and microphone content settings at 2 (block), `getUserMedia` rejects with
//!   `NotAllowedError` ("Permission denied"). The fake-UI flag overrides the content settings,
//!   so it must go.
//! - Screen share: `--use-fake-ui-for-media-stream` also makes `getDisplayMedia({video: true})`
//!   resolve at once with a fake 800×600 screen whose `getSettings().displaySurface` is
//!   `"monitor"` (`deviceId` `"screen:-3:0"`), also with `preferCurrentTab` or `audio: true`. It
//!   resolves from a `WebDriver` click on a button (a real user activation) and, with the fake UI,
//!   even from a plain script without any activation, so headless tests cannot catch a page
//!   that forgets the activation. Without the fake UI the picker is awaited forever: neither
//!   `--auto-select-desktop-capture-source=Entire screen`, `--auto-accept-this-tab-capture` nor
//!   `--auto-select-tab-capture-source-by-title=<title>` settles it headless, so with
//!   [`MediaPermission::Denied`] `getDisplayMedia` never settles.
//! - A loopback-only host needs `--allow-loopback-in-peer-connection` for ICE to connect.
//! - Chromium starts two `chrome_crashpad_handler`s that leave the driver's process group;
//!   `--disable-crashpad-for-testing` would stop them but makes navigation time out ("Timed out
//!   receiving message from renderer"), so they are killed by their environment tag instead.

use std::path::Path;

use fantoccini::wd::Capabilities;
use serde_json::json;
use tokio::process::Command;

use super::{BrowserError, BrowserOptions, MediaPermission, process};

/// Flags for every session: headless without GPU or sandbox (containers have neither), no
/// background network (the host has only loopback), fake media devices, autoplay, loopback ICE.
const COMMON_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--use-fake-device-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-breakpad",
    "--disable-domain-reliability",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-features=MediaRouter,OptimizationHints,Translate",
    "--no-first-run",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
];

/// The chromedriver command listening on `port`, and the capabilities for its session.
pub(super) fn launch(
    options: &BrowserOptions,
    profile: &Path,
    port: u16,
) -> Result<(Command, Capabilities), BrowserError> {
    let driver = process::find_program("chromedriver", &[]).ok_or(BrowserError::DriverMissing {
        name: "chromedriver",
        install: "apt-get install chromium-driver",
    })?;
    let browser = process::find_program("chromium", &[]).ok_or(BrowserError::DriverMissing {
        name: "chromium",
        install: "apt-get install chromium",
    })?;
    let mut command = Command::new(driver);
    command.arg(format!("--port={port}"));

    let (width, height) = options.window_size;
    let mut args: Vec<String> = COMMON_ARGS.iter().map(|&arg| arg.to_owned()).collect();
    args.push(format!("--window-size={width},{height}"));
    args.push(format!("--user-data-dir={}", profile.display()));
    let prefs = match options.media {
        MediaPermission::Fake => {
            args.push("--use-fake-ui-for-media-stream".to_owned());
            json!({})
        }
        MediaPermission::Denied => {
            args.push("--deny-permission-prompts".to_owned());
            json!({
                "profile.default_content_setting_values.media_stream_camera": 2,
                "profile.default_content_setting_values.media_stream_mic": 2,
            })
        }
    };
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".to_owned(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": browser, "args": args, "prefs": prefs }),
    );
    Ok((command, capabilities))
}
