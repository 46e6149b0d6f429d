//! The relay: routes frames between the sessions of each conversation (sans IO).

mod config;
mod output;
mod snapshot;
mod state;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::mem::size_of;
use std::time::Instant;

use bytes::Bytes;
use velaro_call_state::velaro_call_protocol::limits::{MAX_FRAME_LEN, MAX_SEQ};
use velaro_call_state::velaro_call_protocol::message::hangup::{RejectCode, RejectedBody};
use velaro_call_state::velaro_call_protocol::velaro_ice_config::{
    CandidateFilter, CandidatePolicy,
};
use velaro_call_state::velaro_call_protocol::{
    CallId, ConversationId, Envelope, Message, PartyId, Role, decode, decode_forwardable, encode,
    sdp,
};
use velaro_call_state::{Delivery, Fact, Referee, RefereeOutput};

pub use config::{RateLimit, RelayConfig, TokenBucket};
pub use output::{RelayError, RelayEvent, RelayOutput, SessionId};
pub use snapshot::RelaySnapshot;
use state::{Conversation, Party, ReplayLog, Session};

use crate::observe::{self, in_span};

/// The relay: routes call frames between the sessions of each conversation.
///
/// Sans IO, with the method map of the call machines (see
/// [`velaro_call_state`'s crate docs](velaro_call_state#the-sans-io-shape)). The host
/// authenticates each connection and tells the relay who it is
/// ([`connect`](Self::connect)); every frame it reads goes to
/// [`handle_frame`](Self::handle_frame); [`handle_timeout`](Self::handle_timeout) runs when
/// [`poll_timeout`](Self::poll_timeout) is reached; then [`poll_output`](Self::poll_output)
/// says what to do, in order: [`RelayOutput::Transmit`] (write what
/// [`poll_transmit`](Self::poll_transmit) gives that session), [`RelayOutput::Close`] (close a
/// session that fell behind), [`RelayOutput::Event`] (a call started or ended, a frame was
/// refused: for the transcript and billing).
///
/// The relay decodes (limits first), checks SDP, asks the conversation's [`Referee`] and queues
/// the frame for the other party's sessions, in an envelope stamped with the sender's identity
/// from the connection around the body as the sender wrote it (checked, never encoded again
/// unless the privacy filter rewrote it); a refused frame is answered with `call.rejected`.
/// Nothing here ends a conversation.
///
/// Every frame the relay writes decodes with [`decode`]: what it forwards is checked against
/// the frame limit after stamping (and decoded again when the privacy filter rewrote it), and
/// what it writes itself is built to pass the codec's checks.
///
/// [`snapshot`](Self::snapshot) writes the whole state down as data and
/// [`restore`](Self::restore) carries on from it, exactly (see [`RelaySnapshot`]): a relay
/// cluster compacts a conversation's journal with it.
///
/// A conversation is freed once its last session and the grace of its last party are gone;
/// [`open_conversation`](Self::open_conversation) it again before the next session connects
/// (it is cheap, and idempotent while the conversation lives).
///
/// ```
/// use std::time::Instant;
/// use velaro_signaling::velaro_call_protocol::{ConversationId, PartyId, Role};
/// use velaro_signaling::{Relay, RelayConfig, RelayOutput};
///
/// # #[allow(clippy::disallowed_methods)]
/// let now = Instant::now();
/// let mut relay = Relay::new(RelayConfig::default());
/// let conversation = ConversationId::new("conv-1")?;
/// relay.open_conversation(conversation.clone(), true);
/// let visitor = relay.connect(now, &conversation, Role::Visitor, PartyId::new("visitor-tab")?)?;
/// relay.handle_frame(now, visitor, b"[]")?; // not a frame: refused in-band
/// while let Some(output) = relay.poll_output() {
///     match output {
///         RelayOutput::Transmit(session) => {
///             let notice = relay.poll_transmit(session).expect("a call.rejected for the sender");
///             assert!(std::str::from_utf8(&notice)?.contains(r#""code":"invalid""#));
///         }
///         RelayOutput::Close(session) => { /* close its transport */ }
///         RelayOutput::Event(event) => { /* RelayEvent::Refused here */ }
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Relay {
    config: RelayConfig,
    conversations: HashMap<ConversationId, Conversation>,
    sessions: HashMap<SessionId, Session>,
    next_session: u64,
    outputs: VecDeque<RelayOutput>,
    /// Every conversation with something due, by when: `poll_timeout` and `handle_timeout`
    /// look at the due ones only, however many conversations there are.
    deadlines: BTreeSet<(Instant, ConversationId)>,
}

/// A frame being judged: the session that sent it, and the frame as the relay would forward it.
#[derive(Debug)]
struct Judged {
    session: SessionId,
    frame: Bytes,
}

/// The call id of a notice about a frame too broken to name its call.
const UNKNOWN_CALL: &str = "unknown";

impl Relay {
    /// A relay with no conversations.
    pub fn new(config: RelayConfig) -> Relay {
        observe::describe();
        Relay {
            config,
            conversations: HashMap::new(),
            sessions: HashMap::new(),
            next_session: 1,
            outputs: VecDeque::new(),
            deadlines: BTreeSet::new(),
        }
    }

    /// Opens a conversation (again: changes whether video is enabled, keeps its sessions).
    ///
    /// Call it before a conversation's sessions connect, with the account's plan; calling it
    /// again is harmless, so a host simply opens before every [`connect`](Self::connect). The
    /// relay frees a conversation once nobody is left in it and every grace is over; a
    /// `connect` that answers [`RelayError::UnknownConversation`] (freed just before) is
    /// opened and connected again.
    pub fn open_conversation(&mut self, conversation_id: ConversationId, video_enabled: bool) {
        if let Some(conversation) = self.conversations.get_mut(&conversation_id) {
            conversation.referee.set_video_enabled(video_enabled);
        } else {
            let referee = Referee::new(conversation_id.clone(), video_enabled);
            let span = observe::conversation_span(&conversation_id);
            in_span!(&span);
            observe::conversation_opened();
            self.conversations.insert(conversation_id, Conversation::new(referee, span));
        }
    }

    /// Connects an authenticated session of `party` (one tab or device) in `role`.
    ///
    /// A party id belongs to one role in a conversation (while the party is connected or
    /// within its grace), and `relay` is the relay's own: either claim is refused. A visitor
    /// tab that connects while a call rings gets the invite, with the lifetime that is left.
    pub fn connect(
        &mut self,
        now: Instant,
        conversation_id: &ConversationId,
        role: Role,
        party: PartyId,
    ) -> Result<SessionId, RelayError> {
        if party == PartyId::relay() {
            return Err(observe::connect_refused(role, RelayError::ReservedParty(party)));
        }
        let Some(conversation) = self.conversations.get_mut(conversation_id) else {
            let unknown = RelayError::UnknownConversation(conversation_id.clone());
            return Err(observe::connect_refused(role, unknown));
        };
        in_span!(&conversation.span);
        match conversation.parties.iter_mut().find(|p| p.id == party) {
            Some(known) if known.role != role => {
                let conflict = RelayError::RoleConflict {
                    conversation_id: conversation_id.clone(),
                    party,
                    claimed: role,
                    bound: known.role,
                };
                return Err(observe::connect_refused(role, conflict));
            }
            Some(known) => known.lost_since = None,
            None => conversation.parties.push(Party {
                role,
                id: party.clone(),
                log: ReplayLog::default(),
                lost_since: None,
            }),
        }
        let id = SessionId(self.next_session);
        self.next_session += 1;
        conversation.sessions.push(id);
        conversation.referee.handle_join(now, role, &party);
        observe::connected(id, role, &party);
        let bucket = TokenBucket::full(self.config.rate, now);
        let session = Session {
            conversation: conversation_id.clone(),
            role,
            party,
            queue: VecDeque::new(),
            bucket,
            notices: 0,
            closing: false,
        };
        self.sessions.insert(id, session);
        self.drain_referee(conversation_id, None);
        self.rearm(conversation_id);
        Ok(id)
    }

    /// The session's transport is gone. When it was its party's last session, the party has
    /// [`RelayConfig::grace`] to come back (see [`resume`](Self::resume)); frames for it are
    /// kept meanwhile. Past the grace its live call ends `signaling_lost`, the other side is
    /// told, and the party is forgotten.
    pub fn disconnect(&mut self, now: Instant, session: SessionId) -> Result<(), RelayError> {
        let gone = self.sessions.remove(&session).ok_or(RelayError::UnknownSession(session))?;
        let Some(conversation) = self.conversations.get_mut(&gone.conversation) else {
            observe::disconnected(session, gone.queue.len(), false);
            return Ok(());
        };
        in_span!(&conversation.span);
        conversation.sessions.retain(|s| *s != session);
        let party_still_here = conversation
            .sessions
            .iter()
            .filter_map(|s| self.sessions.get(s))
            .any(|s| s.party == gone.party && s.role == gone.role);
        if !party_still_here
            && let Some(party) =
                conversation.parties.iter_mut().find(|p| p.id == gone.party && p.role == gone.role)
        {
            party.lost_since = Some(now);
        }
        observe::disconnected(session, gone.queue.len(), !party_still_here);
        self.rearm(&gone.conversation);
        Ok(())
    }

    /// Catches a reconnected session up: queues, in order, every frame delivered to its party
    /// (before it dropped or while it was away) that `seen` does not cover. `seen` is the
    /// highest `seq` the client saw from each sender; a sender it does not name is replayed
    /// from its first frame (an empty `seen` replays everything the party was sent). A frame
    /// that [`connect`](Self::connect) already queued for the session (the invite of a call
    /// that still rings, with the lifetime left) is not replayed again.
    ///
    /// A session that is not resumed (a first connect, or a client that kept nothing) gets no
    /// replay: only what `connect` gives any new session.
    pub fn resume(
        &mut self,
        session: SessionId,
        seen: &[(PartyId, u64)],
    ) -> Result<(), RelayError> {
        let target = self.sessions.get(&session).ok_or(RelayError::UnknownSession(session))?;
        let conversation = self
            .conversations
            .get(&target.conversation)
            .ok_or_else(|| RelayError::UnknownConversation(target.conversation.clone()))?;
        in_span!(&conversation.span);
        // A visitor tab that joins while a call rings was handed the invite on connect, with
        // the lifetime left: the log's copy (the same sender and `seq`, its whole lifetime)
        // does not follow it. Only what `connect` queued is read here: a frame or two.
        let queued: Vec<(PartyId, u64)> = target
            .queue
            .iter()
            .filter_map(|frame| decode(frame).ok())
            .map(|envelope| (envelope.party_id, envelope.seq))
            .collect();
        let missing: Vec<Bytes> = conversation
            .parties
            .iter()
            .filter(|p| p.id == target.party && p.role == target.role)
            .flat_map(|p| p.log.missed(seen))
            .filter(|(sender, seq, _)| !queued.iter().any(|(s, q)| s == *sender && q == seq))
            .map(|(_, _, frame)| frame.clone())
            .collect();
        observe::resumed(session, missing.len());
        for frame in missing {
            self.enqueue(session, frame);
        }
        Ok(())
    }

    /// A `call.ack` from `session`: its party's log forgets what `seen` covers, when the ack is
    /// for the call the log holds.
    fn acknowledge(&mut self, session: SessionId, call_id: &CallId, seen: &[(PartyId, u64)]) {
        let Some(from) = self.sessions.get(&session) else { return };
        let Some(conversation) = self.conversations.get_mut(&from.conversation) else { return };
        if conversation.logged_call.as_ref() != Some(call_id) {
            return;
        }
        let forgotten = conversation
            .parties
            .iter_mut()
            .filter(|p| p.id == from.party && p.role == from.role)
            .map(|p| p.log.forget(seen))
            .sum();
        observe::acknowledged(session, forgotten);
    }

    /// Handles one frame read from `session`'s transport.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        session: SessionId,
        frame: &[u8],
    ) -> Result<(), RelayError> {
        let sender = self.sessions.get_mut(&session).ok_or(RelayError::UnknownSession(session))?;
        in_span!(self.conversations.get(&sender.conversation).map(|c| &c.span));
        if !sender.bucket.take(self.config.rate, now) {
            self.refuse(
                session,
                None,
                RejectCode::RateLimited,
                "too many frames; slow down".to_owned(),
            );
            return Ok(());
        }
        let (conversation_id, role, party) =
            (sender.conversation.clone(), sender.role, sender.party.clone());
        let mut received = match decode_forwardable(frame) {
            Ok(received) => received,
            Err(error) => {
                self.refuse(session, None, error.reject_code(), error.to_string());
                return Ok(());
            }
        };
        if let Message::Ack(ack) = &received.envelope().message {
            let call_id = &received.envelope().call_id;
            self.acknowledge(session, call_id, &ack.seen);
            return Ok(());
        }
        if let Message::Description(body) = &received.envelope().message
            && let Err(error) = sdp::check(&body.description)
        {
            let detail = format!("body.description.sdp: {error}");
            self.refuse(session, Some(received.envelope()), RejectCode::Invalid, detail);
            return Ok(());
        }
        // Stamped and written before it is judged: a frame that cannot be forwarded as it
        // would be written must not change the call either. The sender's body travels as it
        // came unless the privacy filter rewrites it.
        let filter = self.config.visitor_candidates.filter(|_| role == Role::Visitor);
        let (envelope, forwarded, filtered) = match filter {
            Some(filter) if carries_candidates(&received.envelope().message) => {
                let mut envelope = received.into_envelope();
                filter_candidates(filter, &mut envelope.message);
                envelope.stamp(party.clone(), role, envelope.seq);
                let forwarded = encode(&envelope);
                (envelope, forwarded, true)
            }
            _ => {
                let seq = received.envelope().seq;
                received.stamp(party.clone(), role, seq);
                let forwarded = received.encode();
                (received.into_envelope(), forwarded, false)
            }
        };
        let forwarded = Bytes::from(forwarded);
        if let Some((code, detail)) = unwritable(&forwarded, filtered) {
            self.refuse(session, Some(&envelope), code, detail);
            return Ok(());
        }
        let Some(conversation) = self.conversations.get_mut(&conversation_id) else {
            return Err(RelayError::UnknownConversation(conversation_id));
        };
        conversation.referee.handle_message(now, role, &party, envelope);
        self.drain_referee(&conversation_id, Some(&Judged { session, frame: forwarded }));
        self.rearm(&conversation_id);
        Ok(())
    }

    /// Fires every timer due at `now`: invite expiries, and parties whose grace ran out (their
    /// live call ends `signaling_lost`). A conversation left with nobody is freed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let grace = self.config.grace;
        // A grace past the clock's range never ends (a restored party may be far off).
        let lost = |p: &Party| {
            p.lost_since.and_then(|since| since.checked_add(grace)).is_some_and(|end| end <= now)
        };
        while let Some((at, id)) = self.deadlines.first().cloned() {
            if at > now {
                break;
            }
            self.deadlines.remove(&(at, id.clone()));
            let Some(conversation) = self.conversations.get_mut(&id) else { continue };
            in_span!(&conversation.span);
            conversation.deadline = None;
            #[cfg(feature = "tracing")]
            if conversation.referee.poll_timeout().is_some_and(|at| at <= now) {
                observe::invite_expired();
            }
            conversation.referee.handle_timeout(now);
            let (gone, kept): (Vec<Party>, Vec<Party>) =
                std::mem::take(&mut conversation.parties).into_iter().partition(lost);
            conversation.parties = kept;
            for party in gone {
                observe::grace_expired(party.role, &party.id);
                conversation.referee.handle_party_lost(now, party.role, &party.id);
            }
            self.drain_referee(&id, None);
            if self.conversations.get(&id).is_some_and(Conversation::is_idle) {
                self.conversations.remove(&id);
                observe::conversation_freed();
            } else {
                self.rearm(&id);
            }
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(at, _)| *at)
    }

    /// The next output, or `None` when drained; act on them in this order.
    pub fn poll_output(&mut self) -> Option<RelayOutput> {
        self.outputs.pop_front()
    }

    /// The next frame to write to `session`, if any (see [`RelayOutput::Transmit`]). A queue
    /// per session, bounded by [`RelayConfig::max_queued`]: each session's writer drains its own
    /// as fast as its transport takes frames, and one that falls behind is closed.
    pub fn poll_transmit(&mut self, session: SessionId) -> Option<Bytes> {
        self.sessions.get_mut(&session)?.queue.pop_front().inspect(|_| observe::dequeued())
    }

    /// What one conversation's state holds, in bytes: its referee (live call and tombstones),
    /// its sessions and parties, without the frames waiting in queues and replay logs (those
    /// are shared, reference-counted, and bounded by [`RelayConfig::max_queued`] and the replay
    /// limit). For capacity planning.
    pub fn conversation_memory(&self, conversation_id: &ConversationId) -> Option<usize> {
        let conversation = self.conversations.get(conversation_id)?;
        let id_len = |id: &PartyId| id.as_str().len();
        let sessions: usize = conversation
            .sessions
            .iter()
            .filter_map(|id| self.sessions.get(id))
            .map(|s| {
                size_of::<(SessionId, Session)>() + s.conversation.as_str().len() + id_len(&s.party)
            })
            .sum();
        let parties: usize =
            conversation.parties.iter().map(|p| size_of::<Party>() + id_len(&p.id)).sum();
        Some(
            size_of::<Conversation>()
                + conversation_id.as_str().len()
                + conversation.referee.memory()
                + conversation.sessions.capacity() * size_of::<SessionId>()
                + sessions
                + parties,
        )
    }

    /// How many sessions are connected.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// How many conversations are open (freed ones are not).
    pub fn conversation_count(&self) -> usize {
        self.conversations.len()
    }

    /// A conversation's span, for what the IO edge logs about it (`serve`'s sessions).
    #[cfg(all(feature = "tokio", feature = "tracing"))]
    pub(crate) fn span(&self, conversation_id: &ConversationId) -> observe::Span {
        self.conversations.get(conversation_id).map_or_else(observe::Span::none, |c| c.span.clone())
    }

    /// A conversation's span (nothing without the `tracing` feature).
    #[cfg(all(feature = "tokio", not(feature = "tracing")))]
    #[allow(clippy::unused_self)] // the same call with and without the feature
    pub(crate) fn span(&self, _: &ConversationId) -> observe::Span {
        observe::Span
    }

    /// Moves a conversation's entry in the timer index to its current next deadline.
    fn rearm(&mut self, conversation_id: &ConversationId) {
        let Some(conversation) = self.conversations.get_mut(conversation_id) else { return };
        let next = conversation.next_deadline(self.config.grace);
        if next == conversation.deadline {
            return;
        }
        if let Some(old) = conversation.deadline.take() {
            self.deadlines.remove(&(old, conversation_id.clone()));
        }
        if let Some(new) = next {
            self.deadlines.insert((new, conversation_id.clone()));
        }
        conversation.deadline = next;
    }

    /// Acts on the referee's outputs, in order: its notices to their sessions, the judged frame
    /// (`judged`: who sent it, and how it was written before it was judged) forwarded or
    /// refused, its facts to the host.
    fn drain_referee(&mut self, conversation_id: &ConversationId, judged: Option<&Judged>) {
        while let Some(output) =
            self.conversations.get_mut(conversation_id).and_then(|c| c.referee.poll_output())
        {
            match output {
                RefereeOutput::Notice(notice) => {
                    let frame = Bytes::from(encode(&notice.envelope));
                    self.deliver(conversation_id, &notice.to, &notice.envelope, &frame);
                }
                RefereeOutput::Forward { to, envelope } => {
                    // Stamped the same way as it was written before it was judged.
                    let frame = match judged {
                        Some(judged) => {
                            observe::routed(judged.session, &envelope);
                            judged.frame.clone()
                        }
                        None => Bytes::from(encode(&envelope)),
                    };
                    self.deliver(conversation_id, &to, &envelope, &frame);
                }
                RefereeOutput::Refuse { envelope, code, detail } => {
                    if let Some(judged) = judged {
                        self.refuse(judged.session, Some(&envelope), code, detail);
                    }
                }
                RefereeOutput::Drop(envelope) => observe::dropped(&envelope),
                RefereeOutput::Fact(Fact::CallStarted { call_id, agent, visitor, .. }) => {
                    observe::call_started(&call_id, &agent, &visitor);
                    let conversation_id = conversation_id.clone();
                    let started =
                        RelayEvent::CallStarted { conversation_id, call_id, agent, visitor };
                    self.outputs.push_back(RelayOutput::Event(started));
                }
                RefereeOutput::Fact(Fact::CallEnded { mut report }) => {
                    report.media.relay_only = self
                        .config
                        .visitor_candidates
                        .is_some_and(|f| f.policy() == CandidatePolicy::RelayOnly);
                    observe::call_ended(&report);
                    let ended = RelayEvent::CallEnded { report };
                    self.outputs.push_back(RelayOutput::Event(ended));
                }
            }
        }
    }

    /// Logs `frame` for every party `delivery` names and queues it for their sessions.
    fn deliver(
        &mut self,
        conversation_id: &ConversationId,
        delivery: &Delivery,
        envelope: &Envelope,
        frame: &Bytes,
    ) {
        let Some(conversation) = self.conversations.get_mut(conversation_id) else { return };
        // Each call starts its parties' replay logs afresh.
        if conversation.logged_call.as_ref() != Some(&envelope.call_id) {
            conversation.parties.iter_mut().for_each(|p| p.log.clear());
            conversation.logged_call = Some(envelope.call_id.clone());
        }
        for party in conversation.parties.iter_mut().filter(|p| delivery.includes(p.role, &p.id)) {
            party.log.push(&envelope.party_id, envelope.seq, frame.clone());
        }
        for session in &conversation.sessions {
            if let Some(to) = self.sessions.get_mut(session)
                && delivery.includes(to.role, &to.party)
            {
                enqueue(&self.config, &mut self.outputs, *session, to, frame.clone());
            }
        }
    }

    /// Queues `frame` for `session` (see [`enqueue`]).
    fn enqueue(&mut self, session: SessionId, frame: Bytes) {
        if let Some(to) = self.sessions.get_mut(&session) {
            enqueue(&self.config, &mut self.outputs, session, to, frame);
        }
    }

    /// Answers `session` with a `call.rejected` about its frame.
    fn refuse(
        &mut self,
        session: SessionId,
        refused: Option<&Envelope>,
        code: RejectCode,
        detail: String,
    ) {
        let Some(to) = self.sessions.get_mut(&session) else {
            return;
        };
        // The relay's own count; a party that ever saw 2^53 - 1 notices sees that one again.
        to.notices = (to.notices + 1).min(MAX_SEQ);
        let notice =
            rejection(to.conversation.clone(), to.role, to.notices, refused, code.clone(), detail);
        observe::refused(session, refused.map(|e| &e.call_id), &code);
        self.enqueue(session, Bytes::from(encode(&notice)));
        self.outputs.push_back(RelayOutput::Event(RelayEvent::Refused { session, code }));
    }
}

/// The `call.rejected` notice (number `seq` of the relay's to this session) that tells a
/// party of `role` why its frame `refused` (when it decoded) went nowhere.
pub(crate) fn rejection(
    conversation: ConversationId,
    role: Role,
    seq: u64,
    refused: Option<&Envelope>,
    code: RejectCode,
    detail: String,
) -> Envelope {
    let call_id = refused.map_or_else(
        || CallId::new(UNKNOWN_CALL).unwrap_or_else(|_| unreachable!("`unknown` is a valid id")),
        |e| e.call_id.clone(),
    );
    let body = RejectedBody::new(code, detail, refused.map(|e| e.seq));
    Envelope::new(conversation, call_id, PartyId::relay(), role, seq, body)
}

/// The gauges forget what a dropped relay still held.
#[cfg(feature = "metrics")]
impl Drop for Relay {
    fn drop(&mut self) {
        let queued = self.sessions.values().map(|s| s.queue.len()).sum();
        observe::relay_dropped(self.sessions.len(), self.conversations.len(), queued);
    }
}

/// Queues `frame` for session `id` (`to`). A session whose queue is full is a slow consumer: it
/// is disconnected ([`RelayOutput::Close`]) rather than buffered without bound or quietly left
/// without the frame; its party keeps the replay log for a resume.
fn enqueue(
    config: &RelayConfig,
    outputs: &mut VecDeque<RelayOutput>,
    id: SessionId,
    to: &mut Session,
    frame: Bytes,
) {
    if to.closing {
        return;
    }
    if to.queue.len() >= config.max_queued {
        to.closing = true;
        observe::slow_session(id, to.queue.len());
        to.queue = VecDeque::new();
        outputs.push_back(RelayOutput::Close(id));
        return;
    }
    if to.queue.is_empty() {
        outputs.push_back(RelayOutput::Transmit(id));
    }
    to.queue.push_back(frame);
    observe::queued();
}

/// Why a frame, as the relay would forward it, cannot be: over the frame limit once stamped
/// (the sender's own party id may be shorter than the one stamped, and the relay writes the
/// canonical form), or, when the privacy filter rewrote it, breaking a limit the codec checks
/// (a filtered SDP over 32 KiB, say). `None` when it is fine to forward.
fn unwritable(frame: &[u8], filtered: bool) -> Option<(RejectCode, String)> {
    if frame.len() > MAX_FRAME_LEN {
        let detail = format!(
            "the frame is {} bytes as forwarded (stamped with the sender's identity), more than \
             {MAX_FRAME_LEN}",
            frame.len()
        );
        return Some((RejectCode::TooLarge, detail));
    }
    if filtered && let Err(error) = decode(frame) {
        return Some((error.reject_code(), format!("after the privacy filter, {error}")));
    }
    None
}

/// Whether the message carries candidates (in a candidates frame or an SDP), which the privacy
/// filter may drop or rewrite.
fn carries_candidates(message: &Message) -> bool {
    matches!(message, Message::Candidates(_) | Message::Description(_))
}

/// Applies the privacy filter to the candidates a message carries: dropped ones disappear,
/// kept ones may be rewritten (a relay candidate's related address blanked). End-of-candidates
/// markers pass.
fn filter_candidates(filter: CandidateFilter, message: &mut Message) {
    match message {
        Message::Candidates(body) => {
            body.candidates.retain_mut(|init| match init.candidate.take() {
                None => true,
                Some(candidate) => match filter.apply(candidate) {
                    Ok(kept) => {
                        init.candidate = Some(kept);
                        true
                    }
                    Err(_) => false,
                },
            });
        }
        Message::Description(body) => {
            body.description.sdp = filter.filter_sdp(&body.description.sdp).sdp;
        }
        _ => {}
    }
}
