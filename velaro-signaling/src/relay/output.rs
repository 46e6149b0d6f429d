//! What the relay says: its session ids, its errors, and its outputs for the host.

use std::fmt;

#[cfg(doc)]
use velaro_call_state::CallRecord;
use velaro_call_state::CallReport;
use velaro_call_state::velaro_call_protocol::message::hangup::RejectCode;
use velaro_call_state::velaro_call_protocol::{CallId, ConversationId, PartyId, Role};

/// A connected session (one WebSocket, say): numbered by the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub(super) u64);

impl SessionId {
    /// The relay's number for the session, for a snapshot of whoever maps sessions to theirs.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn number(self) -> u64 {
        self.0
    }

    /// The session a snapshot's number names (a restored relay numbers sessions the same).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn from_number(number: u64) -> SessionId {
        SessionId(number)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session-{}", self.0)
    }
}

/// A misuse of the relay's API by the host (not a peer's fault: those are refused in-band).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The conversation was never opened.
    #[error("conversation {0} is not open")]
    UnknownConversation(ConversationId),
    /// The session is not connected (never was, or was disconnected).
    #[error("{0} is not connected")]
    UnknownSession(SessionId),
    /// The party id is the relay's own (`relay`, [`PartyId::relay`]): the relay writes its
    /// notices under it, so no client may connect as it.
    #[error("party id {0} is reserved for the relay")]
    ReservedParty(PartyId),
    /// The party id belongs to the other role in this conversation: a visitor session that
    /// claims the agent's id would otherwise get the agent's frames.
    #[error("party {party} is the {bound} of conversation {conversation_id}, not its {claimed}")]
    RoleConflict {
        /// The conversation.
        conversation_id: ConversationId,
        /// The party id claimed.
        party: PartyId,
        /// The role the session claimed.
        claimed: Role,
        /// The role the party id already has.
        bound: Role,
    },
}

/// What the host hears from the relay.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RelayEvent {
    /// A visitor answered: the call is on (write it into the transcript).
    CallStarted {
        /// The conversation.
        conversation_id: ConversationId,
        /// The call.
        call_id: CallId,
        /// The agent device.
        agent: PartyId,
        /// The visitor tab.
        visitor: PartyId,
    },
    /// A call ended (exactly once per call): its summary for the transcript, and its report
    /// to store and bill from (turn it into a [`CallRecord`] with wall-clock times:
    /// `CallRecord::new(&report, now, SystemTime::now())`).
    CallEnded {
        /// The conversation (which goes on), what happened (`report.summary` has the
        /// transcript line), who, when on the relay's clock, and with what media.
        report: Box<CallReport>,
    },
    /// A frame was refused; its sender got a `call.rejected`.
    Refused {
        /// Who sent it.
        session: SessionId,
        /// Why.
        code: RejectCode,
    },
}

/// What the relay asks of the host, drained with [`Relay::poll_output`](super::Relay::poll_output) in the order to act on
/// it. Exhaustive on purpose: every host must act on every output (a new one is a breaking
/// change the compiler points out); the news in [`RelayEvent`] may grow.
#[derive(Debug, Clone, PartialEq)]
pub enum RelayOutput {
    /// Frames wait for this session: write what [`Relay::poll_transmit`](super::Relay::poll_transmit) gives it, when its
    /// transport can take them. Given once each time its queue goes from empty to not empty:
    /// the writer drains the queue, and a frame queued meanwhile is part of that drain.
    Transmit(SessionId),
    /// Close this session's transport: it fell too far behind (its queue was full). Its party
    /// keeps its grace and its replay log, so a new session can resume.
    Close(SessionId),
    /// News for the host: a call started or ended, a frame was refused.
    Event(RelayEvent),
}
