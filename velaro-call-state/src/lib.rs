//! Sans-IO state machines for Velaro calls: [`Call`] (one party's machine, agent or visitor)
//! and [`Referee`] (the relay's judge of one conversation).
//!
//! Nothing here reads a clock, starts a thread, opens a socket or needs an async runtime: time
//! comes in as `now`, and every output is queued for the caller to drain. The run loop:
//!
//! ```
//! use std::time::Instant;
//! use velaro_call_protocol::{CallId, ConversationId, PartyId};
//! use velaro_call_state::{Call, CallConfig, Output};
//!
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now(); // the IO edge owns the clock
//! let config = CallConfig::new(ConversationId::new("conv-1")?, PartyId::new("agent-tab")?);
//! let mut call = Call::agent(config, CallId::new("call-1")?, now);
//! // call.handle_message(now, envelope)?;  call.handle_action(now, action)?;
//! // call.handle_media(now, media_event)?; call.handle_timeout(now);
//! while let Some(output) = call.poll_output() {
//!     match output {
//!         Output::Send(envelope) => { /* transport.send(velaro_call_protocol::encode(&envelope)) */ }
//!         Output::Media(command) => { /* the WebRTC layer: getUserMedia, createOffer, … */ }
//!         Output::Event(event) => { /* the UI: prompt, opened, ended with a summary, … */ }
//!     }
//! }
//! let _next_wakeup = call.poll_timeout();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod call;
mod ended;
mod help;
mod input;
mod output;
mod referee;
mod summary;
mod timer;

pub use call::{Call, CallConfig, CallError, Phase, Timings};
pub use ended::EndedCalls;
pub use help::{Browser, permission_help};
pub use input::{Action, IceState, MediaEvent};
pub use output::{Event, MediaCommand, Output, PromptEnd, QualityAdvice, TrackKind};
pub use referee::{Delivery, Fact, Notice, Referee, Verdict};
pub use summary::{CallSummary, Outcome};
pub use velaro_call_protocol;
