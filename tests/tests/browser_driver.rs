//! The browser-driving library against real headless Chromium and Firefox and a real coturn:
//! fake media and loopback WebRTC work, denial is a real `NotAllowedError`, Chromium's screen
//! share resolves, credentials we mint are accepted by coturn (and a call relays through it),
//! and no process outlives its owner.
//!
//! Run with `cargo test -p velaro-tests --features browser --test browser_driver`; needs the
//! programs `.ci/run` installs.

#![cfg(feature = "browser")]
// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
// The test is the IO edge: it spawns the page server and reads the clock to mint credentials.
#![allow(clippy::disallowed_methods)]
#![warn(clippy::pedantic)]

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use velaro_ice_config::{
    IceServer, IceTransportPolicy, RtcConfiguration, TurnCredentials, TurnSecret,
};
use velaro_tests::browser::{
    Browser, BrowserError, BrowserKind, BrowserOptions, Coturn, MediaPermission,
};

/// Generous: two browsers share two cores with whatever else runs.
const WAIT: Duration = Duration::from_secs(20);

const TURN_SECRET: &str = "velaro-browser-test-secret-0123456789";
const TURN_REALM: &str = "velaro.test";

/// The page every test drives. Its helpers keep the JavaScript in one place.
const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>velaro browser test</title>
<button id="share">share screen</button>
<script>
// Screen share from a click, as a real page must do it (user activation).
window.shared = null;
document.getElementById("share").onclick = async () => {
  try {
    const stream = await navigator.mediaDevices.getDisplayMedia({ video: true });
    const track = stream.getVideoTracks()[0];
    window.shared = { kind: track.kind, settings: track.getSettings() };
  } catch (e) {
    window.shared = { error: e.name };
  }
};

async function trackKinds() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  const kinds = stream.getTracks().map((t) => t.kind).sort();
  stream.getTracks().forEach((t) => t.stop());
  return kinds;
}

async function getUserMediaError() {
  try {
    await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    return "granted";
  } catch (e) {
    return e.name;
  }
}

// Two peer connections in this page wired to each other: a call with no signaling server.
async function loopbackCall(config) {
  const a = new RTCPeerConnection(config), b = new RTCPeerConnection(config);
  window.pcs = [a, b];
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  stream.getTracks().forEach((t) => a.addTrack(t, stream));
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
}

function connected() {
  return pcs.every((pc) => pc.connectionState === "connected");
}

async function videoFramesDecoded(pc) {
  let frames = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video") frames += r.framesDecoded || 0;
  });
  return frames;
}

// Every candidate one connection gathers, and the error codes of failed server requests.
async function gather(config) {
  const pc = new RTCPeerConnection(config);
  pc.createDataChannel("probe");
  const candidates = [], errors = [];
  pc.onicecandidateerror = (e) => errors.push(e.errorCode);
  const complete = new Promise((resolve) => {
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
  });
  pc.onicecandidate = (e) => e.candidate && e.candidate.candidate && candidates.push(e.candidate.candidate);
  await pc.setLocalDescription();
  await complete;
  pc.close();
  return { candidates, errors };
}
</script>
"#;

/// Serves [`PAGE`] at `/` on a free loopback port until the test's runtime ends, and returns
/// its URL. `http://127.0.0.1` is a secure context, so media APIs work there.
async fn serve_page() -> String {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            // One task per connection: browsers open speculative connections they never use.
            tokio::spawn(respond(stream));
        }
    });
    url
}

async fn respond(mut stream: TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let (status, body) =
        if request.starts_with(b"GET / ") { ("200 OK", PAGE) } else { ("404 Not Found", "") };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn browser_on_page(kind: BrowserKind, media: MediaPermission) -> Browser {
    let browser =
        Browser::start(kind, BrowserOptions { media, ..BrowserOptions::default() }).await.unwrap();
    browser.goto(&serve_page().await).await.unwrap();
    browser
}

/// Live (not zombie) processes with an argument or environment entry for which `matches` holds,
/// as `(pid, command line)`.
fn processes_with(matches: impl Fn(&str) -> bool) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        let read = |file| {
            String::from_utf8_lossy(&std::fs::read(entry.path().join(file)).unwrap_or_default())
                .into_owned()
        };
        let stat = read("stat");
        let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
        let (cmdline, environ) = (read("cmdline"), read("environ"));
        let hit = cmdline.split('\0').chain(environ.split('\0')).any(&matches);
        if state.is_some_and(|s| s != "Z") && hit && pid != std::process::id() {
            found.push((pid, cmdline.replace('\0', " ")));
        }
    }
    found
}

/// The live processes of the browser whose profile is `profile`: those tagged with its scratch
/// directory (the profile's parent) or naming a path inside it.
fn processes_of(profile: &Path) -> Vec<(u32, String)> {
    let scratch = profile.parent().unwrap().display().to_string();
    let tag = format!("VELARO_E2E_SCRATCH={scratch}");
    let inside = format!("{scratch}/");
    processes_with(|item| item == tag || item.contains(&inside))
}

/// Asserts the browser whose profile was `profile` left no process and no directory behind.
fn assert_nothing_left(profile: &Path) {
    let left = processes_of(profile);
    assert!(left.is_empty(), "processes outlived their browser: {left:#?}");
    assert!(!profile.parent().unwrap().exists(), "{} was not removed", profile.display());
}

async fn close(browser: Browser) {
    let profile = browser.profile_dir().to_owned();
    browser.close().await.unwrap();
    assert_nothing_left(&profile);
}

async fn fake_media_and_loopback_call(kind: BrowserKind) {
    let browser = browser_on_page(kind, MediaPermission::Fake).await;

    let width = browser.eval("return window.innerWidth;").await.unwrap();
    assert_eq!(width, 1280, "{kind:?}: the default window size");
    let kinds = browser.eval("return trackKinds();").await.unwrap();
    assert_eq!(kinds, json!(["audio", "video"]), "{kind:?}: one audio and one video track");

    browser.eval("await loopbackCall({});").await.unwrap();
    browser.wait_for("connected()", WAIT).await.unwrap();
    let frames = browser.wait_for("videoFramesDecoded(pcs[1])", WAIT).await.unwrap();
    assert!(frames.as_u64().unwrap() > 0, "{kind:?}: the fake camera's frames decode");
    close(browser).await;
}

#[tokio::test]
async fn chromium_has_fake_media_and_connects_on_loopback() {
    fake_media_and_loopback_call(BrowserKind::Chromium).await;
}

#[tokio::test]
async fn firefox_has_fake_media_and_connects_on_loopback() {
    fake_media_and_loopback_call(BrowserKind::Firefox).await;
}

async fn media_denied(kind: BrowserKind) {
    let browser = browser_on_page(kind, MediaPermission::Denied).await;
    let error = browser.eval("return getUserMediaError();").await.unwrap();
    assert_eq!(error, "NotAllowedError", "{kind:?}");
    close(browser).await;
}

#[tokio::test]
async fn chromium_denied_media_rejects_with_not_allowed() {
    media_denied(BrowserKind::Chromium).await;
}

#[tokio::test]
async fn firefox_denied_media_rejects_with_not_allowed() {
    media_denied(BrowserKind::Firefox).await;
}

#[tokio::test]
async fn chromium_shares_a_fake_monitor_from_a_click() {
    let browser = browser_on_page(BrowserKind::Chromium, MediaPermission::Fake).await;
    browser.click("#share").await.unwrap();
    let shared = browser.wait_for("window.shared", WAIT).await.unwrap();
    assert_eq!(shared["kind"], "video", "{shared}");
    assert_eq!(shared["settings"]["displaySurface"], "monitor", "{shared}");
    close(browser).await;
}

#[tokio::test]
async fn firefox_has_no_screen_to_share() {
    let browser = browser_on_page(BrowserKind::Firefox, MediaPermission::Fake).await;
    browser.click("#share").await.unwrap();
    let shared = browser.wait_for("window.shared", WAIT).await.unwrap();
    assert_eq!(shared, json!({ "error": "NotFoundError" }));
    close(browser).await;
}

#[tokio::test]
async fn eval_and_wait_for_report_script_failures() {
    let browser = browser_on_page(BrowserKind::Chromium, MediaPermission::Fake).await;
    assert_eq!(browser.eval("await null; return 1 + 1;").await.unwrap(), json!(2));

    let thrown = browser.eval("throw new Error('boom');").await.unwrap_err();
    assert!(
        matches!(thrown, BrowserError::WebDriver(_)) && thrown.to_string().contains("boom"),
        "{thrown}"
    );

    // Not yet true, then true: the value that made it true comes back.
    browser.eval("setTimeout(() => { window.later = 'now'; }, 200);").await.unwrap();
    assert_eq!(browser.wait_for("window.later", WAIT).await.unwrap(), "now");

    let timeout =
        browser.wait_for("window.never === 1 || 0", Duration::from_millis(300)).await.unwrap_err();
    let BrowserError::Timeout { what, last } = &timeout else { panic!("{timeout}") };
    assert!(what.contains("window.never === 1 || 0"), "{what}");
    assert_eq!(last, "0");
    let undefined =
        browser.wait_for("notDefinedAnywhere", Duration::from_millis(300)).await.unwrap_err();
    assert!(undefined.to_string().contains("notDefinedAnywhere is not defined"), "{undefined}");

    let screenshot = browser.profile_dir().with_file_name("screenshot.png");
    browser.screenshot(&screenshot).await.unwrap();
    assert!(std::fs::read(&screenshot).unwrap().starts_with(b"\x89PNG"));
    close(browser).await;
}

/// A STUN binding request (RFC 8489 §6) with a fixed transaction id.
const BINDING_REQUEST: [u8; 20] = [
    0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, b'v', b'e', b'l', b'a', b'r', b'o', b'-', b't',
    b'e', b's', b't', b'!',
];

#[tokio::test]
async fn coturn_answers_stun_and_stops() {
    let coturn = Coturn::start(TURN_SECRET, TURN_REALM).await.unwrap();
    let port = coturn.port();
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.unwrap();

    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    socket.send_to(&BINDING_REQUEST, (Ipv4Addr::LOCALHOST, port)).await.unwrap();
    let mut response = [0; 512];
    let len = tokio::time::timeout(WAIT, socket.recv(&mut response)).await.unwrap().unwrap();
    assert!(len >= 20, "{len} bytes");
    assert_eq!(response[..2], [0x01, 0x01], "a binding success response");
    assert_eq!(response[8..20], BINDING_REQUEST[8..20], "for our transaction");

    let listening_port = format!("--listening-port={port}");
    assert_eq!(processes_with(|arg| arg == listening_port).len(), 1, "one turnserver runs");
    drop(coturn);
    let left = processes_with(|arg| arg == listening_port);
    assert!(left.is_empty(), "coturn outlived its owner: {left:#?}");
}

fn relay_config(coturn: &Coturn, credentials: &TurnCredentials) -> Value {
    let turn = IceServer::turn(vec![coturn.turn_url().parse().unwrap()], credentials).unwrap();
    let config = RtcConfiguration::new(vec![turn], IceTransportPolicy::Relay).unwrap();
    serde_json::to_value(&config).unwrap()
}

#[tokio::test]
async fn chromium_relays_through_coturn_with_minted_credentials() {
    let coturn = Coturn::start(TURN_SECRET, TURN_REALM).await.unwrap();
    let secret = TurnSecret::new(TURN_SECRET).unwrap();
    let minted =
        TurnCredentials::mint(&secret, "test-user", Duration::from_secs(3600), SystemTime::now())
            .unwrap();
    let config = relay_config(&coturn, &minted);
    let browser = browser_on_page(BrowserKind::Chromium, MediaPermission::Fake).await;

    let gathered = browser.eval(&format!("return gather({config});")).await.unwrap();
    let candidates: Vec<&str> =
        gathered["candidates"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(!candidates.is_empty(), "{gathered}");
    assert!(
        candidates.iter().all(|c| c.contains(" 127.0.0.1 ") && c.contains(" typ relay ")),
        "only relay candidates on coturn's address: {gathered}"
    );

    // The same call with a password coturn does not accept gathers nothing.
    let wrong = TurnSecret::new("not-the-secret-coturn-has-0123456789").unwrap();
    let forged =
        TurnCredentials::mint(&wrong, "test-user", Duration::from_secs(3600), SystemTime::now())
            .unwrap();
    let refused =
        browser.eval(&format!("return gather({});", relay_config(&coturn, &forged))).await.unwrap();
    assert_eq!(refused["candidates"], json!([]), "{refused}");

    // Both ends relay-only: media goes through coturn.
    browser.eval(&format!("await loopbackCall({config});")).await.unwrap();
    browser.wait_for("connected()", WAIT).await.unwrap();
    let frames = browser.wait_for("videoFramesDecoded(pcs[1])", WAIT).await.unwrap();
    assert!(frames.as_u64().unwrap() > 0);
    close(browser).await;
    coturn.stop().await.unwrap();
}

async fn dropping_leaves_nothing(kind: BrowserKind) {
    let browser = browser_on_page(kind, MediaPermission::Fake).await;
    browser.eval("await loopbackCall({});").await.unwrap(); // start media and network helpers
    browser.wait_for("connected()", WAIT).await.unwrap();
    let profile = browser.profile_dir().to_owned();
    let running = processes_of(&profile);
    assert!(running.len() > 2, "{kind:?}: the driver, the browser, its helpers: {running:#?}");

    drop(browser);
    assert_nothing_left(&profile);
}

#[tokio::test]
async fn dropping_chromium_leaves_no_process_or_profile() {
    dropping_leaves_nothing(BrowserKind::Chromium).await;
}

#[tokio::test]
async fn dropping_firefox_leaves_no_process_or_profile() {
    dropping_leaves_nothing(BrowserKind::Firefox).await;
}
