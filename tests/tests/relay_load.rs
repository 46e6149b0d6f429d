//! Load: 10,000 concurrent calls (20,000 sessions) through one relay in this process, each doing
//! a full set-up (invite, ringing, accept, select, offer, answer, candidates both ways, media) and
//! a hangup. Every frame is counted: sent, delivered, refused; none may be lost or duplicated.
//! Each client acknowledges what it took (`call.ack`, as a `Call` does a second later) before
//! the next step. Prints the relay's memory per live call and the peak RSS.
//!
//! `VELARO_LOAD_CALLS` sets the number of calls (10,000 by default).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::Instant;

use velaro_call_protocol::message::ack::AckBody;
use velaro_call_protocol::message::answer::{AcceptBody, RingingBody, SelectAnswerBody};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::description::{DescriptionBody, SdpType};
use velaro_call_protocol::message::hangup::HangupBody;
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::message::media::MediaBody;
use velaro_call_protocol::{
    CallId, ConversationId, Envelope, Message, NegotiationId, PartyId, Reason, Role, encode,
};
use velaro_signaling::{Relay, RelayConfig, RelayEvent, RelayOutput, SessionId};
use velaro_tests::fixtures::browser_description;

/// The peak resident set size of this process, in KiB (Linux).
/// The calls started and ended among what the relay asked of the host since the last time, as
/// a host drains it after every frame; nothing else is expected (no refusal, no close).
struct Drained {
    started: usize,
    ended: usize,
}

fn drain_outputs(relay: &mut Relay) -> Drained {
    let mut drained = Drained { started: 0, ended: 0 };
    while let Some(output) = relay.poll_output() {
        match output {
            RelayOutput::Transmit(_) => {}
            RelayOutput::Event(RelayEvent::CallStarted { .. }) => drained.started += 1,
            RelayOutput::Event(RelayEvent::CallEnded { .. }) => drained.ended += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    drained
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn current_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Call {
    conversation: ConversationId,
    call_id: CallId,
    agent: SessionId,
    visitor: SessionId,
}

#[test]
#[allow(clippy::disallowed_methods)] // a load test measures with the real clock
fn ten_thousand_concurrent_calls_through_one_relay() {
    let calls: usize =
        std::env::var("VELARO_LOAD_CALLS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let started = Instant::now();
    let now = started;
    let offer = browser_description("chromium-offer-av.json", SdpType::Offer);
    let answer = browser_description("chromium-answer-av.json", SdpType::Answer);
    let candidate = |ufrag: &str, port: u16| {
        let line =
            format!("candidate:{port} 1 udp 2122260223 192.0.2.1 {port} typ host ufrag {ufrag}");
        IceCandidate::new(line.parse().unwrap(), Some("0".into()), Some(0))
    };
    let mut relay = Relay::new(RelayConfig::default());
    let agent_party = PartyId::new("agent").unwrap();
    let visitor_party = PartyId::new("visitor").unwrap();
    let rss_before = current_rss_kib().unwrap_or_default();

    let mut all: Vec<Call> = (0..calls)
        .map(|i| {
            let conversation = ConversationId::new(format!("conv-{i}")).unwrap();
            relay.open_conversation(conversation.clone(), true);
            let agent =
                relay.connect(now, &conversation, Role::Agent, agent_party.clone()).unwrap();
            let visitor =
                relay.connect(now, &conversation, Role::Visitor, visitor_party.clone()).unwrap();
            Call {
                conversation,
                call_id: CallId::new(format!("call-{i}")).unwrap(),
                agent,
                visitor,
            }
        })
        .collect();

    let (mut sent, mut delivered, mut acks) = (0u64, 0u64, 0u64);
    let (mut started_events, mut ended) = (0, 0);
    // Each step, across every call before the next: all 10,000 calls are live at once.
    let steps: Vec<(Role, Box<dyn Fn() -> Message>)> = vec![
        (
            Role::Agent,
            Box::new(|| {
                InviteBody::new(Prompt::new("Video call?").unwrap(), MediaKinds::AUDIO_VIDEO).into()
            }),
        ),
        (Role::Visitor, Box::new(|| RingingBody::new().into())),
        (Role::Visitor, Box::new(|| AcceptBody::new(MediaKinds::AUDIO_VIDEO).into())),
        (Role::Agent, Box::new(|| SelectAnswerBody::new(PartyId::new("visitor").unwrap()).into())),
        (
            Role::Agent,
            Box::new(move || {
                DescriptionBody::new(offer.clone(), NegotiationId::new("a1").unwrap()).into()
            }),
        ),
        (
            Role::Visitor,
            Box::new(move || {
                DescriptionBody::new(answer.clone(), NegotiationId::new("a1").unwrap()).into()
            }),
        ),
        (
            Role::Agent,
            Box::new(move || {
                CandidatesBody::new((0..3).map(|p| candidate("lZ7j", 50_000 + p)).collect()).into()
            }),
        ),
        (
            Role::Visitor,
            Box::new(move || {
                CandidatesBody::new(vec![
                    candidate("LvlJ", 40_000),
                    IceCandidate::end_of_candidates(Some("LvlJ".into())),
                ])
                .into()
            }),
        ),
        (Role::Visitor, Box::new(|| MediaBody::default().into())),
    ];
    let mut seqs = vec![(0u64, 0u64); calls];
    let mut live_memory = 0;
    for (step, (role, message)) in steps.iter().enumerate() {
        for (i, call) in all.iter_mut().enumerate() {
            let seq = if *role == Role::Agent { &mut seqs[i].0 } else { &mut seqs[i].1 };
            *seq += 1;
            let party =
                if *role == Role::Agent { agent_party.clone() } else { visitor_party.clone() };
            let envelope = Envelope::new(
                call.conversation.clone(),
                call.call_id.clone(),
                party,
                *role,
                *seq,
                message(),
            );
            let session = if *role == Role::Agent { call.agent } else { call.visitor };
            relay.handle_frame(now, session, &encode(&envelope)).unwrap();
            sent += 1;
            let to = if *role == Role::Agent { call.visitor } else { call.agent };
            started_events += drain_outputs(&mut relay).started;
            let mut got = 0;
            while let Some(frame) = relay.poll_transmit(to) {
                got += 1;
                assert!(!frame.is_empty());
            }
            assert!(relay.poll_transmit(session).is_none(), "step {step}: nothing refused");
            assert_eq!(got, 1, "step {step} of call {i}: exactly one delivery");
            delivered += got;
            // The receiver acknowledges it: the relay forgets it, forwards and answers nothing.
            let (receiver, receiver_role) = if *role == Role::Agent {
                (visitor_party.clone(), Role::Visitor)
            } else {
                (agent_party.clone(), Role::Agent)
            };
            let sender = if *role == Role::Agent { &agent_party } else { &visitor_party };
            let sender_seq = if *role == Role::Agent { seqs[i].0 } else { seqs[i].1 };
            let receiver_seq = if *role == Role::Agent { &mut seqs[i].1 } else { &mut seqs[i].0 };
            *receiver_seq += 1;
            let ack = Envelope::new(
                call.conversation.clone(),
                call.call_id.clone(),
                receiver,
                receiver_role,
                *receiver_seq,
                AckBody::new(vec![(sender.clone(), sender_seq)]),
            );
            relay.handle_frame(now, to, &encode(&ack)).unwrap();
            acks += 1;
            assert!(relay.poll_output().is_none(), "step {step}: an ack is answered with nothing");
        }
        if step == steps.len() - 1 {
            live_memory = current_rss_kib().unwrap_or_default().saturating_sub(rss_before);
        }
    }
    assert_eq!(started_events, calls);

    for (i, call) in all.iter().enumerate() {
        seqs[i].0 += 1;
        let hangup = Envelope::new(
            call.conversation.clone(),
            call.call_id.clone(),
            agent_party.clone(),
            Role::Agent,
            seqs[i].0,
            HangupBody::new(Reason::UserHangup),
        );
        relay.handle_frame(now, call.agent, &encode(&hangup)).unwrap();
        sent += 1;
        ended += drain_outputs(&mut relay).ended;
        let mut got = 0;
        while relay.poll_transmit(call.visitor).is_some() {
            got += 1;
        }
        assert_eq!(got, 1);
        delivered += got;
    }
    assert_eq!(ended, calls);
    assert_eq!(sent, delivered, "no frame lost, none duplicated, none refused");
    let elapsed = started.elapsed();
    eprintln!(
        "load: {calls} calls, {} sessions, {sent} frames sent, {delivered} delivered, 0 refused, \
         {acks} acks, in {:.2} s; \
         relay memory per live call ~{} B (RSS growth {} KiB with all calls live, frames delivered \
         and replay logs included); peak RSS {} KiB",
        relay.session_count(),
        elapsed.as_secs_f64(),
        live_memory * 1024 / calls.max(1) as u64,
        live_memory,
        peak_rss_kib().unwrap_or_default(),
    );
}
