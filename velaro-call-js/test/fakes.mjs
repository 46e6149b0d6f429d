// Fakes of what a page gives the client: a clock, media streams and tracks, devices and a peer
// connection. The peer connection does what a test tells it: its offers and answers wait until the
// test gives them (`resolveDescription`), and it records every call made on it.

/** A clock whose time moves only when told. */
export class FakeClock {
  time = 0;
  #next = 1;
  #timers = new Map();

  now() {
    return this.time;
  }

  setTimeout(callback, ms) {
    const id = this.#next++;
    this.#timers.set(id, { at: this.time + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(id) {
    this.#timers.delete(id);
  }

  /** Moves to `time`, firing every timer due on the way, in deadline order. */
  async advanceTo(time) {
    for (;;) {
      let due = null;
      for (const [id, timer] of this.#timers) {
        if (timer.at <= time && (due === null || timer.at < due[1].at)) due = [id, timer];
      }
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
      await settle();
    }
    this.time = Math.max(this.time, time);
    await settle();
  }

  advance(ms) {
    return this.advanceTo(this.time + ms);
  }

  get pending() {
    return [...this.#timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }
}

/** Lets every promise callback queued so far run (and those they queue). */
export async function settle() {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

let ids = 0;

/** Device requests and track switches, in the order they happened (reset it between uses). */
export const deviceLog = [];

export class FakeTrack extends EventTarget {
  #enabled = true;
  /** Every change of `enabled`, for tests that follow what the client did to the track. */
  changes = [];
  constructor(kind, settings = {}) {
    super();
    this.kind = kind;
    this.id = `${kind}-${++ids}`;
    this.stopped = false;
    this.settings = settings;
  }
  get enabled() {
    return this.#enabled;
  }
  set enabled(value) {
    this.#enabled = value;
    this.changes.push(value);
    deviceLog.push({ type: "set_track_enabled", kind: this.kind, enabled: value });
  }
  getSettings() {
    return this.settings;
  }
  stop() {
    this.stopped = true;
  }
  /** The browser ended it (its own "Stop sharing" button). */
  end() {
    this.stopped = true;
    this.dispatchEvent(new Event("ended"));
  }
}

export class FakeStream extends EventTarget {
  constructor(id, tracks) {
    super();
    this.id = id;
    this.tracks = [...tracks];
  }
  getTracks() {
    return [...this.tracks];
  }
  getAudioTracks() {
    return this.tracks.filter((t) => t.kind === "audio");
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === "video");
  }
  addTrack(track) {
    this.tracks.push(track);
  }
}

/** A DOMException-like error. */
export const domError = (name) => Object.assign(new Error(`test: ${name}`), { name });

/** getUserMedia / getDisplayMedia whose answers the test gives, one request at a time. */
export class FakeDevices {
  requests = [];
  #waiting = [];

  getUserMedia = (constraints) => this.#request({ kind: "user", constraints });
  getDisplayMedia = (options) => this.#request({ kind: "display", constraints: options });

  #request(request) {
    this.requests.push(request);
    const { audio, video } = request.constraints ?? {};
    deviceLog.push(request.kind === "display" ? { type: "request_screen_capture" } : { type: "request_user_media", media: { audio: Boolean(audio), video: Boolean(video) } });
    return new Promise((resolve, reject) => this.#waiting.push({ request, resolve, reject }));
  }

  /** The oldest unanswered request. */
  get pending() {
    return this.#waiting[0]?.request ?? null;
  }

  /** Grants the oldest request with a stream of id `streamId` and the tracks it asked for
   *  (`kinds` overrides them). */
  grant(streamId, kinds, settings = {}) {
    const { request, resolve } = this.#take();
    const wanted = kinds ?? { audio: Boolean(request.constraints.audio), video: Boolean(request.constraints.video) };
    const tracks = [];
    if (wanted.audio) tracks.push(new FakeTrack("audio"));
    if (wanted.video) tracks.push(new FakeTrack("video", settings));
    const stream = new FakeStream(streamId, tracks);
    resolve(stream);
    return stream;
  }

  deny(name) {
    this.#take().reject(domError(name));
  }

  #take() {
    const next = this.#waiting.shift();
    if (!next) throw new Error("no media request is waiting");
    return next;
  }
}

class FakeSender {
  constructor(pc, track) {
    this.pc = pc;
    this.track = track;
  }
  async replaceTrack(track) {
    this.pc.log.push({ call: "replaceTrack", kind: this.track?.kind ?? track?.kind, track: track ? "track" : null });
    this.track = track;
  }
}

/** A peer connection that records what is done to it. Its offers and answers wait for the test
 *  (`resolveDescription`), unless `autoDescribe` makes them at once. */
export class FakePeerConnection extends EventTarget {
  static instances = [];
  log = [];
  localDescription = null;
  remoteDescription = null;
  signalingState = "stable";
  iceConnectionState = "new";
  connectionState = "new";
  senders = [];
  transceivers = [];
  stats = new Map();
  #describing = [];

  constructor(config, { autoDescribe = null } = {}) {
    super();
    this.config = config;
    this.autoDescribe = autoDescribe;
    FakePeerConnection.instances.push(this);
  }

  createOffer(options) {
    this.log.push({ call: "createOffer", iceRestart: Boolean(options?.iceRestart) });
    return this.#describe("offer");
  }
  createAnswer() {
    this.log.push({ call: "createAnswer" });
    return this.#describe("answer");
  }
  #describe(type) {
    if (this.autoDescribe) return Promise.resolve({ type, sdp: this.autoDescribe(type) });
    return new Promise((resolve, reject) => this.#describing.push({ type, resolve, reject }));
  }
  /** Gives the offer or answer the client is waiting for. */
  resolveDescription(description) {
    const waiting = this.#describing.shift();
    if (!waiting) throw new Error("no description is being made");
    if (waiting.type !== description.type) throw new Error(`a ${waiting.type} is being made, not an ${description.type}`);
    waiting.resolve(description);
  }
  get describing() {
    return this.#describing.map((d) => d.type);
  }
  async setLocalDescription(description) {
    this.log.push({ call: "setLocalDescription", type: description.type });
    if (description.type === "rollback") {
      this.localDescription = null;
      this.signalingState = "stable";
      return;
    }
    this.localDescription = { type: description.type, sdp: description.sdp };
    this.signalingState = description.type === "offer" ? "have-local-offer" : "stable";
  }
  async setRemoteDescription(description) {
    this.log.push({ call: "setRemoteDescription", description });
    this.remoteDescription = description;
    this.signalingState = description.type === "offer" ? "have-remote-offer" : "stable";
  }
  async addIceCandidate(candidate) {
    this.log.push({ call: "addIceCandidate", candidate });
  }
  addTrack(track, stream) {
    this.log.push({ call: "addTrack", kind: track.kind, stream: stream.id });
    const sender = new FakeSender(this, track);
    this.senders.push(sender);
    return sender;
  }
  addTransceiver(trackOrKind, init) {
    const kind = typeof trackOrKind === "string" ? trackOrKind : trackOrKind.kind;
    this.log.push({ call: "addTransceiver", kind, direction: init?.direction });
    const sender = new FakeSender(this, typeof trackOrKind === "string" ? null : trackOrKind);
    const transceiver = { sender, direction: init?.direction };
    this.transceivers.push(transceiver);
    return transceiver;
  }
  removeTrack(sender) {
    this.log.push({ call: "removeTrack", kind: sender.track?.kind });
  }
  setConfiguration(config) {
    this.log.push({ call: "setConfiguration", config });
    this.config = config;
  }
  getConfiguration() {
    return this.config;
  }
  async getStats() {
    return this.stats;
  }
  close() {
    this.log.push({ call: "close" });
    this.signalingState = "closed";
    this.connectionState = "closed";
  }
  /** A local candidate (or null: gathering done). */
  gather(candidate) {
    const event = new Event("icecandidate");
    event.candidate = candidate === null ? null : { ...candidate, toJSON: () => candidate };
    this.dispatchEvent(event);
  }
  /** The ICE and connection states change. */
  setState(ice, connection) {
    this.iceConnectionState = ice;
    this.connectionState = connection;
    this.dispatchEvent(new Event("iceconnectionstatechange"));
    this.dispatchEvent(new Event("connectionstatechange"));
  }
  /** Stats for the next getStats: a round-trip time and inbound packet totals. */
  setStats({ rttMs, lost, received }) {
    this.stats = new Map([
      ["pair", { type: "candidate-pair", nominated: true, currentRoundTripTime: rttMs / 1000 }],
      ["in", { type: "inbound-rtp", packetsLost: lost, packetsReceived: received }],
    ]);
  }
}
