//! The visitor's answer to an invite, and the agent's follow-ups: `call.ringing`,
//! `call.accept`, `call.select_answer`, `call.decline`, `call.cancel`.

use serde::{Deserialize, Serialize};

use crate::message::invite::MediaKinds;
use crate::reason::Reason;
use crate::value::PartyId;

/// The body of `call.ringing`: the prompt is on the visitor's screen. Empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.ringing (an object)")]
pub struct RingingBody {}

impl RingingBody {
    /// The (empty) ringing body.
    pub fn new() -> Self {
        RingingBody {}
    }
}

/// The body of `call.accept`: sent only after the visitor's browser granted media permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.accept (an object)")]
pub struct AcceptBody {
    /// The media the visitor will send.
    pub media: MediaKinds,
}

impl AcceptBody {
    /// An accept that will send `media`.
    pub fn new(media: MediaKinds) -> Self {
        AcceptBody { media }
    }
}

/// The body of `call.select_answer`: the agent took the answer of one visitor tab; the others
/// stop prompting ("answered elsewhere").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.select_answer (an object)")]
pub struct SelectAnswerBody {
    /// The visitor tab whose accept won.
    pub selected_party_id: PartyId,
}

impl SelectAnswerBody {
    /// Selects the answer of `selected_party_id`.
    pub fn new(selected_party_id: PartyId) -> Self {
        SelectAnswerBody { selected_party_id }
    }
}

/// The body of `call.decline`: the visitor said no, or could not say yes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.decline (an object)")]
pub struct DeclineBody {
    /// Why: `declined`, `media_permission_denied` (with device and browser error), `busy`, …
    #[serde(default = "declined")]
    pub reason: Reason,
}

fn declined() -> Reason {
    Reason::Declined
}

impl DeclineBody {
    /// A decline for `reason`.
    pub fn new(reason: Reason) -> Self {
        DeclineBody { reason }
    }
}

/// The body of `call.cancel`: the agent withdrew the invite before an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.cancel (an object)")]
pub struct CancelBody {
    /// Why; `cancelled` when absent.
    #[serde(default = "cancelled")]
    pub reason: Reason,
}

fn cancelled() -> Reason {
    Reason::Cancelled
}

impl CancelBody {
    /// A cancel for `reason`.
    pub fn new(reason: Reason) -> Self {
        CancelBody { reason }
    }
}

impl Default for CancelBody {
    fn default() -> Self {
        CancelBody::new(Reason::Cancelled)
    }
}
