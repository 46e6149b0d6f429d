//! Sans-IO state machines for Velaro calls.
//!
//! This crate will hold `Call` (one party's machine, agent or visitor) and `Referee` (the relay's
//! per-conversation judge). It never touches a clock, a thread, a socket or an async runtime: time
//! arrives as `now` arguments (see `ARCHITECTURE.md` at the workspace root). It is empty today
//! apart from re-exporting the protocol crate it builds on.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use velaro_call_protocol;
