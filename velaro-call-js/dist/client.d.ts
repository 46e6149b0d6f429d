import type { CallError, CallSummary, Phase, PromptEnd, QualityAdvice, Timings } from "./machine.js";
import { Emitter } from "./emitter.js";
import type { Browser, Texts } from "./texts.js";
import type { Device, MediaBody, MediaError, MediaKinds, Reason, RejectCode, Role, RtcConfiguration } from "./generated/wire.js";
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
    prompt: Call & {
        text: string;
        locale: string | null;
        media: MediaKinds;
    };
    /** Visitor: the prompt goes away without this tab's answer. */
    "prompt-closed": Call & {
        why: PromptEnd;
        text: string;
    };
    /** Agent: the visitor's prompt is on screen. */
    ringing: Call;
    /** Agent: a visitor accepted; connecting. */
    accepted: Call;
    /** The call's phase changed; `text` is its status line ("Reconnecting…"). */
    phase: Call & {
        phase: Phase;
        text: string;
    };
    /** Media connected: show the call. */
    connected: Call;
    /** Media stopped flowing; the call is trying to restore it. */
    reconnecting: Call & {
        text: string;
    };
    reconnected: Call;
    /** Our own media state changed (mute, camera, screen, audio only): for the call's controls. */
    "local-media": Call & {
        media: MediaBody;
        audioOnlyText: string | null;
    };
    /** The other side's media state. */
    "remote-media": Call & {
        media: MediaBody;
        cameraUnavailableText: string | null;
    };
    /** Remote streams changed: read `remoteStream()` again. */
    tracks: Call;
    /** Agent: quality advice (switch to audio only, or it recovered). */
    quality: Call & {
        advice: QualityAdvice;
        text: string;
    };
    /** Our camera could not be used; the call goes on with audio. */
    "camera-unavailable": Call & {
        error: MediaError;
        text: string;
    };
    /** A device the call needs failed, or a screen share: how to fix it in this browser. */
    "permission-help": Call & {
        device: Device;
        error: MediaError;
        text: string;
    };
    /** The relay refused one of our frames: for logs, never for people. */
    rejected: Call & {
        code: RejectCode;
        detail: string;
    };
    /** The call ended; the chat goes on. */
    ended: Call & {
        reason: Reason;
        summary: CallSummary;
        text: string;
    };
    /** The media layer failed at something (for logs). */
    error: Call & {
        message: string;
    };
}
/** The DOMException name of a failed media request, as the protocol carries it: a name that is a
 *  protocol token is kept (the set is open), anything else counts as a device that could not
 *  start. */
export declare function mediaErrorName(error: unknown): MediaError;
export declare class CallClient extends Emitter<CallClientEvents> {
    #private;
    readonly role: Role;
    /** The ICE configuration the next peer connection uses. */
    ice: RtcConfiguration;
    constructor(options: CallClientOptions);
    /** The current (or last) call's id. */
    get callId(): string | null;
    /** The current call's phase; "idle" before the first. */
    get phase(): Phase;
    /** Whether a call is under way (not ended). */
    get live(): boolean;
    /** What we send, as our `call.media` says it; null before the answer and after the end. */
    get localMedia(): MediaBody | null;
    /** Whether our microphone is muted (or absent). */
    get muted(): boolean;
    /** Whether our camera's video goes out (on, present, and not audio only). */
    get videoOn(): boolean;
    /** The other side's last media state. */
    get remoteMedia(): MediaBody | null;
    /** The ended call's summary. */
    get summary(): CallSummary | null;
    /** Our camera stream (camera and microphone tracks), once granted. */
    get localStream(): MediaStream | null;
    /** The other side's camera or screen stream, as its `call.media` names them. */
    remoteStream(purpose: "camera" | "screen"): MediaStream | null;
    /** What a reconnecting chat connection tells the relay (RESUME.md): the live call's cursor, or
     *  "" when there is none (the relay then replays everything it holds, and the ended calls
     *  this client remembers keep old invites from ringing). */
    resumeCursor(): string;
    /** Agent: asks for its own camera and microphone, then invites the visitor. */
    invite(options: InviteOptions): CallError | undefined;
    /** Visitor: the user said yes; the browser asks for the camera and microphone. */
    accept(): CallError | undefined;
    /** Visitor: the user said no. */
    decline(): CallError | undefined;
    /** Agent: withdraws the invite before the answer. */
    cancel(): CallError | undefined;
    /** Ends the call (before the answer: cancels or declines it). The chat goes on. */
    hangup(): CallError | undefined;
    setMicrophoneMuted(muted: boolean): CallError | undefined;
    /** Off stops our video; on leaves audio only, and asks for a camera the call has not got. */
    setCameraOff(off: boolean): CallError | undefined;
    /** Agent: the browser's picker chooses a screen, window or tab. */
    shareScreen(): CallError | undefined;
    stopScreenShare(): CallError | undefined;
    /** Agent: video stops on both sides (the visitor follows) until a camera is turned on. */
    switchToAudioOnly(): CallError | undefined;
    /** Every call frame the chat connection delivers (frames of other types are ignored). */
    receive(frame: IncomingFrame): void;
}
export {};
