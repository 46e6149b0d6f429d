// The call client a chat widget embeds: one per chat page (agent console or visitor widget). It
// holds the current call's machine (`CallMachine`) and carries out its media commands with the
// browser's RTCPeerConnection, getUserMedia and getDisplayMedia, all injectable, as is the clock.
// The page gives it a `send(frame)` (the chat's own connection carries the frames), hands it every
// frame it receives (`receive`), calls its actions, and listens to its typed events. No DOM.
import { CallMachine } from "./machine.js";
import type { Action, CallError, CallEvent, CallSummary, IceState, MediaCommand, MediaEvent, Phase, PromptEnd, QualityAdvice, Timings } from "./machine.js";
import { EndedCalls } from "./ended-calls.js";
import { Emitter } from "./emitter.js";
import { formatResumeCursor } from "./resume.js";
import { summarize } from "./sdp.js";
import {
  AUDIO_ONLY_TEXT,
  QUALITY_POOR_TEXT,
  browserFromUserAgent,
  peerCameraUnavailableText,
  reasonText,
  statusText,
  translate,
} from "./texts.js";
import type { Browser, EndedBy, Texts } from "./texts.js";
import { TOKEN_PATTERN } from "./generated/wire.js";
import type { Device, IceCandidate, MediaBody, MediaError, MediaKinds, Reason, RejectCode, Role, RtcConfiguration } from "./generated/wire.js";
import type { Frame, IncomingFrame } from "./wire.js";

/** The clock the client runs on: monotonic milliseconds and timers (defaults: the page's). */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CallClientOptions {
  role: Role;
  conversationId: string;
  /** This page's party id, as the host's join token names it (the relay stamps the same). */
  partyId: string;
  /** Sends one frame over the chat connection. */
  send(frame: Frame): void;
  /** The ICE configuration for the next peer connection (fresh TURN credentials per call; see
   *  also the `ice` property). */
  ice?: RtcConfiguration;
  /** Fresh ICE configuration before an ICE restart (TURN credentials expire). */
  refreshIce?: () => Promise<RtcConfiguration>;
  /** Makes a peer connection (default: `new RTCPeerConnection(config)`). */
  peerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
  getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
  getDisplayMedia?: (options: DisplayMediaStreamOptions) => Promise<MediaStream>;
  clock?: Clock;
  /** For permission help (default: from `navigator.userAgent`). */
  browser?: Browser;
  /** The host's translation hook (see `Texts`). */
  texts?: Texts;
  timings?: Partial<Timings>;
  /** How often the connection's quality is sampled while connected (default 1000 ms). */
  qualityEveryMs?: number;
}

/** What an invite asks for. */
export interface InviteOptions {
  /** The question the visitor sees. */
  prompt: string;
  locale?: string;
  /** What the visitor is asked for (default audio and video). */
  media?: MediaKinds;
  /** Start with the agent's camera off: only its microphone is asked for. */
  cameraOff?: boolean;
  /** How long the invite rings (10 000 to 600 000 ms; default 60 000). */
  lifetimeMs?: number;
  /** The call's id, when the host makes its ids (default: `call-` and 16 random hex digits). */
  callId?: string;
}

interface Call {
  callId: string;
}

/** The client's events; each carries the call's id. Texts are for people (through `texts`);
 *  codes are for logs. */
export interface CallClientEvents {
  /** Visitor: show the prompt with its text, and Accept / Decline. */
  prompt: Call & { text: string; locale: string | null; media: MediaKinds };
  /** Visitor: the prompt goes away without this tab's answer. */
  "prompt-closed": Call & { why: PromptEnd; text: string };
  /** Agent: the visitor's prompt is on screen. */
  ringing: Call;
  /** Agent: a visitor accepted; connecting. */
  accepted: Call;
  /** The call's phase changed; `text` is its status line ("Reconnecting…"). */
  phase: Call & { phase: Phase; text: string };
  /** Media connected: show the call. */
  connected: Call;
  /** Media stopped flowing; the call is trying to restore it. */
  reconnecting: Call & { text: string };
  reconnected: Call;
  /** Our own media state changed (mute, camera, screen, audio only): for the call's controls. */
  "local-media": Call & { media: MediaBody; audioOnlyText: string | null };
  /** The other side's media state. */
  "remote-media": Call & { media: MediaBody; cameraUnavailableText: string | null };
  /** Remote streams changed: read `remoteStream()` again. */
  tracks: Call;
  /** Agent: quality advice (switch to audio only, or it recovered). */
  quality: Call & { advice: QualityAdvice; text: string };
  /** Our camera could not be used; the call goes on with audio. */
  "camera-unavailable": Call & { error: MediaError; text: string };
  /** A device the call needs failed, or a screen share: how to fix it in this browser. */
  "permission-help": Call & { device: Device; error: MediaError; text: string };
  /** The relay refused one of our frames: for logs, never for people. */
  rejected: Call & { code: RejectCode; detail: string };
  /** The call ended; the chat goes on. */
  ended: Call & { reason: Reason; summary: CallSummary; text: string };
  /** The media layer failed at something (for logs). */
  error: Call & { message: string };
}

const SURFACES = ["monitor", "window", "browser"];

/** The DOMException name of a failed media request, as the protocol carries it: a name that is a
 *  protocol token is kept (the set is open), anything else counts as a device that could not
 *  start. */
export function mediaErrorName(error: unknown): MediaError {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === "string" && TOKEN_PATTERN.test(name) ? name : "AbortError";
}

function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const defaultClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class CallClient extends Emitter<CallClientEvents> {
  readonly role: Role;
  /** The ICE configuration the next peer connection uses. */
  ice: RtcConfiguration;
  #options: CallClientOptions;
  #clock: Clock;
  #browser: Browser;
  #ended = new EndedCalls();
  #machine: CallMachine | null = null;
  #media: BrowserMedia | null = null;
  #draining = false;
  #timer: { at: number; handle: unknown } | null = null;
  #lastPhase: Phase = "idle";
  #lastLocalMedia = "";
  #remote: MediaBody | null = null;

  constructor(options: CallClientOptions) {
    super();
    this.#options = options;
    this.role = options.role;
    this.ice = options.ice ?? {};
    this.#clock = options.clock ?? defaultClock;
    this.#browser = options.browser ?? browserFromUserAgent(globalThis.navigator?.userAgent ?? "");
  }

  // ---- state ------------------------------------------------------------------------------

  /** The current (or last) call's id. */
  get callId(): string | null {
    return this.#machine?.callId ?? null;
  }

  /** The current call's phase; "idle" before the first. */
  get phase(): Phase {
    return this.#machine?.phase ?? "idle";
  }

  /** Whether a call is under way (not ended). */
  get live(): boolean {
    return this.#machine !== null && !this.#machine.isEnded;
  }

  /** What we send, as our `call.media` says it; null before the answer and after the end. */
  get localMedia(): MediaBody | null {
    return this.#machine?.localMedia ?? null;
  }

  /** Whether our microphone is muted (or absent). */
  get muted(): boolean {
    return this.#camera()?.audio_muted ?? false;
  }

  /** Whether our camera's video goes out (on, present, and not audio only). */
  get videoOn(): boolean {
    return this.#camera()?.video_muted === false;
  }

  #camera() {
    return Object.values(this.localMedia?.streams ?? {}).find((stream) => stream.purpose === "camera");
  }

  /** The other side's last media state. */
  get remoteMedia(): MediaBody | null {
    return this.#remote;
  }

  /** The ended call's summary. */
  get summary(): CallSummary | null {
    return this.#machine?.summary ?? null;
  }

  /** Our camera stream (camera and microphone tracks), once granted. */
  get localStream(): MediaStream | null {
    return this.#media?.localStream ?? null;
  }

  /** The other side's camera or screen stream, as its `call.media` names them. */
  remoteStream(purpose: "camera" | "screen"): MediaStream | null {
    return this.#media?.remoteStream(purpose, this.#remote) ?? null;
  }

  /** What a reconnecting chat connection tells the relay (RESUME.md): the live call's cursor, or
   *  "" when there is none (the relay then replays everything it holds, and the ended calls
   *  this client remembers keep old invites from ringing). */
  resumeCursor(): string {
    return this.live && this.#machine ? formatResumeCursor(this.#machine.lastSeen()) : "";
  }

  // ---- actions ----------------------------------------------------------------------------

  /** Agent: asks for its own camera and microphone, then invites the visitor. */
  invite(options: InviteOptions): CallError | undefined {
    if (this.role !== "agent") return { kind: "not_allowed", input: "invite" };
    if (this.live) return { kind: "wrong_phase", input: "invite", phase: this.phase };
    const machine = CallMachine.agent(this.#config(), options.callId ?? randomId("call"), this.#clock.now());
    this.#adopt(machine);
    const prompt = options.locale ? { text: options.prompt, locale: options.locale } : { text: options.prompt };
    const action: Action = { type: "invite", prompt, media: options.media ?? { audio: true, video: true }, camera_off: options.cameraOff ?? false };
    if (options.lifetimeMs !== undefined) action.lifetime_ms = options.lifetimeMs;
    return this.#act(action);
  }

  /** Visitor: the user said yes; the browser asks for the camera and microphone. */
  accept(): CallError | undefined {
    return this.#act({ type: "accept" });
  }

  /** Visitor: the user said no. */
  decline(): CallError | undefined {
    return this.#act({ type: "decline" });
  }

  /** Agent: withdraws the invite before the answer. */
  cancel(): CallError | undefined {
    return this.#act({ type: "cancel" });
  }

  /** Ends the call (before the answer: cancels or declines it). The chat goes on. */
  hangup(): CallError | undefined {
    return this.#act({ type: "hangup" });
  }

  setMicrophoneMuted(muted: boolean): CallError | undefined {
    return this.#act({ type: "set_microphone_muted", muted });
  }

  /** Off stops our video; on leaves audio only, and asks for a camera the call has not got. */
  setCameraOff(off: boolean): CallError | undefined {
    return this.#act({ type: "set_camera_off", off });
  }

  /** Agent: the browser's picker chooses a screen, window or tab. */
  shareScreen(): CallError | undefined {
    return this.#act({ type: "start_screen_share" });
  }

  stopScreenShare(): CallError | undefined {
    return this.#act({ type: "stop_screen_share" });
  }

  /** Agent: video stops on both sides (the visitor follows) until a camera is turned on. */
  switchToAudioOnly(): CallError | undefined {
    return this.#act({ type: "switch_to_audio_only", reason: "quality" });
  }

  /** Every call frame the chat connection delivers (frames of other types are ignored). */
  receive(frame: IncomingFrame): void {
    if (typeof frame?.type !== "string" || !frame.type.startsWith("call.")) return;
    const machine = this.#machine;
    if (machine && frame.call_id === machine.callId) {
      machine.handleMessage(this.#clock.now(), frame);
      this.#drain();
      return;
    }
    // A visitor with no live call rings for an invite, unless its call already ended.
    if (this.role === "visitor" && !this.live && this.#ended.startsACall(frame)) {
      const call = CallMachine.visitor(this.#config(), frame, this.#clock.now());
      if (!(call instanceof CallMachine)) return;
      const ice = (frame.body as { ice?: RtcConfiguration | null } | undefined)?.ice;
      if (ice) this.ice = ice; // the relay may inject fresh TURN credentials into the invite
      this.#adopt(call);
      this.#drain();
    }
  }

  // ---- driving the machine ----------------------------------------------------------------

  #config() {
    return { conversation_id: this.#options.conversationId, party_id: this.#options.partyId, browser: this.#browser, timings: this.#options.timings ?? {} };
  }

  #adopt(machine: CallMachine): void {
    const callId = machine.callId;
    this.#media?.close();
    this.#machine = machine;
    this.#remote = null;
    this.#lastLocalMedia = "";
    this.#media = new BrowserMedia(
      {
        role: this.role,
        feed: (event) => this.#feed(callId, event),
        tracks: () => this.emit("tracks", { callId }),
        error: (message) => this.emit("error", { callId, message }),
        ice: () => this.ice as RTCConfiguration,
      },
      {
        peerConnection: this.#options.peerConnection ?? ((config) => new RTCPeerConnection(config)),
        getUserMedia: this.#options.getUserMedia ?? ((constraints) => navigator.mediaDevices.getUserMedia(constraints)),
        getDisplayMedia: this.#options.getDisplayMedia ?? ((options) => navigator.mediaDevices.getDisplayMedia(options)),
        refreshIce: this.#options.refreshIce ?? (async () => this.ice),
        clock: this.#clock,
        qualityEveryMs: this.#options.qualityEveryMs ?? 1000,
      },
    );
  }

  #act(action: Action): CallError | undefined {
    if (!this.#machine) return { kind: "wrong_phase", input: action.type, phase: "idle" };
    const error = this.#machine.handleAction(this.#clock.now(), action);
    this.#drain();
    return error;
  }

  /** A fact of the media layer of call `callId` (ignored once another call replaced it). */
  #feed(callId: string, event: MediaEvent): void {
    if (this.#machine?.callId !== callId) return;
    this.#machine.handleMedia(this.#clock.now(), event);
    this.#drain();
  }

  #drain(): void {
    if (this.#draining || !this.#machine || !this.#media) return;
    this.#draining = true;
    const machine = this.#machine;
    const media = this.#media;
    try {
      for (let output = machine.pollOutput(); output; output = machine.pollOutput()) {
        if ("send" in output) this.#options.send(output.send);
        else if ("media" in output) media.command(output.media);
        else this.#onEvent(machine, output.event);
      }
    } finally {
      this.#draining = false;
    }
    this.#afterDrain(machine);
  }

  #afterDrain(machine: CallMachine): void {
    if (machine !== this.#machine) return;
    const callId = machine.callId;
    const phase = machine.phase;
    if (phase !== this.#lastPhase) {
      this.#lastPhase = phase;
      this.emit("phase", { callId, phase, text: translate(this.#options.texts, `status.${phase}`, { role: this.role }, statusText(phase)) });
    }
    const local = machine.localMedia;
    const localJson = local ? JSON.stringify(local) : "";
    if (local && localJson !== this.#lastLocalMedia) {
      const audioOnly = local.audio_only?.reason === "quality" ? translate(this.#options.texts, "audio_only.quality", {}, AUDIO_ONLY_TEXT) : null;
      this.emit("local-media", { callId, media: local, audioOnlyText: audioOnly });
    }
    this.#lastLocalMedia = localJson;
    this.#schedule(machine);
  }

  /** One timer for the machine's next deadline. */
  #schedule(machine: CallMachine): void {
    const at = machine.pollTimeout();
    if (this.#timer && this.#timer.at === at) return;
    if (this.#timer) this.#clock.clearTimeout(this.#timer.handle);
    this.#timer = null;
    if (at === null) return;
    const handle = this.#clock.setTimeout(() => {
      this.#timer = null;
      if (machine !== this.#machine) return;
      machine.handleTimeout(Math.max(this.#clock.now(), at));
      this.#drain();
    }, Math.max(0, at - this.#clock.now()));
    this.#timer = { at, handle };
  }

  #onEvent(machine: CallMachine, event: CallEvent): void {
    const callId = machine.callId;
    const texts = this.#options.texts;
    const peer: Role = this.role === "agent" ? "visitor" : "agent";
    switch (event.type) {
      case "prompt":
        return this.emit("prompt", { callId, text: event.text, locale: event.locale, media: event.media });
      case "stop_prompting": {
        const text = event.why === "answered_elsewhere" ? reasonText({ code: "answered_elsewhere" }, this.role, null) : "";
        return this.emit("prompt-closed", { callId, why: event.why, text: translate(texts, `prompt.${event.why}`, {}, text) });
      }
      case "ringing":
        return this.emit("ringing", { callId });
      case "accepted":
        return this.emit("accepted", { callId });
      case "opened":
        this.#media?.startQuality();
        return this.emit("connected", { callId });
      case "reconnecting":
        return this.emit("reconnecting", { callId, text: translate(texts, "status.reconnecting", { role: this.role }, statusText("reconnecting")) });
      case "reconnected":
        return this.emit("reconnected", { callId });
      case "remote_media": {
        this.#remote = event.media;
        const unavailable = event.media.audio_only?.reason === "camera_unavailable";
        const text = unavailable ? translate(texts, "camera.peer_unavailable", { peer }, peerCameraUnavailableText(peer)) : null;
        this.emit("remote-media", { callId, media: event.media, cameraUnavailableText: text });
        return this.emit("tracks", { callId });
      }
      case "quality": {
        const text = event.advice === "switch_to_audio_only" ? translate(texts, "quality.poor", {}, QUALITY_POOR_TEXT) : "";
        return this.emit("quality", { callId, advice: event.advice, text });
      }
      case "camera_unavailable":
        return this.emit("camera-unavailable", {
          callId,
          error: event.error,
          text: translate(texts, `media.camera.${event.error}`, { browser: this.#browser }, event.help),
        });
      case "permission_help":
        return this.emit("permission-help", {
          callId,
          device: event.device,
          error: event.error,
          text: translate(texts, `media.${event.device}.${event.error}`, { browser: this.#browser }, event.help),
        });
      case "rejected":
        return this.emit("rejected", { callId, code: event.code, detail: event.detail });
      case "ended": {
        this.#ended.bury(callId);
        const by = event.summary.ended_by;
        const endedBy: EndedBy = by === null ? null : by === this.role ? "you" : "peer";
        const params: Record<string, string> = { role: this.role, who: endedBy ?? "", device: String(event.reason.device ?? ""), error: String(event.reason.error ?? "") };
        const text = translate(texts, `reason.${event.reason.code}`, params, reasonText(event.reason, this.role, endedBy));
        return this.emit("ended", { callId, reason: event.reason, summary: event.summary, text });
      }
    }
  }
}

/** What one call's media layer tells its client. */
interface MediaHost {
  role: Role;
  /** A fact for the call's machine. */
  feed(event: MediaEvent): void;
  /** The remote streams changed. */
  tracks(): void;
  /** Something failed (for logs). */
  error(message: string): void;
  /** The configuration of a new peer connection. */
  ice(): RTCConfiguration;
}

interface MediaDeps {
  peerConnection: (config: RTCConfiguration) => RTCPeerConnection;
  getUserMedia: (constraints: MediaStreamConstraints) => Promise<MediaStream>;
  getDisplayMedia: (options: DisplayMediaStreamOptions) => Promise<MediaStream>;
  refreshIce: () => Promise<RtcConfiguration>;
  clock: Clock;
  qualityEveryMs: number;
}

/** One call's media layer: carries out the machine's commands on the browser's objects and
 *  reports what they do. Peer connection operations run one at a time, in command order. */
class BrowserMedia {
  pc: RTCPeerConnection | null = null;
  localStream: MediaStream | null = null;
  #audioSender: RTCRtpSender | null = null;
  #videoSender: RTCRtpSender | null = null;
  #videoSending = true;
  #screenStream: MediaStream | null = null;
  #screenSender: RTCRtpSender | null = null;
  #remoteStreams = new Map<string, MediaStream>();
  #ops: Promise<void> = Promise.resolve();
  #closed = false;
  #iceState: IceState | null = null;
  /** Local candidates wait while a local description is being made: the machine takes them only
   *  after it, and a new generation's must not join the old one's. */
  #describing = 0;
  #heldCandidates: (IceCandidate | null)[] = [];
  #localUfrag: string | null = null;
  #endedUfrag: string | null = null;
  #quality: { handle: unknown; lost: number; received: number } | null = null;

  #host: MediaHost;
  #deps: MediaDeps;

  constructor(host: MediaHost, deps: MediaDeps) {
    this.#host = host;
    this.#deps = deps;
  }

  command(command: MediaCommand): void {
    if (this.#closed) return;
    switch (command.type) {
      case "request_user_media":
        return this.#requestUserMedia(command.media);
      case "request_screen_capture":
        return this.#requestScreen();
      case "stop_screen_capture":
        return this.#stopScreen();
      case "set_track_enabled":
        return this.#setEnabled(command.kind, command.enabled);
      case "create_offer":
        return this.#describe(async (pc) => {
          if (command.ice_restart) {
            try {
              pc.setConfiguration((await this.#deps.refreshIce()) as RTCConfiguration);
            } catch (error) {
              this.#fail(`ice refresh: ${error}`);
            }
          }
          return pc.createOffer(command.ice_restart ? { iceRestart: true } : undefined);
        });
      case "create_answer":
        return this.#describe((pc) => pc.createAnswer());
      case "rollback":
        return this.#op(async (pc) => {
          // Nothing to roll back when our offer was never made.
          if (pc.signalingState === "have-local-offer") await pc.setLocalDescription({ type: "rollback" });
        });
      case "apply_remote_description":
        return this.#op(async (pc) => {
          await pc.setRemoteDescription(command.description);
          // The visitor's tracks take the offered transceivers, so its answer carries them.
          if (command.description.type === "offer") this.#attachTracks(pc);
        });
      case "add_remote_candidate":
        return this.#op(async (pc) => {
          try {
            await pc.addIceCandidate(command.candidate);
          } catch (error) {
            // An end marker a browser does not take, or a candidate of a stale generation.
            if (command.candidate.candidate !== "") this.#fail(`remote candidate: ${error}`);
          }
        });
      case "close":
        return this.close();
    }
  }

  remoteStream(purpose: "camera" | "screen", media: MediaBody | null): MediaStream | null {
    const streams = media?.streams;
    if (streams) {
      for (const [id, state] of Object.entries(streams)) {
        if (state.purpose === purpose && this.#remoteStreams.has(id)) return this.#remoteStreams.get(id)!;
      }
      return null;
    }
    // Before the first call.media: the first stream is the camera.
    return purpose === "camera" ? (this.#remoteStreams.values().next().value ?? null) : null;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#quality) this.#deps.clock.clearTimeout(this.#quality.handle);
    this.#quality = null;
    this.pc?.close();
    this.localStream?.getTracks().forEach((track) => track.stop());
    this.#screenStream?.getTracks().forEach((track) => track.stop());
  }

  /** Samples the connection while the call lasts (from the first time media connects). */
  startQuality(): void {
    if (this.#quality || this.#closed) return;
    const tick = () => {
      if (this.#closed || !this.#quality) return;
      this.#quality.handle = this.#deps.clock.setTimeout(tick, this.#deps.qualityEveryMs);
      void this.#sample();
    };
    this.#quality = { handle: this.#deps.clock.setTimeout(tick, this.#deps.qualityEveryMs), lost: 0, received: 0 };
  }

  async #sample(): Promise<void> {
    const pc = this.pc;
    const quality = this.#quality;
    if (!pc || !quality) return;
    let rtt: number | null = null;
    let lost = 0;
    let received = 0;
    try {
      const stats = await pc.getStats();
      stats.forEach((report) => {
        if (report.type === "candidate-pair" && (report.nominated || report.selected) && typeof report.currentRoundTripTime === "number") {
          rtt = report.currentRoundTripTime;
        }
        if (report.type === "inbound-rtp") {
          lost += report.packetsLost ?? 0;
          received += report.packetsReceived ?? 0;
        }
      });
    } catch (error) {
      return this.#fail(`stats: ${error}`);
    }
    const newLost = Math.max(0, lost - quality.lost);
    const newReceived = Math.max(0, received - quality.received);
    quality.lost = lost;
    quality.received = received;
    if (rtt === null || this.#closed) return; // nothing measured yet
    const lossPct = newLost + newReceived > 0 ? Math.round((1000 * newLost) / (newLost + newReceived)) / 10 : 0;
    this.#host.feed({ type: "quality_sample", rtt_ms: Math.round((rtt as number) * 1000), loss_pct: lossPct });
  }

  // ---- devices ----------------------------------------------------------------------------

  #requestUserMedia(kinds: MediaKinds): void {
    const constraints: MediaStreamConstraints = {};
    if (kinds.audio) constraints.audio = true;
    if (kinds.video) constraints.video = true;
    // A failed request for both is the camera's: the machine asks for the microphone alone next.
    const device: Device = kinds.video ? "camera" : "microphone";
    const denied = (error: unknown) => this.#host.feed({ type: "permission_denied", device, error: mediaErrorName(error) });
    let request: Promise<MediaStream>;
    try {
      request = this.#deps.getUserMedia(constraints);
    } catch (error) {
      return denied(error);
    }
    request.then((stream) => {
      if (this.#closed) return stream.getTracks().forEach((track) => track.stop());
      if (this.localStream && !kinds.audio) {
        // A camera asked for mid-call joins the camera stream, under the same stream id.
        stream.getAudioTracks().forEach((track) => track.stop());
        const track = stream.getVideoTracks()[0];
        if (!track) return denied({ name: "NotFoundError" });
        this.localStream.addTrack(track);
        this.#videoSending = true;
        if (this.pc) this.#attachTracks(this.pc);
        return this.#host.feed({ type: "permission_granted", media: { audio: false, video: true }, stream_id: this.localStream.id });
      }
      this.localStream = stream;
      const media = { audio: stream.getAudioTracks().length > 0, video: stream.getVideoTracks().length > 0 };
      this.#host.feed({ type: "permission_granted", media, stream_id: stream.id });
    }, denied);
  }

  #requestScreen(): void {
    const denied = (error: unknown) => this.#host.feed({ type: "permission_denied", device: "screen", error: mediaErrorName(error) });
    let request: Promise<MediaStream>;
    try {
      request = this.#deps.getDisplayMedia({ video: true, audio: false });
    } catch (error) {
      return denied(error);
    }
    request.then((stream) => {
      const track = stream.getVideoTracks()[0];
      if (this.#closed || !track) {
        stream.getTracks().forEach((t) => t.stop());
        return this.#closed ? undefined : denied({ name: "NotFoundError" });
      }
      const surface = (track.getSettings() as { displaySurface?: string }).displaySurface;
      this.#screenStream = stream;
      // A transceiver of its own: addTrack could take the video m-line kept for the camera.
      const pc = this.#peer();
      this.#screenSender = pc.addTransceiver(track, { direction: "sendonly", streams: [stream] }).sender;
      // The browser's own "Stop sharing" ends the track: the share ends the same way.
      track.addEventListener("ended", () => {
        if (this.#screenStream !== stream) return;
        this.#removeScreen();
        this.#host.feed({ type: "screen_share_ended" });
      });
      const reported = surface && SURFACES.includes(surface) ? surface : "monitor";
      this.#host.feed({ type: "screen_share_started", stream_id: stream.id, surface: reported });
    }, denied);
  }

  #stopScreen(): void {
    this.#removeScreen();
  }

  #removeScreen(): void {
    const stream = this.#screenStream;
    this.#screenStream = null;
    if (this.pc && this.#screenSender && this.pc.signalingState !== "closed") this.pc.removeTrack(this.#screenSender);
    this.#screenSender = null;
    stream?.getTracks().forEach((track) => track.stop());
  }

  #setEnabled(kind: "audio" | "video", enabled: boolean): void {
    const tracks = kind === "audio" ? this.localStream?.getAudioTracks() : this.localStream?.getVideoTracks();
    tracks?.forEach((track) => (track.enabled = enabled));
    if (kind !== "video") return;
    this.#videoSending = enabled;
    // Off sends nothing at all (a disabled track would still send black frames).
    const sender = this.#videoSender;
    const track = this.localStream?.getVideoTracks()[0] ?? null;
    if (sender) sender.replaceTrack(enabled ? track : null).catch((error) => this.#fail(`video ${enabled ? "on" : "off"}: ${error}`));
  }

  // ---- the peer connection ----------------------------------------------------------------

  /** The peer connection, made at its first use: no connection before consent. */
  #peer(): RTCPeerConnection {
    if (this.pc) return this.pc;
    const pc = this.#deps.peerConnection(this.#host.ice());
    this.pc = pc;
    pc.addEventListener("icecandidate", (event) => this.#onCandidate((event as RTCPeerConnectionIceEvent).candidate));
    pc.addEventListener("track", (event) => this.#onTrack(event as RTCTrackEvent));
    pc.addEventListener("iceconnectionstatechange", () => this.#onIceState());
    pc.addEventListener("connectionstatechange", () => this.#onIceState());
    // The agent offers first, with its tracks; an agent without camera video still offers a
    // video m-line for the visitor's camera (its own camera may take it later).
    if (this.#host.role === "agent") this.#attachTracks(pc, true);
    return pc;
  }

  /** Sends each local track not sent yet. The visitor's wait for the agent's offer. */
  #attachTracks(pc: RTCPeerConnection, first = false): void {
    const stream = this.localStream;
    if (!stream || (this.#host.role === "visitor" && !pc.remoteDescription)) return;
    for (const track of stream.getTracks()) {
      if (track.kind === "audio" && !this.#audioSender) this.#audioSender = pc.addTrack(track, stream);
      if (track.kind === "video" && !this.#videoSender) {
        this.#videoSender = pc.addTrack(track, stream);
        if (!this.#videoSending) this.#videoSender.replaceTrack(null).catch((error) => this.#fail(`video off: ${error}`));
      }
    }
    if (first && !this.#videoSender) pc.addTransceiver("video", { direction: "recvonly" });
  }

  /** Runs a peer connection operation after the ones before it. */
  #op(run: (pc: RTCPeerConnection) => Promise<void>): void {
    this.#ops = this.#ops.then(async () => {
      if (this.#closed) return;
      try {
        await run(this.#peer());
      } catch (error) {
        if (!this.#closed) this.#fail(String(error));
      }
    });
  }

  /** Makes and applies an offer or answer, then tells the machine. */
  #describe(make: (pc: RTCPeerConnection) => Promise<RTCSessionDescriptionInit>): void {
    this.#describing += 1;
    this.#op(async (pc) => {
      try {
        const description = await make(pc);
        await pc.setLocalDescription(description);
        const local = pc.localDescription;
        if (this.#closed || !local || (local.type !== "offer" && local.type !== "answer")) return;
        this.#localUfrag = summarize(local.sdp).iceUfrag;
        this.#host.feed({ type: "local_description", description: { type: local.type, sdp: local.sdp } });
      } finally {
        this.#describing -= 1;
        if (this.#describing === 0) for (const candidate of this.#heldCandidates.splice(0)) this.#onCandidate(candidate);
      }
    });
  }

  #onCandidate(candidate: RTCIceCandidate | IceCandidate | null): void {
    if (this.#closed) return;
    const init = candidate && "toJSON" in candidate ? (candidate.toJSON() as IceCandidate) : (candidate as IceCandidate | null);
    if (this.#describing > 0) {
      this.#heldCandidates.push(init);
      return;
    }
    if (init && init.candidate !== "") {
      this.#host.feed({ type: "local_candidate", candidate: init });
      return;
    }
    // The end of this generation: Firefox says so with `candidate: ""` and `null`, Chromium only
    // with `null`; the machine writes one marker.
    if (this.#endedUfrag === this.#localUfrag) return;
    this.#endedUfrag = this.#localUfrag;
    this.#host.feed({ type: "gathering_complete" });
  }

  #onTrack(event: RTCTrackEvent): void {
    const stream = event.streams[0] ?? new MediaStream([event.track]);
    this.#remoteStreams.set(stream.id, stream);
    stream.addEventListener("removetrack", () => this.#host.tracks());
    this.#host.tracks();
  }

  /** Connected means ICE and DTLS: Firefox reports ICE connected before its DTLS handshake is
   *  done, and no media flows until it is. */
  #onIceState(): void {
    const pc = this.pc;
    if (!pc || this.#closed) return;
    const ice = pc.iceConnectionState;
    const connection = pc.connectionState ?? (ice === "connected" || ice === "completed" ? "connected" : "connecting");
    const state: IceState =
      ice === "failed" || connection === "failed"
        ? "failed"
        : ice === "disconnected" || connection === "disconnected"
          ? "disconnected"
          : connection === "connected"
            ? "connected"
            : "checking";
    if (state === this.#iceState) return;
    this.#iceState = state;
    this.#host.feed({ type: "ice", state });
  }

  #fail(message: string): void {
    this.#host.error(message);
  }
}
