//! How a call ends, and what is left of it: the summary.
//!
//! Three paths lead to [`State::Ended`], named for what the peer is told:
//! - [`Call::hang_up`]: our user ends a call under way; `call.hangup` goes out.
//! - [`Call::fail`]: the call broke (ICE, a peer that broke the protocol); `call.hangup` tells
//!   the peer why.
//! - [`Call::end`]: nothing of its own goes out. The peer or the relay ended the call, the
//!   invite expired on the visitor's side, or the caller already sent the frame the end owes
//!   (`call.cancel`, `call.decline`).
//!
//! The first end wins; `Ended` absorbs every later input.

use std::time::{Duration, Instant};

use velaro_call_protocol::message::hangup::HangupBody;
use velaro_call_protocol::{Reason, Role};

use super::Call;
use super::candidates::RemoteCandidates;
use super::state::State;
use crate::output::{Event, MediaCommand, PromptEnd};
use crate::summary::{CallSummary, Outcome};

/// What is left of an ended call.
#[derive(Debug)]
pub(super) struct Ended {
    /// The summary for the transcript, analytics and billing.
    pub(super) summary: CallSummary,
}

impl Ended {
    pub(super) fn heap_estimate(&self) -> usize {
        size_of::<Ended>() + self.summary.call_id.as_str().len()
    }
}

impl Call {
    /// Our user hangs up a call under way: `call.hangup` tells the peer.
    pub(super) fn hang_up(&mut self, now: Instant) {
        self.end_with_hangup(now, Reason::UserHangup, Some(self.out.role));
    }

    /// The call broke: `call.hangup` tells the peer why. Nobody ended it.
    pub(super) fn fail(&mut self, now: Instant, reason: Reason) {
        self.end_with_hangup(now, reason, None);
    }

    fn end_with_hangup(&mut self, now: Instant, reason: Reason, ended_by: Option<Role>) {
        if !self.is_ended() {
            self.out.send(HangupBody::new(reason.clone()));
            self.end(now, reason, ended_by);
        }
    }

    /// Ends the call without a frame of its own: the visitor's prompt goes away, local media
    /// closes if it was asked for, every timer stops, what the phase held is dropped, and the
    /// user gets the summary.
    pub(super) fn end(&mut self, now: Instant, reason: Reason, ended_by: Option<Role>) {
        let (outcome, accepted_at, connected_at) = match &self.state {
            State::Ended(_) => return,
            // The agent's invite never went out.
            State::Idle | State::Inviting { .. } => (Outcome::Cancelled, None, None),
            State::Ringing { .. } | State::Prompting { .. } | State::AwaitingPermission { .. } => {
                (Outcome::of(&reason, false), None, None)
            }
            State::InCall(call) => {
                let connected_at = call.connection.connected_at();
                (Outcome::of(&reason, true), Some(call.accepted_at), connected_at)
            }
        };
        if let State::Prompting { .. } | State::AwaitingPermission { .. } = self.state
            && let Some(end) = prompt_end(&reason)
        {
            self.out.event(Event::StopPrompting(end));
        }
        if !matches!(self.state, State::Idle | State::Prompting { .. }) {
            // The camera and microphone were asked for (or granted).
            self.out.media(MediaCommand::Close);
        }
        let ring_end = accepted_at.unwrap_or(now);
        let summary = CallSummary {
            call_id: self.out.call_id.clone(),
            outcome,
            ended_by,
            reason: reason.clone(),
            ring_time: ring_end.saturating_duration_since(self.started_at),
            talk_time: connected_at.map_or(Duration::ZERO, |at| now.saturating_duration_since(at)),
        };
        self.timers.stop_all();
        self.remote_candidates = RemoteCandidates::default();
        self.state = State::Ended(Box::new(Ended { summary: summary.clone() }));
        self.out.event(Event::Ended { reason, summary });
    }
}

/// Why the visitor's prompt goes away, for the reasons that end an unanswered prompt.
fn prompt_end(reason: &Reason) -> Option<PromptEnd> {
    match reason {
        Reason::AnsweredElsewhere => Some(PromptEnd::AnsweredElsewhere),
        Reason::InviteTimeout => Some(PromptEnd::Expired),
        Reason::Cancelled | Reason::Replaced => Some(PromptEnd::Cancelled),
        _ => None,
    }
}
