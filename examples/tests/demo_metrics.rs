//! The demo's `/metrics` (issue 13), scraped as Prometheus would after a scripted call between
//! two pages: exact counters and gauges.
//!
//! One test in this binary: the demo installs its Prometheus recorder as the process's `metrics`
//! recorder, so another test here would add to the same counters.

#![allow(clippy::disallowed_methods)] // tests own their clocks

use std::time::Duration;

use serde_json::json;
use velaro_demo::{DemoConfig, DemoServer};
use velaro_signaling::RelayConfig;

#[path = "support/pages.rs"]
mod pages;
use pages::{Page, envelope, frames_until, get, join, next, open, send};

/// A page joined as a browser opens it ([`join`]), past its welcome: the socket, the party id
/// the server gave it, and the token for its next connect (from the welcome).
async fn joined(server: &DemoServer, role: &str, conversation: &str) -> (Page, String, String) {
    let (mut page, party) = join(server, role, conversation).await;
    let welcome = next(&mut page).await;
    assert_eq!(welcome["type"], "host.welcome");
    let fresh = welcome["token"].as_str().expect("a token for the next connect").to_owned();
    (page, party, fresh)
}

/// `GET /metrics`: its body, once the response says it is Prometheus text.
async fn scrape(server: &DemoServer) -> String {
    let response = get(server, "/metrics").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let (head, body) = response.split_once("\r\n\r\n").expect("a body");
    assert!(head.contains("content-type: text/plain; version=0.0.4"), "{head}");
    body.to_owned()
}

/// The value of one series (`name` or `name{label="value"}`) in a scrape.
fn value(scrape: &str, series: &str) -> f64 {
    let line = scrape
        .lines()
        .find(|line| line.strip_prefix(series).is_some_and(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no `{series}` in\n{scrape}"));
    line[series.len()..].trim().parse().expect("a number")
}

/// Asserts each series' value.
fn assert_values(scrape: &str, expected: &[(&str, f64)]) {
    for (series, want) in expected {
        #[allow(clippy::float_cmp)] // counts, exact in f64
        let same = value(scrape, series) == *want;
        assert!(same, "{series} is {}, not {want}, in\n{scrape}", value(scrape, series));
    }
}

#[tokio::test]
async fn metrics_after_a_call_with_a_refusal_and_a_resume_are_exact() {
    let grace = Duration::from_millis(500);
    let relay = RelayConfig::default().with_grace(grace);
    let config = DemoConfig { addr: ([127, 0, 0, 1], 0).into(), relay, ..DemoConfig::default() };
    let server = DemoServer::start(config).await.expect("the demo server starts");

    let before = scrape(&server).await;
    assert!(before.contains("# TYPE velaro_frames_routed_total counter"), "{before}");
    assert_values(&before, &[("velaro_sessions", 0.0), ("velaro_frames_routed_total", 0.0)]);

    let (mut agent, agent_party, _) = joined(&server, "agent", "conv-metrics").await;
    let (mut visitor, visitor_party, fresh) = joined(&server, "visitor", "conv-metrics").await;

    // A visitor may not invite: refused `forbidden`.
    let invite = json!({"prompt": {"text": "Video call?"}, "media": {"audio": true, "video": true},
        "lifetime_ms": 60000});
    send(
        &mut visitor,
        &envelope("conv-metrics", &visitor_party, "visitor", 1, "call.invite", invite.clone()),
    )
    .await;
    let refused = frames_until(&mut visitor, "call.rejected").await.pop().expect("refusal");
    assert_eq!(refused["body"]["code"], "forbidden");

    // Routed: the invite, the accept, the agent's first `call.media` (media connected 100 ms
    // after the accept), its hangup.
    send(&mut agent, &envelope("conv-metrics", &agent_party, "agent", 1, "call.invite", invite))
        .await;
    frames_until(&mut visitor, "call.invite").await;
    let accept = json!({"media": {"audio": true, "video": true}});
    send(
        &mut visitor,
        &envelope("conv-metrics", &visitor_party, "visitor", 2, "call.accept", accept),
    )
    .await;
    frames_until(&mut agent, "call.accept").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let media = json!({"streams": {"cam-1": {"purpose": "camera", "audio_muted": false,
        "video_muted": false}}});
    send(&mut agent, &envelope("conv-metrics", &agent_party, "agent", 2, "call.media", media))
        .await;
    frames_until(&mut visitor, "call.media").await;

    // The visitor's connection drops; meanwhile the agent hangs up; it comes back and resumes.
    visitor.close(None).await.expect("closed");
    drop(visitor);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_values(&scrape(&server).await, &[("velaro_sessions", 1.0)]);
    let hangup = json!({"reason": {"code": "user_hangup"}});
    send(&mut agent, &envelope("conv-metrics", &agent_party, "agent", 3, "call.hangup", hangup))
        .await;
    let resume = format!("conversation=conv-metrics&token={fresh}&resume={agent_party}:2");
    let mut visitor = open(&server, &resume).await.expect("the page comes back");
    frames_until(&mut visitor, "call.hangup").await;

    let after_call = scrape(&server).await;
    assert_values(
        &after_call,
        &[
            ("velaro_sessions", 2.0),
            ("velaro_conversations", 1.0),
            ("velaro_queued_frames", 0.0),
            ("velaro_calls_started_total", 1.0),
            ("velaro_calls_ended_total{outcome=\"answered\"}", 1.0),
            ("velaro_frames_routed_total", 4.0),
            ("velaro_frames_refused_total{code=\"forbidden\"}", 1.0),
            ("velaro_frames_dropped_total", 0.0),
            ("velaro_resumes_total", 1.0),
            ("velaro_frames_replayed_total", 1.0),
            ("velaro_slow_sessions_closed_total", 0.0),
            ("velaro_grace_expired_total", 0.0),
            ("velaro_accept_to_media_seconds_count", 1.0),
            ("velaro_accept_to_media_seconds_bucket{le=\"30\"}", 1.0),
        ],
    );
    let accept_to_media = value(&after_call, "velaro_accept_to_media_seconds_sum");
    assert!((0.1..30.0).contains(&accept_to_media), "{accept_to_media} s from accept to media");
    assert!(!after_call.contains("velaro_frames_refused_total{code=\"rate_limited\"}"));

    // Both pages leave: past the grace both parties are forgotten and the conversation freed.
    agent.close(None).await.expect("closed");
    visitor.close(None).await.expect("closed");
    tokio::time::sleep(grace + Duration::from_millis(700)).await;
    assert_values(
        &scrape(&server).await,
        &[
            ("velaro_sessions", 0.0),
            ("velaro_conversations", 0.0),
            ("velaro_queued_frames", 0.0),
            ("velaro_grace_expired_total", 2.0),
            ("velaro_calls_ended_total{outcome=\"answered\"}", 1.0),
        ],
    );
    server.stop().await.expect("stops");
}
