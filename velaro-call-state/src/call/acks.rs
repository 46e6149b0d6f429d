//! Telling the relay what the call took (`call.ack`), so that it can forget those frames: a
//! relay keeps every frame it delivered for a resume, and the offer and answer it would keep
//! for a whole call are most of what a live call costs it.

use std::time::Instant;

use velaro_call_protocol::message::ack::AckBody;
use velaro_call_protocol::message::hangup::RejectedBody;

use super::Call;
use crate::timer::Timer;

/// The acks a call sent.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Acks {
    /// The `seq` of the last ack (0 before the first: no frame has it), to recognise a notice
    /// about it.
    last_seq: u64,
    /// The relay refused an ack (one that predates them, say): no more for this call.
    refused: bool,
}

impl Call {
    /// A frame from the peer was taken: it is acknowledged within `Timings::ack_delay`, with
    /// whatever else comes meanwhile.
    pub(super) fn ack_later(&mut self, now: Instant) {
        if !self.timers.is_armed(Timer::Ack) {
            self.timers.set(Timer::Ack, now + self.out.config.timings.ack_delay);
        }
    }

    /// [`Timer::Ack`]: acknowledges the highest `seq` taken from each sender.
    pub(super) fn send_ack(&mut self) {
        if !self.acks.refused {
            self.acks.last_seq = self.out.next_seq();
            self.out.send(AckBody::new(self.last_seen()));
        }
    }

    /// Whether `rejected` is about our last ack, which ends them: not news for the user (an ack
    /// only saves the relay memory).
    pub(super) fn ack_refused(&mut self, rejected: &RejectedBody) -> bool {
        let ours = !self.acks.refused && rejected.rejected_seq == Some(self.acks.last_seq);
        self.acks.refused |= ours;
        ours
    }
}
