// The demo chat page, agent or visitor (`<body data-role>`): a chat over one WebSocket, and the
// video call that opens in the chat window. The call is the browser package `@velaro/call`
// (velaro-call-js, served from its committed dist/ at /static/call/); this file is only the page:
// markup, the chat connection, and what the call's events show.
//
// For tests and curious people, `window.velaroDemo` exposes the page's state: the client, the
// call's phase and end reason, the last peer connection, the end-of-candidates markers seen on
// the wire, `chat()`, `stats()`.

import { CallClient } from "/static/call/index.js";

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
const iceWaiters = [];

// What the page saw, for the tests (the package itself keeps no such hooks).
const seen = {
  pc: null, // the call's peer connection, made through the client's injectable factory
  endMarkers: { sent: 0, received: 0 }, // `candidate: ""` on the wire, both ways
  requestedMedia: null, // what the invite asked of this visitor
  iceRefreshes: 0,
  cameraUnavailable: 0,
  reason: null,
};

const client = new CallClient({
  role,
  conversationId: conversation,
  partyId: party,
  send,
  refreshIce,
  peerConnection: (config) => (seen.pc = new RTCPeerConnection(config)),
});

// ---- the chat connection ---------------------------------------------------------------------

// A dropped connection comes back by itself: the page reconnects with the fresh token the
// server last sent and with the call's resume cursor (RESUME.md in the package), the relay
// replays what it missed (within its grace period), and frames written meanwhile wait here (the
// relay drops any it already has, by seq).
const RECONNECT_MS = [250, 1000, 2000, 5000];
const RELOADED_AT = "velaro-reloaded-at";
let reconnects = 0;
const outbox = [];

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = new URLSearchParams({ conversation, token });
  if (client.live) query.set("resume", client.resumeCursor());
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

const endMarkers = (frame) => (frame.type === "call.candidates" ? frame.body.candidates.filter((c) => c.candidate === "").length : 0);

function send(frame) {
  seen.endMarkers.sent += endMarkers(frame);
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
      client.ice = frame.ice;
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
      client.ice = frame.ice;
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
  if (typeof frame.type !== "string" || !frame.type.startsWith("call.")) return;
  if (frame.call_id === client.callId) seen.endMarkers.received += endMarkers(frame);
  client.receive(frame);
}

function refreshIce() {
  seen.iceRefreshes += 1;
  return new Promise((resolve) => {
    iceWaiters.push(resolve);
    send({ type: "host.ice_refresh" });
  });
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

/** The call's own message line, next to the call (and above the chat). */
function notice(text) {
  $("call-notice").textContent = text;
}

// ---- the call ------------------------------------------------------------------------------

const PEER = role === "agent" ? "Visitor" : "Agent";
const BEFORE_ANSWER = ["inviting", "ringing"];
const IN_CALL = ["inviting", "ringing", "awaiting_permission", "connecting", "active", "reconnecting"];

// Attached again when the stream gains or loses a track (a camera turned on mid-call), rather
// than relying on the element to notice.
function show(video, stream) {
  const key = stream ? `${stream.id}:${stream.getTracks().map((t) => t.id).join(",")}` : "";
  if (video.dataset.shown === key) return;
  video.dataset.shown = key;
  video.srcObject = stream;
}

client.on("phase", ({ phase, text }) => {
  document.body.dataset.callState = phase;
  $("call-status").textContent = text;
  const inCall = IN_CALL.includes(phase);
  // The visitor's overlay opens once it said yes; the prompt shows before.
  $("call-overlay").hidden = !inCall || (role === "visitor" && phase === "awaiting_permission");
  if (role === "visitor") {
    // Once accepted, the browser asks for the camera: the prompt says so, and Accept is done.
    $("prompt").hidden = !["prompting", "awaiting_permission"].includes(phase);
    $("prompt-status").textContent = phase === "awaiting_permission" ? text : "";
    $("prompt-accept").disabled = phase === "awaiting_permission";
  }
  if (role === "agent") $("call-start").disabled = $("start-camera-off").disabled = inCall;
  // Before the answer the agent can only cancel: no controls that do nothing yet.
  const ringing = BEFORE_ANSWER.includes(phase);
  for (const id of ["toggle-mic", "toggle-camera", "share-screen", "audio-only"]) $(id).hidden = ringing;
  $("hangup").textContent = ringing ? "Cancel call" : "End call";
  if (inCall) notice("");
  renderControls();
});

client.on("ringing", () => {
  $("call-status").textContent = "Ringing: the visitor sees your call…";
});

client.on("prompt", ({ text, media }) => {
  seen.pc = null;
  seen.reason = null;
  seen.requestedMedia = media;
  $("permission-help").hidden = true;
  $("prompt-text").textContent = text;
});

client.on("prompt-closed", ({ text }) => {
  $("prompt").hidden = true;
  if (text) notice(text);
});

// Help that came with the end (the agent's own camera refused before its invite went out).
let endHelp = "";

client.on("ended", ({ reason, text }) => {
  seen.reason = reason;
  document.body.dataset.endReason = reason.code;
  $("call-overlay").hidden = true;
  $("prompt").hidden = true;
  $("quality-advice").hidden = true;
  notice(endHelp ? `${text} ${endHelp}` : text);
  endHelp = "";
  for (const id of ["local-video", "remote-video", "remote-screen"]) show($(id), null);
  $("camera-notice").hidden = true;
});

// A device the call needs was refused or failed (the visitor's camera or microphone, the
// agent's before its invite, or a screen share): what to do about it in this browser.
client.on("permission-help", ({ device, text }) => {
  if (role === "visitor" && device !== "screen") {
    $("permission-help").textContent = text;
    $("permission-help").hidden = false;
  } else if (device === "screen") {
    notice(text); // the call goes on without the share
  } else {
    endHelp = text; // the call cannot start: the end says why, then this
  }
});

// Our camera could not be used: the call goes on with audio.
client.on("camera-unavailable", ({ error, text }) => {
  seen.cameraUnavailable += 1;
  $("camera-notice").dataset.error = error;
  $("camera-notice").textContent = text;
  $("camera-notice").hidden = false;
});

client.on("local-media", ({ audioOnlyText }) => {
  $("audio-only-banner").textContent = audioOnlyText || "";
  $("audio-only-banner").hidden = !audioOnlyText;
  if (audioOnlyText) $("quality-advice").hidden = true;
  // A camera that works again takes its notice away.
  if (client.videoOn) $("camera-notice").hidden = true;
  renderControls();
});

client.on("quality", ({ advice }) => {
  if (role !== "agent") return;
  $("quality-advice").hidden = advice !== "switch_to_audio_only" || client.localMedia?.audio_only?.reason === "quality";
});

client.on("tracks", renderRemote);
client.on("remote-media", renderRemote);

function renderControls() {
  $("toggle-mic").textContent = client.muted ? "Unmute" : "Mute";
  // Never disabled: turning the camera on leaves audio only or asks for a camera.
  $("toggle-camera").textContent = client.videoOn ? "Camera off" : "Camera on";
  const streams = Object.values(client.localMedia?.streams ?? {});
  const sharing = streams.some((s) => s.purpose === "screen");
  $("share-screen").textContent = sharing ? "Stop sharing" : "Share screen";
  $("audio-only").disabled = client.localMedia?.audio_only?.reason === "quality";
  if (client.live && client.localStream) show($("local-video"), client.localStream);
}

function renderRemote() {
  show($("remote-video"), client.remoteStream("camera"));
  show($("remote-screen"), client.remoteStream("screen"));
  const media = client.remoteMedia;
  const streams = Object.values(media?.streams ?? {});
  const camera = streams.find((s) => s.purpose === "camera");
  const screen = streams.find((s) => s.purpose === "screen");
  const flags = [];
  if (camera?.audio_muted) flags.push("muted");
  if (camera?.video_muted) flags.push("camera off");
  $("remote-state").textContent = flags.length ? `${PEER}: ${flags.join(", ")}` : "";
  $("remote-state").dataset.audioMuted = String(Boolean(camera?.audio_muted));
  $("remote-state").dataset.videoMuted = String(Boolean(camera?.video_muted));
  // The other side has no working camera: it says so, and our video goes on.
  const unavailable = media?.audio_only?.reason === "camera_unavailable";
  // Over the peer's camera tile, rather than a black box: why there is no picture.
  const placeholder = unavailable ? "No camera" : camera?.video_muted ? "Camera off" : "";
  $("remote-camera-placeholder").textContent = placeholder;
  $("remote-camera-placeholder").hidden = !placeholder;
  $("remote-camera-unavailable").hidden = !unavailable;
  $("remote-camera-unavailable").textContent = unavailable ? `The ${PEER.toLowerCase()}'s camera is unavailable; the call continues with audio.` : "";
  $("remote-screen-box").hidden = !screen;
  $("call-overlay").classList.toggle("sharing", Boolean(screen));
  const surfaces = { monitor: "their screen", window: "a window", browser: "a browser tab" };
  $("remote-screen-label").textContent = screen ? `${PEER} is sharing ${surfaces[screen.display_surface] || "their screen"}` : "";
  $("remote-screen-box").dataset.surface = screen?.display_surface || "";
  renderControls();
}

$("toggle-mic").addEventListener("click", () => client.setMicrophoneMuted(!client.muted));
$("toggle-camera").addEventListener("click", () => client.setCameraOff(client.videoOn));
$("hangup").addEventListener("click", () => client.hangup());

// ---- agent -----------------------------------------------------------------------------------

if (role === "agent") {
  $("call-start").addEventListener("click", () => {
    if (client.live || !welcome) return;
    seen.pc = null;
    seen.reason = null;
    notice("");
    // "Start without camera": the microphone only; the camera can be turned on in the call.
    const lifetimeMs = Number(params.get("invite_lifetime_ms")) || 60000;
    client.invite({ prompt: welcome.prompt, cameraOff: $("start-camera-off").checked, lifetimeMs });
  });
  // The browser's picker decides: whole screen, one window or one tab.
  $("share-screen").addEventListener("click", () => {
    const sharing = Object.values(client.localMedia?.streams ?? {}).some((s) => s.purpose === "screen");
    if (sharing) client.stopScreenShare();
    else client.shareScreen();
  });
  $("audio-only").addEventListener("click", () => client.switchToAudioOnly());
  $("quality-advice-accept").addEventListener("click", () => client.switchToAudioOnly());
}

// ---- visitor ---------------------------------------------------------------------------------

if (role === "visitor") {
  $("prompt-accept").addEventListener("click", () => client.accept());
  $("prompt-decline").addEventListener("click", () => client.decline());
}

// ---- for tests -------------------------------------------------------------------------------

/** What the browser measures, by what the other side's call.media says each stream is. */
async function stats() {
  const pc = seen.pc;
  if (!pc) return { connectionState: "new", inbound: [], selected: null };
  const trackPurpose = new Map();
  for (const purpose of ["camera", "screen"]) {
    client.remoteStream(purpose)?.getTracks().forEach((t) => trackPurpose.set(t.id, purpose));
  }
  const reports = await pc.getStats();
  const inbound = [];
  let selectedPairId = null;
  const pairs = new Map();
  const candidates = new Map();
  reports.forEach((r) => {
    if (r.type === "inbound-rtp") {
      inbound.push({
        kind: r.kind, trackIdentifier: r.trackIdentifier, purpose: trackPurpose.get(r.trackIdentifier) || null,
        bytesReceived: r.bytesReceived || 0, packetsReceived: r.packetsReceived || 0, framesDecoded: r.framesDecoded || 0,
      });
    }
    if (r.type === "transport" && r.selectedCandidatePairId) selectedPairId = r.selectedCandidatePairId;
    if (r.type === "candidate-pair") pairs.set(r.id, r);
    if (r.type === "local-candidate" || r.type === "remote-candidate") candidates.set(r.id, r);
  });
  let pair = selectedPairId ? pairs.get(selectedPairId) : null;
  if (!pair) pair = [...pairs.values()].find((p) => p.selected || (p.nominated && p.state === "succeeded")) || null;
  const selected = pair
    ? { local: candidates.get(pair.localCandidateId)?.candidateType || null, remote: candidates.get(pair.remoteCandidateId)?.candidateType || null }
    : null;
  return { connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState, inbound, selected };
}

window.velaroDemo = {
  client,
  get state() {
    return client.phase;
  },
  get reason() {
    return seen.reason;
  },
  get pc() {
    return seen.pc;
  },
  get endMarkers() {
    return seen.endMarkers;
  },
  get requestedMedia() {
    return seen.requestedMedia;
  },
  get iceRefreshes() {
    return seen.iceRefreshes;
  },
  get cameraUnavailable() {
    return seen.cameraUnavailable;
  },
  get audioOnly() {
    return client.localMedia?.audio_only?.reason ?? null;
  },
  get welcome() {
    return welcome;
  },
  party,
  chat: () => [...document.querySelectorAll("#chat-log li")].map((li) => li.textContent),
  stats,
  /** Cuts the chat connection, as a flaky network would (the page reconnects). */
  dropConnection: () => socket.close(),
  get connection() {
    return document.body.dataset.connection;
  },
};

connect();
