//! What the host hears from the cluster.

use serde::{Deserialize, Serialize};
use velaro_call_state::CallRecord;
use velaro_call_state::velaro_call_protocol::{CallId, ConversationId, PartyId};

/// A call started or ended: written once per call across the cluster (also across a
/// failover) into the events stream, and handed to one node's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClusterEvent {
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
    /// A call ended: its record, with wall-clock times from the owner that judged it.
    CallEnded {
        /// Who, when, how it turned out, what to bill.
        record: CallRecord,
    },
}
