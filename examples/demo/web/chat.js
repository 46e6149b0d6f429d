// The demo chat page, agent or visitor (`<body data-role>`): a chat over one WebSocket, and
// the video call that opens in an overlay of the chat. The call protocol lives in
// velaro-call.js; this file is only the page.
//
// For tests and curious people, `window.velaroDemo` exposes the page's state:
// `state`, `reason`, `call`, `welcome`, `chat()`, `stats()`.

import {
  Call, EndedCalls, callMedia, cameraFallbackText, isPermissionError, microphoneErrorText, peerCameraUnavailableText,
} from "/static/velaro-call.js";

// Who this page is comes from the server's render: the conversation, a party id of the
// server's making, and a join token for them with the role of the page's path. The page
// cannot choose its role or its party: the server admits its socket with the token only.
const identity = (name) => document.querySelector(`meta[name="velaro-${name}"]`)?.content || "";
const role = document.body.dataset.role;
const params = new URLSearchParams(location.search);
const conversation = identity("conversation");
const party = identity("party");
let token = identity("token"); // single-use: the server sends the next one once we are in
const $ = (id) => document.getElementById(id);

let socket = null;
let welcome = null;
let call = null;
const iceWaiters = [];
const endedCalls = new EndedCalls(); // visitor: an invite overtaken by its hangup never rings

// ---- the chat connection ---------------------------------------------------------------------

// A dropped connection comes back by itself: the page reconnects with the fresh token the
// server last sent and with what its call last saw from each sender, the relay replays what it
// missed (within its grace period), and frames written meanwhile wait here (the relay drops any
// it already has, by seq).
const RECONNECT_MS = [250, 1000, 2000, 5000];
const RELOADED_AT = "velaro-reloaded-at";
let reconnects = 0;
const outbox = [];

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams({ conversation, token });
  if (call?.live) query.set("resume", [...call.seen].map(([sender, seq]) => `${sender}:${seq}`).join(","));
  const ws = new WebSocket(`${scheme}://${location.host}/ws?${query}`);
  socket = ws;
  let opened = false;
  ws.addEventListener("message", (event) => onFrame(JSON.parse(event.data)));
  ws.addEventListener("open", () => {
    opened = true;
    reconnects = 0;
    setConnection("online");
    for (const frame of outbox.splice(0)) ws.send(frame);
  });
  ws.addEventListener("close", () => {
    if (socket !== ws) return;
    setConnection("offline");
    if (opened) reconnectLater();
    else refusedOrDown();
  });
}

function reconnectLater() {
  const delay = RECONNECT_MS[Math.min(reconnects, RECONNECT_MS.length - 1)];
  reconnects += 1;
  setTimeout(connect, delay);
}

// A socket that never opened was refused (its token expired, was used already, or the server
// restarted with a new key) or the server is down; a browser does not say which. If the server
// answers a plain request it is up, so the token was refused: only a new render brings a new
// token, so the page reloads (at most once every 10 s). Otherwise it waits and tries again.
async function refusedOrDown() {
  let up = false;
  try {
    up = (await fetch("/static/demo.css", { method: "HEAD", cache: "no-store" })).ok;
  } catch {
    up = false;
  }
  const lastReload = Number(sessionStorage.getItem(RELOADED_AT)) || 0;
  if (up && Date.now() - lastReload > 10000) {
    sessionStorage.setItem(RELOADED_AT, String(Date.now()));
    $("connection").textContent = "Signed out of the chat: reloading…";
    location.reload();
    return;
  }
  reconnectLater();
}

function send(frame) {
  const text = JSON.stringify(frame);
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
  else outbox.push(text);
}

function setConnection(state) {
  document.body.dataset.connection = state;
  $("connection").textContent = state === "online" ? "" : "Connection lost: reconnecting…";
}

function onFrame(frame) {
  switch (frame.type) {
    case "host.welcome":
      welcome = frame;
      if (frame.token) token = frame.token; // for the next connect
      $("chat-log").replaceChildren(); // the history follows, also after a reconnect
      document.body.dataset.videoEnabled = String(frame.video_enabled);
      if (role === "agent") {
        $("call-start").hidden = !frame.video_enabled;
        $("start-camera-off-choice").hidden = !frame.video_enabled;
      }
      return;
    case "host.ice":
      // Fresh TURN credentials: sent by the server as a call starts (ahead of the invite that
      // rings us, or of the accept after which we connect), or asked for before an ICE
      // restart. The welcome's may have expired by now: a page stays open for hours.
      welcome.ice = frame.ice;
      if (call?.live && !call.pc) call.ice = frame.ice;
      iceWaiters.splice(0).forEach((resolve) => resolve(frame.ice));
      return;
    case "host.token":
      // A fresh token for the next connect: the one we hold would expire.
      token = frame.token;
      return;
    case "host.error":
      return notice(`Server: ${frame.detail}`);
    case "chat.message":
      return addChatLine(frame);
  }
  if (!frame.type || !frame.type.startsWith("call.")) return;
  if (frame.type === "call.rejected") notice(`Relay refused a frame: ${frame.body.code} (${frame.body.detail})`);
  const ours = call?.live && frame.call_id === call.callId;
  if (role === "visitor" && !ours) {
    // No live call of ours: an invite rings unless its call already ended (its hangup or
    // cancel came first, or it is a replay); frames that end a call are remembered.
    if (endedCalls.startsACall(frame)) onInvite(frame);
    return;
  }
  call?.handleMessage(frame);
}

function refreshIce() {
  return new Promise((resolve) => {
    iceWaiters.push(resolve);
    send({ type: "host.ice_refresh" });
  });
}

function callOptions() {
  return { conversationId: conversation, partyId: party, send, ice: welcome.ice, refreshIce };
}

// ---- chat ----------------------------------------------------------------------------------

function addChatLine(line) {
  const item = document.createElement("li");
  item.className = `chat-line from-${line.from}`;
  item.dataset.from = line.from;
  const who = line.from === "system" ? "" : line.party_id === party ? "You" : line.from === "agent" ? "Agent" : "Visitor";
  item.textContent = who ? `${who}: ${line.text}` : line.text;
  $("chat-log").append(item);
  item.scrollIntoView({ block: "end" });
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-input");
  if (input.value.trim()) send({ type: "chat.message", text: input.value });
  input.value = "";
});

function notice(text) {
  $("call-notice").textContent = text;
}

// ---- the call ------------------------------------------------------------------------------

const STATUS = {
  inviting: "Calling…", ringing: "Ringing…", prompting: "", accepting: "Starting your camera…",
  connecting: "Connecting…", connected: "Connected",
};

const REASONS = {
  user_hangup: "the call was ended", declined: "the visitor declined", cancelled: "the agent cancelled",
  invite_timeout: "nobody answered in time", answered_elsewhere: "answered in another tab",
  busy: "a call is already going on", feature_disabled: "video calls are not part of this plan",
  ice_failed: "the connection could not be made", ice_timeout: "the connection was lost",
  signaling_lost: "the other side went away", media_permission_denied: "camera or microphone access was denied",
};

function describe(reason) {
  if (!reason) return "";
  let text = REASONS[reason.code] || reason.code.replaceAll("_", " ");
  if (reason.code === "media_permission_denied") text += ` (${reason.device}: ${reason.error})`;
  return text;
}

/** What to tell a user whose camera or microphone stopped the call. */
function mediaHelp(reason) {
  const text = reason.device === "microphone" ? microphoneErrorText(reason.error) : null;
  const device = reason.device === "camera" ? "camera or microphone" : reason.device;
  return text || `Your ${device} is blocked (${reason.error}). ${welcome.help[reason.device] || welcome.help.camera}`;
}

// Attached again when the stream gains or loses a track (a camera turned on mid-call), rather
// than relying on the element to notice.
function show(video, stream) {
  const key = stream ? `${stream.id}:${stream.getTracks().map((t) => t.id).join(",")}` : "";
  if (video.dataset.shown === key) return;
  video.dataset.shown = key;
  video.srcObject = stream;
}

function adopt(newCall) {
  call = newCall;
  call.addEventListener("state", ({ detail }) => {
    if (detail.state === "ended") endedCalls.bury(newCall.callId);
    render(detail.state, detail.reason);
  });
  call.addEventListener("tracks", renderRemote);
  call.addEventListener("remotemedia", renderRemote);
  call.addEventListener("localmedia", renderControls);
  call.addEventListener("quality", ({ detail }) => {
    document.body.dataset.quality = detail.local || "";
    document.body.dataset.remoteQuality = detail.remote || "";
    const poor = [detail.local, detail.remote].some((l) => l === "poor" || l === "lost");
    if (role === "agent") $("quality-advice").hidden = !poor || call.audioOnly !== null;
  });
  render(call.state, call.reason);
}

function render(state, reason) {
  document.body.dataset.callState = state;
  document.body.dataset.endReason = reason ? reason.code : "";
  $("call-status").textContent = STATUS[state] || "";
  const inCall = ["inviting", "ringing", "connecting", "connected"].includes(state);
  $("call-overlay").hidden = !inCall;
  if (role === "visitor") $("prompt").hidden = !["prompting", "accepting"].includes(state);
  if (role === "agent") $("call-start").disabled = $("start-camera-off").disabled = inCall;
  if (inCall) notice("");
  if (state === "ended") {
    notice(`Call ended: ${describe(reason)}.`);
    for (const id of ["local-video", "remote-video", "remote-screen"]) show($(id), null);
    if (role === "agent") $("quality-advice").hidden = true;
  }
  renderControls();
}

function renderControls() {
  if (!call) return;
  $("toggle-mic").textContent = call.audioMuted ? "Unmute" : "Mute";
  // Never disabled: turning the camera on leaves audio only or asks for a camera.
  $("toggle-camera").textContent = call.videoOn ? "Camera off" : "Camera on";
  if (role === "agent") {
    $("share-screen").textContent = call.screenStream ? "Stop sharing" : "Share screen";
    $("audio-only").disabled = call.audioOnly !== null;
    if (call.audioOnly !== null) $("quality-advice").hidden = true;
  }
  $("audio-only-banner").hidden = call.audioOnly === null;
  // Our own camera's trouble: refused (how to allow it) or unavailable (the call has audio).
  const error = call.live ? call.cameraError : null;
  const cameraNotice = $("camera-notice");
  cameraNotice.hidden = !error;
  cameraNotice.dataset.error = error || "";
  cameraNotice.textContent = !error ? "" : isPermissionError(error) ? `Your camera is blocked (${error}). ${welcome.help.camera}` : cameraFallbackText(error);
  if (call.live && call.localStream) show($("local-video"), call.localStream);
}

function renderRemote() {
  const camera = call.remoteStream("camera");
  const screen = call.remoteStream("screen");
  show($("remote-video"), camera);
  show($("remote-screen"), screen);
  const media = call.remoteMedia;
  const cameraState = media && Object.values(media.streams).find((s) => s.purpose === "camera");
  const screenState = media && Object.values(media.streams).find((s) => s.purpose === "screen");
  const other = role === "agent" ? "Visitor" : "Agent";
  const flags = [];
  if (cameraState?.audio_muted) flags.push("muted");
  if (cameraState?.video_muted) flags.push("camera off");
  $("remote-state").textContent = flags.length ? `${other}: ${flags.join(", ")}` : "";
  $("remote-state").dataset.audioMuted = String(Boolean(cameraState?.audio_muted));
  $("remote-state").dataset.videoMuted = String(Boolean(cameraState?.video_muted));
  // The other side has no working camera: it says so, and our video goes on.
  const unavailable = media?.audio_only?.reason === "camera_unavailable";
  $("remote-camera-unavailable").hidden = !unavailable;
  $("remote-camera-unavailable").textContent = unavailable ? peerCameraUnavailableText(other.toLowerCase()) : "";
  $("remote-screen-box").hidden = !screenState;
  const surfaces = { monitor: "their screen", window: "a window", browser: "a browser tab" };
  $("remote-screen-label").textContent = screenState ? `${other} is sharing ${surfaces[screenState.display_surface] || "their screen"}` : "";
  $("remote-screen-box").dataset.surface = screenState?.display_surface || "";
  renderControls();
}

$("toggle-mic").addEventListener("click", () => call.setAudioMuted(!call.audioMuted));
$("toggle-camera").addEventListener("click", () => call.setCameraOff(call.videoOn));
$("hangup").addEventListener("click", () => call?.hangup());

// ---- agent -----------------------------------------------------------------------------------

async function startCall() {
  if (call?.live || !welcome) return;
  // "Start without camera": the microphone only; the camera can be turned on in the call.
  const cameraOff = $("start-camera-off").checked;
  // Our own media first: a refusal here never rings the visitor.
  const { stream, cameraError, reason } = await callMedia(cameraOff ? { audio: true } : { audio: true, video: true });
  if (!stream) return notice(mediaHelp(reason));
  const lifetimeMs = Number(params.get("invite_lifetime_ms")) || 60000;
  adopt(Call.invite(callOptions(), { localStream: stream, cameraOff, cameraError, prompt: welcome.prompt, lifetimeMs }));
}

async function toggleScreen() {
  if (!call?.answered) return;
  if (call.screenStream) return call.stopScreen();
  try {
    // The browser's picker decides: whole screen, one window or one tab.
    call.shareScreen(await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }));
  } catch (error) {
    // A refused screen share is reported but does not end the call.
    notice(`Screen sharing did not start (${error.name}). ${welcome.help.screen}`);
  }
}

if (role === "agent") {
  $("call-start").addEventListener("click", startCall);
  $("share-screen").addEventListener("click", toggleScreen);
  $("audio-only").addEventListener("click", () => call?.switchToAudioOnly("quality"));
  $("quality-advice-accept").addEventListener("click", () => call?.switchToAudioOnly("quality"));
}

// ---- visitor ---------------------------------------------------------------------------------

function onInvite(frame) {
  if (call?.live) return; // the relay refuses a second invite while one is live
  $("permission-help").hidden = true;
  $("prompt-text").textContent = frame.body.prompt.text;
  adopt(Call.fromInvite(callOptions(), frame));
}

if (role === "visitor") {
  $("prompt-accept").addEventListener("click", async () => {
    const result = await call.accept();
    if (!result.ok && result.reason?.code === "media_permission_denied") {
      const { device, error } = result.reason;
      const text = device === "microphone" ? microphoneErrorText(error) : null;
      $("permission-help").textContent = text || welcome.help[device] || welcome.help.camera;
      $("permission-help").hidden = false;
    }
  });
  $("prompt-decline").addEventListener("click", () => call?.decline());
}

// ---- for tests -------------------------------------------------------------------------------

window.velaroDemo = {
  get state() {
    return call ? call.state : "idle";
  },
  get reason() {
    return call ? call.reason : null;
  },
  get call() {
    return call;
  },
  get welcome() {
    return welcome;
  },
  party,
  chat: () => [...document.querySelectorAll("#chat-log li")].map((li) => li.textContent),
  stats: () => (call ? call.stats() : Promise.resolve(null)),
  /** Cuts the chat connection, as a flaky network would (the page reconnects). */
  dropConnection: () => socket.close(),
  get connection() {
    return document.body.dataset.connection;
  },
};

connect();
