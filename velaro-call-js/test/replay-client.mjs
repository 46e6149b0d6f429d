// Replays a conformance trace through CallClient, the way a browser would drive it: the trace's
// media events become what a fake peer connection, fake devices and a fake clock do, and what
// the client does to them is read back as media commands. The frames it sends, the commands
// (device requests and track switches in their order, peer connection work in its order) and
// its events must be the trace's.
import assert from "node:assert/strict";
import { CallClient } from "../dist/index.js";
import { FakeClock, FakeDevices, FakePeerConnection, deviceLog, settle } from "./fakes.mjs";

const plain = (value) => JSON.parse(JSON.stringify(value));

/** Machine events by the client event that carries them, with the fields that must match. */
const EVENTS = {
  prompt: ["prompt", (e) => ({ text: e.text, locale: e.locale, media: e.media })],
  stop_prompting: ["prompt-closed", (e) => ({ why: e.why })],
  ringing: ["ringing", () => ({})],
  accepted: ["accepted", () => ({})],
  opened: ["connected", () => ({})],
  reconnecting: ["reconnecting", () => ({})],
  reconnected: ["reconnected", () => ({})],
  remote_media: ["remote-media", (e) => ({ media: e.media })],
  quality: ["quality", (e) => ({ advice: e.advice })],
  camera_unavailable: ["camera-unavailable", (e) => ({ error: e.error, text: e.help ?? e.text })],
  permission_help: ["permission-help", (e) => ({ device: e.device, error: e.error, text: e.help ?? e.text })],
  rejected: ["rejected", (e) => ({ code: e.code, detail: e.detail })],
  ended: ["ended", (e) => ({ reason: e.reason, summary: e.summary })],
};

const DEVICE_COMMANDS = ["request_user_media", "request_screen_capture", "set_track_enabled"];

/** Whether a browser could give this input: a quality sample's loss comes from packet counts. */
function expressible(input) {
  const sample = input.media?.type === "quality_sample" ? input.media : null;
  return !sample || (typeof sample.loss_pct === "number" && sample.loss_pct >= 0 && sample.loss_pct <= 100);
}

export async function replayThroughClient(trace, t) {
  if (!trace.steps.every((step) => expressible(step.input))) {
    // Thresholds at impossible values (NaN, over 100 %) are the machine's alone: CallMachine
    // replays this trace; no browser can produce its samples.
    return;
  }
  deviceLog.length = 0;
  const clock = new FakeClock();
  const devices = new FakeDevices();
  const pcs = [];
  const sent = [];
  const events = [];
  const client = new CallClient({
    role: trace.role,
    conversationId: trace.conversation_id,
    partyId: trace.party_id,
    send: (frame) => sent.push(plain(frame)),
    peerConnection: (config) => {
      const pc = new FakePeerConnection(config);
      pcs.push(pc);
      return pc;
    },
    getUserMedia: devices.getUserMedia,
    getDisplayMedia: devices.getDisplayMedia,
    refreshIce: async () => ({ iceServers: [] }),
    clock,
    browser: "other",
  });
  for (const [type, [name]] of Object.entries(EVENTS)) client.on(name, (detail) => events.push({ type, ...detail }));
  const pc = () => pcs[pcs.length - 1];
  let screen = null;
  const totals = { lost: 0, received: 0 };
  let lastStep = null;

  for (const step of trace.steps) {
    const input = step.input;
    const sample = input.media?.type === "quality_sample" ? input.media : null;
    if (sample) {
      // What the browser's stats would say for this sample, read at the sampler's tick now.
      const lost = Math.round(sample.loss_pct * 10);
      totals.lost += lost;
      totals.received += 1000 - lost;
      pc().setStats({ rttMs: sample.rtt_ms, ...totals });
    }
    await clock.advanceTo(step.at_ms);
    if (sample) {
      // Until the next sample, the stats say nothing new: no round-trip time measured.
      pc().stats = new Map([["in", { type: "inbound-rtp", packetsLost: totals.lost, packetsReceived: totals.received }]]);
    }
    if (input.invite) client.receive(input.invite);
    else if (input.message) client.receive(input.message);
    else if (input.action) act(client, input.action);
    else if (input.media && !sample) screen = media(input.media, { pc, devices, screen });
    await settle();
    lastStep = step;
  }

  const expected = trace.steps.flatMap((step) => step.outputs);
  const where = trace.name;
  assert.deepStrictEqual(sent, expected.filter((o) => o.send).map((o) => o.send), `${where}: frames`);

  const commands = expected.filter((o) => o.media).map((o) => o.media);
  const observed = observedCommands(pcs);
  assert.deepStrictEqual(
    observed.device,
    commands.filter((c) => DEVICE_COMMANDS.includes(c.type)),
    `${where}: device requests and track switches`,
  );
  assert.deepStrictEqual(
    observed.peer,
    commands.filter((c) => !DEVICE_COMMANDS.includes(c.type) && c.type !== "close" && c.type !== "stop_screen_capture"),
    `${where}: peer connection work`,
  );
  if (commands.some((c) => c.type === "close") && pcs.length > 0) {
    assert.equal(pc().log.at(-1).call, "close", `${where}: the peer connection is closed last`);
  }

  const wanted = expected.filter((o) => o.event).map((o) => ({ type: o.event.type, ...EVENTS[o.event.type][1](o.event) }));
  const got = events.map((e) => ({ type: e.type, ...EVENTS[e.type][1](e) }));
  assert.deepStrictEqual(plain(got), wanted, `${where}: events`);
  assert.equal(client.phase, lastStep.phase, `${where}: phase`);
}

function act(client, action) {
  switch (action.type) {
    case "invite":
      return client.invite({ prompt: action.prompt.text, media: action.media, cameraOff: action.camera_off, callId: "call-1" });
    case "cancel":
      return client.cancel();
    case "accept":
      return client.accept();
    case "decline":
      return client.decline();
    case "hangup":
      return client.hangup();
    case "set_microphone_muted":
      return client.setMicrophoneMuted(action.muted);
    case "set_camera_off":
      return client.setCameraOff(action.off);
    case "start_screen_share":
      return client.shareScreen();
    case "stop_screen_share":
      return client.stopScreenShare();
    case "switch_to_audio_only":
      return client.switchToAudioOnly();
    default:
      throw new Error(`no client action for ${action.type}`);
  }
}

const ICE = { connected: ["connected", "connected"], disconnected: ["disconnected", "disconnected"], failed: ["failed", "failed"], checking: ["checking", "connecting"] };

/** Makes the fakes do what the media event says; returns the screen stream being shared. */
function media(event, { pc, devices, screen }) {
  switch (event.type) {
    case "permission_granted":
      devices.grant(event.stream_id, event.media);
      return screen;
    case "permission_denied":
      devices.deny(event.error);
      return screen;
    case "screen_share_started":
      return devices.grant(event.stream_id, { audio: false, video: true }, { displaySurface: event.surface });
    case "screen_share_ended":
      screen.getVideoTracks()[0].end();
      return null;
    case "local_description":
      pc().resolveDescription(event.description);
      return screen;
    case "local_candidate":
      pc().gather(event.candidate);
      return screen;
    case "gathering_complete":
      pc().gather(null);
      return screen;
    case "ice":
      pc().setState(...ICE[event.state]);
      return screen;
    default:
      throw new Error(`no fake for ${event.type}`);
  }
}

/** What the client did to the fakes, as the machine's commands. */
function observedCommands(pcs) {
  // Device requests and track switches happen as the command is drained: in command order.
  const device = plain(deviceLog);
  const peer = [];
  for (const pc of pcs) {
    for (const entry of pc.log) {
      switch (entry.call) {
        case "createOffer":
          peer.push({ type: "create_offer", ice_restart: entry.iceRestart });
          break;
        case "createAnswer":
          peer.push({ type: "create_answer" });
          break;
        case "setLocalDescription":
          if (entry.type === "rollback") peer.push({ type: "rollback" });
          break;
        case "setRemoteDescription":
          peer.push({ type: "apply_remote_description", description: entry.description });
          break;
        case "addIceCandidate":
          peer.push({ type: "add_remote_candidate", candidate: entry.candidate });
          break;
      }
    }
  }
  return { device, peer: plain(peer) };
}
