//! What can go wrong in cluster mode.

use velaro_call_state::velaro_call_protocol::{ConversationId, PartyId};

/// A cluster node's failure. Peers' misbehaviour never shows here: the owner's relay refuses
/// it in-band, as the single-process relay does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The Redis URL is not one, or the first connection failed: the node did not start.
    #[error("cannot connect to redis: {0}")]
    Connect(String),
    /// A Redis command failed (Redis down, a timeout, a refusal): the node retries, and a
    /// session is closed only after [`ClusterConfig::redis_patience`](super::ClusterConfig).
    /// Not fatal to a call by itself.
    #[error("redis {operation} failed: {category}")]
    Redis {
        /// What the node was doing.
        operation: &'static str,
        /// The error's category as the client names it (never a URL or a password).
        category: String,
    },
    /// An entry of a stream (written by another node, or by someone else) is not one of ours:
    /// it is skipped. Not fatal.
    #[error("entry {id} of {stream}: field {field} is missing or malformed")]
    Malformed {
        /// The stream's kind (`inbound`, `journal`, `outbound`, `events`).
        stream: &'static str,
        /// The entry's id.
        id: String,
        /// The field.
        field: &'static str,
    },
    /// The host's misuse: the conversation was not opened on this node.
    #[error("conversation {0} is not open on this node")]
    UnknownConversation(ConversationId),
    /// The host's misuse: the party id is the relay's own.
    #[error("party id {0} is reserved for the relay")]
    ReservedParty(PartyId),
    /// The host's misuse: a node name is 1 to 64 characters of `[0-9A-Za-z._-]`.
    #[error("node name {0:?} is not 1 to 64 characters of [0-9A-Za-z._-]")]
    InvalidNodeName(String),
    /// Another node holds this name (it is alive, or died less than
    /// [`ClusterConfig::node_ttl`](super::ClusterConfig) ago): a node that reused it would be
    /// taken for the other one, whose sessions it cannot tell from its own. Name each process's
    /// node afresh (the demo adds its start time).
    #[error("node name {0:?} is held by another node")]
    NodeNameTaken(String),
    /// The node was stopped: it serves nothing any more.
    #[error("the node is stopped")]
    Stopped,
}

impl ClusterError {
    pub(super) fn redis(operation: &'static str, error: &redis::RedisError) -> ClusterError {
        ClusterError::Redis { operation, category: error.category().to_owned() }
    }
}
