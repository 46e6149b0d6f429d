//! What the relay keeps per conversation, party and session.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use velaro_call_state::Referee;
use velaro_call_state::velaro_call_protocol::{CallId, ConversationId, PartyId, Role};

use super::config::TokenBucket;
use super::output::SessionId;
use crate::observe::Span;

#[derive(Debug)]
pub(super) struct Session {
    pub(super) conversation: ConversationId,
    pub(super) role: Role,
    pub(super) party: PartyId,
    pub(super) queue: VecDeque<Bytes>,
    pub(super) bucket: TokenBucket,
    pub(super) notices: u64,
    /// It fell too far behind: the host was told to close it, nothing more is queued.
    pub(super) closing: bool,
}

/// The most frames kept per party for a resume; a call sends far fewer (the referee caps
/// candidates at 100 per direction).
pub(super) const MAX_REPLAY: usize = 512;

/// The most bytes kept per party for a resume: a call's offers, answers and candidates take
/// tens of KiB; a peer renegotiating in a loop must not make the relay hold 512 frames of
/// 64 KiB for the other side.
pub(super) const MAX_REPLAY_BYTES: usize = 1024 * 1024;

/// The frames delivered to a party in the current call (who sent each, with which `seq`), the
/// oldest forgotten first past [`MAX_REPLAY`] frames or [`MAX_REPLAY_BYTES`].
#[derive(Debug, Default)]
pub(super) struct ReplayLog {
    /// The senders of the logged frames, each once (a call has a handful): a frame names its
    /// sender by index, so logging a frame allocates nothing but its place in the queue.
    pub(super) senders: Vec<PartyId>,
    pub(super) frames: VecDeque<(usize, u64, Bytes)>,
    /// The logged frames' bytes, summed.
    pub(super) bytes: usize,
}

impl ReplayLog {
    pub(super) fn push(&mut self, sender: &PartyId, seq: u64, frame: Bytes) {
        let sender = self.senders.iter().position(|known| known == sender).unwrap_or_else(|| {
            self.senders.push(sender.clone());
            self.senders.len() - 1
        });
        self.bytes += frame.len();
        self.frames.push_back((sender, seq, frame));
        while self.frames.len() > MAX_REPLAY || self.bytes > MAX_REPLAY_BYTES {
            let Some((_, _, old)) = self.frames.pop_front() else { break };
            self.bytes -= old.len();
        }
    }

    /// The logged frames `seen` does not cover, in order, each with its sender and `seq`:
    /// above the `seq` it gives for their sender, or every frame of a sender it does not name.
    pub(super) fn missed<'a>(
        &'a self,
        seen: &[(PartyId, u64)],
    ) -> impl Iterator<Item = (&'a PartyId, u64, &'a Bytes)> + 'a {
        let covered = self.coverage(seen);
        self.frames.iter().filter_map(move |(sender, seq, frame)| {
            let id = self.senders.get(*sender)?;
            (!covered(*sender, *seq)).then_some((id, *seq, frame))
        })
    }

    /// Forgets the frames `seen` covers (they were acknowledged); returns how many.
    pub(super) fn forget(&mut self, seen: &[(PartyId, u64)]) -> usize {
        let covered = self.coverage(seen);
        let before = self.frames.len();
        let mut bytes = self.bytes;
        self.frames.retain(|(sender, seq, frame)| {
            let keep = !covered(*sender, *seq);
            if !keep {
                bytes -= frame.len();
            }
            keep
        });
        self.bytes = bytes;
        before - self.frames.len()
    }

    /// Whether a frame (its sender's index, its `seq`) is at or below what `seen` gives for
    /// its sender.
    fn coverage(&self, seen: &[(PartyId, u64)]) -> impl Fn(usize, u64) -> bool + use<> {
        let last: Vec<Option<u64>> = self
            .senders
            .iter()
            .map(|sender| seen.iter().find(|(s, _)| s == sender).map(|(_, seq)| *seq))
            .collect();
        move |sender, seq| last.get(sender).copied().flatten().is_some_and(|last| seq <= last)
    }

    pub(super) fn clear(&mut self) {
        *self = ReplayLog::default();
    }
}

/// A party (one agent device or visitor tab) across its sessions: the frames delivered to it,
/// so that a session that comes back can catch up, and since when it has had no session.
#[derive(Debug)]
pub(super) struct Party {
    pub(super) role: Role,
    pub(super) id: PartyId,
    pub(super) log: ReplayLog,
    pub(super) lost_since: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct Conversation {
    pub(super) referee: Referee,
    pub(super) sessions: Vec<SessionId>,
    pub(super) parties: Vec<Party>,
    /// The call whose frames the parties' replay logs hold: a new call starts them afresh.
    pub(super) logged_call: Option<CallId>,
    /// The deadline this conversation has in the relay's timer index.
    pub(super) deadline: Option<Instant>,
    /// Its span, entered by every input that concerns it (feature `tracing`).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(super) span: Span,
}

impl Conversation {
    pub(super) fn new(referee: Referee, span: Span) -> Conversation {
        Conversation {
            referee,
            sessions: Vec::new(),
            parties: Vec::new(),
            logged_call: None,
            deadline: None,
            span,
        }
    }

    /// The next moment something is due here: the referee's invite expiry, or a party's grace.
    pub(super) fn next_deadline(&self, grace: Duration) -> Option<Instant> {
        // A grace past the clock's range is no deadline (as `handle_timeout` never ends it).
        let lost = self
            .parties
            .iter()
            .filter_map(|p| p.lost_since)
            .min()
            .and_then(|at| at.checked_add(grace));
        self.referee.poll_timeout().into_iter().chain(lost).min()
    }

    /// Nobody is here or coming back: the conversation can be freed (the host opens it again
    /// before its next session connects).
    pub(super) fn is_idle(&self) -> bool {
        self.sessions.is_empty() && self.parties.is_empty() && self.referee.live_call().is_none()
    }
}
