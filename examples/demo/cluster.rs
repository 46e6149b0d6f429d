//! The demo as one node of a relay cluster on Redis ([`DemoConfig::cluster`]): the pages'
//! sockets go through a [`ClusterNode`], and the chat goes through Redis too, so that an agent
//! page on one demo server and a visitor page on another chat and call in one conversation.
//!
//! What Redis carries for the demo itself, beside the cluster's own keys (ARCHITECTURE.md,
//! "Cluster mode (Redis)"):
//!
//! - `P:demo:chat`, a pub/sub channel: every chat line of every conversation, as JSON (a line
//!   at most a 2,000-character message); not stored, so no TTL.
//! - `P:demo:join-key`, a string: the join tokens' signing key the nodes share when
//!   `VELARO_JOIN_KEY` is not set (64 hex digits, no TTL).
//!
//! Each node keeps the lines it hears in its own [`Hub`](crate::hub::Hub) for its own pages, as
//! the single-process demo does: a page gets the lines said since its node has had a page in
//! the conversation (a node that restarted starts with none). The host events (a call started,
//! its summary line) reach one node each (the cluster's consumer group), which writes the line
//! into the chat channel for every node, and the call's record into its own `--records` file.
//!
//! A restarted process is a new node of the cluster: its [`ClusterNode`] is named after the
//! `--node` name and the time it started, so that the sessions of the process that died are
//! never taken for its own (they are disconnected once the dead node's heartbeat expires, and
//! their parties resume on any node within the grace).

use std::io;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use futures::channel::mpsc::UnboundedReceiver;
use redis::AsyncCommands as _;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use velaro_call_protocol::{ConversationId, PartyId, Role};
use velaro_signaling::JoinKey;
use velaro_signaling::cluster::{ClusterConfig, ClusterEvent, ClusterNode};

use crate::App;
use crate::hub::Speaker;

/// Where a demo server's cluster is ([`DemoConfig::cluster`](crate::DemoConfig::cluster)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// The Redis every node uses, e.g. `redis://127.0.0.1:6379/`.
    pub redis_url: String,
    /// This server's name in the cluster: 1 to [`MAX_NODE_NAME`] characters of
    /// `[0-9A-Za-z._-]` (each process gets a node named after it and the time it started).
    pub node: String,
}

/// The longest `--node` name: the rest of the cluster's 64 characters name the process.
pub const MAX_NODE_NAME: usize = 40;

impl ClusterSettings {
    /// Checks the node name; the Redis URL is checked when the node starts.
    pub fn new(redis_url: impl Into<String>, node: impl Into<String>) -> Result<Self, String> {
        let node = node.into();
        let valid = (1..=MAX_NODE_NAME).contains(&node.len())
            && node.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if !valid {
            return Err(format!(
                "node name `{}`: 1 to {MAX_NODE_NAME} characters of 0-9, A-Z, a-z, `.`, `_`, `-`",
                node.chars().take(64).collect::<String>()
            ));
        }
        Ok(ClusterSettings { redis_url: redis_url.into(), node })
    }

    /// The Redis key prefix the demo's own keys share with the cluster's.
    fn prefix() -> String {
        ClusterConfig::new(Default::default()).prefix
    }

    fn chat_channel() -> String {
        format!("{}:demo:chat", Self::prefix())
    }

    fn client(&self) -> io::Result<redis::Client> {
        redis::Client::open(self.redis_url.as_str())
            .map_err(|e| io::Error::other(format!("redis URL: {}", e.category())))
    }
}

/// The join tokens' signing key every node of the cluster shares, kept in Redis: the first node
/// makes it (random, from `/dev/urandom`), the others and any restarted one read it. So a page
/// rendered before its node restarted keeps its token. `VELARO_JOIN_KEY` takes its place.
pub async fn shared_join_key(settings: &ClusterSettings) -> io::Result<JoinKey> {
    let client = settings.client()?;
    let redis_error = |e: redis::RedisError| io::Error::other(format!("redis: {}", e.category()));
    let mut conn = client.get_multiplexed_async_connection().await.map_err(redis_error)?;
    let key = format!("{}:demo:join-key", ClusterSettings::prefix());
    let fresh: String =
        crate::config::random_bytes::<32>()?.iter().map(|b| format!("{b:02x}")).collect();
    let _: bool = conn.set_nx(&key, &fresh).await.map_err(redis_error)?;
    let secret: String = conn.get(&key).await.map_err(redis_error)?;
    JoinKey::new("cluster", secret.into_bytes()).map_err(|e| io::Error::other(format!("{e}")))
}

/// Starts this process's node of the cluster.
pub(crate) async fn start_node(
    settings: &ClusterSettings,
    config: ClusterConfig,
) -> io::Result<(ClusterNode, UnboundedReceiver<ClusterEvent>)> {
    let started = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let name = format!("{}-{started}", settings.node);
    ClusterNode::start(&settings.redis_url, &name, config)
        .await
        .map_err(|e| io::Error::other(format!("cluster node {name}: {e}")))
}

/// A chat line on the chat channel.
#[derive(Debug, Serialize, Deserialize)]
struct Line {
    conversation_id: ConversationId,
    /// `agent`, `visitor` or `system`.
    from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    party_id: Option<PartyId>,
    text: String,
}

/// Chat lines said on this node and not yet published: past this (Redis is slow or
/// unreachable) a line is dropped, with a log line.
const WAITING_LINES: usize = 1024;

/// The chat across the cluster: lines said on this node go out on the chat channel (in order,
/// by one publisher), and the lines every node said come back to this node's hub.
#[derive(Debug)]
pub(crate) struct ChatBus {
    lines: mpsc::Sender<Vec<u8>>,
}

/// The bus's tasks, to start once the app exists: the publisher and the subscriber.
pub(crate) struct ChatTasks {
    client: redis::Client,
    publisher: redis::aio::ConnectionManager,
    outgoing: mpsc::Receiver<Vec<u8>>,
    pubsub: redis::aio::PubSub,
}

fn redis_error(e: redis::RedisError) -> io::Error {
    io::Error::other(format!("redis: {}", e.category()))
}

impl ChatBus {
    /// Connects to Redis and subscribes to the chat channel (before the node takes a page, so
    /// nothing said later is missed); [`ChatTasks::run`] then serves it.
    pub(crate) async fn connect(settings: &ClusterSettings) -> io::Result<(ChatBus, ChatTasks)> {
        let client = settings.client()?;
        let publisher =
            redis::aio::ConnectionManager::new(client.clone()).await.map_err(redis_error)?;
        let mut pubsub = client.get_async_pubsub().await.map_err(redis_error)?;
        pubsub.subscribe(ClusterSettings::chat_channel()).await.map_err(redis_error)?;
        let (lines, outgoing) = mpsc::channel(WAITING_LINES);
        Ok((ChatBus { lines }, ChatTasks { client, publisher, outgoing, pubsub }))
    }

    /// Says `text` in the conversation, on every node. At most [`WAITING_LINES`] wait to be
    /// published; a line said while Redis is unreachable is lost (and logged).
    pub(crate) fn say(&self, conversation: &ConversationId, speaker: Speaker<'_>, text: &str) {
        let (from, party_id) = match speaker {
            Speaker::Party(Role::Agent, party) => ("agent", Some(party.clone())),
            Speaker::Party(_, party) => ("visitor", Some(party.clone())),
            Speaker::System => ("system", None),
        };
        let line = Line {
            conversation_id: conversation.clone(),
            from: from.to_owned(),
            party_id,
            text: text.to_owned(),
        };
        if let Ok(json) = serde_json::to_vec(&line)
            && self.lines.try_send(json).is_err()
        {
            eprintln!("server: a chat line is lost: too many wait for Redis");
        }
    }
}

impl ChatTasks {
    /// Spawns the publisher and the subscriber, which posts every line it hears to `app`'s
    /// hub; abort the handles to stop them.
    pub(crate) fn run(self, app: Arc<App>) -> Vec<JoinHandle<()>> {
        let ChatTasks { client, publisher, outgoing, pubsub } = self;
        vec![tokio::spawn(publish(publisher, outgoing)), tokio::spawn(listen(client, pubsub, app))]
    }
}

async fn publish(mut conn: redis::aio::ConnectionManager, mut outgoing: mpsc::Receiver<Vec<u8>>) {
    let channel = ClusterSettings::chat_channel();
    while let Some(line) = outgoing.recv().await {
        let published: redis::RedisResult<i64> = conn.publish(&channel, line).await;
        if let Err(error) = published {
            eprintln!("server: a chat line is lost: redis {}", error.category());
        }
    }
}

/// Hears the chat channel; after a lost connection, subscribes again every second.
async fn listen(client: redis::Client, mut pubsub: redis::aio::PubSub, app: Arc<App>) {
    let channel = ClusterSettings::chat_channel();
    loop {
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            // Lines come from other nodes: anything that does not parse is dropped.
            let Ok(line) = serde_json::from_slice::<Line>(message.get_payload_bytes()) else {
                continue;
            };
            let speaker = match (line.from.as_str(), line.party_id.as_ref()) {
                ("agent", Some(party)) => Speaker::Party(Role::Agent, party),
                ("visitor", Some(party)) => Speaker::Party(Role::Visitor, party),
                ("system", None) => Speaker::System,
                _ => continue,
            };
            app.hub().post(Instant::now(), &line.conversation_id, speaker, &line.text);
        }
        pubsub = loop {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            let Ok(mut again) = client.get_async_pubsub().await else { continue };
            if again.subscribe(&channel).await.is_ok() {
                break again;
            }
        };
    }
}
