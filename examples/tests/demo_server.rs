//! The demo server as its pages see it, without a browser: the welcome, the chat beside call
//! frames, the relay's refusals, the feature switch per plan, the headers, bad joins.

#![allow(clippy::disallowed_methods)] // tests own their clocks

use std::time::{Duration, SystemTime};

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use velaro_demo::{DemoConfig, DemoServer, TurnConfig};
use velaro_ice_config::{IceTransportPolicy, TurnCredentials, TurnSecret};

type Page = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

const SECRET: &str = "demo-server-test-secret-0123";

async fn server(config: DemoConfig) -> DemoServer {
    let config = DemoConfig { addr: ([127, 0, 0, 1], 0).into(), ..config };
    DemoServer::start(config).await.expect("the demo server starts")
}

async fn join(server: &DemoServer, role: &str, conversation: &str, party: &str) -> Page {
    let url =
        format!("ws://{}/ws?role={role}&conversation={conversation}&party={party}", server.addr());
    tokio_tungstenite::connect_async(url).await.expect("the page connects").0
}

async fn next(page: &mut Page) -> Value {
    let frame = tokio::time::timeout(Duration::from_secs(5), page.next())
        .await
        .expect("a frame within 5 s")
        .expect("the socket is open")
        .expect("a good frame");
    serde_json::from_str(frame.to_text().expect("text")).expect("JSON")
}

async fn send(page: &mut Page, frame: &Value) {
    page.send(Message::text(frame.to_string())).await.expect("sent");
}

fn invite(conversation: &str) -> Value {
    json!({"type": "call.invite", "version": 1, "conversation_id": conversation,
        "call_id": "call-1", "party_id": "agent-1", "role": "agent", "seq": 1,
        "body": {"prompt": {"text": "Your agent would like to start a video call. Accept?"},
            "media": {"audio": true, "video": true}, "lifetime_ms": 60000}})
}

/// A demo with a TURN server whose credentials last `ttl`, and relay-only visitors.
fn relay_only(ttl: Duration) -> DemoConfig {
    let turn = TurnConfig {
        urls: vec!["turn:127.0.0.1:3478".parse().expect("url")],
        secret: TurnSecret::new(SECRET).expect("secret"),
        ttl,
    };
    DemoConfig {
        turn: Some(turn),
        visitor_policy: IceTransportPolicy::Relay,
        ..DemoConfig::default()
    }
}

#[tokio::test]
async fn a_page_is_welcomed_with_its_ice_configuration_and_help() {
    let server = server(relay_only(Duration::from_secs(600))).await;
    let mut visitor = join(&server, "visitor", "conv-1", "visitor-1").await;
    let welcome = next(&mut visitor).await;
    assert_eq!(welcome["type"], "host.welcome");
    assert_eq!(welcome["party_id"], "visitor-1");
    assert_eq!(welcome["role"], "visitor");
    assert_eq!(welcome["video_enabled"], true);
    assert_eq!(welcome["ice"]["iceTransportPolicy"], "relay");
    let turn = &welcome["ice"]["iceServers"][0];
    assert_eq!(turn["urls"], json!(["turn:127.0.0.1:3478"]));
    let (username, password) = (turn["username"].as_str(), turn["credential"].as_str());
    let (username, password) = (username.expect("username"), password.expect("credential"));
    assert!(username.ends_with(":visitor-1"), "minted for this party: {username}");
    let secret = TurnSecret::new(SECRET).expect("secret");
    assert!(
        TurnCredentials::verify(username, password, SystemTime::now(), &secret, None).is_ok(),
        "coturn would accept the credentials"
    );
    assert!(welcome["help"]["camera"].as_str().is_some_and(|h| !h.is_empty()));

    // Before an ICE restart the page asks for fresh credentials.
    send(&mut visitor, &json!({"type": "host.ice_refresh"})).await;
    let ice = next(&mut visitor).await;
    assert_eq!(ice["type"], "host.ice");
    assert_eq!(ice["ice"]["iceServers"][0]["urls"], json!(["turn:127.0.0.1:3478"]));

    let mut agent = join(&server, "agent", "conv-1", "agent-1").await;
    let welcome = next(&mut agent).await;
    assert_eq!(welcome["ice"]["iceTransportPolicy"], "all", "the agent's own policy");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn chat_and_calls_share_one_socket_and_the_relay_judges_the_calls() {
    let server = server(DemoConfig::default()).await;
    let mut agent = join(&server, "agent", "conv-2", "agent-1").await;
    let mut visitor = join(&server, "visitor", "conv-2", "visitor-1").await;
    assert_eq!(next(&mut agent).await["type"], "host.welcome");
    assert_eq!(next(&mut visitor).await["type"], "host.welcome");

    send(&mut visitor, &json!({"type": "chat.message", "text": "hello"})).await;
    for page in [&mut agent, &mut visitor] {
        let line = next(page).await;
        let from_visitor = json!({"type": "chat.message", "from": "visitor",
            "party_id": "visitor-1", "text": "hello"});
        assert_eq!(line, from_visitor);
    }

    // A visitor may not invite: the relay refuses it, only to the visitor.
    send(&mut visitor, &invite("conv-2")).await;
    let refused = next(&mut visitor).await;
    assert_eq!(refused["type"], "call.rejected");
    assert_eq!(refused["body"]["code"], "forbidden");

    // The agent's invite reaches the visitor, stamped by the relay.
    send(&mut agent, &invite("conv-2")).await;
    let invite = next(&mut visitor).await;
    assert_eq!(invite["type"], "call.invite");
    assert_eq!(invite["party_id"], "agent-1");

    // A page that joins later gets the chat so far.
    let mut late = join(&server, "visitor", "conv-2", "visitor-2").await;
    assert_eq!(next(&mut late).await["type"], "host.welcome");
    assert_eq!(next(&mut late).await["text"], "hello");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_plan_without_video_refuses_the_invite() {
    let server = server(DemoConfig::default()).await;
    let mut agent = join(&server, "agent", "basic-7", "agent-1").await;
    assert_eq!(next(&mut agent).await["video_enabled"], false);
    send(&mut agent, &invite("basic-7")).await;
    let refused = next(&mut agent).await;
    assert_eq!(refused["body"]["code"], "feature_disabled");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn broken_host_frames_get_an_error_and_the_socket_stays_open() {
    let server = server(DemoConfig::default()).await;
    let mut agent = join(&server, "agent", "conv-3", "agent-1").await;
    next(&mut agent).await;
    send(&mut agent, &json!({"type": "chat.message", "words": "no text field"})).await;
    let error = next(&mut agent).await;
    assert_eq!(error["type"], "host.error");
    assert!(error["detail"].as_str().is_some_and(|d| d.contains("text")), "{error}");
    send(&mut agent, &json!({"type": "chat.message", "text": "still here"})).await;
    assert_eq!(next(&mut agent).await["text"], "still here");
    server.stop().await.expect("stops");
}

/// One plain HTTP/1.1 request; the whole response as text.
async fn get(server: &DemoServer, path: &str) -> String {
    let mut stream = TcpStream::connect(server.addr()).await.expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response");
    response
}

#[tokio::test]
async fn pages_carry_the_embed_headers_and_bad_joins_are_refused() {
    let server = server(DemoConfig::default()).await;
    let page = get(&server, "/visitor?conversation=demo").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let origin = format!("http://{}", server.addr());
    let csp = format!("connect-src 'self' {origin} ws://{}", server.addr());
    assert!(page.contains(&csp), "CSP lets the page reach the signaling origin: {page}");
    assert!(
        page.contains(
            "permissions-policy: camera=(self), microphone=(self), display-capture=(self)"
        )
    );
    assert!(get(&server, "/static/velaro-call.js").await.contains("export class Call"));
    assert!(get(&server, "/static/missing.js").await.starts_with("HTTP/1.1 404"));

    for (query, complaint) in [
        ("role=boss&conversation=c&party=p", "role must be agent or visitor"),
        ("role=agent&conversation=has%20space&party=p", "conversation"),
        ("role=agent&conversation=c&party=", "party"),
        ("role=agent&conversation=c&party=p&resume=agent-1", "resume"),
    ] {
        let url = format!("ws://{}/ws?{query}", server.addr());
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 400, "{query}");
                let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
                assert!(body.contains(complaint), "{query}: {body}");
            }
            other => panic!("{query}: expected a 400, got {other:?}"),
        }
    }
    server.stop().await.expect("stops");
}

/// The `iceServers[0]` credentials of a `host.welcome` or `host.ice` frame.
fn turn_credentials(frame: &Value) -> (String, String) {
    let turn = &frame["ice"]["iceServers"][0];
    let username = turn["username"].as_str().expect("username").to_owned();
    let password = turn["credential"].as_str().expect("credential").to_owned();
    (username, password)
}

/// Whether coturn would accept the credentials now.
fn valid_now((username, password): &(String, String)) -> bool {
    let secret = TurnSecret::new(SECRET).expect("secret");
    TurnCredentials::verify(username, password, SystemTime::now(), &secret, None).is_ok()
}

/// The frames a page gets up to and including the first of type `kind`.
async fn frames_until(page: &mut Page, kind: &str) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = next(page).await;
        let done = frame["type"] == kind;
        frames.push(frame);
        if done {
            return frames;
        }
    }
}

fn envelope(
    conversation: &str,
    party: &str,
    role: &str,
    seq: u64,
    kind: &str,
    body: Value,
) -> Value {
    json!({"type": kind, "version": 1, "conversation_id": conversation, "call_id": "call-1",
        "party_id": party, "role": role, "seq": seq, "body": body})
}

/// Item 11: credentials minted at connect expire while a page stays open (agent consoles stay
/// open all day); each call gets fresh ones: the visitor's before the invite rings, the agent's
/// before the accept makes it create its peer connection.
#[tokio::test]
async fn a_page_open_longer_than_the_credentials_gets_fresh_ones_for_each_call() {
    // Stands in for the hour a page outlives: minted at t expire at ⌊t⌋ + 2 s.
    let config = relay_only(Duration::from_secs(2));
    let server = server(DemoConfig { agent_policy: IceTransportPolicy::Relay, ..config }).await;
    let mut agent = join(&server, "agent", "conv-ttl", "agent-1").await;
    let mut visitor = join(&server, "visitor", "conv-ttl", "visitor-1").await;
    let agent_welcome = turn_credentials(&next(&mut agent).await);
    let visitor_welcome = turn_credentials(&next(&mut visitor).await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!valid_now(&agent_welcome) && !valid_now(&visitor_welcome), "connected long ago");

    for seq in 1..=2 {
        let call_id = format!("call-{seq}");
        let mut invite = invite("conv-ttl");
        invite["call_id"] = json!(call_id);
        invite["seq"] = json!(seq);
        send(&mut agent, &invite).await;
        let frames = frames_until(&mut visitor, "call.invite").await;
        let fresh = frames.iter().find(|f| f["type"] == "host.ice");
        let fresh =
            fresh.unwrap_or_else(|| panic!("fresh ICE before the invite rings: {frames:?}"));
        let credentials = turn_credentials(fresh);
        assert!(valid_now(&credentials), "the visitor's credentials are valid at call time");
        assert!(credentials.0.ends_with(":visitor-1"), "minted for the visitor: {credentials:?}");
        assert_eq!(fresh["ice"]["iceTransportPolicy"], "relay");

        let mut accept =
            envelope("conv-ttl", "visitor-1", "visitor", seq, "call.accept", json!({}));
        accept["call_id"] = json!(call_id);
        accept["body"] = json!({"media": {"audio": true, "video": true}});
        send(&mut visitor, &accept).await;
        let frames = frames_until(&mut agent, "call.accept").await;
        let fresh = frames.iter().find(|f| f["type"] == "host.ice");
        let fresh = fresh.unwrap_or_else(|| panic!("fresh ICE before the accept: {frames:?}"));
        let credentials = turn_credentials(fresh);
        assert!(valid_now(&credentials), "the agent's credentials are valid at call time");
        assert!(credentials.0.ends_with(":agent-1"), "minted for the agent: {credentials:?}");

        let mut hangup =
            envelope("conv-ttl", "agent-1", "agent", seq + 10, "call.hangup", json!({}));
        hangup["call_id"] = json!(call_id);
        hangup["body"] = json!({"reason": {"code": "user_hangup"}});
        send(&mut agent, &hangup).await;
        frames_until(&mut visitor, "call.hangup").await;
        // The next call's credentials are minted at its own start, seconds later.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    server.stop().await.expect("stops");
}

/// Item 13: one setting, `visitor_policy: Relay` (the server's `--relay-only`), gives the
/// visitor's browser `iceTransportPolicy: "relay"` and makes the relay drop whatever else a
/// visitor sends, so the agent never learns the visitor's addresses.
#[tokio::test]
async fn relay_only_visitors_candidates_are_filtered_by_the_relay_too() {
    let server = server(relay_only(Duration::from_secs(600))).await;
    let mut agent = join(&server, "agent", "conv-private", "agent-1").await;
    let mut visitor = join(&server, "visitor", "conv-private", "visitor-1").await;
    next(&mut agent).await;
    assert_eq!(next(&mut visitor).await["ice"]["iceTransportPolicy"], "relay");
    send(&mut agent, &invite("conv-private")).await;
    frames_until(&mut visitor, "call.invite").await;
    let accept = json!({"media": {"audio": true, "video": true}});
    send(&mut visitor, &envelope("conv-private", "visitor-1", "visitor", 1, "call.accept", accept))
        .await;
    frames_until(&mut agent, "call.accept").await;

    // A visitor's browser that ignores the policy (or a forged page) trickles its addresses.
    let host = "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0";
    let srflx = "candidate:2 1 udp 1686052607 198.51.100.20 54321 typ srflx raddr 192.168.1.20 \
                 rport 54321 generation 0";
    let relay = "candidate:3 1 udp 41885439 203.0.113.5 3478 typ relay raddr 198.51.100.20 \
                 rport 54321 generation 0";
    let candidates = json!({"candidates": [
        {"candidate": host, "sdpMid": "0", "sdpMLineIndex": 0},
        {"candidate": srflx, "sdpMid": "0", "sdpMLineIndex": 0},
        {"candidate": relay, "sdpMid": "0", "sdpMLineIndex": 0},
    ]});
    let frame = envelope("conv-private", "visitor-1", "visitor", 2, "call.candidates", candidates);
    send(&mut visitor, &frame).await;
    let got = frames_until(&mut agent, "call.candidates").await.pop().expect("candidates");
    let text = got.to_string();
    assert!(!text.contains("192.168.1.20") && !text.contains("198.51.100.20"), "{text}");
    let kept = got["body"]["candidates"].as_array().expect("candidates");
    assert_eq!(kept.len(), 1, "only the relay candidate: {text}");
    assert!(kept[0]["candidate"].as_str().is_some_and(|c| c.contains("typ relay")), "{text}");
    server.stop().await.expect("stops");
}
