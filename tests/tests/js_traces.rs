//! Conformance traces for the browser package (`velaro-call-js/traces/`): named behaviours of
//! one party's [`Call`], driven by hand on `Instant` arithmetic, written down as JSON: each step's
//! input (with its time in ms from the start) and what the call gave for it (frames, media
//! commands and events, in order), its phase, its next deadline, the resume cursor and the media
//! state it sends. The package replays every trace under `node --test` and must give the same.
//!
//! The committed traces must be exactly what `Call` gives: a change to the machine that changes a
//! trace fails here until `VELARO_BLESS=1 cargo test -p velaro-tests --test js_traces` rewrites
//! them, and then the JavaScript fails until it follows. The format is documented in
//! `velaro-call-js/README.md`. `traces/constants.json` carries the numbers the JSON Schema does
//! not (the machine's timings, the crate's limits), for the package's generated constants.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use velaro_call_protocol::limits;
use velaro_call_protocol::message::answer::{
    AcceptBody, CancelBody, DeclineBody, RingingBody, SelectAnswerBody,
};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType, SessionDescription};
use velaro_call_protocol::message::hangup::{HangupBody, RejectCode, RejectedBody};
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::{
    AudioOnlyReason, DisplaySurface, MediaBody, QualityBody, QualityLevel, StreamId, StreamState,
};
use velaro_call_protocol::{
    CallId, ConversationId, Device, Envelope, MediaError, Message, NegotiationId, PartyId,
    RELAY_PARTY_ID, Reason, Role, encode,
};
use velaro_call_state::{
    Action, Call, CallConfig, CallError, EndedCalls, Event, IceState, MediaCommand, MediaEvent,
    Output, Phase, PromptEnd, QualityAdvice, Timings, TrackKind, tuning,
};

/// Any serializable value as JSON (a macro: this crate does not depend on `serde` itself).
macro_rules! to_json {
    ($value:expr) => {
        serde_json::to_value($value).unwrap()
    };
}

const CONVERSATION: &str = "conv-1";
const CALL: &str = "call-1";
const PROMPT: &str = "Your agent would like to start a video call. Accept?";

// ---- the recorder --------------------------------------------------------------------------

/// One trace being written: a call driven step by step, each step recorded with its outputs.
struct Trace {
    name: &'static str,
    description: &'static str,
    role: Role,
    party: &'static str,
    start: Instant,
    now: u64,
    call: Option<Call>,
    steps: Vec<Value>,
    /// The peer's next `seq`.
    peer_seq: u64,
}

impl Trace {
    /// A trace of `role`'s call; an agent's exists from the start, a visitor's from its invite.
    #[allow(clippy::disallowed_methods)] // the trace owns its one real instant, then adds to it
    fn new(name: &'static str, description: &'static str, role: Role) -> Trace {
        let start = Instant::now();
        let party = if role == Role::Agent { "agent-1" } else { "visitor-1" };
        let call = (role == Role::Agent)
            .then(|| Call::agent(config(party), CallId::new(CALL).unwrap(), start));
        Trace {
            name,
            description,
            role,
            party,
            start,
            now: 0,
            call,
            steps: Vec::new(),
            peer_seq: 0,
        }
    }

    fn instant(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    fn call(&mut self) -> &mut Call {
        self.call.as_mut().expect("the call has started")
    }

    /// Moves the clock to `ms`, firing (and recording) every deadline on the way, as a driver
    /// that arms one timer for `poll_timeout` does.
    fn at(&mut self, ms: u64) -> &mut Trace {
        assert!(ms >= self.now, "{}: time runs forward ({} then {ms})", self.name, self.now);
        while let Some(deadline) = self.call.as_ref().and_then(Call::poll_timeout) {
            let due = u64::try_from((deadline - self.start).as_millis()).unwrap();
            if due > ms {
                break;
            }
            self.now = due;
            let now = self.instant(due);
            self.call().handle_timeout(now);
            self.record(json!({ "timeout": {} }), None);
        }
        self.now = ms;
        self
    }

    /// Fires the timers due at `ms` (the step the replay takes by moving its clock).
    fn wait(&mut self, ms: u64) -> &mut Trace {
        self.at(ms)
    }

    fn action(&mut self, ms: u64, action: Action) -> &mut Trace {
        self.at(ms);
        let input = json!({ "action": action_json(&action) });
        let now = self.instant(ms);
        let result = self.call().handle_action(now, action);
        self.record(input, result.err())
    }

    fn media(&mut self, ms: u64, event: MediaEvent) -> &mut Trace {
        self.at(ms);
        let input = json!({ "media": media_event_json(&event) });
        let now = self.instant(ms);
        let result = self.call().handle_media(now, event);
        self.record(input, result.err())
    }

    /// A frame from the peer, with its next `seq`.
    fn peer(&mut self, ms: u64, message: impl Into<Message>) -> &mut Trace {
        self.peer_seq += 1;
        let (party, role) = peer_of(self.role);
        let envelope = frame(party, role, self.peer_seq, message);
        self.frame(ms, envelope)
    }

    /// Any frame (the visitor's first, an invite, starts its call).
    fn frame(&mut self, ms: u64, envelope: Envelope) -> &mut Trace {
        self.at(ms);
        let now = self.instant(ms);
        if self.call.is_none() {
            let input = json!({ "invite": wire(&envelope) });
            self.call = Some(Call::visitor(config(self.party), &envelope, now).unwrap());
            return self.record(input, None);
        }
        let input = json!({ "message": wire(&envelope) });
        let result = self.call().handle_message(now, envelope);
        self.record(input, result.err())
    }

    fn record(&mut self, input: Value, refused: Option<CallError>) -> &mut Trace {
        let start = self.start;
        let call = self.call.as_mut().expect("the call has started");
        let mut outputs = Vec::new();
        while let Some(output) = call.poll_output() {
            outputs.push(output_json(&output));
        }
        let mut step = json!({
            "at_ms": self.now,
            "input": input,
            "outputs": outputs,
            "phase": phase_name(call.phase()),
            "next_timeout_ms": call.poll_timeout().map(|t| u64::try_from((t - start).as_millis()).unwrap()),
            "last_seen": call.last_seen().iter().map(|(p, s)| json!([p.as_str(), s])).collect::<Vec<_>>(),
            "local_media": call.local_media().map(|m| serde_json::to_value(m).unwrap()),
        });
        if let Some(error) = refused {
            step["refused"] = json!(error_kind(&error));
        }
        self.steps.push(step);
        self
    }

    fn trace_json(&self) -> Value {
        let mut trace = json!({
            "name": self.name,
            "description": self.description,
            "role": self.role.as_str(),
            "conversation_id": CONVERSATION,
            "party_id": self.party,
            "steps": self.steps,
        });
        if self.role == Role::Agent {
            trace["call_id"] = json!(CALL);
        }
        trace
    }
}

fn config(party: &str) -> CallConfig {
    CallConfig::new(ConversationId::new(CONVERSATION).unwrap(), PartyId::new(party).unwrap())
}

fn peer_of(role: Role) -> (&'static str, Role) {
    if role == Role::Agent { ("visitor-1", Role::Visitor) } else { ("agent-1", Role::Agent) }
}

fn frame(party: &str, role: Role, seq: u64, message: impl Into<Message>) -> Envelope {
    Envelope::new(
        ConversationId::new(CONVERSATION).unwrap(),
        CallId::new(CALL).unwrap(),
        PartyId::new(party).unwrap(),
        role,
        seq,
        message,
    )
}

/// A frame as the wire carries it.
fn wire(envelope: &Envelope) -> Value {
    serde_json::from_slice(&encode(envelope)).unwrap()
}

// ---- JSON of inputs and outputs (the format in velaro-call-js/README.md) --------------------

fn action_json(action: &Action) -> Value {
    match action {
        Action::Invite { prompt, media, ice, camera_off } => json!({
            "type": "invite", "prompt": to_json!(prompt), "media": to_json!(media),
            "ice": ice.as_ref().map(|ice| to_json!(ice)), "camera_off": camera_off,
        }),
        Action::Cancel => json!({ "type": "cancel" }),
        Action::Accept => json!({ "type": "accept" }),
        Action::Decline => json!({ "type": "decline" }),
        Action::Hangup => json!({ "type": "hangup" }),
        Action::SetMicrophoneMuted(muted) => {
            json!({ "type": "set_microphone_muted", "muted": muted })
        }
        Action::SetCameraOff(off) => json!({ "type": "set_camera_off", "off": off }),
        Action::StartScreenShare => json!({ "type": "start_screen_share" }),
        Action::StopScreenShare => json!({ "type": "stop_screen_share" }),
        Action::SwitchToAudioOnly(reason) => {
            json!({ "type": "switch_to_audio_only", "reason": to_json!(reason) })
        }
        other => panic!("no JSON for {other:?}"),
    }
}

fn ice_name(state: IceState) -> &'static str {
    match state {
        IceState::Checking => "checking",
        IceState::Connected => "connected",
        IceState::Disconnected => "disconnected",
        IceState::Failed => "failed",
    }
}

fn media_event_json(event: &MediaEvent) -> Value {
    match event {
        MediaEvent::PermissionGranted { media, stream_id } => json!({
            "type": "permission_granted", "media": to_json!(media), "stream_id": stream_id.as_str(),
        }),
        MediaEvent::PermissionDenied { device, error } => json!({
            "type": "permission_denied", "device": to_json!(device), "error": to_json!(error),
        }),
        MediaEvent::ScreenShareStarted { stream_id, surface } => json!({
            "type": "screen_share_started", "stream_id": stream_id.as_str(), "surface": to_json!(surface),
        }),
        MediaEvent::ScreenShareEnded => json!({ "type": "screen_share_ended" }),
        MediaEvent::LocalDescription(description) => {
            json!({ "type": "local_description", "description": to_json!(description) })
        }
        MediaEvent::LocalCandidate(candidate) => {
            json!({ "type": "local_candidate", "candidate": to_json!(candidate) })
        }
        MediaEvent::GatheringComplete => json!({ "type": "gathering_complete" }),
        MediaEvent::NegotiationNeeded => json!({ "type": "negotiation_needed" }),
        MediaEvent::Ice(state) => json!({ "type": "ice", "state": ice_name(*state) }),
        MediaEvent::QualitySample { rtt_ms, loss_pct } => {
            json!({ "type": "quality_sample", "rtt_ms": rtt_ms, "loss_pct": loss_pct })
        }
        other => panic!("no JSON for {other:?}"),
    }
}

fn output_json(output: &Output) -> Value {
    match output {
        Output::Send(envelope) => json!({ "send": wire(envelope) }),
        Output::Media(command) => json!({ "media": command_json(command) }),
        Output::Event(event) => json!({ "event": event_json(event) }),
    }
}

fn command_json(command: &MediaCommand) -> Value {
    match command {
        MediaCommand::RequestUserMedia(media) => {
            json!({ "type": "request_user_media", "media": to_json!(media) })
        }
        MediaCommand::RequestScreenCapture => json!({ "type": "request_screen_capture" }),
        MediaCommand::StopScreenCapture => json!({ "type": "stop_screen_capture" }),
        MediaCommand::SetTrackEnabled { kind, enabled } => {
            let kind = if *kind == TrackKind::Audio { "audio" } else { "video" };
            json!({ "type": "set_track_enabled", "kind": kind, "enabled": enabled })
        }
        MediaCommand::CreateOffer { ice_restart } => {
            json!({ "type": "create_offer", "ice_restart": ice_restart })
        }
        MediaCommand::Rollback => json!({ "type": "rollback" }),
        MediaCommand::ApplyRemoteDescription(description) => {
            json!({ "type": "apply_remote_description", "description": to_json!(description) })
        }
        MediaCommand::CreateAnswer => json!({ "type": "create_answer" }),
        MediaCommand::AddRemoteCandidate(candidate) => {
            json!({ "type": "add_remote_candidate", "candidate": to_json!(candidate) })
        }
        MediaCommand::Close => json!({ "type": "close" }),
        other => panic!("no JSON for {other:?}"),
    }
}

fn event_json(event: &Event) -> Value {
    match event {
        Event::Prompt { text, locale, media } => {
            json!({ "type": "prompt", "text": text, "locale": locale, "media": to_json!(media) })
        }
        Event::StopPrompting(why) => {
            let why = match why {
                PromptEnd::Cancelled => "cancelled",
                PromptEnd::Expired => "expired",
                PromptEnd::AnsweredElsewhere => "answered_elsewhere",
            };
            json!({ "type": "stop_prompting", "why": why })
        }
        Event::Ringing => json!({ "type": "ringing" }),
        Event::Accepted => json!({ "type": "accepted" }),
        Event::Opened => json!({ "type": "opened" }),
        Event::Reconnecting => json!({ "type": "reconnecting" }),
        Event::Reconnected => json!({ "type": "reconnected" }),
        Event::RemoteMedia(media) => json!({ "type": "remote_media", "media": to_json!(media) }),
        Event::Quality(advice) => {
            let advice = match advice {
                QualityAdvice::SwitchToAudioOnly => "switch_to_audio_only",
                QualityAdvice::Recovered => "recovered",
            };
            json!({ "type": "quality", "advice": advice })
        }
        Event::CameraUnavailable { error, help } => {
            json!({ "type": "camera_unavailable", "error": to_json!(error), "help": help })
        }
        Event::PermissionHelp { device, error, help } => json!({
            "type": "permission_help", "device": to_json!(device), "error": to_json!(error), "help": help,
        }),
        Event::Rejected { code, detail } => {
            json!({ "type": "rejected", "code": to_json!(code), "detail": detail })
        }
        Event::Ended { reason, summary } => {
            json!({ "type": "ended", "reason": to_json!(reason), "summary": to_json!(summary) })
        }
        other => panic!("no JSON for {other:?}"),
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Idle => "idle",
        Phase::Inviting => "inviting",
        Phase::Ringing => "ringing",
        Phase::Prompting => "prompting",
        Phase::AwaitingPermission => "awaiting_permission",
        Phase::Connecting => "connecting",
        Phase::Active => "active",
        Phase::Reconnecting => "reconnecting",
        Phase::Ended => "ended",
    }
}

fn error_kind(error: &CallError) -> &'static str {
    match error {
        CallError::WrongCall { .. } => "wrong_call",
        CallError::NotAllowed { .. } => "not_allowed",
        CallError::WrongPhase { .. } => "wrong_phase",
        CallError::NotAnInvite(_) => "not_an_invite",
        CallError::InvalidLocalDescription(_) => "invalid_local_description",
        other => panic!("no kind for {other:?}"),
    }
}

// ---- media and frames the traces use ---------------------------------------------------------

/// A minimal SDP that passes the protocol's checks: the given sections, ICE and DTLS.
fn sdp(ufrag: &str, sections: &[&str]) -> String {
    let mids: Vec<String> = (0..sections.len()).map(|i| i.to_string()).collect();
    let mut lines = vec![
        "v=0".to_owned(),
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1".to_owned(),
        "s=-".to_owned(),
        "t=0 0".to_owned(),
        format!("a=group:BUNDLE {}", mids.join(" ")),
        "a=fingerprint:sha-256 12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD".to_owned(),
    ];
    for (i, kind) in sections.iter().enumerate() {
        let format = if *kind == "audio" { "111" } else { "96" };
        lines.push(format!("m={kind} 9 UDP/TLS/RTP/SAVPF {format}"));
        lines.push("c=IN IP4 0.0.0.0".to_owned());
        lines.push(format!("a=mid:{i}"));
        lines.push(format!("a=ice-ufrag:{ufrag}"));
        lines.push("a=ice-pwd:asd88fgpdd777uzjYhagZg4f".to_owned());
        lines.push("a=sendrecv".to_owned());
    }
    let mut text = lines.join("\r\n");
    text.push_str("\r\n");
    text
}

fn description(sdp_type: SdpType, ufrag: &str, sections: &[&str]) -> SessionDescription {
    let description = SessionDescription::new(sdp_type, sdp(ufrag, sections));
    velaro_call_protocol::sdp::check(&description).expect("a trace's SDP passes the checks");
    description
}

const AV: &[&str] = &["audio", "video"];

fn offer(ufrag: &str) -> SessionDescription {
    description(SdpType::Offer, ufrag, AV)
}

fn answer(ufrag: &str) -> SessionDescription {
    description(SdpType::Answer, ufrag, AV)
}

fn described(description: SessionDescription, id: &str) -> DescriptionBody {
    DescriptionBody::new(description, NegotiationId::new(id).unwrap())
}

/// A host candidate of generation `ufrag`, written as the wire writes it back.
fn candidate(ufrag: &str, port: u16) -> IceCandidate {
    let line =
        format!("candidate:{port} 1 udp 2122260223 192.0.2.10 {port} typ host ufrag {ufrag}");
    let candidate = IceCandidate::new(line.parse().unwrap(), Some("0".into()), Some(0))
        .with_username_fragment(ufrag);
    assert_eq!(to_json!(&candidate)["candidate"], json!(line), "the line round-trips");
    candidate
}

fn candidates(ufrag: &str, ports: impl IntoIterator<Item = u16>) -> CandidatesBody {
    CandidatesBody::new(ports.into_iter().map(|port| candidate(ufrag, port)).collect())
}

fn stream(id: &str) -> StreamId {
    StreamId::new(id).unwrap()
}

fn granted(media: MediaKinds, stream_id: &str) -> MediaEvent {
    MediaEvent::PermissionGranted { media, stream_id: stream(stream_id) }
}

fn denied(device: Device, error: MediaError) -> MediaEvent {
    MediaEvent::PermissionDenied { device, error }
}

fn local_candidate(ufrag: &str, port: u16) -> MediaEvent {
    MediaEvent::LocalCandidate(candidate(ufrag, port))
}

fn invite_action(camera_off: bool) -> Action {
    let prompt = Prompt::new(PROMPT).unwrap();
    Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off }
}

fn invite_body() -> InviteBody {
    InviteBody::new(Prompt::new(PROMPT).unwrap(), MediaKinds::AUDIO_VIDEO)
}

fn camera_state(id: &str, audio_muted: bool, video_muted: bool) -> MediaBody {
    let mut streams = BTreeMap::new();
    streams.insert(stream(id), StreamState::camera(audio_muted, video_muted));
    MediaBody::new(streams)
}

fn rejected(code: RejectCode, detail: &str, seq: u64) -> Envelope {
    let role = Role::Agent; // stamped with the recipient's role
    let body = RejectedBody::new(code, detail, Some(seq));
    frame(RELAY_PARTY_ID, role, 1, body)
}

// ---- common openings -------------------------------------------------------------------------

/// Agent: invite, camera granted, ringing, accepted, first offer out (a1, ufrag `agentg1`).
fn agent_offering(trace: &mut Trace) {
    trace
        .action(0, invite_action(false))
        .media(40, granted(MediaKinds::AUDIO_VIDEO, "agent-cam"))
        .peer(120, RingingBody::new())
        .peer(3000, AcceptBody::new(MediaKinds::AUDIO_VIDEO))
        .media(3010, MediaEvent::LocalDescription(offer("agentg1")));
}

/// Agent: a call with media flowing (answer applied, candidates done, ICE connected at 3400).
fn agent_connected(trace: &mut Trace) {
    agent_offering(trace);
    trace
        .media(3020, local_candidate("agentg1", 50000))
        .media(3030, MediaEvent::GatheringComplete)
        .peer(3100, described(answer("visitorg1"), "a1"))
        .peer(3110, candidates("visitorg1", [51000]))
        .media(3400, MediaEvent::Ice(IceState::Connected));
}

/// Visitor: prompted, accepted, granted (the camera and microphone at 1500), offer answered.
fn visitor_answering(trace: &mut Trace, camera: Option<MediaError>) {
    trace.frame(0, frame("agent-1", Role::Agent, 1, invite_body())).action(1000, Action::Accept);
    trace.peer_seq = 1;
    match camera {
        None => {
            trace.media(1500, granted(MediaKinds::AUDIO_VIDEO, "visitor-cam"));
        }
        Some(error) => {
            trace
                .media(1500, denied(Device::Camera, error))
                .media(1550, granted(MediaKinds::AUDIO_ONLY, "visitor-cam"));
        }
    }
    trace
        .peer(1600, described(offer("agentg1"), "a1"))
        .media(1610, MediaEvent::LocalDescription(answer("visitorg1")));
}

/// Visitor: a call with media flowing (ICE connected at 2000).
fn visitor_connected(trace: &mut Trace, camera: Option<MediaError>) {
    visitor_answering(trace, camera);
    trace
        .media(1620, local_candidate("visitorg1", 51000))
        .media(1630, MediaEvent::GatheringComplete)
        .peer(1640, candidates("agentg1", [50000]))
        .media(2000, MediaEvent::Ice(IceState::Connected));
}

// ---- the behaviours --------------------------------------------------------------------------

fn traces() -> Vec<Trace> {
    let mut all = Vec::new();

    let mut t = Trace::new(
        "consent_before_media",
        "Visitor: nothing reaches the media layer before the user accepts and the browser grants \
         the camera; an offer and candidates that came first are held, then applied in order.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()));
    t.peer_seq = 1;
    t.peer(5, described(offer("agentg1"), "a1"))
        .peer(6, candidates("agentg1", [50000, 50002]))
        .action(1000, Action::Accept)
        .media(1500, granted(MediaKinds::AUDIO_VIDEO, "visitor-cam"))
        .media(1510, MediaEvent::LocalDescription(answer("visitorg1")))
        .media(1520, local_candidate("visitorg1", 51000))
        .media(1530, local_candidate("visitorg1", 51002))
        .wait(1720)
        .media(1800, MediaEvent::GatheringComplete)
        .media(1900, MediaEvent::Ice(IceState::Connected))
        .peer(5000, HangupBody::new(Reason::UserHangup));
    all.push(t);

    let mut t = Trace::new(
        "invite_waits_for_the_agents_camera",
        "Agent: the invite goes out only once its own camera and microphone are granted \
         (`inviting` is that wait); ringing, the accept, the first offer, media connected, a \
         mute, the user's hangup and the summary.",
        Role::Agent,
    );
    agent_connected(&mut t);
    t.action(5000, Action::SetMicrophoneMuted(true)).action(9400, Action::Hangup);
    all.push(t);

    let mut t = Trace::new(
        "trickle_batching_and_end_of_candidates",
        "Agent: the first local candidates of a generation are held 200 ms and go as one batch \
         (64 at most to a frame), later ones go at once, and gathering complete sends what is \
         held and one end-of-candidates marker of the generation.",
        Role::Agent,
    );
    agent_offering(&mut t);
    t.media(3020, local_candidate("agentg1", 50000))
        .media(3080, local_candidate("agentg1", 50002))
        .media(3140, local_candidate("agentg1", 50004))
        .wait(3220)
        .media(3300, local_candidate("agentg1", 50006))
        .media(3400, MediaEvent::GatheringComplete);
    all.push(t);

    let mut t = Trace::new(
        "a_full_first_batch_goes_at_once",
        "Agent: 70 candidates before the batch timer: the first 64 go as soon as there are 64, \
         the rest when the timer fires.",
        Role::Agent,
    );
    agent_offering(&mut t);
    for i in 0..70u16 {
        t.media(3020 + u64::from(i), local_candidate("agentg1", 40000 + 2 * i));
    }
    t.wait(3300);
    all.push(t);

    let mut t = Trace::new(
        "remote_candidates_wait_for_their_description",
        "Agent: the visitor's candidates that come before its answer are held (128 at most, the \
         rest dropped) and applied after it in order; a candidate of another generation is \
         held and dropped when a description of another generation is applied.",
        Role::Agent,
    );
    agent_offering(&mut t);
    t.peer(3050, candidates("visitorg1", 1000..1064))
        .peer(3060, candidates("visitorg1", 2000..2064))
        .peer(3070, candidates("visitorg1", 3000..3004))
        .peer(3100, described(answer("visitorg1"), "a1"))
        .peer(3110, candidates("visitorg1", [4000]))
        .peer(3120, candidates("oldgen1", [4002]));
    all.push(t);

    let mut t = Trace::new(
        "glare_the_agent_keeps_its_offer",
        "Agent, impolite: its renegotiation offer (a screen share) is out when the visitor's own \
         offer comes; the visitor's offer is ignored and the answer to ours applied.",
        Role::Agent,
    );
    agent_connected(&mut t);
    t.action(5000, Action::StartScreenShare)
        .media(
            5500,
            MediaEvent::ScreenShareStarted {
                stream_id: stream("agent-screen"),
                surface: DisplaySurface::Window,
            },
        )
        .media(
            5510,
            MediaEvent::LocalDescription(description(
                SdpType::Offer,
                "agentg1",
                &["audio", "video", "video"],
            )),
        )
        .peer(5520, described(offer("visitorg1"), "v1"))
        .peer(
            5600,
            described(
                description(SdpType::Answer, "visitorg1", &["audio", "video", "video"]),
                "a2",
            ),
        )
        .media(8000, MediaEvent::ScreenShareEnded)
        .media(
            8010,
            MediaEvent::LocalDescription(description(
                SdpType::Offer,
                "agentg1",
                &["audio", "video", "video"],
            )),
        )
        .peer(
            8100,
            described(
                description(SdpType::Answer, "visitorg1", &["audio", "video", "video"]),
                "a3",
            ),
        );
    all.push(t);

    let mut t = Trace::new(
        "glare_the_visitor_rolls_back",
        "Visitor, polite: it joined without a camera (missing: audio only), turns a camera on, \
         and its renegotiation offer crosses the agent's; it rolls its own back, answers the \
         agent's, then makes its offer again.",
        Role::Visitor,
    );
    visitor_connected(&mut t, Some(MediaError::NotFound));
    t.action(3000, Action::SetCameraOff(false))
        .media(3200, granted(MediaKinds::VIDEO_ONLY, "visitor-cam"))
        .media(3210, MediaEvent::LocalDescription(offer("visitorg1")))
        .peer(3220, described(offer("agentg1"), "a2"))
        .media(3230, MediaEvent::LocalDescription(answer("visitorg1")))
        .media(3240, MediaEvent::LocalDescription(offer("visitorg1")))
        .peer(3300, described(answer("agentg1"), "v2"));
    all.push(t);

    let mut t = Trace::new(
        "ice_restart_and_reconnect_timeout",
        "Agent: media drops, the call is reconnecting; after 2 s the agent restarts ICE (a new \
         generation, batched again); the connection comes back. It drops again and does not \
         come back within 30 s: the call ends ice_timeout.",
        Role::Agent,
    );
    agent_connected(&mut t);
    t.media(10000, MediaEvent::Ice(IceState::Disconnected))
        .wait(12000)
        .media(12010, MediaEvent::LocalDescription(offer("agentg2")))
        .media(12020, local_candidate("agentg2", 50010))
        .wait(12220)
        .peer(12300, described(answer("visitorg2"), "a2"))
        .media(12500, MediaEvent::Ice(IceState::Connected))
        .media(20000, MediaEvent::Ice(IceState::Disconnected))
        .wait(22000)
        .wait(50000);
    all.push(t);

    let mut t = Trace::new(
        "ice_failed_restarts_at_once",
        "Agent: ICE failed while media flowed: the restart does not wait for the 2 s grace.",
        Role::Agent,
    );
    agent_connected(&mut t);
    t.media(10000, MediaEvent::Ice(IceState::Failed))
        .media(10010, MediaEvent::LocalDescription(offer("agentg2")))
        .peer(10100, described(answer("visitorg2"), "a2"))
        .media(10300, MediaEvent::Ice(IceState::Connected));
    all.push(t);

    let mut t = Trace::new(
        "ice_never_connects",
        "Visitor: media must connect within 30 s of the accept; it does not: ice_failed.",
        Role::Visitor,
    );
    visitor_answering(&mut t, None);
    t.media(1620, MediaEvent::Ice(IceState::Checking)).wait(31500);
    all.push(t);

    let mut t = Trace::new(
        "ice_failed_while_connecting",
        "Agent: ICE gives up before media ever flowed: the call ends ice_failed at once.",
        Role::Agent,
    );
    agent_offering(&mut t);
    t.peer(3100, described(answer("visitorg1"), "a1"))
        .media(4000, MediaEvent::Ice(IceState::Failed));
    all.push(t);

    let mut t = Trace::new(
        "the_visitor_follows_an_ice_restart",
        "Visitor: media drops (reconnecting; the visitor does not restart), the agent's restart \
         offer of a new generation is answered, its candidates applied, media comes back.",
        Role::Visitor,
    );
    visitor_connected(&mut t, None);
    t.media(10000, MediaEvent::Ice(IceState::Disconnected))
        .peer(12000, candidates("agentg2", [50010]))
        .peer(12010, described(offer("agentg2"), "a2"))
        .media(12020, MediaEvent::LocalDescription(answer("visitorg2")))
        .media(12500, MediaEvent::Ice(IceState::Connected));
    all.push(t);

    let mut t = Trace::new(
        "permission_denied",
        "Visitor: the browser refuses the camera (NotAllowedError): no microphone-only retry; \
         help for the user, the decline says why, the call never started.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()))
        .action(1000, Action::Accept)
        .media(1500, denied(Device::Camera, MediaError::NotAllowed));
    all.push(t);

    let mut t = Trace::new(
        "permission_denied_by_policy",
        "Visitor: SecurityError (a Permissions-Policy or an insecure page) is a refusal like \
         NotAllowedError.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()))
        .action(1000, Action::Accept)
        .media(1500, denied(Device::Camera, MediaError::Security));
    all.push(t);

    let mut t = Trace::new(
        "the_agents_camera_refused",
        "Agent: its own camera refused: the invite never goes out and the visitor never rings.",
        Role::Agent,
    );
    t.action(0, invite_action(false)).media(300, denied(Device::Camera, MediaError::NotAllowed));
    all.push(t);

    let mut t = Trace::new(
        "camera_fallback",
        "Visitor: the camera is busy (NotReadableError): the call goes on with audio, the agent \
         is told (camera_unavailable) once media flows. Turning the camera on asks for it alone; \
         still missing, the call goes on; then granted, the call renegotiates.",
        Role::Visitor,
    );
    visitor_connected(&mut t, Some(MediaError::NotReadable));
    t.action(3000, Action::SetCameraOff(false))
        .media(3100, denied(Device::Camera, MediaError::NotFound))
        .action(4000, Action::SetCameraOff(false))
        .media(4100, granted(MediaKinds::VIDEO_ONLY, "visitor-cam"))
        .media(4110, MediaEvent::LocalDescription(offer("visitorg1")))
        .peer(4200, described(answer("agentg1"), "v1"));
    all.push(t);

    let mut t = Trace::new(
        "a_failed_microphone_stops_the_call",
        "Visitor: the camera is missing (fallback to audio), then the microphone is missing too: \
         the call cannot start, and the microphone is named.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()))
        .action(1000, Action::Accept)
        .media(1500, denied(Device::Camera, MediaError::NotFound))
        .media(1550, denied(Device::Microphone, MediaError::NotFound));
    all.push(t);

    let mut t = Trace::new(
        "the_agent_starts_without_its_camera",
        "Agent: invites with its camera off (the microphone alone is asked for; the visitor is \
         still asked for video), then turns the camera on mid-call: it is asked for, granted, \
         and the call renegotiates. A refused camera mid-call leaves it off.",
        Role::Agent,
    );
    t.action(0, invite_action(true))
        .media(40, granted(MediaKinds::AUDIO_ONLY, "agent-cam"))
        .peer(120, RingingBody::new())
        .peer(3000, AcceptBody::new(MediaKinds::AUDIO_VIDEO))
        .media(3010, MediaEvent::LocalDescription(offer("agentg1")))
        .media(3030, MediaEvent::GatheringComplete)
        .peer(3100, described(answer("visitorg1"), "a1"))
        .media(3400, MediaEvent::Ice(IceState::Connected))
        .action(5000, Action::SetCameraOff(false))
        .media(5100, denied(Device::Camera, MediaError::NotAllowed))
        .action(6000, Action::SetCameraOff(false))
        .media(6100, granted(MediaKinds::VIDEO_ONLY, "agent-cam"))
        .media(6110, MediaEvent::LocalDescription(offer("agentg1")));
    all.push(t);

    let mut t = Trace::new(
        "audio_only_advice_with_hysteresis",
        "Agent: quality samples (one a second) report the level on change only; the agent is \
         advised to go audio only after three poor samples of the worse of both ends (the \
         visitor's report counts), never by alternating samples, and told it recovered after \
         three excellent ones (a middling one resets the count).",
        Role::Agent,
    );
    agent_connected(&mut t);
    let sample = |rtt_ms, loss_pct| MediaEvent::QualitySample { rtt_ms, loss_pct };
    t.media(4400, sample(500, 0.0))
        .media(5400, sample(50, 0.0))
        .media(6400, sample(500, 0.0))
        .media(7400, sample(50, 0.0))
        .peer(7500, QualityBody::new(QualityLevel::Poor))
        .media(8400, sample(50, 0.0))
        .media(9400, sample(50, 0.0))
        .media(10400, sample(50, 8.0))
        .media(11400, sample(50, 8.0))
        .peer(11500, QualityBody::new(QualityLevel::Excellent))
        .action(11600, Action::SwitchToAudioOnly(AudioOnlyReason::Quality))
        .media(12400, sample(50, 0.0))
        .media(13400, sample(50, 0.0))
        .media(14400, sample(300, 0.0))
        .media(15400, sample(50, 0.0))
        .media(16400, sample(50, 0.0))
        .media(17400, sample(50, 0.0))
        .action(18000, Action::SetCameraOff(false));
    all.push(t);

    let mut t = Trace::new(
        "quality_levels",
        "Visitor: the level of a sample at and past each threshold (rtt 250 and 400 ms, loss 2, \
         5 and 20 %; a loss that cannot be computed counts as total), each change reported.",
        Role::Visitor,
    );
    visitor_connected(&mut t, None);
    let samples: [(u32, f64); 12] = [
        (249, 1.9),
        (250, 1.9),
        (249, 2.0),
        (400, 5.0),
        (401, 0.0),
        (100, 5.1),
        (100, 19.9),
        (100, 20.0),
        (0, 0.0),
        (100, f64::NAN),
        (100, 150.0),
        (100, -3.0),
    ];
    for (i, (rtt_ms, loss_pct)) in samples.into_iter().enumerate() {
        t.media(3000 + 1000 * i as u64, MediaEvent::QualitySample { rtt_ms, loss_pct });
    }
    all.push(t);

    let mut t = Trace::new(
        "the_visitor_follows_audio_only",
        "Visitor: it follows the agent's audio-only switch as the marker appears and as it goes, \
         not while it lasts: in between it may turn its camera back on; an older call.media that \
         arrives late is ignored.",
        Role::Visitor,
    );
    visitor_connected(&mut t, None);
    let audio_only =
        |muted| camera_state("agent-cam", muted, true).with_audio_only(AudioOnlyReason::Quality);
    t.peer(3000, audio_only(false))
        .peer(4000, audio_only(true))
        .action(5000, Action::SetCameraOff(false))
        .peer(6000, audio_only(false))
        .peer(7000, camera_state("agent-cam", false, false))
        .peer(8000, audio_only(false))
        .action(8500, Action::SetCameraOff(true))
        .peer(9000, camera_state("agent-cam", false, false));
    // A stale copy: seq 5 again (a duplicate), then an older state (seq 8 after 11).
    let stale = frame("agent-1", Role::Agent, 8, camera_state("agent-cam", true, true));
    let duplicate = frame("agent-1", Role::Agent, 11, camera_state("agent-cam", false, false));
    t.frame(9500, duplicate).frame(9600, stale);
    all.push(t);

    let mut t = Trace::new(
        "the_visitor_declines",
        "Visitor: the user says no: the decline goes out and the call ends declined.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body())).action(4000, Action::Decline);
    all.push(t);

    let mut t = Trace::new(
        "a_decline_reaches_the_agent",
        "Agent: the visitor declined; the agent's cancel tells the visitor's other tabs.",
        Role::Agent,
    );
    t.action(0, invite_action(false))
        .media(40, granted(MediaKinds::AUDIO_VIDEO, "agent-cam"))
        .peer(120, RingingBody::new())
        .peer(4000, DeclineBody::new(Reason::Declined));
    all.push(t);

    let mut t = Trace::new(
        "the_agent_cancels",
        "Agent: hangup before the answer cancels the invite.",
        Role::Agent,
    );
    t.action(0, invite_action(false))
        .media(40, granted(MediaKinds::AUDIO_VIDEO, "agent-cam"))
        .peer(120, RingingBody::new())
        .action(4000, Action::Hangup);
    all.push(t);

    let mut t = Trace::new(
        "a_cancel_reaches_the_visitor",
        "Visitor: the agent withdrew the invite: the prompt goes away.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()));
    t.peer_seq = 1;
    t.peer(4000, CancelBody::new(Reason::Cancelled));
    all.push(t);

    let mut t = Trace::new(
        "the_invite_expires_for_the_agent",
        "Agent: nobody answered within the invite's lifetime (60 s from when it went out): \
         cancel invite_timeout, a missed call.",
        Role::Agent,
    );
    t.action(0, invite_action(false))
        .media(40, granted(MediaKinds::AUDIO_VIDEO, "agent-cam"))
        .peer(120, RingingBody::new())
        .wait(60040);
    all.push(t);

    let mut t = Trace::new(
        "the_invite_expires_for_the_visitor",
        "Visitor: the prompt goes away at the invite's lifetime by the visitor's own clock, also \
         while the browser is still asking for the camera.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()))
        .action(59000, Action::Accept)
        .wait(60000);
    all.push(t);

    let mut t = Trace::new(
        "answered_in_another_tab",
        "Visitor, a second tab: the agent selected the first tab's accept; this tab's prompt \
         goes away, answered elsewhere.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()));
    t.peer_seq = 1;
    t.peer(3000, SelectAnswerBody::new(PartyId::new("visitor-2").unwrap()));
    all.push(t);

    let mut t = Trace::new(
        "the_losing_accept_of_two_tabs",
        "Visitor: this tab accepted at the same moment as another; the relay refuses its accept \
         (a notice that ends nothing), then the agent's choice of the other tab ends the call, \
         answered elsewhere.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()))
        .action(1000, Action::Accept)
        .media(1500, granted(MediaKinds::AUDIO_VIDEO, "visitor-cam"));
    let mut refusal = rejected(RejectCode::Forbidden, "call call-1 was answered by visitor-2", 2);
    refusal.role = Role::Visitor;
    t.frame(1520, refusal);
    t.peer_seq = 1;
    t.peer(1530, SelectAnswerBody::new(PartyId::new("visitor-2").unwrap()));
    all.push(t);

    let mut t = Trace::new(
        "relay_refusals",
        "Agent: a refusal of the invite (busy) ends the call; a refusal while the call is not \
         ringing (here: rate limited, in another trace's words) would only be reported.",
        Role::Agent,
    );
    t.action(0, invite_action(false))
        .media(40, granted(MediaKinds::AUDIO_VIDEO, "agent-cam"))
        .frame(60, rejected(RejectCode::Busy, "a call is already live in conv-1", 1));
    all.push(t);

    let mut t = Trace::new(
        "refusals_in_a_call_are_reported",
        "Agent: in a call, refusals are reported and change nothing.",
        Role::Agent,
    );
    agent_connected(&mut t);
    t.frame(5000, rejected(RejectCode::RateLimited, "too many frames", 9))
        .frame(5100, rejected(RejectCode::Busy, "busy", 10));
    all.push(t);

    let mut t = Trace::new(
        "acks_to_the_relay",
        "Visitor: what the call took is acknowledged to the relay a second after it came, one \
         call.ack per burst and again after new frames; a relay that refuses an ack as an \
         unknown type hears no more of them, and nobody is told.",
        Role::Visitor,
    );
    t.frame(0, frame("agent-1", Role::Agent, 1, invite_body()));
    t.peer_seq = 1;
    t.peer(500, described(offer("agentg1"), "a1"))
        .peer(600, candidates("agentg1", [50000]))
        .wait(1000)
        .wait(3000)
        .peer(3000, candidates("agentg1", [50002]))
        .wait(4000)
        // The visitor's seq 1 is its ringing, 2 and 3 its acks.
        .frame(4100, rejected(RejectCode::UnknownType, "message type call.ack is not relayed", 3))
        .peer(4200, candidates("agentg1", [50004]))
        .wait(6000);
    all.push(t);

    let mut t = Trace::new(
        "frames_that_are_not_for_the_call",
        "Agent: a duplicate is dropped; once bound, another visitor tab's frames are ignored; \
         a newer peer's unknown message type is ignored; a frame of our own side is refused.",
        Role::Agent,
    );
    agent_connected(&mut t);
    let again = frame("visitor-1", Role::Visitor, 3, described(answer("visitorg1"), "a1"));
    let other_tab = frame("visitor-2", Role::Visitor, 1, AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    let own = frame("agent-2", Role::Agent, 1, HangupBody::new(Reason::UserHangup));
    t.frame(5000, again).frame(5100, other_tab).frame(5200, own);
    all.push(t);

    all
}

/// The ended calls a visitor's client remembers (`EndedCalls`): which frames may ring.
fn ended_calls_trace() -> Value {
    let mut ended = EndedCalls::default();
    let call = |id: &str, seq, message: Message| {
        let mut envelope = frame("agent-1", Role::Agent, seq, message);
        envelope.call_id = CallId::new(id).unwrap();
        envelope
    };
    let mut frames = vec![
        call("call-a", 2, CancelBody::new(Reason::Cancelled).into()),
        call("call-a", 1, invite_body().into()),
        call("call-b", 1, invite_body().into()),
        call("call-c", 3, HangupBody::new(Reason::UserHangup).into()),
        call("call-c", 1, invite_body().into()),
        call("call-d", 2, SelectAnswerBody::new(PartyId::new("visitor-2").unwrap()).into()),
        call("call-d", 1, invite_body().into()),
        call("call-e", 2, RingingBody::new().into()),
    ];
    // Capacity: 64 more ended calls forget call-a, whose invite then rings again.
    for n in 0..EndedCalls::<()>::CAPACITY {
        frames.push(call(&format!("call-x{n}"), 2, CancelBody::new(Reason::Cancelled).into()));
    }
    frames.push(call("call-a", 1, invite_body().into()));
    frames.push(call("call-c", 1, invite_body().into()));
    let steps: Vec<Value> = frames
        .iter()
        .map(|envelope| json!({ "frame": wire(envelope), "starts_a_call": ended.starts_a_call(envelope) }))
        .collect();
    json!({
        "name": "ended_calls",
        "description": "Visitor without a live call: an invite rings unless its call's hangup, \
                        cancel or select_answer came first; the last 64 ended calls are remembered.",
        "kind": "ended_calls",
        "steps": steps,
    })
}

/// The numbers the package's generated constants take from the crates.
fn constants() -> Value {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap();
    let timings = Timings::default();
    json!({
        "ended_calls_capacity": EndedCalls::<()>::CAPACITY,
        "limits": {
            "default_invite_lifetime_ms": ms(limits::DEFAULT_INVITE_LIFETIME),
            "max_candidates": limits::MAX_CANDIDATES,
            "max_capabilities": limits::MAX_CAPABILITIES,
            "max_client_seq": limits::MAX_CLIENT_SEQ,
            "max_detail_len": limits::MAX_DETAIL_LEN,
            "max_id_len": limits::MAX_ID_LEN,
            "max_invite_lifetime_ms": ms(limits::MAX_INVITE_LIFETIME),
            "max_locale_len": limits::MAX_LOCALE_LEN,
            "max_m_sections": limits::MAX_M_SECTIONS,
            "max_prompt_len": limits::MAX_PROMPT_LEN,
            "max_sdp_len": limits::MAX_SDP_LEN,
            "max_seq": limits::MAX_SEQ,
            "max_short_token_len": limits::MAX_SHORT_TOKEN_LEN,
            "max_stream_id_len": limits::MAX_STREAM_ID_LEN,
            "max_streams": limits::MAX_STREAMS,
            "max_token_len": limits::MAX_TOKEN_LEN,
            "min_invite_lifetime_ms": ms(limits::MIN_INVITE_LIFETIME),
        },
        "relay_party_id": RELAY_PARTY_ID,
        "tuning": {
            "good_loss_pct": tuning::GOOD_LOSS_PCT,
            "good_rtt_ms": tuning::GOOD_RTT_MS,
            "lost_loss_pct": tuning::LOST_LOSS_PCT,
            "max_held_candidates": tuning::MAX_HELD_CANDIDATES,
            "poor_loss_pct": tuning::POOR_LOSS_PCT,
            "poor_rtt_ms": tuning::POOR_RTT_MS,
            "quality_sustain": tuning::QUALITY_SUSTAIN,
        },
        "timings_ms": {
            "ack_delay": ms(timings.ack_delay),
            "candidate_batch": ms(timings.candidate_batch),
            "ice_connect": ms(timings.ice_connect),
            "ice_reconnect": ms(timings.ice_reconnect),
            "ice_restart_after": ms(timings.ice_restart_after),
        },
    })
}

fn traces_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("velaro-call-js").join("traces")
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    text
}

#[test]
fn the_committed_traces_are_what_the_call_machine_does() {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for trace in traces() {
        assert!(trace.steps.len() > 1, "{}: a trace has steps", trace.name);
        let previous = files.insert(format!("{}.json", trace.name), pretty(&trace.trace_json()));
        assert!(previous.is_none(), "{}: two traces of one name", trace.name);
    }
    files.insert("ended_calls.json".to_owned(), pretty(&ended_calls_trace()));
    files.insert("constants.json".to_owned(), pretty(&constants()));
    let dir = traces_dir();
    if std::env::var_os("VELARO_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, text) in &files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    let mut stale = Vec::new();
    for (name, text) in &files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(_) => stale.push(format!("{name} differs")),
            Err(error) => stale.push(format!("{name}: {error}")),
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && !files.contains_key(&name) {
            stale.push(format!("{name} is no trace of this test"));
        }
    }
    assert!(
        stale.is_empty(),
        "velaro-call-js/traces is stale ({}): VELARO_BLESS=1 cargo test -p velaro-tests --test \
         js_traces rewrites it; then the package's `npm test` says whether the JavaScript follows",
        stale.join("; ")
    );
}

#[test]
fn every_behaviour_of_the_issue_has_a_trace() {
    let names: Vec<&str> = traces().iter().map(|t| t.name).collect();
    for wanted in [
        "consent_before_media",
        "glare_the_agent_keeps_its_offer",
        "glare_the_visitor_rolls_back",
        "trickle_batching_and_end_of_candidates",
        "ice_restart_and_reconnect_timeout",
        "ice_never_connects",
        "permission_denied",
        "camera_fallback",
        "audio_only_advice_with_hysteresis",
        "the_visitor_declines",
        "the_agent_cancels",
        "the_invite_expires_for_the_agent",
        "answered_in_another_tab",
    ] {
        assert!(names.contains(&wanted), "{wanted}");
    }
}

#[test]
fn traces_end_as_they_say() {
    // A few outcomes checked here too, so that a trace that stopped showing its behaviour is
    // caught even when blessed.
    let find = |name: &str| traces().into_iter().find(|t| t.name == name).unwrap();
    let last_phase = |t: &Trace| t.steps.last().unwrap()["phase"].as_str().unwrap().to_owned();
    let ended_reason = |t: &Trace| {
        t.steps.iter().flat_map(|s| s["outputs"].as_array().unwrap().clone()).find_map(|o| {
            (o["event"]["type"] == "ended").then(|| o["event"]["reason"]["code"].clone())
        })
    };
    assert_eq!(
        ended_reason(&find("ice_restart_and_reconnect_timeout")),
        Some(json!("ice_timeout"))
    );
    assert_eq!(ended_reason(&find("ice_never_connects")), Some(json!("ice_failed")));
    assert_eq!(ended_reason(&find("answered_in_another_tab")), Some(json!("answered_elsewhere")));
    assert_eq!(
        ended_reason(&find("the_losing_accept_of_two_tabs")),
        Some(json!("answered_elsewhere"))
    );
    assert_eq!(ended_reason(&find("relay_refusals")), Some(json!("busy")));
    assert_eq!(last_phase(&find("glare_the_visitor_rolls_back")), "active");
    assert_eq!(last_phase(&find("refusals_in_a_call_are_reported")), "active");
    let acks = find("acks_to_the_relay");
    let outputs: Vec<&Value> =
        acks.steps.iter().flat_map(|s| s["outputs"].as_array().unwrap()).collect();
    let sent_acks: Vec<&Value> =
        outputs.iter().filter_map(|o| o.get("send")).filter(|f| f["type"] == "call.ack").collect();
    assert_eq!(sent_acks.len(), 2, "{sent_acks:?}");
    assert_eq!(sent_acks[0]["seq"], 2);
    assert_eq!(sent_acks[0]["body"]["seen"], "agent-1:3");
    assert_eq!(sent_acks[1]["seq"], 3);
    assert_eq!(sent_acks[1]["body"]["seen"], "agent-1:4");
    assert!(
        outputs.iter().all(|o| o.get("event").is_none_or(|e| e["type"] != "rejected")),
        "the refused ack is not an event"
    );
    let consent = find("consent_before_media");
    let before: Vec<&Value> =
        consent.steps.iter().take(3).flat_map(|s| s["outputs"].as_array().unwrap()).collect();
    assert!(before.iter().all(|o| o.get("media").is_none()), "no media command before consent");
}
