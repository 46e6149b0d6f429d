//! `call.description`: an SDP offer or answer, as `RTCSessionDescriptionInit`.

use serde::{Deserialize, Deserializer, Serialize};

use crate::value::NegotiationId;

/// The SDP type. Only offers and answers travel: `pranswer` is not used by browsers' perfect
/// negotiation and `rollback` is local to one peer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpType {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

impl<'de> Deserialize<'de> for SdpType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        match text.as_ref() {
            "offer" => Ok(SdpType::Offer),
            "answer" => Ok(SdpType::Answer),
            "pranswer" | "rollback" => Err(serde::de::Error::custom(format_args!(
                "sdp type `{text}` never travels (only offer and answer)"
            ))),
            _ => Err(serde::de::Error::unknown_variant(&text, &["offer", "answer"])),
        }
    }
}

/// `RTCSessionDescriptionInit`: `{"type":"offer","sdp":"v=0\r\n…"}`, ready for
/// `setRemoteDescription`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "a description object (RTCSessionDescriptionInit)")]
pub struct SessionDescription {
    /// Offer or answer.
    #[serde(rename = "type")]
    pub sdp_type: SdpType,
    /// The SDP text (at most 32 KiB and 16 m-sections; see [`crate::sdp`] for the checks).
    pub sdp: String,
}

impl SessionDescription {
    /// A description of `sdp_type` carrying `sdp`.
    pub fn new(sdp_type: SdpType, sdp: impl Into<String>) -> Self {
        SessionDescription { sdp_type, sdp: sdp.into() }
    }
}

/// The body of `call.description`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.description (an object)")]
pub struct DescriptionBody {
    /// The offer or answer.
    pub description: SessionDescription,
    /// Which offer/answer exchange this belongs to: an answer repeats its offer's id.
    pub negotiation_id: NegotiationId,
}

impl DescriptionBody {
    /// A description for negotiation `negotiation_id`.
    pub fn new(description: SessionDescription, negotiation_id: NegotiationId) -> Self {
        DescriptionBody { description, negotiation_id }
    }
}
