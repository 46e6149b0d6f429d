//! Every Redis key of the cluster, named in one place (ARCHITECTURE.md lists them).

use velaro_call_state::velaro_call_protocol::ConversationId;

/// One conversation's keys: `{id}` is a Redis Cluster hash tag, so they share a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Keys {
    pub(super) lease: String,
    pub(super) epoch: String,
    pub(super) inbound: String,
    pub(super) journal: String,
    pub(super) done: String,
    pub(super) outbound: String,
    pub(super) commits: String,
    /// The last outbound id addressed to each node (a hash, node to id): the `prev` of the
    /// next notice to that node, so that a receiver sees a notice it missed.
    pub(super) outlast: String,
    /// The cluster's set of live conversations (outside the conversation's slot).
    pub(super) live: String,
    /// The conversation's member in it: its id.
    pub(super) member: String,
}

impl Keys {
    pub(super) fn new(prefix: &str, conversation: &ConversationId) -> Keys {
        let key = |what: &str| format!("{prefix}:{{{}}}:{what}", conversation.as_str());
        Keys {
            lease: key("lease"),
            epoch: key("epoch"),
            inbound: key("in"),
            journal: key("journal"),
            done: key("done"),
            outbound: key("out"),
            commits: key("commits"),
            outlast: key("outlast"),
            live: live(prefix),
            member: conversation.as_str().to_owned(),
        }
    }
}

/// The cluster's live conversations: a sorted set, scored with when each one's owner was last
/// heard from (Redis's clock, ms).
pub(super) fn live(prefix: &str) -> String {
    format!("{prefix}:live")
}

/// The cluster's events stream.
pub(super) fn events(prefix: &str) -> String {
    format!("{prefix}:events")
}

/// The consumer group the nodes read the events stream in.
pub(super) const EVENTS_GROUP: &str = "velaro-hosts";

/// A node's heartbeat.
pub(super) fn node(prefix: &str, name: &str) -> String {
    format!("{prefix}:node:{name}")
}

/// The prefix of every node's keys: `P:node:` (the heartbeat is `P:node:NAME`, its news
/// stream `P:node:NAME:news`; the scripts build a node's news key from the lease's node).
pub(super) fn node_prefix(prefix: &str) -> String {
    format!("{prefix}:node:")
}

/// A node's news stream: the notices of inputs for the conversations it owns and of frames
/// for its sessions, so that its one reader blocks on one key whatever its calls.
pub(super) fn news(prefix: &str, name: &str) -> String {
    format!("{prefix}:node:{name}:news")
}

/// Set when a notice for the node was dropped because its news stream was full: the node
/// reads every stream it serves again.
pub(super) fn news_lost(prefix: &str, name: &str) -> String {
    format!("{prefix}:node:{name}:news:lost")
}

/// The most unread notices a news stream holds: a writer that finds it full drops the
/// notice and sets the node's `lost` flag instead (the streams stay the truth).
pub(super) const NEWS_MAXLEN: usize = 50_000;

/// The most entries kept in a conversation's inbound and outbound streams (approximately).
pub(super) const STREAM_MAXLEN: usize = 10_000;

/// The most entries kept in the events stream (approximately).
pub(super) const EVENTS_MAXLEN: usize = 100_000;
