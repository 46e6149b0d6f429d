//! A deterministic harness: agent devices' and visitor tabs' [`Call`]s talking through the real
//! sans-IO [`Relay`] (and so its real [`Referee`](velaro_call_state::Referee)), on a simulated
//! clock, over seeded links that delay, drop, duplicate and reorder frames, with a fake media
//! layer per party that answers media commands the way a browser would. Like quinn-proto's
//! `Pair`, it drives the real endpoints: the harness routes nothing itself.
//!
//! Each party has a relay session and a link to the relay with two hops: party → relay (what
//! its call sends, encoded with the real codec and given to [`Relay::handle_frame`] when it
//! lands) and relay → party (what [`Relay::poll_transmit`] gives, decoded and given to the
//! party's call when it lands). The relay's clock is the harness's: its timers fire when
//! [`Relay::poll_timeout`] is due, as the calls' do. A link can drop and come back
//! ([`CallPair::drop_link`]): the session is disconnected, what is in flight on it is lost,
//! and the party reconnects and resumes with what its call last saw.
//!
//! Each party's outputs and every frame it received are kept, and so are the relay's events,
//! so tests can assert what was sent, commanded, shown and billed.

mod media;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::{CallId, ConversationId, Envelope, PartyId, Role, decode, encode};
use velaro_call_state::{
    Action, Call, CallConfig, CallError, CallSummary, EndedCalls, Event, IceState, MediaCommand,
    MediaEvent, Output, Phase,
};
use velaro_signaling::{RateLimit, Relay, RelayConfig, RelayEvent, RelayOutput, SessionId};

pub use media::{FakeMedia, Permissions};

/// A tiny deterministic generator (xorshift64*), so runs repeat from their seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `true` with `percent` % probability.
    pub fn chance(&mut self, percent: u8) -> bool {
        self.next_u64() % 100 < u64::from(percent)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next_u64() % bound }
    }
}

/// What each hop of the links (party → relay, relay → party) does to frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Each frame takes 1 ms plus up to this many more per hop (different delays reorder
    /// frames only where `reorder` allows).
    pub max_delay_ms: u64,
    /// Percent of frames lost, per hop.
    pub drop_pct: u8,
    /// Percent of frames delivered twice, per hop.
    pub duplicate_pct: u8,
    /// Let a later frame overtake an earlier one on the same hop. The relay delivers each
    /// session's frames in order, so this is a stress beyond the real link.
    pub reorder: bool,
    /// When not 0, a duplicate is a stale copy: it lands up to this many ms after the first
    /// copy, overtaken by whatever came meanwhile (a proxy that retries late). When 0, both
    /// copies keep the hop's order.
    pub stale_duplicate_ms: u64,
}

/// Who takes part: agent devices (1 or 2), visitor tabs (1 or 2), the links and the relay.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Agent devices, each with its own call: `agent-1` with `call-1`, `agent-2` with
    /// `call-2`. In glare the lesser call id wins, so `call-1` does.
    pub agents: usize,
    /// Visitor tabs of the one visitor: `visitor-1`, `visitor-2`.
    pub visitor_tabs: usize,
    /// What the links do.
    pub faults: Faults,
    /// The links' seed.
    pub seed: u64,
    /// The relay's configuration: the default, with a rate limit high enough never to
    /// interfere (a test that wants to meet the limit sets its own).
    pub relay: RelayConfig,
}

impl Setup {
    /// One agent device and `visitor_tabs` tabs.
    pub fn new(visitor_tabs: usize, faults: Faults, seed: u64) -> Setup {
        let rate = RateLimit { burst: 1_000_000, per_second: 1_000_000 };
        Setup {
            agents: 1,
            visitor_tabs,
            faults,
            seed,
            relay: RelayConfig::default().with_rate(rate),
        }
    }

    /// With `agents` agent devices (1 or 2).
    #[must_use]
    pub fn with_agents(mut self, agents: usize) -> Setup {
        self.agents = agents;
        self
    }
}

/// One party: its call (a visitor tab's starts with the invite), fake media, its relay
/// session, and everything it output and received.
#[derive(Debug)]
pub struct Party {
    /// `agent-1`, `agent-2`, `visitor-1`, `visitor-2`.
    pub id: PartyId,
    /// Agent or visitor.
    pub role: Role,
    /// The current call, once there is one (an agent device has one from the start).
    pub call: Option<Call>,
    /// A visitor tab's earlier calls, ended (a glare-replaced call, say), oldest first.
    pub past_calls: Vec<Call>,
    /// Calls whose end overtook their invite (a visitor tab's client keeps this, so that such
    /// an invite never rings).
    pub ended: EndedCalls,
    /// The fake media layer (a new peer connection with each call).
    pub media: FakeMedia,
    /// Every output, in order.
    pub outputs: Vec<Output>,
    /// Every frame the relay delivered to it, decoded, in order (duplicates too).
    pub received: Vec<Envelope>,
    /// Inputs the call refused.
    pub refused: Vec<CallError>,
    /// Whether the user accepted the current call (visitor).
    pub accepted: bool,
    /// Whether permission was granted after acceptance: consent.
    pub consented: bool,
    /// Media commands issued before consent other than the permission request and close.
    pub media_before_consent: Vec<MediaCommand>,
    /// Its relay session, while its link is up.
    session: Option<SessionId>,
}

impl Party {
    fn new(name: &str, role: Role) -> Party {
        Party {
            id: PartyId::new(name).unwrap_or_else(|e| panic!("{e}")),
            role,
            call: None,
            past_calls: Vec::new(),
            ended: EndedCalls::default(),
            media: FakeMedia::new(name),
            outputs: Vec::new(),
            received: Vec::new(),
            refused: Vec::new(),
            accepted: false,
            consented: false,
            media_before_consent: Vec::new(),
            session: None,
        }
    }

    /// The events the UI was given.
    pub fn events(&self) -> Vec<&Event> {
        self.outputs
            .iter()
            .filter_map(|o| if let Output::Event(e) = o { Some(e) } else { None })
            .collect()
    }

    /// The envelopes sent.
    pub fn sent(&self) -> Vec<&Envelope> {
        self.outputs
            .iter()
            .filter_map(|o| if let Output::Send(e) = o { Some(e) } else { None })
            .collect()
    }

    /// The types of the envelopes sent, in order.
    pub fn sent_types(&self) -> Vec<&str> {
        self.sent().iter().map(|e| e.message_type()).collect()
    }

    /// Every call this party had: the past ones, then the current one.
    pub fn calls(&self) -> impl Iterator<Item = &Call> {
        self.past_calls.iter().chain(&self.call)
    }

    /// Its call `call_id`, if it had one.
    pub fn call_for(&self, call_id: &CallId) -> Option<&Call> {
        self.calls().find(|c| c.call_id() == call_id)
    }

    /// Whether its link to the relay is up.
    pub fn is_online(&self) -> bool {
        self.session.is_some()
    }

    fn call_for_mut(&mut self, call_id: &CallId) -> Option<&mut Call> {
        self.past_calls.iter_mut().chain(&mut self.call).find(|c| c.call_id() == call_id)
    }

    /// A visitor tab's new call: the previous one (ended) is kept, the media starts afresh.
    fn start(&mut self, call: Call) {
        self.past_calls.extend(self.call.replace(call));
        self.accepted = false;
        self.consented = false;
        self.media.restart();
    }
}

/// One hop of a party's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Hop {
    /// From the party to the relay.
    Up(usize),
    /// From the relay to the party.
    Down(usize),
}

#[derive(Debug)]
enum Pending {
    /// A frame on a hop of `session`: lost if that session is gone when it lands.
    Frame { hop: Hop, session: SessionId, bytes: Vec<u8> },
    /// A media event for the call of `epoch` (see [`FakeMedia`]).
    Media { to: usize, epoch: u32, event: MediaEvent },
    /// The party's link comes back.
    Reconnect { to: usize },
}

/// The agent devices and visitor tabs of one conversation, the relay between them, on a
/// simulated clock.
#[derive(Debug)]
pub struct CallPair {
    /// The simulated time.
    pub now: Instant,
    start: Instant,
    /// `parties[0]` is the first agent device (`agent-1`), `parties[1..=tabs]` the visitor
    /// tabs, then the second agent device if there is one ([`agent_index`](Self::agent_index)).
    pub parties: Vec<Party>,
    conversation: ConversationId,
    relay: Relay,
    relay_events: Vec<RelayEvent>,
    faults: Faults,
    rng: Rng,
    pending: Vec<(Instant, u64, Pending)>,
    order: u64,
    /// When the last frame on each hop lands, to keep each hop in order.
    last_arrival: HashMap<Hop, Instant>,
    /// Frames lost: by a hop's loss, sent while the link was down, or in flight when it dropped.
    pub dropped: u32,
}

impl CallPair {
    /// An agent and `visitor_tabs` visitor tabs (1 or 2), at a fixed start.
    pub fn new(visitor_tabs: usize, faults: Faults, seed: u64) -> CallPair {
        CallPair::with(Setup::new(visitor_tabs, faults, seed))
    }

    /// The parties of `setup`, each connected to the relay, at a fixed start.
    #[allow(clippy::disallowed_methods)] // the harness owns its one real instant, then simulates
    pub fn with(setup: Setup) -> CallPair {
        let start = Instant::now();
        let conversation = ConversationId::new("conv-1").unwrap_or_else(|e| panic!("{e}"));
        let tabs = setup.visitor_tabs.clamp(1, 2);
        let mut parties = vec![Party::new("agent-1", Role::Agent)];
        parties.extend((1..=tabs).map(|tab| Party::new(&format!("visitor-{tab}"), Role::Visitor)));
        if setup.agents >= 2 {
            parties.push(Party::new("agent-2", Role::Agent));
        }
        for (n, party) in parties.iter_mut().filter(|p| p.role == Role::Agent).enumerate() {
            let call_id = CallId::new(format!("call-{}", n + 1)).unwrap_or_else(|e| panic!("{e}"));
            let config = CallConfig::new(conversation.clone(), party.id.clone());
            party.call = Some(Call::agent(config, call_id, start));
        }
        let mut relay = Relay::new(setup.relay);
        relay.open_conversation(conversation.clone(), true);
        let mut pair = CallPair {
            now: start,
            start,
            parties,
            conversation,
            relay,
            relay_events: Vec::new(),
            faults: setup.faults,
            rng: Rng::new(setup.seed),
            pending: Vec::new(),
            order: 0,
            last_arrival: HashMap::new(),
            dropped: 0,
        };
        for index in 0..pair.parties.len() {
            pair.reconnect(index);
        }
        pair
    }

    /// The first agent device.
    pub fn agent(&self) -> &Party {
        &self.parties[0]
    }

    /// Visitor tab `n` (1-based).
    pub fn visitor(&self, n: usize) -> &Party {
        &self.parties[n]
    }

    /// The index in [`parties`](Self::parties) of agent device `n` (1-based).
    pub fn agent_index(&self, n: usize) -> usize {
        let agents = self.parties.iter().enumerate().filter(|(_, p)| p.role == Role::Agent);
        agents.map(|(index, _)| index).nth(n - 1).unwrap_or_else(|| panic!("no agent device {n}"))
    }

    /// Mutable access to a party, e.g. to set its fake browser's permissions.
    pub fn party_mut(&mut self, index: usize) -> &mut Party {
        &mut self.parties[index]
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The relay, for its getters.
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// What the relay told the host so far (calls started and ended, refusals), in order.
    pub fn relay_events(&self) -> &[RelayEvent] {
        &self.relay_events
    }

    /// The visitor tab named by each `CallStarted` of `call_id` (once, if the relay is right).
    pub fn relay_started(&self, call_id: &CallId) -> Vec<&PartyId> {
        let started = self.relay_events.iter().filter_map(|event| match event {
            RelayEvent::CallStarted { call_id: id, visitor, .. } if id == call_id => Some(visitor),
            _ => None,
        });
        started.collect()
    }

    /// The summary of each `CallEnded` of `call_id` (once, if the relay is right).
    pub fn relay_summaries(&self, call_id: &CallId) -> Vec<&CallSummary> {
        let ended = self.relay_events.iter().filter_map(|event| match event {
            RelayEvent::CallEnded { report } if report.summary.call_id == *call_id => {
                Some(&report.summary)
            }
            _ => None,
        });
        ended.collect()
    }

    /// A user action on party `index` (0 = agent); a refusal is recorded, not fatal.
    pub fn act(&mut self, index: usize, action: Action) -> Result<(), CallError> {
        let now = self.now;
        let party = &mut self.parties[index];
        let Some(call) = party.call.as_mut() else {
            return Err(CallError::WrongPhase { input: "no call yet", phase: Phase::Idle });
        };
        let accept = action == Action::Accept;
        let result = call.handle_action(now, action);
        party.accepted |= accept;
        if let Err(error) = &result {
            party.refused.push(error.clone());
        }
        self.drain(index);
        result
    }

    /// A media fact on party `index`, delivered now.
    pub fn media_event(&mut self, index: usize, event: MediaEvent) {
        self.deliver_media(index, event);
    }

    /// Party `index`'s link to the relay drops now: its session is disconnected, frames in
    /// flight on it either way are lost, and so is what its call sends meanwhile. After
    /// `down_for` it connects again and resumes with what its call last saw (within the
    /// relay's grace, the relay replays what it missed; past it, the relay has ended its call
    /// `signaling_lost` and forgotten it). Nothing happens if the link is already down.
    pub fn drop_link(&mut self, index: usize, down_for: Duration) {
        let Some(session) = self.parties[index].session.take() else {
            return;
        };
        self.relay
            .disconnect(self.now, session)
            .unwrap_or_else(|e| panic!("disconnecting {session}: {e}"));
        self.drain_relay();
        self.schedule(duration_ms(down_for), Pending::Reconnect { to: index });
    }

    /// A stale copy of the `nth` frame party `index` sent (0-based) lands at the relay now, as
    /// a link that retries late would deliver it. Nothing happens while its link is down.
    pub fn resend(&mut self, index: usize, nth: usize) {
        let party = &self.parties[index];
        let (Some(session), Some(envelope)) = (party.session, party.sent().get(nth).copied())
        else {
            return;
        };
        let bytes = encode(envelope);
        self.land(Hop::Up(index), session, &bytes);
    }

    /// Connects party `index`'s link: a new relay session, resumed with what its call saw.
    fn reconnect(&mut self, index: usize) {
        let party = &mut self.parties[index];
        // The relay frees a conversation nobody is in; the host opens it again first.
        self.relay.open_conversation(self.conversation.clone(), true);
        let session = self
            .relay
            .connect(self.now, &self.conversation, party.role, party.id.clone())
            .unwrap_or_else(|e| panic!("connecting {}: {e}", party.id));
        party.session = Some(session);
        let seen = party.call.as_ref().map(Call::last_seen).unwrap_or_default();
        self.relay.resume(session, &seen).unwrap_or_else(|e| panic!("resuming {session}: {e}"));
        self.drain_relay();
    }

    fn schedule(&mut self, delay_ms: u64, item: Pending) {
        let at = self.now + Duration::from_millis(delay_ms);
        self.push(at, item);
    }

    fn push(&mut self, at: Instant, item: Pending) {
        self.order += 1;
        self.pending.push((at, self.order, item));
    }

    /// Drains a party's outputs: frames onto its link, commands to its fake media.
    fn drain(&mut self, index: usize) {
        loop {
            let party = &mut self.parties[index];
            let Some(output) = party.call.as_mut().and_then(Call::poll_output) else {
                return;
            };
            party.outputs.push(output.clone());
            let session = party.session;
            match output {
                Output::Send(envelope) => match session {
                    Some(session) => self.link(Hop::Up(index), session, encode(&envelope)),
                    None => self.dropped += 1,
                },
                Output::Media(command) => {
                    let before_consent = party.role == Role::Visitor && !party.consented;
                    if before_consent
                        && !matches!(
                            command,
                            MediaCommand::RequestUserMedia(_) | MediaCommand::Close
                        )
                    {
                        party.media_before_consent.push(command.clone());
                    }
                    if command == MediaCommand::Close {
                        self.peer_lost(index);
                    }
                    let media = &mut self.parties[index].media;
                    let epoch = media.epoch;
                    for (delay, event) in media.command(&command) {
                        self.schedule(delay, Pending::Media { to: index, epoch, event });
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    /// A party closed its peer connection: its peer's ICE notices a second later. The agent's
    /// peer is the tab its call is bound to; a tab's is its agent, if the agent took its
    /// answer.
    fn peer_lost(&mut self, index: usize) {
        let Some(call) = self.parties[index].call.as_ref() else { return };
        let (call_id, closing) = (call.call_id().clone(), &self.parties[index].id);
        let bound_to = |other: &Party| {
            let other_call = other.call.as_ref().filter(|c| *c.call_id() == call_id);
            match (other.role, other_call) {
                (Role::Visitor, Some(_)) => call.remote_party() == Some(&other.id),
                (Role::Agent, Some(agent)) => agent.remote_party() == Some(closing),
                _ => false,
            }
        };
        let peers: Vec<usize> = (0..self.parties.len())
            .filter(|&other| other != index && bound_to(&self.parties[other]))
            .collect();
        for other in peers {
            // Whatever the local ICE was doing (connected, or restarting), it is gone now.
            let media = &mut self.parties[other].media;
            media.peer_closed = true;
            if media.is_negotiating() {
                media.connected = false;
                let (epoch, event) = (media.epoch, MediaEvent::Ice(IceState::Disconnected));
                self.schedule(1000, Pending::Media { to: other, epoch, event });
            }
        }
    }

    /// Puts a frame on a hop: lost, delayed, maybe duplicated, in order unless reordering.
    fn link(&mut self, hop: Hop, session: SessionId, bytes: Vec<u8>) {
        if self.rng.chance(self.faults.drop_pct) {
            self.dropped += 1;
            return;
        }
        let duplicate = self.rng.chance(self.faults.duplicate_pct);
        let at = self.arrival(hop);
        if duplicate {
            let again = match self.faults.stale_duplicate_ms {
                0 => self.arrival(hop),
                stale => at + Duration::from_millis(1 + self.rng.below(stale)),
            };
            self.push(again, Pending::Frame { hop, session, bytes: bytes.clone() });
        }
        self.push(at, Pending::Frame { hop, session, bytes });
    }

    /// When a frame put on `hop` now lands.
    fn arrival(&mut self, hop: Hop) -> Instant {
        let delay = 1 + self.rng.below(self.faults.max_delay_ms + 1);
        let mut at = self.now + Duration::from_millis(delay);
        if !self.faults.reorder {
            let last = self.last_arrival.entry(hop).or_insert(at);
            at = at.max(*last);
            *last = at;
        }
        at
    }

    /// Acts on the relay's outputs: frames onto the parties' links, closes, events recorded.
    fn drain_relay(&mut self) {
        while let Some(output) = self.relay.poll_output() {
            match output {
                RelayOutput::Transmit(session) => {
                    let to = self.parties.iter().position(|p| p.session == Some(session));
                    while let Some(frame) = self.relay.poll_transmit(session) {
                        match to {
                            Some(to) => self.link(Hop::Down(to), session, frame.to_vec()),
                            None => self.dropped += 1,
                        }
                    }
                }
                RelayOutput::Close(session) => {
                    // A slow consumer: its host closes the socket, its client comes back.
                    if let Some(index) =
                        self.parties.iter().position(|p| p.session == Some(session))
                    {
                        self.drop_link(index, Duration::from_millis(100));
                    }
                }
                RelayOutput::Event(event) => self.relay_events.push(event),
            }
        }
    }

    /// A frame the relay wrote lands at party `to`: its call takes it (a visitor tab's call
    /// starts with an invite, unless the call's end came first).
    fn deliver_frame(&mut self, to: usize, bytes: &[u8]) {
        let now = self.now;
        let envelope = decode(bytes)
            .unwrap_or_else(|e| panic!("a frame the relay wrote failed to decode: {e}"));
        let party = &mut self.parties[to];
        party.received.push(envelope.clone());
        let result = if let Some(call) = party.call_for_mut(&envelope.call_id) {
            call.handle_message(now, envelope)
        } else if party.role == Role::Visitor
            && party.ended.starts_a_call(&envelope)
            && party.call.as_ref().is_none_or(Call::is_ended)
        {
            let config = CallConfig::new(self.conversation.clone(), party.id.clone());
            Call::visitor(config, &envelope, now).map(|call| party.start(call))
        } else if let Some(call) = party.call.as_mut() {
            call.handle_message(now, envelope) // another call's frame: refused
        } else {
            Ok(()) // nothing to do with a call this tab never saw
        };
        if let Err(error) = result {
            party.refused.push(error);
        }
        self.drain(to);
    }

    fn deliver_media(&mut self, to: usize, event: MediaEvent) {
        let now = self.now;
        let party = &mut self.parties[to];
        if party.media.closed {
            return;
        }
        if party.accepted && matches!(event, MediaEvent::PermissionGranted { .. }) {
            party.consented = true;
        }
        if event == MediaEvent::Ice(IceState::Disconnected) {
            party.media.connected = false;
        }
        if let Some(call) = party.call.as_mut()
            && let Err(error) = call.handle_media(now, event)
        {
            party.refused.push(error);
        }
        self.drain(to);
    }

    /// The next moment something happens: a frame, media event or reconnect is due, or a
    /// call's or the relay's timer fires.
    fn next_deadline(&self) -> Option<Instant> {
        let link = self.pending.iter().map(|(at, _, _)| *at).min();
        let timers = self.parties.iter().filter_map(|p| p.call.as_ref()?.poll_timeout()).min();
        [link, timers, self.relay.poll_timeout()].into_iter().flatten().min()
    }

    /// Advances to the next deadline and handles everything due then. `false` when idle.
    pub fn step(&mut self) -> bool {
        let Some(deadline) = self.next_deadline() else {
            return false;
        };
        self.now = self.now.max(deadline);
        let now = self.now;
        // Timers first: a timeout handled at its deadline must make progress.
        for index in 0..self.parties.len() {
            let Some(call) = self.parties[index].call.as_mut() else { continue };
            if call.poll_timeout().is_some_and(|t| t <= now) {
                call.handle_timeout(now);
                let again = call.poll_timeout();
                assert!(
                    again.is_none_or(|t| t > now),
                    "a timeout at its deadline made no progress"
                );
                self.drain(index);
            }
        }
        if self.relay.poll_timeout().is_some_and(|t| t <= now) {
            self.relay.handle_timeout(now);
            let again = self.relay.poll_timeout();
            assert!(again.is_none_or(|t| t > now), "the relay's timeout made no progress");
            self.drain_relay();
        }
        // Then every item due, in the order it was scheduled.
        let (mut due, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|item| item.0 <= now);
        self.pending = rest;
        due.sort_by_key(|(at, order, _)| (*at, *order));
        for (_, _, item) in due {
            match item {
                Pending::Frame { hop, session, bytes } => self.land(hop, session, &bytes),
                Pending::Media { to, epoch, event } if epoch == self.parties[to].media.epoch => {
                    self.deliver_media(to, event);
                }
                Pending::Media { .. } => {} // for a call this party no longer has
                Pending::Reconnect { to } => self.reconnect(to),
            }
        }
        true
    }

    /// A frame lands at the end of `hop`, if the session it travels on is still up.
    fn land(&mut self, hop: Hop, session: SessionId, bytes: &[u8]) {
        let (Hop::Up(index) | Hop::Down(index)) = hop;
        if self.parties[index].session != Some(session) {
            self.dropped += 1;
            return;
        }
        match hop {
            Hop::Up(_) => {
                self.relay
                    .handle_frame(self.now, session, bytes)
                    .unwrap_or_else(|e| panic!("the relay lost {session}: {e}"));
                self.drain_relay();
            }
            Hop::Down(to) => self.deliver_frame(to, bytes),
        }
    }

    /// Runs until `deadline` (simulated) or until nothing is left to happen.
    pub fn run_until(&mut self, deadline: Duration) {
        let end = self.start + deadline;
        while self.next_deadline().is_some_and(|at| at <= end) {
            self.step();
        }
        self.now = self.now.max(end);
    }

    /// Runs for `span` of simulated time from now.
    pub fn run_for(&mut self, span: Duration) {
        let target = self.elapsed() + span;
        self.run_until(target);
    }

    /// Agent device at `index` invites (audio and video); a refusal is recorded.
    pub fn invite(&mut self, index: usize) -> Result<(), CallError> {
        let prompt = Prompt::new("Your agent would like to start a video call. Accept?")
            .unwrap_or_else(|e| panic!("{e}"));
        self.act(
            index,
            Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false },
        )
    }

    /// Runs a whole happy call set-up: invite, accept by tab 1 (once it rings), media
    /// connected (given up to 30 s on a slow link).
    pub fn connect(&mut self) {
        let _ = self.invite(0);
        self.answer_and_connect();
    }

    /// The rest of [`connect`](Self::connect) after an invite of the test's own: tab 1 accepts
    /// once it rings, and media connects.
    pub fn answer_and_connect(&mut self) {
        self.run_for(Duration::from_millis(500));
        self.run_while(Duration::from_secs(10), |pair| {
            pair.visitor(1).call.as_ref().is_none_or(|c| c.phase() != Phase::Prompting)
        });
        let _ = self.act(1, Action::Accept);
        self.run_for(Duration::from_secs(2));
        self.run_while(Duration::from_secs(30), |pair| {
            [pair.agent(), pair.visitor(1)]
                .iter()
                .any(|p| p.call.as_ref().is_none_or(|c| c.phase() != Phase::Active))
        });
    }

    /// Runs while `busy` holds, for `limit` at most.
    fn run_while(&mut self, limit: Duration, busy: impl Fn(&CallPair) -> bool) {
        let end = self.now + limit;
        while busy(self) && self.next_deadline().is_some_and(|at| at <= end) {
            self.step();
        }
    }

    /// The first agent device's call id.
    pub fn call_id(&self) -> &CallId {
        let agent = self.parties[0].call.as_ref();
        agent.unwrap_or_else(|| unreachable!("an agent device has its call")).call_id()
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
