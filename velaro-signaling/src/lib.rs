//! The IO edge of Velaro calls: the [`Relay`] that routes call frames between the sessions of
//! each conversation (sans IO: your server owns the sockets and the clock), `serve` to run it
//! on tokio (feature `tokio`), [`CallSession`] to drive one party's call over a [`Transport`],
//! and the transports themselves.
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
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod memory;
mod relay;
#[cfg(feature = "tokio")]
mod serve;
mod session;
mod transport;

pub use clock::Clock;
#[cfg(feature = "tokio")]
pub use clock::TokioClock;
pub use memory::{Faults, MemoryTransport, memory_pair, memory_pair_with_faults};
pub use relay::{
    RateLimit, Relay, RelayConfig, RelayError, RelayEvent, RelayOutput, SessionId, TokenBucket,
};
#[cfg(feature = "tokio")]
pub use serve::{RelayServer, serve};
pub use session::{CallControl, CallSession, SessionError, SessionOutput, SessionOutputs};
pub use transport::{SinkStream, Transport, TransportError};
pub use velaro_call_state;
pub use velaro_call_state::velaro_call_protocol;
pub use velaro_call_state::velaro_call_protocol::velaro_ice_config;

/// The types a host meets first, in one import: `use velaro_signaling::prelude::*;`.
pub mod prelude {
    pub use crate::{
        CallControl, CallSession, Clock, Relay, RelayConfig, RelayError, RelayEvent, RelayOutput,
        SessionError, SessionId, SessionOutput, SessionOutputs, Transport, TransportError,
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
