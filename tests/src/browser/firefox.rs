//! How to launch headless Firefox through geckodriver.
//!
//! Findings on Firefox ESR 153 headless, checked by `tests/browser_driver.rs`: the fake-media
//! prefs alone are not enough on a loopback-only host. Without `permissions.default.camera` and
//! `permissions.default.microphone` at 1 (allow) Firefox treats the fake streams as not
//! permitted, gathers ICE candidates only on the default route and fails with "Couldn't gather
//! ICE candidates"; loopback candidates need `media.peerconnection.ice.loopback`. With both at
//! 2 (block) and `media.navigator.permission.disabled` off, `getUserMedia` rejects with
//! `NotAllowedError`.

use std::path::{Path, PathBuf};

use fantoccini::wd::Capabilities;
use serde_json::{Value, json};
use tokio::process::Command;

use super::{BrowserError, BrowserOptions, MediaPermission, process};

/// The geckodriver command listening on `port`, and the capabilities for its session.
pub(super) fn launch(
    options: &BrowserOptions,
    profile: &Path,
    port: u16,
) -> Result<(Command, Capabilities), BrowserError> {
    let driver = process::find_program("geckodriver", &cargo_bin_dirs()).ok_or(
        BrowserError::DriverMissing {
            name: "geckodriver",
            install: "cargo install --locked geckodriver",
        },
    )?;
    let browser = process::find_program("firefox-esr", &[])
        .or_else(|| process::find_program("firefox", &[]))
        .ok_or(BrowserError::DriverMissing {
            name: "firefox-esr",
            install: "apt-get install firefox-esr",
        })?;
    let mut command = Command::new(driver);
    command.arg("--host=127.0.0.1").arg(format!("--port={port}"));

    let (width, height) = options.window_size;
    let args = [
        "-headless".to_owned(),
        format!("--width={width}"),
        format!("--height={height}"),
        // Our own profile rather than geckodriver's: it lives in a directory we remove even
        // when geckodriver is killed before it could clean up.
        "-profile".to_owned(),
        profile.display().to_string(),
    ];
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".to_owned(), json!("firefox"));
    capabilities.insert(
        "moz:firefoxOptions".to_owned(),
        json!({ "binary": browser, "args": args, "prefs": prefs(options.media) }),
    );
    Ok((command, capabilities))
}

/// Where `cargo install` puts programs: `$CARGO_HOME/bin`, else `~/.cargo/bin`.
fn cargo_bin_dirs() -> Vec<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME").map(PathBuf::from);
    let home = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo"));
    cargo_home.into_iter().chain(home).map(|dir| dir.join("bin")).collect()
}

/// The profile's prefs: WebRTC on loopback with real host addresses, fake devices, autoplay,
/// and no telemetry, updates, experiments or other background requests (the host may have only
/// loopback).
fn prefs(media: MediaPermission) -> Value {
    // 1 allows, 2 blocks.
    let (permission, prompts_disabled) = match media {
        MediaPermission::Fake => (1, true),
        MediaPermission::Denied => (2, false),
    };
    json!({
        "media.navigator.streams.fake": true,
        "media.navigator.permission.disabled": prompts_disabled,
        "permissions.default.camera": permission,
        "permissions.default.microphone": permission,
        "media.peerconnection.ice.loopback": true,
        "media.peerconnection.ice.obfuscate_host_addresses": false,
        "media.peerconnection.ice.default_address_only": false,
        "media.autoplay.default": 0,
        "app.update.auto": false,
        "app.update.disabledForTesting": true,
        "app.normandy.enabled": false,
        "messaging-system.rsexperimentloader.enabled": false,
        "datareporting.policy.dataSubmissionEnabled": false,
        "datareporting.healthreport.uploadEnabled": false,
        "toolkit.telemetry.enabled": false,
        "toolkit.telemetry.unified": false,
        "browser.safebrowsing.malware.enabled": false,
        "browser.safebrowsing.phishing.enabled": false,
        "browser.safebrowsing.downloads.enabled": false,
        "browser.region.update.enabled": false,
        "extensions.update.enabled": false,
        "network.captive-portal-service.enabled": false,
        "network.connectivity-service.enabled": false,
        "network.dns.disablePrefetch": true,
        "network.prefetch-next": false,
    })
}
