//! The relay over random sessions: hosts that connect (some as hostile identities), clients that
//! send real and broken frames, drops, resumes and time passing. Whatever happens, every frame
//! the relay writes decodes with our own decoder, reaches only sessions of the other role (or
//! is the relay's own notice), carries a message its sender wrote, unchanged (only identity is
//! stamped), and every call starts and ends at most once, in that order (while the conversation
//! lives: one freed after its last party left remembers nothing).
//!
//! `PROPTEST_CASES` sets the number of sessions (2,000 by default, as in CI).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use velaro_call_protocol::limits::{MAX_CLIENT_SEQ, MAX_FRAME_LEN, MAX_SEQ};
use velaro_call_protocol::message::ack::AckBody;
use velaro_call_protocol::message::answer::{
    AcceptBody, CancelBody, DeclineBody, RingingBody, SelectAnswerBody,
};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType};
use velaro_call_protocol::message::hangup::HangupBody;
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::{MediaBody, QualityBody, QualityLevel};
use velaro_call_protocol::velaro_ice_config::{CandidateFilter, CandidatePolicy};
use velaro_call_protocol::{
    CallId, ConversationId, Envelope, Message, NegotiationId, PartyId, Reason, Role, decode, encode,
};
use velaro_signaling::{RateLimit, Relay, RelayConfig, RelayEvent, RelayOutput, SessionId};
use velaro_tests::fixtures::{browser_description, fixtures_dir};

const CONVERSATION: &str = "conv-1";
const CALLS: [&str; 2] = ["call-1", "call-2"];

/// The identities a host may connect: agent devices (0 to 2) and visitor tabs (3 to 5), one of
/// each with an id at the length limit, and the relay's own id (6).
static PARTIES: LazyLock<[PartyId; 7]> = LazyLock::new(|| {
    let (long_agent, long_tab) = ("a".repeat(255), "v".repeat(255));
    ["agent-1", "agent-2", &long_agent, "visitor-1", "visitor-2", &long_tab, "relay"]
        .map(|id| PartyId::new(id).unwrap())
});

/// Captured browser candidates, as a client would trickle them.
static CANDIDATES: LazyLock<Vec<IceCandidate>> = LazyLock::new(|| {
    ["chromium-candidates.json", "firefox-candidates.json", "chromium-candidates-mdns.json"]
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(fixtures_dir().join("browser").join(file)).unwrap();
            // Chromium's end of gathering is a `null` in its list.
            let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            list.into_iter().filter(|c| !c.is_null()).map(|c| serde_json::from_value(c).unwrap())
        })
        .collect()
});

/// Candidates that fill a frame to within 200 bytes of the limit as a client writes it (party
/// id `claimed`): stamped with a longer party id, the frame would grow past it.
static NEAR_THE_LIMIT: LazyLock<CandidatesBody> = LazyLock::new(|| {
    let body = |pad: usize| {
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
        CandidatesBody::new(candidates)
    };
    let size = |pad| frame_of(0, 1, body(pad).into()).len();
    let (mut fits, mut too_big) = (0, 64 * 960);
    while too_big - fits > 1 {
        let mid = usize::midpoint(fits, too_big);
        if size(mid) <= MAX_FRAME_LEN { fits = mid } else { too_big = mid }
    }
    assert!(size(fits) > MAX_FRAME_LEN - 200);
    body(fits)
});

#[derive(Debug, Clone)]
enum Op {
    Connect { role: Role, party: usize },
    Disconnect { session: usize },
    Resume { session: usize, seen: u64 },
    Frame { session: usize, call: usize, seq: u64, kind: u8, corrupt: Option<Corruption> },
    Later { millis: u64 },
}

/// A hostile edit of a well-formed frame's bytes.
#[derive(Debug, Clone)]
enum Corruption {
    /// A control character inside a string (written as a JSON escape, so it decodes as text).
    Control(u8),
    /// The frame cut short.
    Truncate(usize),
    /// An unknown field padding the frame to near the 64 KiB limit.
    Pad(usize),
}

fn seq() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 1u64..8, 1 => Just(MAX_CLIENT_SEQ), 1 => Just(MAX_SEQ)]
}

fn corruption() -> impl Strategy<Value = Option<Corruption>> {
    prop_oneof![
        12 => Just(None),
        1 => (0u8..0x20).prop_map(|c| Some(Corruption::Control(c))),
        1 => (0usize..400).prop_map(|n| Some(Corruption::Truncate(n))),
        1 => (65_000usize..65_600).prop_map(|n| Some(Corruption::Pad(n))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly an identity of the role; sometimes a hostile claim: the other role's, or `relay`.
    let connect = prop_oneof![
        4 => (0usize..3).prop_map(|party| Op::Connect { role: Role::Agent, party }),
        4 => (3usize..6).prop_map(|party| Op::Connect { role: Role::Visitor, party }),
        1 => (any::<bool>(), 0..PARTIES.len()).prop_map(|(agent, party)| {
            let role = if agent { Role::Agent } else { Role::Visitor };
            Op::Connect { role, party }
        }),
    ];
    prop_oneof![
        3 => connect,
        1 => (0usize..8).prop_map(|session| Op::Disconnect { session }),
        1 => (0usize..8, 0u64..6).prop_map(|(session, seen)| Op::Resume { session, seen }),
        12 => (0usize..8, 0usize..2, seq(), 0u8..15, corruption()).prop_map(
            |(session, call, seq, kind, corrupt)| Op::Frame { session, call, seq, kind, corrupt }
        ),
        2 => prop_oneof![Just(1u64), Just(2_000), Just(10_000), Just(20_000), Just(61_000)]
            .prop_map(|millis| Op::Later { millis }),
    ]
}

/// A relay configuration, and whether it filters the visitor's candidates to relay-only.
fn config() -> impl Strategy<Value = (RelayConfig, bool)> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(relay_only, tight, slow)| {
        let mut config = RelayConfig::default();
        if relay_only {
            config =
                config.with_visitor_candidates(CandidateFilter::new(CandidatePolicy::RelayOnly));
        }
        if tight {
            config = config.with_max_queued(4);
        }
        if slow {
            config = config.with_rate(RateLimit { burst: 6, per_second: 2 });
        }
        (config, relay_only)
    })
}

/// The message of a frame `kind`, as a client of that role would write it (or would not).
fn message(kind: u8, call: &str) -> Message {
    let negotiation = NegotiationId::new("n1").unwrap();
    match kind {
        0 => InviteBody::new(Prompt::new("Video call?").unwrap(), MediaKinds::AUDIO_VIDEO).into(),
        1 => RingingBody::new().into(),
        2 => AcceptBody::new(MediaKinds::AUDIO_VIDEO).into(),
        3 => DeclineBody::new(Reason::Declined).into(),
        4 => CancelBody::default().into(),
        5 => SelectAnswerBody::new(PARTIES[if call == "call-1" { 3 } else { 5 }].clone()).into(),
        6 => DescriptionBody::new(
            browser_description("chromium-offer-av.json", SdpType::Offer),
            negotiation,
        )
        .into(),
        7 => DescriptionBody::new(
            browser_description("chromium-answer-av.json", SdpType::Answer),
            negotiation,
        )
        .into(),
        8 => CandidatesBody::new(CANDIDATES.clone()).into(),
        9 => NEAR_THE_LIMIT.clone().into(),
        10 => MediaBody::default().into(),
        11 => QualityBody::new(QualityLevel::Poor).into(),
        12 => HangupBody::default().into(),
        13 => AckBody::new(PARTIES.iter().take(4).map(|party| (party.clone(), 3)).collect()).into(),
        _ => decode(br#"{"type":"call.future","version":1,"conversation_id":"conv-1","call_id":"c","party_id":"p","role":"agent","seq":1}"#)
            .unwrap()
            .message,
    }
}

/// A frame as a client writes it: the relay stamps identity itself, so the claim may lie.
fn frame_of(call: usize, seq: u64, message: Message) -> Vec<u8> {
    encode(&Envelope::new(
        ConversationId::new(CONVERSATION).unwrap(),
        CallId::new(CALLS[call]).unwrap(),
        PartyId::new("claimed").unwrap(),
        Role::Agent,
        seq,
        message,
    ))
}

fn frame(call: usize, seq: u64, kind: u8, corrupt: Option<&Corruption>) -> Vec<u8> {
    let mut frame = frame_of(call, seq, message(kind, CALLS[call]));
    match corrupt {
        None => {}
        Some(Corruption::Control(c)) => {
            // Into the first string value: the type, an address, an SDP, an id.
            let text = String::from_utf8(frame).unwrap();
            let at = text.find("127.0.0.1").or_else(|| text.find("call.")).unwrap();
            frame = format!("{}\\u{c:04x}{}", &text[..at + 2], &text[at + 2..]).into_bytes();
        }
        Some(Corruption::Truncate(cut)) => frame.truncate(frame.len().saturating_sub(*cut)),
        Some(Corruption::Pad(to)) => {
            let pad = to.saturating_sub(frame.len() + 12);
            frame.truncate(frame.len() - 1);
            frame.extend_from_slice(format!(r#","pad":"{}"}}"#, "x".repeat(pad)).as_bytes());
        }
    }
    frame
}

/// The host around the relay: its sessions and what it checked so far.
struct Host {
    relay: Relay,
    now: Instant,
    sessions: Vec<(SessionId, Role, PartyId)>,
    /// Per call: started, ended.
    calls: HashMap<CallId, (bool, bool)>,
    /// The role each party id last connected in.
    roles: HashMap<PartyId, Role>,
    /// What each party wrote in each call, as it decodes: a forwarded frame must carry one of
    /// these messages, unchanged (only the envelope's identity is stamped).
    written: HashMap<(PartyId, CallId), Vec<Message>>,
    /// Whether the relay rewrites the visitor's candidates and SDP (relay-only privacy).
    relay_only: bool,
}

impl Host {
    fn session(&self, index: usize) -> Option<SessionId> {
        (!self.sessions.is_empty()).then(|| self.sessions[index % self.sessions.len()].0)
    }

    fn apply(&mut self, op: &Op) {
        let conversation = ConversationId::new(CONVERSATION).unwrap();
        match op {
            Op::Connect { role, party } => {
                // The host opens the conversation before every connect (it may have been freed).
                self.relay.open_conversation(conversation.clone(), true);
                let party = PARTIES[*party].clone();
                match self.relay.connect(self.now, &conversation, *role, party.clone()) {
                    Ok(session) => {
                        assert_ne!(party, PartyId::relay(), "a client connected as the relay");
                        assert!(
                            !self.sessions.iter().any(|(_, r, p)| *p == party && r != role),
                            "{party} connected as {role} while connected in the other role"
                        );
                        self.roles.insert(party.clone(), *role);
                        self.sessions.push((session, *role, party));
                    }
                    Err(error) => assert!(
                        party == PartyId::relay()
                            || self.roles.get(&party).is_some_and(|bound| bound != role),
                        "refused {role} {party}: {error}"
                    ),
                }
            }
            Op::Disconnect { session } => {
                if let Some(id) = self.session(*session) {
                    self.relay.disconnect(self.now, id).unwrap();
                    self.sessions.retain(|(s, _, _)| *s != id);
                }
            }
            Op::Resume { session, seen } => {
                if let Some(id) = self.session(*session) {
                    let seen: Vec<(PartyId, u64)> =
                        PARTIES.iter().map(|p| (p.clone(), *seen)).collect();
                    self.relay.resume(id, &seen).unwrap();
                }
            }
            Op::Frame { session, call, seq, kind, corrupt } => {
                if let Some(id) = self.session(*session) {
                    let frame = frame(*call, *seq, *kind, corrupt.as_ref());
                    if let Ok(envelope) = decode(&frame) {
                        let sender = self.sessions.iter().find(|(s, _, _)| *s == id);
                        let party = sender.map(|(_, _, party)| party.clone()).unwrap();
                        let key = (party, envelope.call_id);
                        self.written.entry(key).or_default().push(envelope.message);
                    }
                    self.relay.handle_frame(self.now, id, &frame).unwrap();
                }
            }
            Op::Later { millis } => {
                self.now += Duration::from_millis(*millis);
                self.relay.handle_timeout(self.now);
                assert!(self.relay.poll_timeout().is_none_or(|at| at > self.now), "a due timer");
            }
        }
    }

    /// Drains every output and checks it.
    fn check(&mut self) -> Result<(), TestCaseError> {
        for (session, role, party) in &self.sessions {
            while let Some(bytes) = self.relay.poll_transmit(*session) {
                let written = decode(&bytes);
                let excerpt = String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
                prop_assert!(written.is_ok(), "undecodable: {written:?} {excerpt}…");
                let envelope = written.unwrap();
                let relays_own = envelope.party_id == PartyId::relay();
                prop_assert!(
                    relays_own || envelope.role == role.peer(),
                    "{role} {party} got a {} frame from {} {}",
                    envelope.message_type(),
                    envelope.role,
                    envelope.party_id
                );
                prop_assert!(envelope.party_id != *party || relays_own, "its own frame came back");
                prop_assert!(
                    !matches!(envelope.message, Message::Ack(_)),
                    "an ack, the relay's own business, was forwarded"
                );
                // Forwarded, not rewritten: the message is what its sender wrote. Two kinds are
                // the relay's own under a party's name: the relay-only filter rewrites a
                // visitor's candidates and SDP, and the relay ends a call on a party's behalf
                // (an expiry, a lost connection, a glare, another tab's answer).
                let filtered = self.relay_only
                    && envelope.role == Role::Visitor
                    && matches!(envelope.message, Message::Candidates(_) | Message::Description(_));
                let an_end_on_its_behalf = matches!(
                    envelope.message,
                    Message::Cancel(_) | Message::Hangup(_) | Message::Decline(_)
                );
                if !relays_own && !filtered && !an_end_on_its_behalf {
                    let key = (envelope.party_id.clone(), envelope.call_id.clone());
                    // A tab that connects while the call rings gets the invite with the
                    // lifetime left: the same invite in every other field.
                    let same = |written: &Message| match (written, &envelope.message) {
                        (Message::Invite(sent), Message::Invite(got)) => {
                            let mut left = sent.clone();
                            left.lifetime_ms = got.lifetime_ms;
                            sent.lifetime_ms >= got.lifetime_ms && left == *got
                        }
                        (sent, got) => sent == got,
                    };
                    let sent = self.written.get(&key).is_some_and(|m| m.iter().any(same));
                    prop_assert!(
                        sent,
                        "{} forwarded a {} its sender never wrote",
                        party,
                        envelope.message_type()
                    );
                }
            }
        }
        while let Some(output) = self.relay.poll_output() {
            match output {
                RelayOutput::Transmit(_) => {}
                RelayOutput::Event(RelayEvent::CallStarted { call_id, .. }) => {
                    let (started, ended) = self.calls.entry(call_id).or_default();
                    prop_assert!(!*started && !*ended, "started twice, or after its end");
                    *started = true;
                }
                RelayOutput::Event(RelayEvent::CallEnded { report }) => {
                    let summary = report.summary;
                    let (_, ended) = self.calls.entry(summary.call_id).or_default();
                    prop_assert!(!*ended, "ended twice");
                    *ended = true;
                }
                RelayOutput::Event(_) => {}
                RelayOutput::Close(session) => {
                    // The host closes what the relay says to close.
                    self.relay.disconnect(self.now, session).unwrap();
                    self.sessions.retain(|(s, _, _)| *s != session);
                }
            }
        }
        let memory = self.relay.conversation_memory(&ConversationId::new(CONVERSATION).unwrap());
        prop_assert!(memory.unwrap_or_default() < 64 * 1024, "{memory:?} bytes");
        if self.relay.conversation_count() == 0 {
            // Freed with nobody left: what it remembered of its calls went with it.
            self.calls.clear();
        }
        Ok(())
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000)
}

#[allow(clippy::disallowed_methods)] // the test owns the clock: one real start, then offsets
fn start() -> Instant {
    Instant::now()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn every_frame_the_relay_writes_decodes_and_reaches_the_other_side_only(
        (config, relay_only) in config(),
        ops in proptest::collection::vec(op(), 1..48),
    ) {
        let mut host = Host {
            written: HashMap::new(),
            relay_only,
            relay: Relay::new(config),
            now: start(),
            sessions: Vec::new(),
            calls: HashMap::new(),
            roles: HashMap::new(),
        };
        for op in &ops {
            host.apply(op);
            host.check()?;
        }
    }
}
