//! The Velaro v1 call signaling protocol: typed messages, a codec with limits, and SDP checks.
//!
//! ```
//! use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
//! use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, Role, decode, encode};
//!
//! // The agent's client invites.
//! let prompt = Prompt::new("Your agent would like to start a video call. Accept?")?.with_locale("en")?;
//! let invite = Envelope::new(
//!     ConversationId::new("conv-42")?,
//!     CallId::new("call-7")?,
//!     PartyId::new("agent-tab-1")?,
//!     Role::Agent,
//!     1,
//!     InviteBody::new(prompt, MediaKinds::AUDIO_VIDEO),
//! );
//! let frame: Vec<u8> = encode(&invite); // carry it over your chat connection
//!
//! // The relay and the visitor decode it: limits first, every failure typed.
//! let received = decode(&frame)?;
//! let Message::Invite(body) = &received.message else { unreachable!() };
//! assert_eq!(body.prompt.text, "Your agent would like to start a video call. Accept?");
//! assert_eq!(received, invite);
//! assert!(decode(b"[]").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The protocol, version 1
//!
//! This section is the protocol's reference; the JSON Schema in `schema/v1.schema.json` says
//! the same for non-Rust clients, and `tests/fixtures/v1/` holds one real frame per message.
//!
//! ## Frames
//! One message per frame, JSON, UTF-8, at most 64 KiB; any transport that delivers whole frames
//! works (WebSocket text frames, HTTP bodies, a bus). Every frame is an object:
//!
//! ```json
//! {"type":"call.hangup","version":1,"conversation_id":"conv-42","call_id":"call-7",
//!  "party_id":"agent-tab-1","role":"agent","seq":6,"body":{"reason":{"code":"user_hangup"}}}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `type` | the message kind, below |
//! | `version` | `1`; another version is [`DecodeError::UnsupportedVersion`] |
//! | `conversation_id` | the chat conversation ([`ConversationId`]) |
//! | `call_id` | the call, chosen by the inviting agent ([`CallId`]) |
//! | `party_id` | the sending device or tab ([`PartyId`]); stamped by the relay |
//! | `role` | `agent` or `visitor`; stamped by the relay |
//! | `seq` | the sender's counter in this call, 1 to 2^53 - 2 (2^53 - 1 is the relay's), for dedupe and resume |
//! | `body` | the message's own fields; may be omitted when all of them are optional |
//!
//! Ids are 1 to 255 characters of `[0-9A-Za-z._~-]`. The body sits in its own object (unlike
//! the flat draft of the design) so that a reader that meets an unknown `type` can keep the
//! body whole, and so that the envelope is read in a single pass with the body going straight
//! into its type.
//!
//! ## Messages
//! | `type` | from | body ([`message`]) |
//! |---|---|---|
//! | `call.invite` | agent | `prompt` {`text`, `locale`?}, `media` {`audio`,`video`}, `lifetime_ms` (10 000 to 600 000), `capabilities`?, `ice`? (`RTCConfiguration`) |
//! | `call.ringing` | visitor | `{}`: the prompt is on screen |
//! | `call.accept` | visitor | `media`: what the visitor will send; only after permission was granted |
//! | `call.select_answer` | agent | `selected_party_id`: the other tabs stop prompting |
//! | `call.decline` | visitor | `reason` |
//! | `call.cancel` | agent | `reason`? (`cancelled`) |
//! | `call.description` | both | `description` (`RTCSessionDescriptionInit`, offer or answer only), `negotiation_id` |
//! | `call.candidates` | both | `candidates`: up to 64 `RTCIceCandidateInit`; `candidate: ""` ends a generation |
//! | `call.media` | both | `streams` {stream id: {`purpose`, `audio_muted`, `video_muted`, `display_surface`?}}, `audio_only`? {`reason`}: the full state, a missing stream has ended |
//! | `call.quality` | both | `level`, `rtt_ms`?, `loss_pct`? |
//! | `call.hangup` | both | `reason`? (`user_hangup`): ends the call, never the conversation |
//! | `call.rejected` | relay | `code`, `detail`, `rejected_seq`?: why the relay refused a frame |
//! | `call.ack` | both, to the relay | `seen`: a resume cursor; the relay forgets the frames it covers and forwards nothing |
//!
//! A relay notice (`call.rejected`) carries `party_id` `relay` and the recipient's own role. Its
//! `code` says what the sender can do: `forbidden`, `feature_disabled`, `busy`,
//! `rate_limited` (slow down), `too_large`, `invalid`, `unknown_call`, `expired` (a late
//! accept), `call_ended` (the `call_id` belongs to a call that has ended: a new call needs a
//! new id), `unsupported_version`, `unknown_type`, `unavailable` (a cluster node could not
//! store the frame: the connection closes after the notice; reconnect and resume).
//!
//! The relay also writes frames on a party's behalf when it ends a call the other side cannot
//! hear ended (an expiry, a lost connection, a glare, another tab's decline): they carry that
//! party's id and role and `seq` one past the last one delivered from it. That is why a
//! client's `seq` stays below 2^53 - 1: the relay's notice after it must still be valid.
//! Browser dictionaries keep their W3C names (`sdpMid`, `iceServers`, …) so a page can pass them
//! to `RTCPeerConnection` untouched; our own fields are in `snake_case`.
//!
//! ## Reasons
//! An object with a `code` ([`Reason`]): `user_hangup`, `declined`, `cancelled`, `busy`,
//! `invite_timeout`, `answered_elsewhere`, `replaced`, `ice_failed`, `ice_timeout`,
//! `signaling_lost`, `media_permission_denied` (with `device`: `camera`/`microphone`/`screen`
//! and `error`: the browser's `DOMException` name), `feature_disabled`, `party_left`,
//! `unsupported_version`, `protocol_error`, `unknown_error`.
//!
//! ## Compatibility
//! Tolerant reader, strict writer. Unknown fields are ignored; an unknown `type` decodes to
//! [`Message::Unknown`] with its body kept byte for byte; unknown values of open enums (reason
//! codes, capabilities, surfaces, …) are kept and written back. What we write is exact: fields
//! in a fixed order, optional fields omitted when absent. Duplicate fields, trailing data,
//! anything but an object at the top, invalid UTF-8, out-of-range integers and wrong JSON types
//! are each a [`DecodeError`] naming the field.
//!
//! ## Limits ([`limits`])
//! Frame 64 KiB (checked first); SDP 32 KiB and 16 m-sections; 64 candidates per message;
//! prompt and `detail` 1024 bytes; ids 255 characters; 8 streams; 32 capabilities.
//!
//! ## SDP
//! [`decode`] only size-checks an SDP. [`sdp::check`] reads it once against the RFC 8866 line
//! grammar (our own, allocation-free: see [`sdp`]) and requires an audio or video
//! m-section, an ICE ufrag (4 to 256) and password (22 to 256) and a DTLS fingerprint for every
//! m-section (media or session level), and a BUNDLE group naming existing mids; it returns an
//! [`sdp::SdpSummary`] for the call machine.
//!
//! ## Relaying
//! The relay decodes and checks every frame ([`decode_forwardable`]), and forwards its body as
//! the sender wrote it in an envelope of its own: `party_id` and `role` from the connection,
//! written with [`Forwardable::encode`]. Nothing it forwards is unescaped and escaped again (an
//! SDP is checked once, never rewritten), and a body's unknown fields travel on, so a newer
//! peer's optional additions reach the other side through an older relay; fields it knows it
//! has checked like any reader. Only the privacy filter's rewrites are encoded anew. A frame
//! that no longer fits the limits as the relay would write it (stamping a longer party id, a
//! privacy filter rewriting its candidates) is refused with `too_large` or `invalid` rather
//! than forwarded: everything a relay writes decodes.
//!
//! A party id belongs to one role in a conversation, and `relay` to nobody: a session that
//! claims otherwise is refused when it connects. A visitor tab that connects while a call
//! rings gets the invite, with the lifetime that is left. A party sends its first
//! `call.media` once its own media is connected (ICE and DTLS); the relay counts a call's
//! talk time from the first one it relays.
//!
//! ## Resume
//! A client whose connection dropped reconnects with a cursor (`party-id:seq,…`, the highest
//! `seq` its live call took from each sender), and the relay replays exactly the call frames it
//! missed, in order: see [`resume`]. To keep that possible the relay keeps what it delivered;
//! a live call's `call.ack` (the same cursor, sent a moment after frames arrive) lets it forget
//! what a resume would never replay.
//!
//! ## Media: asked for, and had
//! `call.invite`'s `media` is what the agent asks of the visitor; `call.accept`'s is what the
//! visitor got. What each side actually sends is its `call.media`, sent again on every change,
//! and the other side's UI follows that alone: an agent may call with its camera off, a camera
//! that is missing or busy leaves its owner on audio, and a camera may be turned on at any time
//! (a new video track renegotiates). The `audio_only` marker is the sender's own: `quality` is
//! the agent's switch of the whole call to audio only, which the visitor follows when the
//! marker appears and leaves when it disappears; `camera_unavailable` says only that the sender
//! has no working camera, and the other side keeps its own video. A camera or microphone
//! *refused* at the start (`NotAllowedError`, `SecurityError`) stops the call with
//! `media_permission_denied`; so does a microphone that fails in any way (no audio, no call).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
mod envelope;
mod json;
pub mod limits;
pub mod message;
mod reason;
pub mod resume;
pub mod schema;
pub mod sdp;
mod value;

#[doc(hidden)]
pub use codec::differential;
pub use codec::{
    DecodeError, Forwardable, decode, decode_forwardable, encode, encode_into, peek_type,
};
pub use envelope::{Envelope, Role, VERSION};
pub use message::Message;
pub use reason::{Device, MediaError, Reason};
pub use value::{CallId, ConversationId, NegotiationId, PartyId, RELAY_PARTY_ID, ValueError};
pub use velaro_ice_config;
