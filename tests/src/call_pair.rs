//! A deterministic harness: an agent's [`Call`] and one or two visitor tabs' calls, a simulated
//! clock, a seeded link that delays, drops, duplicates and reorders frames (every frame goes
//! through the real codec), and a fake media layer per party that answers media commands the
//! way a browser would.
//!
//! Routing is the relay's: agent frames reach every visitor tab, visitor frames reach the agent.
//! Each party's outputs are kept, so tests can assert what was sent, commanded and shown.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::fixtures::browser_sdp;
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::message::invite::MediaKinds;
use velaro_call_protocol::message::media::{DisplaySurface, StreamId};
use velaro_call_protocol::{
    CallId, ConversationId, Device, Envelope, MediaError, Message, PartyId, Role, decode, encode,
};
use velaro_call_state::{
    Action, Call, CallConfig, CallError, EndedCalls, Event, IceState, MediaCommand, MediaEvent,
    Output,
};

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

/// What the link does to frames.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Each frame takes 1 ms plus up to this many more (different delays reorder frames).
    pub max_delay_ms: u64,
    /// Percent of frames lost.
    pub drop_pct: u8,
    /// Percent of frames delivered twice.
    pub duplicate_pct: u8,
    /// Let a later frame overtake an earlier one between the same two parties. The relay
    /// delivers each session's frames in order, so this is a stress beyond the real link.
    pub reorder: bool,
}

/// How a party's fake browser answers permission requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    /// Refuse the camera/microphone request with this device and error.
    pub deny_user_media: Option<(Device, MediaError)>,
    /// Refuse screen capture.
    pub deny_screen: bool,
}

/// A fake media layer: it answers commands as a browser would, with events that the harness
/// delivers a few milliseconds later.
#[derive(Debug, Default)]
pub struct FakeMedia {
    name: String,
    /// How it answers permission requests.
    pub permissions: Permissions,
    generation: u32,
    local_description: bool,
    remote_description: bool,
    remote_candidates: u32,
    connected: bool,
    closed: bool,
    remote_ufrag: Option<String>,
    /// The other side closed its peer connection: ICE never comes back.
    peer_closed: bool,
    gathering_started_for: Option<u32>,
    /// Every command received, in order.
    pub commands: Vec<MediaCommand>,
}

impl FakeMedia {
    fn ufrag(&self) -> String {
        // 4+ ice-chars, unique per party and ICE generation.
        format!("{}g{}", self.name.replace('-', ""), self.generation)
    }

    fn description(&self, sdp_type: SdpType) -> SessionDescription {
        let (template, ufrag) = match sdp_type {
            SdpType::Offer => (browser_sdp("chromium-offer-av.json"), "a=ice-ufrag:lZ7j"),
            SdpType::Answer => (browser_sdp("chromium-answer-av.json"), "a=ice-ufrag:LvlJ"),
        };
        SessionDescription::new(
            sdp_type,
            template.replace(ufrag, &format!("a=ice-ufrag:{}", self.ufrag())),
        )
    }

    fn candidate(&self, port: u16) -> IceCandidate {
        let line = format!(
            "candidate:{port} 1 udp 2122260223 192.0.2.10 {port} typ host ufrag {}",
            self.ufrag()
        );
        let parsed = line.parse().unwrap_or_else(|e| panic!("fake candidate {line}: {e}"));
        IceCandidate::new(parsed, Some("0".into()), Some(0)).with_username_fragment(self.ufrag())
    }

    /// Answers one command with events (and the delay after which each happens).
    fn command(&mut self, command: &MediaCommand) -> Vec<(u64, MediaEvent)> {
        self.commands.push(command.clone());
        let mut events = Vec::new();
        match command {
            MediaCommand::RequestUserMedia(media) => match &self.permissions.deny_user_media {
                Some((device, error)) => {
                    events.push((
                        5,
                        MediaEvent::PermissionDenied {
                            device: device.clone(),
                            error: error.clone(),
                        },
                    ));
                }
                None => events.push((
                    5,
                    MediaEvent::PermissionGranted {
                        media: *media,
                        stream_id: StreamId::new(format!("cam-{}", self.name))
                            .unwrap_or_else(|e| panic!("{e}")),
                    },
                )),
            },
            MediaCommand::RequestScreenCapture => {
                if self.permissions.deny_screen {
                    events.push((
                        5,
                        MediaEvent::PermissionDenied {
                            device: Device::Screen,
                            error: MediaError::NotAllowed,
                        },
                    ));
                } else {
                    let stream_id = StreamId::new(format!("screen-{}", self.name))
                        .unwrap_or_else(|e| panic!("{e}"));
                    events.push((
                        5,
                        MediaEvent::ScreenShareStarted {
                            stream_id,
                            surface: DisplaySurface::Window,
                        },
                    ));
                }
            }
            MediaCommand::CreateOffer { ice_restart } => {
                if *ice_restart {
                    // A new generation needs the peer's new description and candidates.
                    self.generation += 1;
                    self.connected = false;
                    self.remote_description = false;
                    self.remote_candidates = 0;
                }
                self.local_description = true;
                events.push((2, MediaEvent::LocalDescription(self.description(SdpType::Offer))));
            }
            MediaCommand::CreateAnswer => {
                self.local_description = true;
                events.push((2, MediaEvent::LocalDescription(self.description(SdpType::Answer))));
            }
            MediaCommand::ApplyRemoteDescription(description) => {
                let ufrag = description
                    .sdp
                    .split("a=ice-ufrag:")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_owned);
                let restart = self.remote_ufrag.is_some() && self.remote_ufrag != ufrag;
                if restart && description.sdp_type == SdpType::Offer {
                    // The peer restarted ICE: answer with new credentials and gather again.
                    self.generation += 1;
                    self.connected = false;
                    self.remote_candidates = 0;
                }
                self.remote_ufrag = ufrag;
                self.remote_description = true;
            }
            MediaCommand::AddRemoteCandidate(candidate) if !candidate.is_end_of_candidates() => {
                self.remote_candidates += 1;
            }
            MediaCommand::Close => self.closed = true,
            _ => {}
        }
        if self.closed {
            return events;
        }
        if self.local_description && self.gathering_started_for != Some(self.generation) {
            self.gathering_started_for = Some(self.generation);
            for (i, port) in [50_000, 50_002, 50_004].into_iter().enumerate() {
                events.push((10 + 60 * i as u64, MediaEvent::LocalCandidate(self.candidate(port))));
            }
            events.push((400, MediaEvent::GatheringComplete));
        }
        let ready = self.local_description && self.remote_description && self.remote_candidates > 0;
        if ready && !self.connected && !self.peer_closed {
            self.connected = true;
            events.push((30, MediaEvent::Ice(IceState::Connected)));
        }
        events
    }
}

/// One party: its call (a visitor tab's starts with the invite), fake media, and everything
/// it output.
#[derive(Debug)]
pub struct Party {
    /// `agent-1`, `visitor-1`, `visitor-2`.
    pub id: PartyId,
    /// Agent or visitor.
    pub role: Role,
    /// The call, once there is one.
    pub call: Option<Call>,
    /// Before its call: calls whose end overtook their invite (a visitor tab's client keeps
    /// this, so that such an invite never rings).
    pub ended: EndedCalls,
    /// The fake media layer.
    pub media: FakeMedia,
    /// Every output, in order.
    pub outputs: Vec<Output>,
    /// Inputs the call refused.
    pub refused: Vec<CallError>,
    /// Whether the user accepted (visitor) and the browser granted media: consent.
    pub accepted: bool,
    /// Whether permission was granted after acceptance.
    pub consented: bool,
    /// Media commands issued before consent other than the permission request and close.
    pub media_before_consent: Vec<MediaCommand>,
}

impl Party {
    fn new(name: &str, role: Role) -> Party {
        Party {
            id: PartyId::new(name).unwrap_or_else(|e| panic!("{e}")),
            role,
            call: None,
            ended: EndedCalls::default(),
            media: FakeMedia { name: name.to_owned(), ..FakeMedia::default() },
            outputs: Vec::new(),
            refused: Vec::new(),
            accepted: false,
            consented: false,
            media_before_consent: Vec::new(),
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
}

#[derive(Debug)]
enum Pending {
    Frame { to: usize, bytes: Vec<u8> },
    Media { to: usize, event: MediaEvent },
}

/// The agent (party 0) and one or two visitor tabs, on a simulated clock.
#[derive(Debug)]
pub struct CallPair {
    /// The simulated time.
    pub now: Instant,
    start: Instant,
    /// `parties[0]` is the agent, the rest visitor tabs.
    pub parties: Vec<Party>,
    conversation: ConversationId,
    call_id: CallId,
    faults: Faults,
    rng: Rng,
    pending: VecDeque<(Instant, u64, Pending)>,
    order: u64,
    /// When the last frame between two parties lands, to keep each direction in order.
    last_arrival: std::collections::HashMap<(usize, usize), Instant>,
    /// Frames the link lost.
    pub dropped: u32,
    /// The visitor tab the agent selected, once it did.
    selected: Option<usize>,
}

impl CallPair {
    /// An agent and `visitor_tabs` visitor tabs (1 or 2), at a fixed start.
    #[allow(clippy::disallowed_methods)] // the harness owns its one real instant, then simulates
    pub fn new(visitor_tabs: usize, faults: Faults, seed: u64) -> CallPair {
        let start = Instant::now();
        let conversation = ConversationId::new("conv-1").unwrap_or_else(|e| panic!("{e}"));
        let call_id = CallId::new("call-1").unwrap_or_else(|e| panic!("{e}"));
        let mut parties = vec![Party::new("agent-1", Role::Agent)];
        for tab in 1..=visitor_tabs.clamp(1, 2) {
            parties.push(Party::new(&format!("visitor-{tab}"), Role::Visitor));
        }
        let agent_config = CallConfig::new(conversation.clone(), parties[0].id.clone());
        parties[0].call = Some(Call::agent(agent_config, call_id.clone(), start));
        CallPair {
            now: start,
            start,
            parties,
            conversation,
            call_id,
            faults,
            rng: Rng::new(seed),
            pending: VecDeque::new(),
            order: 0,
            last_arrival: std::collections::HashMap::new(),
            dropped: 0,
            selected: None,
        }
    }

    /// The agent.
    pub fn agent(&self) -> &Party {
        &self.parties[0]
    }

    /// Visitor tab `n` (1-based).
    pub fn visitor(&self, n: usize) -> &Party {
        &self.parties[n]
    }

    /// Mutable access to a party, e.g. to set its fake browser's permissions.
    pub fn party_mut(&mut self, index: usize) -> &mut Party {
        &mut self.parties[index]
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// A user action on party `index` (0 = agent); a refusal is recorded, not fatal.
    pub fn act(&mut self, index: usize, action: Action) -> Result<(), CallError> {
        let now = self.now;
        let party = &mut self.parties[index];
        if action == Action::Accept {
            party.accepted = true;
        }
        let Some(call) = party.call.as_mut() else {
            return Err(CallError::WrongPhase {
                input: "no call yet",
                phase: velaro_call_state::Phase::Idle,
            });
        };
        let result = call.handle_action(now, action);
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

    fn schedule(&mut self, delay_ms: u64, item: Pending) {
        self.order += 1;
        self.pending.push_back((self.now + Duration::from_millis(delay_ms), self.order, item));
    }

    /// Drains a party's outputs: frames onto the link, commands to its fake media.
    fn drain(&mut self, index: usize) {
        loop {
            let party = &mut self.parties[index];
            let Some(output) = party.call.as_mut().and_then(Call::poll_output) else {
                return;
            };
            party.outputs.push(output.clone());
            match output {
                Output::Send(envelope) => self.transmit(index, &envelope),
                Output::Media(command) => {
                    let party = &mut self.parties[index];
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
                    for (delay, event) in self.parties[index].media.command(&command) {
                        self.schedule(delay, Pending::Media { to: index, event });
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    /// A party closed its peer connection: the other side's ICE notices a second later.
    fn peer_lost(&mut self, index: usize) {
        let others: Vec<usize> =
            if index == 0 { (1..self.parties.len()).collect() } else { vec![0] };
        for other in others {
            // Whatever the local ICE was doing (connected, or restarting), it is gone now.
            let media = &mut self.parties[other].media;
            media.peer_closed = true;
            if media.local_description && !media.closed {
                media.connected = false;
                self.schedule(
                    1000,
                    Pending::Media { to: other, event: MediaEvent::Ice(IceState::Disconnected) },
                );
            }
        }
    }

    /// Routes like the relay: before an answer is selected, agent frames reach every tab; after
    /// `call.select_answer`, only the selected tab hears the agent (the select itself reaches
    /// all) and only its frames reach the agent.
    fn transmit(&mut self, from: usize, envelope: &Envelope) {
        let bytes = encode(envelope);
        if let Message::SelectAnswer(select) = &envelope.message {
            self.selected = self.parties.iter().position(|p| p.id == select.selected_party_id);
        }
        let broadcast = matches!(envelope.message, Message::SelectAnswer(_) | Message::Cancel(_));
        let targets: Vec<usize> = match (from, self.selected) {
            (0, Some(tab)) if !broadcast => vec![tab],
            (0, _) => (1..self.parties.len()).collect(),
            (tab, Some(selected)) if tab != selected => vec![],
            _ => vec![0],
        };
        for to in targets {
            if self.rng.chance(self.faults.drop_pct) {
                self.dropped += 1;
                continue;
            }
            let copies = if self.rng.chance(self.faults.duplicate_pct) { 2 } else { 1 };
            for _ in 0..copies {
                let delay = 1 + self.rng.below(self.faults.max_delay_ms + 1);
                let mut at = self.now + Duration::from_millis(delay);
                if !self.faults.reorder {
                    let last = self.last_arrival.entry((from, to)).or_insert(at);
                    at = at.max(*last);
                    *last = at;
                }
                self.order += 1;
                let frame = Pending::Frame { to, bytes: bytes.clone() };
                self.pending.push_back((at, self.order, frame));
            }
        }
    }

    fn deliver_frame(&mut self, to: usize, bytes: &[u8]) {
        let now = self.now;
        let envelope =
            decode(bytes).unwrap_or_else(|e| panic!("our own frame failed to decode: {e}"));
        let party = &mut self.parties[to];
        let result = match party.call.as_mut() {
            Some(call) => call.handle_message(now, envelope),
            None if party.ended.starts_a_call(&envelope) => {
                let config = CallConfig::new(self.conversation.clone(), party.id.clone());
                Call::visitor(config, &envelope, now).map(|call| party.call = Some(call))
            }
            None => Ok(()), // nothing to do with a call this tab never saw
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

    /// The next moment something happens: a frame or media event lands or a timer fires.
    fn next_deadline(&self) -> Option<Instant> {
        let link = self.pending.iter().map(|(at, _, _)| *at).min();
        let timers = self.parties.iter().filter_map(|p| p.call.as_ref()?.poll_timeout()).min();
        link.into_iter().chain(timers).min()
    }

    /// Advances to the next deadline and handles everything due then. `false` when idle.
    pub fn step(&mut self) -> bool {
        let Some(deadline) = self.next_deadline() else {
            return false;
        };
        self.now = self.now.max(deadline);
        // Timers first: a timeout handled at its deadline must make progress.
        for index in 0..self.parties.len() {
            let now = self.now;
            let due = self.parties[index]
                .call
                .as_ref()
                .and_then(Call::poll_timeout)
                .is_some_and(|t| t <= now);
            if due {
                if let Some(call) = self.parties[index].call.as_mut() {
                    call.handle_timeout(now);
                    let again = call.poll_timeout();
                    assert!(
                        again.is_none_or(|t| t > now),
                        "a timeout at its deadline made no progress"
                    );
                }
                self.drain(index);
            }
        }
        // Then every item due, in the order it was scheduled.
        let mut due: Vec<(Instant, u64, Pending)> = Vec::new();
        let mut rest = VecDeque::new();
        while let Some(item) = self.pending.pop_front() {
            if item.0 <= self.now { due.push(item) } else { rest.push_back(item) }
        }
        self.pending = rest;
        due.sort_by_key(|(at, order, _)| (*at, *order));
        for (_, _, item) in due {
            match item {
                Pending::Frame { to, bytes } => self.deliver_frame(to, &bytes),
                Pending::Media { to, event } => self.deliver_media(to, event),
            }
        }
        true
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

    /// Runs a whole happy call set-up: invite, accept by tab 1, media connected.
    pub fn connect(&mut self) {
        let prompt = velaro_call_protocol::message::invite::Prompt::new(
            "Your agent would like to start a video call. Accept?",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let _ = self.act(0, Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None });
        self.run_for(Duration::from_millis(500));
        let _ = self.act(1, Action::Accept);
        self.run_for(Duration::from_secs(2));
    }

    /// The call's id.
    pub fn call_id(&self) -> &CallId {
        &self.call_id
    }
}
