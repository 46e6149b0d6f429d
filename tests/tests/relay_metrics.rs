//! The relay's metrics (issue 13, feature `metrics`) after a scripted call on the sans-IO
//! `Relay`, read from a Prometheus recorder: exact counters, and gauges that come back to zero
//! when sessions close, conversations are freed and a relay is dropped.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::time::{Duration, Instant};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use velaro_call_protocol::{ConversationId, PartyId, Role};
use velaro_signaling::{Relay, RelayConfig, RelayOutput, SessionId};

fn frame(party: &str, role: &str, seq: u64, kind: &str, body: &str) -> Vec<u8> {
    format!(
        r#"{{"type":"{kind}","version":1,"conversation_id":"conv-1","call_id":"call-1",
        "party_id":"{party}","role":"{role}","seq":{seq},"body":{body}}}"#
    )
    .into_bytes()
}

const INVITE: &str =
    r#"{"prompt":{"text":"Video call?"},"media":{"audio":true,"video":true},"lifetime_ms":60000}"#;
const ACCEPT: &str = r#"{"media":{"audio":true,"video":true}}"#;
const MEDIA: &str =
    r#"{"streams":{"cam-1":{"purpose":"camera","audio_muted":false,"video_muted":false}}}"#;

/// Hands `frame` to the relay as read from `session`'s socket.
fn read(relay: &mut Relay, now: Instant, session: SessionId, frame: &[u8]) {
    relay.handle_frame(now, session, frame).unwrap();
}

/// Acts on every output as a host would, writing (draining) the queues of `draining` only.
fn drain(relay: &mut Relay, draining: &[SessionId]) -> Vec<RelayOutput> {
    let outputs: Vec<RelayOutput> = std::iter::from_fn(|| relay.poll_output()).collect();
    for session in draining {
        while relay.poll_transmit(*session).is_some() {}
    }
    outputs
}

/// The value of one series in the recorder's Prometheus text.
fn value(handle: &PrometheusHandle, series: &str) -> f64 {
    let text = handle.render();
    let line = text
        .lines()
        .find(|line| line.strip_prefix(series).is_some_and(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no `{series}` in\n{text}"));
    line[series.len()..].trim().parse().unwrap()
}

#[track_caller]
fn assert_values(handle: &PrometheusHandle, expected: &[(&str, f64)]) {
    for (series, want) in expected {
        let got = value(handle, series);
        #[allow(clippy::float_cmp)] // counts, exact in f64
        let same = got == *want;
        assert!(same, "{series} is {got}, not {want}, in\n{}", handle.render());
    }
}

#[test]
fn a_scripted_call_counts_exactly_and_the_gauges_come_back_to_zero() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    #[allow(clippy::disallowed_methods)] // a fixed start; the script moves time itself
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    let grace = Duration::from_secs(20);
    metrics::with_local_recorder(&recorder, || {
        let config = RelayConfig::default().with_max_queued(16).with_grace(grace);
        let mut relay = Relay::new(config);
        let conversation = ConversationId::new("conv-1").unwrap();
        relay.open_conversation(conversation.clone(), true);
        let agent_id = PartyId::new("agent-1").unwrap();
        let agent = relay.connect(t0, &conversation, Role::Agent, agent_id.clone()).unwrap();
        let visitor_id = PartyId::new("visitor-1").unwrap();
        let visitor = relay.connect(t0, &conversation, Role::Visitor, visitor_id).unwrap();
        assert!(relay.connect(t0, &conversation, Role::Visitor, agent_id.clone()).is_err());
        assert_values(&handle, &[("velaro_sessions", 2.0), ("velaro_conversations", 1.0)]);

        // Refused (a visitor's invite), routed (the invite, the accept), dropped (the same
        // accept again), routed (the agent's media 2 s after the accept).
        read(&mut relay, t0, visitor, &frame("visitor-1", "visitor", 1, "call.invite", INVITE));
        read(&mut relay, t0, agent, &frame("agent-1", "agent", 1, "call.invite", INVITE));
        let accept = frame("visitor-1", "visitor", 2, "call.accept", ACCEPT);
        read(&mut relay, at(1), visitor, &accept);
        read(&mut relay, at(1), visitor, &accept);
        read(&mut relay, at(3), agent, &frame("agent-1", "agent", 2, "call.media", MEDIA));
        drain(&mut relay, &[agent, visitor]);
        assert_values(&handle, &[("velaro_queued_frames", 0.0)]);

        // The agent's page stops reading: the 17th frame waiting for it closes it.
        for seq in 3..23 {
            let media = frame("visitor-1", "visitor", seq, "call.media", MEDIA);
            read(&mut relay, at(4), visitor, &media);
        }
        let outputs = drain(&mut relay, &[visitor]);
        assert!(outputs.contains(&RelayOutput::Close(agent)), "{outputs:?}");
        assert_values(&handle, &[("velaro_queued_frames", 0.0)]);
        relay.disconnect(at(5), agent).unwrap();

        // It comes back having seen the visitor's frames up to seq 16: six are replayed.
        let agent = relay.connect(at(6), &conversation, Role::Agent, agent_id).unwrap();
        relay.resume(agent, &[(PartyId::new("visitor-1").unwrap(), 16)]).unwrap();
        assert_values(&handle, &[("velaro_queued_frames", 6.0), ("velaro_sessions", 2.0)]);
        read(&mut relay, at(7), agent, &frame("agent-1", "agent", 3, "call.hangup", "{}"));
        drain(&mut relay, &[agent, visitor]);

        // Both leave; past the grace they are forgotten and the conversation is freed.
        relay.disconnect(at(8), agent).unwrap();
        relay.disconnect(at(8), visitor).unwrap();
        relay.handle_timeout(at(8) + grace);
        assert_eq!((relay.session_count(), relay.conversation_count()), (0, 0));
        assert_values(
            &handle,
            &[
                ("velaro_sessions", 0.0),
                ("velaro_conversations", 0.0),
                ("velaro_queued_frames", 0.0),
                ("velaro_calls_started_total", 1.0),
                ("velaro_calls_ended_total{outcome=\"answered\"}", 1.0),
                ("velaro_frames_routed_total", 24.0),
                ("velaro_frames_refused_total{code=\"forbidden\"}", 1.0),
                ("velaro_frames_dropped_total", 1.0),
                ("velaro_resumes_total", 1.0),
                ("velaro_frames_replayed_total", 6.0),
                ("velaro_slow_sessions_closed_total", 1.0),
                ("velaro_grace_expired_total", 2.0),
                ("velaro_connects_refused_total{reason=\"role_conflict\"}", 1.0),
                ("velaro_accept_to_media_seconds_count", 1.0),
                ("velaro_accept_to_media_seconds_sum", 2.0),
            ],
        );

        // A relay dropped with sessions, frames waiting and a conversation open takes them
        // off the gauges.
        let mut relay = Relay::new(RelayConfig::default());
        relay.open_conversation(conversation.clone(), true);
        let agent = relay.connect(t0, &conversation, Role::Agent, PartyId::new("a").unwrap());
        let agent = agent.unwrap();
        read(&mut relay, t0, agent, b"[]");
        assert_values(
            &handle,
            &[
                ("velaro_sessions", 1.0),
                ("velaro_conversations", 1.0),
                ("velaro_queued_frames", 1.0),
                ("velaro_frames_refused_total{code=\"invalid\"}", 1.0),
            ],
        );
        drop(relay);
        assert_values(
            &handle,
            &[
                ("velaro_sessions", 0.0),
                ("velaro_conversations", 0.0),
                ("velaro_queued_frames", 0.0),
            ],
        );
    });
}
