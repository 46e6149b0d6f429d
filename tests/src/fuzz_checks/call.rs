//! The `call` target: one party's [`Call`] fed a script of envelopes (mutated fixtures), user
//! actions, media-layer events and timeouts, with its promises checked after every input.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::message::media::{AudioOnlyReason, DisplaySurface, StreamId};
use velaro_call_protocol::velaro_ice_config::{Candidate, RtcConfiguration};
use velaro_call_protocol::{
    CallId, ConversationId, Device, Envelope, MediaError, PartyId, Role, decode, encode,
};
use velaro_call_state::{
    Action, Call, CallConfig, CallError, Event, IceState, MediaEvent, Output, Phase,
};

use super::frames::{self, AGENT, CALL, CONVERSATION, VISITOR};
use super::input::Input;
use super::{base_instant, excerpt};

/// The most inputs one fuzz input runs.
const MAX_STEPS: usize = 256;

/// The captured browser descriptions the local media layer "creates".
const LOCAL_SDPS: &[&str] = &[
    include_str!("../../fixtures/browser/chromium-offer-av.json"),
    include_str!("../../fixtures/browser/chromium-answer-av.json"),
    include_str!("../../fixtures/browser/chromium-offer-recvonly.json"),
    include_str!("../../fixtures/browser/firefox-offer-av.json"),
    include_str!("../../fixtures/browser/chromium-offer-screen-renegotiation.json"),
    include_str!("../../fixtures/browser/chromium-answer-screen-renegotiation.json"),
];

/// The captured candidates the local media layer "gathers".
const LOCAL_CANDIDATES: &[&str] = &[
    include_str!("../../fixtures/browser/chromium-candidates.json"),
    include_str!("../../fixtures/browser/chromium-candidates-mdns.json"),
    include_str!("../../fixtures/browser/firefox-candidates.json"),
];

fn local_sdps() -> &'static [String] {
    static SDPS: OnceLock<Vec<String>> = OnceLock::new();
    SDPS.get_or_init(|| {
        LOCAL_SDPS
            .iter()
            .map(|text| {
                let json: Value = serde_json::from_str(text).expect("fixtures are json");
                json["sdp"].as_str().expect("a captured description has an sdp").to_owned()
            })
            .collect()
    })
}

fn local_candidates() -> &'static [Candidate] {
    static CANDIDATES: OnceLock<Vec<Candidate>> = OnceLock::new();
    CANDIDATES.get_or_init(|| {
        LOCAL_CANDIDATES
            .iter()
            .flat_map(|text| {
                let json: Vec<Value> = serde_json::from_str(text).expect("fixtures are json");
                json.into_iter().filter_map(|c| c["candidate"].as_str()?.parse().ok())
            })
            .collect()
    })
}

/// The `RTCConfiguration` of the invite fixture.
fn fixture_ice() -> RtcConfiguration {
    let invite: Value = serde_json::from_str(frames::invite_fixture()).expect("json");
    serde_json::from_value(invite["body"]["ice"].clone()).expect("the fixture's ice decodes")
}

/// Runs the script in `data`; panics when the call breaks one of its promises.
pub fn call_script(data: &[u8]) {
    let mut input = Input::new(data);
    let mut run = Run::new(&mut input);
    for _ in 0..MAX_STEPS {
        if input.is_empty() {
            break;
        }
        run.step(&mut input);
    }
}

/// One call, its clock and what it emitted so far.
struct Run {
    call: Call,
    now: Instant,
    /// The `seq` the next peer envelope gets when the script asks for a fresh one.
    peer_seq: u64,
    /// How many `Event::Ended` the call emitted.
    ended_events: usize,
}

impl Run {
    fn new(input: &mut Input<'_>) -> Run {
        let now = base_instant();
        let conversation = ConversationId::new(CONVERSATION).expect("valid id");
        let call = if input.flag() {
            let config = CallConfig::new(conversation, PartyId::new(VISITOR).expect("valid id"));
            let pristine = || decode(frames::invite_fixture().trim().as_bytes()).expect("decodes");
            // A mutated invite that does not decode or start a call gives way to the fixture's.
            let invite = if input.flag() {
                decode(&frames::mutated_frame(input)).unwrap_or_else(|_| pristine())
            } else {
                pristine()
            };
            Call::visitor(config.clone(), &invite, now).unwrap_or_else(|_| {
                Call::visitor(config, &pristine(), now).expect("the fixture's invite rings")
            })
        } else {
            let config = CallConfig::new(conversation, PartyId::new(AGENT).expect("valid id"));
            Call::agent(config, CallId::new(CALL).expect("valid id"), now)
        };
        let mut run = Run { call, now, peer_seq: 2, ended_events: 0 };
        run.check("start", Phase::Idle, false, Ok(()));
        run
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let (phase, ended) = (self.call.phase(), self.call.is_ended());
        let now = self.now;
        match input.byte() % 8 {
            0..=2 => {
                let Some(envelope) = self.peer_envelope(input) else { return };
                let what = format!(
                    "{} seq {} from {} {}",
                    envelope.message_type(),
                    envelope.seq,
                    envelope.role,
                    envelope.party_id
                );
                let result = self.call.handle_message(now, envelope);
                self.check(&what, phase, ended, result);
            }
            3 => {
                let Some(action) = action(input) else { return };
                let what = format!("action {action:?}");
                let result = self.call.handle_action(now, action);
                self.check(&what, phase, ended, result);
            }
            4 | 5 => {
                let Some(event) = media_event(input) else { return };
                let what = media_event_name(&event);
                let result = self.call.handle_media(now, event);
                self.check(&what, phase, ended, result);
            }
            6 => {
                let millis = *input.pick(&[
                    0, 1, 199, 200, 1000, 1999, 2000, 10_000, 29_999, 30_000, 60_000, 600_000,
                ]);
                self.now += Duration::from_millis(millis);
                self.timeout(&format!("{millis} ms later, timeout"), phase, ended);
            }
            _ => {
                if let Some(at) = self.call.poll_timeout() {
                    self.now = self.now.max(at);
                }
                self.timeout("timeout at the call's deadline", phase, ended);
            }
        }
    }

    /// An envelope from a mutated fixture, stamped as the peer would be by the relay unless
    /// the script says otherwise.
    fn peer_envelope(&mut self, input: &mut Input<'_>) -> Option<Envelope> {
        let flags = input.byte();
        let mut envelope = decode(&frames::mutated_frame(input)).ok()?;
        if flags & 1 == 0 {
            let (party, role) = match self.call.role() {
                Role::Agent => (VISITOR, Role::Visitor),
                Role::Visitor => (AGENT, Role::Agent),
            };
            let seq = if flags & 2 == 0 { self.peer_seq } else { envelope.seq };
            self.peer_seq += 1;
            envelope.stamp(PartyId::new(party).expect("valid id"), role, seq);
        }
        Some(envelope)
    }

    fn timeout(&mut self, what: &str, phase: Phase, ended: bool) {
        self.call.handle_timeout(self.now);
        if let Some(at) = self.call.poll_timeout() {
            assert!(at > self.now, "after `{what}` the call's next timeout is not in the future");
        }
        self.check(what, phase, ended, Ok(()));
    }

    /// Drains the outputs of one input and checks the call's promises about them.
    fn check(&mut self, what: &str, phase: Phase, was_ended: bool, result: Result<(), CallError>) {
        let outputs: Vec<Output> = std::iter::from_fn(|| self.call.poll_output()).collect();
        if let Err(error) = &result {
            assert_eq!(self.call.phase(), phase, "`{what}` was refused ({error}) but moved on");
            assert!(outputs.is_empty(), "`{what}` was refused ({error}) but did {outputs:?}");
        }
        if was_ended {
            assert!(self.call.is_ended(), "`{what}` brought an ended call back");
            assert!(
                !outputs.iter().any(|o| matches!(o, Output::Send(_))),
                "`{what}` made an ended call send {outputs:?}"
            );
        }
        for output in &outputs {
            match output {
                Output::Send(envelope) => {
                    let frame = encode(envelope);
                    match decode(&frame) {
                        Ok(back) => {
                            assert_eq!(&back, envelope, "`{what}`: a sent envelope changed")
                        }
                        Err(error) => panic!(
                            "`{what}` made the call send a frame that does not decode ({error}): {}",
                            excerpt(&frame)
                        ),
                    }
                }
                Output::Event(Event::Ended { .. }) => self.ended_events += 1,
                _ => {}
            }
        }
        assert!(self.ended_events <= 1, "`{what}`: the call ended twice");
        assert_eq!(self.call.is_ended(), self.call.phase() == Phase::Ended);
        assert_eq!(
            self.call.is_ended(),
            self.ended_events == 1,
            "`{what}`: ended without telling the user, or told without ending"
        );
        assert_eq!(self.call.is_ended(), self.call.summary().is_some(), "`{what}`: summary");
    }
}

/// One of `words`.
fn word(input: &mut Input<'_>, words: &[&'static str]) -> &'static str {
    words[input.index(words.len())]
}

fn media(input: &mut Input<'_>) -> MediaKinds {
    MediaKinds::new(input.flag(), input.flag())
}

fn stream_id(input: &mut Input<'_>) -> StreamId {
    let text = *input.pick(&["cam", "screen", "{6c9fe6a9-5c2b-4d4b-9d1a-4f3f5b0d2a11}"]);
    StreamId::new(text).expect("valid stream ids")
}

/// A user action; `None` when the script asks for a prompt the protocol refuses.
fn action(input: &mut Input<'_>) -> Option<Action> {
    Some(match input.byte() % 10 {
        0 => {
            // One byte picks the prompt (low bits) and whether the agent starts camera off.
            let pick = input.byte();
            let text = match pick % 4 {
                0 => "Your agent would like to start a video call. Accept?".to_owned(),
                1 => "x".repeat(velaro_call_protocol::limits::MAX_PROMPT_LEN),
                2 => "Line one\nline two\tand a tab".to_owned(),
                _ => "caf\u{e9} \u{1f642}".to_owned(),
            };
            let ice = input.flag().then(fixture_ice);
            let (prompt, camera_off) = (Prompt::new(text).ok()?, pick & 4 != 0);
            Action::Invite { prompt, media: media(input), ice, camera_off }
        }
        1 => Action::Cancel,
        2 => Action::Accept,
        3 => Action::Decline,
        4 => Action::Hangup,
        5 => Action::SetMicrophoneMuted(input.flag()),
        6 => Action::SetCameraOff(input.flag()),
        7 => Action::StartScreenShare,
        8 => Action::StopScreenShare,
        _ => Action::SwitchToAudioOnly(
            AudioOnlyReason::parse(word(input, &["quality", "camera_unavailable", "x-new"]))
                .expect("valid reasons"),
        ),
    })
}

/// A fact from the local media layer: what a browser would report, from captured data.
fn media_event(input: &mut Input<'_>) -> Option<MediaEvent> {
    Some(match input.byte() % 11 {
        0 => MediaEvent::PermissionGranted { media: media(input), stream_id: stream_id(input) },
        1 => MediaEvent::PermissionDenied {
            device: Device::parse(word(input, &["camera", "microphone", "screen"])).ok()?,
            error: MediaError::parse(word(
                input,
                &[
                    "NotAllowedError",
                    "NotFoundError",
                    "NotReadableError",
                    "AbortError",
                    "x-new-error",
                    "OverconstrainedError",
                    "SecurityError",
                ],
            ))
            .ok()?,
        },
        2 => MediaEvent::ScreenShareStarted {
            stream_id: stream_id(input),
            surface: DisplaySurface::parse(word(input, &["monitor", "window", "browser"])).ok()?,
        },
        3 => MediaEvent::ScreenShareEnded,
        4 => MediaEvent::LocalDescription(local_description(input)),
        5 => MediaEvent::LocalCandidate(local_candidate(input)),
        6 => MediaEvent::GatheringComplete,
        7 => MediaEvent::NegotiationNeeded,
        8 => MediaEvent::Ice(*input.pick(&[
            IceState::Checking,
            IceState::Connected,
            IceState::Disconnected,
            IceState::Failed,
        ])),
        _ => MediaEvent::QualitySample {
            rtt_ms: *input.pick(&[0, 50, 150, 400, 1000, u32::MAX]),
            loss_pct: *input.pick(&[
                0.0,
                1.0,
                8.5,
                30.0,
                100.0,
                100.5,
                -0.0,
                -1.0,
                f64::NAN,
                f64::INFINITY,
            ]),
        },
    })
}

/// A media event, without the SDP or candidate it may carry.
fn media_event_name(event: &MediaEvent) -> String {
    match event {
        MediaEvent::LocalDescription(description) => {
            format!("local {:?} of {} bytes", description.sdp_type, description.sdp.len())
        }
        MediaEvent::LocalCandidate(candidate) => {
            format!("local candidate (end: {})", candidate.is_end_of_candidates())
        }
        other => format!("{other:?}"),
    }
}

/// A captured description as the local media layer would create it: offer or answer, its
/// ICE credentials kept or rotated (an ICE restart), its line endings kept or made LF.
fn local_description(input: &mut Input<'_>) -> SessionDescription {
    let mut sdp = input.pick(local_sdps()).clone();
    let sdp_type = if input.flag() { SdpType::Offer } else { SdpType::Answer };
    if input.flag() {
        let generation = input.byte() % 4;
        sdp = sdp
            .lines()
            .map(|line| match line.strip_prefix("a=ice-ufrag:") {
                Some(ufrag) => format!("a=ice-ufrag:{ufrag}{generation}\r\n"),
                None => format!("{line}\r\n"),
            })
            .collect();
    }
    if input.flag() {
        sdp = sdp.replace("\r\n", "\n");
    }
    SessionDescription::new(sdp_type, sdp)
}

/// A captured candidate for one of the first m-sections, of the local generation or another.
fn local_candidate(input: &mut Input<'_>) -> IceCandidate {
    if input.byte().is_multiple_of(8) {
        return IceCandidate::end_of_candidates(input.flag().then(|| "lZ7j".to_owned()));
    }
    let candidate = input.pick(local_candidates()).clone();
    let (mid, index) = *input.pick(&[("0", 0), ("1", 1), ("2", 2)]);
    let candidate = IceCandidate::new(candidate, Some(mid.to_owned()), Some(index));
    match input.byte() % 3 {
        0 => candidate,
        1 => candidate.with_username_fragment("lZ7j"),
        _ => candidate.with_username_fragment("LvlJ"),
    }
}
