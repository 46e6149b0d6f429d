//! The relay's routing and refusals: each rule asserts the exact `call.rejected` code and that
//! nothing was delivered.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};

use velaro_signaling::velaro_call_state::velaro_call_protocol::message::ack::AckBody;
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::answer::DeclineBody;
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::answer::{
    AcceptBody, CancelBody, RingingBody, SelectAnswerBody,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::description::{
    DescriptionBody, SdpType, SessionDescription,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::hangup::{
    HangupBody, RejectCode,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::invite::{
    InviteBody, MediaKinds, Prompt,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::media::MediaBody;
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::media::{
    StreamId, StreamState,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::velaro_ice_config::{
    CandidateFilter, CandidatePolicy,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::{
    CallId, ConversationId, Envelope, Message, NegotiationId, PartyId, Reason, Role, decode, encode,
};
use velaro_signaling::velaro_call_state::{
    CallRecord, CallReport, CallSummary, MediaUsed, Outcome,
};
use velaro_signaling::{
    RateLimit, Relay, RelayConfig, RelayError, RelayEvent, RelayOutput, SessionId,
};

struct Setup {
    relay: Relay,
    now: Instant,
    agent: SessionId,
    tab1: SessionId,
    tab2: SessionId,
}

#[allow(clippy::disallowed_methods)] // tests start from one real instant
fn setup_with(config: RelayConfig, video: bool) -> Setup {
    let now = Instant::now();
    let mut relay = Relay::new(config);
    let conversation = ConversationId::new("conv-1").unwrap();
    relay.open_conversation(conversation.clone(), video);
    let mut connect = |role, party: &str| {
        relay.connect(now, &conversation, role, PartyId::new(party).unwrap()).unwrap()
    };
    let agent = connect(Role::Agent, "agent-1");
    let tab1 = connect(Role::Visitor, "visitor-1");
    let tab2 = connect(Role::Visitor, "visitor-2");
    Setup { relay, now, agent, tab1, tab2 }
}

fn setup() -> Setup {
    setup_with(RelayConfig::default(), true)
}

/// A frame as a client writes it; the relay stamps identity itself, so the claim may lie.
fn frame(
    conversation: &str,
    call: &str,
    role: Role,
    seq: u64,
    message: impl Into<Message>,
) -> Vec<u8> {
    encode(&Envelope::new(
        ConversationId::new(conversation).unwrap(),
        CallId::new(call).unwrap(),
        PartyId::new("claimed").unwrap(),
        role,
        seq,
        message,
    ))
}

fn invite() -> InviteBody {
    InviteBody::new(Prompt::new("Video call?").unwrap(), MediaKinds::AUDIO_VIDEO)
}

fn drain(relay: &mut Relay, session: SessionId) -> Vec<Envelope> {
    std::iter::from_fn(|| relay.poll_transmit(session)).map(|f| decode(&f).unwrap()).collect()
}

/// Everything the relay asks of the host, drained.
fn outputs(relay: &mut Relay) -> Vec<RelayOutput> {
    std::iter::from_fn(|| relay.poll_output()).collect()
}

/// The news for the host among the relay's outputs (the rest drained and dropped).
fn events(relay: &mut Relay) -> Vec<RelayEvent> {
    outputs(relay)
        .into_iter()
        .filter_map(|output| match output {
            RelayOutput::Event(event) => Some(event),
            RelayOutput::Transmit(_) | RelayOutput::Close(_) => None,
        })
        .collect()
}

/// The summaries of the calls that ended, among the relay's outputs (the rest drained).
fn ended(relay: &mut Relay) -> Vec<CallSummary> {
    events(relay)
        .into_iter()
        .filter_map(|event| match event {
            RelayEvent::CallEnded { report } => Some(report.summary),
            _ => None,
        })
        .collect()
}

fn types(envelopes: &[Envelope]) -> Vec<&str> {
    envelopes.iter().map(Envelope::message_type).collect()
}

fn rejected(envelopes: &[Envelope]) -> Vec<(RejectCode, Option<u64>)> {
    envelopes
        .iter()
        .filter_map(|e| match &e.message {
            Message::Rejected(r) => Some((r.code.clone(), r.rejected_seq)),
            _ => None,
        })
        .collect()
}

impl Setup {
    fn send(&mut self, session: SessionId, frame: &[u8]) {
        self.relay.handle_frame(self.now, session, frame).unwrap();
    }

    fn invite(&mut self) {
        let frame = frame("conv-1", "call-1", Role::Agent, 1, invite());
        self.send(self.agent, &frame);
    }

    /// The agent invites and both tabs have read the invite.
    fn invite_and_ring(&mut self) {
        self.invite();
        drain(&mut self.relay, self.tab1);
        drain(&mut self.relay, self.tab2);
    }

    /// The first visitor tab accepts the call (its first frame).
    fn accept_by_tab1(&mut self) {
        let accept = AcceptBody::new(MediaKinds::AUDIO_VIDEO);
        self.send(self.tab1, &frame("conv-1", "call-1", Role::Visitor, 1, accept));
    }

    fn all_quiet(&mut self, sessions: &[SessionId]) {
        for session in sessions {
            assert!(drain(&mut self.relay, *session).is_empty(), "{session} got something");
        }
    }
}

#[test]
fn an_invite_rings_every_tab_stamped_with_the_senders_identity() {
    let mut s = setup();
    s.invite();
    for tab in [s.tab1, s.tab2] {
        let got = drain(&mut s.relay, tab);
        assert_eq!(types(&got), ["call.invite"]);
        assert_eq!(
            (got[0].party_id.as_str(), got[0].role),
            ("agent-1", Role::Agent),
            "not the claim"
        );
    }
    s.all_quiet(&[s.agent]);
}

#[test]
fn a_visitors_invite_is_forbidden_and_goes_nowhere() {
    let mut s = setup();
    let frame = frame("conv-1", "call-1", Role::Agent, 4, invite()); // claims to be an agent
    s.send(s.tab1, &frame);
    assert_eq!(rejected(&drain(&mut s.relay, s.tab1)), [(RejectCode::Forbidden, Some(4))]);
    s.all_quiet(&[s.agent, s.tab2]);
    assert_eq!(
        events(&mut s.relay),
        [RelayEvent::Refused { session: s.tab1, code: RejectCode::Forbidden }]
    );
}

#[test]
fn an_account_without_video_is_refused() {
    let mut s = setup_with(RelayConfig::default(), false);
    s.invite();
    assert_eq!(rejected(&drain(&mut s.relay, s.agent)), [(RejectCode::FeatureDisabled, Some(1))]);
    s.all_quiet(&[s.tab1, s.tab2]);
}

#[test]
fn a_second_call_in_the_conversation_is_busy() {
    let mut s = setup();
    s.invite_and_ring();
    let second = frame("conv-1", "call-2", Role::Agent, 1, invite());
    s.send(s.agent, &second);
    assert_eq!(rejected(&drain(&mut s.relay, s.agent)), [(RejectCode::Busy, Some(1))]);
    s.all_quiet(&[s.tab1, s.tab2]);
}

#[test]
fn a_call_of_another_conversation_or_an_unknown_call_is_refused() {
    let mut s = setup();
    s.invite_and_ring();
    let foreign =
        frame("conv-2", "call-1", Role::Visitor, 1, AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    s.send(s.tab1, &foreign);
    let unknown =
        frame("conv-1", "call-9", Role::Visitor, 2, AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    s.send(s.tab1, &unknown);
    assert_eq!(
        rejected(&drain(&mut s.relay, s.tab1)),
        [(RejectCode::UnknownCall, Some(1)), (RejectCode::UnknownCall, Some(2))]
    );
    s.all_quiet(&[s.agent, s.tab2]);
}

#[test]
fn the_first_tab_to_accept_wins_and_the_others_hear_the_selection() {
    let mut s = setup();
    s.invite();
    let accept =
        frame("conv-1", "call-1", Role::Visitor, 2, AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 1, RingingBody::new()));
    s.send(s.tab1, &accept);
    assert_eq!(types(&drain(&mut s.relay, s.agent)), ["call.ringing", "call.accept"]);
    assert!(
        matches!(events(&mut s.relay).first(), Some(RelayEvent::CallStarted { visitor, .. }) if visitor.as_str() == "visitor-1")
    );
    let select = frame(
        "conv-1",
        "call-1",
        Role::Agent,
        2,
        SelectAnswerBody::new(PartyId::new("visitor-1").unwrap()),
    );
    s.send(s.agent, &select);
    for tab in [s.tab1, s.tab2] {
        assert_eq!(types(&drain(&mut s.relay, tab)), ["call.invite", "call.select_answer"]);
    }
    s.send(s.tab2, &accept);
    assert_eq!(rejected(&drain(&mut s.relay, s.tab2)), [(RejectCode::Forbidden, Some(2))]);
    s.all_quiet(&[s.agent]);
}

#[test]
fn broken_frames_and_sdp_are_refused_with_what_was_wrong() {
    let mut s = setup();
    s.send(s.agent, b"{\"type\":");
    s.send(s.agent, &vec![b' '; 70_000]);
    let broken = DescriptionBody::new(
        SessionDescription::new(SdpType::Offer, "v=0\r\n"),
        NegotiationId::new("a1").unwrap(),
    );
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 5, broken));
    let got = drain(&mut s.relay, s.agent);
    assert_eq!(
        rejected(&got),
        [(RejectCode::Invalid, None), (RejectCode::TooLarge, None), (RejectCode::Invalid, Some(5))]
    );
    let Message::Rejected(last) = &got[2].message else { panic!() };
    assert!(last.detail.starts_with("body.description.sdp: "), "{}", last.detail);
    assert_eq!((got[0].party_id.as_str(), got[0].call_id.as_str()), ("relay", "unknown"));
    s.all_quiet(&[s.tab1, s.tab2]);
}

#[test]
fn a_session_sending_too_fast_is_rate_limited() {
    let config = RelayConfig::default().with_rate(RateLimit { burst: 3, per_second: 1 });
    let mut s = setup_with(config, true);
    for seq in 1..=4 {
        let ringing = frame("conv-1", "call-x", Role::Visitor, seq, RingingBody::new());
        s.send(s.tab1, &ringing);
    }
    let codes: Vec<RejectCode> =
        rejected(&drain(&mut s.relay, s.tab1)).into_iter().map(|(c, _)| c).collect();
    assert_eq!(
        codes,
        [
            RejectCode::UnknownCall,
            RejectCode::UnknownCall,
            RejectCode::UnknownCall,
            RejectCode::RateLimited
        ]
    );
    s.now += Duration::from_secs(1);
    s.send(s.tab1, &frame("conv-1", "call-x", Role::Visitor, 5, RingingBody::new()));
    assert_eq!(
        rejected(&drain(&mut s.relay, s.tab1)),
        [(RejectCode::UnknownCall, Some(5))],
        "a token came back"
    );
}

#[test]
fn a_slow_consumer_is_disconnected_not_buffered() {
    let config = RelayConfig::default().with_max_queued(1);
    let mut s = setup_with(config, true);
    s.invite();
    drain(&mut s.relay, s.tab1); // tab 1 keeps up, tab 2 never reads
    let cancel = frame("conv-1", "call-1", Role::Agent, 2, CancelBody::new(Reason::Cancelled));
    s.send(s.agent, &cancel);
    let told = outputs(&mut s.relay);
    assert!(told.contains(&RelayOutput::Close(s.tab2)), "{told:?}");
    assert!(!told.contains(&RelayOutput::Close(s.tab1)));
    assert_eq!(types(&drain(&mut s.relay, s.tab1)), ["call.cancel"]);
    assert!(drain(&mut s.relay, s.tab2).is_empty(), "its queue was dropped, not grown");
}

#[test]
fn a_party_that_leaves_ends_its_call_and_the_other_side_is_told() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    drain(&mut s.relay, s.agent);
    s.relay.disconnect(s.now, s.tab1).unwrap();
    assert!(drain(&mut s.relay, s.agent).is_empty(), "the tab has 20 s to come back");
    assert_eq!(s.relay.poll_timeout(), Some(s.now + Duration::from_secs(20)));
    s.relay.handle_timeout(s.now + Duration::from_secs(20));
    let got = drain(&mut s.relay, s.agent);
    assert!(
        got.iter()
            .any(|e| matches!(&e.message, Message::Hangup(h) if h.reason == Reason::SignalingLost)),
        "{got:?}"
    );
    let ended: Vec<_> = ended(&mut s.relay).into_iter().map(|s| (s.outcome, s.reason)).collect();
    assert_eq!(ended, [(Outcome::Failed, Reason::SignalingLost)]);
    assert_eq!(s.relay.session_count(), 2);
    assert!(s.relay.disconnect(s.now, s.tab1).is_err(), "already gone");
}

#[test]
fn a_hangup_ends_the_call_once_and_the_conversation_goes_on() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    let select = SelectAnswerBody::new(PartyId::new("visitor-1").unwrap());
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 2, select));
    // Media connected: the tab's first call.media.
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 2, MediaBody::default()));
    drain(&mut s.relay, s.agent);
    s.send(
        s.agent,
        &frame("conv-1", "call-1", Role::Agent, 3, HangupBody::new(Reason::UserHangup)),
    );
    s.send(
        s.agent,
        &frame("conv-1", "call-1", Role::Agent, 4, HangupBody::new(Reason::UserHangup)),
    );
    assert_eq!(
        types(&drain(&mut s.relay, s.tab1)),
        ["call.invite", "call.select_answer", "call.hangup"],
        "the second is dropped"
    );
    let ended: Vec<Outcome> = ended(&mut s.relay).into_iter().map(|s| s.outcome).collect();
    assert_eq!(ended, [Outcome::Answered]);
    // A new call in the same conversation is welcome.
    s.send(s.agent, &frame("conv-1", "call-2", Role::Agent, 1, invite()));
    assert_eq!(
        types(&drain(&mut s.relay, s.tab2)),
        ["call.invite", "call.select_answer", "call.invite"],
        "the other tab heard the selection, not the hangup"
    );
}

#[test]
fn a_tab_that_comes_back_within_the_grace_gets_exactly_what_it_missed() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    let select = SelectAnswerBody::new(PartyId::new("visitor-1").unwrap());
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 2, select));
    let seen_before = drain(&mut s.relay, s.tab1);
    assert_eq!(seen_before.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    // The tab drops in the middle of the candidate exchange.
    s.relay.disconnect(s.now, s.tab1).unwrap();
    for seq in 3..=5 {
        let candidates = velaro_signaling::velaro_call_state::velaro_call_protocol::message::candidates::CandidatesBody::new(vec![]);
        s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, seq, candidates));
    }
    s.now += Duration::from_secs(5);
    let back = s
        .relay
        .connect(
            s.now,
            &ConversationId::new("conv-1").unwrap(),
            Role::Visitor,
            PartyId::new("visitor-1").unwrap(),
        )
        .unwrap();
    s.relay.resume(back, &[(PartyId::new("agent-1").unwrap(), 2)]).unwrap();
    let caught_up = drain(&mut s.relay, back);
    assert_eq!(
        caught_up.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [3, 4, 5],
        "the missing frames, in order, once"
    );
    // The call goes on: no signaling_lost when the grace would have run out.
    drain(&mut s.relay, s.agent);
    s.relay.handle_timeout(s.now + Duration::from_secs(30));
    assert!(drain(&mut s.relay, s.agent).is_empty());
    s.send(
        s.agent,
        &frame("conv-1", "call-1", Role::Agent, 6, HangupBody::new(Reason::UserHangup)),
    );
    assert_eq!(types(&drain(&mut s.relay, back)), ["call.hangup"]);
}

#[test]
fn acknowledged_frames_are_forgotten_and_the_ack_goes_nowhere() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    let agent = PartyId::new("agent-1").unwrap();
    let select = SelectAnswerBody::new(PartyId::new("visitor-1").unwrap());
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 2, select));
    for seq in 3..=5 {
        let candidates = velaro_signaling::velaro_call_state::velaro_call_protocol::message::candidates::CandidatesBody::new(vec![]);
        s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, seq, candidates));
    }
    assert_eq!(drain(&mut s.relay, s.tab1).len(), 5);
    drain(&mut s.relay, s.agent);
    outputs(&mut s.relay);
    // An ack for another call changes nothing; the tab's ack of 1 to 3 is taken quietly.
    let ack = |call: &str, seq, upto| {
        frame("conv-1", call, Role::Visitor, seq, AckBody::new(vec![(agent.clone(), upto)]))
    };
    s.send(s.tab1, &ack("call-0", 2, 5));
    s.send(s.tab1, &ack("call-1", 3, 3));
    assert_eq!(outputs(&mut s.relay), [], "no delivery, no notice, no event");
    assert!(drain(&mut s.relay, s.agent).is_empty(), "the agent hears no ack");

    // The tab reloads and asks for everything: what it acknowledged is gone.
    s.relay.disconnect(s.now, s.tab1).unwrap();
    let conversation = ConversationId::new("conv-1").unwrap();
    let visitor = PartyId::new("visitor-1").unwrap();
    let back = s.relay.connect(s.now, &conversation, Role::Visitor, visitor.clone()).unwrap();
    s.relay.resume(back, &[]).unwrap();
    assert_eq!(drain(&mut s.relay, back).iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 5]);
    // Acknowledging everything leaves nothing to replay.
    s.send(back, &ack("call-1", 4, 5));
    s.relay.disconnect(s.now, back).unwrap();
    let again = s.relay.connect(s.now, &conversation, Role::Visitor, visitor).unwrap();
    s.relay.resume(again, &[]).unwrap();
    assert_eq!(drain(&mut s.relay, again), []);
}

#[test]
fn a_party_outside_the_call_and_a_self_accept_are_forbidden() {
    let mut s = setup();
    let other_agent = s
        .relay
        .connect(
            s.now,
            &ConversationId::new("conv-1").unwrap(),
            Role::Agent,
            PartyId::new("agent-2").unwrap(),
        )
        .unwrap();
    s.invite_and_ring();
    // Another agent device of the conversation meddles with the call.
    let hangup = frame("conv-1", "call-1", Role::Agent, 1, HangupBody::new(Reason::UserHangup));
    s.send(other_agent, &hangup);
    assert_eq!(rejected(&drain(&mut s.relay, other_agent)), [(RejectCode::Forbidden, Some(1))]);
    // The inviting agent accepts its own call.
    let accept =
        frame("conv-1", "call-1", Role::Visitor, 2, AcceptBody::new(MediaKinds::AUDIO_VIDEO));
    s.send(s.agent, &accept);
    assert_eq!(rejected(&drain(&mut s.relay, s.agent)), [(RejectCode::Forbidden, Some(2))]);
    s.all_quiet(&[s.tab1, s.tab2, other_agent]);
}

#[test]
fn frames_after_the_hangup_are_dropped_quietly_and_a_replayed_invite_is_refused() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    s.send(
        s.agent,
        &frame("conv-1", "call-1", Role::Agent, 2, HangupBody::new(Reason::UserHangup)),
    );
    for session in [s.agent, s.tab1, s.tab2] {
        drain(&mut s.relay, session);
    }
    s.send(
        s.tab1,
        &frame("conv-1", "call-1", Role::Visitor, 2, HangupBody::new(Reason::UserHangup)),
    );
    s.all_quiet(&[s.agent, s.tab1, s.tab2]);
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 1, invite())); // replayed
    assert_eq!(rejected(&drain(&mut s.relay, s.agent)), [(RejectCode::CallEnded, Some(1))]);
    s.all_quiet(&[s.tab1, s.tab2]);
}

#[test]
fn an_accept_after_the_invite_expired_is_refused_as_expired() {
    let mut s = setup();
    s.invite_and_ring();
    s.now += Duration::from_secs(61);
    s.relay.handle_timeout(s.now);
    let cancels: Vec<Envelope> = drain(&mut s.relay, s.tab1);
    assert_eq!(types(&cancels), ["call.cancel"], "the tabs stop ringing");
    drain(&mut s.relay, s.tab2);
    s.accept_by_tab1();
    assert_eq!(rejected(&drain(&mut s.relay, s.tab1)), [(RejectCode::Expired, Some(1))]);
    s.all_quiet(&[s.agent, s.tab2]);
}

#[test]
fn a_conversation_with_a_live_call_holds_under_2_kib_besides_its_frames() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    let bytes = s.relay.conversation_memory(&ConversationId::new("conv-1").unwrap()).unwrap();
    assert!(bytes <= 2048, "{bytes} bytes");
}

#[test]
fn a_relay_only_filter_hides_the_visitors_addresses_from_the_agent() {
    use velaro_signaling::velaro_call_state::velaro_call_protocol::message::candidates::{
        CandidatesBody, IceCandidate,
    };
    use velaro_signaling::velaro_call_state::velaro_call_protocol::velaro_ice_config::{
        CandidateFilter, CandidatePolicy,
    };
    let config = RelayConfig::default()
        .with_visitor_candidates(CandidateFilter::new(CandidatePolicy::RelayOnly));
    let mut s = setup_with(config, true);
    s.invite();
    s.accept_by_tab1();
    drain(&mut s.relay, s.agent);
    let line = |l: &str| IceCandidate::new(l.parse().unwrap(), Some("0".into()), Some(0));
    let candidates = CandidatesBody::new(vec![
        line("candidate:1 1 udp 2122260223 192.168.1.20 5000 typ host"),
        line(
            "candidate:2 1 udp 1686052607 203.0.113.7 5000 typ srflx raddr 192.168.1.20 rport 5000",
        ),
        line(
            "candidate:3 1 udp 41885439 198.51.100.9 61234 typ relay raddr 203.0.113.7 rport 5000",
        ),
        IceCandidate::end_of_candidates(None),
    ]);
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 2, candidates));
    let got = drain(&mut s.relay, s.agent);
    let Message::Candidates(body) = &got[0].message else { panic!("{got:?}") };
    let lines: Vec<String> = body
        .candidates
        .iter()
        .map(|c| c.candidate.as_ref().map(ToString::to_string).unwrap_or_default())
        .collect();
    assert_eq!(
        lines,
        ["candidate:3 1 udp 41885439 198.51.100.9 61234 typ relay raddr 0.0.0.0 rport 0", ""],
        "only the relay candidate, its related address blanked, and the end marker"
    );
}

// --- identity ---

fn connect_as(s: &mut Setup, role: Role, party: &str) -> Result<SessionId, RelayError> {
    s.relay.connect(
        s.now,
        &ConversationId::new("conv-1").unwrap(),
        role,
        PartyId::new(party).unwrap(),
    )
}

#[test]
fn a_session_claiming_the_other_roles_party_id_is_refused() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    let claim = connect_as(&mut s, Role::Visitor, "agent-1");
    assert_eq!(
        claim,
        Err(RelayError::RoleConflict {
            conversation_id: ConversationId::new("conv-1").unwrap(),
            party: PartyId::new("agent-1").unwrap(),
            claimed: Role::Visitor,
            bound: Role::Agent,
        })
    );
    assert!(matches!(
        connect_as(&mut s, Role::Agent, "visitor-1"),
        Err(RelayError::RoleConflict { bound: Role::Visitor, .. })
    ));
    // The visitor's answer reaches the agent's sessions only: nobody else holds the id.
    let answer =
        DescriptionBody::new(velaro_tests_sdp(SdpType::Answer), NegotiationId::new("a1").unwrap());
    drain(&mut s.relay, s.agent);
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 2, answer));
    assert_eq!(types(&drain(&mut s.relay, s.agent)), ["call.description"]);
    assert_eq!(s.relay.session_count(), 3, "the refused sessions never existed");
    // The same role may open more sessions of its party (a second socket, a reload).
    assert!(connect_as(&mut s, Role::Agent, "agent-1").is_ok());
}

#[test]
fn the_relays_own_party_id_is_reserved() {
    let mut s = setup();
    for role in [Role::Agent, Role::Visitor] {
        assert_eq!(
            connect_as(&mut s, role, "relay"),
            Err(RelayError::ReservedParty(PartyId::relay()))
        );
    }
}

/// An SDP that passes the relay's checks, from the captured browser fixtures' shape.
fn velaro_tests_sdp(sdp_type: SdpType) -> SessionDescription {
    let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
               m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n\
               a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n\
               a=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=sendrecv\r\n\
               a=rtpmap:111 opus/48000/2\r\n";
    SessionDescription::new(sdp_type, sdp)
}

// --- what the relay writes decodes ---

#[test]
fn a_refusal_quoting_a_control_character_still_decodes() {
    let mut s = setup();
    let address_with_cr = br#"{"type":"call.candidates","version":1,"conversation_id":"conv-1","call_id":"call-1","party_id":"p","role":"agent","seq":3,"body":{"candidates":[{"candidate":"candidate:1 1 udp 1 10.0.0.1\r 9 typ host","sdpMid":"0"}]}}"#;
    let bell_type = br#"{"type":"call.description","version":1,"conversation_id":"conv-1","call_id":"call-1","party_id":"p","role":"agent","seq":4,"body":{"description":{"type":"\u0007","sdp":"v=0"},"negotiation_id":"a1"}}"#;
    s.send(s.agent, address_with_cr);
    s.send(s.agent, bell_type);
    let mut notices = 0;
    while let Some(frame) = s.relay.poll_transmit(s.agent) {
        let notice = decode(&frame).expect("the relay's own notice decodes");
        let Message::Rejected(rejected) = notice.message else { panic!("{notice:?}") };
        assert_eq!(rejected.code, RejectCode::Invalid);
        assert!(!rejected.detail.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        notices += 1;
    }
    assert_eq!(notices, 2);
}

#[test]
fn a_frame_that_stamping_would_push_over_the_limit_is_refused_too_large() {
    use velaro_signaling::velaro_call_state::velaro_call_protocol::limits::MAX_FRAME_LEN;
    use velaro_signaling::velaro_call_state::velaro_call_protocol::message::candidates::{
        CandidatesBody, IceCandidate,
    };
    let mut s = setup();
    let long_agent = "a".repeat(255);
    let agent = connect_as(&mut s, Role::Agent, &long_agent).unwrap();
    let invite = frame("conv-1", "call-1", Role::Agent, 1, invite());
    s.send(agent, &invite);
    s.accept_by_tab1();
    drain(&mut s.relay, s.tab1);
    drain(&mut s.relay, s.tab2);
    // Candidates that fill the frame as the client writes it (party id `claimed`, 7 bytes):
    // the largest padding that still fits the limit.
    let client_frame = |pad: usize| {
        let candidates = (0..64)
            .map(|i| {
                let len = 1 + pad / 64 + usize::from(i < pad % 64);
                let text = format!(
                    "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host pad {}",
                    "p".repeat(len)
                );
                IceCandidate::new(text.parse().unwrap(), Some("0".into()), Some(0))
            })
            .collect();
        frame("conv-1", "call-1", Role::Agent, 2, CandidatesBody::new(candidates))
    };
    let (mut fits, mut too_big) = (0, 64 * 960);
    while too_big - fits > 1 {
        let mid = usize::midpoint(fits, too_big);
        if client_frame(mid).len() <= MAX_FRAME_LEN { fits = mid } else { too_big = mid }
    }
    let client_frame = client_frame(fits);
    assert!(client_frame.len() > MAX_FRAME_LEN - 200, "{}", client_frame.len());
    assert!(client_frame.len() <= MAX_FRAME_LEN && decode(&client_frame).is_ok());
    s.send(agent, &client_frame);
    let refusals = rejected(&drain(&mut s.relay, agent));
    assert_eq!(refusals, [(RejectCode::TooLarge, Some(2))]);
    s.all_quiet(&[s.tab1, s.tab2]);
}

// --- tabs that join while it rings ---

fn lifetime_of(envelope: &Envelope) -> Duration {
    let Message::Invite(invite) = &envelope.message else { panic!("{envelope:?}") };
    invite.lifetime()
}

#[test]
fn a_tab_that_opens_while_the_call_rings_rings_too() {
    let mut s = setup();
    s.invite_and_ring();
    s.now += Duration::from_secs(20);
    // A second tab opened during ringing: a new party.
    let new_tab = connect_as(&mut s, Role::Visitor, "visitor-3").unwrap();
    let got = drain(&mut s.relay, new_tab);
    assert_eq!(types(&got), ["call.invite"]);
    assert_eq!((got[0].party_id.as_str(), got[0].seq), ("agent-1", 1), "the agent's own frame");
    assert_eq!(lifetime_of(&got[0]), Duration::from_secs(40), "what is left of its 60 s");
    // A reload: the same tab's socket goes and comes back without a resume.
    s.relay.disconnect(s.now, s.tab1).unwrap();
    let reloaded = connect_as(&mut s, Role::Visitor, "visitor-1").unwrap();
    assert_eq!(types(&drain(&mut s.relay, reloaded)), ["call.invite"]);
    // The new tab answers, and the agent hears it as it would from any tab.
    let accept = AcceptBody::new(MediaKinds::AUDIO_VIDEO);
    s.send(new_tab, &frame("conv-1", "call-1", Role::Visitor, 1, accept));
    assert_eq!(types(&drain(&mut s.relay, s.agent)), ["call.accept"]);
    // An agent device, or a tab once the call is answered, gets no invite.
    let agent2 = connect_as(&mut s, Role::Agent, "agent-2").unwrap();
    let late_tab = connect_as(&mut s, Role::Visitor, "visitor-4").unwrap();
    s.all_quiet(&[agent2, late_tab, s.tab2]);
}

#[test]
fn a_tab_that_resumes_while_the_call_rings_gets_the_invite_once_with_the_lifetime_left() {
    let mut s = setup();
    s.invite_and_ring();
    s.now += Duration::from_secs(20);
    s.relay.disconnect(s.now, s.tab1).unwrap();
    // Back within the grace; its client kept nothing (a reload), or everything it saw.
    for seen in [vec![], vec![(PartyId::new("agent-1").unwrap(), 0)]] {
        let back = connect_as(&mut s, Role::Visitor, "visitor-1").unwrap();
        s.relay.resume(back, &seen).unwrap();
        let got = drain(&mut s.relay, back);
        assert_eq!(types(&got), ["call.invite"], "once, with seen {seen:?}");
        assert_eq!(lifetime_of(&got[0]), Duration::from_secs(40), "what is left of its 60 s");
        s.relay.disconnect(s.now, back).unwrap();
    }
}

// --- nothing vanishes ---

#[test]
fn a_refusal_that_finds_the_queue_full_disconnects_the_session() {
    let config = RelayConfig::default().with_max_queued(1);
    let mut s = setup_with(config, true);
    s.invite(); // each tab's queue is full now
    s.send(s.tab2, b"not json");
    let told = outputs(&mut s.relay);
    assert!(told.contains(&RelayOutput::Close(s.tab2)), "{told:?}");
    assert!(drain(&mut s.relay, s.tab2).is_empty(), "nothing left half-delivered");
    // Once told to go, it gets nothing more, and is not told twice.
    s.send(s.tab2, b"not json either");
    let again = outputs(&mut s.relay);
    assert!(!again.contains(&RelayOutput::Close(s.tab2)), "{again:?}");
    assert!(drain(&mut s.relay, s.tab2).is_empty());
}

// --- billing ---

#[test]
fn talk_time_counts_from_media_connecting_not_from_the_accept() {
    let mut s = setup();
    s.invite();
    s.now += Duration::from_secs(4);
    s.accept_by_tab1();
    s.now += Duration::from_secs(9); // offer, answer, ICE
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 2, MediaBody::default()));
    s.now += Duration::from_secs(60);
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 2, HangupBody::default()));
    let summary = ended(&mut s.relay).pop().unwrap();
    assert_eq!(summary.outcome, Outcome::Answered);
    assert_eq!(summary.ring_time, Duration::from_secs(4));
    assert_eq!(summary.talk_time, Duration::from_secs(60));
}

#[test]
fn a_call_whose_media_never_connected_reports_no_talk_time() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    s.now += Duration::from_secs(30);
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 2, HangupBody::default()));
    let summary = ended(&mut s.relay).pop().unwrap();
    assert_eq!((summary.outcome, summary.talk_time), (Outcome::Answered, Duration::ZERO));
}

// --- memory ---

#[test]
fn a_conversation_is_freed_once_its_last_party_and_its_grace_are_gone() {
    let mut s = setup();
    s.invite_and_ring();
    for session in [s.agent, s.tab1, s.tab2] {
        s.relay.disconnect(s.now, session).unwrap();
    }
    assert_eq!(s.relay.conversation_count(), 1, "the parties may come back within the grace");
    s.relay.handle_timeout(s.now + Duration::from_secs(20));
    assert_eq!(s.relay.conversation_count(), 0);
    assert_eq!(s.relay.poll_timeout(), None);
    assert_eq!(ended(&mut s.relay).len(), 1, "the ringing call ended before the conversation went");
    // A host that opens it again starts afresh.
    let conversation = ConversationId::new("conv-1").unwrap();
    assert!(matches!(
        s.relay.connect(s.now, &conversation, Role::Agent, PartyId::new("agent-1").unwrap()),
        Err(RelayError::UnknownConversation(_))
    ));
    s.relay.open_conversation(conversation.clone(), true);
    assert!(
        s.relay
            .connect(s.now, &conversation, Role::Visitor, PartyId::new("agent-1").unwrap())
            .is_ok()
    );
}

#[test]
fn twenty_thousand_one_off_conversations_leave_nothing_behind() {
    let mut relay = Relay::new(RelayConfig::default());
    let start = setup().now;
    for n in 0..20_000 {
        let conversation = ConversationId::new(format!("conv-{n}")).unwrap();
        relay.open_conversation(conversation.clone(), true);
        let visitor = PartyId::new(format!("visitor-{n}")).unwrap();
        let session = relay.connect(start, &conversation, Role::Visitor, visitor).unwrap();
        relay.disconnect(start, session).unwrap();
    }
    assert_eq!(relay.conversation_count(), 20_000);
    relay.handle_timeout(start + Duration::from_secs(20));
    assert_eq!((relay.conversation_count(), relay.session_count()), (0, 0));
    assert_eq!(relay.poll_timeout(), None);
}

#[test]
fn a_visitor_sdp_the_privacy_filter_grows_past_the_limit_is_refused_not_forwarded() {
    use velaro_signaling::velaro_call_state::velaro_call_protocol::limits::MAX_SDP_LEN;
    use velaro_signaling::velaro_call_state::velaro_call_protocol::velaro_ice_config::{
        CandidateFilter, CandidatePolicy,
    };
    let relay_only = CandidateFilter::new(CandidatePolicy::RelayOnly);
    let mut s = setup_with(RelayConfig::default().with_visitor_candidates(relay_only), true);
    s.invite_and_ring();
    s.accept_by_tab1();
    drain(&mut s.relay, s.agent);
    // Relay candidates without raddr/rport: blanking adds ` raddr 0.0.0.0 rport 0` to each.
    let relay = "a=candidate:1 1 udp 41885439 198.51.100.9 61234 typ relay\r\n";
    let base = velaro_tests_sdp(SdpType::Answer).sdp;
    let sdp = format!("{base}{}", relay.repeat((MAX_SDP_LEN - base.len()) / relay.len()));
    assert!(sdp.len() <= MAX_SDP_LEN && relay_only.filter_sdp(&sdp).sdp.len() > MAX_SDP_LEN);
    let answer = DescriptionBody::new(
        SessionDescription::new(SdpType::Answer, sdp),
        NegotiationId::new("a1").unwrap(),
    );
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 2, answer));
    assert_eq!(rejected(&drain(&mut s.relay, s.tab1)), [(RejectCode::TooLarge, Some(2))]);
    s.all_quiet(&[s.agent, s.tab2]);
    // A description the filter keeps within the limit goes through.
    let answer =
        DescriptionBody::new(velaro_tests_sdp(SdpType::Answer), NegotiationId::new("a1").unwrap());
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 3, answer));
    assert_eq!(types(&drain(&mut s.relay, s.agent)), ["call.description"]);
}

#[test]
fn a_partys_replay_log_is_bounded_in_bytes_and_keeps_the_newest_frames() {
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    drain(&mut s.relay, s.agent);
    s.relay.disconnect(s.now, s.tab1).unwrap();
    // The agent renegotiates 40 times with 30 KiB offers while the tab is away: 1.2 MB.
    let base = velaro_tests_sdp(SdpType::Offer).sdp;
    let padded =
        format!("{base}{}", "a=x-pad:0123456789012345678901234567890123456789\r\n".repeat(600));
    for seq in 2..42 {
        let offer = DescriptionBody::new(
            SessionDescription::new(SdpType::Offer, padded.clone()),
            NegotiationId::new(format!("a{seq}")).unwrap(),
        );
        s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, seq, offer));
    }
    assert!(drain(&mut s.relay, s.agent).is_empty(), "all delivered, none refused");
    let back = connect_as(&mut s, Role::Visitor, "visitor-1").unwrap();
    s.relay.resume(back, &[]).unwrap();
    let mut bytes = 0;
    let mut seqs = Vec::new();
    while let Some(frame) = s.relay.poll_transmit(back) {
        bytes += frame.len();
        seqs.push(decode(&frame).unwrap().seq);
    }
    assert!(bytes <= 1024 * 1024, "{bytes} bytes kept");
    assert!(seqs.len() >= 30, "{} frames kept: about 1 MiB of them", seqs.len());
    assert_eq!(seqs.last(), Some(&41), "the newest kept");
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "in order, the oldest dropped: {seqs:?}");
}

// --- call records ---

/// The record of the one call that ended, placed on a wall clock that reads `wall` at
/// `s.now`.
fn record(s: &mut Setup, wall: std::time::SystemTime) -> CallRecord {
    let reports: Vec<Box<CallReport>> = events(&mut s.relay)
        .into_iter()
        .filter_map(|event| match event {
            RelayEvent::CallEnded { report } => Some(report),
            _ => None,
        })
        .collect();
    assert_eq!(reports.len(), 1, "one call ended");
    CallRecord::new(&reports[0], s.now, wall)
}

#[test]
fn call_records_carry_the_parties_times_outcome_and_media() {
    use std::time::UNIX_EPOCH;
    let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let ms = |at: Duration| 1_800_000_000_000 - u64::try_from(at.as_millis()).unwrap();
    let secs = Duration::from_secs;
    let media = |video: bool| {
        let mut body = MediaBody::default();
        let camera = StreamState::camera(false, !video);
        body.streams.insert(StreamId::new("cam").unwrap(), camera);
        body
    };

    // Completed: invite, accept 4 s later, media 2 s after that, a minute of talk.
    let mut s = setup();
    s.invite();
    s.now += secs(4);
    s.accept_by_tab1();
    s.now += secs(2);
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 2, media(true)));
    s.now += secs(60);
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 2, HangupBody::default()));
    s.now += secs(1); // the host reads the event a second later
    let r = record(&mut s, wall);
    assert_eq!(
        (r.agent.as_str(), r.visitor.as_ref().map(PartyId::as_str)),
        ("agent-1", Some("visitor-1"))
    );
    assert_eq!(
        (r.outcome, r.reason.clone(), r.ended_by),
        (Outcome::Answered, Reason::UserHangup, Some(Role::Visitor))
    );
    assert_eq!(r.started_at_ms, ms(secs(67)));
    assert_eq!(r.answered_at_ms, Some(ms(secs(63))));
    assert_eq!(r.media_connected_at_ms, Some(ms(secs(61))));
    assert_eq!(r.ended_at_ms, ms(secs(1)));
    assert_eq!((r.ring_time_ms, r.talk_time_ms), (4_000, 60_000));
    assert_eq!(r.media, MediaUsed { video: true, ..MediaUsed::default() });

    // Declined: no answer, no media, no talk.
    let mut s = setup();
    s.invite();
    s.now += secs(3);
    s.send(
        s.tab1,
        &frame("conv-1", "call-1", Role::Visitor, 1, DeclineBody::new(Reason::Declined)),
    );
    let r = record(&mut s, wall);
    assert_eq!(
        (r.outcome, r.answered_at_ms, r.media_connected_at_ms),
        (Outcome::Declined, None, None)
    );
    assert_eq!((r.ring_time_ms, r.talk_time_ms, r.ended_at_ms), (3_000, 0, ms(Duration::ZERO)));

    // Failed to connect: answered, but media never connected; the agent gives up after 30 s.
    let mut s = setup();
    s.invite();
    s.accept_by_tab1();
    s.now += secs(30);
    s.send(s.agent, &frame("conv-1", "call-1", Role::Agent, 2, HangupBody::new(Reason::IceFailed)));
    let r = record(&mut s, wall);
    assert_eq!((r.outcome, r.reason.clone()), (Outcome::Failed, Reason::IceFailed));
    assert_eq!(
        (r.answered_at_ms, r.media_connected_at_ms, r.talk_time_ms),
        (Some(ms(secs(30))), None, 0)
    );

    // Signaling lost: the visitor's connection drops mid-call and never comes back; the call
    // ends when the 20 s grace runs out, and a relay-only relay says so.
    let relay_only = CandidateFilter::new(CandidatePolicy::RelayOnly);
    let mut s = setup_with(RelayConfig::default().with_visitor_candidates(relay_only), true);
    s.invite();
    s.accept_by_tab1();
    s.send(s.tab1, &frame("conv-1", "call-1", Role::Visitor, 2, media(false)));
    s.now += secs(10);
    s.relay.disconnect(s.now, s.tab1).unwrap();
    s.now += secs(20);
    s.relay.handle_timeout(s.now);
    let r = record(&mut s, wall);
    assert_eq!(
        (r.outcome, r.reason.clone(), r.ended_by),
        (Outcome::Failed, Reason::SignalingLost, None)
    );
    assert_eq!((r.ended_at_ms, r.talk_time_ms), (ms(Duration::ZERO), 30_000));
    assert_eq!(r.media, MediaUsed { relay_only: true, ..MediaUsed::default() });
}
