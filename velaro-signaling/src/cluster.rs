//! `cluster` (feature `redis`): many relay nodes serve one conversation over Redis, and a node
//! that dies loses no call.
//!
//! Each conversation has one *owner* node at a time, which runs an ordinary sans-IO [`Relay`]
//! for it; ownership is a Redis lease with a fencing epoch. Any node accepts any session
//! ([`ClusterNode::connect`]): what a session sends goes into the conversation's inbound
//! stream, the owner judges it and commits the input, the frames to deliver and the host's
//! events in one Lua script that Redis refuses unless the owner's epoch still holds the lease;
//! every node then delivers the frames addressed to its own sessions from the outbound stream.
//! A new owner rebuilds the conversation by replaying its journal into a fresh [`Relay`].
//! ARCHITECTURE.md ("Cluster mode (Redis)") has the keys, their bounds and the failure table.
//!
//! ```no_run
//! # async fn demo(transport: velaro_signaling::MemoryTransport) -> Result<(), Box<dyn std::error::Error>> {
//! use velaro_signaling::cluster::{ClusterConfig, ClusterNode};
//! use velaro_signaling::prelude::*;
//!
//! let config = ClusterConfig::new(RelayConfig::default());
//! let (node, mut events) = ClusterNode::start("redis://127.0.0.1:6379/", "node-a", config).await?;
//! let chat = ConversationId::new("conv-42")?;
//! node.open_conversation(chat.clone(), true);
//! node.connect(transport, &chat, Role::Agent, PartyId::new("agent-7")?, None).await?;
//! // Calls started and ended, once each across the cluster, for the transcript.
//! while let Some(event) = futures::StreamExt::next(&mut events).await {
//!     println!("{event:?}");
//! }
//! # Ok(())
//! # }
//! ```
//!
//! [`Relay`]: crate::Relay

mod config;
mod error;
mod event;
mod input;
mod keys;
mod news;
mod node;
mod owner;
mod steward;
mod store;

pub use config::ClusterConfig;
pub use error::ClusterError;
pub use event::ClusterEvent;
pub use node::{ClusterNode, ClusterSessionId, ClusterStats};
