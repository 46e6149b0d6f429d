//! The referee as plain data: [`RefereeSnapshot`], and the restore that checks it.

use std::collections::VecDeque;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, decode, encode};

use super::Referee;
use super::live_call::{Answer, Ending, LiveCall, MAX_TABS, Speaker};
use super::window::SeqWindow;
use crate::ended::EndedCalls;
use crate::record::MediaUsed;
use crate::snapshot::{SnapshotError, instant_at, offset_ns};

/// A [`Referee`]'s whole state, as data: what a relay cluster writes into a conversation's
/// journal to compact it ([`Referee::snapshot`], [`Referee::restore`]).
///
/// It holds everything that decides the referee's future verdicts: the conversation, whether
/// video is enabled, the live call (its id, the inviting agent, the `seq` windows of every
/// party heard from, its invite as delivered while it rings, the bound tab once answered, its
/// times, candidate counts and media used) and the ended calls it still refuses (at most
/// [`Referee::MAX_TOMBSTONES`], with how each ended). Times are nanosecond offsets from the
/// `now` it was taken at. Outputs not yet drained are not part of it: take it between inputs,
/// once [`Referee::poll_output`] gave `None`.
///
/// Size: under 500 bytes of JSON for an answered call with short ids (777 while it rings: the
/// invite's frame is in it); the ended calls add at most 64 call ids of up to 255 characters.
///
/// Serialized with serde (JSON via [`to_json`](Self::to_json) and
/// [`from_json`](Self::from_json), which check the version first, so that a newer format is
/// an [`UnsupportedVersion`](SnapshotError::UnsupportedVersion) however it changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefereeSnapshot {
    version: u32,
    conversation_id: ConversationId,
    video_enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    live: Option<LiveCallSnapshot>,
    /// Oldest first, as forgotten.
    ended: Vec<EndedCall>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct LiveCallSnapshot {
    call_id: CallId,
    agent: SpeakerSnapshot,
    invited_at_ns: i64,
    expires_at_ns: i64,
    answer: AnswerSnapshot,
    agent_candidates: usize,
    visitor_candidates: usize,
    media_used: MediaUsed,
}

/// A party and its window of delivered `seq`s: the highest, and a bitmap below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct SpeakerSnapshot {
    party: PartyId,
    highest: u64,
    seen: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum AnswerSnapshot {
    Ringing {
        tabs: Vec<SpeakerSnapshot>,
        /// The invite as delivered (stamped), as its frame's JSON text.
        invite: String,
    },
    Answered {
        visitor: SpeakerSnapshot,
        at_ns: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_at_ns: Option<i64>,
        selected: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EndedCall {
    call_id: CallId,
    /// Its invite expired unanswered (a late accept is told `expired`).
    expired: bool,
}

/// Only the version, read before the rest so that any newer shape is reported as such.
#[derive(Deserialize)]
struct Versioned {
    version: u32,
}

impl RefereeSnapshot {
    /// The format version this build writes and reads.
    pub const VERSION: u32 = 1;

    /// The snapshot as JSON.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data with string keys: serializing it cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A snapshot from JSON: the version first, then the rest (checked again by
    /// [`Referee::restore`]).
    pub fn from_json(json: &[u8]) -> Result<RefereeSnapshot, SnapshotError> {
        check_version(json, Self::VERSION)?;
        serde_json::from_slice(json).map_err(SnapshotError::decode)
    }

    /// The conversation it is of.
    pub fn conversation_id(&self) -> &ConversationId {
        &self.conversation_id
    }
}

/// Reads the `version` of a JSON snapshot and checks it is `supported`.
pub(crate) fn check_version(json: &[u8], supported: u32) -> Result<(), SnapshotError> {
    let Versioned { version } = serde_json::from_slice(json).map_err(SnapshotError::decode)?;
    if version == supported {
        Ok(())
    } else {
        Err(SnapshotError::UnsupportedVersion { found: version, supported })
    }
}

impl SpeakerSnapshot {
    fn of(speaker: &Speaker) -> SpeakerSnapshot {
        let (highest, seen) = speaker.window.parts();
        SpeakerSnapshot { party: speaker.party.clone(), highest, seen }
    }

    fn restore(self) -> Speaker {
        Speaker::new(self.party, SeqWindow::from_parts(self.highest, self.seen))
    }
}

impl Referee {
    /// This referee's state, with its times as offsets from `now` (see [`RefereeSnapshot`]).
    pub fn snapshot(&self, now: Instant) -> RefereeSnapshot {
        let live = self.live.as_ref().map(|call| LiveCallSnapshot {
            call_id: call.id.clone(),
            agent: SpeakerSnapshot::of(&call.agent),
            invited_at_ns: offset_ns(call.invited_at, now),
            expires_at_ns: offset_ns(call.expires_at, now),
            answer: match &call.answer {
                Answer::Ringing { tabs, invite } => AnswerSnapshot::Ringing {
                    tabs: tabs.iter().map(SpeakerSnapshot::of).collect(),
                    invite: String::from_utf8_lossy(&encode(invite)).into_owned(),
                },
                Answer::Answered { visitor, at, media_at, selected } => AnswerSnapshot::Answered {
                    visitor: SpeakerSnapshot::of(visitor),
                    at_ns: offset_ns(*at, now),
                    media_at_ns: media_at.map(|m| offset_ns(m, now)),
                    selected: *selected,
                },
            },
            agent_candidates: call.agent_candidates,
            visitor_candidates: call.visitor_candidates,
            media_used: call.media_used,
        });
        let ended = self
            .tombstones
            .iter()
            .map(|(call_id, ending)| EndedCall {
                call_id: call_id.clone(),
                expired: ending == Ending::Expired,
            })
            .collect();
        RefereeSnapshot {
            version: RefereeSnapshot::VERSION,
            conversation_id: self.conversation_id.clone(),
            video_enabled: self.video_enabled,
            live,
            ended,
        }
    }

    /// The referee `snapshot` holds, its times put back as offsets from `now`: fed the same
    /// inputs from here on, it gives exactly the outputs the original would have. Checks
    /// everything (version, bounds, references, times); an error builds nothing.
    pub fn restore(snapshot: RefereeSnapshot, now: Instant) -> Result<Referee, SnapshotError> {
        let RefereeSnapshot { version, conversation_id, video_enabled, live, ended } = snapshot;
        if version != RefereeSnapshot::VERSION {
            let supported = RefereeSnapshot::VERSION;
            return Err(SnapshotError::UnsupportedVersion { found: version, supported });
        }
        if ended.len() > Referee::MAX_TOMBSTONES {
            let detail =
                format!("{} ended calls, more than the {}", ended.len(), Referee::MAX_TOMBSTONES);
            return Err(SnapshotError::inconsistent("ended", detail));
        }
        let mut tombstones = EndedCalls::default();
        for EndedCall { call_id, expired } in ended {
            let ending = if expired { Ending::Expired } else { Ending::Other };
            tombstones.bury(call_id, ending);
        }
        let live = match live {
            None => None,
            Some(call) => Some(restore_live(call, &conversation_id, &tombstones, now)?),
        };
        Ok(Referee { conversation_id, video_enabled, live, tombstones, outputs: VecDeque::new() })
    }
}

fn restore_live(
    call: LiveCallSnapshot,
    conversation_id: &ConversationId,
    tombstones: &EndedCalls<Ending>,
    now: Instant,
) -> Result<LiveCall, SnapshotError> {
    let LiveCallSnapshot {
        call_id,
        agent,
        invited_at_ns,
        expires_at_ns,
        answer,
        agent_candidates,
        visitor_candidates,
        media_used,
    } = call;
    if tombstones.contains(&call_id) {
        let detail = format!("call {call_id} is both live and ended");
        return Err(SnapshotError::inconsistent("live.call_id", detail));
    }
    for (field, count) in [
        ("live.agent_candidates", agent_candidates),
        ("live.visitor_candidates", visitor_candidates),
    ] {
        if count > Referee::MAX_CANDIDATES {
            let detail = format!("{count} candidates, more than the {}", Referee::MAX_CANDIDATES);
            return Err(SnapshotError::inconsistent(field, detail));
        }
    }
    let invited_at = instant_at(now, invited_at_ns, "live.invited_at_ns")?;
    let expires_at = instant_at(now, expires_at_ns, "live.expires_at_ns")?;
    if expires_at < invited_at {
        return Err(SnapshotError::inconsistent("live.expires_at_ns", "before the invite"));
    }
    let answer = match answer {
        AnswerSnapshot::Ringing { tabs, invite } => {
            if tabs.len() > MAX_TABS {
                let detail = format!("{} tabs, more than the {MAX_TABS}", tabs.len());
                return Err(SnapshotError::inconsistent("live.answer.tabs", detail));
            }
            let invite = decode(invite.as_bytes())
                .map_err(|e| SnapshotError::inconsistent("live.answer.invite", e.to_string()))?;
            let is_invite = matches!(invite.message, Message::Invite(_));
            if !is_invite || invite.call_id != call_id || invite.conversation_id != *conversation_id
            {
                let detail = format!("not the invite of call {call_id} in this conversation");
                return Err(SnapshotError::inconsistent("live.answer.invite", detail));
            }
            let tabs = tabs.into_iter().map(SpeakerSnapshot::restore).collect();
            Answer::Ringing { tabs, invite: Box::<Envelope>::new(invite) }
        }
        AnswerSnapshot::Answered { visitor, at_ns, media_at_ns, selected } => Answer::Answered {
            visitor: visitor.restore(),
            at: instant_at(now, at_ns, "live.answer.at_ns")?,
            media_at: media_at_ns
                .map(|m| instant_at(now, m, "live.answer.media_at_ns"))
                .transpose()?,
            selected,
        },
    };
    Ok(LiveCall {
        id: call_id,
        agent: agent.restore(),
        invited_at,
        expires_at,
        answer,
        agent_candidates,
        visitor_candidates,
        media_used,
    })
}
