//! The IO edge of Velaro calls.
//!
//! This crate will hold the `Transport` trait and its adapters, the `Relay` that routes frames
//! between the sessions of a conversation, and `CallSession`, the async driver of one call (see
//! `ARCHITECTURE.md` at the workspace root). It is empty today apart from re-exporting the state
//! crate it builds on.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use velaro_call_state;
