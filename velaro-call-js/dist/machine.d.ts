import type { QualityAdvice } from "./quality.js";
import type { Browser } from "./texts.js";
import type { AudioOnlyReason, Device, DisplaySurface, IceCandidate, MediaBody, MediaError, MediaKinds, Prompt, Reason, RejectCode, Role, RtcConfiguration, SessionDescription } from "./generated/wire.js";
import type { Frame, IncomingFrame } from "./wire.js";
export type { QualityAdvice } from "./quality.js";
/** The phase of a call (`velaro_call_state::Phase`). */
export type Phase = "idle" | "inviting" | "ringing" | "prompting" | "awaiting_permission" | "connecting" | "active" | "reconnecting" | "ended";
/** What the local user does. */
export type Action = {
    type: "invite";
    prompt: Prompt;
    media: MediaKinds;
    ice?: RtcConfiguration | null;
    camera_off: boolean;
    lifetime_ms?: number;
} | {
    type: "cancel";
} | {
    type: "accept";
} | {
    type: "decline";
} | {
    type: "hangup";
} | {
    type: "set_microphone_muted";
    muted: boolean;
} | {
    type: "set_camera_off";
    off: boolean;
} | {
    type: "start_screen_share";
} | {
    type: "stop_screen_share";
} | {
    type: "switch_to_audio_only";
    reason: AudioOnlyReason;
};
/** The ICE connection state as the media layer reports it. */
export type IceState = "checking" | "connected" | "disconnected" | "failed";
/** What the local media layer reports. */
export type MediaEvent = {
    type: "permission_granted";
    media: MediaKinds;
    stream_id: string;
} | {
    type: "permission_denied";
    device: Device;
    error: MediaError;
} | {
    type: "screen_share_started";
    stream_id: string;
    surface: DisplaySurface;
} | {
    type: "screen_share_ended";
} | {
    type: "local_description";
    description: SessionDescription;
} | {
    type: "local_candidate";
    candidate: IceCandidate;
} | {
    type: "gathering_complete";
} | {
    type: "negotiation_needed";
} | {
    type: "ice";
    state: IceState;
} | {
    type: "quality_sample";
    rtt_ms: number;
    loss_pct: number;
};
/** A command for the local media layer. */
export type MediaCommand = {
    type: "request_user_media";
    media: MediaKinds;
} | {
    type: "request_screen_capture";
} | {
    type: "stop_screen_capture";
} | {
    type: "set_track_enabled";
    kind: "audio" | "video";
    enabled: boolean;
} | {
    type: "create_offer";
    ice_restart: boolean;
} | {
    type: "rollback";
} | {
    type: "apply_remote_description";
    description: SessionDescription;
} | {
    type: "create_answer";
} | {
    type: "add_remote_candidate";
    candidate: IceCandidate;
} | {
    type: "close";
};
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
export type CallEvent = {
    type: "prompt";
    text: string;
    locale: string | null;
    media: MediaKinds;
} | {
    type: "stop_prompting";
    why: PromptEnd;
} | {
    type: "ringing";
} | {
    type: "accepted";
} | {
    type: "opened";
} | {
    type: "reconnecting";
} | {
    type: "reconnected";
} | {
    type: "remote_media";
    media: MediaBody;
} | {
    type: "quality";
    advice: QualityAdvice;
} | {
    type: "camera_unavailable";
    error: MediaError;
    help: string;
} | {
    type: "permission_help";
    device: Device;
    error: MediaError;
    help: string;
} | {
    type: "rejected";
    code: RejectCode;
    detail: string;
} | {
    type: "ended";
    reason: Reason;
    summary: CallSummary;
};
/** One output, in the order to act on it. */
export type Output = {
    send: Frame;
} | {
    media: MediaCommand;
} | {
    event: CallEvent;
};
/** Why an input was refused; the call is unchanged. */
export type CallError = {
    kind: "wrong_call";
} | {
    kind: "not_allowed";
    input: string;
} | {
    kind: "wrong_phase";
    input: string;
    phase: Phase;
} | {
    kind: "not_an_invite";
} | {
    kind: "invalid_local_description";
};
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
/** One party's call: agent or visitor. */
export declare class CallMachine {
    #private;
    readonly role: Role;
    readonly callId: string;
    private constructor();
    /** An agent's call, idle until the `invite` action. */
    static agent(config: CallConfig, callId: string, now: number): CallMachine;
    /** A visitor's call, from the invite that just arrived: the prompt shows at once, `ringing`
     *  goes out, and the invite's lifetime starts on this party's own clock. */
    static visitor(config: CallConfig, invite: IncomingFrame, now: number): CallMachine | CallError;
    /** The next output, or undefined when drained. */
    pollOutput(): Output | undefined;
    /** When `handleTimeout` should next be called. */
    pollTimeout(): number | null;
    get phase(): Phase;
    get isEnded(): boolean;
    /** The peer: the inviting agent device, or the visitor tab that answered. */
    get remoteParty(): string | null;
    /** What this party sends, as its `call.media` says it, from the answer until the end. */
    get localMedia(): MediaBody | null;
    /** The summary, once the call ended. */
    get summary(): CallSummary | null;
    /** The highest seq this call took from each party: what a reconnecting client tells the relay
     *  (see RESUME.md). */
    lastSeen(): [party: string, seq: number][];
    /** A frame from the peer (or the relay). */
    handleMessage(now: number, frame: IncomingFrame): CallError | undefined;
    /** The local user's action. */
    handleAction(now: number, action: Action): CallError | undefined;
    /** A fact from the local media layer. */
    handleMedia(now: number, event: MediaEvent): CallError | undefined;
    /** Fires every timer due at `now`. */
    handleTimeout(now: number): void;
}
