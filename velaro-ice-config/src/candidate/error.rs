//! [`CandidateError`]: why a candidate line failed to parse.

#[cfg(doc)]
use super::{MAX_CANDIDATE_LEN, MAX_EXTENSIONS};

/// Why a candidate line failed to parse. Names the field and shows (a bounded excerpt of) the
/// offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CandidateError {
    /// The line is empty. (An empty `candidate` in `RTCIceCandidateInit` means end of
    /// candidates and is not a candidate at all.)
    #[error("candidate is empty")]
    Empty,
    /// The text is longer than [`MAX_CANDIDATE_LEN`]; checked before anything else.
    #[error("candidate is {len} bytes long, more than {max}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text fits, but the candidate prints (`candidate:…`) longer than
    /// [`MAX_CANDIDATE_LEN`], so its printed form would not parse again.
    #[error("candidate prints as {len} bytes, more than {max}")]
    PrintedTooLong {
        /// The length of its printed form in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A required field is missing.
    #[error("candidate has no {field}")]
    Missing {
        /// The field's name in RFC 8839: `foundation`, `component-id`, `typ`, …
        field: &'static str,
    },
    /// A field is present but its value is invalid.
    #[error("candidate {field} `{value}` is invalid")]
    Invalid {
        /// The field's name in RFC 8839.
        field: &'static str,
        /// The value, cut to a bounded length.
        value: String,
    },
    /// `typ` is not `host`, `srflx`, `prflx` or `relay`.
    #[error("unknown candidate type `{0}`")]
    UnknownType(String),
    /// A known extension (`tcptype`, `generation`, `ufrag`, `network-id`, `network-cost`,
    /// `raddr`, `rport`) appears twice.
    #[error("candidate extension `{0}` appears twice")]
    DuplicateExtension(String),
    /// More than [`MAX_EXTENSIONS`] extensions.
    #[error("candidate has more than {max} extensions")]
    TooManyExtensions {
        /// The limit.
        max: usize,
    },
}
