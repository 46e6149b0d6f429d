//! The call summary the host writes into the chat transcript.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use velaro_call_protocol::{CallId, Device, MediaError, Reason, Role};

/// How a call turned out. Serialized in `snake_case` (`"answered"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The visitor accepted, and the call ended by someone's choice.
    Answered,
    /// Nobody answered in time.
    Missed,
    /// The visitor declined (or could not accept: permission denied, busy).
    Declined,
    /// The agent withdrew the invite, or another tab answered.
    Cancelled,
    /// The call failed (ICE, signaling, protocol).
    Failed,
}

impl Outcome {
    /// The outcome for a call that ends for `reason`, given whether the visitor's accept had
    /// happened (sent by the visitor, received by the agent). Accepting, not ICE connecting,
    /// makes a call answered: both parties and the relay see it, so all three agree. What
    /// media connecting changes is the talk time (zero for a call that never connected).
    pub(crate) fn of(reason: &Reason, accepted: bool) -> Outcome {
        match reason {
            // The visitor could not say yes: declined, with the reason in the transcript.
            Reason::MediaPermissionDenied { .. } if !accepted => Outcome::Declined,
            _ if reason.is_failure() => Outcome::Failed,
            Reason::InviteTimeout => Outcome::Missed,
            Reason::Declined | Reason::Busy => Outcome::Declined,
            // Reasons that only happen before the agent took an answer, whatever was in flight.
            Reason::Cancelled | Reason::AnsweredElsewhere | Reason::Replaced => Outcome::Cancelled,
            _ if accepted => Outcome::Answered,
            // Hung up before an answer.
            _ => Outcome::Cancelled,
        }
    }
}

/// What happened in one call, for the transcript, analytics and billing. Serialized with its
/// durations in milliseconds (`ring_time_ms`, `talk_time_ms`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallSummary {
    /// The call.
    pub call_id: CallId,
    /// How it turned out.
    pub outcome: Outcome,
    /// Who ended it, when a party did (not for timeouts).
    pub ended_by: Option<Role>,
    /// Why it ended.
    pub reason: Reason,
    /// From the invite to the answer (or the end, when unanswered).
    #[serde(rename = "ring_time_ms", with = "duration_ms")]
    pub ring_time: Duration,
    /// From media connecting to the end (zero if it never connected).
    #[serde(rename = "talk_time_ms", with = "duration_ms")]
    pub talk_time: Duration,
}

/// Durations as whole milliseconds on the wire, as the protocol writes them.
mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

impl CallSummary {
    /// One line for the chat transcript, e.g. `Video call ended (4 min 12 s)`.
    pub fn transcript_line(&self) -> String {
        match self.outcome {
            Outcome::Answered => format!("Video call ended ({})", human(self.talk_time)),
            Outcome::Missed => "Missed video call".to_owned(),
            Outcome::Declined => match &self.reason {
                Reason::MediaPermissionDenied { device, error } => {
                    format!("Video call declined: {}", device_failure(device, error))
                }
                Reason::Busy => "Video call declined: busy".to_owned(),
                _ => "Video call declined".to_owned(),
            },
            Outcome::Cancelled => "Video call cancelled".to_owned(),
            // In words a person reads; the code stays in `reason` for logs.
            Outcome::Failed => match &self.reason {
                Reason::IceFailed => "Video call failed: could not connect".to_owned(),
                Reason::IceTimeout => "Video call dropped: the connection was lost".to_owned(),
                Reason::SignalingLost => {
                    "Video call dropped: the chat connection was lost".to_owned()
                }
                Reason::MediaPermissionDenied { device, error } => {
                    format!("Video call failed: {}", device_failure(device, error))
                }
                Reason::UnsupportedVersion => {
                    "Video call failed: the other side's app needs an update".to_owned()
                }
                _ => "Video call failed: something went wrong".to_owned(),
            },
        }
    }
}

/// `camera not found`, `microphone permission denied`, …
fn device_failure(device: &Device, error: &MediaError) -> String {
    let what = match error {
        MediaError::NotFound => "not found",
        MediaError::NotReadable => "in use by another application",
        _ if error.is_refusal() => "permission denied",
        _ => "could not be started",
    };
    format!("{} {what}", device_name(device))
}

fn device_name(device: &Device) -> &str {
    match device {
        Device::Camera => "camera",
        Device::Microphone => "microphone",
        Device::Screen => "screen sharing",
        other => other.as_str(),
    }
}

/// `4 min 12 s`, `1 h 2 min`, `9 s`.
fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut text = String::new();
    if h > 0 {
        let _ = write!(text, "{h} h {m} min");
    } else if m > 0 {
        let _ = write!(text, "{m} min {s} s");
    } else {
        let _ = write!(text, "{s} s");
    }
    text
}

#[cfg(test)]
mod tests {

    use super::*;

    fn summary(outcome: Outcome, reason: Reason, talk: u64) -> CallSummary {
        CallSummary {
            call_id: CallId::new("c").unwrap(),
            outcome,
            ended_by: None,
            reason,
            ring_time: Duration::from_secs(3),
            talk_time: Duration::from_secs(talk),
        }
    }

    #[test]
    fn transcript_lines() {
        assert_eq!(
            summary(Outcome::Answered, Reason::UserHangup, 252).transcript_line(),
            "Video call ended (4 min 12 s)"
        );
        assert_eq!(
            summary(Outcome::Answered, Reason::UserHangup, 3720).transcript_line(),
            "Video call ended (1 h 2 min)"
        );
        assert_eq!(
            summary(Outcome::Missed, Reason::InviteTimeout, 0).transcript_line(),
            "Missed video call"
        );
        let denied =
            Reason::MediaPermissionDenied { device: Device::Camera, error: MediaError::NotAllowed };
        assert_eq!(
            summary(Outcome::Declined, denied, 0).transcript_line(),
            "Video call declined: camera permission denied"
        );
        let missing = Reason::MediaPermissionDenied {
            device: Device::Microphone,
            error: MediaError::NotFound,
        };
        assert_eq!(
            summary(Outcome::Declined, missing, 0).transcript_line(),
            "Video call declined: microphone not found"
        );
        assert_eq!(
            summary(Outcome::Failed, Reason::IceFailed, 0).transcript_line(),
            "Video call failed: could not connect"
        );
        assert_eq!(
            summary(Outcome::Failed, Reason::SignalingLost, 0).transcript_line(),
            "Video call dropped: the chat connection was lost"
        );
        assert_eq!(
            summary(Outcome::Failed, Reason::Other("x-new".into()), 0).transcript_line(),
            "Video call failed: something went wrong"
        );
    }

    #[test]
    fn outcomes() {
        assert_eq!(Outcome::of(&Reason::UserHangup, true), Outcome::Answered);
        assert_eq!(Outcome::of(&Reason::IceTimeout, true), Outcome::Failed);
        assert_eq!(Outcome::of(&Reason::InviteTimeout, false), Outcome::Missed);
        assert_eq!(Outcome::of(&Reason::Declined, false), Outcome::Declined);
        assert_eq!(Outcome::of(&Reason::Cancelled, false), Outcome::Cancelled);
        assert_eq!(Outcome::of(&Reason::AnsweredElsewhere, false), Outcome::Cancelled);
        assert_eq!(Outcome::of(&Reason::IceFailed, false), Outcome::Failed);
        assert_eq!(Outcome::of(&Reason::UserHangup, false), Outcome::Cancelled);
        assert_eq!(
            Outcome::of(&Reason::Cancelled, true),
            Outcome::Cancelled,
            "the accept was in flight"
        );
        let denied =
            Reason::MediaPermissionDenied { device: Device::Camera, error: MediaError::NotAllowed };
        assert_eq!(Outcome::of(&denied, false), Outcome::Declined);
    }
}
