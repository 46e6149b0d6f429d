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
// sends no offer, answer or candidate before its user accepted and the browser granted the
// camera; perfect negotiation with the visitor polite; candidates batched, buffered until
// their description is applied, and ended with `candidate: ""`; media must connect within
// 30 s of the accept; `call.media` is sent only once this party's media is connected (the
// relay counts talk time from the first one), and the first carries whatever changed while
// connecting; after 2 s disconnected the agent restarts ICE with fresh credentials, after 30 s
// the call ends `ice_timeout`. Ending a call never ends the chat. A visitor's page keeps an
// `EndedCalls` for the frames that come while it has no call, so that an invite overtaken by
// its own hangup or cancel never rings.
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

/** Which device a failed getUserMedia names, and the DOMException name (for the reason). */
export async function deniedDevice(error, wanted) {
  let device = wanted.video ? "camera" : "microphone";
  if (error && error.name === "NotFoundError" && navigator.mediaDevices.enumerateDevices) {
    const kinds = (await navigator.mediaDevices.enumerateDevices()).map((d) => d.kind);
    if (wanted.video && kinds.includes("videoinput")) device = "microphone";
  }
  const known = ["NotAllowedError", "NotFoundError", "NotReadableError", "OverconstrainedError", "AbortError"];
  const name = error && known.includes(error.name) ? error.name : "NotAllowedError";
  return { code: "media_permission_denied", device, error: name };
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
   * options: { role, conversationId, partyId, callId, send, ice, refreshIce }
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
    this.cameraOff = false;
    this.audioOnly = null;
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

  /** Agent: asks the visitor. `localStream` is the agent's camera, granted before the invite. */
  static invite(options, { localStream, prompt, lifetimeMs = 60000, locale = "en" }) {
    const call = new Call({ ...options, role: "agent", callId: options.callId || randomId("call") });
    call.localStream = localStream;
    call.send("call.invite", {
      prompt: { text: prompt, locale },
      media: { audio: localStream.getAudioTracks().length > 0, video: localStream.getVideoTracks().length > 0 },
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

  /** Visitor: the user said yes. `getMedia()` asks the browser (the permission prompt). */
  async accept(getMedia) {
    if (this.state !== "prompting") return { ok: false };
    this.setState("accepting");
    let stream;
    try {
      stream = await getMedia();
    } catch (error) {
      const reason = await deniedDevice(error, this.inviteBody.media || { audio: true, video: true });
      if (this.state === "accepting") this.decline(reason);
      return { ok: false, reason };
    }
    if (this.state !== "accepting") {
      stream.getTracks().forEach((t) => t.stop());
      return { ok: false, reason: this.reason };
    }
    this.localStream = stream;
    this.clear("invite");
    this.acceptSeq = this.send("call.accept", {
      media: { audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 },
    });
    this.startPeer();
    this.connecting();
    return { ok: true };
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

  setCameraOff(off) {
    this.cameraOff = off;
    this.localStream?.getVideoTracks().forEach((t) => (t.enabled = !off));
    this.sendMedia();
  }

  /** Agent: shares a getDisplayMedia stream; the browser's picker chose screen, window or tab. */
  shareScreen(stream) {
    if (!this.answered || this.screenStream) return;
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    const surface = track.getSettings().displaySurface;
    this.displaySurface = SURFACES.includes(surface) ? surface : "monitor";
    this.screenStream = stream;
    this.screenSender = this.pc.addTrack(track, stream);
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

  /** Stops video both ways (the other side follows the marker); audio goes on. */
  async switchToAudioOnly(reason = "quality") {
    if (this.audioOnly || !this.answered) return;
    this.audioOnly = reason;
    if (this.videoSender) await this.videoSender.replaceTrack(null);
    this.sendMedia();
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
    if (body.audio_only && !this.audioOnly) await this.switchToAudioOnly(body.audio_only.reason);
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
    // offered transceivers when the offer comes, so the first exchange is the only one.
    if (this.role === "agent") this.attachLocalTracks();
  }

  attachLocalTracks() {
    if (!this.localStream || this.videoSender || this.audioSender) return;
    for (const track of this.localStream.getTracks()) {
      const sender = this.pc.addTrack(track, this.localStream);
      if (track.kind === "video") this.videoSender = sender;
      else this.audioSender = sender;
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
        video_muted: this.cameraOff || this.audioOnly !== null || local.getVideoTracks().length === 0,
      };
    }
    if (this.screenStream) {
      streams[this.screenStream.id] = { purpose: "screen", audio_muted: true, video_muted: false, display_surface: this.displaySurface };
    }
    const body = { streams };
    if (this.audioOnly) body.audio_only = { reason: this.audioOnly };
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
