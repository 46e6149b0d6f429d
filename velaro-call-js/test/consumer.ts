// A page of an integrator's, type-checked against the built declarations (npm test runs
// `tsc -p tsconfig.consumer.json`): the README's way of wiring a call compiles, and the types
// refuse what the protocol refuses.
import { CallClient, formatResumeCursor } from "../dist/index.js";
import type { CallSummary, Frame, MediaBody, Phase, Reason } from "../dist/index.js";
import { REASON_CODE_VALUES } from "../dist/wire.js";

declare const socket: WebSocket;
declare const video: HTMLVideoElement;

const client = new CallClient({
  role: "visitor",
  conversationId: "conv-1",
  partyId: "visitor-1",
  send: (frame: Frame) => socket.send(JSON.stringify(frame)),
  ice: { iceServers: [{ urls: "stun:stun.example.com" }] },
});
socket.addEventListener("message", (event) => client.receive(JSON.parse(String(event.data))));

const stop = client.on("prompt", ({ text, media, callId }) => console.log(text, media.video, callId.length));
stop();
client.on("phase", ({ phase, text }) => {
  const known: Phase = phase;
  console.log(known, text);
});
client.on("tracks", () => {
  video.srcObject = client.remoteStream("camera");
});
client.on("ended", ({ reason, summary, text }) => {
  const code: Reason["code"] = reason.code;
  const total: CallSummary["talk_time_ms"] = summary.talk_time_ms;
  console.log(code, total, text);
});
client.on("remote-media", ({ media }) => {
  const body: MediaBody = media;
  console.log(Object.keys(body.streams ?? {}));
});
client.accept();
client.setCameraOff(client.videoOn);
client.setMicrophoneMuted(!client.muted);
console.log(formatResumeCursor([["agent-1", 3]]), REASON_CODE_VALUES.length);

// @ts-expect-error: no such event
client.on("connected-ish", () => {});
// @ts-expect-error: an invite needs its prompt
client.invite({ cameraOff: true });
// @ts-expect-error: the role is agent or visitor
new CallClient({ role: "relay", conversationId: "c", partyId: "p", send: () => {} });
