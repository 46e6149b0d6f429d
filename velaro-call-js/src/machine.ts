// One party's call machine, sans IO: the TypeScript twin of `velaro_call_state::Call`. Time comes
// in as `now` (milliseconds on any monotonic clock); every output is queued for the caller to
// drain with `pollOutput()`: frames to send, commands for the media layer, events for the UI.
// `CallClient` drives it with a browser's RTCPeerConnection; a host with a media layer of its own
// may drive it directly. The conformance traces (traces/*.json, written from the Rust machine)
// hold both to the same outputs for the same inputs.
import { answers, check, summarize } from "./sdp.js";
import type { SdpSummary } from "./sdp.js";
import { LocalCandidates, RemoteCandidates, isEndOfCandidates } from "./candidates.js";
import { Dedupe } from "./dedupe.js";
import { formatResumeCursor } from "./resume.js";
import { QualityMonitor, qualityLevel, qualityRank } from "./quality.js";
import type { QualityAdvice } from "./quality.js";
import { isRefusal, mediaHelp } from "./texts.js";
import type { Browser } from "./texts.js";
import { CAPABILITY_VALUES, DEFAULT_INVITE_LIFETIME_MS, MESSAGE_TYPES, TIMINGS_MS, VERSION } from "./generated/wire.js";
import type {
  AudioOnlyReason,
  BodyByType,
  Device,
  DisplaySurface,
  IceCandidate,
  InviteBody,
  MediaBody,
  MediaError,
  MediaKinds,
  MessageType,
  Prompt,
  QualityLevel,
  Reason,
  RejectCode,
  Role,
  RtcConfiguration,
  SessionDescription,
  StreamState,
} from "./generated/wire.js";
import type { Frame, IncomingFrame } from "./wire.js";

export type { QualityAdvice } from "./quality.js";

/** The phase of a call (`velaro_call_state::Phase`). */
export type Phase =
  | "idle" // agent: nothing happened yet
  | "inviting" // agent: waiting for its own camera and microphone before the invite goes out
  | "ringing" // agent: the invite is out, waiting for an answer
  | "prompting" // visitor: the prompt is on screen
  | "awaiting_permission" // visitor: accepted; waiting for the browser's permission
  | "connecting" // offer, answer and ICE under way
  | "active" // media flows
  | "reconnecting" // the connection dropped; restoring it
  | "ended";

/** What the local user does. */
export type Action =
  | { type: "invite"; prompt: Prompt; media: MediaKinds; ice?: RtcConfiguration | null; camera_off: boolean; lifetime_ms?: number }
  | { type: "cancel" }
  | { type: "accept" }
  | { type: "decline" }
  | { type: "hangup" }
  | { type: "set_microphone_muted"; muted: boolean }
  | { type: "set_camera_off"; off: boolean }
  | { type: "start_screen_share" }
  | { type: "stop_screen_share" }
  | { type: "switch_to_audio_only"; reason: AudioOnlyReason };

/** The ICE connection state as the media layer reports it. */
export type IceState = "checking" | "connected" | "disconnected" | "failed";

/** What the local media layer reports. */
export type MediaEvent =
  | { type: "permission_granted"; media: MediaKinds; stream_id: string }
  | { type: "permission_denied"; device: Device; error: MediaError }
  | { type: "screen_share_started"; stream_id: string; surface: DisplaySurface }
  | { type: "screen_share_ended" }
  | { type: "local_description"; description: SessionDescription }
  | { type: "local_candidate"; candidate: IceCandidate }
  | { type: "gathering_complete" }
  | { type: "negotiation_needed" }
  | { type: "ice"; state: IceState }
  | { type: "quality_sample"; rtt_ms: number; loss_pct: number };

/** A command for the local media layer. */
export type MediaCommand =
  | { type: "request_user_media"; media: MediaKinds }
  | { type: "request_screen_capture" }
  | { type: "stop_screen_capture" }
  | { type: "set_track_enabled"; kind: "audio" | "video"; enabled: boolean }
  | { type: "create_offer"; ice_restart: boolean }
  | { type: "rollback" }
  | { type: "apply_remote_description"; description: SessionDescription }
  | { type: "create_answer" }
  | { type: "add_remote_candidate"; candidate: IceCandidate }
  | { type: "close" };

/** Why a visitor's prompt went away without an answer from this tab. */
export type PromptEnd = "cancelled" | "expired" | "answered_elsewhere";

/** How a call turned out. */
export type Outcome = "answered" | "missed" | "declined" | "cancelled" | "failed";

/** What happened in one call, for the transcript and the UI. */
export interface CallSummary {
  call_id: string;
  outcome: Outcome;
  /** Who ended it, when a party did (not for timeouts). */
  ended_by: Role | null;
  reason: Reason;
  /** From the invite to the answer (or the end, when unanswered). */
  ring_time_ms: number;
  /** From media connecting to the end (zero if it never connected). */
  talk_time_ms: number;
}

/** Something the user should learn. */
export type CallEvent =
  | { type: "prompt"; text: string; locale: string | null; media: MediaKinds }
  | { type: "stop_prompting"; why: PromptEnd }
  | { type: "ringing" }
  | { type: "accepted" }
  | { type: "opened" }
  | { type: "reconnecting" }
  | { type: "reconnected" }
  | { type: "remote_media"; media: MediaBody }
  | { type: "quality"; advice: QualityAdvice }
  | { type: "camera_unavailable"; error: MediaError; help: string }
  | { type: "permission_help"; device: Device; error: MediaError; help: string }
  | { type: "rejected"; code: RejectCode; detail: string }
  | { type: "ended"; reason: Reason; summary: CallSummary };

/** One output, in the order to act on it. */
export type Output = { send: Frame } | { media: MediaCommand } | { event: CallEvent };

/** Why an input was refused; the call is unchanged. */
export type CallError =
  | { kind: "wrong_call" }
  | { kind: "not_allowed"; input: string }
  | { kind: "wrong_phase"; input: string; phase: Phase }
  | { kind: "not_an_invite" }
  | { kind: "invalid_local_description" };

/** The call's timings in milliseconds; the defaults are the crate's. */
export interface Timings {
  /** How long frames taken from the peer wait to be acknowledged to the relay (`call.ack`). */
  ack_delay: number;
  candidate_batch: number;
  ice_connect: number;
  ice_restart_after: number;
  ice_reconnect: number;
}

/** Who this party is. */
export interface CallConfig {
  conversation_id: string;
  party_id: string;
  /** For permission help; "other" when unknown. */
  browser?: Browser;
  timings?: Partial<Timings>;
}

/** The call's timers; numbers, so that the module stays small. */
const enum Timer {
  InviteExpiry,
  CandidateBatch,
  IceConnect,
  IceRestart,
  IceReconnect,
  Ack,
}
/** In this order: two timers due at the same instant fire in it. */
const TIMERS: Timer[] = [Timer.InviteExpiry, Timer.CandidateBatch, Timer.IceConnect, Timer.IceRestart, Timer.IceReconnect, Timer.Ack];

const notAllowed = (input: string): CallError => ({ kind: "not_allowed", input });

const AUDIO_ONLY: MediaKinds = { audio: true, video: false };
const VIDEO_ONLY: MediaKinds = { audio: false, video: true };
const KNOWN_TYPES: readonly string[] = MESSAGE_TYPES;

interface UserMediaRequest {
  asked: MediaKinds;
  /** The camera failed (not refused): the microphone is being asked for alone. */
  cameraFailed: MediaError | null;
}

interface UserMedia {
  stream: string;
  sends: MediaKinds;
  cameraFailed: MediaError | null;
}

type Camera = { kind: "track" } | { kind: "absent" } | { kind: "unavailable"; error: MediaError } | { kind: "requested" };
type Screen = { kind: "off" } | { kind: "requested" } | { kind: "sharing"; stream: string; surface: DisplaySurface };

/** What we send: the state behind `call.media`. */
class LocalMedia {
  micMuted = false;
  cameraOff = false;
  screen: Screen = { kind: "off" };
  audioOnly: AudioOnlyReason | null = null;
  readonly stream: string;
  readonly microphone: boolean;
  camera: Camera;

  constructor(userMedia: UserMedia) {
    this.stream = userMedia.stream;
    this.microphone = userMedia.sends.audio;
    this.camera = userMedia.sends.video
      ? { kind: "track" }
      : userMedia.cameraFailed !== null
        ? { kind: "unavailable", error: userMedia.cameraFailed }
        : { kind: "absent" };
  }

  get sendsVideo(): boolean {
    return this.camera.kind === "track" && !this.cameraOff && this.audioOnly === null;
  }

  body(): MediaBody {
    const streams: Record<string, StreamState> = {
      [this.stream]: { purpose: "camera", audio_muted: this.micMuted || !this.microphone, video_muted: !this.sendsVideo },
    };
    if (this.screen.kind === "sharing") {
      streams[this.screen.stream] = { purpose: "screen", audio_muted: true, video_muted: false, display_surface: this.screen.surface };
    }
    const body: MediaBody = { streams };
    const marker = this.audioOnly ?? (this.camera.kind === "unavailable" ? "camera_unavailable" : null);
    if (marker !== null) body.audio_only = { reason: marker };
    return body;
  }
}

type Signaling =
  | { kind: "stable" }
  | { kind: "creating_offer"; id: string }
  | { kind: "awaiting_answer"; id: string; offer: SdpSummary }
  | { kind: "answering"; id: string };

/** Perfect negotiation: the visitor is polite (rolls its offer back in glare), the agent is not. */
class Negotiation {
  signaling: Signaling = { kind: "stable" };
  offers = 0;
  /** 0 nothing, 1 an offer, 2 an ICE restart: a need only grows. */
  deferred = 0;
  localUfrag: string | null = null;
  readonly localCandidates = new LocalCandidates();
}

type Connection = { kind: "connecting" } | { kind: "active"; connectedAt: number } | { kind: "reconnecting"; connectedAt: number };

interface InCall {
  acceptedAt: number;
  connection: Connection;
  negotiation: Negotiation;
  media: LocalMedia;
  quality: QualityMonitor;
  lastLevel: QualityLevel | null;
  peerMediaSeq: number;
  peerAudioOnly: boolean;
}

type State =
  | { phase: "idle" }
  | { phase: "inviting"; invite: InviteBody; request: UserMediaRequest }
  | { phase: "ringing"; userMedia: UserMedia }
  | { phase: "prompting"; requested: MediaKinds; heldOffer: BodyByType["call.description"] | null }
  | { phase: "awaiting_permission"; heldOffer: BodyByType["call.description"] | null; request: UserMediaRequest }
  | { phase: "in_call"; call: InCall }
  | { phase: "ended"; summary: CallSummary };

const peerOf = (role: Role): Role => (role === "agent" ? "visitor" : "agent");

function outcomeOf(reason: Reason, accepted: boolean): Outcome {
  const code = reason.code;
  if (code === "media_permission_denied" && !accepted) return "declined";
  if (["ice_failed", "ice_timeout", "signaling_lost", "media_permission_denied", "unsupported_version", "protocol_error", "unknown_error"].includes(code)) {
    return "failed";
  }
  if (code === "invite_timeout") return "missed";
  if (code === "declined" || code === "busy") return "declined";
  if (code === "cancelled" || code === "answered_elsewhere" || code === "replaced") return "cancelled";
  return accepted ? "answered" : "cancelled";
}

function promptEnd(reason: Reason): PromptEnd | null {
  switch (reason.code) {
    case "answered_elsewhere":
      return "answered_elsewhere";
    case "invite_timeout":
      return "expired";
    case "cancelled":
    case "replaced":
      return "cancelled";
    default:
      return null;
  }
}

/** One party's call: agent or visitor. */
export class CallMachine {
  readonly role: Role;
  readonly callId: string;
  #config: CallConfig & { browser: Browser; timings: Timings };
  #nextSeq = 1;
  #queue: Output[] = [];
  #state: State;
  #timers = new Map<Timer, number>();
  #dedupe = new Dedupe();
  #remote: string | null = null;
  #remoteCandidates = new RemoteCandidates();
  #remoteLevel: QualityLevel | null = null;
  #startedAt: number;
  /** The seq of the last `call.ack` (0 before the first: no frame has it), to recognise a
   *  notice about it; -1 once the relay refused one (no more for this call). */
  #ackSeq = 0;

  private constructor(role: Role, config: CallConfig, callId: string, now: number, state: State) {
    this.role = role;
    this.callId = callId;
    this.#config = { ...config, browser: config.browser ?? "other", timings: { ...TIMINGS_MS, ...config.timings } };
    this.#state = state;
    this.#startedAt = now;
  }

  /** An agent's call, idle until the `invite` action. */
  static agent(config: CallConfig, callId: string, now: number): CallMachine {
    return new CallMachine("agent", config, callId, now, { phase: "idle" });
  }

  /** A visitor's call, from the invite that just arrived: the prompt shows at once, `ringing`
   *  goes out, and the invite's lifetime starts on this party's own clock. */
  static visitor(config: CallConfig, invite: IncomingFrame, now: number): CallMachine | CallError {
    if (invite.type !== "call.invite") return { kind: "not_an_invite" };
    if (invite.role !== "agent") return notAllowed("call.invite");
    if (invite.conversation_id !== config.conversation_id) return { kind: "wrong_call" };
    const body = invite.body as InviteBody;
    const call = new CallMachine("visitor", config, invite.call_id, now, { phase: "prompting", requested: body.media, heldOffer: null });
    call.#dedupe.firstTime(invite.party_id, invite.seq);
    call.#remote = invite.party_id;
    call.#timers.set(Timer.InviteExpiry, now + body.lifetime_ms);
    call.#event({ type: "prompt", text: body.prompt.text, locale: body.prompt.locale ?? null, media: body.media });
    call.#send("call.ringing", {});
    return call;
  }

  // ---- getters ----------------------------------------------------------------------------

  /** The next output, or undefined when drained. */
  pollOutput(): Output | undefined {
    return this.#queue.shift();
  }

  /** When `handleTimeout` should next be called. */
  pollTimeout(): number | null {
    let next: number | null = null;
    for (const at of this.#timers.values()) if (next === null || at < next) next = at;
    return next;
  }

  get phase(): Phase {
    if (this.#state.phase !== "in_call") return this.#state.phase;
    const connection = this.#state.call.connection.kind;
    return connection === "active" ? "active" : connection;
  }

  get isEnded(): boolean {
    return this.#state.phase === "ended";
  }

  /** The peer: the inviting agent device, or the visitor tab that answered. */
  get remoteParty(): string | null {
    return this.#remote;
  }

  /** What this party sends, as its `call.media` says it, from the answer until the end. */
  get localMedia(): MediaBody | null {
    return this.#state.phase === "in_call" ? this.#state.call.media.body() : null;
  }

  /** The summary, once the call ended. */
  get summary(): CallSummary | null {
    return this.#state.phase === "ended" ? this.#state.summary : null;
  }

  /** The highest seq this call took from each party: what a reconnecting client tells the relay
   *  (see RESUME.md). */
  lastSeen(): [party: string, seq: number][] {
    return this.#dedupe.highest();
  }

  // ---- inputs -----------------------------------------------------------------------------

  /** A frame from the peer (or the relay). */
  handleMessage(now: number, frame: IncomingFrame): CallError | undefined {
    if (frame.conversation_id !== this.#config.conversation_id || frame.call_id !== this.callId) return { kind: "wrong_call" };
    if (this.isEnded) return undefined;
    const body = (frame.body ?? {}) as Record<string, unknown>;
    // Relay notices answer our own frames.
    if (frame.type === "call.rejected") {
      const rejected = body as unknown as BodyByType["call.rejected"];
      // A refused ack is not news for the user (an ack only saves the relay memory); a relay
      // that refuses one (one that predates acks, say) hears no more of them.
      if (rejected.rejected_seq !== this.#ackSeq) this.#onRejected(now, rejected);
      else this.#ackSeq = -1;
      return undefined;
    }
    if (frame.role === this.role) return notAllowed("a message from our own side");
    if (!this.#dedupe.firstTime(frame.party_id, frame.seq)) return undefined;
    // Acknowledged to the relay within `timings.ack_delay`, with whatever else comes meanwhile,
    // so that it can forget what a resume never replays.
    if (!this.#timers.has(Timer.Ack)) this.#timers.set(Timer.Ack, now + this.#config.timings.ack_delay);
    // Once bound, only the bound peer speaks for the call.
    if (this.#remote !== null && this.#remote !== frame.party_id) return undefined;
    const role = this.role;
    const type = frame.type;
    if (role === "agent" && type === "call.ringing") {
      if (this.#state.phase === "ringing") this.#event({ type: "ringing" });
    } else if (role === "agent" && type === "call.accept") {
      this.#onAccept(now, frame.party_id);
    } else if (role === "agent" && type === "call.decline") {
      this.#onDecline(now, (body.reason as Reason | undefined) ?? { code: "declined" });
    } else if (role === "visitor" && type === "call.cancel") {
      this.#end(now, (body.reason as Reason | undefined) ?? { code: "cancelled" }, "agent");
    } else if (role === "visitor" && type === "call.select_answer") {
      if (body.selected_party_id !== this.#config.party_id) this.#end(now, { code: "answered_elsewhere" }, null);
    } else if (type === "call.description") {
      this.#onRemoteDescription(now, body as unknown as BodyByType["call.description"]);
    } else if (type === "call.candidates") {
      for (const candidate of (body.candidates as IceCandidate[] | undefined) ?? []) {
        const ready = this.#remoteCandidates.received(candidate);
        if (ready) this.#media({ type: "add_remote_candidate", candidate: ready });
      }
    } else if (type === "call.media") {
      this.#onRemoteMedia(frame.seq, body as MediaBody);
    } else if (type === "call.quality") {
      this.#remoteLevel = (body.level as QualityLevel | undefined) ?? null;
    } else if (type === "call.hangup") {
      this.#end(now, (body.reason as Reason | undefined) ?? { code: "user_hangup" }, peerOf(role));
    } else if (KNOWN_TYPES.includes(type)) {
      return notAllowed(type);
    }
    // A newer peer's message types are not ours to act on.
    return undefined;
  }

  /** The local user's action. */
  handleAction(now: number, action: Action): CallError | undefined {
    if (this.isEnded) return undefined;
    switch (action.type) {
      case "invite":
        return this.#invite(action);
      case "cancel":
        return this.#cancel(now);
      case "accept":
        return this.#accept();
      case "decline":
        return this.#decline(now);
      case "hangup":
        switch (this.#state.phase) {
          case "inviting":
          case "ringing":
            return this.#cancel(now);
          case "prompting":
          case "awaiting_permission":
            return this.#decline(now);
          case "idle":
            return this.#wrongPhase("hangup");
          default:
            this.#hangUp(now);
            return undefined;
        }
      case "set_microphone_muted": {
        const call = this.#inCall("mute");
        if ("kind" in call) return call;
        call.media.micMuted = action.muted;
        this.#media({ type: "set_track_enabled", kind: "audio", enabled: !action.muted });
        this.#sendMediaState(call);
        return undefined;
      }
      case "set_camera_off": {
        const call = this.#inCall("camera");
        if ("kind" in call) return call;
        this.#setCameraOff(call, action.off);
        return undefined;
      }
      case "start_screen_share": {
        if (this.role !== "agent") return notAllowed("screen share");
        const call = this.#inCall("screen share");
        if ("kind" in call) return call;
        if (call.media.screen.kind !== "off") return this.#wrongPhase("screen share");
        call.media.screen = { kind: "requested" };
        this.#media({ type: "request_screen_capture" });
        return undefined;
      }
      case "stop_screen_share": {
        const call = this.#inCall("stop screen share");
        if ("kind" in call) return call;
        if (call.media.screen.kind !== "sharing") return this.#wrongPhase("stop screen share");
        this.#media({ type: "stop_screen_capture" });
        this.#screenEnded(call);
        return undefined;
      }
      case "switch_to_audio_only": {
        if (this.role !== "agent") return notAllowed("audio only");
        const call = this.#inCall("audio only");
        if ("kind" in call) return call;
        this.#goAudioOnly(call, action.reason);
        return undefined;
      }
    }
  }

  /** A fact from the local media layer. */
  handleMedia(now: number, event: MediaEvent): CallError | undefined {
    if (this.isEnded) return undefined;
    switch (event.type) {
      case "permission_granted":
        return this.#onPermissionGranted(now, event.media, event.stream_id);
      case "permission_denied":
        return this.#onPermissionDenied(now, event.device, event.error);
      case "screen_share_started": {
        const call = this.#inCall("screen share started");
        if ("kind" in call) return call;
        if (call.media.screen.kind !== "requested") return this.#wrongPhase("screen share started");
        call.media.screen = { kind: "sharing", stream: event.stream_id, surface: event.surface };
        this.#sendMediaState(call);
        this.#renegotiate(call, false);
        return undefined;
      }
      case "screen_share_ended":
        if (this.#state.phase === "in_call" && this.#state.call.media.screen.kind === "sharing") this.#screenEnded(this.#state.call);
        return undefined;
      case "local_description":
        return this.#onLocalDescription(event.description);
      case "local_candidate": {
        const call = this.#withIce("local candidate");
        if ("kind" in call) return call;
        if (isEndOfCandidates(event.candidate)) this.#gatheringComplete(call);
        else if (call.negotiation.localCandidates.gathered(event.candidate)) this.#flushCandidates(call);
        else if (!this.#timers.has(Timer.CandidateBatch)) this.#timers.set(Timer.CandidateBatch, now + this.#config.timings.candidate_batch);
        return undefined;
      }
      case "gathering_complete": {
        const call = this.#withIce("gathering complete");
        if ("kind" in call) return call;
        this.#gatheringComplete(call);
        return undefined;
      }
      case "negotiation_needed": {
        const call = this.#inCall("negotiation needed");
        if ("kind" in call) return call;
        this.#renegotiate(call, false);
        return undefined;
      }
      case "ice":
        return this.#onIce(now, event.state);
      case "quality_sample":
        return this.#onQualitySample(event.rtt_ms, event.loss_pct);
    }
  }

  /** Fires every timer due at `now`. */
  handleTimeout(now: number): void {
    for (;;) {
      let due: Timer | null = null;
      for (const timer of TIMERS) {
        const at = this.#timers.get(timer);
        if (at !== undefined && at <= now && (due === null || at < this.#timers.get(due)!)) due = timer;
      }
      if (due === null) return;
      this.#timers.delete(due);
      if (this.isEnded) return;
      switch (due) {
        case Timer.InviteExpiry:
          this.#onInviteExpired(now);
          break;
        case Timer.CandidateBatch:
          if (this.#state.phase === "in_call") this.#flushCandidates(this.#state.call);
          break;
        case Timer.IceConnect:
          if (this.#state.phase === "in_call" && this.#state.call.connection.kind === "connecting") this.#fail(now, { code: "ice_failed" });
          break;
        case Timer.IceRestart:
          this.#onIceRestartDue();
          break;
        case Timer.IceReconnect:
          if (this.#state.phase === "in_call" && this.#state.call.connection.kind === "reconnecting") this.#fail(now, { code: "ice_timeout" });
          break;
        case Timer.Ack:
          if (this.#ackSeq < 0) break;
          this.#ackSeq = this.#nextSeq;
          this.#send("call.ack", { seen: formatResumeCursor(this.#dedupe.highest()) });
          break;
      }
    }
  }


  // ---- before the answer ------------------------------------------------------------------

  #invite(action: Extract<Action, { type: "invite" }>): CallError | undefined {
    if (this.role !== "agent") return notAllowed("invite");
    if (this.#state.phase !== "idle") return this.#wrongPhase("invite");
    const invite: InviteBody = {
      prompt: action.prompt,
      media: action.media,
      lifetime_ms: action.lifetime_ms ?? DEFAULT_INVITE_LIFETIME_MS,
      capabilities: [...CAPABILITY_VALUES],
    };
    if (action.ice) invite.ice = action.ice;
    const own = action.camera_off ? { audio: action.media.audio, video: false } : action.media;
    this.#state = { phase: "inviting", invite, request: { asked: own, cameraFailed: null } };
    this.#media({ type: "request_user_media", media: own });
    return undefined;
  }

  #cancel(now: number): CallError | undefined {
    if (this.role !== "agent") return notAllowed("cancel");
    if (this.#state.phase === "ringing") this.#send("call.cancel", { reason: { code: "cancelled" } });
    else if (this.#state.phase !== "inviting") return this.#wrongPhase("cancel");
    this.#end(now, { code: "cancelled" }, "agent");
    return undefined;
  }

  #accept(): CallError | undefined {
    if (this.role !== "visitor") return notAllowed("accept");
    if (this.#state.phase !== "prompting") return this.#wrongPhase("accept");
    const { requested, heldOffer } = this.#state;
    this.#state = { phase: "awaiting_permission", heldOffer, request: { asked: requested, cameraFailed: null } };
    this.#media({ type: "request_user_media", media: requested });
    return undefined;
  }

  #decline(now: number): CallError | undefined {
    if (this.role !== "visitor") return notAllowed("decline");
    if (this.#state.phase !== "prompting" && this.#state.phase !== "awaiting_permission") return this.#wrongPhase("decline");
    this.#send("call.decline", { reason: { code: "declined" } });
    this.#end(now, { code: "declined" }, "visitor");
    return undefined;
  }

  #onPermissionGranted(now: number, media: MediaKinds, stream: string): CallError | undefined {
    if (this.#cameraGranted(media)) return undefined;
    const state = this.#state;
    if (state.phase === "inviting") {
      this.#startedAt = now;
      this.#timers.set(Timer.InviteExpiry, now + state.invite.lifetime_ms);
      this.#state = { phase: "ringing", userMedia: { stream, sends: media, cameraFailed: state.request.cameraFailed } };
      this.#send("call.invite", state.invite);
      return undefined;
    }
    if (state.phase === "awaiting_permission") {
      this.#state = { phase: "in_call", call: this.#answered(now, { stream, sends: media, cameraFailed: state.request.cameraFailed }) };
      this.#send("call.accept", { media });
      if (state.heldOffer) this.#onRemoteDescription(now, state.heldOffer);
      return undefined;
    }
    return this.#wrongPhase("permission granted");
  }

  #onPermissionDenied(now: number, device: Device, error: MediaError): CallError | undefined {
    const browser = this.#config.browser;
    if (device === "screen") {
      if (this.#state.phase !== "in_call" || this.#state.call.media.screen.kind !== "requested") return this.#wrongPhase("permission denied");
      this.#state.call.media.screen = { kind: "off" };
      this.#event({ type: "permission_help", device, error, help: mediaHelp(browser, device, error) });
      return undefined;
    }
    if (device === "camera" && this.#cameraFailed(error)) return undefined;
    const state = this.#state;
    if (state.phase !== "inviting" && state.phase !== "awaiting_permission") return this.#wrongPhase("permission denied");
    const by: Role = state.phase === "inviting" ? "agent" : "visitor";
    const request = state.request;
    // A camera that fails without a refusal leaves the call on audio.
    if (device === "camera" && request.asked.video && request.asked.audio && !isRefusal(error)) {
      request.asked = { ...AUDIO_ONLY };
      request.cameraFailed = error;
      this.#event({ type: "camera_unavailable", error, help: mediaHelp(browser, device, error) });
      this.#media({ type: "request_user_media", media: { ...AUDIO_ONLY } });
      return undefined;
    }
    // A request without video has no camera to blame.
    const failed: Device = device === "camera" && !request.asked.video ? "microphone" : device;
    this.#event({ type: "permission_help", device: failed, error, help: mediaHelp(browser, failed, error) });
    const reason: Reason = { code: "media_permission_denied", device: failed, error };
    if (by === "visitor") this.#send("call.decline", { reason });
    this.#end(now, reason, by);
    return undefined;
  }

  #onAccept(now: number, party: string): void {
    if (this.#state.phase !== "ringing") return;
    this.#remote = party;
    const call = this.#answered(now, this.#state.userMedia);
    this.#send("call.select_answer", { selected_party_id: party });
    this.#event({ type: "accepted" });
    this.#renegotiate(call, false);
    this.#state = { phase: "in_call", call };
  }

  #onDecline(now: number, reason: Reason): void {
    if (this.#state.phase !== "ringing") return;
    // The visitor's other tabs stop prompting too.
    this.#send("call.cancel", { reason });
    this.#end(now, reason, "visitor");
  }

  /** A refused invite ends the call; any other refusal is only reported. */
  #onRejected(now: number, rejected: BodyByType["call.rejected"]): void {
    let reason: Reason | null = null;
    if (this.#state.phase === "ringing") {
      if (rejected.code === "busy") reason = { code: "busy" };
      else if (rejected.code === "feature_disabled") reason = { code: "feature_disabled" };
      else if (["forbidden", "expired", "unknown_call", "call_ended"].includes(rejected.code)) reason = { code: "protocol_error" };
    }
    this.#event({ type: "rejected", code: rejected.code, detail: rejected.detail ?? "" });
    if (reason) this.#end(now, reason, null);
  }

  #onInviteExpired(now: number): void {
    if (this.#state.phase === "ringing") {
      this.#send("call.cancel", { reason: { code: "invite_timeout" } });
      this.#end(now, { code: "invite_timeout" }, null);
    } else if (this.#state.phase === "prompting" || this.#state.phase === "awaiting_permission") {
      this.#end(now, { code: "invite_timeout" }, null);
    }
  }

  /** The call is answered at `now`: the invite stops ringing, and media must connect in time. */
  #answered(now: number, userMedia: UserMedia): InCall {
    this.#timers.delete(Timer.InviteExpiry);
    this.#timers.set(Timer.IceConnect, now + this.#config.timings.ice_connect);
    return {
      acceptedAt: now,
      connection: { kind: "connecting" },
      negotiation: new Negotiation(),
      media: new LocalMedia(userMedia),
      quality: new QualityMonitor(),
      lastLevel: null,
      peerMediaSeq: 0,
      peerAudioOnly: false,
    };
  }

  // ---- negotiation ------------------------------------------------------------------------

  #renegotiate(call: InCall, iceRestart: boolean): void {
    const negotiation = call.negotiation;
    if (negotiation.signaling.kind !== "stable") {
      negotiation.deferred = Math.max(negotiation.deferred, iceRestart ? 2 : 1);
      return;
    }
    negotiation.offers += 1;
    const id = `${this.role === "agent" ? "a" : "v"}${negotiation.offers}`;
    negotiation.signaling = { kind: "creating_offer", id };
    this.#media({ type: "create_offer", ice_restart: iceRestart });
  }

  #settled(call: InCall): void {
    const negotiation = call.negotiation;
    negotiation.signaling = { kind: "stable" };
    const deferred = negotiation.deferred;
    negotiation.deferred = 0;
    if (deferred > 0) this.#renegotiate(call, deferred === 2);
  }

  #onLocalDescription(description: SessionDescription): CallError | undefined {
    const summary = summarize(description.sdp);
    if (summary.iceUfrag === "") return { kind: "invalid_local_description" };
    const call = this.#inCall("local description");
    if ("kind" in call) return call;
    const negotiation = call.negotiation;
    const signaling = negotiation.signaling;
    const asked =
      (signaling.kind === "creating_offer" && description.type === "offer") || (signaling.kind === "answering" && description.type === "answer");
    if (!asked) return this.#wrongPhase("local description");
    const id = signaling.id;
    if (negotiation.localUfrag !== summary.iceUfrag) {
      negotiation.localCandidates.newGeneration();
      this.#timers.delete(Timer.CandidateBatch);
      negotiation.localUfrag = summary.iceUfrag;
    }
    this.#send("call.description", { description, negotiation_id: id });
    if (description.type === "offer") negotiation.signaling = { kind: "awaiting_answer", id, offer: summary };
    else this.#settled(call);
    return undefined;
  }

  /** The visitor holds an offer that comes before consent; the agent takes descriptions only
   *  from the visitor it selected. */
  #onRemoteDescription(now: number, body: BodyByType["call.description"]): void {
    const state = this.#state;
    if (state.phase === "prompting" || state.phase === "awaiting_permission") {
      if (body.description.type === "offer") state.heldOffer = body;
      return;
    }
    if (state.phase !== "in_call") return;
    const call = state.call;
    const negotiation = call.negotiation;
    const summary = check(body.description.sdp);
    if (!summary) return this.#fail(now, { code: "protocol_error" });
    if (body.description.type === "offer") {
      const glare = negotiation.signaling.kind === "creating_offer" || negotiation.signaling.kind === "awaiting_answer";
      // Impolite: our offer wins; the visitor rolls its own back.
      if (glare && this.role === "agent") return;
      if (glare) {
        this.#media({ type: "rollback" });
        negotiation.deferred = Math.max(negotiation.deferred, 1);
      }
      if (negotiation.signaling.kind === "answering") return;
      this.#media({ type: "apply_remote_description", description: body.description });
      this.#applyHeldCandidates(summary.iceUfrag);
      negotiation.signaling = { kind: "answering", id: body.negotiation_id };
      this.#media({ type: "create_answer" });
    } else {
      const signaling = negotiation.signaling;
      if (signaling.kind !== "awaiting_answer" || signaling.id !== body.negotiation_id) return; // an answer to an older offer
      if (!answers(summary, signaling.offer)) return this.#fail(now, { code: "protocol_error" });
      this.#media({ type: "apply_remote_description", description: body.description });
      this.#applyHeldCandidates(summary.iceUfrag);
      this.#settled(call);
    }
  }

  #applyHeldCandidates(ufrag: string): void {
    for (const candidate of this.#remoteCandidates.descriptionApplied(ufrag)) this.#media({ type: "add_remote_candidate", candidate });
  }

  #flushCandidates(call: InCall): void {
    const local = call.negotiation.localCandidates;
    while (!local.isEmpty) this.#send("call.candidates", { candidates: local.take() });
  }

  /** Sends what is held and our end-of-candidates marker of this generation (Chromium only fires
   *  a `null` candidate, so the marker is ours to write). */
  #gatheringComplete(call: InCall): void {
    this.#timers.delete(Timer.CandidateBatch);
    this.#flushCandidates(call);
    const end: IceCandidate = { candidate: "" };
    if (call.negotiation.localUfrag !== null) end.usernameFragment = call.negotiation.localUfrag;
    this.#send("call.candidates", { candidates: [end] });
  }

  // ---- the connection ---------------------------------------------------------------------

  #onIce(now: number, ice: IceState): CallError | undefined {
    const call = this.#withIce("ice state");
    if ("kind" in call) return call;
    const connection = call.connection;
    if (ice === "connected" && connection.kind === "connecting") {
      call.connection = { kind: "active", connectedAt: now };
      this.#timers.delete(Timer.IceConnect);
      this.#event({ type: "opened" });
      this.#sendMediaState(call);
    } else if (ice === "connected" && connection.kind === "reconnecting") {
      this.#timers.delete(Timer.IceRestart);
      this.#timers.delete(Timer.IceReconnect);
      call.connection = { kind: "active", connectedAt: connection.connectedAt };
      this.#event({ type: "reconnected" });
    } else if (ice === "disconnected" && connection.kind === "active") {
      this.#connectionLost(now, call);
    } else if (ice === "failed" && connection.kind === "connecting") {
      this.#fail(now, { code: "ice_failed" });
    } else if (ice === "failed") {
      this.#connectionLost(now, call);
      // Failed does not recover by itself: restart now rather than after the grace.
      this.#timers.delete(Timer.IceRestart);
      this.#onIceRestartDue();
    }
    return undefined;
  }

  #connectionLost(now: number, call: InCall): void {
    if (call.connection.kind !== "active") return;
    call.connection = { kind: "reconnecting", connectedAt: call.connection.connectedAt };
    this.#event({ type: "reconnecting" });
    this.#timers.set(Timer.IceRestart, now + this.#config.timings.ice_restart_after);
    this.#timers.set(Timer.IceReconnect, now + this.#config.timings.ice_reconnect);
  }

  /** The agent restarts ICE while reconnecting. */
  #onIceRestartDue(): void {
    if (this.role !== "agent" || this.#state.phase !== "in_call") return;
    if (this.#state.call.connection.kind === "reconnecting") this.#renegotiate(this.#state.call, true);
  }

  // ---- media ------------------------------------------------------------------------------

  /** `call.media` goes out once media is connected: the first tells the peer and the relay that
   *  media flows; what changed while connecting goes out with it. */
  #sendMediaState(call: InCall): void {
    if (call.connection.kind !== "connecting") this.#send("call.media", call.media.body());
  }

  #screenEnded(call: InCall): void {
    call.media.screen = { kind: "off" };
    this.#sendMediaState(call);
    this.#renegotiate(call, false);
  }

  /** Runs `change` and tells the media layer and the peer what it changed about our video. */
  #changeVideo(call: InCall, change: (media: LocalMedia) => void): void {
    const before = call.media.sendsVideo;
    change(call.media);
    const after = call.media.sendsVideo;
    if (before !== after) this.#media({ type: "set_track_enabled", kind: "video", enabled: after });
    this.#sendMediaState(call);
  }

  #goAudioOnly(call: InCall, reason: AudioOnlyReason): void {
    if (call.media.audioOnly === null) this.#changeVideo(call, (media) => (media.audioOnly = reason));
  }

  #leaveAudioOnly(call: InCall): void {
    if (call.media.audioOnly !== null) this.#changeVideo(call, (media) => (media.audioOnly = null));
  }

  /** Off stops the camera's video; on leaves audio only, and asks for a camera the call has not
   *  got (it renegotiates once granted). */
  #setCameraOff(call: InCall, off: boolean): void {
    const ask = !off && (call.media.camera.kind === "absent" || call.media.camera.kind === "unavailable");
    this.#changeVideo(call, (media) => {
      media.cameraOff = off;
      if (!off) media.audioOnly = null;
      if (ask) media.camera = { kind: "requested" };
    });
    if (ask) this.#media({ type: "request_user_media", media: { ...VIDEO_ONLY } });
  }

  /** A camera asked for mid-call was granted: it joins the call, which renegotiates. */
  #cameraGranted(media: MediaKinds): boolean {
    if (this.#state.phase !== "in_call") return false;
    const call = this.#state.call;
    if (call.media.camera.kind !== "requested" || !media.video) return false;
    call.media.camera = { kind: "track" };
    // It stays off if the user turned the camera off meanwhile.
    if (!call.media.sendsVideo) this.#media({ type: "set_track_enabled", kind: "video", enabled: false });
    this.#sendMediaState(call);
    this.#renegotiate(call, false);
    return true;
  }

  /** A camera asked for mid-call failed: the call goes on without it. */
  #cameraFailed(error: MediaError): boolean {
    if (this.#state.phase !== "in_call") return false;
    const call = this.#state.call;
    if (call.media.camera.kind !== "requested") return false;
    call.media.camera = isRefusal(error) ? { kind: "absent" } : { kind: "unavailable", error };
    this.#event({ type: "camera_unavailable", error, help: mediaHelp(this.#config.browser, "camera", error) });
    this.#sendMediaState(call);
    return true;
  }

  /** The peer's newest media state. The visitor follows the agent's audio-only switch as its
   *  marker appears and as it goes (`camera_unavailable` is no switch). */
  #onRemoteMedia(seq: number, media: MediaBody): void {
    if (this.#state.phase !== "in_call") return;
    const call = this.#state.call;
    if (seq < call.peerMediaSeq) return; // overtaken by a newer state
    call.peerMediaSeq = seq;
    const reason = media.audio_only?.reason;
    const switched = reason !== undefined && reason !== "camera_unavailable" ? reason : null;
    if ((switched !== null) !== call.peerAudioOnly) {
      call.peerAudioOnly = switched !== null;
      if (this.role === "visitor") {
        if (switched !== null) this.#goAudioOnly(call, switched);
        else this.#leaveAudioOnly(call);
      }
    }
    this.#event({ type: "remote_media", media });
  }

  /** A quality sample: reported when its level changes; the agent is advised from the worse of
   *  both ends' levels. */
  #onQualitySample(rttMs: number, lossPct: number): CallError | undefined {
    const call = this.#inCall("quality sample");
    if ("kind" in call) return call;
    const loss = Number.isFinite(lossPct) ? Math.min(Math.max(lossPct, 0), 100) : 100;
    const level = qualityLevel(rttMs, loss);
    if (call.lastLevel !== level) {
      call.lastLevel = level;
      this.#send("call.quality", { level, rtt_ms: rttMs, loss_pct: loss });
    }
    if (this.role === "agent") {
      const worse = this.#remoteLevel !== null && qualityRank(this.#remoteLevel) > qualityRank(level) ? this.#remoteLevel : level;
      const advice = call.quality.sample(worse);
      if (advice) this.#event({ type: "quality", advice });
    }
    return undefined;
  }

  // ---- ending -----------------------------------------------------------------------------

  #hangUp(now: number): void {
    this.#endWithHangup(now, { code: "user_hangup" }, this.role);
  }

  /** The call broke: `call.hangup` tells the peer why. */
  #fail(now: number, reason: Reason): void {
    this.#endWithHangup(now, reason, null);
  }

  #endWithHangup(now: number, reason: Reason, endedBy: Role | null): void {
    if (this.isEnded) return;
    this.#send("call.hangup", { reason });
    this.#end(now, reason, endedBy);
  }

  /** Ends without a frame of its own; the first end wins. */
  #end(now: number, reason: Reason, endedBy: Role | null): void {
    const state = this.#state;
    let outcome: Outcome;
    let acceptedAt: number | null = null;
    let connectedAt: number | null = null;
    switch (state.phase) {
      case "ended":
        return;
      case "idle":
      case "inviting":
        outcome = "cancelled"; // the invite never went out
        break;
      case "in_call": {
        outcome = outcomeOf(reason, true);
        acceptedAt = state.call.acceptedAt;
        const connection = state.call.connection;
        connectedAt = connection.kind === "connecting" ? null : connection.connectedAt;
        break;
      }
      default:
        outcome = outcomeOf(reason, false);
    }
    if (state.phase === "prompting" || state.phase === "awaiting_permission") {
      const why = promptEnd(reason);
      if (why) this.#event({ type: "stop_prompting", why });
    }
    // The camera and microphone were asked for (or granted).
    if (state.phase !== "idle" && state.phase !== "prompting") this.#media({ type: "close" });
    const summary: CallSummary = {
      call_id: this.callId,
      outcome,
      ended_by: endedBy,
      reason,
      ring_time_ms: Math.max(0, (acceptedAt ?? now) - this.#startedAt),
      talk_time_ms: connectedAt === null ? 0 : Math.max(0, now - connectedAt),
    };
    this.#timers.clear();
    this.#remoteCandidates = new RemoteCandidates();
    this.#state = { phase: "ended", summary };
    this.#event({ type: "ended", reason, summary });
  }

  // ---- helpers ----------------------------------------------------------------------------

  #send<T extends MessageType>(type: T, body: BodyByType[T]): void {
    const frame = {
      type,
      version: VERSION,
      conversation_id: this.#config.conversation_id,
      call_id: this.callId,
      party_id: this.#config.party_id,
      role: this.role,
      seq: this.#nextSeq,
      body,
    } as Frame;
    this.#nextSeq += 1;
    this.#queue.push({ send: frame });
  }

  #media(command: MediaCommand): void {
    this.#queue.push({ media: command });
  }

  #event(event: CallEvent): void {
    this.#queue.push({ event });
  }

  #wrongPhase(input: string): CallError {
    return { kind: "wrong_phase", input, phase: this.phase };
  }

  #inCall(input: string): InCall | CallError {
    return this.#state.phase === "in_call" ? this.#state.call : this.#wrongPhase(input);
  }

  /** The answered call once ICE exists (a local description was given). */
  #withIce(input: string): InCall | CallError {
    const call = this.#inCall(input);
    if ("kind" in call) return call;
    return call.negotiation.localUfrag !== null ? call : this.#wrongPhase(input);
  }
}
