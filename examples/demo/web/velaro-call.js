// The Velaro call protocol v1 for browsers: one `Call` per call, no DOM.
//
// The page gives it a `send(envelope)` function (the chat's own connection carries the frames),
// hands it every call frame it receives (`handleMessage`), and listens to its events:
//   "state"       detail { state, reason }   inviting → ringing → connecting → connected → ended
//                                            (visitor: prompting → accepting → connecting → …)
//   "tracks"      remote streams changed      (use `remoteStream("camera" | "screen")`)
//   "remotemedia" detail: the other side's call.media body (mute, camera, screen, audio only)
//   "localmedia"  detail: our own media state changed (the same shape)
//   "quality"     detail { local, remote }    levels: excellent / good / poor / lost
//   "rejected"    detail: a call.rejected body (the relay refused one of our frames)
//
// Rules kept here, as the Rust call machine keeps them: only the agent invites; the visitor
// sends no offer, answer or candidate before its user accepted and the browser granted its
// media; perfect negotiation with the visitor polite; candidates batched, buffered until
// their description is applied, and ended with `candidate: ""`; media must connect within
// 30 s of the accept; `call.media` is sent only once this party's media is connected (the
// relay counts talk time from the first one), and the first carries whatever changed while
// connecting; after 2 s disconnected the agent restarts ICE with fresh credentials, after 30 s
// the call ends `ice_timeout`. Ending a call never ends the chat. A visitor's page keeps an
// `EndedCalls` for the frames that come while it has no call, so that an invite overtaken by
// its own hangup or cancel never rings.
//
// Camera optional: the invite's `media` is what the agent asks of the visitor, and each side's
// `call.media` says what it has. A call starts without a camera that is missing, busy, cannot
// meet the constraints or aborts (`callMedia` asks for the microphone alone, and the sender's
// `call.media` carries `audio_only: {reason: "camera_unavailable"}`, which the peer only shows);
// a refused camera or any microphone failure stops it. Audio only for quality is the agent's
// choice: the visitor follows its marker as it appears and as it goes, and either side leaves
// it by turning its camera on, which asks for a camera it does not have yet (renegotiating).
//
// TURN credentials must be fresh for each call: the host gives `ice` (and `refreshIce`, asked
// before an ICE restart); a page that stays open for hours must not reuse the ones it got when
// it connected (the demo's server sends new ones as each call starts).

export const VERSION = 1;
export const CAPABILITIES = ["trickle", "renegotiation", "screen_share", "audio_only", "quality"];

const MEDIA_CONNECT_MS = 30000;
const RESTART_AFTER_MS = 2000;
const LOST_AFTER_MS = 30000;
const CANDIDATE_BATCH_MS = 20;
const MAX_CANDIDATES_PER_FRAME = 64;
const QUALITY_EVERY_MS = 2000;
const INVITE_GRACE_MS = 2000; // the relay's expiry notice normally ends the invite first
const SURFACES = ["monitor", "window", "browser"];
const ENDED_CALLS_KEPT = 64;

/** A protocol id: `prefix-` and 16 random hex digits. */
export function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// getUserMedia failures: a refused permission stops a call; anything else the camera does
// (missing, busy, constraints, aborted, or a name this client does not know) falls back to audio.
const PERMISSION_ERRORS = ["NotAllowedError", "SecurityError"];

const defaultGetUserMedia = (constraints) => navigator.mediaDevices.getUserMedia(constraints);

/** The DOMException name of a failed getUserMedia, as the protocol carries it: any name that is
 *  a protocol token is kept (its media errors are an open set, like the Rust `MediaError`); an
 *  error without one counts as a device that could not start. */
export function mediaErrorName(error) {
  const name = error && error.name;
  return typeof name === "string" && /^[0-9A-Za-z._-]{1,64}$/.test(name) ? name : "AbortError";
}

/** Whether a getUserMedia error name means the user or the browser refused the device. */
export function isPermissionError(name) {
  return PERMISSION_ERRORS.includes(name);
}

/** The reason a call cannot start. A combined request's failure is the camera's when video was
 *  asked for: the microphone-only retry (see `callMedia`) tells when the microphone is at fault. */
export function deniedDevice(error, wanted) {
  return { code: "media_permission_denied", device: wanted.video ? "camera" : "microphone", error: mediaErrorName(error) };
}

/**
 * The camera stream a call starts with, for `wanted` ({audio, video}). A camera that is missing,
 * busy, cannot meet the constraints or aborts does not stop the call: the microphone is asked for
 * alone and `cameraError` names what the camera did. Resolves to `{stream, cameraError}`, or to
 * `{stream: null, reason}` (a refused camera, or any microphone failure).
 */
export async function callMedia(wanted, getUserMedia = defaultGetUserMedia) {
  try {
    return { stream: await getUserMedia(wanted), cameraError: null };
  } catch (error) {
    const name = mediaErrorName(error);
    if (!wanted.video || !wanted.audio || isPermissionError(name)) {
      return { stream: null, reason: deniedDevice(error, wanted) };
    }
    try {
      return { stream: await getUserMedia({ audio: wanted.audio }), cameraError: name };
    } catch (microphoneError) {
      return { stream: null, reason: deniedDevice(microphoneError, { audio: wanted.audio }) };
    }
  }
}

// What a person is told; the Rust side says the same.

/** The call goes on without this user's camera, which failed with `error`. */
export function cameraFallbackText(error) {
  switch (error) {
    case "NotFoundError":
      return "No camera was found, so the call continues with audio only. Connect a camera and turn it on to add video.";
    case "NotReadableError":
      return "Your camera is in use by another application, so the call continues with audio only. Close that application and turn the camera on to add video.";
    case "OverconstrainedError":
      return "Your camera does not support the video settings of this call, so the call continues with audio only.";
    default:
      return "Your camera could not be started, so the call continues with audio only.";
  }
}

/** Why the microphone failed, or null for a refused permission (the browser's permission help
 *  says how to allow it). */
export function microphoneErrorText(error) {
  switch (error) {
    case "NotFoundError":
      return "No microphone was found. Connect a microphone and try again.";
    case "NotReadableError":
      return "Your microphone is in use by another application. Close that application and try again.";
    case "OverconstrainedError":
      return "Your microphone does not support the audio settings of this call.";
    case "AbortError":
      return "Your microphone could not be started. Try again.";
    default:
      return null;
  }
}

/** The other side (`"agent"` or `"visitor"`) has no working camera. */
export function peerCameraUnavailableText(peerRole) {
  return `The ${peerRole}'s camera is unavailable; the call continues with audio.`;
}

/**
 * The calls that ended, the last 64 of them, oldest forgotten first: a visitor's page gives it
 * every call frame that comes while it has no live call, and rings only for an invite it says
 * starts one. On a link that reorders (or in a resume replay) a `call.hangup` or `call.cancel`
 * can overtake its own invite: the invite must not ring then, nor an invite of a call already
 * over. The twin of `EndedCalls` in velaro-call-state.
 */
export class EndedCalls {
  constructor() {
    this.ids = new Set();
  }

  /** Remembers that `callId` ended, forgetting the oldest when full. */
  bury(callId) {
    if (!callId || this.ids.has(callId)) return;
    if (this.ids.size >= ENDED_CALLS_KEPT) this.ids.delete(this.ids.values().next().value);
    this.ids.add(callId);
  }

  has(callId) {
    return this.ids.has(callId);
  }

  /** A frame that came while there is no live call: whether it is an invite that may ring.
   *  A frame that ends a call (hangup, cancel, another tab's select_answer) is remembered. */
  startsACall(envelope) {
    switch (envelope.type) {
      case "call.invite":
        return !this.has(envelope.call_id);
      case "call.hangup":
      case "call.cancel":
      case "call.select_answer":
        this.bury(envelope.call_id);
        return false;
      default:
        return false;
    }
  }
}

export class Call extends EventTarget {
  /**
   * Use `Call.invite` (agent) or `Call.fromInvite` (visitor) instead.
   * options: { role, conversationId, partyId, callId, send, ice, refreshIce, getUserMedia }
   * (`getUserMedia(constraints)` defaults to the browser's).
   */
  constructor(options) {
    super();
    this.role = options.role;
    this.conversationId = options.conversationId;
    this.partyId = options.partyId;
    this.callId = options.callId;
    this.sendFrame = options.send;
    this.ice = options.ice || {};
    this.refreshIce = options.refreshIce || (async () => this.ice);
    this.getUserMedia = options.getUserMedia || defaultGetUserMedia;
    this.state = "new";
    this.reason = null;
    this.remoteParty = null;
    this.seq = 0;
    this.seen = new Map();
    this.timers = new Map();
    this.inbox = Promise.resolve();
    this.pc = null;
    this.localStream = null;
    this.videoSender = null;
    this.audioSender = null;
    this.screenStream = null;
    this.screenSender = null;
    this.displaySurface = null;
    this.audioMuted = false;
    this.cameraOff = false; // by the user's choice
    this.cameraError = null; // the camera's getUserMedia error while this side has none
    this.cameraRequest = null;
    this.audioOnly = null; // "quality": the agent's choice, which the visitor follows
    this.peerAudioOnly = false; // the agent's last call.media was audio only for quality
    this.media = { audio: true, video: true }; // what the agent asks of the visitor
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.remoteCandidates = [];
    this.localCandidates = [];
    this.sentEnd = false;
    this.endMarkers = { sent: 0, received: 0 }; // `candidate: ""` frames, for the page and tests
    this.remoteStreams = new Map();
    this.remoteMedia = null;
    this.quality = { local: null, remote: null, forced: null, sent: null, lost: 0, received: 0 };
    this.acceptSeq = null;
    this.everConnected = false;
  }

  /**
   * Agent: asks the visitor for `media`. `localStream` is the agent's camera stream, granted
   * before the invite (`callMedia`): without a video track when the agent starts with its camera
   * off (`cameraOff`) or it failed (`cameraError`).
   */
  static invite(options, { localStream, media = { audio: true, video: true }, cameraOff = false, cameraError = null, prompt, lifetimeMs = 60000, locale = "en" }) {
    const call = new Call({ ...options, role: "agent", callId: options.callId || randomId("call") });
    call.localStream = localStream;
    call.media = media;
    call.cameraOff = cameraOff;
    call.cameraError = cameraError;
    call.send("call.invite", {
      prompt: { text: prompt, locale },
      media,
      lifetime_ms: lifetimeMs,
      capabilities: CAPABILITIES,
    });
    call.setState("inviting");
    call.arm("invite", lifetimeMs + INVITE_GRACE_MS, () => call.end({ code: "invite_timeout" }));
    return call;
  }

  /** Visitor: a call.invite arrived; the prompt shows while it is live, judged by our clock. */
  static fromInvite(options, envelope) {
    const call = new Call({ ...options, role: "visitor", callId: envelope.call_id });
    call.inviteBody = envelope.body;
    call.remoteParty = envelope.party_id;
    call.seen.set(envelope.party_id, envelope.seq);
    call.setState("prompting");
    call.send("call.ringing", {});
    call.arm("invite", envelope.body.lifetime_ms || 60000, () => call.end({ code: "invite_timeout" }));
    return call;
  }

  get live() {
    return this.state !== "ended";
  }

  get answered() {
    return ["connecting", "connected"].includes(this.state);
  }

  // ---- actions -------------------------------------------------------------------------

  /** Visitor: the user said yes; the browser is asked for what the invite wants (the permission
   *  prompt). Without a working camera the call goes on with audio (`cameraError`). */
  async accept() {
    if (this.state !== "prompting") return { ok: false };
    this.setState("accepting");
    this.media = this.inviteBody.media || { audio: true, video: true };
    const { stream, cameraError, reason } = await callMedia(this.media, this.getUserMedia);
    if (!stream) {
      if (this.state === "accepting") this.decline(reason);
      return { ok: false, reason };
    }
    if (this.state !== "accepting") {
      stream.getTracks().forEach((t) => t.stop());
      return { ok: false, reason: this.reason };
    }
    this.localStream = stream;
    this.cameraError = cameraError;
    this.clear("invite");
    this.acceptSeq = this.send("call.accept", {
      media: { audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 },
    });
    this.startPeer();
    this.connecting();
    return { ok: true, cameraError };
  }

  /** Visitor: the user said no, or the browser refused the camera (`reason`). */
  decline(reason = { code: "declined" }) {
    if (!["prompting", "accepting"].includes(this.state)) return;
    this.send("call.decline", { reason });
    this.end(reason);
  }

  /** Either side ends the call (an agent before the answer cancels it). */
  hangup(code = "user_hangup") {
    if (!this.live) return;
    if (this.role === "agent" && ["inviting", "ringing"].includes(this.state)) {
      this.send("call.cancel", { reason: { code: "cancelled" } });
      this.end({ code: "cancelled" });
    } else if (this.role === "visitor" && ["prompting", "accepting"].includes(this.state)) {
      this.decline();
    } else {
      this.send("call.hangup", { reason: { code } });
      this.end({ code });
    }
  }

  /** Mute, camera and audio only may change while connecting: they are kept, and the first
   *  call.media (sent once connected) carries them. */
  setAudioMuted(muted) {
    this.audioMuted = muted;
    this.localStream?.getAudioTracks().forEach((t) => (t.enabled = !muted));
    this.sendMedia();
  }

  /** Whether our camera video goes out: a camera track, on, and not audio only. */
  get videoOn() {
    return !this.cameraOff && !this.audioOnly && (this.localStream?.getVideoTracks().length || 0) > 0;
  }

  /**
   * Off disables the camera track (no renegotiation). On leaves audio only and enables the
   * track; with no camera track yet (started without one, or it failed) it asks the browser for
   * the camera and adds the track to the camera stream, which renegotiates. Resolves to
   * `{ok}`, or `{ok: false, reason}` when the camera could not be started: it stays off and the
   * call goes on (`cameraError` says why).
   */
  async setCameraOff(off) {
    this.cameraOff = off;
    if (!off) this.leaveAudioOnly();
    this.localStream?.getVideoTracks().forEach((t) => (t.enabled = !off));
    this.sendMedia();
    if (off || !this.localStream || this.localStream.getVideoTracks().length > 0) return { ok: true };
    this.cameraRequest ||= this.startCamera().finally(() => (this.cameraRequest = null));
    return this.cameraRequest;
  }

  async startCamera() {
    let track;
    try {
      const stream = await this.getUserMedia({ video: true });
      stream.getAudioTracks().forEach((t) => t.stop());
      track = stream.getVideoTracks()[0];
      if (!track) throw new DOMException("no video track", "NotFoundError");
    } catch (error) {
      if (!this.live) return { ok: false };
      this.cameraError = mediaErrorName(error);
      this.cameraOff = true;
      this.sendMedia();
      return { ok: false, reason: { code: "media_permission_denied", device: "camera", error: this.cameraError } };
    }
    if (!this.live || this.localStream.getVideoTracks().length > 0) {
      track.stop();
      return { ok: this.live };
    }
    this.cameraError = null;
    track.enabled = !this.cameraOff;
    // In the camera stream, so the other side sees it under the same stream id (msid).
    this.localStream.addTrack(track);
    this.attachLocalTracks();
    this.sendMedia();
    return { ok: true };
  }

  /** Agent: shares a getDisplayMedia stream; the browser's picker chose screen, window or tab. */
  shareScreen(stream) {
    if (!this.answered || this.screenStream) return;
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    const surface = track.getSettings().displaySurface;
    this.displaySurface = SURFACES.includes(surface) ? surface : "monitor";
    this.screenStream = stream;
    // A transceiver of its own: addTrack could take the agent's video m-line kept for its camera.
    this.screenSender = this.pc.addTransceiver(track, { direction: "sendonly", streams: [stream] }).sender;
    // The browser's own "Stop sharing" ends the track: the share ends the same way.
    track.addEventListener("ended", () => this.stopScreen());
    this.sendMedia();
  }

  stopScreen() {
    if (!this.screenStream) return;
    const stream = this.screenStream;
    this.screenStream = null;
    this.displaySurface = null;
    if (this.pc && this.screenSender && this.pc.signalingState !== "closed") this.pc.removeTrack(this.screenSender);
    this.screenSender = null;
    stream.getTracks().forEach((t) => t.stop());
    this.sendMedia();
  }

  /** Stops our video for a poor connection (the visitor follows the agent's marker); audio
   *  goes on. Turning the camera on leaves it. */
  async switchToAudioOnly() {
    if (this.audioOnly || !this.answered) return;
    this.audioOnly = "quality";
    if (this.videoSender) await this.videoSender.replaceTrack(null);
    this.sendMedia();
  }

  /** Our camera video goes out again (if on); the caller sends call.media. */
  leaveAudioOnly() {
    if (!this.audioOnly) return false;
    this.audioOnly = null;
    const track = this.localStream?.getVideoTracks()[0];
    if (this.videoSender && track) this.videoSender.replaceTrack(track).catch((error) => this.log(`video back: ${error}`));
    return true;
  }

  /** For demos and tests: pretend the local network is this good (null: measure again). */
  overrideQuality(level) {
    this.quality.forced = level;
    this.measureQuality();
  }

  // ---- frames in -----------------------------------------------------------------------

  /** Every call frame for this conversation; frames of other calls are ignored. */
  handleMessage(envelope) {
    if (envelope.call_id !== this.callId || !this.live) return;
    this.inbox = this.inbox.then(() => this.dispatchFrame(envelope)).catch((error) => this.log(`frame ${envelope.type}: ${error}`));
  }

  async dispatchFrame(envelope) {
    if (!this.live) return;
    if (envelope.type === "call.rejected") return this.onRejected(envelope.body);
    const last = this.seen.get(envelope.party_id) || 0;
    if (envelope.seq <= last) return; // a duplicate
    this.seen.set(envelope.party_id, envelope.seq);
    const body = envelope.body || {};
    const fromPeer = this.remoteParty !== null && envelope.party_id === this.remoteParty;
    switch (envelope.type) {
      case "call.ringing":
        if (this.role === "agent" && this.state === "inviting") this.setState("ringing");
        return;
      case "call.accept":
        if (this.role === "agent" && ["inviting", "ringing"].includes(this.state)) return this.onAccept(envelope.party_id);
        return;
      case "call.select_answer":
        if (this.role === "visitor" && body.selected_party_id !== this.partyId) this.end({ code: "answered_elsewhere" });
        return;
      case "call.decline":
        return this.end(body.reason || { code: "declined" });
      case "call.cancel":
        return this.end(body.reason || { code: "cancelled" });
      case "call.hangup":
        return this.end(body.reason || { code: "user_hangup" });
    }
    // Media frames: only from the bound peer, and on the visitor only after consent.
    if (!this.answered || !this.pc || (this.role === "agent" && !fromPeer)) return;
    switch (envelope.type) {
      case "call.description":
        return this.onDescription(body);
      case "call.candidates":
        return this.onCandidates(body.candidates || []);
      case "call.media":
        return this.onRemoteMedia(body);
      case "call.quality":
        this.quality.remote = body.level;
        return this.emit("quality", { local: this.quality.local, remote: this.quality.remote });
    }
  }

  onAccept(visitor) {
    this.remoteParty = visitor;
    this.clear("invite");
    this.send("call.select_answer", { selected_party_id: visitor });
    this.startPeer();
    this.connecting();
  }

  onRejected(body) {
    this.emit("rejected", body);
    // The invite itself refused (busy, feature disabled): there is no call.
    if (this.role === "agent" && body.rejected_seq === 1 && this.state === "inviting") this.end({ code: body.code });
    // Our accept lost to another tab.
    if (this.role === "visitor" && this.acceptSeq !== null && body.rejected_seq === this.acceptSeq) this.end({ code: "answered_elsewhere" });
  }

  async onDescription({ description, negotiation_id: negotiationId }) {
    const pc = this.pc;
    const offerCollision = description.type === "offer" && (this.makingOffer || pc.signalingState !== "stable");
    this.ignoreOffer = this.role === "agent" && offerCollision; // the visitor is polite
    if (this.ignoreOffer) return;
    await pc.setRemoteDescription(description); // a polite collision rolls back implicitly
    for (const candidate of this.remoteCandidates.splice(0)) await this.addRemoteCandidate(candidate);
    if (description.type !== "offer") return;
    this.attachLocalTracks();
    await pc.setLocalDescription();
    this.send("call.description", { description: { type: "answer", sdp: pc.localDescription.sdp }, negotiation_id: negotiationId });
  }

  async onCandidates(candidates) {
    for (const candidate of candidates) {
      if (candidate.candidate === "") this.endMarkers.received += 1;
      if (!this.pc.remoteDescription) this.remoteCandidates.push(candidate);
      else await this.addRemoteCandidate(candidate);
    }
  }

  async addRemoteCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate);
    } catch (error) {
      // Candidates of an offer we ignored, or an end marker a browser does not take.
      if (!this.ignoreOffer && candidate.candidate) this.log(`candidate refused: ${error}`);
    }
  }

  async onRemoteMedia(body) {
    this.remoteMedia = body;
    this.emit("remotemedia", body);
    this.emit("tracks");
    // The visitor follows the agent's audio only for quality as it starts and as it ends, not
    // while it lasts: in between the visitor may turn its camera back on. Another reason (the
    // other side has no camera) is that side's own.
    const audioOnly = body.audio_only?.reason === "quality";
    const was = this.peerAudioOnly;
    this.peerAudioOnly = audioOnly;
    if (this.role !== "visitor" || audioOnly === was) return;
    if (audioOnly) await this.switchToAudioOnly();
    else if (this.leaveAudioOnly()) this.sendMedia();
  }

  // ---- the peer connection --------------------------------------------------------------

  startPeer() {
    const pc = new RTCPeerConnection(this.ice);
    this.pc = pc;
    pc.addEventListener("icecandidate", ({ candidate }) => this.queueCandidate(candidate));
    pc.addEventListener("negotiationneeded", () => this.negotiate());
    pc.addEventListener("track", (event) => this.onTrack(event));
    pc.addEventListener("iceconnectionstatechange", () => this.onIceState());
    pc.addEventListener("connectionstatechange", () => this.onIceState());
    // The agent offers first, right after the accept; the visitor adds its tracks to the
    // offered transceivers when the offer comes, so the first exchange is the only one. An agent
    // without camera video still offers a video m-line for the visitor's camera, which its own
    // camera takes later (addTrack reuses a transceiver that never sent).
    if (this.role === "agent") {
      this.attachLocalTracks();
      if (!this.videoSender && this.media.video) pc.addTransceiver("video", { direction: "recvonly" });
    }
  }

  /** Sends each camera track not sent yet: all at the start, a camera turned on later. The
   *  visitor's wait for the agent's first offer. */
  attachLocalTracks() {
    if (!this.localStream || !this.pc) return;
    if (this.role === "visitor" && !this.pc.remoteDescription) return;
    for (const track of this.localStream.getTracks()) {
      if (track.kind === "audio" && !this.audioSender) this.audioSender = this.pc.addTrack(track, this.localStream);
      if (track.kind === "video" && !this.videoSender) {
        this.videoSender = this.pc.addTrack(track, this.localStream);
        if (this.audioOnly) this.videoSender.replaceTrack(null).catch((error) => this.log(`audio only: ${error}`));
      }
    }
  }

  async negotiate() {
    if (!this.live) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const local = this.pc.localDescription;
      if (local.type !== "offer") return;
      this.send("call.description", { description: { type: "offer", sdp: local.sdp }, negotiation_id: randomId("neg") });
    } catch (error) {
      this.log(`negotiation failed: ${error}`);
    } finally {
      this.makingOffer = false;
    }
  }

  queueCandidate(candidate) {
    if (!this.live) return;
    if (candidate) {
      const init = candidate.toJSON();
      if (init.candidate === "") this.sentEnd = true; // Firefox ends each m-line itself
      this.localCandidates.push(init);
    } else {
      // Gathering is done. Chromium only says so with `null`: write the end marker ourselves.
      if (!this.sentEnd) this.localCandidates.push({ candidate: "", usernameFragment: this.localUfrag() });
      this.sentEnd = false;
    }
    if (!this.timers.has("candidates")) this.arm("candidates", CANDIDATE_BATCH_MS, () => this.flushCandidates());
  }

  flushCandidates() {
    this.endMarkers.sent += this.localCandidates.filter((c) => c.candidate === "").length;
    while (this.localCandidates.length > 0) {
      this.send("call.candidates", { candidates: this.localCandidates.splice(0, MAX_CANDIDATES_PER_FRAME) });
    }
  }

  localUfrag() {
    const match = /a=ice-ufrag:(\S+)/.exec(this.pc?.localDescription?.sdp || "");
    return match ? match[1] : undefined;
  }

  onTrack(event) {
    const stream = event.streams[0] || new MediaStream([event.track]);
    this.remoteStreams.set(stream.id, stream);
    stream.addEventListener("removetrack", () => this.emit("tracks"));
    this.emit("tracks");
  }

  /** The other side's camera or screen stream, as its call.media names them. */
  remoteStream(purpose) {
    const streams = this.remoteMedia?.streams;
    if (streams) {
      for (const [id, state] of Object.entries(streams)) {
        if (state.purpose === purpose && this.remoteStreams.has(id)) return this.remoteStreams.get(id);
      }
      return null;
    }
    // Before the first call.media: the first stream is the camera.
    return purpose === "camera" ? this.remoteStreams.values().next().value || null : null;
  }

  onIceState() {
    if (!this.pc || !this.live) return;
    const ice = this.pc.iceConnectionState;
    // Connected means ICE and DTLS: Firefox reports ICE connected before its DTLS handshake
    // is done, and no media flows until it is.
    if (this.pc.connectionState === "connected") {
      this.clear("restart");
      this.clear("lost");
      if (this.state === "connecting") {
        this.everConnected = true;
        this.clear("connect");
        this.setState("connected");
        // The first call.media, with whatever changed while connecting (mute, camera off).
        this.sendMedia();
        this.arm("quality", QUALITY_EVERY_MS, () => this.measureQuality(), true);
      }
    } else if ((ice === "disconnected" || ice === "failed") && this.everConnected) {
      if (this.role === "agent" && !this.timers.has("restart")) this.arm("restart", ice === "failed" ? 0 : RESTART_AFTER_MS, () => this.restartIce());
      if (!this.timers.has("lost")) this.arm("lost", LOST_AFTER_MS, () => this.hangup("ice_timeout"));
    }
  }

  async restartIce() {
    try {
      this.ice = await this.refreshIce(); // TURN credentials are minted afresh for a restart
      this.pc.setConfiguration(this.ice);
    } catch (error) {
      this.log(`ice refresh failed: ${error}`);
    }
    this.pc.restartIce();
  }

  connecting() {
    this.setState("connecting");
    this.arm("connect", MEDIA_CONNECT_MS, () => this.hangup("ice_failed"));
    // No call.media yet: it waits for our media to connect (see onIceState).
  }

  // ---- media state and quality -----------------------------------------------------------

  mediaState() {
    const streams = {};
    const local = this.localStream;
    if (local) {
      streams[local.id] = {
        purpose: "camera",
        audio_muted: this.audioMuted || local.getAudioTracks().length === 0,
        video_muted: !this.videoOn,
      };
    }
    if (this.screenStream) {
      streams[this.screenStream.id] = { purpose: "screen", audio_muted: true, video_muted: false, display_surface: this.displaySurface };
    }
    const body = { streams };
    if (this.audioOnly) body.audio_only = { reason: this.audioOnly };
    else if (this.cameraError && !isPermissionError(this.cameraError)) body.audio_only = { reason: "camera_unavailable" };
    return body;
  }

  /** Tells the other side our media state, once our media is connected (the relay counts
   *  talk time from the first call.media); before that the state is only kept. */
  sendMedia() {
    if (this.state === "connected") this.send("call.media", this.mediaState());
    this.emit("localmedia", this.mediaState());
  }

  async measureQuality() {
    if (this.state !== "connected") return;
    let rtt = null;
    let lost = 0;
    let received = 0;
    const stats = await this.pc.getStats();
    stats.forEach((report) => {
      if (report.type === "candidate-pair" && (report.nominated || report.selected) && report.currentRoundTripTime !== undefined) rtt = report.currentRoundTripTime;
      if (report.type === "inbound-rtp") {
        lost += report.packetsLost || 0;
        received += report.packetsReceived || 0;
      }
    });
    const newLost = lost - this.quality.lost;
    const newReceived = received - this.quality.received;
    Object.assign(this.quality, { lost, received });
    const lossPct = newLost + newReceived > 0 ? (100 * Math.max(newLost, 0)) / (newLost + newReceived) : 0;
    let level = rtt === null ? "good" : rtt > 0.4 || lossPct > 5 ? "poor" : rtt > 0.15 || lossPct > 1 ? "good" : "excellent";
    if (this.quality.forced) level = this.quality.forced;
    this.quality.local = level;
    if (level !== this.quality.sent) {
      this.quality.sent = level;
      const body = { level, loss_pct: Math.round(lossPct * 10) / 10 };
      if (rtt !== null) body.rtt_ms = Math.round(rtt * 1000);
      this.send("call.quality", body);
    }
    this.emit("quality", { local: this.quality.local, remote: this.quality.remote });
  }

  /** What the browser measures, for the page and the tests. */
  async stats() {
    if (!this.pc) return { connectionState: "new", inbound: [], selected: null };
    const trackPurpose = new Map();
    for (const [id, stream] of this.remoteStreams) {
      const purpose = this.remoteMedia?.streams?.[id]?.purpose || "camera";
      stream.getTracks().forEach((t) => trackPurpose.set(t.id, purpose));
    }
    const reports = await this.pc.getStats();
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
    return { connectionState: this.pc.connectionState, iceConnectionState: this.pc.iceConnectionState, inbound, selected };
  }

  // ---- plumbing ---------------------------------------------------------------------------

  /** Sends one frame of this call; returns its seq. The relay stamps party_id and role. */
  send(type, body) {
    this.seq += 1;
    this.sendFrame({
      type, version: VERSION, conversation_id: this.conversationId, call_id: this.callId,
      party_id: this.partyId, role: this.role, seq: this.seq, body,
    });
    return this.seq;
  }

  end(reason) {
    if (!this.live) return;
    for (const id of this.timers.values()) clearTimeout(id);
    this.timers.clear();
    this.pc?.close();
    this.localStream?.getTracks().forEach((t) => t.stop());
    this.screenStream?.getTracks().forEach((t) => t.stop());
    this.setState("ended", reason);
  }

  setState(state, reason = null) {
    this.state = state;
    if (reason) this.reason = reason;
    this.emit("state", { state, reason: this.reason });
  }

  arm(name, ms, action, repeat = false) {
    this.clear(name);
    const fire = () => {
      if (repeat) this.timers.set(name, setTimeout(fire, ms));
      else this.timers.delete(name);
      Promise.resolve(action()).catch((error) => this.log(`${name}: ${error}`));
    };
    this.timers.set(name, setTimeout(fire, ms));
  }

  clear(name) {
    clearTimeout(this.timers.get(name));
    this.timers.delete(name);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  log(text) {
    this.emit("log", text);
    console.warn(`velaro call ${this.callId}: ${text}`);
  }
}
