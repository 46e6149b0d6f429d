//! Real calls between real browsers: headless Chromium and Firefox open the demo's `/agent` and
//! `/visitor` pages (`examples/demo`, served in-process on 127.0.0.1), click what a person
//! would click, and every assertion reads page state: `RTCPeerConnection` stats, the call's
//! state and end reason, the chat's DOM.
//!
//! Feature `browser`: `cargo test -p velaro-tests --features browser --test browser_calls`
//! (`.ci/run` installs Chromium, chromedriver, Firefox ESR, geckodriver and coturn first).
//! Set `VELARO_BROWSER_TIMINGS=FILE` to append each call's accept-to-connected time to FILE,
//! and `VELARO_SCREENSHOTS=DIR` to keep screenshots of both pages in a call.
//!
//! The cluster scenario (issue 12, test 6) runs the demo server as programs of their own
//! (`velaro-demo-server`, built from `examples/server.rs`), two nodes on a `redis-server` the
//! test starts, and kills and restarts one of them mid-call.

#![cfg(feature = "browser")]
#![allow(clippy::disallowed_methods)] // the test measures real time: accept to connected

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;
use velaro_demo::{DemoConfig, DemoServer, TurnConfig};
use velaro_ice_config::{IceTransportPolicy, TurnSecret};
use velaro_tests::browser::{Browser, BrowserKind, BrowserOptions, Coturn, MediaPermission};
use velaro_tests::redis_server::RedisServer;

/// Browsers are heavy on two cores: one scenario at a time.
static SERIAL: Mutex<()> = Mutex::const_new(());

const PROMPT: &str = "Your agent would like to start a video call. Accept?";
const STEP: Duration = Duration::from_secs(15);
const SECRET: &str = "browser-test-secret-0123456789";

/// The demo server (unless the pages are on servers of their own) and one agent page and one
/// visitor page in the same conversation.
struct Pair {
    server: Option<DemoServer>,
    agent: Browser,
    visitor: Browser,
}

impl Pair {
    async fn open(agent: BrowserKind, visitor: BrowserKind, media: MediaPermission) -> Pair {
        Pair::open_with(agent, visitor, media, demo_config(), 60_000).await
    }

    async fn open_with(
        agent: BrowserKind,
        visitor: BrowserKind,
        media: MediaPermission,
        config: DemoConfig,
        invite_lifetime_ms: u64,
    ) -> Pair {
        let server = DemoServer::start(config).await.expect("the demo server starts");
        let conversation = format!("conv-{}", std::process::id());
        let agent_url = server.url(&format!(
            "/agent?conversation={conversation}&invite_lifetime_ms={invite_lifetime_ms}"
        ));
        let visitor_url = server.url(&format!("/visitor?conversation={conversation}"));
        let mut pair = Pair::on(agent, &agent_url, visitor, &visitor_url, media).await;
        pair.server = Some(server);
        pair
    }

    /// The agent's browser opens `agent_url`, the visitor's `visitor_url` (pages of servers
    /// that the test runs itself).
    async fn on(
        agent: BrowserKind,
        agent_url: &str,
        visitor: BrowserKind,
        visitor_url: &str,
        media: MediaPermission,
    ) -> Pair {
        let agent = Browser::start(agent, BrowserOptions::default()).await.expect("agent browser");
        let visitor =
            Browser::start(visitor, BrowserOptions { media, ..BrowserOptions::default() })
                .await
                .expect("visitor browser");
        agent.goto(agent_url).await.expect("agent page");
        visitor.goto(visitor_url).await.expect("visitor page");
        for page in [&agent, &visitor] {
            page.wait_for("window.velaroDemo && velaroDemo.welcome", STEP).await.expect("welcome");
        }
        Pair { server: None, agent, visitor }
    }

    /// The agent clicks the camera icon; the visitor's page shows the prompt and rings.
    async fn invite(&self) {
        self.agent.click("#call-start").await.expect("camera icon");
        self.visitor.wait_for("velaroDemo.state === 'prompting'", STEP).await.expect("prompt");
        let prompt =
            self.visitor.eval("return document.getElementById('prompt-text').textContent").await;
        assert_eq!(prompt.expect("prompt text"), Value::from(PROMPT));
        let shown = self.visitor.eval("return !document.getElementById('prompt').hidden").await;
        assert_eq!(shown.expect("prompt shown"), Value::Bool(true));
        self.agent.wait_for("velaroDemo.state === 'ringing'", STEP).await.expect("ringing");
    }

    /// The visitor accepts; both pages connect. Returns the time from the click to both
    /// connected, and records it.
    async fn accept(&self, scenario: &str) -> Duration {
        let start = Instant::now();
        self.visitor.click("#prompt-accept").await.expect("accept");
        for page in [&self.visitor, &self.agent] {
            page.wait_for("velaroDemo.state === 'active'", STEP).await.expect("connected");
        }
        let took = start.elapsed();
        record_timing(scenario, took);
        for page in [&self.agent, &self.visitor] {
            let overlay = page.eval("return !document.getElementById('call-overlay').hidden").await;
            assert_eq!(overlay.expect("overlay"), Value::Bool(true), "the call opens in the chat");
        }
        took
    }

    async fn call(&self, scenario: &str) {
        self.invite().await;
        self.accept(scenario).await;
    }

    /// Both pages show the call ended with `reason`.
    async fn assert_ended(&self, reason: &str) {
        for page in [&self.agent, &self.visitor] {
            let ended =
                page.wait_for("velaroDemo.state === 'ended' && velaroDemo.reason.code", STEP).await;
            assert_eq!(ended.expect("ended"), Value::from(reason));
            let overlay = page.eval("return document.getElementById('call-overlay').hidden").await;
            assert_eq!(overlay.expect("overlay"), Value::Bool(true), "the overlay closes");
        }
    }

    /// A chat message from `from` reaches the other page (the chat outlives every call).
    async fn chat(&self, from: &Browser, to: &Browser, text: &str) {
        let typed = format!(
            "document.getElementById('chat-input').value = {text:?}; \
             document.getElementById('chat-send').click(); return true"
        );
        from.eval(&typed).await.expect("type a message");
        let seen = format!("velaroDemo.chat().some((line) => line.endsWith({text:?}))");
        to.wait_for(&seen, STEP).await.expect("the message arrives");
    }

    /// Both chat logs get `line` from the host (the call's transcript line).
    async fn assert_transcript(&self, line: &str) {
        let seen = format!("velaroDemo.chat().some((l) => l.startsWith({line:?}))");
        for page in [&self.agent, &self.visitor] {
            page.wait_for(&seen, STEP).await.expect("transcript line");
        }
    }

    async fn close(self) {
        let _ = self.agent.close().await;
        let _ = self.visitor.close().await;
        if let Some(server) = self.server {
            let _ = server.stop().await;
        }
    }
}

fn demo_config() -> DemoConfig {
    DemoConfig { addr: ([127, 0, 0, 1], 0).into(), ..DemoConfig::default() }
}

fn record_timing(scenario: &str, took: Duration) {
    eprintln!("{scenario}: accept to connected in {} ms", took.as_millis());
    if let Some(path) = std::env::var_os("VELARO_BROWSER_TIMINGS")
        && let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path)
    {
        let _ = writeln!(file, "{scenario}\t{}", took.as_millis());
    }
}

/// What one page receives of `kind` (`audio`/`video`) for `purpose` (`camera`/`screen`):
/// bytes for audio, decoded frames for video.
async fn received(page: &Browser, kind: &str, purpose: &str) -> u64 {
    let stats = page.eval("return velaroDemo.stats()").await.expect("stats");
    let metric = if kind == "audio" { "bytesReceived" } else { "framesDecoded" };
    stats["inbound"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["kind"] == kind && r["purpose"] == purpose)
        .filter_map(|r| r[metric].as_u64())
        .sum()
}

/// Media of `kind` keeps arriving on `page`: more of it a moment later.
async fn assert_flowing(page: &Browser, kind: &str, purpose: &str) {
    let deadline = Instant::now() + STEP;
    let before = received(page, kind, purpose).await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = received(page, kind, purpose).await;
        if now > before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no {purpose} {kind} arrives on the {:?} page",
            page.kind()
        );
    }
}

async fn flag(page: &Browser, script: &str) -> bool {
    page.eval(script).await.expect("page state") == Value::Bool(true)
}

/// Defines `ufrag()` in the page: its local ICE ufrag.
const LOCAL_UFRAG: &str =
    "window.ufrag = () => /a=ice-ufrag:(\\S+)/.exec(velaroDemo.pc.localDescription.sdp)[1]";

/// The screen's display surface in the agent's own `call.media`.
const SENT_SURFACE: &str = "return Object.values(velaroDemo.client.localMedia.streams)\
    .find((s) => s.purpose === 'screen').display_surface";

/// The page's network turns poor: its peer connection's stats report a 500 ms round trip (the
/// package samples them every second). Test-only: the page's own peer connection is wrapped.
async fn poor_network(page: &Browser) {
    let script = "const pc = velaroDemo.pc; const real = pc.getStats.bind(pc); \
        pc.getStats = async () => { const stats = new Map(await real()); \
          stats.set('test-poor-pair', { type: 'candidate-pair', nominated: true, currentRoundTripTime: 0.5 }); \
          return stats; }; \
        return true";
    page.eval(script).await.expect("a poor network");
}

/// `page` shows the element `id` with exactly `text`.
async fn assert_shows(page: &Browser, id: &str, text: &str) {
    let element = format!("document.getElementById({id:?})");
    let shown = page.wait_for(&format!("!{element}.hidden && {element}.textContent"), STEP).await;
    assert_eq!(shown.expect("shown"), Value::from(text), "#{id} on the {:?} page", page.kind());
}

/// `page` hides the element `id`.
async fn assert_hidden(page: &Browser, id: &str) {
    let hidden = format!("document.getElementById({id:?}).hidden");
    page.wait_for(&hidden, STEP).await.expect("hidden");
}

/// Wraps the page's `getUserMedia`: each request's constraints go to `window.mediaRequests` (as
/// JSON); with `camera_error` every request with video rejects with that `DOMException`, as a
/// missing or busy camera does, and with `microphone_error` so does every other request with
/// audio; the rest reach the browser's fake devices. Called again, it replaces the previous
/// wrapper (`None`, `None`: the devices work again).
async fn stub_devices(page: &Browser, camera_error: Option<&str>, microphone_error: Option<&str>) {
    let js =
        |error: Option<&str>| error.map_or_else(|| "null".to_owned(), |name| format!("{name:?}"));
    let (camera, microphone) = (js(camera_error), js(microphone_error));
    let script = format!(
        "const devices = navigator.mediaDevices;
         window.realGetUserMedia ||= devices.getUserMedia.bind(devices);
         window.mediaRequests ||= [];
         const [camera, microphone] = [{camera}, {microphone}];
         devices.getUserMedia = (constraints) => {{
           window.mediaRequests.push(JSON.stringify(constraints));
           const error = constraints.video ? camera : constraints.audio ? microphone : null;
           return error
             ? Promise.reject(new DOMException('test: the device fails', error))
             : window.realGetUserMedia(constraints);
         }};
         return true"
    );
    page.eval(&script).await.expect("getUserMedia stub");
}

/// Only the camera fails (`None`: it works again).
async fn stub_camera(page: &Browser, camera_error: Option<&str>) {
    stub_devices(page, camera_error, None).await;
}

/// What the page asked `getUserMedia` for since [`stub_camera`].
async fn media_requests(page: &Browser) -> Value {
    page.eval("return window.mediaRequests").await.expect("requests")
}

async fn audio_only(page: &Browser) -> Value {
    page.eval("return velaroDemo.audioOnly").await.expect("audio only")
}

const NO_CAMERA: &str = "No camera was found, so the call continues with audio only. \
    Connect a camera and turn it on to add video.";
const CAMERA_BUSY: &str = "Your camera is in use by another application, so the call continues \
    with audio only. Close that application and turn the camera on to add video.";

async fn screenshot(page: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("VELARO_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        page.screenshot(&dir.join(name)).await.expect("screenshot");
    }
}

/// With `VELARO_SCREENSHOTS`, both pages at one step of a call, named by the step and the
/// browsers, to look at as a visitor would.
async fn shoot(pair: &Pair, step: &str) {
    let browsers = format!("{}-{}", pair.agent.kind().name(), pair.visitor.kind().name());
    screenshot(&pair.agent, &format!("{step}-{browsers}-agent.png")).await;
    screenshot(&pair.visitor, &format!("{step}-{browsers}-visitor.png")).await;
}

/// Scenario 1 and 2: media both ways, between two Chromiums and between Chromium and Firefox
/// (each way round: the agent's browser makes the offers).
async fn call_and_check_media(agent: BrowserKind, visitor: BrowserKind, scenario: &str) {
    let pair = Pair::open(agent, visitor, MediaPermission::Fake).await;
    pair.invite().await;
    shoot(&pair, "1-prompt-and-ringing").await;
    pair.accept(scenario).await;
    shoot(&pair, "2-connected").await;
    for page in [&pair.agent, &pair.visitor] {
        let state = page.eval("return velaroDemo.pc.connectionState").await.expect("state");
        assert_eq!(state, Value::from("connected"));
        // Each side ended its candidates, whatever way its browser signals the end (Chromium
        // only fires `null`, for which the page writes `candidate: ""` itself).
        let ends = page
            .wait_for("velaroDemo.endMarkers.received > 0 && velaroDemo.endMarkers", STEP)
            .await;
        assert!(
            ends.expect("end-of-candidates")["sent"].as_u64().is_some_and(|n| n > 0),
            "and sent its own"
        );
        assert_flowing(page, "video", "camera").await;
        assert!(received(page, "audio", "camera").await > 0, "audio bytes arrive");
    }
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_chromium_agent_calls_chromium_visitor() {
    let _one = SERIAL.lock().await;
    call_and_check_media(BrowserKind::Chromium, BrowserKind::Chromium, "s1 chromium-chromium")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_chromium_agent_calls_firefox_visitor() {
    let _one = SERIAL.lock().await;
    call_and_check_media(BrowserKind::Chromium, BrowserKind::Firefox, "s2 chromium-firefox").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_firefox_agent_calls_chromium_visitor() {
    let _one = SERIAL.lock().await;
    call_and_check_media(BrowserKind::Firefox, BrowserKind::Chromium, "s2 firefox-chromium").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_mute_camera_off_and_audio_only_on_poor_quality() {
    let _one = SERIAL.lock().await;
    let pair = Pair::open(BrowserKind::Chromium, BrowserKind::Firefox, MediaPermission::Fake).await;
    pair.call("s3 mute/audio-only").await;
    let remote = "document.getElementById('remote-state')";
    let muted =
        format!("{remote}.dataset.audioMuted === 'true' && {remote}.dataset.videoMuted === 'true'");
    let unmuted = format!(
        "{remote}.dataset.audioMuted === 'false' && {remote}.dataset.videoMuted === 'false'"
    );

    // The visitor mutes and turns the camera off: the agent's page says so.
    pair.visitor.click("#toggle-mic").await.expect("mute");
    pair.visitor.click("#toggle-camera").await.expect("camera off");
    pair.agent.wait_for(&muted, STEP).await.expect("the agent sees mute and camera off");
    let text = pair.agent.eval(&format!("return {remote}.textContent")).await.expect("text");
    assert_eq!(text, Value::from("Visitor: muted, camera off"));
    pair.visitor.click("#toggle-mic").await.expect("unmute");
    pair.visitor.click("#toggle-camera").await.expect("camera on");
    pair.agent.wait_for(&unmuted, STEP).await.expect("and sees them back on");

    // The agent's camera off reaches the visitor the same way.
    pair.agent.click("#toggle-camera").await.expect("agent camera off");
    let camera_off = format!(
        "{remote}.dataset.videoMuted === 'true' && {remote}.dataset.audioMuted === 'false'"
    );
    pair.visitor.wait_for(&camera_off, STEP).await.expect("the visitor sees it");
    pair.agent.click("#toggle-camera").await.expect("agent camera on");
    pair.visitor.wait_for(&unmuted, STEP).await.expect("and sees it back");

    // The visitor's network turns poor: the agent is advised to switch to audio only, does,
    // and both sides stop video while audio keeps flowing.
    assert!(flag(&pair.agent, "return document.getElementById('quality-advice').hidden").await);
    poor_network(&pair.visitor).await;
    pair.agent
        .wait_for("!document.getElementById('quality-advice').hidden", STEP)
        .await
        .expect("the agent is advised to go audio only");
    pair.agent.click("#quality-advice-accept").await.expect("switch to audio only");
    for page in [&pair.agent, &pair.visitor] {
        page.wait_for("!document.getElementById('audio-only-banner').hidden", STEP)
            .await
            .expect("both pages show audio only");
        let reason = page.eval("return velaroDemo.audioOnly").await.expect("audio only");
        assert_eq!(reason, Value::from("quality"));
    }
    // Frames already on their way land within a moment; after that, no new video.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for page in [&pair.agent, &pair.visitor] {
        let frames = received(page, "video", "camera").await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let later = received(page, "video", "camera").await;
        assert!(later.saturating_sub(frames) <= 2, "video stopped ({frames} → {later} frames)");
        assert_flowing(page, "audio", "camera").await;
    }
    let banner_shown = "!document.getElementById('audio-only-banner').hidden";
    let banner_hidden =
        "document.getElementById('audio-only-banner').hidden && velaroDemo.audioOnly === null";
    assert!(flag(&pair.agent, "return !document.getElementById('toggle-camera').disabled").await);

    // Audio only is not a one-way door: the agent turns its camera on, both sides leave audio
    // only and video comes back both ways.
    pair.agent.click("#toggle-camera").await.expect("agent camera on");
    for page in [&pair.agent, &pair.visitor] {
        page.wait_for(banner_hidden, STEP).await.expect("both pages leave audio only");
        assert_flowing(page, "video", "camera").await;
    }
    pair.visitor.wait_for(&unmuted, STEP).await.expect("the agent's video is unmuted");

    // Audio only again. This time the visitor turns its camera on by itself: its video reaches
    // the agent, which stays audio only, and the visitor does not follow the agent back into
    // audio only while the agent's marker merely goes on (the agent mutes and unmutes).
    pair.agent.click("#audio-only").await.expect("audio only again");
    for page in [&pair.agent, &pair.visitor] {
        page.wait_for(banner_shown, STEP).await.expect("both pages show audio only again");
    }
    pair.visitor.click("#toggle-camera").await.expect("visitor camera on");
    pair.visitor.wait_for(banner_hidden, STEP).await.expect("the visitor leaves audio only");
    pair.agent.wait_for(&unmuted, STEP).await.expect("the agent sees the visitor's video on");
    assert_flowing(&pair.agent, "video", "camera").await;
    assert_eq!(audio_only(&pair.agent).await, Value::from("quality"), "the agent stays");
    pair.agent.click("#toggle-mic").await.expect("agent mutes");
    pair.visitor
        .wait_for(&format!("{remote}.dataset.audioMuted === 'true'"), STEP)
        .await
        .expect("the visitor sees the mute");
    assert_eq!(audio_only(&pair.visitor).await, Value::Null, "no new edge, nothing to follow");
    pair.agent.click("#toggle-mic").await.expect("agent unmutes");

    // The visitor's camera off and on once more, then the agent's camera on: out of audio
    // only on both sides, video both ways.
    pair.visitor.click("#toggle-camera").await.expect("visitor camera off");
    pair.agent.wait_for(&camera_off, STEP).await.expect("the agent sees it off");
    pair.visitor.click("#toggle-camera").await.expect("visitor camera on");
    pair.agent.wait_for(&unmuted, STEP).await.expect("and back on");
    pair.agent.click("#toggle-camera").await.expect("agent camera on");
    for page in [&pair.agent, &pair.visitor] {
        page.wait_for(banner_hidden, STEP).await.expect("out of audio only");
        assert_flowing(page, "video", "camera").await;
    }
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_an_agent_without_a_camera_calls_a_firefox_visitor() {
    let _one = SERIAL.lock().await;
    let pair = Pair::open(BrowserKind::Chromium, BrowserKind::Firefox, MediaPermission::Fake).await;
    stub_camera(&pair.agent, Some("NotFoundError")).await;
    pair.call("s10 agent without a camera").await;
    // The agent asked for its camera and microphone, then for the microphone alone, and the
    // invite still asked the visitor for video.
    let asked = media_requests(&pair.agent).await;
    assert_eq!(asked, serde_json::json!([r#"{"audio":true,"video":true}"#, r#"{"audio":true}"#]));
    let invited = pair.visitor.eval("return velaroDemo.requestedMedia").await;
    assert_eq!(invited.expect("media"), serde_json::json!({"audio": true, "video": true}));

    assert_shows(&pair.agent, "camera-notice", NO_CAMERA).await;
    let unavailable = "The agent's camera is unavailable; the call continues with audio.";
    assert_shows(&pair.visitor, "remote-camera-unavailable", unavailable).await;
    // The visitor keeps its own video: its camera reaches the agent, and it is not audio only.
    assert_flowing(&pair.agent, "video", "camera").await;
    assert_eq!(audio_only(&pair.visitor).await, Value::Null);
    assert_hidden(&pair.visitor, "audio-only-banner").await;
    for page in [&pair.agent, &pair.visitor] {
        assert_flowing(page, "audio", "camera").await;
    }
    assert_eq!(received(&pair.visitor, "video", "camera").await, 0, "the agent sends no video");
    assert!(
        flag(
            &pair.agent,
            "const b = document.getElementById('toggle-camera'); \
             return !b.disabled && b.textContent === 'Camera on'"
        )
        .await,
        "the agent may still try its camera"
    );

    // The agent shows its screen instead.
    pair.agent.click("#share-screen").await.expect("share screen");
    pair.visitor
        .wait_for("!document.getElementById('remote-screen-box').hidden", STEP)
        .await
        .expect("screen shown");
    assert_flowing(&pair.visitor, "video", "screen").await;
    assert_flowing(&pair.agent, "video", "camera").await;
    screenshot(&pair.agent, "agent-without-camera.png").await;
    screenshot(&pair.visitor, "visitor-agent-without-camera.png").await;
    pair.close().await;
}

/// Scenario 11: the visitor's camera fails with `error`; the call goes on with its audio and
/// the agent's video. Turning the camera on while it still fails leaves it off; once a camera
/// works, turning it on renegotiates from the visitor's side and the agent gets its video.
async fn visitor_without_a_camera(visitor: BrowserKind, error: &str, text: &str) {
    let pair = Pair::open(BrowserKind::Chromium, visitor, MediaPermission::Fake).await;
    stub_camera(&pair.visitor, Some(error)).await;
    pair.call(&format!("s11 {} visitor: {error}", visitor.name())).await;
    let asked = media_requests(&pair.visitor).await;
    assert_eq!(asked, serde_json::json!([r#"{"audio":true,"video":true}"#, r#"{"audio":true}"#]));

    assert_shows(&pair.visitor, "camera-notice", text).await;
    let unavailable = "The visitor's camera is unavailable; the call continues with audio.";
    assert_shows(&pair.agent, "remote-camera-unavailable", unavailable).await;
    assert_flowing(&pair.visitor, "video", "camera").await;
    assert_eq!(audio_only(&pair.agent).await, Value::Null, "the agent keeps its video");
    for page in [&pair.agent, &pair.visitor] {
        assert_flowing(page, "audio", "camera").await;
    }
    assert_eq!(received(&pair.agent, "video", "camera").await, 0, "the visitor sends no video");

    // Still no camera: it stays off, the visitor is told, the call goes on.
    pair.visitor.click("#toggle-camera").await.expect("camera on");
    let settled = "window.mediaRequests.length === 3 && velaroDemo.cameraUnavailable === 2";
    pair.visitor.wait_for(settled, STEP).await.expect("the camera was asked for");
    assert_eq!(media_requests(&pair.visitor).await[2], r#"{"video":true}"#);
    assert_shows(&pair.visitor, "camera-notice", text).await;
    assert_eq!(pair.visitor.eval("return velaroDemo.state").await.expect("state"), "active");

    // A camera now works: on, and the agent decodes it.
    stub_camera(&pair.visitor, None).await;
    pair.visitor.click("#toggle-camera").await.expect("camera on");
    let video_on = "document.getElementById('remote-state').dataset.videoMuted === 'false'";
    pair.agent.wait_for(video_on, STEP).await.expect("the agent sees the visitor's camera on");
    assert_hidden(&pair.agent, "remote-camera-unavailable").await;
    assert_hidden(&pair.visitor, "camera-notice").await;
    assert_flowing(&pair.agent, "video", "camera").await;
    assert_flowing(&pair.visitor, "video", "camera").await;
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_a_firefox_visitor_without_a_camera_joins_with_audio() {
    let _one = SERIAL.lock().await;
    visitor_without_a_camera(BrowserKind::Firefox, "NotFoundError", NO_CAMERA).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_a_chromium_visitor_whose_camera_is_busy_joins_with_audio() {
    let _one = SERIAL.lock().await;
    visitor_without_a_camera(BrowserKind::Chromium, "NotReadableError", CAMERA_BUSY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_a_visitor_without_camera_or_microphone_cannot_join() {
    let _one = SERIAL.lock().await;
    let pair = Pair::open(BrowserKind::Chromium, BrowserKind::Firefox, MediaPermission::Fake).await;
    stub_devices(&pair.visitor, Some("NotFoundError"), Some("NotFoundError")).await;
    pair.invite().await;
    pair.visitor.click("#prompt-accept").await.expect("accept");
    pair.assert_ended("media_permission_denied").await;
    // The microphone-only retry found the real problem.
    let asked = media_requests(&pair.visitor).await;
    assert_eq!(asked, serde_json::json!([r#"{"audio":true,"video":true}"#, r#"{"audio":true}"#]));
    let reason = pair.agent.eval("return velaroDemo.reason").await.expect("reason");
    assert_eq!(reason["device"], "microphone");
    assert_eq!(reason["error"], "NotFoundError");
    assert_shows(
        &pair.visitor,
        "permission-help",
        "No microphone was found. Connect a microphone and try again.",
    )
    .await;
    assert_eq!(pair.visitor.eval("return velaroDemo.pc").await.expect("pc"), Value::Null);
    pair.assert_transcript("Video call declined").await;
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_the_agent_starts_without_its_camera_and_turns_it_on() {
    let _one = SERIAL.lock().await;
    let pair = Pair::open(BrowserKind::Chromium, BrowserKind::Firefox, MediaPermission::Fake).await;
    stub_camera(&pair.agent, None).await;
    pair.agent.click("#start-camera-off").await.expect("start without camera");
    pair.call("s12 agent starts without camera").await;
    assert_eq!(media_requests(&pair.agent).await, serde_json::json!([r#"{"audio":true}"#]));
    // The visitor's camera reaches the agent; the visitor sees the agent's camera off (a
    // choice, not a missing camera).
    assert_flowing(&pair.agent, "video", "camera").await;
    let remote = "document.getElementById('remote-state')";
    pair.visitor
        .wait_for(&format!("{remote}.dataset.videoMuted === 'true'"), STEP)
        .await
        .expect("the visitor sees the agent's camera off");
    assert_hidden(&pair.visitor, "remote-camera-unavailable").await;
    assert_hidden(&pair.agent, "camera-notice").await;
    assert_eq!(received(&pair.visitor, "video", "camera").await, 0);

    // The browser refuses the camera: it stays off with the permission help, the call goes on.
    stub_camera(&pair.agent, Some("NotAllowedError")).await;
    pair.agent.click("#toggle-camera").await.expect("camera on");
    let notice = pair
        .agent
        .wait_for(
            "!document.getElementById('camera-notice').hidden && \
                   document.getElementById('camera-notice').textContent",
            STEP,
        )
        .await
        .expect("the agent is told");
    let notice = notice.as_str().unwrap_or_default().to_owned();
    assert!(!notice.contains("Error"), "plain words, no exception name: {notice}");
    assert!(notice.contains("lock icon"), "Chromium's permission help: {notice}");
    assert_hidden(&pair.visitor, "remote-camera-unavailable").await;
    assert_eq!(pair.agent.eval("return velaroDemo.state").await.expect("state"), "active");

    // Allowed: the camera track joins the agent's camera stream (a renegotiation) and the
    // visitor decodes it as the agent's camera.
    let stream_id = pair.agent.eval("return velaroDemo.client.localStream.id").await.expect("id");
    stub_camera(&pair.agent, None).await;
    pair.agent.click("#toggle-camera").await.expect("camera on");
    pair.visitor
        .wait_for(&format!("{remote}.dataset.videoMuted === 'false'"), STEP)
        .await
        .expect("the visitor sees the agent's camera on");
    assert_flowing(&pair.visitor, "video", "camera").await;
    assert_hidden(&pair.agent, "camera-notice").await;
    let same_stream = format!(
        "const stream = velaroDemo.client.remoteStream('camera'); \
         return stream.id === {stream_id} && stream.getVideoTracks().length === 1 \
         && stream.getAudioTracks().length === 1"
    );
    assert!(flag(&pair.visitor, &same_stream).await, "one camera stream, now with video");
    assert_flowing(&pair.agent, "video", "camera").await;
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_agent_shares_a_screen_and_stops() {
    let _one = SERIAL.lock().await;
    let pair =
        Pair::open(BrowserKind::Chromium, BrowserKind::Chromium, MediaPermission::Fake).await;
    pair.call("s4 screen share").await;
    let screen_box = "document.getElementById('remote-screen-box')";
    assert!(flag(&pair.visitor, &format!("return {screen_box}.hidden")).await);

    pair.agent.click("#share-screen").await.expect("share screen");
    pair.visitor.wait_for(&format!("!{screen_box}.hidden"), STEP).await.expect("screen shown");
    let surface =
        pair.visitor.eval(&format!("return {screen_box}.dataset.surface")).await.expect("surface");
    let sent = pair.agent.eval(SENT_SURFACE).await.expect("sent surface");
    assert!(
        ["monitor", "window", "browser"].contains(&surface.as_str().unwrap_or("")),
        "{surface}"
    );
    assert_eq!(surface, sent, "the visitor learns what the agent's browser picked");
    assert_flowing(&pair.visitor, "video", "screen").await;
    assert_flowing(&pair.visitor, "video", "camera").await;
    shoot(&pair, "3-shared-screen").await;

    pair.agent.click("#share-screen").await.expect("stop sharing");
    pair.visitor.wait_for(&format!("{screen_box}.hidden"), STEP).await.expect("screen gone");
    let label = pair.agent.eval("return document.getElementById('share-screen').textContent").await;
    assert_eq!(label.expect("label"), Value::from("Share screen"));
    assert_flowing(&pair.visitor, "video", "camera").await;
    pair.close().await;
}

async fn permission_denied(visitor: BrowserKind, help: &str) {
    let pair = Pair::open(BrowserKind::Chromium, visitor, MediaPermission::Denied).await;
    pair.invite().await;
    pair.visitor.click("#prompt-accept").await.expect("accept");
    pair.assert_ended("media_permission_denied").await;
    shoot(&pair, "4-denied").await;
    let reason = pair.agent.eval("return velaroDemo.reason").await.expect("reason");
    assert_eq!(reason["device"], "camera");
    assert_eq!(reason["error"], "NotAllowedError");
    let notice = pair.agent.eval("return document.getElementById('call-notice').textContent").await;
    assert_eq!(
        notice.expect("notice"),
        Value::from("The call could not start: the visitor's camera is blocked."),
        "the agent is told why, in plain words"
    );
    let shown = "!document.getElementById('permission-help').hidden";
    assert!(flag(&pair.visitor, &format!("return {shown}")).await, "the visitor gets help");
    let text =
        pair.visitor.eval("return document.getElementById('permission-help').textContent").await;
    assert!(text.expect("help").as_str().unwrap_or("").contains(help), "help for this browser");
    // No call ever started: nothing was connected, and the transcript says why.
    assert_eq!(pair.visitor.eval("return velaroDemo.pc").await.expect("pc"), Value::Null);
    pair.assert_transcript("Video call declined: camera permission denied").await;
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_chromium_visitor_denies_the_camera() {
    let _one = SERIAL.lock().await;
    permission_denied(BrowserKind::Chromium, "lock icon").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_firefox_visitor_denies_the_camera() {
    let _one = SERIAL.lock().await;
    permission_denied(BrowserKind::Firefox, "Blocked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_a_camera_forbidden_by_policy_stops_the_call() {
    let _one = SERIAL.lock().await;
    let pair =
        Pair::open(BrowserKind::Chromium, BrowserKind::Chromium, MediaPermission::Fake).await;
    stub_camera(&pair.visitor, Some("SecurityError")).await;
    pair.invite().await;
    pair.visitor.click("#prompt-accept").await.expect("accept");
    pair.assert_ended("media_permission_denied").await;
    // A refusal is no missing camera: no microphone-only retry.
    let asked = media_requests(&pair.visitor).await;
    assert_eq!(asked, serde_json::json!([r#"{"audio":true,"video":true}"#]));
    let reason = pair.agent.eval("return velaroDemo.reason").await.expect("reason");
    assert_eq!(reason["device"], "camera");
    assert_eq!(reason["error"], "SecurityError");
    let help = "document.getElementById('permission-help')";
    let text = pair.visitor.wait_for(&format!("!{help}.hidden && {help}.textContent"), STEP).await;
    assert!(text.expect("help").as_str().unwrap_or("").contains("lock icon"), "permission help");
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6_decline_cancel_and_expiry() {
    let _one = SERIAL.lock().await;
    // The shortest lifetime the protocol allows, so the expiry comes quickly.
    let pair = Pair::open_with(
        BrowserKind::Chromium,
        BrowserKind::Firefox,
        MediaPermission::Fake,
        demo_config(),
        10_000,
    )
    .await;
    let prompt_hidden = "return document.getElementById('prompt').hidden";

    pair.invite().await;
    pair.visitor.click("#prompt-decline").await.expect("decline");
    pair.assert_ended("declined").await;
    assert!(flag(&pair.visitor, prompt_hidden).await);
    pair.assert_transcript("Video call declined").await;

    pair.invite().await;
    pair.agent.click("#hangup").await.expect("cancel before the answer");
    pair.assert_ended("cancelled").await;
    assert!(flag(&pair.visitor, prompt_hidden).await, "the prompt goes away");
    pair.assert_transcript("Video call cancelled").await;

    pair.invite().await;
    let start = Instant::now();
    for page in [&pair.agent, &pair.visitor] {
        let ended = page
            .wait_for(
                "velaroDemo.state === 'ended' && velaroDemo.reason.code",
                Duration::from_secs(20),
            )
            .await;
        assert_eq!(ended.expect("expired"), Value::from("invite_timeout"));
    }
    assert!(start.elapsed() >= Duration::from_secs(9), "not before the invite's lifetime");
    assert!(flag(&pair.visitor, prompt_hidden).await);
    pair.assert_transcript("Missed video call").await;
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_either_side_ends_the_call_and_the_chat_goes_on() {
    let _one = SERIAL.lock().await;
    let pair = Pair::open(BrowserKind::Chromium, BrowserKind::Firefox, MediaPermission::Fake).await;
    pair.chat(&pair.visitor, &pair.agent, "Hi, my order has not arrived").await;

    pair.call("s7 visitor hangs up").await;
    pair.visitor.click("#hangup").await.expect("visitor hangs up");
    pair.assert_ended("user_hangup").await;
    for (page, text) in
        [(&pair.agent, "The visitor ended the call."), (&pair.visitor, "You ended the call.")]
    {
        let notice = page.eval("return document.getElementById('call-notice').textContent").await;
        assert_eq!(notice.expect("notice"), Value::from(text));
    }
    shoot(&pair, "6-ended").await;
    pair.assert_transcript("Video call ended (").await;
    pair.chat(&pair.agent, &pair.visitor, "Thanks for the call, anything else?").await;

    pair.call("s7 agent hangs up").await;
    pair.agent.click("#hangup").await.expect("agent hangs up");
    pair.assert_ended("user_hangup").await;
    pair.chat(&pair.visitor, &pair.agent, "No, that was all, thanks").await;
    let closed = "return velaroDemo.pc.connectionState";
    for page in [&pair.agent, &pair.visitor] {
        assert_eq!(page.eval(closed).await.expect("pc"), Value::from("closed"));
    }
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_a_dropped_chat_connection_resumes_the_call() {
    let _one = SERIAL.lock().await;
    let pair = Pair::open(BrowserKind::Chromium, BrowserKind::Firefox, MediaPermission::Fake).await;
    pair.call("s9 resume").await;
    // The visitor's connection drops; it turns its camera off meanwhile (the frame waits in
    // the page) and the agent mutes (the relay keeps the frame for the visitor).
    let drop_and_turn_camera_off = "velaroDemo.dropConnection(); \
        velaroDemo.client.setCameraOff(true); return velaroDemo.connection";
    let still_online = pair.visitor.eval(drop_and_turn_camera_off).await;
    // A WebSocket's close event comes later: the camera frame was written while closing.
    assert_eq!(still_online.expect("dropped"), Value::from("online"));
    pair.agent.click("#toggle-mic").await.expect("agent mutes");
    let remote = "document.getElementById('remote-state').dataset";
    pair.visitor
        .wait_for(
            &format!("velaroDemo.connection === 'online' && {remote}.audioMuted === 'true'"),
            STEP,
        )
        .await
        .expect("the visitor is back and got the agent's mute");
    pair.agent
        .wait_for(&format!("{remote}.videoMuted === 'true'"), STEP)
        .await
        .expect("and the agent its camera off");
    for page in [&pair.agent, &pair.visitor] {
        assert_eq!(page.eval("return velaroDemo.state").await.expect("state"), "active");
        assert_flowing(page, "audio", "camera").await;
    }
    pair.agent.click("#hangup").await.expect("hang up");
    pair.assert_ended("user_hangup").await;
    pair.assert_transcript("Video call ended (").await;
    let ended = "return velaroDemo.chat().filter((l) => l.startsWith('Video call ended')).length";
    assert_eq!(pair.visitor.eval(ended).await.expect("lines"), 1, "one call, one summary");
    pair.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_relay_only_through_coturn_and_an_ice_restart() {
    let _one = SERIAL.lock().await;
    let coturn = Coturn::start(SECRET, "velaro.test").await.expect("coturn starts");
    let turn = TurnConfig {
        urls: vec![format!("turn:127.0.0.1:{}", coturn.port()).parse().expect("url")],
        secret: TurnSecret::new(SECRET).expect("secret"),
        ttl: Duration::from_secs(600),
    };
    let config = DemoConfig {
        turn: Some(turn),
        visitor_policy: IceTransportPolicy::Relay,
        agent_policy: IceTransportPolicy::Relay,
        ..demo_config()
    };
    let pair = Pair::open_with(
        BrowserKind::Chromium,
        BrowserKind::Chromium,
        MediaPermission::Fake,
        config,
        60_000,
    )
    .await;
    pair.call("s8 relay-only via coturn").await;
    for page in [&pair.agent, &pair.visitor] {
        let policy = page.eval("return velaroDemo.pc.getConfiguration().iceTransportPolicy").await;
        assert_eq!(policy.expect("policy"), Value::from("relay"));
        let stats = page.eval("return velaroDemo.stats()").await.expect("stats");
        assert_eq!(stats["selected"]["local"], "relay", "{stats}");
        assert_eq!(stats["selected"]["remote"], "relay", "{stats}");
        assert_flowing(page, "video", "camera").await;
        assert_flowing(page, "audio", "camera").await;
    }

    // ICE fails (the page is told so: the browser's state is overridden for one event): the agent
    // restarts ICE at once, asking the server for fresh TURN credentials, renegotiates new ICE
    // credentials and keeps the call through coturn.
    let before = pair.agent.eval(&format!("{LOCAL_UFRAG}; return ufrag()")).await.expect("ufrag");
    let fail = "window.refreshesBefore = velaroDemo.iceRefreshes; \
        const pc = velaroDemo.pc; \
        Object.defineProperty(pc, 'iceConnectionState', { get: () => 'failed', configurable: true }); \
        pc.dispatchEvent(new Event('iceconnectionstatechange')); \
        delete pc.iceConnectionState; \
        return velaroDemo.state";
    let state = pair.agent.eval(fail).await.expect("ICE failed");
    assert_eq!(state, Value::from("reconnecting"), "the status says so at once");
    let status = pair.agent.eval("return document.getElementById('call-status').textContent").await;
    assert_eq!(status.expect("status"), Value::from("Reconnecting…"));
    shoot(&pair, "5-reconnecting").await;
    let changed = format!(
        "velaroDemo.iceRefreshes > window.refreshesBefore && ufrag() !== {before} \
         && velaroDemo.pc.signalingState === 'stable' \
         && velaroDemo.pc.iceConnectionState === 'connected'"
    );
    pair.agent.wait_for(&changed, STEP).await.expect("restarted with fresh credentials");
    // The page reads the real state again: connected, the call is back.
    let resync = "velaroDemo.pc.dispatchEvent(new Event('iceconnectionstatechange')); return true";
    pair.agent.eval(resync).await.expect("state event");
    pair.agent.wait_for("velaroDemo.state === 'active'", STEP).await.expect("reconnected");
    assert_eq!(pair.agent.eval("return velaroDemo.state").await.expect("state"), "active");
    for page in [&pair.agent, &pair.visitor] {
        assert_flowing(page, "video", "camera").await;
        let stats = page.eval("return velaroDemo.stats()").await.expect("stats");
        assert_eq!(stats["selected"]["local"], "relay", "{stats}");
    }
    pair.close().await;
    let _ = coturn.stop().await;
}

/// One demo server program (`velaro-demo-server`: `examples/server.rs`) as a node of a cluster
/// on `redis`; killed (`SIGKILL`) when dropped, on every path (a failed assertion too).
struct DemoNode {
    child: tokio::process::Child,
    port: u16,
}

impl DemoNode {
    /// Starts node `name` on 127.0.0.1:`port`, appending its call records to `records`, and
    /// waits until it listens. Without `VELARO_JOIN_KEY`: the nodes share the join key the
    /// first one keeps in Redis.
    async fn start(redis: &RedisServer, name: &str, port: u16, records: &Path) -> DemoNode {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_velaro-demo-server"))
            .args(["--port", &port.to_string(), "--redis", &redis.url(), "--node", name])
            .arg("--records")
            .arg(records)
            .arg("--quiet")
            .env_remove("VELARO_JOIN_KEY")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the demo server program starts");
        let deadline = Instant::now() + STEP;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("demo node {name} exited: {status}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return DemoNode { child, port };
            }
            assert!(Instant::now() < deadline, "demo node {name} does not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// `SIGKILL`: the node dies at once, without a goodbye (no drain, no closing handshake).
    async fn kill(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// How many of the page's chat lines start with `prefix`.
async fn lines_starting(page: &Browser, prefix: &str) -> Value {
    let count = format!("return velaroDemo.chat().filter((l) => l.startsWith({prefix:?})).length");
    page.eval(&count).await.expect("chat lines")
}

/// Issue 12, test 6: two demo servers as nodes of a cluster on one Redis, the agent's page on
/// node a (Chromium), the visitor's on node b (Firefox); node a is killed mid-call and started
/// again on its port, as a rolling deploy does. The media keeps flowing (it is peer to peer),
/// the agent's page reconnects to the new process and resumes without a reload, the call's
/// signaling goes on to a hangup, and each page's chat has one summary line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s13_a_cluster_node_restarts_mid_call() {
    let _one = SERIAL.lock().await;
    let redis = RedisServer::start();
    let records = Records::new();
    let (port_a, port_b) = (free_port(), free_port());
    let node_a = DemoNode::start(&redis, "a", port_a, &records.file("a")).await;
    let node_b = DemoNode::start(&redis, "b", port_b, &records.file("b")).await;
    let conversation = format!("cluster-{}", std::process::id());
    let pair = Pair::on(
        BrowserKind::Chromium,
        &node_a.url(&format!("/agent?conversation={conversation}")),
        BrowserKind::Firefox,
        &node_b.url(&format!("/visitor?conversation={conversation}")),
        MediaPermission::Fake,
    )
    .await;
    pair.chat(&pair.visitor, &pair.agent, "Hello from node b").await;
    pair.chat(&pair.agent, &pair.visitor, "Hello from node a").await;
    pair.call("s13 cluster, agent on node a, visitor on node b").await;
    pair.assert_transcript("Video call started").await;
    for page in [&pair.agent, &pair.visitor] {
        assert_flowing(page, "video", "camera").await;
    }
    shoot(&pair, "7-cluster-call").await;

    // The rolling deploy: node a dies without a goodbye, and comes back on its port.
    let marked = pair.agent.eval("window.beforeRestart = true; return true").await;
    assert_eq!(marked.expect("marked"), Value::Bool(true));
    node_a.kill().await;
    pair.agent
        .wait_for("velaroDemo.connection !== 'online'", STEP)
        .await
        .expect("the agent's page sees its server gone");
    // Media is peer to peer: it does not wait for the signaling.
    for page in [&pair.agent, &pair.visitor] {
        assert_flowing(page, "video", "camera").await;
    }
    let node_a = DemoNode::start(&redis, "a", port_a, &records.file("a")).await;
    let resumed = "velaroDemo.connection === 'online' && window.beforeRestart === true \
        && velaroDemo.state === 'active'";
    pair.agent.wait_for(resumed, 2 * STEP).await.expect("the agent's page reconnects, no reload");
    shoot(&pair, "8-cluster-resumed").await;

    // The signaling goes on through the new process: the agent mutes, the visitor sees it.
    pair.agent.click("#toggle-mic").await.expect("agent mutes");
    let remote = "document.getElementById('remote-state').dataset";
    pair.visitor
        .wait_for(&format!("{remote}.audioMuted === 'true'"), 2 * STEP)
        .await
        .expect("the visitor gets the agent's mute");
    for page in [&pair.agent, &pair.visitor] {
        assert_eq!(page.eval("return velaroDemo.state").await.expect("state"), "active");
        assert_flowing(page, "video", "camera").await;
    }
    pair.agent.click("#hangup").await.expect("hang up");
    pair.assert_ended("user_hangup").await;
    pair.assert_transcript("Video call ended (").await;
    // A repeated host event would come a little later: look again after a while.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for page in [&pair.agent, &pair.visitor] {
        let ended = lines_starting(page, "Video call ended").await;
        assert_eq!(ended, 1, "one call, one summary, on the {:?} page", page.kind());
    }
    // The visitor's page, whose node stayed up, has the whole transcript: one start too.
    assert_eq!(lines_starting(&pair.visitor, "Video call started").await, 1);
    pair.chat(&pair.visitor, &pair.agent, "Thanks, bye").await;
    // One record of the call, from whichever node was handed its end.
    let written = records.lines(&["a", "b"]);
    assert_eq!(written.len(), 1, "one call, one record: {written:?}");
    assert_eq!(written[0]["conversation_id"], Value::from(conversation.as_str()));
    assert_eq!(written[0]["outcome"], "answered", "{}", written[0]);
    assert_eq!(written[0]["reason"]["code"], "user_hangup", "{}", written[0]);
    pair.close().await;
    node_a.kill().await;
    node_b.kill().await;
}

/// A directory of the test's own for the nodes' `--records` files, removed when dropped.
struct Records(PathBuf);

impl Records {
    fn new() -> Records {
        let dir = std::env::temp_dir().join(format!("velaro-s13-records-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a records directory");
        Records(dir)
    }

    fn file(&self, node: &str) -> PathBuf {
        self.0.join(format!("{node}.jsonl"))
    }

    /// Every record the nodes wrote, as JSON.
    fn lines(&self, nodes: &[&str]) -> Vec<Value> {
        let text = |node: &&str| std::fs::read_to_string(self.file(node)).unwrap_or_default();
        let all: Vec<String> = nodes.iter().map(text).collect();
        all.iter()
            .flat_map(|text| text.lines())
            .map(|line| serde_json::from_str(line).expect("a JSON record"))
            .collect()
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
