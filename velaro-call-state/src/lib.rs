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
//!
//! # The sans-IO shape
//!
//! [`Call`], [`Referee`] and the relay built on the referee (`Relay` in `velaro-signaling`)
//! are driven the same way, as quinn-proto's `Connection` and str0m's `Rtc` are:
//!
//! | | what | `Call` | `Referee` | `Relay` |
//! |---|---|---|---|---|
//! | inputs | `handle_*(now, …)`; a misuse is an `Err` and changes nothing | `handle_message`, `handle_action`, `handle_media` | `handle_message`, `handle_join`, `handle_party_lost` | `handle_frame`, plus `connect`, `disconnect`, `resume` |
//! | time | `poll_timeout()` is a pure getter; call `handle_timeout(now)` once it is reached | the call's timers | the invite's expiry | every conversation's expiries and graces |
//! | outputs | `poll_output()` until `None`, in the order to act on them | [`Output`]: frames to send, media commands, UI events | [`RefereeOutput`]: notices, the judged frame forwarded, refused or dropped, facts | `RelayOutput`: sessions to write to or close, events for the host |
//! | getters | state for UIs and tests, never a side effect | `phase`, `summary`, … | `live_call`, `memory`, … | `session_count`, `conversation_memory`, … |
//!
//! Outputs queue, so several inputs may come before the caller drains them (the queue gives its
//! buffer back once drained). A timeout handled at exactly `poll_timeout()` always makes
//! progress. What a peer gets wrong is never an `Err`: it ends the call with a reason, or is
//! refused in-band. The relay adds one thing the others do not need: a queue of frames per
//! session (`poll_transmit(session)`), which each session's writer drains as fast as its
//! transport takes them, so that one slow page is closed instead of slowing the others.
//!
//! # Camera and microphone: the rule table
//!
//! A call asks for the camera and microphone once (the agent before its invite goes out, the
//! visitor after its user accepted), and for the camera alone when its user turns a camera on
//! that the call does not have. The media layer answers `PermissionGranted` or
//! `PermissionDenied { device, error }`; a failed request for both is the camera's (the retry
//! below finds out whether the microphone is the real problem). Only a *refusal*
//! ([`MediaError::is_refusal`](velaro_call_protocol::MediaError::is_refusal)) or a missing
//! microphone stops a call; a camera that fails never does.
//!
//! | request | fails with | the call |
//! |---|---|---|
//! | camera and microphone, at the start | camera: `NotFoundError`, `NotReadableError`, `OverconstrainedError`, `AbortError`, any unknown name | asks again for the microphone alone and goes on with audio: [`Event::CameraUnavailable`] for its user, `audio_only: camera_unavailable` in its `call.media` for the other side |
//! | camera and microphone, at the start | camera: `NotAllowedError`, `SecurityError` | cannot start: `media_permission_denied` (camera), with [`Event::PermissionHelp`] |
//! | the microphone (alone, or the retry) | any | cannot start: `media_permission_denied` (microphone), with help for that error |
//! | the camera, mid-call | any | goes on; the camera stays off (`camera_unavailable` unless refused), with [`Event::CameraUnavailable`] and help for that error |
//! | the camera's track ends by itself (`MediaEvent::CameraEnded`: unplugged) | — | goes on as if the camera were missing |
//! | a screen, mid-call (agent) | any | goes on without the share, with help |
//!
//! The agent may also call with its camera off (`Action::Invite { camera_off: true, .. }`: only
//! the microphone is asked for). Turning the camera on ([`Action::SetCameraOff`]`(false)`)
//! leaves audio only, re-enables the camera track or asks for a camera and renegotiates, any
//! number of times, from either side.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod call;
mod ended;
mod help;
mod input;
mod output;
mod queue;
mod record;
mod referee;
pub mod snapshot;
mod summary;
mod timer;
pub mod tuning;

pub use call::{Call, CallConfig, CallError, Phase, Timings};
pub use ended::EndedCalls;
pub use help::{Browser, media_help, permission_help};
pub use input::{Action, IceState, MediaEvent};
pub use output::{Event, MediaCommand, Output, PromptEnd, QualityAdvice, TrackKind};
pub use record::{CallRecord, CallReport, MediaUsed};
pub use referee::{Delivery, Fact, Notice, Referee, RefereeOutput, RefereeSnapshot};
pub use snapshot::SnapshotError;
pub use summary::{CallSummary, Outcome};
pub use velaro_call_protocol;
