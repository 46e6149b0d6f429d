//! A complete call through the agent's `Call`, the `Relay` and the visitor's `Call`:
//! invite → ringing → accept → offer/answer → 10 candidates each way → a media change →
//! hangup, with every frame encoded by its sender, decoded, checked, judged and forwarded by
//! the relay, and decoded by its receiver, and every SDP checked (by the relay and by the call
//! machines, on both sides). One iteration is one whole call.
//!
//! `cargo bench -p velaro-benches --bench call_flow`. Also prints the memory of an idle live
//! call (each machine and the relay's conversation state: `size_of` plus heap).

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::description::{SdpType, SessionDescription};
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::message::media::StreamId;
use velaro_call_protocol::{CallId, ConversationId, Message, PartyId, Role, decode, encode};
use velaro_call_state::{
    Action, Call, CallConfig, IceState, MediaCommand, MediaEvent, Output, Phase,
};
use velaro_signaling::{RateLimit, Relay, RelayConfig, RelayOutput, SessionId};

const OFFER: &str = include_str!("../tests/fixtures/browser/chromium-offer-av.json");
const ANSWER: &str = include_str!("../tests/fixtures/browser/chromium-answer-av.json");
const CANDIDATES_EACH_WAY: u16 = 10;

fn sdp(json: &str, sdp_type: SdpType) -> SessionDescription {
    let value: serde_json::Value = serde_json::from_str(json).expect("fixture");
    SessionDescription::new(sdp_type, value["sdp"].as_str().expect("sdp"))
}

/// What one call needs that does not change between iterations.
struct Fixture {
    offer: SessionDescription,
    answer: SessionDescription,
    agent_candidates: Vec<IceCandidate>,
    visitor_candidates: Vec<IceCandidate>,
    conversation: ConversationId,
    call_id: CallId,
    agent: PartyId,
    visitor: PartyId,
}

impl Fixture {
    fn new() -> Fixture {
        let candidates = |ufrag: &str| {
            (0..CANDIDATES_EACH_WAY)
                .map(|i| {
                    let line = format!(
                        "candidate:{i} 1 udp 2122260223 192.0.2.{} {} typ host generation 0 ufrag {ufrag}",
                        i + 1,
                        50_000 + i
                    );
                    IceCandidate::new(line.parse().expect("candidate"), Some("0".into()), Some(0))
                })
                .collect()
        };
        Fixture {
            offer: sdp(OFFER, SdpType::Offer),
            answer: sdp(ANSWER, SdpType::Answer),
            agent_candidates: candidates("lZ7j"),
            visitor_candidates: candidates("LvlJ"),
            conversation: ConversationId::new("conv-bench").expect("id"),
            call_id: CallId::new("call-bench").expect("id"),
            agent: PartyId::new("agent-1").expect("id"),
            visitor: PartyId::new("visitor-1").expect("id"),
        }
    }
}

/// Index 0 is the agent, 1 the visitor.
struct World<'f> {
    fixture: &'f Fixture,
    now: Instant,
    calls: [Option<Call>; 2],
    relay: Relay,
    sessions: [SessionId; 2],
    media: VecDeque<(usize, MediaEvent)>,
    frames: u32,
}

impl<'f> World<'f> {
    fn new(fixture: &'f Fixture, now: Instant) -> World<'f> {
        let config = CallConfig::new(fixture.conversation.clone(), fixture.agent.clone());
        // Candidates trickle in bursts: above the default rate limit, which is not measured here.
        let rate = RateLimit { burst: 1000, per_second: 1000 };
        let mut relay = Relay::new(RelayConfig::default().with_rate(rate));
        relay.open_conversation(fixture.conversation.clone(), true);
        let sessions = [(Role::Agent, &fixture.agent), (Role::Visitor, &fixture.visitor)].map(
            |(role, party)| {
                relay.connect(now, &fixture.conversation, role, party.clone()).expect("session")
            },
        );
        World {
            fixture,
            now,
            calls: [Some(Call::agent(config, fixture.call_id.clone(), now)), None],
            relay,
            sessions,
            media: VecDeque::new(),
            frames: 0,
        }
    }

    /// Drains every output of both calls, moving frames through the codec and the relay
    /// and answering media commands as a browser would.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            for side in 0..2 {
                while let Some(output) = self.calls[side].as_mut().and_then(Call::poll_output) {
                    progressed = true;
                    match output {
                        Output::Send(envelope) => self.relay(side, &encode(&envelope)),
                        Output::Media(command) => self.media_command(side, &command),
                        Output::Event(_) => {}
                    }
                }
            }
            while let Some((side, event)) = self.media.pop_front() {
                progressed = true;
                if let Some(call) = self.calls[side].as_mut() {
                    let _ = call.handle_media(self.now, event);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    fn relay(&mut self, from: usize, frame: &[u8]) {
        self.frames += 1;
        self.relay.handle_frame(self.now, self.sessions[from], frame).expect("session");
        while let Some(output) = self.relay.poll_output() {
            let RelayOutput::Transmit(session) = output else { continue };
            let to = usize::from(session == self.sessions[1]);
            while let Some(forwarded) = self.relay.poll_transmit(session) {
                self.receive(to, &forwarded);
            }
        }
    }

    fn receive(&mut self, to: usize, frame: &[u8]) {
        let received = decode(frame).expect("a forwarded frame decodes");
        match self.calls[to].as_mut() {
            Some(call) => {
                let _ = call.handle_message(self.now, received);
            }
            None => {
                let config = CallConfig::new(
                    self.fixture.conversation.clone(),
                    self.fixture.visitor.clone(),
                );
                self.calls[to] = Call::visitor(config, &received, self.now).ok();
            }
        }
    }

    fn media_command(&mut self, side: usize, command: &MediaCommand) {
        let stream = || StreamId::new("camera").expect("id");
        match command {
            MediaCommand::RequestUserMedia(media) => {
                self.media.push_back((
                    side,
                    MediaEvent::PermissionGranted { media: *media, stream_id: stream() },
                ));
            }
            MediaCommand::CreateOffer { .. } => {
                self.media
                    .push_back((side, MediaEvent::LocalDescription(self.fixture.offer.clone())));
                self.gather(side);
            }
            MediaCommand::CreateAnswer => {
                self.media
                    .push_back((side, MediaEvent::LocalDescription(self.fixture.answer.clone())));
                self.gather(side);
            }
            _ => {}
        }
    }

    fn gather(&mut self, side: usize) {
        let candidates = if side == 0 {
            &self.fixture.agent_candidates
        } else {
            &self.fixture.visitor_candidates
        };
        for candidate in candidates {
            self.media.push_back((side, MediaEvent::LocalCandidate(candidate.clone())));
        }
        self.media.push_back((side, MediaEvent::GatheringComplete));
    }

    fn act(&mut self, side: usize, action: Action) {
        if let Some(call) = self.calls[side].as_mut() {
            call.handle_action(self.now, action).expect("action accepted");
        }
        self.pump();
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.relay.handle_timeout(self.now);
        for call in self.calls.iter_mut().flatten() {
            call.handle_timeout(self.now);
        }
        self.pump();
    }

    fn phases(&self) -> [Phase; 2] {
        [0, 1].map(|side| self.calls[side].as_ref().map_or(Phase::Idle, Call::phase))
    }
}

/// Runs a call up to media flowing.
fn connect<'f>(fixture: &'f Fixture, now: Instant) -> World<'f> {
    let mut world = World::new(fixture, now);
    let prompt =
        Prompt::new("Your agent would like to start a video call. Accept?").expect("prompt");
    world.act(
        0,
        Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false },
    );
    world.act(1, Action::Accept);
    world.advance(Duration::from_millis(200)); // the candidate batches go out
    for side in 0..2 {
        world.media.push_back((side, MediaEvent::Ice(IceState::Connected)));
    }
    world.pump();
    world
}

fn complete_call(fixture: &Fixture, now: Instant) -> u32 {
    let mut world = connect(fixture, now);
    world.act(1, Action::SetMicrophoneMuted(true));
    world.advance(Duration::from_secs(60));
    world.act(0, Action::Hangup);
    world.frames
}

fn check(fixture: &Fixture, now: Instant) {
    let world = connect(fixture, now);
    assert_eq!(world.phases(), [Phase::Active, Phase::Active], "the call connects");
    let mut world = World::new(fixture, now);
    let prompt = Prompt::new("?").expect("prompt");
    world.act(
        0,
        Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false },
    );
    assert!(world.calls[1].is_some(), "the visitor rings");
    let frames = complete_call(fixture, now);
    eprintln!("one complete call: {frames} frames through the relay");
}

fn memory(fixture: &Fixture, now: Instant) {
    let world = connect(fixture, now);
    let [agent, visitor] =
        [0, 1].map(|side| world.calls[side].as_ref().map_or(0, Call::memory_estimate));
    eprintln!(
        "idle live call: agent Call {agent} B, visitor Call {visitor} B (size_of {} B each), relay conversation {} B (frames excluded)",
        size_of::<Call>(),
        world.relay.conversation_memory(&fixture.conversation).unwrap_or_default(),
    );
    let _ = Message::TYPES;
}

fn benches(c: &mut Criterion) {
    let fixture = Fixture::new();
    #[allow(clippy::disallowed_methods)] // the bench owns one real instant; calls take it as input
    let now = Instant::now();
    check(&fixture, now);
    memory(&fixture, now);
    let mut group = c.benchmark_group("call_flow");
    group.throughput(Throughput::Elements(1));
    group.bench_function("complete_call", |b| b.iter(|| complete_call(black_box(&fixture), now)));
    group.finish();
}

criterion_group!(call_flow, benches);
criterion_main!(call_flow);
