//! The call's private state: one variant per phase, each holding exactly the data that exists
//! in that phase, so that an illegal combination (a held offer in a live call, a screen share
//! before the answer, a summary before the end) cannot be written.
//!
//! What every phase shares (who we are, the outputs, the timers, the replay window, the bound
//! peer, held remote candidates, when the call started) stays on [`Call`](super::Call).
//! Transitions replace the state whole; `Ended` absorbs every input.

use std::time::Instant;

use velaro_call_protocol::message::description::DescriptionBody;
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds};
use velaro_call_protocol::message::media::QualityLevel;

use super::ending::Ended;
use super::media::{LocalMedia, UserMedia, UserMediaRequest};
use super::negotiation::Negotiation;
use super::quality::QualityMonitor;
use super::{CallError, Phase};

/// The phase of a call and exactly its data.
#[derive(Debug)]
pub(super) enum State {
    /// Agent: nothing happened yet.
    Idle,
    /// Agent: waiting for its own camera and microphone; the invite goes out once granted, so
    /// a denial never rings the visitor.
    Inviting {
        /// The invite, sent as it is once the media is granted.
        invite: Box<InviteBody>,
        /// The agent's own camera and microphone, as being asked for.
        request: UserMediaRequest,
    },
    /// Agent: the invite is out (its expiry is a timer), waiting for an answer.
    Ringing {
        /// The agent's own camera and microphone, granted before the invite went out.
        user_media: UserMedia,
    },
    /// Visitor: the prompt is on screen.
    Prompting {
        /// The media the invite asks for, requested from the browser once the user accepts.
        requested: MediaKinds,
        /// An offer that came before consent, applied once it is given (no media before
        /// consent).
        held_offer: Option<DescriptionBody>,
    },
    /// Visitor: accepted; waiting for the browser's permission.
    AwaitingPermission {
        /// An offer that came before consent, applied once permission is granted.
        held_offer: Option<DescriptionBody>,
        /// The visitor's camera and microphone, as being asked for.
        request: UserMediaRequest,
    },
    /// Answered: offer, answer and ICE under way, media flowing, or the connection being
    /// restored.
    InCall(Box<InCall>),
    /// Over; every further input is absorbed.
    Ended(Box<Ended>),
}

/// What exists once the call is answered, until it ends.
#[derive(Debug)]
pub(super) struct InCall {
    /// When the call was answered: the visitor's accept (sent by the visitor, received by the
    /// agent). Ring time ends here.
    pub(super) accepted_at: Instant,
    /// Whether media flows.
    pub(super) connection: Connection,
    /// Offers, answers and local candidates (perfect negotiation).
    pub(super) negotiation: Negotiation,
    /// What we send: the state behind `call.media`.
    pub(super) media: LocalMedia,
    /// The audio-only advice (agent).
    pub(super) quality: QualityMonitor,
    /// The level of our last `call.quality` report (reports go out on change).
    pub(super) last_level: Option<QualityLevel>,
    /// The `seq` of the peer's newest `call.media` taken: each one is a whole state, so one
    /// that a reordering link delivers late is stale and ignored.
    pub(super) peer_media_seq: u64,
    /// Whether the peer's newest `call.media` switched the call to audio only: the visitor
    /// follows the marker's edges, so it can turn its camera back on in between.
    pub(super) peer_audio_only: bool,
}

/// Whether media flows in an answered call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Connection {
    /// Offer, answer and ICE under way; media never flowed yet.
    Connecting,
    /// Media flows.
    Active {
        /// When media first connected: talk time counts from here.
        connected_at: Instant,
    },
    /// The connection dropped; restoring it.
    Reconnecting {
        /// When media first connected.
        connected_at: Instant,
    },
}

impl State {
    /// The public phase.
    pub(super) fn phase(&self) -> Phase {
        match self {
            State::Idle => Phase::Idle,
            State::Inviting { .. } => Phase::Inviting,
            State::Ringing { .. } => Phase::Ringing,
            State::Prompting { .. } => Phase::Prompting,
            State::AwaitingPermission { .. } => Phase::AwaitingPermission,
            State::InCall(call) => call.phase(),
            State::Ended(_) => Phase::Ended,
        }
    }

    /// Takes the state out to move it into the next one; the caller puts a state back.
    pub(super) fn take(&mut self) -> State {
        std::mem::replace(self, State::Idle)
    }

    /// The answered call, if the call is in one.
    pub(super) fn in_call(&self) -> Option<&InCall> {
        match self {
            State::InCall(call) => Some(call),
            _ => None,
        }
    }

    /// The answered call, if the call is in one.
    pub(super) fn in_call_mut(&mut self) -> Option<&mut InCall> {
        match self {
            State::InCall(call) => Some(call),
            _ => None,
        }
    }

    /// The answered call, or `input` is refused: it makes no sense before the answer or after
    /// the end.
    pub(super) fn expect_in_call(&mut self, input: &'static str) -> Result<&mut InCall, CallError> {
        match self {
            State::InCall(call) => Ok(call),
            other => Err(CallError::WrongPhase { input, phase: other.phase() }),
        }
    }

    /// The answered call once ICE exists (the media layer gave a local description), or
    /// `input` is refused.
    pub(super) fn expect_ice(&mut self, input: &'static str) -> Result<&mut InCall, CallError> {
        let call = self.expect_in_call(input)?;
        if call.negotiation.has_ice() { Ok(call) } else { Err(call.refuse(input)) }
    }

    /// The connection of the answered call, if the call is in one.
    pub(super) fn connection(&self) -> Option<Connection> {
        self.in_call().map(|call| call.connection)
    }

    /// What the phase data holds on the heap, roughly (boxes and strings, by capacity).
    pub(super) fn heap_estimate(&self) -> usize {
        match self {
            State::Idle => 0,
            State::Inviting { invite, request } => {
                size_of::<InviteBody>() + invite.prompt.text.capacity() + request.heap_estimate()
            }
            State::Ringing { user_media } => user_media.heap_estimate(),
            State::Prompting { held_offer, .. } => held_sdp(held_offer.as_ref()),
            State::AwaitingPermission { held_offer, request } => {
                held_sdp(held_offer.as_ref()) + request.heap_estimate()
            }
            State::InCall(call) => {
                size_of::<InCall>() + call.negotiation.heap_estimate() + call.media.heap_estimate()
            }
            State::Ended(ended) => ended.heap_estimate(),
        }
    }
}

fn held_sdp(offer: Option<&DescriptionBody>) -> usize {
    offer.map_or(0, |offer| offer.description.sdp.capacity())
}

impl InCall {
    /// A call answered at `now`, with the local camera and microphone as granted.
    pub(super) fn new(now: Instant, user_media: UserMedia) -> InCall {
        InCall {
            accepted_at: now,
            connection: Connection::Connecting,
            negotiation: Negotiation::default(),
            media: LocalMedia::new(user_media),
            quality: QualityMonitor::default(),
            last_level: None,
            peer_media_seq: 0,
            peer_audio_only: false,
        }
    }

    pub(super) fn phase(&self) -> Phase {
        match self.connection {
            Connection::Connecting => Phase::Connecting,
            Connection::Active { .. } => Phase::Active,
            Connection::Reconnecting { .. } => Phase::Reconnecting,
        }
    }

    /// Refuses `input`: it makes no sense in this phase of the call.
    pub(super) fn refuse(&self, input: &'static str) -> CallError {
        CallError::WrongPhase { input, phase: self.phase() }
    }
}

impl Connection {
    /// When media first connected, if it did.
    pub(super) fn connected_at(self) -> Option<Instant> {
        match self {
            Connection::Connecting => None,
            Connection::Active { connected_at } | Connection::Reconnecting { connected_at } => {
                Some(connected_at)
            }
        }
    }
}
