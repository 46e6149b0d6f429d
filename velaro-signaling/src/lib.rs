//! The IO edge of Velaro calls: transports that carry frames, and (as the crate grows) the
//! relay that routes them between the sessions of a conversation and the async driver of one
//! call.
//!
//! ```
//! use bytes::Bytes;
//! use velaro_signaling::{Transport, memory_pair};
//!
//! # futures::executor::block_on(async {
//! let (mut agent, mut relay) = memory_pair();
//! agent.send(Bytes::from_static(br#"{"type":"call.ringing"}"#)).await?;
//! assert_eq!(relay.recv().await?, Some(Bytes::from_static(br#"{"type":"call.ringing"}"#)));
//! agent.close().await?;
//! assert_eq!(relay.recv().await?, None, "the end of the stream");
//! # Ok::<(), velaro_signaling::TransportError>(())
//! # }).unwrap();
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
pub use relay::{RateLimit, Relay, RelayConfig, RelayError, RelayEvent, SessionId};
#[cfg(feature = "tokio")]
pub use serve::{RelayServer, serve};
pub use session::{CallControl, CallHandle, CallSession, SessionError, SessionOutput};
pub use transport::{SinkStream, Transport, TransportError};
pub use velaro_call_state;
