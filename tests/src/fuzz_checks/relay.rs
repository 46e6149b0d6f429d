//! The `relay` target: a script of host and client operations against one [`Relay`], checking
//! after every step that each frame the relay wrote decodes.

use std::time::{Duration, Instant};

use velaro_call_protocol::velaro_ice_config::{CandidateFilter, CandidatePolicy};
use velaro_call_protocol::{ConversationId, PartyId, Role, decode};
use velaro_signaling::{RateLimit, Relay, RelayConfig, RelayOutput, SessionId};

use super::frames::{self, AGENT, CONVERSATION, VISITOR};
use super::input::Input;
use super::{base_instant, excerpt};

/// The most operations one input runs.
const MAX_STEPS: usize = 256;

/// The parties a session may claim to be (the host authenticated it as one of them): the
/// fixtures' own, a second tab, hostile ones (`relay`, an id at the length limit), and every
/// one in either role, so an agent's id may come back as a visitor's.
fn party(input: &mut Input<'_>) -> PartyId {
    let text = match input.byte() % 6 {
        0 => AGENT.to_owned(),
        1 => VISITOR.to_owned(),
        2 => "visitor-tab-3".to_owned(),
        3 => "relay".to_owned(),
        4 => "p".repeat(velaro_call_protocol::limits::MAX_ID_LEN),
        _ => "unknown".to_owned(),
    };
    PartyId::new(text).expect("every party above is a valid id")
}

fn conversation(input: &mut Input<'_>) -> ConversationId {
    let text = if input.flag() { "conv-2" } else { CONVERSATION };
    ConversationId::new(text).expect("valid id")
}

fn role(input: &mut Input<'_>) -> Role {
    if input.flag() { Role::Visitor } else { Role::Agent }
}

/// Runs the script in `data`; panics when the relay writes a frame that does not decode.
pub fn relay_script(data: &[u8]) {
    let mut input = Input::new(data);
    let mut host = Host::new(&mut input);
    for _ in 0..MAX_STEPS {
        if input.is_empty() {
            break;
        }
        host.step(&mut input);
        host.drain();
    }
}

/// The host around the relay: the clock, the sessions it connected, and the step it is on.
struct Host {
    relay: Relay,
    now: Instant,
    sessions: Vec<SessionId>,
    step: String,
}

/// Every call into the relay's API is in this impl block, so that an API change is one edit.
impl Host {
    fn new(input: &mut Input<'_>) -> Host {
        let flags = input.byte();
        let mut config = RelayConfig::default();
        if flags & 1 != 0 {
            let mut filter = CandidateFilter::new(CandidatePolicy::RelayOnly);
            if flags & 2 != 0 {
                // The fixtures' candidates are loopback ones: let them reach the rewrite.
                filter = filter.dangerous_allow_unroutable();
            }
            config = config.with_visitor_candidates(filter);
        }
        if flags & 4 != 0 {
            config = config.with_max_queued(4);
        }
        if flags & 8 != 0 {
            config = config.with_rate(RateLimit { burst: 4, per_second: 1 });
        }
        if flags & 16 != 0 {
            config = config.with_grace(Duration::from_secs(1));
        }
        let mut relay = Relay::new(config);
        let conversation = ConversationId::new(CONVERSATION).expect("valid id");
        relay.open_conversation(conversation, flags & 32 == 0);
        Host { relay, now: base_instant(), sessions: Vec::new(), step: String::new() }
    }

    fn session(&self, input: &mut Input<'_>) -> Option<SessionId> {
        (!self.sessions.is_empty()).then(|| *input.pick(&self.sessions))
    }

    fn step(&mut self, input: &mut Input<'_>) {
        let now = self.now;
        match input.byte() % 10 {
            0 | 1 => {
                let (conversation, role, party) = (conversation(input), role(input), party(input));
                self.step = format!("connect {role} {party} to {conversation}");
                // A refused connect is the host's business; the script goes on without it.
                if let Ok(session) = self.relay.connect(now, &conversation, role, party) {
                    self.sessions.push(session);
                }
            }
            2 => {
                let Some(session) = self.session(input) else { return };
                self.step = format!("disconnect {session}");
                let _ = self.relay.disconnect(now, session);
            }
            3 => {
                let Some(session) = self.session(input) else { return };
                let seen: Vec<(PartyId, u64)> = (0..input.byte() % 4)
                    .map(|_| (party(input), frames::seq(input).as_u64().unwrap_or(0)))
                    .collect();
                self.step = format!("resume {session} having seen {seen:?}");
                let _ = self.relay.resume(session, &seen);
            }
            4..=6 => {
                let Some(session) = self.session(input) else { return };
                let frame = frames::mutated_frame(input);
                self.step = format!("frame from {session}: {}", excerpt(&frame));
                let _ = self.relay.handle_frame(now, session, &frame);
            }
            7 => {
                let Some(session) = self.session(input) else { return };
                let frame = input.bytes(1024);
                self.step = format!("raw bytes from {session}: {}", excerpt(frame));
                let _ = self.relay.handle_frame(now, session, frame);
            }
            8 => {
                let millis = *input.pick(&[
                    0, 1, 50, 200, 999, 1000, 2000, 10_000, 19_999, 20_000, 30_000, 60_000, 600_000,
                ]);
                self.now += Duration::from_millis(millis);
                self.step = format!("{millis} ms later, timeout");
                self.relay.handle_timeout(self.now);
            }
            _ => {
                if input.flag() {
                    let (conversation, video) = (conversation(input), input.flag());
                    self.step = format!("open {conversation} (video: {video})");
                    self.relay.open_conversation(conversation, video);
                } else if let Some(at) = self.relay.poll_timeout() {
                    self.now = self.now.max(at);
                    self.step = "timeout at the relay's deadline".to_owned();
                    self.relay.handle_timeout(self.now);
                }
            }
        }
    }

    /// Drains everything the relay has for the host: each session's frames (checking that
    /// each decodes) and its outputs (closing the sessions it says to close).
    fn drain(&mut self) {
        for session in &self.sessions {
            while let Some(frame) = self.relay.poll_transmit(*session) {
                if let Err(error) = decode(&frame) {
                    panic!(
                        "the relay wrote a frame to {session} that does not decode ({error}) \
                         after `{}`: {}",
                        self.step,
                        excerpt(&frame)
                    );
                }
            }
        }
        while let Some(output) = self.relay.poll_output() {
            if let RelayOutput::Close(session) = output {
                let _ = self.relay.disconnect(self.now, session);
            }
        }
    }
}
