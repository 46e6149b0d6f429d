//! The Velaro v1 call signaling wire protocol.
//!
//! This crate will hold the ids, the envelope, every message body, the reason taxonomy and the
//! codec with its limits and SDP checks (see `ARCHITECTURE.md` at the workspace root). It is
//! empty today apart from re-exporting [`velaro_ice_config`], whose `RtcConfiguration` and
//! `Candidate` types the protocol embeds.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use velaro_ice_config;
