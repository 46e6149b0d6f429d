//! How a cluster node behaves: its relay's settings and the cluster's timings and bounds.

use std::time::Duration;

use crate::relay::RelayConfig;

/// How a [`ClusterNode`](super::ClusterNode) behaves. Every node of a cluster must use the
/// same values (the owner's relay judges with its own).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The settings of the relay each owner runs per conversation.
    pub relay: RelayConfig,
    /// The prefix of every Redis key (`velaro`): several clusters can share one Redis.
    pub prefix: String,
    /// How long an owner's lease lasts without renewal (3 s). It is renewed every third of it,
    /// so an owner that dies is replaced within about this long.
    pub lease: Duration,
    /// How long a node's heartbeat key lasts without renewal (5 s): past it, the owners
    /// disconnect the node's sessions (their parties' grace starts).
    pub node_ttl: Duration,
    /// How long a conversation's keys stay after their last write (24 h).
    pub retention: Duration,
    /// How long a session's node keeps retrying to hand a frame to Redis before it closes the
    /// session (20 s, the relay's default grace).
    pub redis_patience: Duration,
    /// How long a command on a node's data connection (appends, commits, loads) may wait for
    /// its answer before it counts as failed (5 s): longer than commands queue on a loaded
    /// node, since a failed commit costs a rebuild and a failed append a retry. Liveness
    /// (heartbeats, lease rounds) has a connection of its own, which gives up after 500 ms.
    pub redis_timeout: Duration,
    /// How many inputs a conversation's journal holds before its owner compacts it (1,000):
    /// the commit that would pass it writes the owner's snapshot (its relay's whole state,
    /// tens of KiB for a live call) in place of the journal, so a rebuild restores it and
    /// replays at most this many inputs.
    pub journal_cap: usize,
}

impl ClusterConfig {
    /// The defaults, with `relay` for the owners' relays.
    pub fn new(relay: RelayConfig) -> ClusterConfig {
        ClusterConfig {
            relay,
            prefix: "velaro".to_owned(),
            lease: Duration::from_secs(3),
            node_ttl: Duration::from_secs(5),
            retention: Duration::from_secs(24 * 3600),
            redis_patience: Duration::from_secs(20),
            redis_timeout: Duration::from_secs(5),
            journal_cap: 1_000,
        }
    }

    /// Sets the owners' relay settings.
    #[must_use]
    pub fn with_relay(mut self, relay: RelayConfig) -> Self {
        self.relay = relay;
        self
    }

    /// Sets the key prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets the lease's time to live (at least 30 ms).
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// Sets the node heartbeat's time to live (at least 30 ms).
    #[must_use]
    pub fn with_node_ttl(mut self, node_ttl: Duration) -> Self {
        self.node_ttl = node_ttl.max(Duration::from_millis(30));
        self
    }

    /// Sets how long a command on the data connection may wait for its answer (at least
    /// 100 ms).
    #[must_use]
    pub fn with_redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout.max(Duration::from_millis(100));
        self
    }

    /// Sets how long a node retries Redis for a session before it closes it.
    #[must_use]
    pub fn with_redis_patience(mut self, patience: Duration) -> Self {
        self.redis_patience = patience;
        self
    }

    /// Sets how many inputs a journal holds before it is compacted (at least 1).
    #[must_use]
    pub fn with_journal_cap(mut self, cap: usize) -> Self {
        self.journal_cap = cap.max(1);
        self
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig::new(RelayConfig::default())
    }
}
