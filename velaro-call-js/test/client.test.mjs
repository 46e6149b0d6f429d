// The client API as a chat widget uses it, on a fake clock, fake devices and a fake peer
// connection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { settle } from "./fakes.mjs";
import { connectedAgent, connectedVisitor, harness, hostCandidate, invite, sdp } from "./helpers.mjs";

test("a visitor is asked before anything: no media and no peer connection before consent", async () => {
  const h = harness("visitor");
  await h.deliver("call.invite", invite(), { callId: "call-1" });
  assert.deepEqual(h.of("prompt").map((e) => e.text), ["Your agent would like to start a video call. Accept?"]);
  assert.deepEqual(h.types(), ["call.ringing"]);
  // The agent's offer and candidates overtake the consent: held, not applied.
  await h.deliver("call.description", { description: { type: "offer", sdp: sdp("agentufrag1") }, negotiation_id: "a1" });
  await h.deliver("call.candidates", { candidates: [hostCandidate("agentufrag1", 50000)] });
  assert.equal(h.pcs.length, 0, "no peer connection before the user accepts");
  assert.equal(h.devices.requests.length, 0, "no camera before the user accepts");
  h.client.accept();
  assert.deepEqual(h.devices.pending.constraints, { audio: true, video: true });
  assert.equal(h.client.phase, "awaiting_permission");
  assert.equal(h.pcs.length, 0, "nor before the browser granted the camera");
  h.devices.grant("visitor-cam");
  await settle();
  assert.deepEqual(h.types(), ["call.ringing", "call.accept"]);
  assert.deepEqual(h.sent[1].body, { media: { audio: true, video: true } });
  // Now the held offer is applied, the visitor's tracks join its transceivers, and it answers.
  const pc = h.pc();
  assert.deepEqual(
    pc.log.map((l) => l.call),
    ["setRemoteDescription", "addTrack", "addTrack", "addIceCandidate", "createAnswer"],
  );
  pc.resolveDescription({ type: "answer", sdp: sdp("visitorufrag1") });
  await settle();
  assert.equal(h.sent[2].type, "call.description");
  assert.deepEqual(h.sent[2].body.negotiation_id, "a1");
  assert.equal(h.client.phase, "connecting");
});

test("the agent's invite waits for its own camera; phases are the Rust machine's", async () => {
  const h = harness("agent");
  h.client.invite({ prompt: "Video call?", lifetimeMs: 30000 });
  assert.equal(h.client.phase, "inviting", "inviting means waiting for the camera");
  assert.deepEqual(h.sent, [], "no invite before the camera is granted");
  h.devices.grant("agent-cam");
  await settle();
  assert.equal(h.client.phase, "ringing");
  assert.deepEqual(h.types(), ["call.invite"]);
  assert.deepEqual(h.sent[0].body, {
    prompt: { text: "Video call?" },
    media: { audio: true, video: true },
    lifetime_ms: 30000,
    capabilities: ["trickle", "renegotiation", "screen_share", "audio_only", "quality"],
  });
  await h.deliver("call.ringing", {});
  assert.equal(h.of("ringing").length, 1);
  await h.deliver("call.accept", { media: { audio: true, video: true } });
  assert.deepEqual(h.types(), ["call.invite", "call.select_answer"]);
  assert.deepEqual(h.pc().log.map((l) => l.call), ["addTrack", "addTrack", "createOffer"]);
  assert.deepEqual(
    h.of("phase").map((e) => e.phase),
    ["inviting", "ringing", "connecting"],
  );
});

test("a refused agent camera never rings the visitor", async () => {
  const h = harness("agent");
  h.client.invite({ prompt: "Video call?" });
  h.devices.deny("NotAllowedError");
  await settle();
  assert.deepEqual(h.sent, []);
  assert.equal(h.of("permission-help")[0].device, "camera");
  assert.match(h.of("permission-help")[0].text, /lock icon/);
  assert.equal(h.of("ended")[0].summary.outcome, "cancelled");
});

test("local candidates: the first batch is held 200 ms, then they flow, then one end marker", async () => {
  const h = await connectedAgentOffering();
  const pc = h.pc();
  const before = h.sent.length;
  pc.gather(hostCandidate("agentufrag1", 1));
  await h.clock.advance(60);
  pc.gather(hostCandidate("agentufrag1", 2));
  await h.clock.advance(60);
  pc.gather(hostCandidate("agentufrag1", 3));
  await h.clock.advance(79);
  assert.equal(h.sent.length, before, "held until 200 ms after the first");
  await h.clock.advance(1);
  const batch = h.sent.slice(before);
  assert.deepEqual(batch.map((f) => f.body.candidates.length), [3]);
  pc.gather(hostCandidate("agentufrag1", 4));
  await settle();
  assert.equal(h.sent.length, before + 2, "after the first batch, each goes at once");
  // Firefox ends with "" and null, Chromium with null only: one marker either way.
  pc.gather({ candidate: "", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "agentufrag1" });
  pc.gather(null);
  await settle();
  const ends = h.sent.filter((f) => f.type === "call.candidates" && f.body.candidates.some((c) => c.candidate === ""));
  assert.deepEqual(ends.map((f) => f.body.candidates), [[{ candidate: "", usernameFragment: "agentufrag1" }]]);
});

/** An agent whose first offer is out. */
async function connectedAgentOffering() {
  const h = harness("agent");
  h.client.invite({ prompt: "Video call?" });
  h.devices.grant("agent-cam");
  await settle();
  await h.deliver("call.accept", { media: { audio: true, video: true } });
  h.pc().resolveDescription({ type: "offer", sdp: sdp("agentufrag1") });
  await settle();
  assert.equal(h.sent.at(-1).type, "call.description");
  return h;
}

test("candidates gathered while the offer is being made wait for it", async () => {
  const h = harness("agent");
  h.client.invite({ prompt: "Video call?" });
  h.devices.grant("agent-cam");
  await settle();
  await h.deliver("call.accept", { media: { audio: true, video: true } });
  h.pc().gather(hostCandidate("agentufrag1", 1));
  await settle();
  assert.ok(!h.types().includes("call.candidates"));
  h.pc().resolveDescription({ type: "offer", sdp: sdp("agentufrag1") });
  await settle();
  await h.clock.advance(200);
  assert.deepEqual(h.types().slice(-2), ["call.description", "call.candidates"]);
});

test("remote candidates before their description are capped at 128", async () => {
  const h = harness("agent");
  h.client.invite({ prompt: "Video call?" });
  h.devices.grant("agent-cam");
  await settle();
  await h.deliver("call.accept", { media: { audio: true, video: true } });
  h.pc().resolveDescription({ type: "offer", sdp: sdp("agentufrag1") });
  await settle();
  for (let frame = 0; frame < 3; frame++) {
    const candidates = Array.from({ length: 50 }, (_, i) => hostCandidate("visitorufrag1", 1000 + frame * 50 + i));
    await h.deliver("call.candidates", { candidates });
  }
  assert.equal(h.pc().log.filter((l) => l.call === "addIceCandidate").length, 0);
  await h.deliver("call.description", { description: { type: "answer", sdp: sdp("visitorufrag1") }, negotiation_id: "a1" });
  assert.equal(h.pc().log.filter((l) => l.call === "addIceCandidate").length, 128);
});

test("a camera refused by policy (SecurityError) stops the call with no microphone retry", async () => {
  const h = harness("visitor", { browser: "firefox" });
  await h.deliver("call.invite", invite(), { callId: "call-1" });
  h.client.accept();
  h.devices.deny("SecurityError");
  await settle();
  assert.equal(h.devices.requests.length, 1, "a refusal is no missing camera");
  assert.deepEqual(h.sent.at(-1).body, { reason: { code: "media_permission_denied", device: "camera", error: "SecurityError" } });
  const help = h.of("permission-help")[0];
  assert.equal(help.error, "SecurityError");
  assert.match(help.text, /remove the Blocked setting/, "Firefox's own steps");
  assert.equal(h.of("ended")[0].text, "The call could not start: your camera is blocked.");
});

test("a missing camera falls back to audio; a failed microphone is reported as the microphone", async () => {
  const h = harness("visitor");
  await h.deliver("call.invite", invite(), { callId: "call-1" });
  h.client.accept();
  h.devices.deny("NotFoundError");
  await settle();
  assert.match(h.of("camera-unavailable")[0].text, /^No camera was found/);
  assert.deepEqual(h.devices.pending.constraints, { audio: true });
  h.devices.deny("NotReadableError");
  await settle();
  const reason = { code: "media_permission_denied", device: "microphone", error: "NotReadableError" };
  assert.deepEqual(h.sent.at(-1).body, { reason });
  assert.equal(h.of("permission-help")[0].text, "Your microphone is in use by another application. Close that application and try again.");
  assert.equal(h.of("ended")[0].text, "The call could not start: your microphone is in use by another application.");
});

test("a visitor without a camera joins with audio and says so once connected", async () => {
  const h = harness("visitor");
  await h.deliver("call.invite", invite(), { callId: "call-1" });
  h.client.accept();
  h.devices.deny("NotReadableError");
  await settle();
  h.devices.grant("visitor-cam");
  await settle();
  assert.deepEqual(h.sent.at(-1).body, { media: { audio: true, video: false } });
  await h.deliver("call.description", { description: { type: "offer", sdp: sdp("agentufrag1") }, negotiation_id: "a1" });
  h.pc().resolveDescription({ type: "answer", sdp: sdp("visitorufrag1") });
  await settle();
  h.pc().setState("connected", "connected");
  await settle();
  const media = h.sent.at(-1);
  assert.equal(media.type, "call.media");
  assert.deepEqual(media.body.audio_only, { reason: "camera_unavailable" });
  // Turning the camera on asks for the camera alone and renegotiates from the visitor's side.
  h.client.setCameraOff(false);
  assert.deepEqual(h.devices.pending.constraints, { video: true });
  h.devices.grant("ignored-id");
  await settle();
  assert.equal(h.pc().log.filter((l) => l.call === "addTrack" && l.kind === "video").at(-1).stream, "visitor-cam", "same stream");
  assert.equal(h.pc().describing[0], "offer");
});

test("the losing tab of a simultaneous accept says: answered in another tab", async () => {
  const h = harness("visitor");
  await h.deliver("call.invite", invite(), { callId: "call-1" });
  h.client.accept();
  const camera = h.devices.grant("visitor-cam");
  await settle();
  // The relay refused our accept (the other tab's came first), then the agent's choice arrives.
  h.client.receive({
    type: "call.rejected", version: 1, conversation_id: "conv-1", call_id: "call-1", party_id: "relay", role: "agent", seq: 9,
    body: { code: "forbidden", detail: "call call-1 was answered by visitor-2", rejected_seq: 2 },
  });
  await settle();
  assert.equal(h.client.phase, "connecting", "a refusal alone ends nothing for a visitor");
  await h.deliver("call.select_answer", { selected_party_id: "visitor-2" });
  const ended = h.of("ended")[0];
  assert.equal(ended.reason.code, "answered_elsewhere");
  assert.equal(ended.text, "The call was answered in another tab or window.");
  assert.ok(camera.getTracks().every((t) => t.stopped), "the camera is released");
});

test("a refused invite ends the agent's call whatever its seq; other refusals are only reported", async () => {
  const h = harness("agent");
  h.client.invite({ prompt: "Video call?" });
  h.devices.grant("agent-cam");
  await settle();
  h.client.receive({
    type: "call.rejected", version: 1, conversation_id: "conv-1", call_id: h.client.callId, party_id: "relay", role: "visitor", seq: 1,
    body: { code: "busy", detail: "a call is live", rejected_seq: 7 },
  });
  await settle();
  assert.equal(h.of("ended")[0].reason.code, "busy");
  assert.equal(h.of("ended")[0].text, "The visitor is already in a call.");
  const live = await connectedAgent();
  live.client.receive({
    type: "call.rejected", version: 1, conversation_id: "conv-1", call_id: live.client.callId, party_id: "relay", role: "visitor", seq: 50,
    body: { code: "rate_limited", detail: "slow down", rejected_seq: 1 },
  });
  await settle();
  assert.equal(live.client.phase, "active");
  assert.equal(live.of("rejected")[0].code, "rate_limited");
});

test("reconnecting: the status says so, the agent restarts ICE with fresh credentials after 2 s", async () => {
  const h = await connectedAgent();
  assert.equal(h.client.phase, "active");
  h.pc().setState("disconnected", "disconnected");
  await settle();
  assert.equal(h.client.phase, "reconnecting");
  assert.equal(h.of("reconnecting")[0].text, "Reconnecting…");
  assert.equal(h.of("phase").at(-1).text, "Reconnecting…");
  await h.clock.advance(1999);
  assert.equal(h.refreshes.length, 0);
  await h.clock.advance(1);
  assert.equal(h.refreshes.length, 1, "TURN credentials are minted afresh for a restart");
  assert.deepEqual(h.pc().log.filter((l) => l.call === "createOffer").at(-1), { call: "createOffer", iceRestart: true });
  assert.equal(h.pc().config.iceTransportPolicy, "relay");
  h.pc().setState("connected", "connected");
  await settle();
  assert.equal(h.client.phase, "active");
  assert.equal(h.of("reconnected").length, 1);
  // Lost for good: the call ends after 30 s.
  h.pc().setState("disconnected", "disconnected");
  await settle();
  await h.clock.advance(30000);
  assert.equal(h.of("ended")[0].reason.code, "ice_timeout");
  assert.equal(h.of("ended")[0].text, "The connection was lost and could not be restored.");
  assert.deepEqual(h.sent.at(-1).body, { reason: { code: "ice_timeout" } });
});

test("media must connect within 30 s of the accept", async () => {
  const h = harness("visitor");
  await h.deliver("call.invite", invite(), { callId: "call-1" });
  h.client.accept();
  h.devices.grant("visitor-cam");
  await settle();
  await h.clock.advance(29999);
  assert.equal(h.client.phase, "connecting");
  await h.clock.advance(1);
  assert.equal(h.of("ended")[0].reason.code, "ice_failed");
});

test("poor quality: reported on change, and the agent is advised after three samples", async () => {
  const h = await connectedAgent();
  h.pc().setStats({ rttMs: 500, lost: 0, received: 100 });
  await h.clock.advance(1000);
  const reports = () => h.sent.filter((f) => f.type === "call.quality").map((f) => f.body);
  assert.deepEqual(reports(), [{ level: "poor", rtt_ms: 500, loss_pct: 0 }]);
  await h.clock.advance(1000);
  assert.equal(h.of("quality").length, 0);
  await h.clock.advance(1000);
  assert.deepEqual(h.of("quality").map((e) => [e.advice, e.text]), [["switch_to_audio_only", "The connection is poor. Switching to audio only may help."]]);
  assert.equal(reports().length, 1, "reports go out on change only");
  h.client.switchToAudioOnly();
  const media = h.sent.at(-1);
  assert.deepEqual(media.body.audio_only, { reason: "quality" });
  assert.equal(h.of("local-media").at(-1).audioOnlyText, "Audio only: video is off for a better connection.");
  assert.deepEqual(h.pc().log.at(-1), { call: "replaceTrack", kind: "video", track: null }, "no video goes out at all");
});

test("the visitor follows the agent's audio only as it starts and ends", async () => {
  const h = await connectedVisitor();
  await h.deliver("call.media", { streams: { "agent-cam": { purpose: "camera", audio_muted: false, video_muted: true } }, audio_only: { reason: "quality" } });
  assert.deepEqual(h.client.localMedia.audio_only, { reason: "quality" });
  h.client.setCameraOff(false);
  assert.equal(h.client.localMedia.audio_only, undefined, "turning the camera on leaves audio only");
  await h.deliver("call.media", { streams: { "agent-cam": { purpose: "camera", audio_muted: true, video_muted: true } }, audio_only: { reason: "quality" } });
  assert.equal(h.client.localMedia.audio_only, undefined, "no new edge: nothing to follow");
});

test("an invite overtaken by its own cancel never rings; an ended call's replay neither", async () => {
  const h = harness("visitor");
  await h.deliver("call.cancel", { reason: { code: "cancelled" } }, { callId: "call-9", seq: 2 });
  await h.deliver("call.invite", invite(), { callId: "call-9", seq: 1 });
  assert.equal(h.of("prompt").length, 0);
  await h.deliver("call.invite", invite(), { callId: "call-10", seq: 1 });
  h.client.decline();
  await h.deliver("call.invite", invite(), { callId: "call-10", seq: 1 });
  assert.equal(h.of("prompt").length, 1, "the declined call's invite, replayed, does not ring again");
});

test("the resume cursor names the live call's senders only", async () => {
  const h = await connectedVisitor();
  assert.equal(h.client.resumeCursor(), "agent-1:2");
  await h.deliver("call.hangup", {});
  assert.equal(h.client.resumeCursor(), "", "no live call: the relay replays all it has");
});

test("the host's texts hook rewords what people read", async () => {
  const texts = (key, params) => (key === "reason.declined" ? `declined (${params.role})` : key === "status.ringing" ? "Es klingelt…" : undefined);
  const h = harness("agent", { texts });
  h.client.invite({ prompt: "?" });
  h.devices.grant("agent-cam");
  await settle();
  assert.equal(h.of("phase").at(-1).text, "Es klingelt…");
  await h.deliver("call.decline", { reason: { code: "declined" } });
  assert.equal(h.of("ended")[0].text, "declined (agent)");
  assert.equal(h.of("ended")[0].reason.code, "declined", "the code stays for logs");
});

test("screen share: the picker's surface is told, the browser's own stop ends it", async () => {
  const h = await connectedAgent();
  h.client.shareScreen();
  assert.equal(h.devices.pending.kind, "display");
  const stream = h.devices.grant("screen-1", { audio: false, video: true }, { displaySurface: "window" });
  await settle();
  const shared = h.sent.find((f) => f.type === "call.media" && f.body.streams["screen-1"]);
  assert.equal(shared.body.streams["screen-1"].display_surface, "window");
  assert.deepEqual(h.pc().log.find((l) => l.call === "addTransceiver" && l.direction === "sendonly"), { call: "addTransceiver", kind: "video", direction: "sendonly" });
  stream.getVideoTracks()[0].end();
  await settle();
  assert.equal(h.client.localMedia.streams["screen-1"], undefined);
  assert.ok(h.pc().log.some((l) => l.call === "removeTrack"));
});
