//! Log redaction (issue 13): whole calls through a served relay, with a subscriber that captures
//! every span and event at TRACE (each field's `Debug`/`Display` text, and the lines a `fmt`
//! subscriber writes), must log no IP address, SDP or SDP line, ICE ufrag or password, TURN
//! username or credential, join token or prompt text. The calls carry all of them: captured
//! Chromium SDP, candidates with private and public addresses, an invite whose chat-like prompt
//! and TURN credentials cross the relay, a refused frame whose refusal quotes an address.

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
// The test is the IO edge: it spawns the sessions and the fake browsers.
#![allow(clippy::disallowed_methods)]

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TracingEvent, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use velaro_call_protocol::message::candidates::IceCandidate;
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::{CallId, ConversationId, PartyId, Role};
use velaro_call_state::{Action, CallConfig, Event, Outcome};
use velaro_ice_config::{
    CandidateFilter, CandidatePolicy, IceServer, IceTransportPolicy, RtcConfiguration,
    TurnCredentials, TurnSecret,
};
use velaro_signaling::{
    CallControl, CallSession, JoinClaims, JoinKey, JoinKeys, JoinNonce, Relay, RelayConfig,
    RelayEvent, SessionOutputs, TokioClock, Transport, TransportError, serve,
};
use velaro_tests::fake_browser::browser_gathering;
use velaro_tests::fixtures::browser_sdp;

const OFFER: &str = "chromium-offer-av.json";
const ANSWER: &str = "chromium-answer-av.json";

/// What a host says to its visitor: chat text, carried as the invite's prompt.
const PROMPT: &str = "Hi Anna, this is Dr. Weber from Northwind Clinic about your lab results \
                      of March 3rd, may we switch to video?";

/// The TURN REST secret the host mints credentials with.
const TURN_SECRET: &str = "turn-rest-shared-secret-0123456789";

/// Every text the subscriber saw: span names and fields, event fields, formatted lines.
#[derive(Clone, Default)]
struct Captured {
    texts: Arc<Mutex<Vec<String>>>,
    events: Arc<Mutex<Vec<String>>>,
    lines: Arc<Mutex<Vec<u8>>>,
}

impl Captured {
    fn push(&self, texts: Vec<String>) {
        self.texts.lock().unwrap_or_else(PoisonError::into_inner).extend(texts);
    }

    /// Everything, as one text per field or line.
    fn all(&self) -> Vec<String> {
        let mut all = self.texts.lock().unwrap().clone();
        let lines = String::from_utf8(self.lines.lock().unwrap().clone()).unwrap();
        all.extend(lines.lines().map(str::to_owned));
        all
    }

    /// The events' messages.
    fn messages(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

/// Each field as `name=value`, by its `Debug` (which is `Display` for `%` fields), and a
/// string field also as it is.
struct Fields<'a> {
    texts: &'a mut Vec<String>,
    message: Option<String>,
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = Some(text.clone());
        }
        self.texts.push(format!("{}={text}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.texts.push(format!("{}={value}", field.name()));
        self.record_debug(field, &value);
    }
}

impl<S: Subscriber> Layer<S> for Captured {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        let mut texts = vec![attrs.metadata().name().to_owned()];
        attrs.record(&mut Fields { texts: &mut texts, message: None });
        self.push(texts);
    }

    fn on_record(&self, _: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut texts = Vec::new();
        values.record(&mut Fields { texts: &mut texts, message: None });
        self.push(texts);
    }

    fn on_event(&self, event: &TracingEvent<'_>, _: Context<'_, S>) {
        let mut texts = Vec::new();
        let mut fields = Fields { texts: &mut texts, message: None };
        event.record(&mut fields);
        if let Some(message) = fields.message {
            self.events.lock().unwrap_or_else(PoisonError::into_inner).push(message);
        }
        self.push(texts);
    }
}

/// The `fmt` subscriber's output.
#[derive(Clone)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Captures everything logged on this thread (the tests' runtime is single-threaded) at TRACE
/// until the guard drops: a capturing layer and a `fmt` layer, nothing filtered.
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let lines = Lines(Arc::clone(&captured.lines));
    let subscriber = tracing_subscriber::registry()
        .with(captured.clone())
        .with(tracing_subscriber::fmt::layer().with_writer(move || lines.clone()));
    (captured, tracing::subscriber::set_default(subscriber))
}

/// An in-memory link like a WebSocket: when the page's end is dropped (its `CallSession` is
/// done) or cut (after `cut_after` frames it sent), the relay's end sees the stream end.
struct Link {
    tx: Option<UnboundedSender<Bytes>>,
    rx: UnboundedReceiver<Bytes>,
    cut_after: Option<u64>,
    sent: u64,
}

/// A page's end (cut after `cut_after` frames it sent, if set) and the relay's.
fn link(cut_after: Option<u64>) -> (Link, Link) {
    let (page_tx, relay_rx) = unbounded();
    let (relay_tx, page_rx) = unbounded();
    let end = |tx, rx, cut_after| Link { tx: Some(tx), rx, cut_after, sent: 0 };
    (end(page_tx, page_rx, cut_after), end(relay_tx, relay_rx, None))
}

#[async_trait::async_trait]
impl Transport for Link {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.sent += 1;
        if self.cut_after.is_some_and(|cut| self.sent > cut) {
            self.tx = None;
            self.rx.close();
        }
        let tx = self.tx.as_ref().ok_or(TransportError::Closed)?;
        tx.unbounded_send(frame).map_err(|_| TransportError::Closed)
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        Ok(self.rx.next().await)
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.tx = None;
        Ok(())
    }
}

/// What a browser trickles: candidate lines of its ICE generation `ufrag`.
struct Candidates {
    ufrag: String,
    lines: Vec<String>,
}

/// The agent's: Chromium's captured host candidates, and a server-reflexive one.
fn agent_candidates() -> Candidates {
    let path = velaro_tests::fixtures::fixtures_dir().join("browser/chromium-candidates.json");
    let captured: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut lines: Vec<String> = captured
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["candidate"].as_str())
        .map(str::to_owned)
        .collect();
    lines.push(
        "candidate:842163049 1 udp 1677729535 198.51.100.7 61001 typ srflx raddr 10.0.0.7 \
         rport 61001 generation 0 ufrag lZ7j network-cost 999"
            .to_owned(),
    );
    Candidates { ufrag: "lZ7j".to_owned(), lines }
}

/// The visitor's: a private host address, its public address, and a TURN relay candidate.
fn visitor_candidates() -> Candidates {
    let lines = [
        "candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0 ufrag LvlJ",
        "candidate:2 1 udp 1686052607 198.51.100.20 54321 typ srflx raddr 192.168.1.20 rport \
         54321 generation 0 ufrag LvlJ",
        "candidate:3 1 udp 41885439 203.0.113.5 3478 typ relay raddr 198.51.100.20 rport 54321 \
         generation 0 ufrag LvlJ",
        "candidate:4 1 udp 2122262783 2001:db8:85a3::8a2e:370:7334 54322 typ host generation 0 \
         ufrag LvlJ",
    ];
    Candidates { ufrag: "LvlJ".to_owned(), lines: lines.map(str::to_owned).to_vec() }
}

/// A fake browser (the tests' own) gathering `candidates`.
async fn browser(
    control: CallControl,
    outputs: SessionOutputs,
    role: Role,
    talk: Duration,
    candidates: Candidates,
) -> Vec<Event> {
    let gathered = candidates
        .lines
        .iter()
        .map(|line| {
            IceCandidate::new(line.parse().unwrap(), Some("0".into()), Some(0))
                .with_username_fragment(candidates.ufrag.clone())
        })
        .collect();
    browser_gathering(control, outputs, role, talk, gathered).await
}

/// One whole call through a served relay in `conversation`: the agent invites (with `ice`), the
/// visitor accepts, the agent hangs up after a minute. With `cut_visitor`, the visitor's link
/// goes down after that many frames and it resumes 3 s later. Then everybody leaves and the
/// conversation is freed past the grace. Returns the relay's events.
async fn whole_call(
    config: RelayConfig,
    conversation: &str,
    ice: Option<RtcConfiguration>,
    cut_visitor: Option<u64>,
) -> Vec<RelayEvent> {
    let grace = config.grace;
    let (server, mut events) = serve(Relay::new(config));
    let conversation = ConversationId::new(conversation).unwrap();
    server.open_conversation(conversation.clone(), true);
    let (agent_party, visitor_party) =
        (PartyId::new("agent-1").unwrap(), PartyId::new("visitor-1").unwrap());
    let (agent_link, agent_at_relay) = link(None);
    let (visitor_link, visitor_at_relay) = link(cut_visitor);
    server.connect(agent_at_relay, &conversation, Role::Agent, agent_party.clone(), None).unwrap();
    server
        .connect(visitor_at_relay, &conversation, Role::Visitor, visitor_party.clone(), None)
        .unwrap();

    let clock = Arc::new(TokioClock);
    let agent_config = CallConfig::new(conversation.clone(), agent_party);
    let visitor_config = CallConfig::new(conversation.clone(), visitor_party.clone());
    let call_id = CallId::new(format!("call-of-{conversation}")).unwrap();
    let (mut agent, agent_control, agent_outputs) =
        CallSession::agent(agent_config, call_id, agent_link, clock.clone());
    let (mut visitor, visitor_control, visitor_outputs) =
        CallSession::visitor(visitor_config, visitor_link, clock);
    let prompt = Prompt::new(PROMPT).unwrap();
    agent_control.act(Action::Invite {
        prompt,
        media: MediaKinds::AUDIO_VIDEO,
        ice,
        camera_off: false,
    });
    let agent_run = tokio::spawn(async move { agent.run().await });
    let talk = Duration::from_secs(60);
    let agent_ui =
        tokio::spawn(browser(agent_control, agent_outputs, Role::Agent, talk, agent_candidates()));
    let visitor_ui = tokio::spawn(browser(
        visitor_control,
        visitor_outputs,
        Role::Visitor,
        Duration::ZERO,
        visitor_candidates(),
    ));

    let mut visitor_summary = visitor.run().await;
    if cut_visitor.is_some() {
        assert!(visitor_summary.is_err(), "the link went down mid-call: {visitor_summary:?}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (visitor_link, visitor_at_relay) = link(None);
        let seen = visitor.reconnect(visitor_link);
        server
            .connect(visitor_at_relay, &conversation, Role::Visitor, visitor_party, Some(seen))
            .unwrap();
        visitor_summary = visitor.run().await;
    }
    drop(visitor);
    let agent_summary = agent_run.await.unwrap().unwrap();
    assert_eq!(
        (agent_summary.outcome, visitor_summary.unwrap().outcome),
        (Outcome::Answered, Outcome::Answered)
    );
    assert!(agent_ui.await.unwrap().contains(&Event::Opened));
    assert!(visitor_ui.await.unwrap().contains(&Event::Opened));

    // Everybody has left: past the grace, the parties are forgotten and the conversation freed.
    tokio::time::sleep(grace + Duration::from_secs(1)).await;
    drop(server);
    std::iter::from_fn(|| events.try_recv().ok()).collect()
}

/// A raw visitor session that sends `frame`; returns the relay's answer.
async fn send_raw(
    server: &velaro_signaling::RelayServer,
    conversation: &ConversationId,
    party: &str,
    frame: String,
) -> String {
    let (mut page, at_relay) = link(None);
    let party = PartyId::new(party).unwrap();
    server.connect(at_relay, conversation, Role::Visitor, party, None).unwrap();
    page.send(Bytes::from(frame)).await.unwrap();
    let answer = page.recv().await.unwrap().unwrap();
    String::from_utf8(answer.to_vec()).unwrap()
}

/// Every IP address in `text`: its whitespace-separated words that parse as one.
fn addresses(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|word| word.parse::<IpAddr>().is_ok())
        .map(str::to_owned)
        .collect()
}

/// What must never be logged: the SDP (whole and each `a=` and `o=` line), its ICE ufrag and
/// password, every address in the SDP and the candidates, and `more`.
fn forbidden(more: &[String]) -> Vec<String> {
    let mut forbidden: Vec<String> = more.to_vec();
    for file in [OFFER, ANSWER] {
        let sdp = browser_sdp(file);
        forbidden.push(sdp.clone());
        forbidden.extend(addresses(&sdp));
        for line in sdp.lines().map(str::trim_end) {
            if line.starts_with("a=") || line.starts_with("o=") {
                forbidden.push(line.to_owned());
            }
            for attribute in ["a=ice-ufrag:", "a=ice-pwd:"] {
                if let Some(value) = line.strip_prefix(attribute) {
                    forbidden.push(value.to_owned());
                }
            }
        }
    }
    for candidates in [agent_candidates(), visitor_candidates()] {
        forbidden.push(candidates.ufrag);
        for line in candidates.lines {
            forbidden.extend(addresses(&line));
            forbidden.push(line);
        }
    }
    forbidden.push(PROMPT.to_owned());
    forbidden.sort();
    forbidden.dedup();
    forbidden
}

/// Asserts that nothing captured contains anything `forbidden`, and that the events `expected`
/// were logged (so the capture is not empty by mistake).
fn assert_clean(captured: &Captured, forbidden: &[String], expected: &[&str]) {
    let texts = captured.all();
    let messages = captured.messages();
    for message in expected {
        assert!(messages.iter().any(|m| m == message), "no `{message}` event in {messages:#?}");
    }
    assert!(forbidden.iter().any(|f| f == "127.0.0.1"), "the fixtures' address is checked");
    for secret in forbidden {
        let leaks: Vec<&String> = texts.iter().filter(|text| text.contains(secret)).collect();
        assert!(leaks.is_empty(), "`{secret}` was logged: {leaks:#?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_whole_call_with_a_resume_logs_no_address_sdp_or_secret() {
    let (captured, _guard) = capture();
    let events = whole_call(RelayConfig::default(), "conv-pii-1", None, Some(3)).await;
    assert!(events.iter().any(|e| matches!(e, RelayEvent::CallEnded { .. })), "{events:?}");

    // A host that logs the join token it checked (its `Debug` is redacted).
    let key = JoinKey::new("key-1", "a-join-key-secret-of-32-bytes-or-more").unwrap();
    let claims = JoinClaims::new(
        ConversationId::new("conv-pii-1").unwrap(),
        Role::Visitor,
        PartyId::new("visitor-1").unwrap(),
        JoinNonce::new("nonce-0123456789abcdef").unwrap(),
        Duration::from_secs(60),
        SystemTime::now(),
    )
    .unwrap();
    let token = JoinKeys::new(key).mint(&claims);
    tracing::info!(?token, "join token checked");

    let expected = [
        "conversation opened",
        "session connected",
        "call started",
        "frame routed",
        "transport failed",
        "reconnected",
        "session resumed",
        "session ended",
        "call ended",
        "grace expired: party forgotten",
        "conversation freed",
    ];
    assert_clean(&captured, &forbidden(&[token.expose().to_owned()]), &expected);
}

#[tokio::test(start_paused = true)]
async fn a_relay_only_call_with_turn_credentials_logs_none_of_them() {
    let (captured, _guard) = capture();
    let secret = TurnSecret::new(TURN_SECRET).unwrap();
    let turn = TurnCredentials::mint(
        &secret,
        "visitor-of-conv-pii-2",
        Duration::from_secs(3600),
        SystemTime::now(),
    )
    .unwrap();
    let urls = vec!["turn:203.0.113.10:3478?transport=udp".parse().unwrap()];
    let ice = RtcConfiguration::new(
        vec![IceServer::turn(urls, &turn).unwrap()],
        IceTransportPolicy::Relay,
    )
    .unwrap();
    let relay_only = CandidateFilter::new(CandidatePolicy::RelayOnly);
    let config = RelayConfig::default().with_visitor_candidates(relay_only);

    // A forged page's frame, refused: the refusal's detail quotes the address; the log must not.
    let (server, _events) = serve(Relay::new(config));
    let conversation = ConversationId::new("conv-pii-2").unwrap();
    server.open_conversation(conversation.clone(), true);
    let bad = r#"{"type":"call.candidates","version":1,"conversation_id":"conv-pii-2",
        "call_id":"call-x","party_id":"visitor-9","role":"visitor","seq":1,"body":{"candidates":
        [{"candidate":"candidate:1 1 udp 2122260223 203.0.113.99%eth0 54321 typ host",
        "sdpMid":"0","sdpMLineIndex":0}]}}"#;
    let refusal = send_raw(&server, &conversation, "visitor-9", bad.to_owned()).await;
    assert!(refusal.contains("call.rejected") && refusal.contains("203.0.113.99"), "{refusal}");
    drop(server);

    let events = whole_call(config, "conv-pii-2", Some(ice), None).await;
    let relay_only_call = events.iter().any(|e| {
        matches!(e, RelayEvent::CallEnded { report } if report.media.relay_only
            && report.summary.outcome == Outcome::Answered)
    });
    assert!(relay_only_call, "{events:?}");

    let more = [
        turn.username().to_owned(),
        turn.password().expose().to_owned(),
        "203.0.113.99".to_owned(),
        "203.0.113.10".to_owned(),
        TURN_SECRET.to_owned(),
    ];
    let expected = ["frame refused", "invited", "call started", "call ended", "session ended"];
    assert_clean(&captured, &forbidden(&more), &expected);
}
