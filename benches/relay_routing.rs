//! Relay routing throughput for candidates-sized frames (decode with limits, referee, stamp,
//! encode, queue) against a bare `serde_json` decode + encode of the same frame, in one run.
//! Also prints one conversation's relay state with a live call.
//!
//! `cargo bench -p velaro-benches --bench relay_routing`.

use std::hint::black_box;
use std::time::Instant;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use velaro_call_protocol::message::answer::{AcceptBody, SelectAnswerBody};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, Role, encode};
use velaro_signaling::{RateLimit, Relay, RelayConfig, SessionId};

/// Frames routed per batch: under the referee's 100-candidates-per-direction cap.
const FRAMES: u64 = 90;

struct LiveCall {
    relay: Relay,
    agent: SessionId,
    visitor: SessionId,
    frames: Vec<Vec<u8>>,
}

fn frame(seq: u64, role: Role, message: impl Into<Message>) -> Vec<u8> {
    let party = if role == Role::Agent { "agent-1" } else { "visitor-1" };
    encode(&Envelope::new(
        ConversationId::new("conv-1").expect("id"),
        CallId::new("call-1").expect("id"),
        PartyId::new(party).expect("id"),
        role,
        seq,
        message,
    ))
}

fn candidates(seq: u64) -> Vec<u8> {
    let line = "candidate:275346429 1 udp 2122260223 127.0.0.1 43974 typ host generation 0 ufrag lZ7j network-id 1 network-cost 50";
    let candidate = IceCandidate::new(line.parse().expect("candidate"), Some("0".into()), Some(0))
        .with_username_fragment("lZ7j");
    frame(seq, Role::Agent, CandidatesBody::new(vec![candidate]))
}

/// A relay with one answered call, and the agent's next candidates frames.
fn live_call(now: Instant) -> LiveCall {
    // A burst of 90 frames at one instant: above the default rate limit, which is not measured here.
    let rate = RateLimit { burst: 1000, per_second: 1000 };
    let mut relay = Relay::new(RelayConfig::default().with_rate(rate));
    let conversation = ConversationId::new("conv-1").expect("id");
    relay.open_conversation(conversation.clone(), true);
    let agent = relay
        .connect(now, &conversation, Role::Agent, PartyId::new("agent-1").expect("id"))
        .expect("session");
    let visitor = relay
        .connect(now, &conversation, Role::Visitor, PartyId::new("visitor-1").expect("id"))
        .expect("session");
    let invite =
        InviteBody::new(Prompt::new("Video call?").expect("prompt"), MediaKinds::AUDIO_VIDEO);
    relay.handle_frame(now, agent, &frame(1, Role::Agent, invite)).expect("frame");
    relay
        .handle_frame(
            now,
            visitor,
            &frame(1, Role::Visitor, AcceptBody::new(MediaKinds::AUDIO_VIDEO)),
        )
        .expect("frame");
    let select = SelectAnswerBody::new(PartyId::new("visitor-1").expect("id"));
    relay.handle_frame(now, agent, &frame(2, Role::Agent, select)).expect("frame");
    while relay.poll_transmit(agent).is_some() || relay.poll_transmit(visitor).is_some() {}
    let frames = (3..3 + FRAMES).map(candidates).collect();
    LiveCall { relay, agent, visitor, frames }
}

fn route(call: &mut LiveCall, now: Instant) -> usize {
    let mut delivered = 0;
    for frame in &call.frames {
        call.relay.handle_frame(now, call.agent, frame).expect("session");
        while call.relay.poll_output().is_some() {}
        while let Some(out) = call.relay.poll_transmit(call.visitor) {
            delivered += out.len();
        }
    }
    delivered
}

fn benches(c: &mut Criterion) {
    #[allow(clippy::disallowed_methods)] // the bench owns one real instant
    let now = Instant::now();
    let mut check = live_call(now);
    let frame_len = check.frames[0].len();
    assert!(route(&mut check, now) > 0, "the frames are delivered");
    assert!(check.relay.poll_transmit(check.agent).is_none(), "none refused");
    let conversation = ConversationId::new("conv-1").expect("id");
    eprintln!(
        "candidates frame {frame_len} B; one conversation with a live call: relay state {} B \
         (frames excluded)",
        live_call(now).relay.conversation_memory(&conversation).unwrap_or_default()
    );

    let mut group = c.benchmark_group("relay_routing");
    group.throughput(Throughput::Elements(FRAMES));
    group.bench_function("velaro_relay", |b| {
        b.iter_batched_ref(|| live_call(now), |call| route(call, now), BatchSize::SmallInput);
    });
    let frames: Vec<Vec<u8>> = (3..3 + FRAMES).map(candidates).collect();
    group.bench_function("bare_serde_json_round_trip", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for frame in &frames {
                let value: serde_json::Value =
                    serde_json::from_slice(black_box(frame)).expect("json");
                bytes += serde_json::to_vec(&value).expect("json").len();
            }
            bytes
        });
    });
    group.finish();
}

criterion_group!(relay_routing, benches);
criterion_main!(relay_routing);
