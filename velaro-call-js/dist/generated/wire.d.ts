/** The protocol version. */
export declare const VERSION = 1;
/** Every message type of v1. */
export declare const MESSAGE_TYPES: readonly ["call.invite", "call.ringing", "call.accept", "call.select_answer", "call.decline", "call.cancel", "call.description", "call.candidates", "call.media", "call.quality", "call.hangup", "call.rejected", "call.ack"];
/** A message type this version knows. */
export type MessageType = (typeof MESSAGE_TYPES)[number];
/** The sender's side; stamped by the relay. */
export type Role = "agent" | "visitor";
export interface AcceptBody {
    /** The media the visitor will send. */
    media: MediaKinds;
}
export interface AckBody {
    /** A resume cursor: `party-id:seq` per sender, comma-separated, each sender once, at most 64 entries, seq from 1 to 2^53 - 1; empty for none. */
    seen: string;
}
/** The known values of {@link AudioOnlyReason}. */
export declare const AUDIO_ONLY_REASON_VALUES: readonly ["quality", "camera_unavailable"];
/** Why a call switched to audio only. Open: known values are quality, camera_unavailable; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type AudioOnlyReason = (typeof AUDIO_ONLY_REASON_VALUES)[number] | (string & {});
export interface CancelBody {
    /** Why; the default when absent. */
    reason?: Reason;
}
export interface CandidatesBody {
    /** At most 64 candidates, in the order they were gathered, end-of-candidates markers included. */
    candidates: IceCandidate[];
}
/** The known values of {@link Capability}. */
export declare const CAPABILITY_VALUES: readonly ["trickle", "renegotiation", "screen_share", "audio_only", "quality"];
/** A feature the inviting client supports. Open: known values are trickle, renegotiation, screen_share, audio_only, quality; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type Capability = (typeof CAPABILITY_VALUES)[number] | (string & {});
export interface DeclineBody {
    /** Why; the default when absent. */
    reason?: Reason;
}
export interface DescriptionBody {
    description: SessionDescription;
    /** Which offer/answer exchange this belongs to: an answer repeats its offer's id. */
    negotiation_id: Id;
}
/** The known values of {@link Device}. */
export declare const DEVICE_VALUES: readonly ["camera", "microphone", "screen"];
/** The device a media permission was asked for. Open: known values are camera, microphone, screen; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type Device = (typeof DEVICE_VALUES)[number] | (string & {});
/** The known values of {@link DisplaySurface}. */
export declare const DISPLAY_SURFACE_VALUES: readonly ["monitor", "window", "browser"];
/** What a screen share shows: the displaySurface of the captured track. Open: known values are monitor, window, browser; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type DisplaySurface = (typeof DISPLAY_SURFACE_VALUES)[number] | (string & {});
export interface HangupBody {
    /** Why; the default when absent. */
    reason?: Reason;
}
/** RTCIceCandidateInit. */
export interface IceCandidate {
    /** An RFC 8839 candidate (`candidate:…`, at most 1024 bytes, also as written back with its `candidate:` prefix), or "" for end-of-candidates of the generation named by `usernameFragment`. */
    candidate: string;
    /** The index of the m-section. */
    sdpMLineIndex?: number | null;
    /** The media stream identification of the m-section: empty, or up to 256 visible ASCII characters. */
    sdpMid?: string | null;
    /** The ICE username fragment: which ICE generation the candidate belongs to. */
    usernameFragment?: string | null;
}
/** RTCIceServer. A server with a TURN URL needs a username and a credential. */
export interface IceServer {
    /** At most 1024 bytes. null reads as absent. */
    credential?: string | null;
    /** One URL, or an array of 1 to 16. */
    urls: IceUrl | IceUrl[];
    /** Less than 509 bytes. null reads as absent. */
    username?: string | null;
}
/** A STUN or TURN server URL (RFC 7064, RFC 7065) of the schemes stun, stuns, turn, turns: at most 1024 bytes, no `//`, userinfo, path or fragment; only TURN URLs take `?transport=`. */
export type IceUrl = string;
/** An id: 1 to 255 characters of [0-9A-Za-z._~-]. */
export type Id = string;
export interface InviteBody {
    /** Features the agent's client supports (at most 32). */
    capabilities?: Capability[];
    /** The ICE configuration for the recipient; the relay may inject one with fresh TURN credentials. null reads as absent. */
    ice?: RtcConfiguration | null;
    /** How long the invite rings, in milliseconds, judged by the recipient's own clock from arrival. */
    lifetime_ms: number;
    /** The media the agent asks the visitor for. */
    media: MediaKinds;
    prompt: Prompt;
}
export interface MediaBody {
    /** Present when the call is audio only. null reads as absent. */
    audio_only?: {
        reason: AudioOnlyReason;
    } | null;
    /** Every stream the sender sends, by stream id (the msid of the stream in the SDP; at most 8). The complete state, not a change: a stream no longer listed has ended. */
    streams?: Record<string, StreamState>;
}
/** The known values of {@link MediaError}. */
export declare const MEDIA_ERROR_VALUES: readonly ["NotAllowedError", "NotFoundError", "NotReadableError", "OverconstrainedError", "AbortError", "SecurityError"];
/** The DOMException name the browser raised for a media request. Open: known values are NotAllowedError, NotFoundError, NotReadableError, OverconstrainedError, AbortError, SecurityError; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type MediaError = (typeof MEDIA_ERROR_VALUES)[number] | (string & {});
/** Which media a party asks for or will send. */
export interface MediaKinds {
    /** Microphone audio. */
    audio: boolean;
    /** Camera video. */
    video: boolean;
}
/** What the visitor is asked. */
export interface Prompt {
    /** The BCP 47 language tag of `text` (`en`, `pt-BR`): 1 to 35 of [0-9A-Za-z-]. null reads as absent. */
    locale?: string | null;
    /** The question shown to the visitor, in the visitor's language: at most 1024 bytes, not blank, no control characters but newline and tab. */
    text: string;
}
export interface QualityBody {
    level: QualityLevel;
    /** Packet loss in percent, if measured. null reads as absent. */
    loss_pct?: number | null;
    /** Round-trip time in milliseconds, if measured. null reads as absent. */
    rtt_ms?: number | null;
}
/** The known values of {@link QualityLevel}. */
export declare const QUALITY_LEVEL_VALUES: readonly ["excellent", "good", "poor", "lost"];
/** How the call's connection is doing, as the sender measures it. Open: known values are excellent, good, poor, lost; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type QualityLevel = (typeof QUALITY_LEVEL_VALUES)[number] | (string & {});
/** Why a call ended, was declined or was cancelled. */
export interface Reason {
    code: ReasonCode;
    /** With `media_permission_denied`: which device. null reads as absent. */
    device?: Device | null;
    /** With `media_permission_denied`: the browser's DOMException name. null reads as absent. */
    error?: MediaError | null;
}
/** The known values of {@link ReasonCode}. */
export declare const REASON_CODE_VALUES: readonly ["user_hangup", "declined", "cancelled", "busy", "invite_timeout", "answered_elsewhere", "replaced", "ice_failed", "ice_timeout", "signaling_lost", "media_permission_denied", "feature_disabled", "party_left", "unsupported_version", "protocol_error", "unknown_error"];
/** Why a call ended, was declined or was cancelled. Open: known values are user_hangup, declined, cancelled, busy, invite_timeout, answered_elsewhere, replaced, ice_failed, ice_timeout, signaling_lost, media_permission_denied, feature_disabled, party_left, unsupported_version, protocol_error, unknown_error; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type ReasonCode = (typeof REASON_CODE_VALUES)[number] | (string & {});
/** The known values of {@link RejectCode}. */
export declare const REJECT_CODE_VALUES: readonly ["forbidden", "feature_disabled", "busy", "rate_limited", "too_large", "invalid", "unknown_call", "expired", "call_ended", "unsupported_version", "unknown_type", "unavailable"];
/** Why the relay refused a frame. Open: known values are forbidden, feature_disabled, busy, rate_limited, too_large, invalid, unknown_call, expired, call_ended, unsupported_version, unknown_type, unavailable; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type RejectCode = (typeof REJECT_CODE_VALUES)[number] | (string & {});
export interface RejectedBody {
    code: RejectCode;
    /** Why, for a developer (never shown to end users as is): at most 1024 bytes, no control characters but newline and tab. */
    detail?: string;
    /** The `seq` of the refused frame, when the relay could read it. null reads as absent. */
    rejected_seq?: number | null;
}
/** Empty. */
export interface RingingBody {
}
/** The browser's RTCConfiguration, limited to the ICE fields a call needs: ready for `new RTCPeerConnection(config)`. */
export interface RtcConfiguration {
    /** At most 32 STUN or TURN servers. */
    iceServers?: IceServer[];
    /** `relay` uses TURN relay candidates only. */
    iceTransportPolicy?: "all" | "relay";
}
export interface SelectAnswerBody {
    /** The visitor tab whose accept won. */
    selected_party_id: Id;
}
/** RTCSessionDescriptionInit, ready for setRemoteDescription. Only offers and answers travel. */
export interface SessionDescription {
    /** The SDP: at most 32768 bytes. The SDP check that runs before it is parsed (at the relay and the peer) also requires at most 16 m-sections, ICE credentials, a DTLS fingerprint and an audio or video m-section. */
    sdp: string;
    type: "offer" | "answer";
}
/** The known values of {@link StreamPurpose}. */
export declare const STREAM_PURPOSE_VALUES: readonly ["camera", "screen"];
/** What a stream carries. Open: known values are camera, screen; any other token of 1 to 64 characters of [0-9A-Za-z._-] is a value of a newer peer, kept as is. */
export type StreamPurpose = (typeof STREAM_PURPOSE_VALUES)[number] | (string & {});
/** The state of one stream the sender sends. */
export interface StreamState {
    /** The audio track is muted (or absent). */
    audio_muted?: boolean;
    /** For a screen stream: what is shared. null reads as absent. */
    display_surface?: DisplaySurface | null;
    purpose: StreamPurpose;
    /** The video track is off (or absent). */
    video_muted?: boolean;
}
/** The body of each message type. */
export interface BodyByType {
    /** call.invite (agent to visitor): start a call. */
    "call.invite": InviteBody;
    /** call.ringing (visitor to agent): the prompt is shown. */
    "call.ringing": RingingBody;
    /** call.accept (visitor to agent): yes, after permission was granted. */
    "call.accept": AcceptBody;
    /** call.select_answer (agent to visitors): which tab's accept won. */
    "call.select_answer": SelectAnswerBody;
    /** call.decline (visitor to agent): no, with a reason. */
    "call.decline": DeclineBody;
    /** call.cancel (agent to visitor): the invite is withdrawn. */
    "call.cancel": CancelBody;
    /** call.description (both): an SDP offer or answer. */
    "call.description": DescriptionBody;
    /** call.candidates (both): trickled ICE candidates. */
    "call.candidates": CandidatesBody;
    /** call.media (both): mute, camera, screen share and audio-only state. */
    "call.media": MediaBody;
    /** call.quality (both): connection quality reports. */
    "call.quality": QualityBody;
    /** call.hangup (both): the call ends; the conversation goes on. */
    "call.hangup": HangupBody;
    /** call.rejected (relay to sender): a frame was refused. */
    "call.rejected": RejectedBody;
    /** call.ack (both to the relay, never forwarded): the frames the sender's call took, which the relay need not keep for a resume. Added in protocol 1 without a version change: a relay that predates it refuses it as `unknown_type`, and the sender then stops acknowledging. */
    "call.ack": AckBody;
}
/** The fields every frame has besides its type and body. */
export interface FrameHeader {
    /** The call; chosen by the inviting agent's client. */
    call_id: Id;
    /** The chat conversation the call belongs to. */
    conversation_id: Id;
    /** The sending device or tab; stamped by the relay. */
    party_id: Id;
    /** The sender's side; stamped by the relay. */
    role: Role;
    /** The sender's sequence number in this call, from 1; at most 2^53 - 1 so that JavaScript reads it exactly. */
    seq: number;
    /** The protocol version; a frame of another version is refused as unsupported. */
    version: typeof VERSION;
}
/** `velaro_call_protocol::limits`: default invite lifetime ms. */
export declare const DEFAULT_INVITE_LIFETIME_MS = 60000;
/** `velaro_call_protocol::limits`: max candidates. */
export declare const MAX_CANDIDATES = 64;
/** `velaro_call_protocol::limits`: max capabilities. */
export declare const MAX_CAPABILITIES = 32;
/** `velaro_call_protocol::limits`: max client seq. */
export declare const MAX_CLIENT_SEQ = 9007199254740990;
/** `velaro_call_protocol::limits`: max detail len. */
export declare const MAX_DETAIL_LEN = 1024;
/** `velaro_call_protocol::limits`: max id len. */
export declare const MAX_ID_LEN = 255;
/** `velaro_call_protocol::limits`: max invite lifetime ms. */
export declare const MAX_INVITE_LIFETIME_MS = 600000;
/** `velaro_call_protocol::limits`: max locale len. */
export declare const MAX_LOCALE_LEN = 35;
/** `velaro_call_protocol::limits`: max m sections. */
export declare const MAX_M_SECTIONS = 16;
/** `velaro_call_protocol::limits`: max prompt len. */
export declare const MAX_PROMPT_LEN = 1024;
/** `velaro_call_protocol::limits`: max sdp len. */
export declare const MAX_SDP_LEN = 32768;
/** `velaro_call_protocol::limits`: max seq. */
export declare const MAX_SEQ = 9007199254740991;
/** `velaro_call_protocol::limits`: max short token len. */
export declare const MAX_SHORT_TOKEN_LEN = 256;
/** `velaro_call_protocol::limits`: max stream id len. */
export declare const MAX_STREAM_ID_LEN = 64;
/** `velaro_call_protocol::limits`: max streams. */
export declare const MAX_STREAMS = 8;
/** `velaro_call_protocol::limits`: max token len. */
export declare const MAX_TOKEN_LEN = 64;
/** `velaro_call_protocol::limits`: min invite lifetime ms. */
export declare const MIN_INVITE_LIFETIME_MS = 10000;
/** The call machine's default timings, in milliseconds (`velaro_call_state::Timings`). */
export declare const TIMINGS_MS: {
    readonly ack_delay: 1000;
    readonly candidate_batch: 200;
    readonly ice_connect: 30000;
    readonly ice_reconnect: 30000;
    readonly ice_restart_after: 2000;
};
/** How many ended calls a visitor's client remembers (`EndedCalls::CAPACITY`). */
export declare const ENDED_CALLS_CAPACITY = 64;
/** The call machine's other numbers (`velaro_call_state::tuning`). */
export declare const GOOD_LOSS_PCT = 2;
export declare const GOOD_RTT_MS = 250;
export declare const LOST_LOSS_PCT = 20;
export declare const MAX_HELD_CANDIDATES = 128;
export declare const POOR_LOSS_PCT = 5;
export declare const POOR_RTT_MS = 400;
export declare const QUALITY_SUSTAIN = 3;
/** The party id the relay writes on its own notices. */
export declare const RELAY_PARTY_ID = "relay";
/** The grammar of an open enum's value of a newer peer (and of a DOMException name the protocol carries). */
export declare const TOKEN_PATTERN: RegExp;
