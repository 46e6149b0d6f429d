//! `call.candidates`: a batch of trickled ICE candidates, as `RTCIceCandidateInit`s.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use velaro_ice_config::Candidate;
/// The text of `sdpMid` and `usernameFragment`: a decoded frame's values share its text.
pub use velaro_ice_config::SharedStr;

use crate::limits::{MAX_CANDIDATES, MAX_M_SECTIONS, MAX_SHORT_TOKEN_LEN};
use crate::value::{ValueError, check_token};

/// `RTCIceCandidateInit`. `candidate: ""` is end-of-candidates for the generation named by
/// `usernameFragment` (Firefox sends one per m-line; for Chromium's `null` event the sender
/// writes it itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
#[serde(expecting = "a candidate object (RTCIceCandidateInit)")]
pub struct IceCandidate {
    /// The candidate, or `None` for end-of-candidates (`""` on the wire).
    #[serde(serialize_with = "candidate_or_empty", deserialize_with = "empty_or_candidate")]
    pub candidate: Option<Candidate>,
    /// The media stream identification of the m-section; may be empty or absent (webrtc-rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<SharedStr>,
    /// The index of the m-section.
    #[serde(default, rename = "sdpMLineIndex", skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u16>,
    /// The ICE username fragment: which ICE generation the candidate belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<SharedStr>,
}

impl IceCandidate {
    /// A candidate for the m-section `sdp_mid` / `sdp_m_line_index`.
    pub fn new(
        candidate: Candidate,
        sdp_mid: Option<String>,
        sdp_m_line_index: Option<u16>,
    ) -> Self {
        IceCandidate {
            candidate: Some(candidate),
            sdp_mid: sdp_mid.map(SharedStr::from),
            sdp_m_line_index,
            username_fragment: None,
        }
    }

    /// End of candidates for the generation `username_fragment` (all m-sections when `None`).
    pub fn end_of_candidates(username_fragment: Option<String>) -> Self {
        IceCandidate {
            candidate: None,
            sdp_mid: None,
            sdp_m_line_index: None,
            username_fragment: username_fragment.map(SharedStr::from),
        }
    }

    /// Sets the username fragment.
    #[must_use]
    pub fn with_username_fragment(mut self, ufrag: impl Into<SharedStr>) -> Self {
        self.username_fragment = Some(ufrag.into());
        self
    }

    /// Whether this marks the end of candidates.
    pub fn is_end_of_candidates(&self) -> bool {
        self.candidate.is_none()
    }

    /// The ICE generation: `usernameFragment`, else the candidate's own `ufrag` extension.
    pub fn ufrag(&self) -> Option<&str> {
        self.username_fragment.as_deref().or_else(|| self.candidate.as_ref()?.ufrag())
    }

    pub(crate) fn check(&self) -> Result<(), ValueError> {
        if let Some(mid) = &self.sdp_mid {
            // Empty is allowed: webrtc-rs sends it.
            if !mid.is_empty() {
                check_token("sdpMid", mid, MAX_SHORT_TOKEN_LEN, |b| b.is_ascii_graphic())?;
            }
        }
        if let Some(index) = self.sdp_m_line_index
            && usize::from(index) >= MAX_M_SECTIONS
        {
            return Err(ValueError::OutOfRange {
                what: "sdpMLineIndex",
                value: index.into(),
                min: 0,
                max: (MAX_M_SECTIONS - 1) as u64,
            });
        }
        if let Some(ufrag) = &self.username_fragment {
            check_token("usernameFragment", ufrag, MAX_SHORT_TOKEN_LEN, |b| {
                b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
            })?;
        }
        Ok(())
    }
}

#[allow(clippy::ref_option)] // the signature serde's `serialize_with` takes
fn candidate_or_empty<S: Serializer>(
    candidate: &Option<Candidate>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match candidate {
        Some(candidate) => serializer.serialize_str(candidate.as_str()),
        None => serializer.serialize_str(""),
    }
}

fn empty_or_candidate<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Candidate>, D::Error> {
    crate::value::parse_str(deserializer, |text| {
        if text.is_empty() { Ok(None) } else { text.parse().map(Some) }
    })
}

/// The body of `call.candidates`: at most 64 candidates, in the order they were gathered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.candidates (an object)")]
pub struct CandidatesBody {
    /// The candidates, end-of-candidates markers included.
    pub candidates: Vec<IceCandidate>,
}

impl CandidatesBody {
    /// A batch of candidates.
    pub fn new(candidates: Vec<IceCandidate>) -> Self {
        CandidatesBody { candidates }
    }

    pub(crate) fn check(&self) -> Result<(), (Option<usize>, ValueError)> {
        if self.candidates.len() > MAX_CANDIDATES {
            return Err((
                None,
                ValueError::OutOfRange {
                    what: "number of candidates",
                    value: self.candidates.len() as u64,
                    min: 0,
                    max: MAX_CANDIDATES as u64,
                },
            ));
        }
        for (index, candidate) in self.candidates.iter().enumerate() {
            candidate.check().map_err(|e| (Some(index), e))?;
        }
        Ok(())
    }
}
