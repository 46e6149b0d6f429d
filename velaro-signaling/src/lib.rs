//! The IO edge of Velaro calls: the [`Relay`] that routes call frames between the sessions of
//! each conversation (sans IO: your server owns the sockets and the clock), `serve` to run it
//! on tokio (feature `tokio`), [`CallSession`] to drive one party's call over a [`Transport`],
//! and the transports themselves.
//!
//! New here? The [embedding guide](crate::embedding_guide) (feature `tokio`) walks a chat
//! server from its own WebSocket to a working call: tokens, the relay, TURN per call, headers,
//! the transcript, what to store.
//!
//! Everything a host needs is here: the call machines' types come through [`prelude`], and
//! the lower crates as [`velaro_call_state`], [`velaro_call_protocol`] and
//! [`velaro_ice_config`].
//!
//! ```
//! use std::time::Instant;
//! use velaro_signaling::prelude::*;
//!
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now(); // your server's clock
//! let mut relay = Relay::new(RelayConfig::default());
//! let chat = ConversationId::new("conv-42")?;
//! relay.open_conversation(chat.clone(), true); // this account's plan includes video
//! let agent = relay.connect(now, &chat, Role::Agent, PartyId::new("agent-7")?)?;
//! let visitor = relay.connect(now, &chat, Role::Visitor, PartyId::new("visitor-tab-1")?)?;
//! relay.handle_frame(now, agent, br#"{"type":"call.hangup"}"#)?; // read from the agent's socket
//! while let Some(output) = relay.poll_output() {
//!     match output {
//!         RelayOutput::Transmit(session) => {
//!             while let Some(frame) = relay.poll_transmit(session) { /* write to its socket */ }
//!         }
//!         RelayOutput::Close(session) => { /* close its socket: it fell behind */ }
//!         RelayOutput::Event(RelayEvent::CallEnded { report }) => {
//!             println!("{}", report.summary.transcript_line()); // into the chat transcript
//!         }
//!         RelayOutput::Event(_) => {}
//!     }
//! }
//! # let _ = visitor;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//! - `tokio`: `TokioClock`, the [`Clock`] of a tokio runtime, and `serve`, which runs a
//!   [`Relay`] over many transports on a tokio runtime.
//! - `tracing`: spans and events through the `tracing` facade (the host installs the
//!   subscriber). A span per conversation (`conversation{id}`, entered by every relay input that
//!   concerns it), per served session inside it (`session{id}`) and per [`CallSession`]
//!   (`call_session{conversation, party, role, call}`). Events, with targets
//!   `velaro_signaling::{relay, serve, session}`: sessions connected (`INFO`: session, role,
//!   party), refused (`INFO`: role, reason), disconnected (`INFO`: frames dropped with its queue,
//!   whether the grace started) and resumed (`INFO`: frames replayed); frames routed (`TRACE`:
//!   message type, call, `seq`), refused (`DEBUG`: the reject code, never the detail) and dropped
//!   (`DEBUG`); slow sessions closed (`WARN`); invite and grace expiries (`INFO`); calls started
//!   (`INFO`: call, agent, visitor) and ended (`INFO`: outcome, reason code, ring and talk time,
//!   accept to media); a served session's end (`INFO`: why) and a `CallSession`'s transport
//!   failures, reconnects and call end. Only the host's ids, codes, counts and durations are
//!   logged: never an address, SDP, candidate, ICE or TURN credential, token or prompt text
//!   (`tests/tests/pii_logs.rs` checks a whole call at `TRACE`).
//! - `metrics`: counters, gauges and a histogram through the `metrics` facade (the host installs
//!   the recorder and its exporter, before creating the relay): gauges `velaro_sessions`,
//!   `velaro_conversations`, `velaro_queued_frames` (frames waiting in all sessions' queues);
//!   counters `velaro_calls_started_total`, `velaro_calls_ended_total{outcome}`,
//!   `velaro_frames_routed_total`, `velaro_frames_refused_total{code}`,
//!   `velaro_frames_dropped_total`, `velaro_resumes_total`, `velaro_frames_replayed_total`,
//!   `velaro_frames_acknowledged_total` (logged frames forgotten after a `call.ack`),
//!   `velaro_slow_sessions_closed_total`, `velaro_grace_expired_total`,
//!   `velaro_connects_refused_total{reason}`; histogram `velaro_accept_to_media_seconds`. The
//!   gauges add up over the relays of a process, and a dropped relay takes its share off.
//!
//! - `redis`: [`cluster`], many relay nodes serving one conversation over Redis (7+ or
//!   Valkey): an owner per conversation holds a fenced lease and judges with an ordinary
//!   [`Relay`], any node serves any session, and a node that dies loses no call. Brings `tokio`
//!   and the `redis` crate.
//!
//! Without `tracing` and `metrics` (the default) none of it is compiled: not even the crates.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod channel;
mod clock;
#[cfg(feature = "tokio")]
#[doc = include_str!("../docs/embedding.md")]
pub mod embedding_guide {}
#[cfg(feature = "redis")]
pub mod cluster;
mod memory;
mod observe;
mod relay;
#[cfg(feature = "tokio")]
mod serve;
mod session;
mod token;
mod transport;

pub use channel::{ChannelPeer, ChannelTransport, channel_transport};
pub use clock::Clock;
#[cfg(feature = "tokio")]
pub use clock::TokioClock;
pub use memory::{Faults, MemoryTransport, memory_pair, memory_pair_with_faults};
pub use relay::{
    RateLimit, Relay, RelayConfig, RelayError, RelayEvent, RelayOutput, RelaySnapshot, SessionId,
    TokenBucket,
};
#[cfg(feature = "tokio")]
pub use serve::{RelayServer, serve};
pub use session::{CallControl, CallSession, SessionError, SessionOutput, SessionOutputs};
pub use token::{
    Expect, JoinClaims, JoinKey, JoinKeys, JoinNonce, JoinToken, ReplayGuard, TokenError,
};
pub use transport::{SinkStream, Transport, TransportError};
pub use velaro_call_state;
pub use velaro_call_state::SnapshotError;
pub use velaro_call_state::velaro_call_protocol;
pub use velaro_call_state::velaro_call_protocol::velaro_ice_config;

/// The types a host meets first, in one import: `use velaro_signaling::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CallControl, CallSession, Clock, Expect, JoinClaims, JoinKeys, Relay, RelayConfig,
        RelayError, RelayEvent, RelayOutput, ReplayGuard, SessionError, SessionId, SessionOutput,
        SessionOutputs, TokenError, Transport, TransportError,
    };
    #[cfg(feature = "tokio")]
    pub use crate::{RelayServer, TokioClock, serve};
    pub use velaro_call_state::velaro_call_protocol::{
        CallId, ConversationId, Envelope, Message, PartyId, Reason, Role, decode, encode,
    };
    pub use velaro_call_state::{
        Action, Call, CallConfig, CallSummary, Event, MediaCommand, MediaEvent, Outcome, Output,
        Phase,
    };
}
