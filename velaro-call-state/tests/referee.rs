//! The relay's referee: one named test per rule, asserting the exact verdict and reject code,
//! plus notices checked against the real call machines, bounded memory, and a property over
//! random frame sequences.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use velaro_call_protocol::message::answer::{
    AcceptBody, CancelBody, DeclineBody, RingingBody, SelectAnswerBody,
};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType, SessionDescription};
use velaro_call_protocol::message::hangup::{HangupBody, RejectCode, RejectedBody};
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::{MediaBody, QualityBody, QualityLevel};
use velaro_call_protocol::velaro_ice_config::Candidate;
use velaro_call_protocol::{
    CallId, ConversationId, Device, Envelope, MediaError, Message, NegotiationId, PartyId, Reason,
    Role, decode, encode,
};
use velaro_call_state::{
    Action, Call, CallConfig, CallReport, CallSummary, Delivery, Event, Fact, MediaEvent,
    MediaUsed, Notice, Outcome, Output, PromptEnd, Referee, RefereeOutput, RefereeSnapshot,
};

const CONV: &str = "conv-42";
const AGENT: &str = "agent-1";
const AGENT2: &str = "agent-2";
const TAB_A: &str = "tab-a";
const TAB_B: &str = "tab-b";
const LIFETIME: Duration = Duration::from_secs(60);

fn conv() -> ConversationId {
    ConversationId::new(CONV).unwrap()
}

fn party(id: &str) -> PartyId {
    PartyId::new(id).unwrap()
}

fn call_id(id: &str) -> CallId {
    CallId::new(id).unwrap()
}

fn role_of(id: &str) -> Role {
    if id.starts_with("agent") { Role::Agent } else { Role::Visitor }
}

fn invite_body() -> InviteBody {
    InviteBody::new(
        Prompt::new("Your agent would like to start a video call. Accept?").unwrap(),
        MediaKinds::AUDIO_VIDEO,
    )
}

fn candidates(n: usize) -> CandidatesBody {
    let candidate: Candidate =
        "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host".parse().unwrap();
    CandidatesBody::new(vec![IceCandidate::new(candidate, Some("0".into()), Some(0)); n])
}

fn offer() -> DescriptionBody {
    DescriptionBody::new(
        SessionDescription::new(SdpType::Offer, "v=0\r\n"),
        NegotiationId::new("n1").unwrap(),
    )
}

fn reject(code: RejectCode) -> impl Fn(&Verdict) -> bool {
    move |verdict| matches!(verdict, Verdict::Reject { code: c, .. } if *c == code)
}

fn delivery_to(id: &str) -> Delivery {
    match role_of(id) {
        Role::Agent => Delivery::Agent(party(id)),
        Role::Visitor => Delivery::Visitor(party(id)),
    }
}

fn to_party(id: &str) -> Verdict {
    Verdict::Deliver(delivery_to(id))
}

fn to_visitors() -> Verdict {
    Verdict::Deliver(Delivery::AllVisitors)
}

/// A conversation with a referee, a fixed start instant and per-(call, party) sequence
/// numbers, so each test reads as the frames the relay sees.
struct Room {
    referee: Referee,
    start: Instant,
    seqs: HashMap<(String, String), u64>,
    /// What the referee wrote and told so far, not yet looked at.
    notices: Vec<Notice>,
    facts: Vec<Fact>,
}

/// What became of a judged frame: the referee's ruling output on it.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Deliver(Delivery),
    Reject { code: RejectCode, detail: String },
    Drop,
}

impl Room {
    fn new() -> Room {
        Room::with_video(true)
    }

    #[allow(clippy::disallowed_methods)] // a test needs one real instant to start from
    fn with_video(video: bool) -> Room {
        Room {
            referee: Referee::new(conv(), video),
            start: Instant::now(),
            seqs: HashMap::new(),
            notices: Vec::new(),
            facts: Vec::new(),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.start + Duration::from_secs(secs)
    }

    fn envelope(&mut self, from: &str, call: &str, message: impl Into<Message>) -> Envelope {
        let seq = self.seqs.entry((call.to_owned(), from.to_owned())).or_insert(0);
        *seq += 1;
        Envelope::new(conv(), call_id(call), party(from), role_of(from), *seq, message)
    }

    /// Judges a frame from `from` (role by name) at `secs` after the start.
    fn send(&mut self, secs: u64, from: &str, call: &str, message: impl Into<Message>) -> Verdict {
        let envelope = self.envelope(from, call, message);
        self.judge(secs, from, &envelope)
    }

    fn judge(&mut self, secs: u64, from: &str, envelope: &Envelope) -> Verdict {
        self.judge_at(self.at(secs), from, envelope)
    }

    /// Judges a frame, then drains the referee: exactly one ruling on the frame, after the
    /// notices and facts it caused; a forwarded frame carries its sender's identity.
    fn judge_at(&mut self, now: Instant, from: &str, envelope: &Envelope) -> Verdict {
        self.referee.handle_message(now, role_of(from), &party(from), envelope.clone());
        let mut rulings = Vec::new();
        while let Some(output) = self.referee.poll_output() {
            match output {
                RefereeOutput::Notice(notice) => {
                    assert!(rulings.is_empty(), "a notice after the ruling: {notice:?}");
                    self.notices.push(notice);
                }
                RefereeOutput::Fact(fact) => self.facts.push(fact),
                RefereeOutput::Forward { to, envelope: forwarded } => {
                    assert_eq!(
                        (&forwarded.party_id, forwarded.role),
                        (&party(from), role_of(from))
                    );
                    assert_eq!(forwarded.message, envelope.message);
                    rulings.push(Verdict::Deliver(to));
                }
                RefereeOutput::Refuse { envelope: refused, code, detail } => {
                    assert_eq!(refused.seq, envelope.seq);
                    rulings.push(Verdict::Reject { code, detail });
                }
                RefereeOutput::Drop(dropped) => {
                    assert_eq!(dropped.seq, envelope.seq);
                    rulings.push(Verdict::Drop);
                }
            }
        }
        assert_eq!(rulings.len(), 1, "one ruling per frame: {rulings:?}");
        rulings.remove(0)
    }

    /// Drains what inputs other than frames (timeouts, joins, lost parties) caused.
    fn drain(&mut self) {
        while let Some(output) = self.referee.poll_output() {
            match output {
                RefereeOutput::Notice(notice) => self.notices.push(notice),
                RefereeOutput::Fact(fact) => self.facts.push(fact),
                other => panic!("a ruling without a frame: {other:?}"),
            }
        }
    }

    fn facts(&mut self) -> Vec<Fact> {
        self.drain();
        std::mem::take(&mut self.facts)
    }

    fn notices(&mut self) -> Vec<Notice> {
        self.drain();
        std::mem::take(&mut self.notices)
    }

    /// The party is gone past the relay's grace; whether that ended the live call.
    fn lost(&mut self, now: Instant, from: &str) -> bool {
        self.drain();
        let ended_before = self.facts.len();
        self.referee.handle_party_lost(now, role_of(from), &party(from));
        self.drain();
        self.facts[ended_before..].iter().any(|f| matches!(f, Fact::CallEnded { .. }))
    }

    fn ended(&mut self) -> Vec<CallSummary> {
        self.facts()
            .into_iter()
            .filter_map(|fact| match fact {
                Fact::CallEnded { report } => Some(report.summary),
                Fact::CallStarted { .. } => None,
            })
            .collect()
    }

    /// `AGENT` invites `call` at 0 s, `TAB_A` rings and accepts at 5 s, the agent selects it.
    fn answered(&mut self, call: &str) {
        assert_eq!(self.send(0, AGENT, call, invite_body()), to_visitors());
        assert_eq!(self.send(1, TAB_A, call, RingingBody::new()), to_party(AGENT));
        assert_eq!(
            self.send(5, TAB_A, call, AcceptBody::new(MediaKinds::AUDIO_VIDEO)),
            to_party(AGENT)
        );
        assert_eq!(self.send(5, AGENT, call, SelectAnswerBody::new(party(TAB_A))), to_visitors());
        self.facts();
        self.notices();
    }

    /// [`answered`](Self::answered), and media connected at 5 s: `TAB_A`'s first `call.media`.
    fn connected(&mut self, call: &str) {
        self.answered(call);
        assert_eq!(self.send(5, TAB_A, call, MediaBody::default()), to_party(AGENT));
    }
}

// --- who may invite ---

#[test]
fn invite_from_an_agent_goes_to_all_visitors_and_starts_the_clock() {
    let mut room = Room::new();
    assert_eq!(room.send(0, AGENT, "c1", invite_body()), to_visitors());
    assert_eq!(room.referee.live_call(), Some(&call_id("c1")));
    assert_eq!(room.referee.live_agent(), Some(&party(AGENT)));
    assert_eq!(room.referee.live_visitor(), None);
    assert_eq!(room.referee.poll_timeout(), Some(room.at(60)));
    assert!(room.facts().is_empty(), "no fact until an answer or an end");
}

#[test]
fn invite_from_a_visitor_is_forbidden() {
    let mut room = Room::new();
    let verdict = room.send(0, TAB_A, "c1", invite_body());
    assert!(reject(RejectCode::Forbidden)(&verdict), "{verdict:?}");
    assert_eq!(room.referee.live_call(), None);
}

#[test]
fn identity_comes_from_the_connection_not_the_envelope() {
    let mut room = Room::new();
    // The envelope claims to be the agent; the connection says it is a visitor tab.
    let forged = Envelope::new(conv(), call_id("c1"), party(AGENT), Role::Agent, 1, invite_body());
    let verdict = room.judge(0, TAB_A, &forged);
    assert!(reject(RejectCode::Forbidden)(&verdict), "{verdict:?}");
    assert_eq!(room.referee.live_call(), None);
}

#[test]
fn invite_when_video_is_disabled_is_feature_disabled() {
    let mut room = Room::with_video(false);
    assert!(!room.referee.video_enabled());
    let verdict = room.send(0, AGENT, "c1", invite_body());
    assert!(reject(RejectCode::FeatureDisabled)(&verdict), "{verdict:?}");
    assert_eq!(room.referee.live_call(), None);
    room.referee.set_video_enabled(true);
    // The refused call ended at the agent: its id is spent, a new call rings.
    let reused = room.send(1, AGENT, "c1", invite_body());
    assert!(reject(RejectCode::CallEnded)(&reused), "{reused:?}");
    assert_eq!(room.send(1, AGENT, "c2", invite_body()), to_visitors());
}

#[test]
fn disabling_video_leaves_the_live_call_alone() {
    let mut room = Room::new();
    room.answered("c1");
    room.referee.set_video_enabled(false);
    assert_eq!(room.send(6, AGENT, "c1", offer()), to_party(TAB_A));
    let verdict = room.send(7, AGENT2, "c2", invite_body());
    assert!(reject(RejectCode::FeatureDisabled)(&verdict), "{verdict:?}");
}

// --- one live call; glare ---

#[test]
fn second_invite_while_a_call_is_answered_is_busy() {
    let mut room = Room::new();
    room.answered("c5");
    // Even a lesser call_id from another device: glare applies only before the answer.
    for (from, call) in [(AGENT, "c9"), (AGENT2, "c1"), (AGENT2, "c8")] {
        let verdict = room.send(10, from, call, invite_body());
        assert!(reject(RejectCode::Busy)(&verdict), "{from} {call}: {verdict:?}");
    }
    assert_eq!(room.referee.live_call(), Some(&call_id("c5")));
    assert!(room.facts().is_empty());
}

#[test]
fn second_invite_from_the_same_device_while_ringing_is_busy() {
    let mut room = Room::new();
    room.send(0, AGENT, "c5", invite_body());
    let verdict = room.send(1, AGENT, "c1", invite_body());
    assert!(reject(RejectCode::Busy)(&verdict), "{verdict:?}");
    assert_eq!(room.referee.live_call(), Some(&call_id("c5")));
}

#[test]
fn glare_the_lesser_call_id_from_another_agent_device_replaces_the_ringing_call() {
    let mut room = Room::new();
    room.send(0, AGENT, "call-b", invite_body());
    room.send(1, TAB_A, "call-b", RingingBody::new());
    assert_eq!(room.send(2, AGENT2, "call-a", invite_body()), to_visitors());
    assert_eq!(room.referee.live_call(), Some(&call_id("call-a")));
    assert_eq!(room.referee.live_agent(), Some(&party(AGENT2)));
    assert_eq!(room.referee.poll_timeout(), Some(room.at(62)));

    let ended = room.ended();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].call_id, call_id("call-b"));
    assert_eq!(ended[0].reason, Reason::Replaced);
    assert_eq!(ended[0].outcome, Outcome::Cancelled);
    assert_eq!(ended[0].ended_by, Some(Role::Agent));
    assert_eq!(ended[0].ring_time, Duration::from_secs(2));
    assert_eq!(ended[0].talk_time, Duration::ZERO);

    let notices = room.notices();
    assert_eq!(notices.len(), 2, "{notices:?}");
    // The old call's tabs stop prompting: a cancel from the old call's agent.
    assert_eq!(notices[0].to, Delivery::AllVisitors);
    let cancel = &notices[0].envelope;
    assert_eq!(cancel.call_id, call_id("call-b"));
    assert_eq!((&cancel.party_id, cancel.role), (&party(AGENT), Role::Agent));
    assert_eq!(cancel.seq, 2, "one past the invite's seq");
    assert_eq!(cancel.message, Message::Cancel(CancelBody::new(Reason::Replaced)));
    // The old call's agent learns it was replaced.
    assert_eq!(notices[1].to, Delivery::Agent(party(AGENT)));
    let hangup = &notices[1].envelope;
    assert_eq!((&hangup.party_id, hangup.role), (&party("relay"), Role::Visitor));
    assert_eq!(hangup.message, Message::Hangup(HangupBody::new(Reason::Replaced)));
    // Notices are real frames: they survive the codec.
    for notice in &notices {
        assert_eq!(decode(&encode(&notice.envelope)).unwrap(), notice.envelope);
    }

    // The replaced call is over: its late frames are dropped quietly.
    assert_eq!(
        room.send(3, TAB_A, "call-b", AcceptBody::new(MediaKinds::AUDIO_VIDEO)),
        Verdict::Drop
    );
    // The new call proceeds.
    assert_eq!(
        room.send(4, TAB_A, "call-a", AcceptBody::new(MediaKinds::AUDIO_VIDEO)),
        to_party(AGENT2)
    );
}

#[test]
fn glare_the_greater_call_id_gets_busy() {
    let mut room = Room::new();
    room.send(0, AGENT, "call-a", invite_body());
    let verdict = room.send(1, AGENT2, "call-b", invite_body());
    assert!(reject(RejectCode::Busy)(&verdict), "{verdict:?}");
    assert_eq!(room.referee.live_call(), Some(&call_id("call-a")));
    assert!(room.facts().is_empty());
    assert!(room.notices().is_empty());
}

#[test]
fn an_invite_reusing_the_live_call_id_is_refused() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let again = room.send(1, AGENT, "c1", invite_body());
    assert!(reject(RejectCode::Invalid)(&again), "{again:?}");
    let other_device = room.send(1, AGENT2, "c1", invite_body());
    assert!(reject(RejectCode::Busy)(&other_device), "{other_device:?}");
    assert_eq!(room.referee.live_agent(), Some(&party(AGENT)));
}

// --- who sends what ---

#[test]
fn ringing_accept_decline_from_an_agent_are_forbidden() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    for message in [
        Message::from(RingingBody::new()),
        AcceptBody::new(MediaKinds::AUDIO_VIDEO).into(),
        DeclineBody::new(Reason::Declined).into(),
    ] {
        for from in [AGENT, AGENT2] {
            let verdict = room.send(1, from, "c1", message.clone());
            assert!(reject(RejectCode::Forbidden)(&verdict), "{message}: {verdict:?}");
        }
    }
    assert_eq!(room.referee.live_visitor(), None);
}

#[test]
fn select_answer_and_cancel_from_a_visitor_are_forbidden() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let select = room.send(1, TAB_A, "c1", SelectAnswerBody::new(party(TAB_A)));
    assert!(reject(RejectCode::Forbidden)(&select), "{select:?}");
    let cancel = room.send(1, TAB_A, "c1", CancelBody::default());
    assert!(reject(RejectCode::Forbidden)(&cancel), "{cancel:?}");
    assert_eq!(room.referee.live_call(), Some(&call_id("c1")));
}

#[test]
fn before_the_answer_invite_and_cancel_go_to_all_tabs_ringing_and_decline_to_the_inviter() {
    let mut room = Room::new();
    assert_eq!(room.send(0, AGENT, "c1", invite_body()), to_visitors());
    assert_eq!(room.send(1, TAB_A, "c1", RingingBody::new()), to_party(AGENT));
    assert_eq!(room.send(1, TAB_B, "c1", RingingBody::new()), to_party(AGENT));
    assert_eq!(room.send(2, AGENT, "c1", CancelBody::default()), to_visitors());

    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    assert_eq!(room.send(3, TAB_B, "c1", DeclineBody::new(Reason::Declined)), to_party(AGENT));
}

#[test]
fn cancel_only_from_the_inviting_agent() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let verdict = room.send(1, AGENT2, "c1", CancelBody::default());
    assert!(reject(RejectCode::Forbidden)(&verdict), "{verdict:?}");
    assert_eq!(room.referee.live_call(), Some(&call_id("c1")));
    assert!(room.facts().is_empty());
}

#[test]
fn an_agent_device_that_did_not_invite_is_forbidden_everything_of_the_call() {
    let mut room = Room::new();
    room.answered("c1");
    for message in [
        Message::from(offer()),
        candidates(1).into(),
        MediaBody::default().into(),
        QualityBody::new(QualityLevel::Good).into(),
        HangupBody::default().into(),
        SelectAnswerBody::new(party(TAB_A)).into(),
    ] {
        let verdict = room.send(6, AGENT2, "c1", message.clone());
        assert!(reject(RejectCode::Forbidden)(&verdict), "{message}: {verdict:?}");
    }
    assert_eq!(room.referee.live_call(), Some(&call_id("c1")));
}

#[test]
fn media_before_the_answer_is_forbidden() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    for (from, message) in [
        (AGENT, Message::from(offer())),
        (AGENT, candidates(2).into()),
        (TAB_A, candidates(2).into()),
        (TAB_A, MediaBody::default().into()),
        (AGENT, QualityBody::new(QualityLevel::Poor).into()),
    ] {
        let verdict = room.send(1, from, "c1", message.clone());
        assert!(reject(RejectCode::Forbidden)(&verdict), "{from} {message}: {verdict:?}");
    }
}

// --- conversation and call ids ---

#[test]
fn a_frame_of_another_conversation_is_unknown_call() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let elsewhere = Envelope::new(
        ConversationId::new("conv-other").unwrap(),
        call_id("c1"),
        party(TAB_A),
        Role::Visitor,
        1,
        AcceptBody::new(MediaKinds::AUDIO_VIDEO),
    );
    let verdict = room.judge(1, TAB_A, &elsewhere);
    assert!(reject(RejectCode::UnknownCall)(&verdict), "{verdict:?}");
    assert_eq!(room.referee.live_visitor(), None);
    let invite_elsewhere = Envelope::new(
        ConversationId::new("conv-other").unwrap(),
        call_id("c2"),
        party(AGENT2),
        Role::Agent,
        1,
        invite_body(),
    );
    let verdict = room.judge(1, AGENT2, &invite_elsewhere);
    assert!(reject(RejectCode::UnknownCall)(&verdict), "{verdict:?}");
}

#[test]
fn a_frame_for_an_unknown_call_id_is_unknown_call() {
    let mut room = Room::new();
    let verdict = room.send(0, TAB_A, "nope", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    assert!(reject(RejectCode::UnknownCall)(&verdict), "{verdict:?}");
    room.send(0, AGENT, "c1", invite_body());
    for (from, message) in [
        (TAB_A, Message::from(RingingBody::new())),
        (AGENT, HangupBody::default().into()),
        (AGENT, candidates(1).into()),
    ] {
        let verdict = room.send(1, from, "nope", message.clone());
        assert!(reject(RejectCode::UnknownCall)(&verdict), "{message}: {verdict:?}");
    }
}

#[test]
fn unknown_message_types_are_rejected() {
    let mut room = Room::new();
    room.answered("c1");
    let frame = br#"{"type":"call.reaction","version":1,"conversation_id":"conv-42","call_id":"c1","party_id":"tab-a","role":"visitor","seq":9,"body":{"emoji":"+1"}}"#;
    let envelope = decode(frame).unwrap();
    assert!(matches!(envelope.message, Message::Unknown(_)));
    let verdict = room.judge(6, TAB_A, &envelope);
    assert!(reject(RejectCode::UnknownType)(&verdict), "{verdict:?}");
}

#[test]
fn call_rejected_from_a_client_is_forbidden() {
    let mut room = Room::new();
    room.answered("c1");
    for from in [AGENT, TAB_A] {
        let body = RejectedBody::new(RejectCode::Busy, "spoofed", Some(1));
        let verdict = room.send(6, from, "c1", body);
        assert!(reject(RejectCode::Forbidden)(&verdict), "{from}: {verdict:?}");
    }
    assert_eq!(room.referee.live_call(), Some(&call_id("c1")));
}

// --- the invite's lifetime ---

#[test]
fn accept_after_expiry_is_expired_before_the_timer_fired() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    // The relay did not wake up at the deadline; the judgement is the same.
    let verdict = room.send(61, TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    assert!(reject(RejectCode::Expired)(&verdict), "{verdict:?}");
    let ended = room.ended();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].outcome, Outcome::Missed);
}

#[test]
fn accept_after_expiry_is_expired_after_the_timer_fired() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let deadline = room.referee.poll_timeout().unwrap();
    room.referee.handle_timeout(deadline);
    let verdict = room.send(70, TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    assert!(reject(RejectCode::Expired)(&verdict), "{verdict:?}");
    // Other late frames of the expired call are dropped quietly.
    assert_eq!(room.send(70, TAB_B, "c1", RingingBody::new()), Verdict::Drop);
    assert_eq!(room.send(70, TAB_B, "c1", DeclineBody::new(Reason::Declined)), Verdict::Drop);
    assert_eq!(room.send(70, AGENT, "c1", CancelBody::new(Reason::InviteTimeout)), Verdict::Drop);
}

#[test]
fn accept_just_before_the_deadline_binds() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let just_before = room.at(60).checked_sub(Duration::from_millis(1)).unwrap();
    let accept = room.envelope(TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    let verdict = room.judge_at(just_before, TAB_A, &accept);
    assert_eq!(verdict, to_party(AGENT));
    assert_eq!(room.referee.poll_timeout(), None, "answered: no invite timer");
}

#[test]
fn the_lifetime_is_the_invites_own_by_the_relays_clock() {
    let mut room = Room::new();
    let short = invite_body().with_lifetime(Duration::from_secs(15)).unwrap();
    room.send(30, AGENT, "c1", short);
    assert_eq!(room.referee.poll_timeout(), Some(room.at(45)));
}

#[test]
fn timeout_ends_the_call_as_missed() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    room.send(1, TAB_A, "c1", RingingBody::new());
    let deadline = room.referee.poll_timeout().unwrap();
    room.referee.handle_timeout(deadline.checked_sub(Duration::from_millis(1)).unwrap());
    assert_eq!(room.referee.live_call(), Some(&call_id("c1")), "not yet");
    assert!(room.facts().is_empty());

    // Late wake-up: the summary still ends at the deadline.
    room.referee.handle_timeout(deadline + Duration::from_secs(3));
    assert_eq!(room.referee.live_call(), None);
    assert_eq!(room.referee.poll_timeout(), None);
    let facts = room.facts();
    assert_eq!(
        facts,
        vec![Fact::CallEnded {
            report: Box::new(CallReport {
                conversation_id: conv(),
                summary: CallSummary {
                    call_id: call_id("c1"),
                    outcome: Outcome::Missed,
                    ended_by: None,
                    reason: Reason::InviteTimeout,
                    ring_time: LIFETIME,
                    talk_time: Duration::ZERO,
                },
                agent: party(AGENT),
                visitor: None,
                invited_at: room.at(0),
                answered_at: None,
                media_connected_at: None,
                ended_at: deadline,
                media: MediaUsed::default(),
            }),
        }]
    );
    let notices = room.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, Delivery::AllVisitors);
    assert_eq!(
        notices[0].envelope.message,
        Message::Cancel(CancelBody::new(Reason::InviteTimeout))
    );
    // The conversation is free again.
    assert_eq!(room.send(70, AGENT, "c2", invite_body()), to_visitors());
}

#[test]
fn timeout_at_exactly_the_deadline_makes_progress() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let deadline = room.referee.poll_timeout().unwrap();
    room.referee.handle_timeout(deadline);
    assert_eq!(room.referee.live_call(), None);
    assert_eq!(room.referee.poll_timeout(), None);
    room.referee.handle_timeout(deadline + Duration::from_secs(1));
    assert_eq!(room.ended().len(), 1, "ends exactly once");
}

// --- the first answering tab wins ---

#[test]
fn the_first_accept_binds_that_visitor_tab() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    room.send(1, TAB_A, "c1", RingingBody::new());
    room.send(1, TAB_B, "c1", RingingBody::new());
    let accept = room.send(7, TAB_B, "c1", AcceptBody::new(MediaKinds::AUDIO_ONLY));
    assert_eq!(accept, to_party(AGENT));
    assert_eq!(room.referee.live_visitor(), Some(&party(TAB_B)));
    assert_eq!(
        room.facts(),
        vec![Fact::CallStarted {
            call_id: call_id("c1"),
            agent: party(AGENT),
            visitor: party(TAB_B),
            at: room.at(7),
        }]
    );
}

#[test]
fn a_later_accept_from_another_tab_is_forbidden() {
    let mut room = Room::new();
    room.answered("c1");
    let verdict = room.send(6, TAB_B, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    assert!(reject(RejectCode::Forbidden)(&verdict), "{verdict:?}");
    let Verdict::Reject { detail, .. } = verdict else { unreachable!() };
    assert!(detail.contains("answered by another visitor tab"), "{detail}");
    let decline = room.send(6, TAB_B, "c1", DeclineBody::new(Reason::Declined));
    assert!(reject(RejectCode::Forbidden)(&decline), "{decline:?}");
    assert_eq!(room.referee.live_visitor(), Some(&party(TAB_A)));
    assert!(room.facts().is_empty(), "the call goes on");
}

#[test]
fn the_bound_tab_cannot_accept_or_decline_again() {
    let mut room = Room::new();
    room.answered("c1");
    let accept = room.send(6, TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    assert!(reject(RejectCode::Invalid)(&accept), "{accept:?}");
    let decline = room.send(6, TAB_A, "c1", DeclineBody::new(Reason::Declined));
    assert!(reject(RejectCode::Invalid)(&decline), "{decline:?}");
    assert!(room.facts().is_empty(), "the call goes on");
}

#[test]
fn ringing_after_the_answer_is_dropped() {
    let mut room = Room::new();
    room.answered("c1");
    assert_eq!(room.send(6, TAB_B, "c1", RingingBody::new()), Verdict::Drop);
    assert_eq!(room.send(6, TAB_A, "c1", RingingBody::new()), Verdict::Drop);
}

#[test]
fn select_answer_goes_to_all_visitor_tabs_and_must_name_the_bound_tab() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let early = room.send(1, AGENT, "c1", SelectAnswerBody::new(party(TAB_A)));
    assert!(reject(RejectCode::Invalid)(&early), "{early:?}");
    room.send(2, TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    let wrong = room.send(3, AGENT, "c1", SelectAnswerBody::new(party(TAB_B)));
    assert!(reject(RejectCode::Invalid)(&wrong), "{wrong:?}");
    assert_eq!(room.send(3, AGENT, "c1", SelectAnswerBody::new(party(TAB_A))), to_visitors());
}

#[test]
fn after_binding_media_flows_only_between_the_bound_parties() {
    let mut room = Room::new();
    room.answered("c1");
    for message in [
        Message::from(offer()),
        candidates(3).into(),
        MediaBody::default().into(),
        QualityBody::new(QualityLevel::Excellent).into(),
    ] {
        assert_eq!(room.send(6, AGENT, "c1", message.clone()), to_party(TAB_A), "{message}");
        assert_eq!(room.send(6, TAB_A, "c1", message.clone()), to_party(AGENT), "{message}");
        let other_tab = room.send(6, TAB_B, "c1", message.clone());
        assert!(reject(RejectCode::Forbidden)(&other_tab), "{message}: {other_tab:?}");
        let other_agent = room.send(6, AGENT2, "c1", message.clone());
        assert!(reject(RejectCode::Forbidden)(&other_agent), "{message}: {other_agent:?}");
    }
    let hangup = room.send(6, TAB_B, "c1", HangupBody::default());
    assert!(reject(RejectCode::Forbidden)(&hangup), "{hangup:?}");
    assert_eq!(room.referee.live_call(), Some(&call_id("c1")));
}

// --- candidates ---

#[test]
fn candidates_are_capped_at_100_per_direction() {
    let mut room = Room::new();
    room.answered("c1");
    assert_eq!(Referee::MAX_CANDIDATES, 100);
    for _ in 0..3 {
        assert_eq!(room.send(6, AGENT, "c1", candidates(32)), to_party(TAB_A));
    }
    // 96 so far: 5 more would make 101.
    let over = room.send(6, AGENT, "c1", candidates(5));
    assert!(reject(RejectCode::TooLarge)(&over), "{over:?}");
    // A refused batch does not count: exactly 100 is fine.
    assert_eq!(room.send(6, AGENT, "c1", candidates(4)), to_party(TAB_A));
    let one_more = room.send(6, AGENT, "c1", candidates(1));
    assert!(reject(RejectCode::TooLarge)(&one_more), "{one_more:?}");
    // The other direction has its own budget; end-of-candidates markers count too.
    let marker = CandidatesBody::new(vec![IceCandidate::end_of_candidates(None)]);
    assert_eq!(room.send(6, TAB_A, "c1", candidates(64)), to_party(AGENT));
    assert_eq!(room.send(6, TAB_A, "c1", candidates(35)), to_party(AGENT));
    assert_eq!(room.send(6, TAB_A, "c1", marker.clone()), to_party(AGENT));
    let past = room.send(6, TAB_A, "c1", marker);
    assert!(reject(RejectCode::TooLarge)(&past), "{past:?}");
    // The call itself goes on.
    assert_eq!(room.send(7, AGENT, "c1", offer()), to_party(TAB_A));
}

#[test]
fn the_candidate_budget_is_per_call() {
    let mut room = Room::new();
    room.answered("c1");
    room.send(6, AGENT, "c1", candidates(64));
    room.send(6, AGENT, "c1", candidates(36));
    room.send(7, AGENT, "c1", HangupBody::default());
    room.answered("c2");
    assert_eq!(room.send(8, AGENT, "c2", candidates(64)), to_party(TAB_A));
}

// --- ends ---

#[test]
fn hangup_ends_the_call_with_a_summary() {
    let mut room = Room::new();
    room.connected("c1");
    assert_eq!(room.send(257, TAB_A, "c1", HangupBody::default()), to_party(AGENT));
    assert_eq!(room.referee.live_call(), None);
    let ended = room.ended();
    assert_eq!(
        ended,
        vec![CallSummary {
            call_id: call_id("c1"),
            outcome: Outcome::Answered,
            ended_by: Some(Role::Visitor),
            reason: Reason::UserHangup,
            ring_time: Duration::from_secs(5),
            talk_time: Duration::from_secs(252),
        }]
    );
    assert_eq!(ended[0].transcript_line(), "Video call ended (4 min 12 s)");
    assert!(room.notices().is_empty(), "the agent gets the hangup itself");
}

#[test]
fn hangup_from_the_agent_goes_to_the_bound_tab() {
    let mut room = Room::new();
    room.connected("c1");
    assert_eq!(room.send(65, AGENT, "c1", HangupBody::default()), to_party(TAB_A));
    let ended = room.ended();
    assert_eq!(ended[0].ended_by, Some(Role::Agent));
    assert_eq!(ended[0].talk_time, Duration::from_secs(60));
}

#[test]
fn a_failure_after_the_answer_is_a_failed_call() {
    let mut room = Room::new();
    room.connected("c1");
    room.send(40, AGENT, "c1", HangupBody::new(Reason::IceFailed));
    let ended = room.ended();
    assert_eq!(ended[0].outcome, Outcome::Failed);
    assert_eq!(ended[0].talk_time, Duration::from_secs(35), "counted from media connecting");
}

#[test]
fn talk_time_counts_from_the_first_call_media_not_the_accept() {
    let mut room = Room::new();
    room.answered("c1");
    // Offer, answer and candidates take 12 s; then the agent's media connects first.
    room.send(6, AGENT, "c1", offer());
    room.send(7, TAB_A, "c1", candidates(3));
    room.send(9, TAB_A, "c1", QualityBody::new(QualityLevel::Good));
    assert_eq!(room.send(17, AGENT, "c1", MediaBody::default()), to_party(TAB_A));
    room.send(18, TAB_A, "c1", MediaBody::default());
    room.send(77, TAB_A, "c1", HangupBody::default());
    let ended = room.ended();
    assert_eq!(ended[0].outcome, Outcome::Answered);
    assert_eq!(ended[0].ring_time, Duration::from_secs(5), "to the accept");
    assert_eq!(ended[0].talk_time, Duration::from_secs(60), "from the first call.media");
}

#[test]
fn a_call_whose_media_never_connected_bills_no_talk_time() {
    let mut room = Room::new();
    room.answered("c1");
    room.send(6, AGENT, "c1", offer());
    room.send(30, AGENT, "c1", HangupBody::default());
    let ended = room.ended();
    assert_eq!(ended[0].talk_time, Duration::ZERO, "not the 25 s since the accept");
    assert_eq!(ended[0].outcome, Outcome::Answered, "accepted: as both parties see it");

    room.answered("c2");
    assert!(room.lost(room.at(30), TAB_A));
    let ended = room.ended();
    assert_eq!((ended[0].outcome, ended[0].talk_time), (Outcome::Failed, Duration::ZERO));
}

#[test]
fn decline_ends_the_call_and_stops_the_other_tabs() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    room.send(1, TAB_A, "c1", RingingBody::new());
    let denied =
        Reason::MediaPermissionDenied { device: Device::Camera, error: MediaError::NotAllowed };
    assert_eq!(room.send(4, TAB_A, "c1", DeclineBody::new(denied.clone())), to_party(AGENT));
    let ended = room.ended();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].outcome, Outcome::Declined);
    assert_eq!(ended[0].reason, denied);
    assert_eq!(ended[0].ended_by, Some(Role::Visitor));
    assert_eq!(ended[0].ring_time, Duration::from_secs(4));
    let notices = room.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, Delivery::AllVisitors);
    assert_eq!(
        notices[0].envelope.message,
        Message::Cancel(CancelBody::new(Reason::AnsweredElsewhere))
    );
    assert_eq!(notices[0].envelope.party_id, party(AGENT));
    // Another tab's accept after that is too late.
    assert_eq!(room.send(5, TAB_B, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO)), Verdict::Drop);
}

#[test]
fn hangup_from_a_tab_before_the_answer_is_a_decline() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    assert_eq!(room.send(2, TAB_B, "c1", HangupBody::default()), to_party(AGENT));
    assert_eq!(room.ended()[0].ended_by, Some(Role::Visitor));
    assert_eq!(room.notices().len(), 1, "the other tabs stop prompting");
}

#[test]
fn cancel_ends_the_call_as_cancelled() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    assert_eq!(room.send(9, AGENT, "c1", CancelBody::default()), to_visitors());
    let ended = room.ended();
    assert_eq!(ended[0].outcome, Outcome::Cancelled);
    assert_eq!(ended[0].reason, Reason::Cancelled);
    assert_eq!(ended[0].ended_by, Some(Role::Agent));
    assert_eq!(ended[0].ring_time, Duration::from_secs(9));
    assert!(room.notices().is_empty(), "the cancel itself tells the tabs");

    // A hangup from the inviting agent before the answer works as a cancel.
    room.send(10, AGENT, "c2", invite_body());
    assert_eq!(room.send(11, AGENT, "c2", HangupBody::default()), to_visitors());
    assert_eq!(room.ended()[0].outcome, Outcome::Cancelled);
}

#[test]
fn a_cancel_racing_an_accept_ends_the_answered_call() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    room.send(3, TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    // The agent's cancel crossed the accept, so the agent never selected the tab: every tab
    // hears the end (the bound one, and one whose own accept lost the race).
    assert_eq!(room.send(3, AGENT, "c1", CancelBody::default()), to_visitors());
    assert_eq!(room.referee.live_call(), None);
    assert_eq!(room.ended()[0].ended_by, Some(Role::Agent));
}

#[test]
fn once_the_agent_selected_a_tab_only_that_tab_hears_the_end() {
    let mut room = Room::new();
    room.answered("c1"); // TAB_A accepted and the agent selected it
    assert_eq!(room.send(9, AGENT, "c1", HangupBody::default()), to_party(TAB_A));
    // A relay-written end before the selection reaches every tab, as a cancel.
    room.send(10, AGENT, "c2", invite_body());
    room.send(11, TAB_B, "c2", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    room.notices();
    room.lost(room.at(12), AGENT);
    let notices = room.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, Delivery::AllVisitors);
    assert_eq!(
        notices[0].envelope.message,
        Message::Cancel(CancelBody::new(Reason::SignalingLost))
    );
}

#[test]
fn the_bound_tab_hanging_up_before_the_selection_stops_the_other_tabs() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    room.send(1, TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    assert_eq!(room.send(2, TAB_A, "c1", HangupBody::default()), to_party(AGENT));
    let notices = room.notices();
    assert_eq!(notices.len(), 1, "TAB_B may have accepted too, and waits");
    assert_eq!(notices[0].to, Delivery::AllVisitors);
    assert_eq!(
        notices[0].envelope.message,
        Message::Cancel(CancelBody::new(Reason::AnsweredElsewhere))
    );
    // Once the agent selected a tab, the others heard it: its hangup goes to the agent only.
    room.answered("c2");
    room.send(9, TAB_A, "c2", HangupBody::default());
    assert!(room.notices().is_empty());
}

#[test]
fn a_duplicate_of_an_invite_refused_busy_never_rings_later() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let second = room.envelope(AGENT2, "c2", invite_body());
    let busy = room.judge(1, AGENT2, &second);
    assert!(reject(RejectCode::Busy)(&busy), "{busy:?}");
    room.send(2, TAB_A, "c1", DeclineBody::new(Reason::Declined));
    // The link duplicates the refused invite: its agent's call ended on `busy` long ago.
    let duplicate = room.judge(3, AGENT2, &second);
    assert!(reject(RejectCode::CallEnded)(&duplicate), "{duplicate:?}");
    assert_eq!(room.referee.live_call(), None);
    assert_eq!(room.referee.poll_timeout(), None);
}

#[test]
fn the_first_terminal_frame_wins() {
    let mut room = Room::new();
    room.answered("c1");
    assert_eq!(room.send(20, AGENT, "c1", HangupBody::default()), to_party(TAB_A));
    assert_eq!(room.send(20, TAB_A, "c1", HangupBody::default()), Verdict::Drop);
    assert_eq!(room.send(20, AGENT, "c1", CancelBody::default()), Verdict::Drop);
    let ended = room.ended();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].ended_by, Some(Role::Agent));
}

// --- tombstones ---

#[test]
fn every_frame_of_an_ended_call_is_dropped_quietly() {
    let mut room = Room::new();
    room.answered("c1");
    room.send(20, TAB_A, "c1", HangupBody::default());
    assert_eq!(room.ended().len(), 1);
    for (from, message) in [
        (AGENT, Message::from(offer())),
        (TAB_A, candidates(1).into()),
        (AGENT, MediaBody::default().into()),
        (AGENT, HangupBody::default().into()),
        (TAB_B, AcceptBody::new(MediaKinds::AUDIO_VIDEO).into()),
        (TAB_B, RingingBody::new().into()),
        (AGENT, SelectAnswerBody::new(party(TAB_A)).into()),
    ] {
        assert_eq!(room.send(21, from, "c1", message.clone()), Verdict::Drop, "{message}");
    }
    assert!(room.facts().is_empty());
    assert!(room.notices().is_empty());
}

#[test]
fn an_invite_of_an_ended_call_never_rings_again_and_its_sender_is_told() {
    let mut room = Room::new();
    let invite = room.envelope(AGENT, "c1", invite_body());
    assert_eq!(room.judge(0, AGENT, &invite), to_visitors());
    room.send(1, AGENT, "c1", CancelBody::default());
    room.facts();
    // Replayed byte for byte, or the id reused by a new call (seq 1 again, as a fresh call
    // machine counts), by the agent or another device: refused with a code to act on (pick a
    // new call id), never delivered, never waiting in silence.
    let reused = Envelope::new(conv(), call_id("c1"), party(AGENT), Role::Agent, 1, invite_body());
    for (from, envelope) in [(AGENT, invite.clone()), (AGENT, reused.clone()), (AGENT2, reused)] {
        let verdict = room.judge(2, from, &envelope);
        assert!(reject(RejectCode::CallEnded)(&verdict), "{from}: {verdict:?}");
    }
    assert_eq!(room.referee.live_call(), None);
    assert_eq!(room.referee.poll_timeout(), None);
    assert!(room.facts().is_empty() && room.notices().is_empty());
}

#[test]
fn tombstones_are_bounded_to_the_most_recent_calls() {
    let mut room = Room::new();
    let calls = Referee::MAX_TOMBSTONES + 1;
    for n in 0..calls {
        let call = format!("c{n}");
        room.send(0, AGENT, &call, invite_body());
        room.send(0, AGENT, &call, CancelBody::default());
    }
    // The oldest call is forgotten: its late frames are of an unknown call now.
    let oldest = room.send(1, TAB_A, "c0", RingingBody::new());
    assert!(reject(RejectCode::UnknownCall)(&oldest), "{oldest:?}");
    // The 64 most recent are remembered.
    assert_eq!(room.send(1, TAB_A, "c1", RingingBody::new()), Verdict::Drop);
    let last = format!("c{}", calls - 1);
    assert_eq!(room.send(1, TAB_A, &last, RingingBody::new()), Verdict::Drop);
}

// --- duplicates ---

#[test]
fn duplicates_from_the_same_party_are_dropped() {
    let mut room = Room::new();
    let invite = room.envelope(AGENT, "c1", invite_body());
    assert_eq!(room.judge(0, AGENT, &invite), to_visitors());
    assert_eq!(room.judge(0, AGENT, &invite), Verdict::Drop);

    let ringing = room.envelope(TAB_A, "c1", RingingBody::new());
    assert_eq!(room.judge(1, TAB_A, &ringing), to_party(AGENT));
    assert_eq!(room.judge(1, TAB_A, &ringing), Verdict::Drop);
    // The same seq from another party is not a duplicate.
    let mut other_tab = ringing.clone();
    other_tab.party_id = party(TAB_B);
    assert_eq!(room.judge(1, TAB_B, &other_tab), to_party(AGENT));

    let accept = room.envelope(TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    assert_eq!(room.judge(2, TAB_A, &accept), to_party(AGENT));
    assert_eq!(room.judge(2, TAB_A, &accept), Verdict::Drop);
    assert_eq!(room.facts().len(), 1, "one CallStarted");

    // The agent's seq 1 was the invite; 4 comes before 2 and 3.
    let mut batch = room.envelope(AGENT, "c1", candidates(10));
    batch.seq = 4;
    assert_eq!(room.judge(3, AGENT, &batch), to_party(TAB_A));
    assert_eq!(room.judge(3, AGENT, &batch), Verdict::Drop);
    for seq in [2, 3] {
        let mut reordered = batch.clone();
        reordered.seq = seq;
        assert_eq!(room.judge(3, AGENT, &reordered), to_party(TAB_A), "reordered, new");
        assert_eq!(room.judge(3, AGENT, &reordered), Verdict::Drop);
    }
}

#[test]
fn a_refused_frame_sent_again_is_refused_again() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let early = room.envelope(AGENT, "c1", offer());
    let first = room.judge(1, AGENT, &early);
    assert!(reject(RejectCode::Forbidden)(&first), "{first:?}");
    assert_eq!(room.judge(1, AGENT, &early), first, "not recorded as delivered");
}

/// Invite, accept and hangup of `call`, each party counting from seq 1.
fn one_call_from_seq_1(room: &mut Room, call: &str, at: u64) {
    let frames = [
        (AGENT, Message::from(invite_body())),
        (TAB_A, AcceptBody::new(MediaKinds::AUDIO_VIDEO).into()),
        (AGENT, HangupBody::default().into()),
    ];
    for (seq, (from, message)) in (1u64..).zip(frames) {
        let envelope =
            Envelope::new(conv(), call_id(call), party(from), role_of(from), seq, message);
        let verdict = room.judge(at, from, &envelope);
        assert!(matches!(verdict, Verdict::Deliver(_)), "{call} {from}: {verdict:?}");
    }
}

#[test]
fn dedupe_windows_reset_per_call() {
    let mut room = Room::new();
    one_call_from_seq_1(&mut room, "c1", 0);
    one_call_from_seq_1(&mut room, "c2", 10);
    assert_eq!(room.ended().len(), 2);
}

#[test]
fn the_last_seq_is_the_relays_so_a_notice_on_a_partys_behalf_stays_valid() {
    use velaro_call_protocol::limits::{MAX_CLIENT_SEQ, MAX_SEQ};
    let mut room = Room::new();
    let at_max =
        Envelope::new(conv(), call_id("c1"), party(AGENT), Role::Agent, MAX_SEQ, invite_body());
    let verdict = room.judge(0, AGENT, &at_max);
    assert!(reject(RejectCode::Invalid)(&verdict), "{verdict:?}");
    // The highest seq a client may use: the relay's expiry notice for it is still valid.
    let highest = Envelope { seq: MAX_CLIENT_SEQ, ..at_max };
    assert_eq!(room.judge(0, AGENT, &highest), to_visitors());
    room.referee.handle_timeout(room.at(60));
    let notices = room.notices();
    assert_eq!(notices[0].envelope.seq, MAX_SEQ);
    assert!(decode(&encode(&notices[0].envelope)).is_ok(), "the notice decodes");
}

// --- tabs that join ---

#[test]
fn a_tab_that_joins_while_the_call_rings_gets_the_invite_with_the_lifetime_left() {
    let mut room = Room::new();
    let invite = room.envelope(AGENT, "c1", invite_body());
    room.judge(0, AGENT, &invite);
    room.referee.handle_join(room.at(25), Role::Visitor, &party(TAB_B));
    let notices = room.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, Delivery::Visitor(party(TAB_B)));
    let joined = &notices[0].envelope;
    assert_eq!((&joined.party_id, joined.role, joined.seq), (&party(AGENT), Role::Agent, 1));
    let Message::Invite(body) = &joined.message else { panic!("{joined:?}") };
    assert_eq!(body.lifetime(), Duration::from_secs(35), "60 s less 25: the relay's clock");
    assert_eq!(body.prompt, invite_body().prompt);
    // The real call machine of the joining tab rings with it.
    let tab = Call::visitor(CallConfig::new(conv(), party(TAB_B)), joined, room.at(25)).unwrap();
    assert_eq!(tab.poll_timeout(), Some(room.at(60)));

    // Near the end the lifetime is the protocol's minimum: the relay's expiry still ends it.
    room.referee.handle_join(room.at(55), Role::Visitor, &party(TAB_A));
    let Message::Invite(body) = &room.notices()[0].envelope.message else { panic!() };
    assert_eq!(body.lifetime(), Duration::from_secs(10));
    assert!(decode(&encode(&room.notices().pop().map_or(invite, |n| n.envelope))).is_ok());
}

#[test]
fn nobody_else_joining_gets_an_invite() {
    let mut room = Room::new();
    room.referee.handle_join(room.at(0), Role::Visitor, &party(TAB_A));
    room.send(0, AGENT, "c1", invite_body());
    room.referee.handle_join(room.at(1), Role::Agent, &party(AGENT2));
    assert!(room.notices().is_empty(), "agents do not ring");
    room.send(5, TAB_A, "c1", AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    room.referee.handle_join(room.at(6), Role::Visitor, &party(TAB_B));
    assert!(room.notices().is_empty(), "answered: nothing to ring");
    room.referee.handle_timeout(room.at(600));
    room.referee.handle_join(room.at(600), Role::Visitor, &party(TAB_B));
    assert!(room.notices().is_empty());
}

// --- lost sessions ---

#[test]
fn losing_the_bound_visitor_ends_the_call_signaling_lost() {
    let mut room = Room::new();
    room.answered("c1");
    room.send(5, TAB_A, "c1", MediaBody::default());
    assert!(!room.lost(room.at(30), TAB_B));
    assert!(!room.lost(room.at(30), AGENT2));
    assert!(room.lost(room.at(30), TAB_A));
    assert_eq!(room.referee.live_call(), None);
    let ended = room.ended();
    assert_eq!(ended[0].reason, Reason::SignalingLost);
    assert_eq!(ended[0].outcome, Outcome::Failed);
    assert_eq!(ended[0].ended_by, None);
    assert_eq!(ended[0].talk_time, Duration::from_secs(25));
    let notices = room.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, Delivery::Agent(party(AGENT)));
    let hangup = &notices[0].envelope;
    assert_eq!((&hangup.party_id, hangup.role), (&party(TAB_A), Role::Visitor));
    assert_eq!(hangup.seq, 4, "ringing, accept, media, then this");
    assert_eq!(hangup.message, Message::Hangup(HangupBody::new(Reason::SignalingLost)));
}

#[test]
fn losing_the_inviting_agent_while_ringing_cancels_on_every_tab() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    assert!(room.lost(room.at(3), AGENT));
    let notices = room.notices();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, Delivery::AllVisitors);
    assert_eq!(
        notices[0].envelope.message,
        Message::Cancel(CancelBody::new(Reason::SignalingLost))
    );
    assert_eq!(room.ended()[0].reason, Reason::SignalingLost);
    assert!(!room.lost(room.at(4), AGENT), "once");
}

#[test]
fn losing_an_unbound_tab_changes_nothing() {
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    room.send(1, TAB_A, "c1", RingingBody::new());
    assert!(!room.lost(room.at(2), TAB_A));
    assert_eq!(room.referee.live_call(), Some(&call_id("c1")));
    assert!(room.facts().is_empty());
    assert!(room.notices().is_empty());
}

// --- notices drive the real call machines ---

fn drain(call: &mut Call) -> Vec<Output> {
    std::iter::from_fn(|| call.poll_output()).collect()
}

fn ended_reason(outputs: &[Output]) -> Option<Reason> {
    outputs.iter().find_map(|o| match o {
        Output::Event(Event::Ended { reason, .. }) => Some(reason.clone()),
        _ => None,
    })
}

#[test]
fn glare_notices_end_the_replaced_call_on_both_sides() {
    let mut room = Room::new();
    let now = room.at(0);
    // The agent's real machine sends the invite that will lose the glare.
    let config = CallConfig::new(conv(), party(AGENT));
    let mut agent = Call::agent(config, call_id("call-b"), now);
    let prompt = Prompt::new("Video call?").unwrap();
    agent
        .handle_action(
            now,
            Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false },
        )
        .unwrap();
    let granted = MediaEvent::PermissionGranted {
        media: MediaKinds::AUDIO_VIDEO,
        stream_id: velaro_call_protocol::message::media::StreamId::new("cam").unwrap(),
    };
    agent.handle_media(now, granted).unwrap();
    let invite = drain(&mut agent)
        .into_iter()
        .find_map(|o| match o {
            Output::Send(envelope) if envelope.message_type() == "call.invite" => Some(envelope),
            _ => None,
        })
        .expect("the agent sent its invite");
    assert_eq!(room.judge(0, AGENT, &invite), to_visitors());
    let mut tab = Call::visitor(CallConfig::new(conv(), party(TAB_A)), &invite, now).unwrap();
    drain(&mut tab);

    assert_eq!(room.send(1, AGENT2, "call-a", invite_body()), to_visitors());
    let later = room.at(1);
    for notice in room.notices() {
        match notice.to {
            Delivery::AllVisitors => tab.handle_message(later, notice.envelope).unwrap(),
            Delivery::Agent(to) => {
                assert_eq!(to, party(AGENT));
                agent.handle_message(later, notice.envelope).unwrap();
            }
            Delivery::Visitor(to) => panic!("a notice for tab {to} alone"),
        }
    }
    let tab_outputs = drain(&mut tab);
    assert!(
        tab_outputs.contains(&Output::Event(Event::StopPrompting(PromptEnd::Cancelled))),
        "{tab_outputs:?}"
    );
    assert_eq!(ended_reason(&tab_outputs), Some(Reason::Replaced));
    let agent_outputs = drain(&mut agent);
    assert_eq!(ended_reason(&agent_outputs), Some(Reason::Replaced), "{agent_outputs:?}");
}

#[test]
fn decline_and_expiry_notices_stop_the_other_tabs_prompting() {
    for (end, expected) in
        [("decline", PromptEnd::AnsweredElsewhere), ("expiry", PromptEnd::Expired)]
    {
        let mut room = Room::new();
        let invite = room.envelope(AGENT, "c1", invite_body());
        room.judge(0, AGENT, &invite);
        let mut tab_b =
            Call::visitor(CallConfig::new(conv(), party(TAB_B)), &invite, room.at(0)).unwrap();
        drain(&mut tab_b);
        if end == "decline" {
            room.send(2, TAB_A, "c1", DeclineBody::new(Reason::Declined));
        } else {
            room.referee.handle_timeout(room.at(60));
        }
        let notices = room.notices();
        assert_eq!(notices.len(), 1, "{end}");
        tab_b.handle_message(room.at(2), notices[0].envelope.clone()).unwrap();
        let outputs = drain(&mut tab_b);
        assert!(
            outputs.contains(&Output::Event(Event::StopPrompting(expected))),
            "{end}: {outputs:?}"
        );
        assert!(tab_b.is_ended(), "{end}");
    }
}

// --- bounded state ---

#[test]
fn an_idle_live_call_holds_at_most_2_kib() {
    let mut room = Room::new();
    // The longest ids the protocol allows.
    let long = |prefix: &str| format!("{prefix}{}", "x".repeat(255 - prefix.len()));
    let (agent, tab, call) = (long("agent"), long("tab"), long("call"));
    room.send(0, &agent, &call, invite_body());
    room.send(1, &tab, &call, RingingBody::new());
    room.send(2, &tab, &call, AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    room.send(2, &agent, &call, SelectAnswerBody::new(party(&tab)));
    room.send(3, &agent, &call, candidates(20));
    room.send(3, &tab, &call, candidates(20));
    let live = room.referee.live_call_memory().unwrap();
    assert!(live <= 2048, "{live} bytes");
    assert!(live < 1024, "{live} bytes: under 1 KiB as documented");
}

#[test]
fn state_stays_bounded_however_many_calls_pass() {
    let mut room = Room::new();
    let run = |room: &mut Room, n: usize| {
        let call = format!("call-{n:06}-{}", "y".repeat(200));
        room.answered(&call);
        room.send(6, AGENT, &call, candidates(50));
        room.send(7, TAB_A, &call, HangupBody::default());
        room.facts();
        room.notices();
    };
    for n in 0..Referee::MAX_TOMBSTONES {
        run(&mut room, n);
    }
    let full = room.referee.memory();
    for n in Referee::MAX_TOMBSTONES..1000 {
        run(&mut room, n);
    }
    assert!(room.referee.memory() <= full, "{} > {full}", room.referee.memory());
    assert!(full < 32 * 1024, "{full} bytes for 64 tombstones of 213-byte ids");
}

// --- properties ---

const PARTIES: [&str; 4] = [AGENT, AGENT2, TAB_A, TAB_B];
const CALLS: [&str; 3] = ["c1", "c2", "c3"];

#[derive(Debug, Clone)]
enum Op {
    Frame { advance_ms: u64, from: usize, call: usize, seq: u64, kind: u8 },
    Lost { advance_ms: u64, from: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u64..20_000, 0..PARTIES.len(), 0..CALLS.len(), 1u64..6, 0u8..13).prop_map(
            |(advance_ms, from, call, seq, kind)| Op::Frame { advance_ms, from, call, seq, kind }
        ),
        1 => (0u64..20_000, 0..PARTIES.len()).prop_map(|(advance_ms, from)| Op::Lost { advance_ms, from }),
    ]
}

fn message(kind: u8, selected: &str) -> Message {
    match kind {
        0 => invite_body().into(),
        1 => RingingBody::new().into(),
        2 => AcceptBody::new(MediaKinds::AUDIO_VIDEO).into(),
        3 => DeclineBody::new(Reason::Declined).into(),
        4 => CancelBody::default().into(),
        5 => SelectAnswerBody::new(party(selected)).into(),
        6 => offer().into(),
        7 => candidates(40).into(),
        8 => MediaBody::default().into(),
        9 => QualityBody::new(QualityLevel::Poor).into(),
        10 => HangupBody::default().into(),
        11 => RejectedBody::new(RejectCode::Busy, "x", None).into(),
        _ => decode(br#"{"type":"call.future","version":1,"conversation_id":"c","call_id":"c","party_id":"p","role":"agent","seq":1}"#)
            .unwrap()
            .message,
    }
}

proptest! {
    /// Whatever arrives: no panic, one live call at most, each call starts and ends at most
    /// once (in that order), nothing is delivered for an ended call, the timer is armed exactly
    /// while a call rings, media flows only between the bound parties, and memory stays bounded.
    #[test]
    fn the_referee_keeps_its_invariants(ops in proptest::collection::vec(op(), 1..80)) {
        let mut room = Room::new();
        let mut now = room.at(0);
        let mut started: Vec<CallId> = Vec::new();
        let mut ended: Vec<CallId> = Vec::new();
        for op in ops {
            match op {
                Op::Frame { advance_ms, from, call, seq, kind } => {
                    now += Duration::from_millis(advance_ms);
                    let from = PARTIES[from];
                    let selected = if kind % 2 == 0 { TAB_A } else { TAB_B };
                    let envelope = Envelope::new(conv(), call_id(CALLS[call]), party(from), role_of(from), seq, message(kind, selected));
                    let bound = (room.referee.live_agent().cloned(), room.referee.live_visitor().cloned());
                    let verdict = room.judge_at(now, from, &envelope);
                    if let Verdict::Deliver(to) = &verdict {
                        prop_assert!(!ended.contains(&envelope.call_id), "delivered {envelope:?} after the end");
                        if matches!(kind, 6..=9) {
                            let (agent, visitor) = bound;
                            let (agent, visitor) = (agent.unwrap(), visitor.unwrap());
                            let expected = if party(from) == agent { visitor } else { agent.clone() };
                            prop_assert!(party(from) == agent || room.referee.live_visitor() == Some(&party(from)));
                            prop_assert_eq!(to, &delivery_to(expected.as_str()));
                        }
                    }
                    if kind >= 11 {
                        prop_assert!(matches!(verdict, Verdict::Reject { .. }), "{verdict:?}");
                    }
                }
                Op::Lost { advance_ms, from } => {
                    now += Duration::from_millis(advance_ms);
                    let from = PARTIES[from];
                    room.lost(now, from);
                }
            }
            if let Some(deadline) = room.referee.poll_timeout()
                && deadline <= now
            {
                room.referee.handle_timeout(now);
            }
            for fact in room.facts() {
                match fact {
                    Fact::CallStarted { call_id, .. } => {
                        prop_assert!(!started.contains(&call_id) && !ended.contains(&call_id));
                        started.push(call_id);
                    }
                    Fact::CallEnded { report } => {
                        let summary = report.summary;
                        prop_assert!(!ended.contains(&summary.call_id));
                        prop_assert_eq!(summary.outcome == Outcome::Missed, summary.reason == Reason::InviteTimeout);
                        ended.push(summary.call_id);
                    }
                }
            }
            room.notices();
            let ringing = room.referee.live_call().is_some() && room.referee.live_visitor().is_none();
            prop_assert_eq!(room.referee.poll_timeout().is_some(), ringing);
            if let Some(live) = room.referee.live_call() {
                prop_assert!(!ended.contains(live));
            }
            prop_assert!(room.referee.memory() < 8 * 1024, "{}", room.referee.memory());
        }
    }
}

// --- snapshots ---

/// One input for the snapshot property: the invariants property's ops, plus joins and a plan
/// change (inputs the relay gives a referee too).
#[derive(Debug, Clone)]
enum Step {
    Op(Op),
    Join {
        advance_ms: u64,
        from: usize,
    },
    /// The inviting agent selects a tab (the ops' selection names one tab per `kind`).
    Select {
        call: usize,
        seq: u64,
        tab: bool,
    },
    Video(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => op().prop_map(Step::Op),
        1 => (0u64..20_000, 0..PARTIES.len()).prop_map(|(advance_ms, from)| Step::Join { advance_ms, from }),
        1 => (0..CALLS.len(), 1u64..6, any::<bool>()).prop_map(|(call, seq, tab)| Step::Select { call, seq, tab }),
        1 => any::<bool>().prop_map(Step::Video),
    ]
}

/// `json` with every run of digits after the first (the version) replaced by `number` (a
/// negative offset keeps its sign).
fn renumber(json: &str, number: &str) -> String {
    let mut out = String::new();
    let (mut runs, mut in_run) = (0, false);
    for c in json.chars() {
        if c.is_ascii_digit() {
            if !in_run {
                runs += 1;
                in_run = true;
                if runs > 1 {
                    out.push_str(number);
                }
            }
            if runs == 1 {
                out.push(c);
            }
        } else {
            in_run = false;
            out.push(c);
        }
    }
    out
}

/// `output` with every time in it moved on by `by`.
fn shifted(output: RefereeOutput, by: Duration) -> RefereeOutput {
    match output {
        RefereeOutput::Fact(Fact::CallStarted { call_id, agent, visitor, at }) => {
            RefereeOutput::Fact(Fact::CallStarted { call_id, agent, visitor, at: at + by })
        }
        RefereeOutput::Fact(Fact::CallEnded { mut report }) => {
            report.invited_at += by;
            report.answered_at = report.answered_at.map(|t| t + by);
            report.media_connected_at = report.media_connected_at.map(|t| t + by);
            report.ended_at += by;
            RefereeOutput::Fact(Fact::CallEnded { report })
        }
        other => other,
    }
}

/// Call `n` (0-based): `c1`, `c2`, `c3` as the ops name them, then on.
fn nth_call(n: usize) -> CallId {
    call_id(&format!("c{}", n + 1))
}

/// Feeds `step` at `now` (moved on by it), fires a due timeout as a relay would, and gives
/// back everything the referee said, then when it next wants a timeout.
fn feed(
    referee: &mut Referee,
    now: &mut Instant,
    step: &Step,
) -> (Vec<RefereeOutput>, Option<Instant>) {
    match step {
        Step::Op(Op::Frame { advance_ms, from, call, seq, kind }) => {
            *now += Duration::from_millis(*advance_ms);
            let from = PARTIES[*from];
            let selected = if (u64::from(*kind) + seq) % 2 == 0 { TAB_A } else { TAB_B };
            let envelope = Envelope::new(
                conv(),
                nth_call(*call),
                party(from),
                role_of(from),
                *seq,
                message(*kind, selected),
            );
            referee.handle_message(*now, role_of(from), &party(from), envelope);
        }
        Step::Op(Op::Lost { advance_ms, from }) => {
            *now += Duration::from_millis(*advance_ms);
            referee.handle_party_lost(*now, role_of(PARTIES[*from]), &party(PARTIES[*from]));
        }
        Step::Join { advance_ms, from } => {
            *now += Duration::from_millis(*advance_ms);
            referee.handle_join(*now, role_of(PARTIES[*from]), &party(PARTIES[*from]));
        }
        Step::Select { call, seq, tab } => {
            let selected = party(if *tab { TAB_A } else { TAB_B });
            let body = SelectAnswerBody::new(selected);
            let envelope =
                Envelope::new(conv(), nth_call(*call), party(AGENT), Role::Agent, *seq, body);
            referee.handle_message(*now, Role::Agent, &party(AGENT), envelope);
        }
        Step::Video(enabled) => referee.set_video_enabled(*enabled),
    }
    if referee.poll_timeout().is_some_and(|deadline| deadline <= *now) {
        referee.handle_timeout(*now);
    }
    (std::iter::from_fn(|| referee.poll_output()).collect(), referee.poll_timeout())
}

/// Steps that mostly make calls: frames of the right role for the sender, mostly of one call,
/// each party's `seq` counting up per call; mixed with the random steps.
fn steps(len: usize) -> impl Strategy<Value = Vec<Step>> {
    const AGENT_KINDS: [u8; 10] = [0, 0, 5, 5, 6, 7, 8, 9, 4, 10];
    const TAB_KINDS: [u8; 10] = [1, 2, 2, 6, 7, 8, 8, 9, 3, 10];
    let from = prop_oneof![3 => Just(0usize), 1 => Just(1), 2 => Just(2), 2 => Just(3)];
    let call = prop_oneof![6 => Just(0usize), 1 => 1..CALLS.len()];
    let played = (0u64..8_000, from, 0..AGENT_KINDS.len(), call);
    proptest::collection::vec(
        prop_oneof![6 => played.prop_map(Ok), 1 => step().prop_map(Err)],
        1..len,
    )
    .prop_map(|raw| {
        let mut seqs: HashMap<(usize, usize), u64> = HashMap::new();
        // A call that ended is spent: the played frames move on to a new call id after an end.
        let mut calls_ended = 0;
        raw.into_iter()
            .map(|r| match r {
                Err(step) => step,
                Ok((advance_ms, from, kind, call)) => {
                    let kind = if role_of(PARTIES[from]) == Role::Agent {
                        AGENT_KINDS[kind]
                    } else {
                        TAB_KINDS[kind]
                    };
                    let call = call + calls_ended;
                    if matches!(kind, 3 | 4 | 10) {
                        calls_ended += 1;
                    }
                    let seq = seqs.entry((from, call)).or_insert(0);
                    *seq += 1;
                    Step::Op(Op::Frame { advance_ms, from, call, seq: *seq, kind })
                }
            })
            .collect()
    })
}

proptest! {
    /// A referee restored from a snapshot taken at any point (through its JSON) answers every
    /// later input exactly as the original: the same outputs (notices, verdicts, facts with
    /// their times), the same timeouts, the same state.
    #[test]
    fn a_restored_referee_carries_on_exactly_as_the_original(
        steps in steps(80),
        cut in any::<prop::sample::Index>(),
        shift_ms in prop_oneof![Just(0u64), 1u64..10_000_000],
    ) {
        let mut original = Referee::new(conv(), true);
        #[allow(clippy::disallowed_methods)] // a test needs one real instant to start from
        let mut now = Instant::now();
        let cut = cut.index(steps.len() + 1);
        for step in &steps[..cut] {
            feed(&mut original, &mut now, step);
        }
        let json = original.snapshot(now).to_json();
        let snapshot = RefereeSnapshot::from_json(&json).unwrap();
        prop_assert_eq!(&snapshot, &original.snapshot(now));
        // Restored at the same `now`, or on another base (another process's clock, as a cluster
        // owner's): then every time it gives is the original's, moved by as much.
        let shift = Duration::from_millis(shift_ms);
        let mut restored_now = now + shift;
        let mut restored = Referee::restore(snapshot, restored_now).unwrap();
        prop_assert_eq!(restored.poll_timeout(), original.poll_timeout().map(|t| t + shift));
        for step in &steps[cut..] {
            let (outputs, timeout) = feed(&mut original, &mut now, step);
            let expected = (
                outputs.into_iter().map(|o| shifted(o, shift)).collect::<Vec<_>>(),
                timeout.map(|t| t + shift),
            );
            prop_assert_eq!(feed(&mut restored, &mut restored_now, step), expected, "{:?}", step);
            prop_assert_eq!(restored.snapshot(restored_now), original.snapshot(now));
        }
    }


    /// Whatever bytes a store gives back, reading and restoring them is an error or a referee,
    /// never a panic: a snapshot cut short, with a byte changed, or with a field replaced.
    #[test]
    fn a_hostile_snapshot_is_an_error_never_a_panic(
        steps in proptest::collection::vec(step(), 1..40),
        cut in 0usize..4000,
        at in 0usize..4000,
        byte in any::<u8>(),
        number in any::<i64>(),
    ) {
        let mut referee = Referee::new(conv(), true);
        #[allow(clippy::disallowed_methods)]
        let mut now = Instant::now();
        for step in &steps {
            feed(&mut referee, &mut now, step);
        }
        let json = referee.snapshot(now).to_json();
        let mut truncated = json.clone();
        truncated.truncate(cut.min(json.len().saturating_sub(1)));
        prop_assert!(RefereeSnapshot::from_json(&truncated).is_err(), "a truncated snapshot read");
        let mut garbled = json.clone();
        if let Some(b) = garbled.get_mut(at % json.len()) {
            *b = byte;
        }
        // Every number in it but the version replaced by one hostile number (times, windows,
        // counts; ids too).
        let renumbered = renumber(&String::from_utf8(json).unwrap(), &number.unsigned_abs().to_string());
        for bytes in [garbled, renumbered.into_bytes()] {
            if let Ok(snapshot) = RefereeSnapshot::from_json(&bytes)
                && let Ok(mut restored) = Referee::restore(snapshot, now)
            {
                for step in &steps {
                    feed(&mut restored, &mut now, step);
                }
            }
        }
    }
}

#[test]
fn a_mid_call_snapshot_is_small_and_restores_the_call() {
    let mut room = Room::new();
    room.connected("c1");
    room.send(6, AGENT, "c1", candidates(20));
    let json = room.referee.snapshot(room.at(10)).to_json();
    assert!(json.len() < 512, "{} bytes: {}", json.len(), String::from_utf8_lossy(&json));
    let restored =
        Referee::restore(RefereeSnapshot::from_json(&json).unwrap(), room.at(10)).unwrap();
    assert_eq!(restored.live_call(), Some(&call_id("c1")));
    assert_eq!(restored.live_visitor(), Some(&party(TAB_A)));
}

#[test]
fn a_snapshot_of_another_version_or_shape_is_a_typed_error() {
    use velaro_call_state::SnapshotError;
    let mut room = Room::new();
    room.send(0, AGENT, "c1", invite_body());
    let now = room.at(1);
    let json = String::from_utf8(room.referee.snapshot(now).to_json()).unwrap();
    assert!(json.starts_with(r#"{"version":1,"#), "{json}");

    // A newer format, whatever its shape.
    let future = r#"{"version":2,"live":"something else entirely"}"#;
    assert_eq!(
        RefereeSnapshot::from_json(future.as_bytes()),
        Err(SnapshotError::UnsupportedVersion { found: 2, supported: 1 })
    );
    // Not JSON, not an object, cut short.
    for bad in ["", "[]", "null", "{\"version\":1", &json[..json.len() / 2]] {
        let error = RefereeSnapshot::from_json(bad.as_bytes()).unwrap_err();
        assert!(matches!(error, SnapshotError::Decode { .. }), "{bad}: {error}");
    }
    // An id that breaks the id grammar.
    let bad_id = json.replace("\"conv-42\"", "\"conv 42\"");
    assert!(matches!(
        RefereeSnapshot::from_json(bad_id.as_bytes()),
        Err(SnapshotError::Decode { .. })
    ));

    // Decodes, but contradicts itself: each a typed error from restore, naming the field.
    let restore = |json: &str| Referee::restore(RefereeSnapshot::from_json(json.as_bytes())?, now);
    let cases = [
        ("live.answer.invite", json.replace("call.invite", "call.hangup")),
        (
            "live.agent_candidates",
            json.replace("\"agent_candidates\":0", "\"agent_candidates\":101"),
        ),
        (
            "live.expires_at_ns",
            json.replace("\"invited_at_ns\":-1000000000", "\"invited_at_ns\":60000000000"),
        ),
    ];
    for (field, bad) in cases {
        assert_ne!(bad, json, "{field}: the edit applies");
        match restore(&bad) {
            Err(SnapshotError::Inconsistent { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let far =
        json.replace("\"invited_at_ns\":-1000000000", &format!("\"invited_at_ns\":{}", i64::MIN));
    // 292 years back: a clock that cannot hold it says so; Linux's can (seconds in an i64).
    assert!(
        matches!(restore(&far), Ok(_) | Err(SnapshotError::TimeOutOfRange { .. })),
        "{:?}",
        restore(&far)
    );
    let tombstones: Vec<String> = (0..=Referee::MAX_TOMBSTONES)
        .map(|n| format!(r#"{{"call_id":"x{n}","expired":false}}"#))
        .collect();
    let many = json.replace("\"ended\":[]", &format!("\"ended\":[{}]", tombstones.join(",")));
    assert!(matches!(restore(&many), Err(SnapshotError::Inconsistent { field: "ended", .. })));
    let live_and_ended =
        json.replace("\"ended\":[]", r#""ended":[{"call_id":"c1","expired":true}]"#);
    assert!(matches!(
        restore(&live_and_ended),
        Err(SnapshotError::Inconsistent { field: "live.call_id", .. })
    ));
}
