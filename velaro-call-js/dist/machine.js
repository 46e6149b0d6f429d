// One party's call machine, sans IO: the TypeScript twin of `velaro_call_state::Call`. Time comes
// in as `now` (milliseconds on any monotonic clock); every output is queued for the caller to
// drain with `pollOutput()`: frames to send, commands for the media layer, events for the UI.
// `CallClient` drives it with a browser's RTCPeerConnection; a host with a media layer of its own
// may drive it directly. The conformance traces (traces/*.json, written from the Rust machine)
// hold both to the same outputs for the same inputs.
import { answers, check, summarize } from "./sdp.js";
import { LocalCandidates, RemoteCandidates, isEndOfCandidates } from "./candidates.js";
import { Dedupe } from "./dedupe.js";
import { formatResumeCursor } from "./resume.js";
import { QualityMonitor, qualityLevel, qualityRank } from "./quality.js";
import { isRefusal, mediaHelp } from "./texts.js";
import { CAPABILITY_VALUES, DEFAULT_INVITE_LIFETIME_MS, MESSAGE_TYPES, TIMINGS_MS, VERSION } from "./generated/wire.js";
/** In this order: two timers due at the same instant fire in it. */
const TIMERS = [0 /* Timer.InviteExpiry */, 1 /* Timer.CandidateBatch */, 2 /* Timer.IceConnect */, 3 /* Timer.IceRestart */, 4 /* Timer.IceReconnect */, 5 /* Timer.Ack */];
const notAllowed = (input) => ({ kind: "not_allowed", input });
const AUDIO_ONLY = { audio: true, video: false };
const VIDEO_ONLY = { audio: false, video: true };
const KNOWN_TYPES = MESSAGE_TYPES;
/** What we send: the state behind `call.media`. */
class LocalMedia {
    micMuted = false;
    cameraOff = false;
    screen = { kind: "off" };
    audioOnly = null;
    stream;
    microphone;
    camera;
    constructor(userMedia) {
        this.stream = userMedia.stream;
        this.microphone = userMedia.sends.audio;
        this.camera = userMedia.sends.video
            ? { kind: "track" }
            : userMedia.cameraFailed !== null
                ? { kind: "unavailable", error: userMedia.cameraFailed }
                : { kind: "absent" };
    }
    get sendsVideo() {
        return this.camera.kind === "track" && !this.cameraOff && this.audioOnly === null;
    }
    body() {
        const streams = {
            [this.stream]: { purpose: "camera", audio_muted: this.micMuted || !this.microphone, video_muted: !this.sendsVideo },
        };
        if (this.screen.kind === "sharing") {
            streams[this.screen.stream] = { purpose: "screen", audio_muted: true, video_muted: false, display_surface: this.screen.surface };
        }
        const body = { streams };
        const marker = this.audioOnly ?? (this.camera.kind === "unavailable" ? "camera_unavailable" : null);
        if (marker !== null)
            body.audio_only = { reason: marker };
        return body;
    }
}
/** Perfect negotiation: the visitor is polite (rolls its offer back in glare), the agent is not. */
class Negotiation {
    signaling = { kind: "stable" };
    offers = 0;
    /** 0 nothing, 1 an offer, 2 an ICE restart: a need only grows. */
    deferred = 0;
    localUfrag = null;
    localCandidates = new LocalCandidates();
}
const peerOf = (role) => (role === "agent" ? "visitor" : "agent");
function outcomeOf(reason, accepted) {
    const code = reason.code;
    if (code === "media_permission_denied" && !accepted)
        return "declined";
    if (["ice_failed", "ice_timeout", "signaling_lost", "media_permission_denied", "unsupported_version", "protocol_error", "unknown_error"].includes(code)) {
        return "failed";
    }
    if (code === "invite_timeout")
        return "missed";
    if (code === "declined" || code === "busy")
        return "declined";
    if (code === "cancelled" || code === "answered_elsewhere" || code === "replaced")
        return "cancelled";
    return accepted ? "answered" : "cancelled";
}
function promptEnd(reason) {
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
    role;
    callId;
    #config;
    #nextSeq = 1;
    #queue = [];
    #state;
    #timers = new Map();
    #dedupe = new Dedupe();
    #remote = null;
    #remoteCandidates = new RemoteCandidates();
    #remoteLevel = null;
    #startedAt;
    /** The seq of the last `call.ack` (0 before the first: no frame has it), to recognise a
     *  notice about it; -1 once the relay refused one (no more for this call). */
    #ackSeq = 0;
    constructor(role, config, callId, now, state) {
        this.role = role;
        this.callId = callId;
        this.#config = { ...config, browser: config.browser ?? "other", timings: { ...TIMINGS_MS, ...config.timings } };
        this.#state = state;
        this.#startedAt = now;
    }
    /** An agent's call, idle until the `invite` action. */
    static agent(config, callId, now) {
        return new CallMachine("agent", config, callId, now, { phase: "idle" });
    }
    /** A visitor's call, from the invite that just arrived: the prompt shows at once, `ringing`
     *  goes out, and the invite's lifetime starts on this party's own clock. */
    static visitor(config, invite, now) {
        if (invite.type !== "call.invite")
            return { kind: "not_an_invite" };
        if (invite.role !== "agent")
            return notAllowed("call.invite");
        if (invite.conversation_id !== config.conversation_id)
            return { kind: "wrong_call" };
        const body = invite.body;
        const call = new CallMachine("visitor", config, invite.call_id, now, { phase: "prompting", requested: body.media, heldOffer: null });
        call.#dedupe.firstTime(invite.party_id, invite.seq);
        call.#remote = invite.party_id;
        call.#timers.set(0 /* Timer.InviteExpiry */, now + body.lifetime_ms);
        call.#event({ type: "prompt", text: body.prompt.text, locale: body.prompt.locale ?? null, media: body.media });
        call.#send("call.ringing", {});
        return call;
    }
    // ---- getters ----------------------------------------------------------------------------
    /** The next output, or undefined when drained. */
    pollOutput() {
        return this.#queue.shift();
    }
    /** When `handleTimeout` should next be called. */
    pollTimeout() {
        let next = null;
        for (const at of this.#timers.values())
            if (next === null || at < next)
                next = at;
        return next;
    }
    get phase() {
        if (this.#state.phase !== "in_call")
            return this.#state.phase;
        const connection = this.#state.call.connection.kind;
        return connection === "active" ? "active" : connection;
    }
    get isEnded() {
        return this.#state.phase === "ended";
    }
    /** The peer: the inviting agent device, or the visitor tab that answered. */
    get remoteParty() {
        return this.#remote;
    }
    /** What this party sends, as its `call.media` says it, from the answer until the end. */
    get localMedia() {
        return this.#state.phase === "in_call" ? this.#state.call.media.body() : null;
    }
    /** The summary, once the call ended. */
    get summary() {
        return this.#state.phase === "ended" ? this.#state.summary : null;
    }
    /** The highest seq this call took from each party: what a reconnecting client tells the relay
     *  (see RESUME.md). */
    lastSeen() {
        return this.#dedupe.highest();
    }
    // ---- inputs -----------------------------------------------------------------------------
    /** A frame from the peer (or the relay). */
    handleMessage(now, frame) {
        if (frame.conversation_id !== this.#config.conversation_id || frame.call_id !== this.callId)
            return { kind: "wrong_call" };
        if (this.isEnded)
            return undefined;
        const body = (frame.body ?? {});
        // Relay notices answer our own frames.
        if (frame.type === "call.rejected") {
            const rejected = body;
            // A refused ack is not news for the user (an ack only saves the relay memory); a relay
            // that refuses one (one that predates acks, say) hears no more of them.
            if (rejected.rejected_seq !== this.#ackSeq)
                this.#onRejected(now, rejected);
            else
                this.#ackSeq = -1;
            return undefined;
        }
        if (frame.role === this.role)
            return notAllowed("a message from our own side");
        if (!this.#dedupe.firstTime(frame.party_id, frame.seq))
            return undefined;
        // Acknowledged to the relay within `timings.ack_delay`, with whatever else comes meanwhile,
        // so that it can forget what a resume never replays.
        if (!this.#timers.has(5 /* Timer.Ack */))
            this.#timers.set(5 /* Timer.Ack */, now + this.#config.timings.ack_delay);
        // Once bound, only the bound peer speaks for the call.
        if (this.#remote !== null && this.#remote !== frame.party_id)
            return undefined;
        const role = this.role;
        const type = frame.type;
        if (role === "agent" && type === "call.ringing") {
            if (this.#state.phase === "ringing")
                this.#event({ type: "ringing" });
        }
        else if (role === "agent" && type === "call.accept") {
            this.#onAccept(now, frame.party_id);
        }
        else if (role === "agent" && type === "call.decline") {
            this.#onDecline(now, body.reason ?? { code: "declined" });
        }
        else if (role === "visitor" && type === "call.cancel") {
            this.#end(now, body.reason ?? { code: "cancelled" }, "agent");
        }
        else if (role === "visitor" && type === "call.select_answer") {
            if (body.selected_party_id !== this.#config.party_id)
                this.#end(now, { code: "answered_elsewhere" }, null);
        }
        else if (type === "call.description") {
            this.#onRemoteDescription(now, body);
        }
        else if (type === "call.candidates") {
            for (const candidate of body.candidates ?? []) {
                const ready = this.#remoteCandidates.received(candidate);
                if (ready)
                    this.#media({ type: "add_remote_candidate", candidate: ready });
            }
        }
        else if (type === "call.media") {
            this.#onRemoteMedia(frame.seq, body);
        }
        else if (type === "call.quality") {
            this.#remoteLevel = body.level ?? null;
        }
        else if (type === "call.hangup") {
            this.#end(now, body.reason ?? { code: "user_hangup" }, peerOf(role));
        }
        else if (KNOWN_TYPES.includes(type)) {
            return notAllowed(type);
        }
        // A newer peer's message types are not ours to act on.
        return undefined;
    }
    /** The local user's action. */
    handleAction(now, action) {
        if (this.isEnded)
            return undefined;
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
                if ("kind" in call)
                    return call;
                call.media.micMuted = action.muted;
                this.#media({ type: "set_track_enabled", kind: "audio", enabled: !action.muted });
                this.#sendMediaState(call);
                return undefined;
            }
            case "set_camera_off": {
                const call = this.#inCall("camera");
                if ("kind" in call)
                    return call;
                this.#setCameraOff(call, action.off);
                return undefined;
            }
            case "start_screen_share": {
                if (this.role !== "agent")
                    return notAllowed("screen share");
                const call = this.#inCall("screen share");
                if ("kind" in call)
                    return call;
                if (call.media.screen.kind !== "off")
                    return this.#wrongPhase("screen share");
                call.media.screen = { kind: "requested" };
                this.#media({ type: "request_screen_capture" });
                return undefined;
            }
            case "stop_screen_share": {
                const call = this.#inCall("stop screen share");
                if ("kind" in call)
                    return call;
                if (call.media.screen.kind !== "sharing")
                    return this.#wrongPhase("stop screen share");
                this.#media({ type: "stop_screen_capture" });
                this.#screenEnded(call);
                return undefined;
            }
            case "switch_to_audio_only": {
                if (this.role !== "agent")
                    return notAllowed("audio only");
                const call = this.#inCall("audio only");
                if ("kind" in call)
                    return call;
                this.#goAudioOnly(call, action.reason);
                return undefined;
            }
        }
    }
    /** A fact from the local media layer. */
    handleMedia(now, event) {
        if (this.isEnded)
            return undefined;
        switch (event.type) {
            case "permission_granted":
                return this.#onPermissionGranted(now, event.media, event.stream_id);
            case "permission_denied":
                return this.#onPermissionDenied(now, event.device, event.error);
            case "screen_share_started": {
                const call = this.#inCall("screen share started");
                if ("kind" in call)
                    return call;
                if (call.media.screen.kind !== "requested")
                    return this.#wrongPhase("screen share started");
                call.media.screen = { kind: "sharing", stream: event.stream_id, surface: event.surface };
                this.#sendMediaState(call);
                this.#renegotiate(call, false);
                return undefined;
            }
            case "screen_share_ended":
                if (this.#state.phase === "in_call" && this.#state.call.media.screen.kind === "sharing")
                    this.#screenEnded(this.#state.call);
                return undefined;
            case "local_description":
                return this.#onLocalDescription(event.description);
            case "local_candidate": {
                const call = this.#withIce("local candidate");
                if ("kind" in call)
                    return call;
                if (isEndOfCandidates(event.candidate))
                    this.#gatheringComplete(call);
                else if (call.negotiation.localCandidates.gathered(event.candidate))
                    this.#flushCandidates(call);
                else if (!this.#timers.has(1 /* Timer.CandidateBatch */))
                    this.#timers.set(1 /* Timer.CandidateBatch */, now + this.#config.timings.candidate_batch);
                return undefined;
            }
            case "gathering_complete": {
                const call = this.#withIce("gathering complete");
                if ("kind" in call)
                    return call;
                this.#gatheringComplete(call);
                return undefined;
            }
            case "negotiation_needed": {
                const call = this.#inCall("negotiation needed");
                if ("kind" in call)
                    return call;
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
    handleTimeout(now) {
        for (;;) {
            let due = null;
            for (const timer of TIMERS) {
                const at = this.#timers.get(timer);
                if (at !== undefined && at <= now && (due === null || at < this.#timers.get(due)))
                    due = timer;
            }
            if (due === null)
                return;
            this.#timers.delete(due);
            if (this.isEnded)
                return;
            switch (due) {
                case 0 /* Timer.InviteExpiry */:
                    this.#onInviteExpired(now);
                    break;
                case 1 /* Timer.CandidateBatch */:
                    if (this.#state.phase === "in_call")
                        this.#flushCandidates(this.#state.call);
                    break;
                case 2 /* Timer.IceConnect */:
                    if (this.#state.phase === "in_call" && this.#state.call.connection.kind === "connecting")
                        this.#fail(now, { code: "ice_failed" });
                    break;
                case 3 /* Timer.IceRestart */:
                    this.#onIceRestartDue();
                    break;
                case 4 /* Timer.IceReconnect */:
                    if (this.#state.phase === "in_call" && this.#state.call.connection.kind === "reconnecting")
                        this.#fail(now, { code: "ice_timeout" });
                    break;
                case 5 /* Timer.Ack */:
                    if (this.#ackSeq < 0)
                        break;
                    this.#ackSeq = this.#nextSeq;
                    this.#send("call.ack", { seen: formatResumeCursor(this.#dedupe.highest()) });
                    break;
            }
        }
    }
    // ---- before the answer ------------------------------------------------------------------
    #invite(action) {
        if (this.role !== "agent")
            return notAllowed("invite");
        if (this.#state.phase !== "idle")
            return this.#wrongPhase("invite");
        const invite = {
            prompt: action.prompt,
            media: action.media,
            lifetime_ms: action.lifetime_ms ?? DEFAULT_INVITE_LIFETIME_MS,
            capabilities: [...CAPABILITY_VALUES],
        };
        if (action.ice)
            invite.ice = action.ice;
        const own = action.camera_off ? { audio: action.media.audio, video: false } : action.media;
        this.#state = { phase: "inviting", invite, request: { asked: own, cameraFailed: null } };
        this.#media({ type: "request_user_media", media: own });
        return undefined;
    }
    #cancel(now) {
        if (this.role !== "agent")
            return notAllowed("cancel");
        if (this.#state.phase === "ringing")
            this.#send("call.cancel", { reason: { code: "cancelled" } });
        else if (this.#state.phase !== "inviting")
            return this.#wrongPhase("cancel");
        this.#end(now, { code: "cancelled" }, "agent");
        return undefined;
    }
    #accept() {
        if (this.role !== "visitor")
            return notAllowed("accept");
        if (this.#state.phase !== "prompting")
            return this.#wrongPhase("accept");
        const { requested, heldOffer } = this.#state;
        this.#state = { phase: "awaiting_permission", heldOffer, request: { asked: requested, cameraFailed: null } };
        this.#media({ type: "request_user_media", media: requested });
        return undefined;
    }
    #decline(now) {
        if (this.role !== "visitor")
            return notAllowed("decline");
        if (this.#state.phase !== "prompting" && this.#state.phase !== "awaiting_permission")
            return this.#wrongPhase("decline");
        this.#send("call.decline", { reason: { code: "declined" } });
        this.#end(now, { code: "declined" }, "visitor");
        return undefined;
    }
    #onPermissionGranted(now, media, stream) {
        if (this.#cameraGranted(media))
            return undefined;
        const state = this.#state;
        if (state.phase === "inviting") {
            this.#startedAt = now;
            this.#timers.set(0 /* Timer.InviteExpiry */, now + state.invite.lifetime_ms);
            this.#state = { phase: "ringing", userMedia: { stream, sends: media, cameraFailed: state.request.cameraFailed } };
            this.#send("call.invite", state.invite);
            return undefined;
        }
        if (state.phase === "awaiting_permission") {
            this.#state = { phase: "in_call", call: this.#answered(now, { stream, sends: media, cameraFailed: state.request.cameraFailed }) };
            this.#send("call.accept", { media });
            if (state.heldOffer)
                this.#onRemoteDescription(now, state.heldOffer);
            return undefined;
        }
        return this.#wrongPhase("permission granted");
    }
    #onPermissionDenied(now, device, error) {
        const browser = this.#config.browser;
        if (device === "screen") {
            if (this.#state.phase !== "in_call" || this.#state.call.media.screen.kind !== "requested")
                return this.#wrongPhase("permission denied");
            this.#state.call.media.screen = { kind: "off" };
            this.#event({ type: "permission_help", device, error, help: mediaHelp(browser, device, error) });
            return undefined;
        }
        if (device === "camera" && this.#cameraFailed(error))
            return undefined;
        const state = this.#state;
        if (state.phase !== "inviting" && state.phase !== "awaiting_permission")
            return this.#wrongPhase("permission denied");
        const by = state.phase === "inviting" ? "agent" : "visitor";
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
        const failed = device === "camera" && !request.asked.video ? "microphone" : device;
        this.#event({ type: "permission_help", device: failed, error, help: mediaHelp(browser, failed, error) });
        const reason = { code: "media_permission_denied", device: failed, error };
        if (by === "visitor")
            this.#send("call.decline", { reason });
        this.#end(now, reason, by);
        return undefined;
    }
    #onAccept(now, party) {
        if (this.#state.phase !== "ringing")
            return;
        this.#remote = party;
        const call = this.#answered(now, this.#state.userMedia);
        this.#send("call.select_answer", { selected_party_id: party });
        this.#event({ type: "accepted" });
        this.#renegotiate(call, false);
        this.#state = { phase: "in_call", call };
    }
    #onDecline(now, reason) {
        if (this.#state.phase !== "ringing")
            return;
        // The visitor's other tabs stop prompting too.
        this.#send("call.cancel", { reason });
        this.#end(now, reason, "visitor");
    }
    /** A refused invite ends the call; any other refusal is only reported. */
    #onRejected(now, rejected) {
        let reason = null;
        if (this.#state.phase === "ringing") {
            if (rejected.code === "busy")
                reason = { code: "busy" };
            else if (rejected.code === "feature_disabled")
                reason = { code: "feature_disabled" };
            else if (["forbidden", "expired", "unknown_call", "call_ended"].includes(rejected.code))
                reason = { code: "protocol_error" };
        }
        this.#event({ type: "rejected", code: rejected.code, detail: rejected.detail ?? "" });
        if (reason)
            this.#end(now, reason, null);
    }
    #onInviteExpired(now) {
        if (this.#state.phase === "ringing") {
            this.#send("call.cancel", { reason: { code: "invite_timeout" } });
            this.#end(now, { code: "invite_timeout" }, null);
        }
        else if (this.#state.phase === "prompting" || this.#state.phase === "awaiting_permission") {
            this.#end(now, { code: "invite_timeout" }, null);
        }
    }
    /** The call is answered at `now`: the invite stops ringing, and media must connect in time. */
    #answered(now, userMedia) {
        this.#timers.delete(0 /* Timer.InviteExpiry */);
        this.#timers.set(2 /* Timer.IceConnect */, now + this.#config.timings.ice_connect);
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
    #renegotiate(call, iceRestart) {
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
    #settled(call) {
        const negotiation = call.negotiation;
        negotiation.signaling = { kind: "stable" };
        const deferred = negotiation.deferred;
        negotiation.deferred = 0;
        if (deferred > 0)
            this.#renegotiate(call, deferred === 2);
    }
    #onLocalDescription(description) {
        const summary = summarize(description.sdp);
        if (summary.iceUfrag === "")
            return { kind: "invalid_local_description" };
        const call = this.#inCall("local description");
        if ("kind" in call)
            return call;
        const negotiation = call.negotiation;
        const signaling = negotiation.signaling;
        const asked = (signaling.kind === "creating_offer" && description.type === "offer") || (signaling.kind === "answering" && description.type === "answer");
        if (!asked)
            return this.#wrongPhase("local description");
        const id = signaling.id;
        if (negotiation.localUfrag !== summary.iceUfrag) {
            negotiation.localCandidates.newGeneration();
            this.#timers.delete(1 /* Timer.CandidateBatch */);
            negotiation.localUfrag = summary.iceUfrag;
        }
        this.#send("call.description", { description, negotiation_id: id });
        if (description.type === "offer")
            negotiation.signaling = { kind: "awaiting_answer", id, offer: summary };
        else
            this.#settled(call);
        return undefined;
    }
    /** The visitor holds an offer that comes before consent; the agent takes descriptions only
     *  from the visitor it selected. */
    #onRemoteDescription(now, body) {
        const state = this.#state;
        if (state.phase === "prompting" || state.phase === "awaiting_permission") {
            if (body.description.type === "offer")
                state.heldOffer = body;
            return;
        }
        if (state.phase !== "in_call")
            return;
        const call = state.call;
        const negotiation = call.negotiation;
        const summary = check(body.description.sdp);
        if (!summary)
            return this.#fail(now, { code: "protocol_error" });
        if (body.description.type === "offer") {
            const glare = negotiation.signaling.kind === "creating_offer" || negotiation.signaling.kind === "awaiting_answer";
            // Impolite: our offer wins; the visitor rolls its own back.
            if (glare && this.role === "agent")
                return;
            if (glare) {
                this.#media({ type: "rollback" });
                negotiation.deferred = Math.max(negotiation.deferred, 1);
            }
            if (negotiation.signaling.kind === "answering")
                return;
            this.#media({ type: "apply_remote_description", description: body.description });
            this.#applyHeldCandidates(summary.iceUfrag);
            negotiation.signaling = { kind: "answering", id: body.negotiation_id };
            this.#media({ type: "create_answer" });
        }
        else {
            const signaling = negotiation.signaling;
            if (signaling.kind !== "awaiting_answer" || signaling.id !== body.negotiation_id)
                return; // an answer to an older offer
            if (!answers(summary, signaling.offer))
                return this.#fail(now, { code: "protocol_error" });
            this.#media({ type: "apply_remote_description", description: body.description });
            this.#applyHeldCandidates(summary.iceUfrag);
            this.#settled(call);
        }
    }
    #applyHeldCandidates(ufrag) {
        for (const candidate of this.#remoteCandidates.descriptionApplied(ufrag))
            this.#media({ type: "add_remote_candidate", candidate });
    }
    #flushCandidates(call) {
        const local = call.negotiation.localCandidates;
        while (!local.isEmpty)
            this.#send("call.candidates", { candidates: local.take() });
    }
    /** Sends what is held and our end-of-candidates marker of this generation (Chromium only fires
     *  a `null` candidate, so the marker is ours to write). */
    #gatheringComplete(call) {
        this.#timers.delete(1 /* Timer.CandidateBatch */);
        this.#flushCandidates(call);
        const end = { candidate: "" };
        if (call.negotiation.localUfrag !== null)
            end.usernameFragment = call.negotiation.localUfrag;
        this.#send("call.candidates", { candidates: [end] });
    }
    // ---- the connection ---------------------------------------------------------------------
    #onIce(now, ice) {
        const call = this.#withIce("ice state");
        if ("kind" in call)
            return call;
        const connection = call.connection;
        if (ice === "connected" && connection.kind === "connecting") {
            call.connection = { kind: "active", connectedAt: now };
            this.#timers.delete(2 /* Timer.IceConnect */);
            this.#event({ type: "opened" });
            this.#sendMediaState(call);
        }
        else if (ice === "connected" && connection.kind === "reconnecting") {
            this.#timers.delete(3 /* Timer.IceRestart */);
            this.#timers.delete(4 /* Timer.IceReconnect */);
            call.connection = { kind: "active", connectedAt: connection.connectedAt };
            this.#event({ type: "reconnected" });
        }
        else if (ice === "disconnected" && connection.kind === "active") {
            this.#connectionLost(now, call);
        }
        else if (ice === "failed" && connection.kind === "connecting") {
            this.#fail(now, { code: "ice_failed" });
        }
        else if (ice === "failed") {
            this.#connectionLost(now, call);
            // Failed does not recover by itself: restart now rather than after the grace.
            this.#timers.delete(3 /* Timer.IceRestart */);
            this.#onIceRestartDue();
        }
        return undefined;
    }
    #connectionLost(now, call) {
        if (call.connection.kind !== "active")
            return;
        call.connection = { kind: "reconnecting", connectedAt: call.connection.connectedAt };
        this.#event({ type: "reconnecting" });
        this.#timers.set(3 /* Timer.IceRestart */, now + this.#config.timings.ice_restart_after);
        this.#timers.set(4 /* Timer.IceReconnect */, now + this.#config.timings.ice_reconnect);
    }
    /** The agent restarts ICE while reconnecting. */
    #onIceRestartDue() {
        if (this.role !== "agent" || this.#state.phase !== "in_call")
            return;
        if (this.#state.call.connection.kind === "reconnecting")
            this.#renegotiate(this.#state.call, true);
    }
    // ---- media ------------------------------------------------------------------------------
    /** `call.media` goes out once media is connected: the first tells the peer and the relay that
     *  media flows; what changed while connecting goes out with it. */
    #sendMediaState(call) {
        if (call.connection.kind !== "connecting")
            this.#send("call.media", call.media.body());
    }
    #screenEnded(call) {
        call.media.screen = { kind: "off" };
        this.#sendMediaState(call);
        this.#renegotiate(call, false);
    }
    /** Runs `change` and tells the media layer and the peer what it changed about our video. */
    #changeVideo(call, change) {
        const before = call.media.sendsVideo;
        change(call.media);
        const after = call.media.sendsVideo;
        if (before !== after)
            this.#media({ type: "set_track_enabled", kind: "video", enabled: after });
        this.#sendMediaState(call);
    }
    #goAudioOnly(call, reason) {
        if (call.media.audioOnly === null)
            this.#changeVideo(call, (media) => (media.audioOnly = reason));
    }
    #leaveAudioOnly(call) {
        if (call.media.audioOnly !== null)
            this.#changeVideo(call, (media) => (media.audioOnly = null));
    }
    /** Off stops the camera's video; on leaves audio only, and asks for a camera the call has not
     *  got (it renegotiates once granted). */
    #setCameraOff(call, off) {
        const ask = !off && (call.media.camera.kind === "absent" || call.media.camera.kind === "unavailable");
        this.#changeVideo(call, (media) => {
            media.cameraOff = off;
            if (!off)
                media.audioOnly = null;
            if (ask)
                media.camera = { kind: "requested" };
        });
        if (ask)
            this.#media({ type: "request_user_media", media: { ...VIDEO_ONLY } });
    }
    /** A camera asked for mid-call was granted: it joins the call, which renegotiates. */
    #cameraGranted(media) {
        if (this.#state.phase !== "in_call")
            return false;
        const call = this.#state.call;
        if (call.media.camera.kind !== "requested" || !media.video)
            return false;
        call.media.camera = { kind: "track" };
        // It stays off if the user turned the camera off meanwhile.
        if (!call.media.sendsVideo)
            this.#media({ type: "set_track_enabled", kind: "video", enabled: false });
        this.#sendMediaState(call);
        this.#renegotiate(call, false);
        return true;
    }
    /** A camera asked for mid-call failed: the call goes on without it. */
    #cameraFailed(error) {
        if (this.#state.phase !== "in_call")
            return false;
        const call = this.#state.call;
        if (call.media.camera.kind !== "requested")
            return false;
        call.media.camera = isRefusal(error) ? { kind: "absent" } : { kind: "unavailable", error };
        this.#event({ type: "camera_unavailable", error, help: mediaHelp(this.#config.browser, "camera", error) });
        this.#sendMediaState(call);
        return true;
    }
    /** The peer's newest media state. The visitor follows the agent's audio-only switch as its
     *  marker appears and as it goes (`camera_unavailable` is no switch). */
    #onRemoteMedia(seq, media) {
        if (this.#state.phase !== "in_call")
            return;
        const call = this.#state.call;
        if (seq < call.peerMediaSeq)
            return; // overtaken by a newer state
        call.peerMediaSeq = seq;
        const reason = media.audio_only?.reason;
        const switched = reason !== undefined && reason !== "camera_unavailable" ? reason : null;
        if ((switched !== null) !== call.peerAudioOnly) {
            call.peerAudioOnly = switched !== null;
            if (this.role === "visitor") {
                if (switched !== null)
                    this.#goAudioOnly(call, switched);
                else
                    this.#leaveAudioOnly(call);
            }
        }
        this.#event({ type: "remote_media", media });
    }
    /** A quality sample: reported when its level changes; the agent is advised from the worse of
     *  both ends' levels. */
    #onQualitySample(rttMs, lossPct) {
        const call = this.#inCall("quality sample");
        if ("kind" in call)
            return call;
        const loss = Number.isFinite(lossPct) ? Math.min(Math.max(lossPct, 0), 100) : 100;
        const level = qualityLevel(rttMs, loss);
        if (call.lastLevel !== level) {
            call.lastLevel = level;
            this.#send("call.quality", { level, rtt_ms: rttMs, loss_pct: loss });
        }
        if (this.role === "agent") {
            const worse = this.#remoteLevel !== null && qualityRank(this.#remoteLevel) > qualityRank(level) ? this.#remoteLevel : level;
            const advice = call.quality.sample(worse);
            if (advice)
                this.#event({ type: "quality", advice });
        }
        return undefined;
    }
    // ---- ending -----------------------------------------------------------------------------
    #hangUp(now) {
        this.#endWithHangup(now, { code: "user_hangup" }, this.role);
    }
    /** The call broke: `call.hangup` tells the peer why. */
    #fail(now, reason) {
        this.#endWithHangup(now, reason, null);
    }
    #endWithHangup(now, reason, endedBy) {
        if (this.isEnded)
            return;
        this.#send("call.hangup", { reason });
        this.#end(now, reason, endedBy);
    }
    /** Ends without a frame of its own; the first end wins. */
    #end(now, reason, endedBy) {
        const state = this.#state;
        let outcome;
        let acceptedAt = null;
        let connectedAt = null;
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
            if (why)
                this.#event({ type: "stop_prompting", why });
        }
        // The camera and microphone were asked for (or granted).
        if (state.phase !== "idle" && state.phase !== "prompting")
            this.#media({ type: "close" });
        const summary = {
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
    #send(type, body) {
        const frame = {
            type,
            version: VERSION,
            conversation_id: this.#config.conversation_id,
            call_id: this.callId,
            party_id: this.#config.party_id,
            role: this.role,
            seq: this.#nextSeq,
            body,
        };
        this.#nextSeq += 1;
        this.#queue.push({ send: frame });
    }
    #media(command) {
        this.#queue.push({ media: command });
    }
    #event(event) {
        this.#queue.push({ event });
    }
    #wrongPhase(input) {
        return { kind: "wrong_phase", input, phase: this.phase };
    }
    #inCall(input) {
        return this.#state.phase === "in_call" ? this.#state.call : this.#wrongPhase(input);
    }
    /** The answered call once ICE exists (a local description was given). */
    #withIce(input) {
        const call = this.#inCall(input);
        if ("kind" in call)
            return call;
        return call.negotiation.localUfrag !== null ? call : this.#wrongPhase(input);
    }
}
