// A client on fakes, and frames from its peer, for the unit tests.
import { CallClient } from "../dist/index.js";
import { FakeClock, FakeDevices, FakePeerConnection, settle } from "./fakes.mjs";

export const CONVERSATION = "conv-1";

/** A minimal SDP that passes the protocol's checks: audio and video, ICE and DTLS. */
export function sdp(ufrag, { sections = ["audio", "video"] } = {}) {
  const lines = ["v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", `a=group:BUNDLE ${sections.map((_, i) => i).join(" ")}`];
  lines.push("a=fingerprint:sha-256 12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD");
  sections.forEach((kind, i) => {
    lines.push(`m=${kind} 9 UDP/TLS/RTP/SAVPF ${kind === "audio" ? 111 : 96}`, "c=IN IP4 0.0.0.0", `a=mid:${i}`);
    lines.push(`a=ice-ufrag:${ufrag}`, "a=ice-pwd:asd88fgpdd777uzjYhagZg4f", "a=sendrecv");
    lines.push(kind === "audio" ? "a=rtpmap:111 opus/48000/2" : "a=rtpmap:96 VP8/90000");
  });
  return `${lines.join("\r\n")}\r\n`;
}

export const hostCandidate = (ufrag, port) => ({
  candidate: `candidate:${port} 1 udp 2122260223 192.0.2.10 ${port} typ host ufrag ${ufrag}`,
  sdpMid: "0",
  sdpMLineIndex: 0,
  usernameFragment: ufrag,
});

/** A client of `role` on a fake clock, fake devices and fake peer connections, recording the
 *  frames it sends and the events it emits. */
export function harness(role, options = {}) {
  const clock = new FakeClock();
  const devices = new FakeDevices();
  const sent = [];
  const events = [];
  const pcs = [];
  const refreshes = [];
  const client = new CallClient({
    role,
    conversationId: CONVERSATION,
    partyId: role === "agent" ? "agent-1" : "visitor-1",
    send: (frame) => sent.push(JSON.parse(JSON.stringify(frame))),
    ice: { iceServers: [] },
    refreshIce: async () => {
      refreshes.push(clock.now());
      return { iceServers: [], iceTransportPolicy: "relay" };
    },
    peerConnection: (config) => {
      const pc = new FakePeerConnection(config, options);
      pcs.push(pc);
      return pc;
    },
    getUserMedia: devices.getUserMedia,
    getDisplayMedia: devices.getDisplayMedia,
    clock,
    browser: options.browser ?? "chrome",
    texts: options.texts,
  });
  const names = [
    "prompt", "prompt-closed", "ringing", "accepted", "phase", "connected", "reconnecting", "reconnected", "local-media",
    "remote-media", "tracks", "quality", "camera-unavailable", "permission-help", "rejected", "ended", "error",
  ];
  for (const name of names) client.on(name, (detail) => events.push({ name, ...detail }));
  const peer = role === "agent" ? { party: "visitor-1", role: "visitor" } : { party: "agent-1", role: "agent" };
  let peerSeq = 0;
  /** A frame from the peer, delivered now. */
  const deliver = async (type, body, { callId = client.callId, party = peer.party, role: from = peer.role, seq } = {}) => {
    peerSeq = seq ?? peerSeq + 1;
    client.receive({ type, version: 1, conversation_id: CONVERSATION, call_id: callId, party_id: party, role: from, seq: peerSeq, body });
    await settle();
  };
  const of = (name) => events.filter((e) => e.name === name);
  const types = () => sent.map((f) => f.type);
  return { client, clock, devices, sent, events, pcs, refreshes, deliver, of, types, pc: () => pcs[pcs.length - 1] };
}

export const invite = (overrides = {}) => ({
  prompt: { text: "Your agent would like to start a video call. Accept?" },
  media: { audio: true, video: true },
  lifetime_ms: 60000,
  capabilities: ["trickle", "renegotiation", "screen_share", "audio_only", "quality"],
  ...overrides,
});

/** A visitor client with a call connected: invite, accept, granted, offer answered, ICE up. */
export async function connectedVisitor(options) {
  const h = harness("visitor", options);
  await h.deliver("call.invite", invite(), { callId: "call-1" });
  h.client.accept();
  h.devices.grant("visitor-cam");
  await settle();
  await h.deliver("call.description", { description: { type: "offer", sdp: sdp("agentufrag1") }, negotiation_id: "a1" });
  h.pc().resolveDescription({ type: "answer", sdp: sdp("visitorufrag1") });
  await settle();
  h.pc().setState("connected", "connected");
  await settle();
  return h;
}

/** An agent client with a call connected. */
export async function connectedAgent(options) {
  const h = harness("agent", options);
  h.client.invite({ prompt: "Your agent would like to start a video call. Accept?" });
  h.devices.grant("agent-cam");
  await settle();
  await h.deliver("call.ringing", {});
  await h.deliver("call.accept", { media: { audio: true, video: true } });
  h.pc().resolveDescription({ type: "offer", sdp: sdp("agentufrag1") });
  await settle();
  await h.deliver("call.description", { description: { type: "answer", sdp: sdp("visitorufrag1") }, negotiation_id: "a1" });
  h.pc().setState("connected", "connected");
  await settle();
  return h;
}
