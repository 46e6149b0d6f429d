//! Why a call ended, was declined or was cancelled: one taxonomy for every message.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::{ValueError, open_enum};

open_enum! {
    /// The device a media permission was asked for.
    Device, "device" {
        /// The camera (`getUserMedia({video})`).
        Camera = "camera",
        /// The microphone (`getUserMedia({audio})`).
        Microphone = "microphone",
        /// Screen capture (`getDisplayMedia()`).
        Screen = "screen",
    }
}

open_enum! {
    /// The `DOMException` name the browser raised for a media request.
    MediaError, "media error" {
        /// The user or the browser's settings refused permission.
        NotAllowed = "NotAllowedError",
        /// No such device (no camera plugged in).
        NotFound = "NotFoundError",
        /// The device is in use by another program or failed.
        NotReadable = "NotReadableError",
        /// No device satisfies the requested constraints.
        Overconstrained = "OverconstrainedError",
        /// The request was aborted (the user closed the picker, the page lost focus).
        Abort = "AbortError",
        /// The page is not a secure context or a Permissions-Policy forbids the feature.
        Security = "SecurityError",
    }
}

impl MediaError {
    /// Whether the user or the page's settings said no (`NotAllowedError`, `SecurityError`), as
    /// opposed to a device that is missing, busy or failed. A refused camera or microphone
    /// stops a call from starting; a camera that merely fails does not: the call goes on with
    /// audio.
    pub fn is_refusal(&self) -> bool {
        matches!(self, MediaError::NotAllowed | MediaError::Security)
    }
}

/// Why a call ended, was declined or cancelled. Serialized as an object with a `code`:
/// `{"code":"declined"}`, or `{"code":"media_permission_denied","device":"camera",
/// "error":"NotAllowedError"}`.
///
/// Open: an unknown code is kept as [`Reason::Other`] and written back unchanged, so a v1.x
/// peer can add reasons without breaking v1.0 peers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// A party hung up (the default).
    #[default]
    UserHangup,
    /// The visitor said no.
    Declined,
    /// The agent withdrew the invite before an answer.
    Cancelled,
    /// The party is already in a call.
    Busy,
    /// Nobody answered within the invite's lifetime.
    InviteTimeout,
    /// Another tab or device of the visitor answered.
    AnsweredElsewhere,
    /// Glare: another invite for the same conversation won.
    Replaced,
    /// ICE never connected.
    IceFailed,
    /// ICE connected, then was lost and did not come back.
    IceTimeout,
    /// The signaling connection dropped for longer than the grace period.
    SignalingLost,
    /// The browser refused a camera, microphone or screen request.
    MediaPermissionDenied {
        /// Which device.
        device: Device,
        /// The browser's `DOMException` name.
        error: MediaError,
    },
    /// The account's plan does not include video calls.
    FeatureDisabled,
    /// The other party left the conversation.
    PartyLeft,
    /// The peer speaks a protocol version we do not.
    UnsupportedVersion,
    /// The peer broke the protocol.
    ProtocolError,
    /// Something else failed.
    UnknownError,
    /// A code this version does not know.
    Other(String),
}

impl Reason {
    /// Every code this version knows, as written on the wire.
    pub const KNOWN: &'static [&'static str] = &[
        "user_hangup",
        "declined",
        "cancelled",
        "busy",
        "invite_timeout",
        "answered_elsewhere",
        "replaced",
        "ice_failed",
        "ice_timeout",
        "signaling_lost",
        "media_permission_denied",
        "feature_disabled",
        "party_left",
        "unsupported_version",
        "protocol_error",
        "unknown_error",
    ];

    /// The code as written on the wire.
    pub fn code(&self) -> &str {
        match self {
            Reason::UserHangup => "user_hangup",
            Reason::Declined => "declined",
            Reason::Cancelled => "cancelled",
            Reason::Busy => "busy",
            Reason::InviteTimeout => "invite_timeout",
            Reason::AnsweredElsewhere => "answered_elsewhere",
            Reason::Replaced => "replaced",
            Reason::IceFailed => "ice_failed",
            Reason::IceTimeout => "ice_timeout",
            Reason::SignalingLost => "signaling_lost",
            Reason::MediaPermissionDenied { .. } => "media_permission_denied",
            Reason::FeatureDisabled => "feature_disabled",
            Reason::PartyLeft => "party_left",
            Reason::UnsupportedVersion => "unsupported_version",
            Reason::ProtocolError => "protocol_error",
            Reason::UnknownError => "unknown_error",
            Reason::Other(code) => code,
        }
    }

    /// Whether the call ended because something failed, rather than by someone's choice.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Reason::IceFailed
                | Reason::IceTimeout
                | Reason::SignalingLost
                | Reason::MediaPermissionDenied { .. }
                | Reason::UnsupportedVersion
                | Reason::ProtocolError
                | Reason::UnknownError
        )
    }

    fn from_code(
        code: &str,
        device: Option<Device>,
        error: Option<MediaError>,
    ) -> Result<Self, String> {
        Ok(match code {
            "user_hangup" => Reason::UserHangup,
            "declined" => Reason::Declined,
            "cancelled" => Reason::Cancelled,
            "busy" => Reason::Busy,
            "invite_timeout" => Reason::InviteTimeout,
            "answered_elsewhere" => Reason::AnsweredElsewhere,
            "replaced" => Reason::Replaced,
            "ice_failed" => Reason::IceFailed,
            "ice_timeout" => Reason::IceTimeout,
            "signaling_lost" => Reason::SignalingLost,
            "media_permission_denied" => match (device, error) {
                (Some(device), Some(error)) => Reason::MediaPermissionDenied { device, error },
                _ => return Err("media_permission_denied needs `device` and `error`".to_owned()),
            },
            "feature_disabled" => Reason::FeatureDisabled,
            "party_left" => Reason::PartyLeft,
            "unsupported_version" => Reason::UnsupportedVersion,
            "protocol_error" => Reason::ProtocolError,
            "unknown_error" => Reason::UnknownError,
            other => {
                crate::value::check_token(
                    "reason code",
                    other,
                    crate::limits::MAX_TOKEN_LEN,
                    |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'),
                )
                .map_err(|e: ValueError| e.to_string())?;
                Reason::Other(other.to_owned())
            }
        })
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::MediaPermissionDenied { device, error } => {
                write!(f, "media_permission_denied ({device}: {error})")
            }
            other => f.write_str(other.code()),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(expecting = "a reason object (code, and device and error for media_permission_denied)")]
struct WireReason<'a> {
    #[serde(borrow)]
    code: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device: Option<Device>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<MediaError>,
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (device, error) = match self {
            Reason::MediaPermissionDenied { device, error } => {
                (Some(device.clone()), Some(error.clone()))
            }
            _ => (None, None),
        };
        WireReason { code: Cow::Borrowed(self.code()), device, error }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireReason::deserialize(deserializer)?;
        Reason::from_code(&wire.code, wire.device, wire.error).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_code_round_trips() {
        for code in Reason::KNOWN {
            let json = if *code == "media_permission_denied" {
                format!(r#"{{"code":"{code}","device":"camera","error":"NotAllowedError"}}"#)
            } else {
                format!(r#"{{"code":"{code}"}}"#)
            };
            let reason: Reason = serde_json::from_str(&json).unwrap();
            assert_eq!(reason.code(), *code);
            assert!(!matches!(reason, Reason::Other(_)), "{code} is known");
            assert_eq!(serde_json::to_string(&reason).unwrap(), json);
        }
    }

    #[test]
    fn unknown_codes_and_values_round_trip() {
        let json = r#"{"code":"moved_to_phone"}"#;
        let reason: Reason = serde_json::from_str(json).unwrap();
        assert_eq!(reason, Reason::Other("moved_to_phone".into()));
        assert_eq!(serde_json::to_string(&reason).unwrap(), json);

        let json = r#"{"code":"media_permission_denied","device":"speaker","error":"FutureError"}"#;
        let reason: Reason = serde_json::from_str(json).unwrap();
        assert_eq!(
            reason,
            Reason::MediaPermissionDenied {
                device: Device::Other("speaker".into()),
                error: MediaError::Other("FutureError".into())
            }
        );
        assert_eq!(serde_json::to_string(&reason).unwrap(), json);
    }

    #[test]
    fn refuses_malformed_reasons() {
        for (json, needle) in [
            (r#"{"code":"media_permission_denied"}"#, "needs `device` and `error`"),
            (r#"{"code":"has space"}"#, "reason code has the character ' '"),
            (r#"{"code":""}"#, "reason code is empty"),
            (r#"{"device":"camera"}"#, "missing field `code`"),
            (r#""declined""#, "invalid type"),
        ] {
            let err = serde_json::from_str::<Reason>(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
    }

    #[test]
    fn failures_are_told_apart_from_choices() {
        assert!(Reason::IceFailed.is_failure());
        assert!(!Reason::Declined.is_failure());
        assert_eq!(
            Reason::MediaPermissionDenied { device: Device::Camera, error: MediaError::NotAllowed }
                .to_string(),
            "media_permission_denied (camera: NotAllowedError)"
        );
    }
}
