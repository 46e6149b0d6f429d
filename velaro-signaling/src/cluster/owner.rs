//! The owner's side of one conversation: a [`Relay`] holding only it, fed with journaled
//! inputs at journaled times (sans IO: the node commits what it returns).

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use velaro_call_state::velaro_call_protocol::ConversationId;
use velaro_call_state::{CallRecord, SnapshotError};

use super::event::ClusterEvent;
use super::input::Input;
use crate::relay::{Relay, RelayConfig, RelayEvent, RelayOutput, RelaySnapshot, SessionId};

/// A session of the conversation, wherever it is: its node, and its number there.
pub(super) type Remote = (String, u64);

/// What the owner's relay asked for after one input, to commit.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Effects {
    /// Frames (or a close, `None`) for remote sessions, in order.
    pub(super) deliveries: Vec<(Remote, Option<Bytes>)>,
    /// Calls started and ended.
    pub(super) events: Vec<ClusterEvent>,
    /// The relay freed the conversation: its journal starts afresh.
    pub(super) reset: bool,
}

/// An owner as of its last judged input, to compact the journal: a new owner restores it and
/// judges only the inputs journaled after it, reaching the state the old owner had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct OwnerSnapshot {
    /// The time of the last input judged (Unix ms); the relay's times are offsets from it.
    t: u64,
    relay: RelaySnapshot,
    /// Each remote session (node, number there) and its relay session's number.
    sessions: Vec<(String, u64, u64)>,
    /// Each relay session's remote one: also a session whose remote connected again (the
    /// relay still holds it until it is disconnected).
    remotes: Vec<(u64, String, u64)>,
    /// The last input number judged from each session, also of those that left.
    numbered: Vec<(String, u64, u64)>,
}

/// One conversation's judge on its owner.
#[derive(Debug)]
pub(super) struct Owner {
    conversation: ConversationId,
    config: RelayConfig,
    relay: Relay,
    sessions: HashMap<Remote, SessionId>,
    remotes: HashMap<SessionId, Remote>,
    /// The last input number judged from each session (also after it left): an input appended
    /// twice is judged once.
    numbered: HashMap<Remote, u64>,
    /// The relay's `Instant` for `t0`.
    anchor: Instant,
    /// The journal's first time (Unix ms), once there is one.
    t0: Option<u64>,
    /// The latest time judged at: time never runs backwards for the relay.
    last_t: u64,
}

impl Owner {
    /// A fresh owner: what a conversation with an empty journal is. `anchor` is any `Instant`
    /// (the relay only compares and adds).
    pub(super) fn new(conversation: ConversationId, config: RelayConfig, anchor: Instant) -> Owner {
        Owner {
            conversation,
            config,
            relay: Relay::new(config),
            sessions: HashMap::new(),
            remotes: HashMap::new(),
            numbered: HashMap::new(),
            anchor,
            t0: None,
            last_t: 0,
        }
    }

    /// Rebuilds the state the journal made: its snapshot (a compacted journal starts with
    /// one), then its inputs, discarding what they asked for (it was committed when they were
    /// judged). Fails only on a snapshot that does not restore.
    pub(super) fn rebuild(
        conversation: ConversationId,
        config: RelayConfig,
        anchor: Instant,
        (snapshot, journal): (Option<OwnerSnapshot>, impl IntoIterator<Item = (u64, Input)>),
    ) -> Result<Owner, SnapshotError> {
        let mut owner = match snapshot {
            Some(snapshot) => Owner::restore(conversation, config, anchor, snapshot)?,
            None => Owner::new(conversation, config, anchor),
        };
        for (t, input) in journal {
            let _ = owner.apply(t, &input);
        }
        Ok(owner)
    }

    /// The owner as of now (its last judged input), or `None` before any input.
    pub(super) fn snapshot(&self) -> Option<OwnerSnapshot> {
        let t0 = self.t0?;
        let now = self.anchor + Duration::from_millis(self.last_t.saturating_sub(t0));
        let mut sessions: Vec<(String, u64, u64)> = self
            .sessions
            .iter()
            .map(|((node, session), id)| (node.clone(), *session, id.number()))
            .collect();
        sessions.sort();
        let mut remotes: Vec<(u64, String, u64)> = self
            .remotes
            .iter()
            .map(|(id, (node, session))| (id.number(), node.clone(), *session))
            .collect();
        remotes.sort();
        let mut numbered: Vec<(String, u64, u64)> =
            self.numbered.iter().map(|((node, session), q)| (node.clone(), *session, *q)).collect();
        numbered.sort();
        let relay = self.relay.snapshot(now);
        Some(OwnerSnapshot { t: self.last_t, relay, sessions, remotes, numbered })
    }

    /// The owner a [`snapshot`](Self::snapshot) was taken of, on any `anchor`: its relay is
    /// restored at `anchor`, which stands for the snapshot's time from then on.
    pub(super) fn restore(
        conversation: ConversationId,
        config: RelayConfig,
        anchor: Instant,
        snapshot: OwnerSnapshot,
    ) -> Result<Owner, SnapshotError> {
        let relay = Relay::restore(config, snapshot.relay, anchor)?;
        let mut owner = Owner::new(conversation, config, anchor);
        owner.relay = relay;
        owner.t0 = Some(snapshot.t);
        owner.last_t = snapshot.t;
        owner.sessions = snapshot
            .sessions
            .into_iter()
            .map(|(node, session, id)| ((node, session), SessionId::from_number(id)))
            .collect();
        owner.remotes = snapshot
            .remotes
            .into_iter()
            .map(|(id, node, session)| (SessionId::from_number(id), (node, session)))
            .collect();
        owner.numbered =
            snapshot.numbered.into_iter().map(|(node, session, q)| ((node, session), q)).collect();
        Ok(owner)
    }

    /// The time to judge an input read at `now_ms` at: never before the last one.
    pub(super) fn time_for(&self, now_ms: u64) -> u64 {
        now_ms.max(self.last_t)
    }

    /// When the relay's next timer is due (Unix ms, rounded up); never before the last time
    /// judged, as no input can be judged before it (an input judged after a deadline it did
    /// not fire leaves that deadline overdue: due now).
    pub(super) fn next_due(&self) -> Option<u64> {
        let due = self.relay.poll_timeout()?;
        let t0 = self.t0?;
        let offset = due.saturating_duration_since(self.anchor);
        let ms = offset.as_millis() + u128::from(offset.subsec_nanos() % 1_000_000 != 0);
        Some(t0.saturating_add(u64::try_from(ms).unwrap_or(u64::MAX)).max(self.last_t))
    }

    /// The nodes (other than `me`) that hold sessions of the conversation.
    pub(super) fn nodes(&self, me: &str) -> BTreeSet<String> {
        self.sessions.keys().map(|(node, _)| node.clone()).filter(|n| n != me).collect()
    }

    /// Nothing is left: no session, no party within its grace, no live call.
    pub(super) fn is_idle(&self) -> bool {
        self.relay.conversation_count() == 0
    }

    /// Judges `input` at `t` (Unix ms, from [`time_for`](Self::time_for)).
    pub(super) fn apply(&mut self, t: u64, input: &Input) -> Effects {
        let t0 = *self.t0.get_or_insert(t);
        self.last_t = self.last_t.max(t);
        let now = self.anchor + Duration::from_millis(t.saturating_sub(t0));
        let mut effects = Effects::default();
        if let Input::Connect { node, session, q, .. }
        | Input::Frame { node, session, q, .. }
        | Input::Disconnect { node, session, q } = input
        {
            let last = self.numbered.entry((node.clone(), *session)).or_default();
            if *q <= *last {
                return effects; // judged already
            }
            *last = *q;
        }
        match input {
            Input::Connect { node, session, role, party, video, seen, .. } => {
                let remote = (node.clone(), *session);
                self.relay.open_conversation(self.conversation.clone(), *video);
                match self.relay.connect(now, &self.conversation, *role, party.clone()) {
                    Ok(id) => {
                        self.sessions.insert(remote.clone(), id);
                        self.remotes.insert(id, remote);
                        if let Some(seen) = seen {
                            let _ = self.relay.resume(id, seen);
                        }
                    }
                    // Refused (a party id bound to the other role, say): close it.
                    Err(_) => effects.deliveries.push((remote, None)),
                }
            }
            Input::Frame { node, session, frame, .. } => {
                let remote = (node.clone(), *session);
                match self.sessions.get(&remote) {
                    Some(id) => {
                        let _ = self.relay.handle_frame(now, *id, frame);
                    }
                    // A session the relay does not know (its node was taken for gone, or its
                    // connect was refused): closed, so that its party reconnects and resumes
                    // rather than talk to nobody.
                    None => effects.deliveries.push((remote, None)),
                }
            }
            Input::Disconnect { node, session, .. } => {
                self.disconnect(now, &(node.clone(), *session));
            }
            Input::Timeout => self.relay.handle_timeout(now),
            Input::NodeGone { node } => {
                let gone: Vec<Remote> =
                    self.sessions.keys().filter(|(n, _)| n == node).cloned().collect();
                for remote in gone {
                    self.disconnect(now, &remote);
                }
            }
        }
        self.drain(t, now, &mut effects);
        if self.is_idle() {
            *self = Owner::new(self.conversation.clone(), self.config, self.anchor);
            effects.reset = true;
        }
        effects
    }

    fn disconnect(&mut self, now: Instant, remote: &Remote) {
        if let Some(id) = self.sessions.remove(remote) {
            self.remotes.remove(&id);
            let _ = self.relay.disconnect(now, id);
        }
    }

    fn drain(&mut self, t: u64, now: Instant, effects: &mut Effects) {
        while let Some(output) = self.relay.poll_output() {
            match output {
                RelayOutput::Transmit(id) => {
                    let Some(remote) = self.remotes.get(&id) else { continue };
                    while let Some(frame) = self.relay.poll_transmit(id) {
                        effects.deliveries.push((remote.clone(), Some(frame)));
                    }
                }
                RelayOutput::Close(id) => {
                    if let Some(remote) = self.remotes.get(&id) {
                        effects.deliveries.push((remote.clone(), None));
                    }
                }
                RelayOutput::Event(RelayEvent::CallStarted {
                    conversation_id,
                    call_id,
                    agent,
                    visitor,
                }) => effects.events.push(ClusterEvent::CallStarted {
                    conversation_id,
                    call_id,
                    agent,
                    visitor,
                }),
                RelayOutput::Event(RelayEvent::CallEnded { report }) => {
                    let wall = UNIX_EPOCH + Duration::from_millis(t);
                    let record = CallRecord::new(&report, now, wall);
                    effects.events.push(ClusterEvent::CallEnded { record });
                }
                RelayOutput::Event(_) => {}
            }
        }
    }
}

/// Unix milliseconds of a wall-clock time (0 before the epoch).
pub(super) fn unix_ms(wall: SystemTime) -> u64 {
    let since = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use velaro_call_state::velaro_call_protocol::message::answer::{AcceptBody, RingingBody};
    use velaro_call_state::velaro_call_protocol::message::hangup::HangupBody;
    use velaro_call_state::velaro_call_protocol::message::invite::{
        InviteBody, MediaKinds, Prompt,
    };
    use velaro_call_state::velaro_call_protocol::{
        CallId, Envelope, Message, PartyId, Reason, Role, encode,
    };

    use super::*;

    /// Input numbers that only grow: each session's inputs are numbered in order.
    fn next_q() -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn connect(node: &str, session: u64, role: Role, party: &str) -> Input {
        Input::Connect {
            node: node.into(),
            session,
            q: next_q(),
            role,
            party: PartyId::new(party).unwrap(),
            video: true,
            seen: None,
        }
    }

    fn frame(node: &str, session: u64, json: &str) -> Input {
        let frame = Bytes::copy_from_slice(json.as_bytes());
        Input::Frame { node: node.into(), session, q: next_q(), frame }
    }

    /// A journal of a ringing call whose invite expires: the owner that judged it, and one
    /// rebuilt from its journal on another `Instant` base, give the same outputs from there on.
    #[test]
    fn a_rebuilt_owner_carries_on_exactly_as_the_one_that_judged() {
        let conversation = ConversationId::new("conv-1").unwrap();
        let config = RelayConfig::default();
        #[allow(clippy::disallowed_methods)] // any base will do: that is the point
        let base = Instant::now();
        let prompt = Prompt::new("Video?").unwrap();
        let body = InviteBody::new(prompt, MediaKinds::AUDIO_VIDEO)
            .with_lifetime(Duration::from_secs(10))
            .unwrap();
        let call = CallId::new("call-1").unwrap();
        let agent = PartyId::new("agent-1").unwrap();
        let envelope = Envelope::new(conversation.clone(), call, agent, Role::Agent, 1, body);
        let invite = String::from_utf8(encode(&envelope)).unwrap();
        let invite = invite.as_str();
        let journal = vec![
            (1_000_000, connect("a", 1, Role::Agent, "agent-1")),
            (1_000_010, connect("b", 1, Role::Visitor, "visitor-1")),
            (1_000_020, frame("a", 1, invite)),
        ];
        let mut judged = Owner::new(conversation.clone(), config, base);
        let mut delivered = Vec::new();
        for (t, input) in &journal {
            delivered.extend(judged.apply(*t, input).deliveries);
        }
        assert!(
            delivered.iter().any(|((node, _), frame)| node == "b" && frame.is_some()),
            "the invite reached the visitor: {delivered:?}"
        );
        let later = base + Duration::from_secs(3600);
        let rebuilt = Owner::rebuild(conversation, config, later, (None, journal.clone())).unwrap();
        let due = judged.next_due().unwrap();
        assert_eq!(rebuilt.next_due(), Some(due), "the invite expires at the same time");
        assert_eq!(due, 1_000_020 + 10_000);
        let (mut judged, mut rebuilt) = (judged, rebuilt);
        let (a, b) = (judged.apply(due, &Input::Timeout), rebuilt.apply(due, &Input::Timeout));
        assert_eq!(a, b);
        assert!(!a.deliveries.is_empty(), "both tell the parties the invite expired");
        assert!(matches!(a.events.as_slice(), [ClusterEvent::CallEnded { .. }]), "{:?}", a.events);
    }

    /// One step of a random conversation: how long after the last one it came, and the input.
    fn step() -> impl Strategy<Value = (u64, Input)> {
        let node = prop_oneof![Just("a"), Just("b")];
        prop_oneof![
            (node.clone(), 1..4u64, any::<bool>()).prop_map(|(n, s, agent)| if agent {
                connect(n, s, Role::Agent, "agent-1")
            } else {
                connect(n, s, Role::Visitor, "visitor-1")
            }),
            (node.clone(), 1..4u64, 0..6usize, 1..5u64).prop_map(|(n, s, m, seq)| frame(
                n,
                s,
                &wire(m, seq)
            )),
            (node.clone(), 1..4u64).prop_map(|(n, s)| Input::Disconnect {
                node: n.into(),
                session: s,
                q: next_q()
            }),
            node.prop_map(|n| Input::NodeGone { node: n.into() }),
            Just(Input::Timeout),
        ]
        .prop_flat_map(|input| (0..30_000u64, Just(input)))
    }

    /// A rebuilt owner and the one that judged everything answer the `rest` alike: the same
    /// times, effects and deadlines.
    fn carries_on_alike(
        mut rebuilt: Owner,
        mut judged: Owner,
        rest: &[(u64, Input)],
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(rebuilt.next_due(), judged.next_due());
        for (t, input) in rest {
            let t = judged.time_for(*t);
            prop_assert_eq!(rebuilt.time_for(t), t);
            prop_assert_eq!(rebuilt.apply(t, input), judged.apply(t, input));
            prop_assert_eq!(rebuilt.next_due(), judged.next_due());
        }
        Ok(())
    }

    /// The steps at their times (Unix ms), each its gap after the one before.
    fn at_times(steps: Vec<(u64, Input)>) -> Vec<(u64, Input)> {
        let mut t = 1_000_000u64;
        steps
            .into_iter()
            .map(|(gap, input)| {
                t += gap;
                (t, input)
            })
            .collect()
    }

    /// A frame of the call, from whoever may send it: invite, ringing, accept, hangup (either
    /// side), or garbage.
    fn wire(message: usize, seq: u64) -> String {
        let conversation = ConversationId::new("conv-1").unwrap();
        let call = CallId::new("call-1").unwrap();
        let (party, role, body): (&str, Role, Message) = match message {
            0 => {
                let prompt = Prompt::new("Video?").unwrap();
                ("agent-1", Role::Agent, InviteBody::new(prompt, MediaKinds::AUDIO_VIDEO).into())
            }
            1 => ("visitor-1", Role::Visitor, RingingBody::new().into()),
            2 => ("visitor-1", Role::Visitor, AcceptBody::new(MediaKinds::AUDIO_VIDEO).into()),
            3 => ("agent-1", Role::Agent, HangupBody::new(Reason::UserHangup).into()),
            4 => ("visitor-1", Role::Visitor, HangupBody::new(Reason::UserHangup).into()),
            _ => return "[]".to_owned(),
        };
        let party = PartyId::new(party).unwrap();
        String::from_utf8(encode(&Envelope::new(conversation, call, party, role, seq, body)))
            .unwrap()
    }

    proptest! {
        /// Rebuilding from any prefix of the journal, on any `Instant` base, gives an owner that
        /// answers the rest of the inputs exactly as the one that judged them all: the same
        /// deliveries, events, resets and deadlines (what a failover relies on).
        #[test]
        fn a_rebuild_from_any_prefix_carries_on_identically(
            steps in proptest::collection::vec(step(), 1..40),
            cut in 0..40usize,
        ) {
            #[allow(clippy::disallowed_methods)]
            let base = Instant::now();
            let conversation = ConversationId::new("conv-1").unwrap();
            let config = RelayConfig::default();
            let timed = at_times(steps);
            let cut = cut.min(timed.len());
            let mut judged = Owner::new(conversation.clone(), config, base);
            let mut journal = Vec::new();
            for (t, input) in &timed[..cut] {
                // What a real owner journals: a reset forgets everything before it.
                if judged.apply(*t, input).reset {
                    journal.clear();
                } else {
                    journal.push((*t, input.clone()));
                }
            }
            let later = base + Duration::from_secs(7_777);
            let rebuilt = Owner::rebuild(conversation, config, later, (None, journal)).unwrap();
            carries_on_alike(rebuilt, judged, &timed[cut..])?;
        }
    }

    proptest! {
        /// A journal compacted at any point (the owner's snapshot, through its JSON, replaces
        /// what came before) rebuilds, on any `Instant` base, an owner that answers the rest
        /// exactly as the one that judged them all.
        #[test]
        fn a_rebuild_from_a_compacted_journal_carries_on_identically(
            steps in proptest::collection::vec(step(), 1..40),
            compact_at in 0..40usize,
            cut in 0..40usize,
        ) {
            #[allow(clippy::disallowed_methods)]
            let base = Instant::now();
            let conversation = ConversationId::new("conv-1").unwrap();
            let config = RelayConfig::default();
            let timed = at_times(steps);
            let cut = cut.min(timed.len());
            let mut judged = Owner::new(conversation.clone(), config, base);
            // The journal as Redis holds it: a snapshot, then inputs.
            let mut snapshot: Option<Vec<u8>> = None;
            let mut journal = Vec::new();
            for (i, (t, input)) in timed[..cut].iter().enumerate() {
                let reset = judged.apply(*t, input).reset;
                if reset {
                    (snapshot, journal) = (None, Vec::new());
                } else if i == compact_at {
                    let taken = judged.snapshot().expect("an owner that judged has a snapshot");
                    (snapshot, journal) = (Some(serde_json::to_vec(&taken).unwrap()), Vec::new());
                } else {
                    journal.push((*t, input.clone()));
                }
            }
            let snapshot = snapshot.map(|json| serde_json::from_slice(&json).unwrap());
            let later = base + Duration::from_secs(9_999);
            let rebuilt = Owner::rebuild(conversation, config, later, (snapshot, journal)).unwrap();
            carries_on_alike(rebuilt, judged, &timed[cut..])?;
        }
    }

    #[test]
    fn a_freed_conversation_starts_its_journal_afresh() {
        let conversation = ConversationId::new("conv-1").unwrap();
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        let mut owner = Owner::new(conversation, RelayConfig::default(), base);
        assert!(!owner.apply(5, &connect("a", 1, Role::Agent, "agent-1")).reset);
        assert!(!owner.apply(6, &Input::NodeGone { node: "a".into() }).reset, "within the grace");
        let due = owner.next_due().unwrap();
        assert_eq!(due, 6 + 20_000);
        assert!(owner.apply(due, &Input::Timeout).reset, "the grace is over: nothing is left");
        assert!(owner.is_idle() && owner.next_due().is_none());
    }

    #[test]
    fn a_frame_from_a_session_taken_for_gone_closes_it() {
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        let mut owner = Owner::new(ConversationId::new("c").unwrap(), RelayConfig::default(), base);
        let _ = owner.apply(1, &connect("a", 1, Role::Agent, "agent-1"));
        let _ = owner.apply(2, &Input::NodeGone { node: "a".into() });
        let late = owner.apply(3, &frame("a", 1, "{}"));
        assert_eq!(late.deliveries, vec![(("a".to_owned(), 1), None)]);
    }

    #[test]
    fn an_input_appended_twice_is_judged_once() {
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        let mut owner = Owner::new(ConversationId::new("c").unwrap(), RelayConfig::default(), base);
        let agent = connect("a", 1, Role::Agent, "agent-1");
        assert_eq!(owner.apply(1, &agent), Effects::default());
        let garbage = frame("a", 1, "[]");
        let refused = owner.apply(2, &garbage);
        assert_eq!(refused.deliveries.len(), 1, "a call.rejected for the agent: {refused:?}");
        assert_eq!(owner.apply(3, &garbage), Effects::default(), "the same append again");
        let again = owner.apply(4, &agent);
        assert_eq!(again, Effects::default(), "no second session");
        let gone = Input::Disconnect { node: "a".into(), session: 1, q: next_q() };
        let _ = owner.apply(5, &gone);
        let due = owner.next_due().unwrap();
        assert!(owner.apply(due, &Input::Timeout).reset, "one session, gone: nothing is left");
    }

    #[test]
    fn a_refused_connect_closes_its_session() {
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        let mut owner = Owner::new(ConversationId::new("c").unwrap(), RelayConfig::default(), base);
        let _ = owner.apply(1, &connect("a", 1, Role::Agent, "same"));
        let refused = owner.apply(2, &connect("b", 4, Role::Visitor, "same"));
        assert_eq!(refused.deliveries, vec![(("b".to_owned(), 4), None)]);
    }
}
