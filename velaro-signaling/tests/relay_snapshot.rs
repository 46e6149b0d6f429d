//! Relay snapshots: a relay restored from a snapshot taken at any point, through its JSON,
//! carries on exactly as the original (the same outputs, frames, timeouts and refusals), and a
//! snapshot from a hostile or corrupt store is a typed error, never a panic.
//!
//! The operations are the relay property's (`tests/tests/relay_properties.rs` in the
//! `velaro-tests` package: hosts that connect, some as hostile identities, real and broken
//! frames, drops, resumes, time passing), plus frames a well-behaved client of the session's
//! role would send, numbered in order, so that calls get answered and hung up.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use velaro_signaling::velaro_call_state::velaro_call_protocol::limits::{
    MAX_CLIENT_SEQ, MAX_FRAME_LEN, MAX_SEQ,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::ack::AckBody;
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::answer::{
    AcceptBody, CancelBody, DeclineBody, RingingBody, SelectAnswerBody,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::candidates::{
    CandidatesBody, IceCandidate,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::description::{
    DescriptionBody, SdpType, SessionDescription,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::hangup::HangupBody;
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::invite::{
    InviteBody, MediaKinds, Prompt,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::message::media::{
    MediaBody, QualityBody, QualityLevel,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::velaro_ice_config::{
    CandidateFilter, CandidatePolicy,
};
use velaro_signaling::velaro_call_state::velaro_call_protocol::{
    CallId, ConversationId, Envelope, Message, NegotiationId, PartyId, Reason, Role, decode, encode,
};
use velaro_signaling::{
    RateLimit, Relay, RelayConfig, RelayError, RelayEvent, RelayOutput, RelaySnapshot, SessionId,
    SnapshotError,
};

const CONVERSATION: &str = "conv-1";

/// The captured browser fixtures of the `velaro-tests` package.
fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/browser")
}

fn browser_description(file: &str, sdp_type: SdpType) -> SessionDescription {
    let text = std::fs::read_to_string(fixtures_dir().join(file)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    SessionDescription::new(sdp_type, json["sdp"].as_str().unwrap())
}

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
            let text = std::fs::read_to_string(fixtures_dir().join(file)).unwrap();
            // Chromium's end of gathering is a `null` in its list.
            let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
            list.into_iter().filter(|c| !c.is_null()).map(|c| serde_json::from_value(c).unwrap())
        })
        .collect()
});

/// Candidates that fill a frame to within 200 bytes of the limit as a client writes it: stamped
/// with a longer party id, the frame would grow past it.
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
    let size = |pad| frame_of(&call(0), 1, body(pad).into()).len();
    let (mut fits, mut too_big) = (0, 64 * 960);
    while too_big - fits > 1 {
        let mid = usize::midpoint(fits, too_big);
        if size(mid) <= MAX_FRAME_LEN { fits = mid } else { too_big = mid }
    }
    body(fits)
});

#[derive(Debug, Clone)]
enum Op {
    Connect {
        role: Role,
        party: usize,
    },
    Disconnect {
        session: usize,
    },
    Resume {
        session: usize,
        seen: u64,
    },
    Frame {
        session: usize,
        call: usize,
        seq: u64,
        kind: u8,
        corrupt: Option<Corruption>,
    },
    Later {
        millis: u64,
    },
    /// A frame a client of the session's role would send next (`kind` picks one of its role's
    /// messages), numbered in order, of the current call.
    Played {
        session: usize,
        kind: usize,
        other_call: bool,
    },
    /// The host's writer takes every queued frame now (otherwise they wait in the queues).
    Flush,
}

/// A hostile edit of a well-formed frame's bytes.
#[derive(Debug, Clone)]
enum Corruption {
    Control(u8),
    Truncate(usize),
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
        2 => (0usize..8, 0usize..2, seq(), 0u8..15, corruption()).prop_map(
            |(session, call, seq, kind, corrupt)| Op::Frame { session, call, seq, kind, corrupt }
        ),
        14 => (0usize..8, 0usize..AGENT_KINDS.len(), prop::bool::weighted(0.1)).prop_map(
            |(session, kind, other_call)| Op::Played { session, kind, other_call }
        ),
        2 => Just(Op::Flush),
        2 => prop_oneof![3 => Just(1u64), 3 => Just(2_000), 1 => Just(10_000), 1 => Just(20_000), 1 => Just(61_000)]
            .prop_map(|millis| Op::Later { millis }),
    ]
}

/// Operations that start with an agent device and a visitor tab connected (so that calls
/// happen), then any.
fn ops(len: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..len).prop_map(|ops| {
        let first = [
            Op::Connect { role: Role::Agent, party: 0 },
            Op::Connect { role: Role::Visitor, party: 3 },
        ];
        first.into_iter().chain(ops).collect()
    })
}

/// What an agent and a visitor client send, by `kind` of [`message`]: invites and selections,
/// rings and accepts, media, and now and then an end.
const AGENT_KINDS: [u8; 16] = [0, 0, 0, 0, 5, 5, 5, 5, 6, 8, 8, 10, 10, 11, 4, 12];
const TAB_KINDS: [u8; 16] = [1, 1, 2, 2, 2, 2, 7, 8, 8, 10, 10, 11, 13, 13, 3, 12];

/// A relay configuration, and whether it filters the visitor's candidates to relay-only.
fn config() -> impl Strategy<Value = RelayConfig> {
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
        config
    })
}

fn call(n: usize) -> CallId {
    CallId::new(format!("call-{}", n + 1)).unwrap()
}

/// The message of a frame `kind`, as a client of that role would write it (or would not).
fn message(kind: u8, selected: &PartyId) -> Message {
    let negotiation = NegotiationId::new("n1").unwrap();
    match kind {
        0 => InviteBody::new(Prompt::new("Video call?").unwrap(), MediaKinds::AUDIO_VIDEO).into(),
        1 => RingingBody::new().into(),
        2 => AcceptBody::new(MediaKinds::AUDIO_VIDEO).into(),
        3 => DeclineBody::new(Reason::Declined).into(),
        4 => CancelBody::default().into(),
        5 => SelectAnswerBody::new(selected.clone()).into(),
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
fn frame_of(call: &CallId, seq: u64, message: Message) -> Vec<u8> {
    encode(&Envelope::new(
        ConversationId::new(CONVERSATION).unwrap(),
        call.clone(),
        PartyId::new("claimed").unwrap(),
        Role::Agent,
        seq,
        message,
    ))
}

fn corrupt(mut frame: Vec<u8>, corrupt: Option<&Corruption>) -> Vec<u8> {
    match corrupt {
        None => {}
        Some(Corruption::Control(c)) => {
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

/// Everything the host sees in answer to one operation.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Connected(Result<SessionId, RelayError>),
    Handled(Result<(), RelayError>),
    Output(RelayOutput),
    Transmit(SessionId, Bytes),
    Timeout(Option<Instant>),
}

impl Seen {
    /// This with every time in it moved on by `by`.
    fn shifted(self, by: Duration) -> Seen {
        match self {
            Seen::Timeout(at) => Seen::Timeout(at.map(|t| t + by)),
            Seen::Output(RelayOutput::Event(RelayEvent::CallEnded { mut report })) => {
                report.invited_at += by;
                report.answered_at = report.answered_at.map(|t| t + by);
                report.media_connected_at = report.media_connected_at.map(|t| t + by);
                report.ended_at += by;
                Seen::Output(RelayOutput::Event(RelayEvent::CallEnded { report }))
            }
            other => other,
        }
    }
}

/// The host around a relay: its sessions, its clock, and what its clients numbered so far.
#[derive(Debug)]
struct Host {
    relay: Relay,
    now: Instant,
    sessions: Vec<(SessionId, Role, PartyId)>,
    /// The next `seq` of each party in each call, for played frames.
    seqs: HashMap<(PartyId, usize), u64>,
    /// Calls that ended: played frames move on to a new call id.
    calls_ended: usize,
    /// Sessions the relay said to close: the host closes them at its next flush, so that a
    /// snapshot may hold a session being closed.
    closing: Vec<SessionId>,
}

impl Host {
    fn session(&self, index: usize) -> Option<(SessionId, Role, PartyId)> {
        (!self.sessions.is_empty()).then(|| self.sessions[index % self.sessions.len()].clone())
    }

    /// Applies `op` and gives back everything the relay said, in order.
    fn apply(&mut self, op: &Op) -> Vec<Seen> {
        let conversation = ConversationId::new(CONVERSATION).unwrap();
        let mut seen = Vec::new();
        match op {
            Op::Connect { role, party } => {
                self.relay.open_conversation(conversation.clone(), true);
                let party = PARTIES[*party].clone();
                let connected = self.relay.connect(self.now, &conversation, *role, party.clone());
                if let Ok(session) = connected {
                    self.sessions.push((session, *role, party));
                }
                seen.push(Seen::Connected(connected));
            }
            Op::Disconnect { session } => {
                if let Some((id, _, _)) = self.session(*session) {
                    seen.push(Seen::Handled(self.relay.disconnect(self.now, id)));
                    self.sessions.retain(|(s, _, _)| *s != id);
                }
            }
            Op::Resume { session, seen: last } => {
                if let Some((id, _, _)) = self.session(*session) {
                    let last: Vec<(PartyId, u64)> =
                        PARTIES.iter().map(|p| (p.clone(), *last)).collect();
                    seen.push(Seen::Handled(self.relay.resume(id, &last)));
                }
            }
            Op::Frame { session, call: n, seq, kind, corrupt: edit } => {
                if let Some((id, _, _)) = self.session(*session) {
                    let selected = &PARTIES[if *n == 0 { 3 } else { 5 }];
                    let frame = frame_of(&call(*n), *seq, message(*kind, selected));
                    let frame = corrupt(frame, edit.as_ref());
                    seen.push(Seen::Handled(self.relay.handle_frame(self.now, id, &frame)));
                }
            }
            Op::Played { session, kind, other_call } => {
                if let Some((id, role, party)) = self.session(*session) {
                    let kind =
                        if role == Role::Agent { AGENT_KINDS[*kind] } else { TAB_KINDS[*kind] };
                    let n = self.calls_ended + usize::from(*other_call);
                    if matches!(kind, 3 | 4 | 12) {
                        self.calls_ended += 1;
                    }
                    let seq = self.seqs.entry((party, n)).or_insert(0);
                    *seq += 1;
                    // The agent selects the tab that answered first, as its client would.
                    let selected = self
                        .sessions
                        .iter()
                        .find(|(_, role, _)| *role == Role::Visitor)
                        .map_or_else(|| PARTIES[3].clone(), |(_, _, party)| party.clone());
                    let frame = frame_of(&call(n), *seq, message(kind, &selected));
                    seen.push(Seen::Handled(self.relay.handle_frame(self.now, id, &frame)));
                }
            }
            Op::Flush => {
                for session in std::mem::take(&mut self.closing) {
                    seen.push(Seen::Handled(self.relay.disconnect(self.now, session)));
                    self.sessions.retain(|(s, _, _)| *s != session);
                }
                for (id, _, _) in &self.sessions {
                    while let Some(frame) = self.relay.poll_transmit(*id) {
                        seen.push(Seen::Transmit(*id, frame));
                    }
                }
            }
            Op::Later { millis } => {
                self.now += Duration::from_millis(*millis);
                self.relay.handle_timeout(self.now);
            }
        }
        while let Some(output) = self.relay.poll_output() {
            if let RelayOutput::Close(session) = output {
                self.closing.push(session);
            }
            seen.push(Seen::Output(output));
        }
        // A timeout at exactly the relay's deadline, as a host's timer fires it.
        if let Some(at) = self.relay.poll_timeout()
            && at <= self.now + Duration::from_millis(500)
        {
            self.now = self.now.max(at);
            self.relay.handle_timeout(self.now);
            while let Some(output) = self.relay.poll_output() {
                seen.push(Seen::Output(output));
            }
        }
        seen.push(Seen::Timeout(self.relay.poll_timeout()));
        seen
    }

    /// The relay's snapshot, through its JSON, restored `shift` after this host's `now` (on
    /// another process's clock, say): the same host with the restored relay.
    fn restored(&self, config: RelayConfig, shift: Duration) -> Host {
        let json = self.relay.snapshot(self.now).to_json();
        let snapshot = RelaySnapshot::from_json(&json).unwrap();
        let now = self.now + shift;
        let relay = Relay::restore(config, snapshot, now).unwrap();
        Host {
            relay,
            now,
            sessions: self.sessions.clone(),
            seqs: self.seqs.clone(),
            calls_ended: self.calls_ended,
            closing: self.closing.clone(),
        }
    }
}

#[allow(clippy::disallowed_methods)] // the test owns the clock: one real start, then offsets
fn start() -> Instant {
    Instant::now()
}

fn host(config: RelayConfig) -> Host {
    Host {
        relay: Relay::new(config),
        now: start(),
        sessions: Vec::new(),
        seqs: HashMap::new(),
        calls_ended: 0,
        closing: Vec::new(),
    }
}

proptest! {
    /// Snapshot at any point, through JSON, restore at the same `now`, then feed both relays
    /// the same operations: everything either says (connect results, errors, outputs, frames
    /// written, timeouts) is the same, and so is its state.
    #[test]
    fn a_restored_relay_carries_on_exactly_as_the_original(
        config in config(),
        ops in ops(96),
        cut in any::<prop::sample::Index>(),
        shift_ms in prop_oneof![Just(0u64), 1u64..10_000_000],
    ) {
        let mut original = host(config);
        let cut = cut.index(ops.len() + 1);
        for op in &ops[..cut] {
            original.apply(op);
        }
        // Restored at the same `now`, or on another base: then every time it gives is the
        // original's, moved by as much.
        let shift = Duration::from_millis(shift_ms);
        let mut restored = original.restored(config, shift);
        prop_assert_eq!(restored.relay.snapshot(restored.now), original.relay.snapshot(original.now));
        prop_assert_eq!(restored.relay.poll_timeout(), original.relay.poll_timeout().map(|t| t + shift));
        for op in &ops[cut..] {
            let expected: Vec<Seen> = original.apply(op).into_iter().map(|seen| seen.shifted(shift)).collect();
            prop_assert_eq!(restored.apply(op), expected, "{:?}", op);
            prop_assert_eq!(restored.relay.snapshot(restored.now), original.relay.snapshot(original.now));
            prop_assert_eq!(restored.relay.session_count(), original.relay.session_count());
            prop_assert_eq!(restored.relay.conversation_count(), original.relay.conversation_count());
        }
    }


    /// Whatever bytes a store gives back, reading and restoring them is an error or a relay that
    /// works, never a panic: cut short, a byte changed, or every number replaced.
    #[test]
    fn a_hostile_snapshot_is_an_error_never_a_panic(
        config in config(),
        ops in proptest::collection::vec(op(), 1..40),
        cut in 0usize..100_000,
        at in 0usize..100_000,
        byte in any::<u8>(),
        number in any::<i64>(),
    ) {
        let mut original = host(config);
        for op in &ops {
            original.apply(op);
        }
        let json = original.relay.snapshot(original.now).to_json();
        let mut truncated = json.clone();
        truncated.truncate(cut.min(json.len().saturating_sub(1)));
        prop_assert!(RelaySnapshot::from_json(&truncated).is_err());
        let mut garbled = json.clone();
        if let Some(b) = garbled.get_mut(at % json.len()) {
            *b = byte;
        }
        let renumbered = renumber(&String::from_utf8(json).unwrap(), &number.unsigned_abs().to_string());
        for bytes in [garbled, renumbered.into_bytes()] {
            if let Ok(snapshot) = RelaySnapshot::from_json(&bytes)
                && let Ok(relay) = Relay::restore(config, snapshot, original.now)
            {
                let mut restored = Host { relay, ..original.clone_state() };
                for op in &ops {
                    restored.apply(op);
                }
            }
        }
    }
}

impl Host {
    /// The host's own state, with a fresh relay (to put a restored one in).
    fn clone_state(&self) -> Host {
        Host {
            relay: Relay::new(RelayConfig::default()),
            now: self.now,
            sessions: self.sessions.clone(),
            seqs: self.seqs.clone(),
            calls_ended: self.calls_ended,
            closing: self.closing.clone(),
        }
    }
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

/// The agent's (session 0) played frame of message `kind`.
fn agent(kind: u8) -> Op {
    let kind = AGENT_KINDS.iter().position(|k| *k == kind).unwrap();
    Op::Played { session: 0, kind, other_call: false }
}

/// The visitor tab's (session 1) played frame of message `kind`.
fn tab(kind: u8) -> Op {
    let kind = TAB_KINDS.iter().position(|k| *k == kind).unwrap();
    Op::Played { session: 1, kind, other_call: false }
}

/// A relay mid-call: an agent and a visitor tab connected, the call answered and selected,
/// offer, answer and candidates exchanged, media connected; a second tab dropped and in its
/// grace; a few frames not yet written.
fn mid_call(config: RelayConfig) -> Host {
    let mut host = host(config);
    let ops = [
        Op::Connect { role: Role::Agent, party: 0 },
        Op::Connect { role: Role::Visitor, party: 3 },
        Op::Connect { role: Role::Visitor, party: 4 },
        agent(0), // invite
        tab(1),   // ringing
        tab(2),   // accept
        agent(5), // select
        Op::Disconnect { session: 2 },
        Op::Flush,
        agent(6),  // offer
        tab(7),    // answer
        agent(8),  // candidates
        tab(8),    // candidates
        agent(10), // media
        tab(10),   // media
    ];
    for op in &ops {
        host.apply(op);
    }
    host
}

#[test]
fn a_mid_call_snapshot_restores_and_its_size_is_what_its_frames_weigh() {
    let config = RelayConfig::default();
    let host = mid_call(config);
    let now = host.now;
    let json = host.relay.snapshot(now).to_json();
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(
        text.contains(r#""state":"answered""#) && text.contains(r#""selected":true"#),
        "{text}"
    );
    assert!(text.contains(r#""lost_since_ns":0"#), "the dropped tab is in its grace: {text}");
    // The frames (SDPs and candidates, logged for a resume and queued) are most of it.
    let frames: usize = ["chromium-offer-av.json", "chromium-answer-av.json"]
        .iter()
        .map(|f| browser_description(f, SdpType::Offer).sdp.len())
        .sum();
    eprintln!("a mid-call relay snapshot: {} bytes of JSON (the SDPs alone: {frames})", json.len());
    assert!(json.len() < 256 * 1024, "{} bytes", json.len());
    let restored = Relay::restore(config, RelaySnapshot::from_json(&json).unwrap(), now).unwrap();
    assert_eq!(restored.snapshot(now), host.relay.snapshot(now));
    assert_eq!(restored.session_count(), 2);
    assert_eq!(restored.poll_timeout(), Some(now + config.grace), "the tab's grace");
    // Once the writers took the queued frames, what is left is the replay logs.
    let mut host = host;
    host.apply(&Op::Flush);
    let flushed = host.relay.snapshot(now).to_json();
    eprintln!("flushed: {} bytes", flushed.len());
    assert!(flushed.len() < json.len());
    // Without the frames: ids, counters, times and the referee.
    let value: serde_json::Value = serde_json::from_slice(&flushed).unwrap();
    let referee = value["conversations"][0]["referee"].to_string().len();
    let logged: usize = value["conversations"][0]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["log"].as_array().unwrap())
        .map(|f| f["frame"].to_string().len())
        .sum();
    eprintln!("of which the referee: {referee} bytes, the logged frames: {logged} bytes");
    assert!(referee < 1024, "{referee}");
    assert!(flushed.len() - logged < 4096, "{} bytes besides the frames", flushed.len() - logged);
}

#[test]
fn a_snapshot_of_another_version_shape_or_config_is_a_typed_error() {
    let config = RelayConfig::default();
    let host = mid_call(config);
    let now = host.now;
    let json = String::from_utf8(host.relay.snapshot(now).to_json()).unwrap();
    assert!(json.starts_with(r#"{"version":1,"#), "{}", &json[..40]);
    let restore =
        |json: &str| Relay::restore(config, RelaySnapshot::from_json(json.as_bytes())?, now);
    assert!(restore(&json).is_ok());

    assert_eq!(
        RelaySnapshot::from_json(br#"{"version":7,"shards":[]}"#),
        Err(SnapshotError::UnsupportedVersion { found: 7, supported: 1 })
    );
    for bad in ["", "{", "[]", "{\"version\":1}", &json[..json.len() - 1]] {
        let error = RelaySnapshot::from_json(bad.as_bytes()).unwrap_err();
        assert!(matches!(error, SnapshotError::Decode { .. }), "{bad:.40}: {error}");
    }
    // The referee's own version is checked too.
    let referee_v2 = json.replacen(r#""referee":{"version":1"#, r#""referee":{"version":2"#, 1);
    assert_eq!(
        restore(&referee_v2).unwrap_err(),
        SnapshotError::UnsupportedVersion { found: 2, supported: 1 }
    );

    // Another grace than the one the deadlines were armed with.
    let other = Relay::restore(
        config.with_grace(Duration::from_secs(5)),
        RelaySnapshot::from_json(json.as_bytes()).unwrap(),
        now,
    );
    assert!(
        matches!(
            other,
            Err(SnapshotError::Inconsistent { field: "conversations.deadline_ns", .. })
        ),
        "{other:?}"
    );

    let cases = [
        ("next_session", json.replacen(r#""next_session":4"#, r#""next_session":2"#, 1)),
        (
            "next_session",
            json.replacen(r#""next_session":4"#, &format!(r#""next_session":{}"#, u64::MAX), 1),
        ),
        (
            "conversations.sessions.party",
            json.replacen(
                r#""role":"visitor","party":"visitor-1""#,
                r#""role":"visitor","party":"visitor-9""#,
                1,
            ),
        ),
        ("conversations.sessions.tokens", replace_number(&json, "\"tokens\":", "-1.5")),
        ("conversations.parties.log.sender", json.replacen(r#""sender":0"#, r#""sender":9"#, 1)),
        ("conversations.parties.log.frame", replace_first_frame(&json, r#"{"base64":"!!"}"#)),
        ("conversations.parties.lost_since_ns", json.replacen(r#","lost_since_ns":0"#, "", 1)),
        (
            "conversations.referee",
            json.replacen(r#""conversation_id":"conv-1""#, r#""conversation_id":"conv-2""#, 1),
        ),
        (
            "conversations.sessions.notices",
            replace_number(&json, "\"notices\":", "9007199254740992"),
        ),
    ];
    for (field, bad) in cases {
        assert_ne!(bad, json, "{field}: the edit applies");
        match restore(&bad) {
            Err(SnapshotError::Inconsistent { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// `json` with the number after the first `key` replaced by `number`.
fn replace_number(json: &str, key: &str, number: &str) -> String {
    let at = json.find(key).unwrap() + key.len();
    let end = at + json[at..].find([',', '}']).unwrap();
    format!("{}{number}{}", &json[..at], &json[end..])
}

/// `json` with the first logged frame replaced by `frame`.
fn replace_first_frame(json: &str, frame: &str) -> String {
    let key = r#""frame":""#;
    let at = json.find(key).unwrap() + key.len() - 1;
    // The frame is a JSON string: find its closing quote (not an escaped one).
    let text = &json[at + 1..];
    let mut escaped = false;
    let len = text
        .char_indices()
        .find(|(_, c)| {
            let end = *c == '"' && !escaped;
            escaped = *c == '\\' && !escaped;
            end
        })
        .unwrap()
        .0;
    format!("{}{frame}{}", &json[..at], &json[at + 1 + len + 1..])
}
