//! The relay as plain data: [`RelaySnapshot`], and the restore that checks it.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use velaro_call_state::snapshot::{instant_at, offset_ns};
use velaro_call_state::velaro_call_protocol::limits::MAX_SEQ;
use velaro_call_state::velaro_call_protocol::{CallId, ConversationId, PartyId, Role};
use velaro_call_state::{Referee, RefereeSnapshot, SnapshotError};

use super::Relay;
use super::config::{RelayConfig, TokenBucket};
use super::output::SessionId;
use super::state::{Conversation, MAX_REPLAY, MAX_REPLAY_BYTES, Party, ReplayLog, Session};
use crate::observe::{self, in_span};

/// A [`Relay`]'s whole state, as data: what a relay cluster's owner writes into a
/// conversation's journal so that a new owner rebuilds from it instead of from every input
/// since the conversation was opened ([`Relay::snapshot`], [`Relay::restore`]).
///
/// It holds, per conversation (in id order): its [`RefereeSnapshot`] (live call, ended calls,
/// whether video is enabled), its sessions in connection order (number, role, party, the frames
/// queued and not yet taken with [`Relay::poll_transmit`], the rate limiter's tokens and time,
/// the count of `call.rejected` notices, whether it is being closed), its parties (role, id,
/// since when it has had no session, and its replay log: each frame's sender and `seq`), the
/// call the replay logs are of, and its deadline in the timer index; and the relay's next
/// session number. Frames are their JSON text (base64 for one that is not UTF-8, which the
/// relay never writes). Times are nanosecond offsets from the `now` it was taken at.
///
/// Not in it: the [`RelayConfig`] (given again to [`Relay::restore`], and checked against the
/// deadlines), outputs not yet drained with [`Relay::poll_output`] (take it between inputs,
/// once they are), and the tracing spans and metrics handles (made again on restore).
///
/// Size: a conversation's replay logs are bounded at 512 frames and 1 MiB per party, its
/// session queues at [`RelayConfig::max_queued`] frames (64 KiB each at most) per session;
/// everything else is ids, counters and times (1.4 KiB of JSON for an answered call with an
/// agent and two tabs, its referee 456 bytes of it; an offer, an answer and a round of
/// candidates add about 22 KiB of logged frames). A frame that is
/// both queued and logged is written twice (in memory the relay shares it); a restore holds
/// two copies of it until the queue is drained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelaySnapshot {
    version: u32,
    next_session: u64,
    conversations: Vec<ConversationSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ConversationSnapshot {
    id: ConversationId,
    referee: RefereeSnapshot,
    sessions: Vec<SessionSnapshot>,
    parties: Vec<PartySnapshot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    logged_call: Option<CallId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deadline_ns: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SessionSnapshot {
    id: u64,
    role: Role,
    party: PartyId,
    queue: Vec<Frame>,
    /// The token bucket: tokens left (exact: JSON floats round-trip) and when it last refilled.
    tokens: f64,
    bucket_at_ns: i64,
    notices: u64,
    closing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PartySnapshot {
    role: Role,
    id: PartyId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lost_since_ns: Option<i64>,
    /// The senders the log's frames name by index, each once.
    senders: Vec<PartyId>,
    log: Vec<LoggedFrame>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LoggedFrame {
    sender: usize,
    seq: u64,
    frame: Frame,
}

/// A frame: its text (what the relay writes is JSON), or base64 for bytes that are not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum Frame {
    Text(String),
    Base64 { base64: String },
}

impl Frame {
    fn of(bytes: &Bytes) -> Frame {
        match std::str::from_utf8(bytes) {
            Ok(text) => Frame::Text(text.to_owned()),
            Err(_) => Frame::Base64 { base64: BASE64.encode(bytes) },
        }
    }

    fn restore(self, field: &'static str) -> Result<Bytes, SnapshotError> {
        match self {
            Frame::Text(text) => Ok(Bytes::from(text.into_bytes())),
            Frame::Base64 { base64 } => BASE64
                .decode(base64)
                .map(Bytes::from)
                .map_err(|e| SnapshotError::Inconsistent { field, detail: e.to_string() }),
        }
    }
}

/// Only the version, read before the rest so that any newer shape is reported as such.
#[derive(Deserialize)]
struct Versioned {
    version: u32,
}

impl RelaySnapshot {
    /// The format version this build writes and reads.
    pub const VERSION: u32 = 1;

    /// The snapshot as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data with string keys and finite floats: serializing it cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A snapshot from JSON: the version first, then the rest (checked again by
    /// [`Relay::restore`]).
    pub fn from_json(json: &[u8]) -> Result<RelaySnapshot, SnapshotError> {
        let Versioned { version } = serde_json::from_slice(json).map_err(SnapshotError::decode)?;
        if version != Self::VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                supported: Self::VERSION,
            });
        }
        serde_json::from_slice(json).map_err(SnapshotError::decode)
    }
}

/// The highest next session number a snapshot may carry.
const MAX_NEXT_SESSION: u64 = 1 << 63;

fn inconsistent(field: &'static str, detail: impl Into<String>) -> SnapshotError {
    SnapshotError::Inconsistent { field, detail: detail.into() }
}

impl Relay {
    /// The relay's whole state, with its times as offsets from `now` (see [`RelaySnapshot`]).
    pub fn snapshot(&self, now: Instant) -> RelaySnapshot {
        let mut conversations: Vec<ConversationSnapshot> = self
            .conversations
            .iter()
            .map(|(id, conversation)| ConversationSnapshot {
                id: id.clone(),
                referee: conversation.referee.snapshot(now),
                sessions: conversation
                    .sessions
                    .iter()
                    .filter_map(|session| Some((*session, self.sessions.get(session)?)))
                    .map(|(id, session)| {
                        let (tokens, at) = session.bucket.parts();
                        SessionSnapshot {
                            id: id.0,
                            role: session.role,
                            party: session.party.clone(),
                            queue: session.queue.iter().map(Frame::of).collect(),
                            tokens,
                            bucket_at_ns: offset_ns(at, now),
                            notices: session.notices,
                            closing: session.closing,
                        }
                    })
                    .collect(),
                parties: conversation
                    .parties
                    .iter()
                    .map(|party| PartySnapshot {
                        role: party.role,
                        id: party.id.clone(),
                        lost_since_ns: party.lost_since.map(|since| offset_ns(since, now)),
                        senders: party.log.senders.clone(),
                        log: party
                            .log
                            .frames
                            .iter()
                            .map(|(sender, seq, frame)| LoggedFrame {
                                sender: *sender,
                                seq: *seq,
                                frame: Frame::of(frame),
                            })
                            .collect(),
                    })
                    .collect(),
                logged_call: conversation.logged_call.clone(),
                deadline_ns: conversation.deadline.map(|at| offset_ns(at, now)),
            })
            .collect();
        conversations.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        RelaySnapshot {
            version: RelaySnapshot::VERSION,
            next_session: self.next_session,
            conversations,
        }
    }

    /// The relay `snapshot` holds, with `config`, its times put back as offsets from `now`:
    /// fed the same inputs from here on, it gives exactly the outputs, frames and timeouts the
    /// original would have (with the same config). Checks everything (version, bounds, ids,
    /// references between sessions and parties, times, that each deadline follows from the
    /// state and `config`'s grace); an error builds nothing.
    ///
    /// Frames restored into session queues are announced by no [`RelayOutput::Transmit`]
    /// (the original announced them already): the host drains every restored session with
    /// [`poll_transmit`](Self::poll_transmit).
    ///
    /// [`RelayOutput::Transmit`]: super::RelayOutput::Transmit
    pub fn restore(
        config: RelayConfig,
        snapshot: RelaySnapshot,
        now: Instant,
    ) -> Result<Relay, SnapshotError> {
        let RelaySnapshot { version, next_session, conversations } = snapshot;
        if version != RelaySnapshot::VERSION {
            let supported = RelaySnapshot::VERSION;
            return Err(SnapshotError::UnsupportedVersion { found: version, supported });
        }
        let mut relay = Relay {
            config,
            conversations: HashMap::with_capacity(conversations.len()),
            sessions: HashMap::new(),
            next_session,
            outputs: VecDeque::new(),
            deadlines: BTreeSet::new(),
        };
        for conversation in conversations {
            relay.restore_conversation(conversation, now)?;
        }
        // Past 2^63 no count of connects could have come, and numbering would overflow.
        let counted = (1..=MAX_NEXT_SESSION).contains(&next_session);
        if !counted || relay.sessions.keys().any(|id| id.0 >= next_session) {
            let detail = format!("{next_session} is not above every session number");
            return Err(inconsistent("next_session", detail));
        }
        observe::describe();
        for conversation in relay.conversations.values() {
            in_span!(&conversation.span);
            observe::conversation_opened();
            for session in &conversation.sessions {
                if let Some(restored) = relay.sessions.get(session) {
                    observe::connected(*session, restored.role, &restored.party);
                    restored.queue.iter().for_each(|_| observe::queued());
                }
            }
        }
        Ok(relay)
    }

    fn restore_conversation(
        &mut self,
        snapshot: ConversationSnapshot,
        now: Instant,
    ) -> Result<(), SnapshotError> {
        let ConversationSnapshot { id, referee, sessions, parties, logged_call, deadline_ns } =
            snapshot;
        if self.conversations.contains_key(&id) {
            return Err(inconsistent("conversations.id", format!("{id} twice")));
        }
        if referee.conversation_id() != &id {
            let detail = format!("of {}, in conversation {id}", referee.conversation_id());
            return Err(inconsistent("conversations.referee", detail));
        }
        let referee = Referee::restore(referee, now)?;
        let parties = parties
            .into_iter()
            .map(|party| restore_party(party, now))
            .collect::<Result<Vec<Party>, _>>()?;
        let mut ids = HashSet::new();
        for party in &parties {
            if party.id == PartyId::relay() || !ids.insert(&party.id) {
                let detail = format!("party {} is the relay's or named twice", party.id);
                return Err(inconsistent("conversations.parties.id", detail));
            }
        }
        let mut conversation = Conversation::new(referee, observe::conversation_span(&id));
        for session in sessions {
            let session_id = SessionId(session.id);
            let Some(party) =
                parties.iter().find(|p| p.id == session.party && p.role == session.role)
            else {
                let detail = format!("{session_id}'s party {} is not one", session.party);
                return Err(inconsistent("conversations.sessions.party", detail));
            };
            if party.lost_since.is_some() {
                let detail = format!("{session_id}'s party {} is in its grace", party.id);
                return Err(inconsistent("conversations.sessions.party", detail));
            }
            if self.sessions.contains_key(&session_id) {
                return Err(inconsistent(
                    "conversations.sessions.id",
                    format!("{session_id} twice"),
                ));
            }
            let restored = restore_session(session, id.clone(), now)?;
            conversation.sessions.push(session_id);
            self.sessions.insert(session_id, restored);
        }
        for party in &parties {
            let connected = conversation
                .sessions
                .iter()
                .filter_map(|s| self.sessions.get(s))
                .any(|s| s.party == party.id && s.role == party.role);
            if !connected && party.lost_since.is_none() {
                let detail = format!("party {} has no session and no grace", party.id);
                return Err(inconsistent("conversations.parties.lost_since_ns", detail));
            }
        }
        conversation.parties = parties;
        conversation.logged_call = logged_call;
        let deadline =
            deadline_ns.map(|at| instant_at(now, at, "conversations.deadline_ns")).transpose()?;
        if deadline != conversation.next_deadline(self.config.grace) {
            let detail = "not what the state and this config's grace give (another grace?)";
            return Err(inconsistent("conversations.deadline_ns", detail));
        }
        conversation.deadline = deadline;
        if let Some(at) = deadline {
            self.deadlines.insert((at, id.clone()));
        }
        self.conversations.insert(id, conversation);
        Ok(())
    }
}

fn restore_session(
    snapshot: SessionSnapshot,
    conversation: ConversationId,
    now: Instant,
) -> Result<Session, SnapshotError> {
    let SessionSnapshot { id: _, role, party, queue, tokens, bucket_at_ns, notices, closing } =
        snapshot;
    if !tokens.is_finite() || tokens < 0.0 {
        return Err(inconsistent("conversations.sessions.tokens", format!("{tokens} tokens")));
    }
    if notices > MAX_SEQ {
        return Err(inconsistent("conversations.sessions.notices", format!("{notices}")));
    }
    let at = instant_at(now, bucket_at_ns, "conversations.sessions.bucket_at_ns")?;
    let queue = queue
        .into_iter()
        .map(|frame| frame.restore("conversations.sessions.queue"))
        .collect::<Result<VecDeque<Bytes>, _>>()?;
    Ok(Session {
        conversation,
        role,
        party,
        queue,
        bucket: TokenBucket::from_parts(tokens, at),
        notices,
        closing,
    })
}

fn restore_party(snapshot: PartySnapshot, now: Instant) -> Result<Party, SnapshotError> {
    let PartySnapshot { role, id, lost_since_ns, senders, log } = snapshot;
    let lost_since = lost_since_ns
        .map(|at| instant_at(now, at, "conversations.parties.lost_since_ns"))
        .transpose()?;
    if log.len() > MAX_REPLAY {
        let detail = format!("{} frames, more than {MAX_REPLAY}", log.len());
        return Err(inconsistent("conversations.parties.log", detail));
    }
    if senders.iter().enumerate().any(|(i, s)| senders.iter().skip(i + 1).any(|t| t == s)) {
        return Err(inconsistent("conversations.parties.senders", "a sender twice"));
    }
    let mut frames = VecDeque::with_capacity(log.len());
    let mut bytes = 0usize;
    for LoggedFrame { sender, seq, frame } in log {
        if sender >= senders.len() {
            let detail = format!("sender {sender} of {}", senders.len());
            return Err(inconsistent("conversations.parties.log.sender", detail));
        }
        let frame = frame.restore("conversations.parties.log.frame")?;
        bytes = bytes.saturating_add(frame.len());
        if bytes > MAX_REPLAY_BYTES {
            let detail = format!("more than {MAX_REPLAY_BYTES} bytes");
            return Err(inconsistent("conversations.parties.log", detail));
        }
        frames.push_back((sender, seq, frame));
    }
    Ok(Party { role, id, log: ReplayLog { senders, frames, bytes }, lost_since })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_its_text_or_base64_and_comes_back_byte_for_byte() {
        let text = Bytes::from_static(br#"{"type":"call.ringing"}"#);
        assert_eq!(Frame::of(&text), Frame::Text(r#"{"type":"call.ringing"}"#.to_owned()));
        let binary = Bytes::from_static(&[0xff, 0x00, b'{']);
        let frame = Frame::of(&binary);
        assert_eq!(frame, Frame::Base64 { base64: "/wB7".to_owned() });
        let json = serde_json::to_string(&frame).ok();
        assert_eq!(json.as_deref(), Some(r#"{"base64":"/wB7"}"#));
        for (frame, bytes) in [(Frame::of(&text), text), (frame, binary)] {
            assert_eq!(frame.restore("f"), Ok(bytes));
        }
        let broken = Frame::Base64 { base64: "not base64!".to_owned() };
        assert!(matches!(broken.restore("f"), Err(SnapshotError::Inconsistent { field: "f", .. })));
    }
}
