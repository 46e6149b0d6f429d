//! ICE in an answered call: media connecting, dropping and coming back, and its three timers
//! (media must connect in time after the answer; after a disconnect the agent restarts ICE,
//! and the call gives up if the connection does not come back).

use std::time::Instant;

use velaro_call_protocol::{Reason, Role};

use super::state::Connection;
use super::{Call, CallError};
use crate::input::IceState;
use crate::output::Event;
use crate::timer::Timer;

impl Call {
    /// The ICE connection state changed (ICE exists once a local description does).
    pub(super) fn on_ice(&mut self, now: Instant, ice: IceState) -> Result<(), CallError> {
        let call = self.state.expect_ice("ice state")?;
        match (ice, call.connection) {
            (IceState::Connected, Connection::Connecting) => {
                call.connection = Connection::Active { connected_at: now };
                self.timers.stop(Timer::IceConnect);
                self.out.event(Event::Opened);
                call.send_media_state(&mut self.out);
            }
            (IceState::Connected, Connection::Reconnecting { connected_at }) => {
                self.timers.stop(Timer::IceRestart);
                self.timers.stop(Timer::IceReconnect);
                call.connection = Connection::Active { connected_at };
                self.out.event(Event::Reconnected);
            }
            (IceState::Disconnected, Connection::Active { .. }) => self.connection_lost(now),
            (IceState::Failed, Connection::Connecting) => self.fail(now, Reason::IceFailed),
            (IceState::Failed, Connection::Active { .. } | Connection::Reconnecting { .. }) => {
                self.connection_lost(now);
                // Failed will not recover by itself: restart now rather than after the grace.
                self.timers.stop(Timer::IceRestart);
                self.on_ice_restart_due();
            }
            _ => {}
        }
        Ok(())
    }

    /// Media stopped flowing: the call reconnects, the agent restarts ICE after a grace, and
    /// the call ends if the connection does not come back in time. Nothing while reconnecting
    /// already.
    fn connection_lost(&mut self, now: Instant) {
        let timings = self.out.config.timings;
        if let Some(call) = self.state.in_call_mut()
            && let Connection::Active { connected_at } = call.connection
        {
            call.connection = Connection::Reconnecting { connected_at };
            self.out.event(Event::Reconnecting);
            self.timers.set(Timer::IceRestart, now + timings.ice_restart_after);
            self.timers.set(Timer::IceReconnect, now + timings.ice_reconnect);
        }
    }

    /// [`Timer::IceConnect`]: media did not connect in time after the answer (this also ends a
    /// call whose offer or answer never came).
    pub(super) fn on_ice_connect_expired(&mut self, now: Instant) {
        if self.state.connection() == Some(Connection::Connecting) {
            self.fail(now, Reason::IceFailed);
        }
    }

    /// [`Timer::IceRestart`], or ICE failed: the agent restarts ICE while reconnecting.
    pub(super) fn on_ice_restart_due(&mut self) {
        if self.out.role != Role::Agent {
            return;
        }
        if let Some(call) = self.state.in_call_mut()
            && let Connection::Reconnecting { .. } = call.connection
        {
            call.negotiation.renegotiate(true, &mut self.out);
        }
    }

    /// [`Timer::IceReconnect`]: the connection did not come back in time.
    pub(super) fn on_ice_reconnect_expired(&mut self, now: Instant) {
        if let Some(Connection::Reconnecting { .. }) = self.state.connection() {
            self.fail(now, Reason::IceTimeout);
        }
    }
}
