//! The demo server as its pages see it, without a browser: the welcome, the chat beside call
//! frames, the relay's refusals, the feature switch per plan, the headers, bad joins, and the
//! join tokens that are a page's only way in.

#![allow(clippy::disallowed_methods)] // tests own their clocks

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use velaro_call_protocol::{ConversationId, PartyId, Role};
use velaro_demo::{DemoConfig, DemoServer, TurnConfig};
use velaro_ice_config::{IceTransportPolicy, TurnCredentials, TurnSecret};
use velaro_signaling::{JoinClaims, JoinKey, JoinKeys, JoinNonce};

#[path = "support/pages.rs"]
mod pages;
use pages::{envelope, frames_until, get, join, next, open, render, send};

const SECRET: &str = "demo-server-test-secret-0123";
const JOIN_SECRET: &[u8; 32] = b"demo-server-join-key-32-bytes-ok";

async fn server(config: DemoConfig) -> DemoServer {
    let config = DemoConfig { addr: ([127, 0, 0, 1], 0).into(), ..config };
    DemoServer::start(config).await.expect("the demo server starts")
}

/// Asserts that `/ws?{query}` is refused with `status` and a body containing `complaint`.
async fn assert_refused(server: &DemoServer, query: &str, status: u16, complaint: &str) {
    match open(server, query).await {
        Err((got, body)) => {
            assert_eq!(got, status, "{query}: {body}");
            assert!(body.contains(complaint), "{query}: {body}");
        }
        Ok(_) => panic!("{query}: admitted, expected a {status}"),
    }
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
    let (mut visitor, party) = join(&server, "visitor", "conv-1").await;
    let welcome = next(&mut visitor).await;
    assert_eq!(welcome["type"], "host.welcome");
    assert!(party.starts_with("visitor-"), "a party id of the server's making: {party}");
    assert_eq!(welcome["party_id"], party.as_str());
    assert_eq!(welcome["role"], "visitor");
    assert_eq!(welcome["video_enabled"], true);
    assert_eq!(welcome["ice"]["iceTransportPolicy"], "relay");
    let turn = &welcome["ice"]["iceServers"][0];
    assert_eq!(turn["urls"], json!(["turn:127.0.0.1:3478"]));
    let (username, password) = (turn["username"].as_str(), turn["credential"].as_str());
    let (username, password) = (username.expect("username"), password.expect("credential"));
    assert!(username.ends_with(&format!(":{party}")), "minted for this party: {username}");
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

    let (mut agent, _) = join(&server, "agent", "conv-1").await;
    let welcome = next(&mut agent).await;
    assert_eq!(welcome["ice"]["iceTransportPolicy"], "all", "the agent's own policy");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn chat_and_calls_share_one_socket_and_the_relay_judges_the_calls() {
    let server = server(DemoConfig::default()).await;
    let (mut agent, agent_party) = join(&server, "agent", "conv-2").await;
    let (mut visitor, visitor_party) = join(&server, "visitor", "conv-2").await;
    assert_eq!(next(&mut agent).await["type"], "host.welcome");
    assert_eq!(next(&mut visitor).await["type"], "host.welcome");

    send(&mut visitor, &json!({"type": "chat.message", "text": "hello"})).await;
    for page in [&mut agent, &mut visitor] {
        let line = next(page).await;
        let from_visitor = json!({"type": "chat.message", "from": "visitor",
            "party_id": visitor_party, "text": "hello"});
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
    assert_eq!(invite["party_id"], agent_party.as_str(), "stamped with the token's party");

    // A page that joins later gets the chat so far.
    let (mut late, _) = join(&server, "visitor", "conv-2").await;
    assert_eq!(next(&mut late).await["type"], "host.welcome");
    assert_eq!(next(&mut late).await["text"], "hello");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn a_plan_without_video_refuses_the_invite() {
    let server = server(DemoConfig::default()).await;
    let (mut agent, _) = join(&server, "agent", "basic-7").await;
    assert_eq!(next(&mut agent).await["video_enabled"], false);
    send(&mut agent, &invite("basic-7")).await;
    let refused = next(&mut agent).await;
    assert_eq!(refused["body"]["code"], "feature_disabled");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn broken_host_frames_get_an_error_and_the_socket_stays_open() {
    let server = server(DemoConfig::default()).await;
    let (mut agent, _) = join(&server, "agent", "conv-3").await;
    next(&mut agent).await;
    send(&mut agent, &json!({"type": "chat.message", "words": "no text field"})).await;
    let error = next(&mut agent).await;
    assert_eq!(error["type"], "host.error");
    assert!(error["detail"].as_str().is_some_and(|d| d.contains("text")), "{error}");
    send(&mut agent, &json!({"type": "chat.message", "text": "still here"})).await;
    assert_eq!(next(&mut agent).await["text"], "still here");
    server.stop().await.expect("stops");
}

#[tokio::test]
async fn pages_carry_the_embed_headers_and_bad_joins_are_refused() {
    let server = server(DemoConfig::default()).await;
    let page = get(&server, "/visitor?conversation=demo").await;
    assert!(page.contains("cache-control: no-store"), "a page holds a token: {page}");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let origin = format!("http://{}", server.addr());
    let csp = format!("connect-src 'self' {origin} ws://{}", server.addr());
    assert!(page.contains(&csp), "CSP lets the page reach the signaling origin: {page}");
    assert!(
        page.contains(
            "permissions-policy: camera=(self), microphone=(self), display-capture=(self)"
        )
    );
    assert!(get(&server, "/static/call/index.js").await.contains("CallClient"));
    assert!(
        get(&server, "/static/velaro-call.js").await.starts_with("HTTP/1.1 404"),
        "the old client"
    );
    assert!(get(&server, "/static/missing.js").await.starts_with("HTTP/1.1 404"));

    let bad_page = get(&server, "/visitor?conversation=has%20space").await;
    assert!(bad_page.starts_with("HTTP/1.1 400"), "{bad_page}");

    // The old way in, a page saying who it is, is gone: no token, no socket.
    let token_needed = "a join token is needed";
    assert_refused(&server, "role=agent&conversation=c&party=agent-1", 401, token_needed).await;
    assert_refused(&server, "conversation=c", 401, token_needed).await;
    assert_refused(&server, "conversation=c&token=", 401, "malformed").await;
    assert_refused(&server, "conversation=c&token=v1.x.y.z", 401, "not a known key").await;

    // A bad request is refused before its token is used up.
    let page = render(&server, "/visitor?conversation=c").await;
    let token = &page.token;
    for (query, complaint) in [
        (format!("conversation=c&token={token}&role=agent"), "may not be given"),
        (format!("conversation=c&token={token}&party=agent-1"), "may not be given"),
        (format!("token={token}"), "conversation: missing"),
        (format!("conversation=has%20space&token={token}"), "conversation"),
        (format!("conversation=c&token={token}&resume=agent-1"), "resume"),
    ] {
        assert_refused(&server, &query, 400, complaint).await;
    }
    let mut visitor = open(&server, &format!("conversation=c&token={token}")).await.expect("in");
    assert_eq!(next(&mut visitor).await["party_id"], page.party.as_str());
    server.stop().await.expect("stops");
}

/// A token the test mints with `keys`, as a host's backend would; `n` makes its nonce.
fn minted(
    keys: &JoinKeys,
    n: u8,
    conversation: &str,
    role: Role,
    ttl: Duration,
    now: SystemTime,
) -> String {
    let claims = JoinClaims::new(
        ConversationId::new(conversation).expect("id"),
        role,
        PartyId::new(format!("{role}-minted")).expect("id"),
        JoinNonce::from_bytes(&[n; 16]).expect("nonce"),
        ttl,
        now,
    )
    .expect("claims");
    keys.mint(&claims).expose().to_owned()
}

/// Issue 13: the socket admits a token this server minted, for this conversation, unexpired,
/// once; every other is refused with the reason, never the token.
#[tokio::test]
async fn the_socket_admits_only_a_fresh_token_of_its_own_for_its_conversation_once() {
    let keys = JoinKeys::new(JoinKey::new("test", JOIN_SECRET).expect("key"));
    let server = server(DemoConfig::default().with_join_keys(keys.clone())).await;
    let now = SystemTime::now();
    let minute = Duration::from_secs(60);

    // Another conversation's token: 403.
    let other = minted(&keys, 1, "conv-a", Role::Visitor, minute, now);
    let query = format!("conversation=conv-b&token={other}");
    assert_refused(&server, &query, 403, "is for conversation `conv-a`, not `conv-b`").await;
    // Expired: 401.
    let old = minted(&keys, 2, "conv-a", Role::Visitor, minute, now - Duration::from_secs(3600));
    assert_refused(&server, &format!("conversation=conv-a&token={old}"), 401, "expired").await;
    // Signed with another secret under the same key id, or with an unknown key: 401.
    let forger = JoinKeys::new(JoinKey::new("test", [9u8; 32]).expect("key"));
    let forged = minted(&forger, 3, "conv-a", Role::Agent, minute, now);
    match open(&server, &format!("conversation=conv-a&token={forged}")).await {
        Err((status, body)) => {
            assert_eq!(status, 401, "{body}");
            assert!(body.contains("signature does not match"), "{body}");
            assert!(!body.contains(&forged), "never echoed: {body}");
        }
        Ok(_) => panic!("a forged token was admitted"),
    }
    let stranger = JoinKeys::new(JoinKey::new("elsewhere", JOIN_SECRET).expect("key"));
    let unknown = minted(&stranger, 4, "conv-a", Role::Agent, minute, now);
    let query = format!("conversation=conv-a&token={unknown}");
    assert_refused(&server, &query, 401, "not a known key").await;

    // The server's own fresh token for the conversation: admitted as its claims say, once.
    let good = minted(&keys, 5, "conv-a", Role::Agent, minute, now);
    let query = format!("conversation=conv-a&token={good}");
    let mut agent = open(&server, &query).await.expect("admitted");
    let welcome = next(&mut agent).await;
    assert_eq!(welcome["role"], "agent");
    assert_eq!(welcome["party_id"], "agent-minted");
    assert_refused(&server, &query, 401, "already used").await;
    server.stop().await.expect("stops");
}

/// Issue 13: the page's URL does not choose its role. A visitor page whose URL is edited to
/// say `role=agent` (and the agent's party id) is still rendered, and admitted, as a visitor;
/// its socket may not name a role either.
#[tokio::test]
async fn a_page_cannot_become_the_agent_by_editing_its_url() {
    let server = server(DemoConfig::default()).await;
    let (mut agent, agent_party) = join(&server, "agent", "conv-role").await;
    next(&mut agent).await;

    let edited = format!("/visitor?conversation=conv-role&role=agent&party={agent_party}");
    let page = render(&server, &edited).await;
    assert!(page.html.contains(r#"data-role="visitor""#));
    assert!(page.party.starts_with("visitor-") && page.party != agent_party, "{}", page.party);
    let as_agent = format!("conversation=conv-role&token={}&role=agent", page.token);
    assert_refused(&server, &as_agent, 400, "may not be given").await;
    let query = format!("conversation=conv-role&token={}", page.token);
    let mut visitor = open(&server, &query).await.expect("admitted");
    let welcome = next(&mut visitor).await;
    assert_eq!(welcome["role"], "visitor");
    assert_eq!(welcome["party_id"], page.party.as_str());

    // Whatever the page writes in its frames, the relay stamps the token's identity: an
    // invite that claims to come from the agent is the visitor's own, and refused.
    let mut claimed = invite("conv-role");
    claimed["party_id"] = json!(agent_party);
    send(&mut visitor, &claimed).await;
    let refused = frames_until(&mut visitor, "call.rejected").await.pop().expect("refusal");
    assert_eq!(refused["body"]["code"], "forbidden");
    server.stop().await.expect("stops");
}

/// Issue 13: a token is single-use, so a page that lost its connection comes back with the
/// fresh one the server gave it (in its welcome) and resumes its call; its old token is
/// refused.
#[tokio::test]
async fn a_reconnect_with_the_fresh_token_resumes_the_call() {
    let server = server(DemoConfig::default()).await;
    let (mut agent, agent_party) = join(&server, "agent", "conv-back").await;
    let page = render(&server, "/visitor?conversation=conv-back").await;
    let first = format!("conversation=conv-back&token={}", page.token);
    let mut visitor = open(&server, &first).await.expect("admitted");
    next(&mut agent).await;
    let welcome = next(&mut visitor).await;
    let fresh = welcome["token"].as_str().expect("a token for the next connect").to_owned();
    assert_ne!(fresh, page.token);

    send(&mut agent, &invite("conv-back")).await;
    frames_until(&mut visitor, "call.invite").await;
    let accept = json!({"media": {"audio": true, "video": true}});
    send(&mut visitor, &envelope("conv-back", &page.party, "visitor", 1, "call.accept", accept))
        .await;
    frames_until(&mut agent, "call.accept").await;

    // The visitor's connection drops; meanwhile the agent hangs up.
    visitor.close(None).await.expect("closed");
    drop(visitor);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let hangup = json!({"reason": {"code": "user_hangup"}});
    send(&mut agent, &envelope("conv-back", &agent_party, "agent", 2, "call.hangup", hangup)).await;

    // The render's token is used up; the welcome's brings the page back as the same party,
    // and the relay replays what it missed.
    assert_refused(&server, &first, 401, "already used").await;
    let resume = format!("conversation=conv-back&token={fresh}&resume={agent_party}:1");
    let mut back = open(&server, &resume).await.expect("back");
    let welcome = next(&mut back).await;
    assert_eq!(welcome["party_id"], page.party.as_str());
    assert_eq!(welcome["role"], "visitor");
    assert!(welcome["token"].as_str().is_some_and(|next| next != fresh), "yet another token");
    let missed = frames_until(&mut back, "call.hangup").await;
    assert!(missed.iter().all(|f| f["type"] != "call.invite"), "only what it missed: {missed:?}");
    assert_refused(&server, &resume, 401, "already used").await;
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

/// Item 11: credentials minted at connect expire while a page stays open (agent consoles stay
/// open all day); each call gets fresh ones: the visitor's before the invite rings, the agent's
/// before the accept makes it create its peer connection.
#[tokio::test]
async fn a_page_open_longer_than_the_credentials_gets_fresh_ones_for_each_call() {
    // Stands in for the hour a page outlives: minted at t expire at ⌊t⌋ + 2 s.
    let config = relay_only(Duration::from_secs(2));
    let server = server(DemoConfig { agent_policy: IceTransportPolicy::Relay, ..config }).await;
    let (mut agent, agent_party) = join(&server, "agent", "conv-ttl").await;
    let (mut visitor, visitor_party) = join(&server, "visitor", "conv-ttl").await;
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
        let visitor_user = format!(":{visitor_party}");
        assert!(credentials.0.ends_with(&visitor_user), "for the visitor: {credentials:?}");
        assert_eq!(fresh["ice"]["iceTransportPolicy"], "relay");

        let mut accept =
            envelope("conv-ttl", &visitor_party, "visitor", seq, "call.accept", json!({}));
        accept["call_id"] = json!(call_id);
        accept["body"] = json!({"media": {"audio": true, "video": true}});
        send(&mut visitor, &accept).await;
        let frames = frames_until(&mut agent, "call.accept").await;
        let fresh = frames.iter().find(|f| f["type"] == "host.ice");
        let fresh = fresh.unwrap_or_else(|| panic!("fresh ICE before the accept: {frames:?}"));
        let credentials = turn_credentials(fresh);
        assert!(valid_now(&credentials), "the agent's credentials are valid at call time");
        let agent_user = format!(":{agent_party}");
        assert!(credentials.0.ends_with(&agent_user), "for the agent: {credentials:?}");

        let mut hangup =
            envelope("conv-ttl", &agent_party, "agent", seq + 10, "call.hangup", json!({}));
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
    let (mut agent, _) = join(&server, "agent", "conv-private").await;
    let (mut visitor, visitor_party) = join(&server, "visitor", "conv-private").await;
    next(&mut agent).await;
    assert_eq!(next(&mut visitor).await["ice"]["iceTransportPolicy"], "relay");
    send(&mut agent, &invite("conv-private")).await;
    frames_until(&mut visitor, "call.invite").await;
    let accept = json!({"media": {"audio": true, "video": true}});
    let accept = envelope("conv-private", &visitor_party, "visitor", 1, "call.accept", accept);
    send(&mut visitor, &accept).await;
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
    let frame =
        envelope("conv-private", &visitor_party, "visitor", 2, "call.candidates", candidates);
    send(&mut visitor, &frame).await;
    let got = frames_until(&mut agent, "call.candidates").await.pop().expect("candidates");
    let text = got.to_string();
    assert!(!text.contains("192.168.1.20") && !text.contains("198.51.100.20"), "{text}");
    let kept = got["body"]["candidates"].as_array().expect("candidates");
    assert_eq!(kept.len(), 1, "only the relay candidate: {text}");
    assert!(kept[0]["candidate"].as_str().is_some_and(|c| c.contains("typ relay")), "{text}");
    server.stop().await.expect("stops");
}

/// Every ended call becomes one JSON line in the records file: parties, wall-clock times in
/// order, outcome, talk time from media connecting, media used.
#[tokio::test]
async fn each_ended_call_is_appended_to_the_records_as_one_json_line() {
    let path = std::env::temp_dir().join(format!("velaro-records-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let server = server(DemoConfig { records: Some(path.clone()), ..DemoConfig::default() }).await;
    let (mut agent, agent_party) = join(&server, "agent", "conv-rec").await;
    let (mut visitor, visitor_party) = join(&server, "visitor", "conv-rec").await;
    send(&mut agent, &invite("conv-rec")).await;
    frames_until(&mut visitor, "call.invite").await;
    let accept = json!({"media": {"audio": true, "video": true}});
    send(&mut visitor, &envelope("conv-rec", &visitor_party, "visitor", 1, "call.accept", accept))
        .await;
    frames_until(&mut agent, "call.accept").await;
    let camera = json!({"streams": {"cam": {"purpose": "camera", "audio_muted": false,
        "video_muted": false}}});
    send(&mut agent, &envelope("conv-rec", &agent_party, "agent", 2, "call.media", camera)).await;
    frames_until(&mut visitor, "call.media").await;
    tokio::time::sleep(Duration::from_millis(300)).await; // some talk time
    let hangup = json!({"reason": {"code": "user_hangup"}});
    send(&mut visitor, &envelope("conv-rec", &visitor_party, "visitor", 2, "call.hangup", hangup))
        .await;
    frames_until(&mut agent, "call.hangup").await;

    let mut lines = Vec::new();
    for _ in 0..50 {
        lines =
            std::fs::read_to_string(&path).unwrap_or_default().lines().map(str::to_owned).collect();
        if !lines.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lines.len(), 1, "{lines:?}");
    let record: Value = serde_json::from_str(&lines[0]).expect("one JSON object");
    assert_eq!(record["conversation_id"], "conv-rec");
    assert_eq!(record["call_id"], "call-1");
    assert_eq!(
        (record["agent"].as_str(), record["visitor"].as_str()),
        (Some(agent_party.as_str()), Some(visitor_party.as_str()))
    );
    assert_eq!(
        (record["outcome"].as_str(), record["ended_by"].as_str()),
        (Some("answered"), Some("visitor"))
    );
    assert_eq!(record["media"]["video"], true);
    let at = |field: &str| record[field].as_u64().expect(field);
    let now = u64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
    )
    .unwrap();
    assert!(at("started_at_ms") <= at("answered_at_ms"));
    assert!(at("answered_at_ms") <= at("media_connected_at_ms"));
    assert!(at("media_connected_at_ms") + 300 <= at("ended_at_ms"));
    assert!(now.abs_diff(at("ended_at_ms")) < 5_000, "wall-clock times");
    assert!(at("talk_time_ms") >= 300);
    let span = at("ended_at_ms") - at("media_connected_at_ms");
    assert!(at("talk_time_ms").abs_diff(span) <= 1, "talk time is media connected to end");
    server.stop().await.expect("stops");
    let _ = std::fs::remove_file(&path);
}

/// The demo serves the browser package as built (`velaro-call-js/dist`, whose own test fails when
/// it is stale): every module of it, byte for byte, under `/static/call/`.
#[tokio::test]
async fn the_demo_serves_every_module_of_the_built_package() {
    let server = server(DemoConfig::default()).await;
    let dist = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../velaro-call-js/dist");
    let mut modules = Vec::new();
    let mut dirs = vec![dist.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("dist/ is committed") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "js") {
                modules.push(path);
            }
        }
    }
    assert!(modules.len() >= 10, "{modules:?}");
    for path in modules {
        let name =
            path.strip_prefix(&dist).expect("under dist").to_string_lossy().replace('\\', "/");
        let response = get(&server, &format!("/static/call/{name}")).await;
        assert!(response.starts_with("HTTP/1.1 200"), "{name}: {response}");
        assert!(response.contains("content-type: text/javascript"), "{name}");
        let body = std::fs::read_to_string(&path).expect("module");
        assert!(response.ends_with(&body), "/static/call/{name} is dist/{name} as built");
    }
    assert!(get(&server, "/static/call/missing.js").await.starts_with("HTTP/1.1 404"));
    server.stop().await.expect("stops");
}
