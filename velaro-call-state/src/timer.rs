//! The call's timers: one deadline per kind, in a small table (quinn's `TimerTable` shape).

use std::time::Instant;

/// Every timer a call may arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Timer {
    /// The invite stops ringing (both sides; each by its own clock).
    InviteExpiry,
    /// The first batch of local candidates goes out.
    CandidateBatch,
    /// ICE must connect by now after the answer, or the call ends `ice_failed`.
    IceConnect,
    /// ICE has been `disconnected` long enough: the agent restarts it.
    IceRestart,
    /// ICE did not come back after a disconnect: the call ends `ice_timeout`.
    IceReconnect,
    /// Frames taken since the last `call.ack` are acknowledged to the relay.
    Ack,
}

/// In this order: two timers due at the same instant fire in it.
const TIMERS: [Timer; 6] = [
    Timer::InviteExpiry,
    Timer::CandidateBatch,
    Timer::IceConnect,
    Timer::IceRestart,
    Timer::IceReconnect,
    Timer::Ack,
];

/// Deadlines by timer kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    invite_expiry: Option<Instant>,
    candidate_batch: Option<Instant>,
    ice_connect: Option<Instant>,
    ice_restart: Option<Instant>,
    ice_reconnect: Option<Instant>,
    ack: Option<Instant>,
}

impl TimerTable {
    fn slot(&mut self, timer: Timer) -> &mut Option<Instant> {
        match timer {
            Timer::InviteExpiry => &mut self.invite_expiry,
            Timer::CandidateBatch => &mut self.candidate_batch,
            Timer::IceConnect => &mut self.ice_connect,
            Timer::IceRestart => &mut self.ice_restart,
            Timer::IceReconnect => &mut self.ice_reconnect,
            Timer::Ack => &mut self.ack,
        }
    }

    fn get(&self, timer: Timer) -> Option<Instant> {
        match timer {
            Timer::InviteExpiry => self.invite_expiry,
            Timer::CandidateBatch => self.candidate_batch,
            Timer::IceConnect => self.ice_connect,
            Timer::IceRestart => self.ice_restart,
            Timer::IceReconnect => self.ice_reconnect,
            Timer::Ack => self.ack,
        }
    }

    pub(crate) fn set(&mut self, timer: Timer, deadline: Instant) {
        *self.slot(timer) = Some(deadline);
    }

    pub(crate) fn is_armed(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        *self.slot(timer) = None;
    }

    pub(crate) fn stop_all(&mut self) {
        *self = TimerTable::default();
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        TIMERS.iter().filter_map(|t| self.get(*t)).min()
    }

    /// Disarms and returns the earliest timer whose deadline is at or before `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Option<Timer> {
        let timer = TIMERS
            .iter()
            .filter_map(|t| self.get(*t).filter(|d| *d <= now).map(|d| (*t, d)))
            .min_by_key(|(_, d)| *d)
            .map(|(t, _)| t)?;
        self.stop(timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // a test needs one real instant to start from
    fn expires_earliest_first_and_disarms() {
        let start = Instant::now();
        let mut table = TimerTable::default();
        table.set(Timer::IceConnect, start + Duration::from_secs(30));
        table.set(Timer::CandidateBatch, start + Duration::from_millis(200));
        assert_eq!(table.next(), Some(start + Duration::from_millis(200)));
        assert_eq!(table.expire(start), None);
        let late = start + Duration::from_secs(60);
        assert_eq!(table.expire(late), Some(Timer::CandidateBatch));
        assert_eq!(table.expire(late), Some(Timer::IceConnect));
        assert_eq!(table.expire(late), None);
        assert_eq!(table.next(), None);
    }
}
