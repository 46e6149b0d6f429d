//! Call records a host can store and bill from: the relay's account of a call on its monotonic
//! clock ([`CallReport`]), turned into wall-clock times at the IO edge ([`CallRecord`]).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use velaro_call_protocol::message::media::{AudioOnlyReason, MediaBody, StreamPurpose};
use velaro_call_protocol::{CallId, ConversationId, PartyId, Reason, Role};

use crate::summary::{CallSummary, Outcome};

/// What media a call used, as the relay saw it in the parties' `call.media` states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools)] // four independent facts, stored as JSON flags
pub struct MediaUsed {
    /// A camera sent video at some point.
    pub video: bool,
    /// The call was switched to audio only (a party without a working camera alone is not).
    pub audio_only: bool,
    /// A screen was shared.
    pub screen_share: bool,
    /// The visitor's addresses were hidden: the relay let only its relay candidates through.
    pub relay_only: bool,
}

impl MediaUsed {
    /// Takes in one `call.media` state.
    pub(crate) fn note(&mut self, media: &MediaBody) {
        for stream in media.streams.values() {
            match stream.purpose {
                StreamPurpose::Screen => self.screen_share = true,
                _ if !stream.video_muted => self.video = true,
                _ => {}
            }
        }
        self.audio_only |= media
            .audio_only
            .as_ref()
            .is_some_and(|marker| marker.reason != AudioOnlyReason::CameraUnavailable);
    }
}

/// The relay's account of one call, on the monotonic clock the relay was driven with. Not for
/// storing (an `Instant` means nothing outside the process): turn it into a [`CallRecord`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport {
    /// The conversation, which goes on.
    pub conversation_id: ConversationId,
    /// How it turned out, for the transcript.
    pub summary: CallSummary,
    /// The agent device that invited.
    pub agent: PartyId,
    /// The visitor tab that answered, if one did.
    pub visitor: Option<PartyId>,
    /// When the relay saw the invite.
    pub invited_at: Instant,
    /// When the relay saw the accept.
    pub answered_at: Option<Instant>,
    /// When media connected (the first `call.media` of either bound party).
    pub media_connected_at: Option<Instant>,
    /// When it ended (for an expired invite: its deadline).
    pub ended_at: Instant,
    /// What media it used.
    pub media: MediaUsed,
}

/// One call, for storage and billing: who, when (wall clock), how it turned out, what it used.
/// Serializes as one flat JSON object; times are Unix milliseconds, durations milliseconds.
///
/// ```
/// # use std::time::{Duration, Instant, SystemTime};
/// # use velaro_call_protocol::{CallId, ConversationId, PartyId, Reason, Role};
/// # use velaro_call_state::{CallRecord, CallReport, CallSummary, MediaUsed, Outcome};
/// # #[allow(clippy::disallowed_methods)]
/// let (now, wall) = (Instant::now(), SystemTime::now()); // read once, at the IO edge
/// # let report = CallReport {
/// #     conversation_id: ConversationId::new("conv-1")?,
/// #     summary: CallSummary { call_id: CallId::new("call-1")?, outcome: Outcome::Answered,
/// #         ended_by: Some(Role::Agent), reason: Reason::UserHangup,
/// #         ring_time: Duration::from_secs(3), talk_time: Duration::from_secs(60) },
/// #     agent: PartyId::new("agent-1")?, visitor: Some(PartyId::new("tab-1")?),
/// #     invited_at: now, answered_at: Some(now), media_connected_at: Some(now),
/// #     ended_at: now, media: MediaUsed::default(),
/// # };
/// let record = CallRecord::new(&report, now, wall);
/// let line = serde_json::to_string(&record)?; // one JSON line per call
/// assert!(line.contains(r#""outcome":"answered""#) && line.contains(r#""talk_time_ms":60000"#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// The call.
    pub call_id: CallId,
    /// The agent device that invited.
    pub agent: PartyId,
    /// The visitor tab that answered, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor: Option<PartyId>,
    /// How it turned out.
    pub outcome: Outcome,
    /// Why it ended.
    pub reason: Reason,
    /// Who ended it, when a party did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<Role>,
    /// When it was invited (Unix milliseconds).
    pub started_at_ms: u64,
    /// When it was answered (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at_ms: Option<u64>,
    /// When media connected (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_connected_at_ms: Option<u64>,
    /// When it ended (Unix milliseconds).
    pub ended_at_ms: u64,
    /// From the invite to the answer, or to the end when unanswered.
    pub ring_time_ms: u64,
    /// From media connecting to the end: what to bill.
    pub talk_time_ms: u64,
    /// What media it used.
    pub media: MediaUsed,
}

impl CallRecord {
    /// The record of `report`, with its instants placed on the wall clock: `now` and `wall` are
    /// the same moment read from the monotonic and the wall clock (at the IO edge, when the
    /// report arrives).
    pub fn new(report: &CallReport, now: Instant, wall: SystemTime) -> CallRecord {
        let at = |instant: Instant| {
            let wall = wall.checked_sub(now.saturating_duration_since(instant)).unwrap_or(wall);
            millis(wall.duration_since(UNIX_EPOCH).unwrap_or_default())
        };
        let summary = &report.summary;
        CallRecord {
            conversation_id: report.conversation_id.clone(),
            call_id: summary.call_id.clone(),
            agent: report.agent.clone(),
            visitor: report.visitor.clone(),
            outcome: summary.outcome,
            reason: summary.reason.clone(),
            ended_by: summary.ended_by,
            started_at_ms: at(report.invited_at),
            answered_at_ms: report.answered_at.map(at),
            media_connected_at_ms: report.media_connected_at.map(at),
            ended_at_ms: at(report.ended_at),
            ring_time_ms: millis(summary.ring_time),
            talk_time_ms: millis(summary.talk_time),
            media: report.media,
        }
    }
}

/// Whole milliseconds, saturating (a call does not last 584 million years).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use velaro_call_protocol::message::media::{DisplaySurface, StreamId, StreamState};

    use super::*;

    #[test]
    fn media_used_follows_the_media_states_seen() {
        let mut used = MediaUsed::default();
        let id = |s: &str| StreamId::new(s).unwrap();
        let mut camera_off = MediaBody::default();
        camera_off.streams.insert(id("cam"), StreamState::camera(false, true));
        used.note(&camera_off);
        assert_eq!(used, MediaUsed::default(), "a muted camera sends no video");
        used.note(&camera_off.clone().with_audio_only(AudioOnlyReason::CameraUnavailable));
        assert_eq!(used, MediaUsed::default(), "no camera is no switch to audio only");
        let mut sharing = MediaBody::default();
        sharing.streams.insert(id("cam"), StreamState::camera(false, false));
        sharing.streams.insert(id("scr"), StreamState::screen(DisplaySurface::Window));
        used.note(&sharing);
        used.note(&MediaBody::default().with_audio_only(AudioOnlyReason::Quality));
        assert_eq!(
            used,
            MediaUsed { video: true, audio_only: true, screen_share: true, relay_only: false }
        );
    }

    #[test]
    fn instants_are_placed_on_the_wall_clock() {
        #[allow(clippy::disallowed_methods)] // one real instant; the rest are offsets
        let start = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let report = CallReport {
            conversation_id: ConversationId::new("conv-1").unwrap(),
            summary: CallSummary {
                call_id: CallId::new("call-1").unwrap(),
                outcome: Outcome::Answered,
                ended_by: Some(Role::Visitor),
                reason: Reason::UserHangup,
                ring_time: Duration::from_secs(4),
                talk_time: Duration::from_secs(60),
            },
            agent: PartyId::new("agent-1").unwrap(),
            visitor: Some(PartyId::new("tab-1").unwrap()),
            invited_at: start,
            answered_at: Some(start + Duration::from_secs(4)),
            media_connected_at: Some(start + Duration::from_secs(6)),
            ended_at: start + Duration::from_secs(66),
            media: MediaUsed { video: true, ..MediaUsed::default() },
        };
        // The report arrives 500 ms after the end.
        let record = CallRecord::new(&report, start + Duration::from_millis(66_500), wall);
        let base = 1_800_000_000_000 - 66_500;
        assert_eq!(record.started_at_ms, base);
        assert_eq!(record.answered_at_ms, Some(base + 4_000));
        assert_eq!(record.media_connected_at_ms, Some(base + 6_000));
        assert_eq!(record.ended_at_ms, base + 66_000);
        assert_eq!((record.ring_time_ms, record.talk_time_ms), (4_000, 60_000));
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["outcome"], "answered");
        assert_eq!(json["reason"]["code"], "user_hangup");
        assert_eq!(json["ended_by"], "visitor");
        assert_eq!(json["media"]["video"], true);
        let back: CallRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
