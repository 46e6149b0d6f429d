//! The Velaro v1 call signaling protocol: typed messages, a codec with limits, and SDP checks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
mod envelope;
pub mod limits;
pub mod message;
mod reason;
pub mod sdp;
mod value;

pub use codec::{DecodeError, decode, encode, encode_into};
pub use envelope::{Envelope, Role, VERSION};
pub use message::Message;
pub use reason::{Device, MediaError, Reason};
pub use value::{CallId, ConversationId, NegotiationId, PartyId, ValueError};
pub use velaro_ice_config;
