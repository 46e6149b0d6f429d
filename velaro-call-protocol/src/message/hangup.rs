//! `call.hangup` ends the call (never the conversation); `call.rejected` is the relay's notice
//! that it refused a frame.

use serde::{Deserialize, Serialize};

use crate::limits::MAX_DETAIL_LEN;
use crate::reason::Reason;
use crate::value::{ValueError, check_text, open_enum};

/// The body of `call.hangup`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.hangup (an object)")]
pub struct HangupBody {
    /// Why the call ended; `user_hangup` when absent.
    #[serde(default)]
    pub reason: Reason,
}

impl HangupBody {
    /// A hangup for `reason`.
    pub fn new(reason: Reason) -> Self {
        HangupBody { reason }
    }
}

open_enum! {
    /// Why the relay refused a frame.
    RejectCode, "reject code" {
        /// The sender may not send this message (a visitor's invite, a third party).
        Forbidden = "forbidden",
        /// The account's plan does not include video calls.
        FeatureDisabled = "feature_disabled",
        /// The conversation already has a live call.
        Busy = "busy",
        /// The sender sends too fast.
        RateLimited = "rate_limited",
        /// The frame is over a size limit.
        TooLarge = "too_large",
        /// The frame does not decode or breaks a protocol rule.
        Invalid = "invalid",
        /// The call is not known (never started, or of another conversation).
        UnknownCall = "unknown_call",
        /// The invite's lifetime has passed (a late accept).
        Expired = "expired",
        /// The `call_id` names a call that already ended in this conversation: a new call
        /// needs a new id (the invite is refused, it never rings).
        CallEnded = "call_ended",
        /// The protocol version is not supported.
        UnsupportedVersion = "unsupported_version",
        /// The message type is not known to the relay.
        UnknownType = "unknown_type",
        /// The relay cannot take frames now (a cluster node's Redis stayed out of reach): this
        /// frame may not have reached the call, and the connection closes after this notice.
        /// Reconnect and resume within the grace; what the relay sent is replayed.
        Unavailable = "unavailable",
    }
}

/// The body of `call.rejected`: sent by the relay to the sender of a refused frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
#[serde(expecting = "the body of call.rejected (an object)")]
pub struct RejectedBody {
    /// Why, as a code a client can act on.
    pub code: RejectCode,
    /// Why, for a developer (at most 1024 bytes; never shown to end users as is).
    #[serde(default)]
    pub detail: String,
    /// The `seq` of the refused frame, when the relay could read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_seq: Option<u64>,
}

impl RejectedBody {
    /// A rejection notice that always passes the decoder's checks: control characters in
    /// `detail` (it may quote the refused frame) are written as escapes such as `\u{7}`, and
    /// the result is cut to 1024 bytes on a character boundary.
    pub fn new(code: RejectCode, detail: impl Into<String>, rejected_seq: Option<u64>) -> Self {
        let mut detail: String = detail.into();
        if detail.chars().any(is_unwritable) {
            detail =
                detail
                    .chars()
                    .map(|ch| {
                        if is_unwritable(ch) { ch.escape_unicode().to_string() } else { ch.into() }
                    })
                    .collect();
        }
        if detail.len() > MAX_DETAIL_LEN {
            let mut end = MAX_DETAIL_LEN;
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            detail.truncate(end);
        }
        RejectedBody { code, detail, rejected_seq }
    }

    pub(crate) fn check(&self) -> Result<(), ValueError> {
        check_text("detail", &self.detail, MAX_DETAIL_LEN)
    }
}

/// What a `detail` may not hold (see [`check_text`]): control characters but newline and tab.
fn is_unwritable(ch: char) -> bool {
    ch.is_control() && !matches!(ch, '\n' | '\t')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detail_quoting_control_characters_is_written_escaped() {
        let body = RejectedBody::new(RejectCode::Invalid, "address `10.0.0.1\r`, type \u{7}", None);
        assert_eq!(body.detail, "address `10.0.0.1\\u{d}`, type \\u{7}");
        assert_eq!(body.check(), Ok(()));
        let long = RejectedBody::new(RejectCode::Invalid, "\u{1}".repeat(2000), None);
        assert!(long.detail.len() <= MAX_DETAIL_LEN);
        assert_eq!(long.check(), Ok(()));
    }

    #[test]
    fn detail_is_cut_on_a_char_boundary() {
        let body = RejectedBody::new(RejectCode::Invalid, "é".repeat(600), Some(3));
        assert!(body.detail.len() <= MAX_DETAIL_LEN);
        assert_eq!(body.check(), Ok(()));
    }
}
