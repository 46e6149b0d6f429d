//! Cluster mode (velaro-signaling's feature `redis`) on a real `redis-server`, which each test
//! starts on a free loopback port and always stops: whole calls between two `CallSession`s
//! whose parties are on different nodes, with the owner of the conversation failing.
//!
//! Needs `/usr/bin/redis-server` (Redis 7; `.ci/run` installs it).

// Tests panic on purpose when an expectation fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
// The test is the IO edge: it spawns the sessions, the fake browsers and redis-server.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc::UnboundedReceiver;
use velaro_call_protocol::message::hangup::RejectCode;
use velaro_call_protocol::message::invite::{MediaKinds, Prompt};
use velaro_call_protocol::{CallId, ConversationId, PartyId, Reason, Role, decode};
use velaro_call_state::{Action, CallConfig, Event, Outcome};
use velaro_signaling::cluster::{
    ClusterConfig, ClusterError, ClusterEvent, ClusterNode, ClusterStats,
};
use velaro_signaling::{
    CallSession, RelayConfig, TokioClock, Transport, TransportError, memory_pair,
};
use velaro_tests::fake_browser::{Finished, browser, whole_call};
use velaro_tests::redis_server::RedisServer;

/// A connection of the test's own, to look at what the nodes wrote.
trait Inspect {
    async fn connection(&self) -> redis::aio::MultiplexedConnection;
}

impl Inspect for RedisServer {
    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).unwrap();
        client.get_multiplexed_async_connection().await.unwrap()
    }
}

/// What a party's client received: each frame's sender, role, call, type and `seq`.
type Received = Arc<Mutex<Vec<(String, Role, String, String, u64)>>>;

/// A client's transport that writes down every frame it receives (and, in `sent`, every frame
/// its transport took).
struct Counting<T> {
    inner: T,
    received: Received,
    sent: Received,
}

fn write_down(list: &Received, frame: &[u8]) {
    let envelope = decode(frame).expect("the cluster writes only frames that decode");
    list.lock().unwrap().push((
        envelope.party_id.as_str().to_owned(),
        envelope.role,
        envelope.call_id.as_str().to_owned(),
        envelope.message_type().to_owned(),
        envelope.seq,
    ));
}

#[async_trait]
impl<T: Transport> Transport for Counting<T> {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.inner.send(frame.clone()).await?;
        write_down(&self.sent, &frame);
        Ok(())
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        let frame = self.inner.recv().await?;
        if let Some(frame) = &frame {
            write_down(&self.received, frame);
        }
        Ok(frame)
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.inner.close().await
    }
}

fn counting<T>(inner: T) -> (Counting<T>, Received) {
    let received = Received::default();
    (Counting { inner, received: received.clone(), sent: Received::default() }, received)
}

/// Every frame a party received, received once: no (sender, role, call, type, seq) twice.
fn assert_each_frame_once(who: &str, received: &Received) {
    let received = received.lock().unwrap();
    let mut counts: HashMap<_, usize> = HashMap::new();
    for frame in received.iter() {
        *counts.entry(frame.clone()).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{who} received frames more than once: {twice:?}");
    assert!(received.len() >= 5, "{who} received a whole call's frames: {received:?}");
}

/// The cap on a journal: a call's set-up is some 20 inputs, so every test's owners compact
/// their journals several times a call, and every failover rebuilds from a snapshot.
const JOURNAL_CAP: usize = 4;

fn config() -> ClusterConfig {
    ClusterConfig::new(RelayConfig::default())
        .with_lease(Duration::from_millis(600))
        .with_node_ttl(Duration::from_millis(900))
        .with_journal_cap(JOURNAL_CAP)
}

/// The journal's entries: how many, and whether it starts with a snapshot (it was compacted).
async fn journal(redis: &RedisServer) -> (usize, bool) {
    let mut conn = redis.connection().await;
    let key = "velaro:{conv-1}:journal";
    let len: usize = redis::cmd("XLEN").arg(key).query_async(&mut conn).await.unwrap();
    let first: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let compacted = first.ids.first().is_some_and(|entry| {
        matches!(entry.map.get("k"), Some(redis::Value::BulkString(k)) if k.as_slice() == b"s")
    });
    (len, compacted)
}

fn conversation() -> ConversationId {
    ConversationId::new("conv-1").unwrap()
}

async fn node(redis: &RedisServer, name: &str) -> (ClusterNode, UnboundedReceiver<ClusterEvent>) {
    let (node, events) = ClusterNode::start(&redis.url(), name, config()).await.unwrap();
    node.open_conversation(conversation(), true);
    (node, events)
}

fn assert_answered_and_hung_up(call: &Finished) {
    assert_eq!((call.agent.outcome, call.visitor.outcome), (Outcome::Answered, Outcome::Answered));
    assert_eq!(
        (call.agent.reason.clone(), call.visitor.reason.clone()),
        (Reason::UserHangup, Reason::UserHangup)
    );
    assert!(call.agent_ui.contains(&Event::Opened), "{:?}", call.agent_ui);
    assert!(call.visitor_ui.contains(&Event::Opened), "{:?}", call.visitor_ui);
}

/// The host events the nodes were handed, until one call ended and a while longer (so that a
/// duplicate would show), and what the events stream holds.
async fn host_events(
    redis: &RedisServer,
    receivers: Vec<UnboundedReceiver<ClusterEvent>>,
) -> (Vec<ClusterEvent>, usize) {
    let mut all = futures::stream::select_all(receivers);
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut ended_at = None;
    loop {
        let until = ended_at.unwrap_or(deadline).min(deadline);
        match tokio::time::timeout_at(until, all.next()).await {
            Ok(Some(event)) => {
                if matches!(event, ClusterEvent::CallEnded { .. }) && ended_at.is_none() {
                    ended_at = Some(tokio::time::Instant::now() + Duration::from_millis(500));
                }
                events.push(event);
            }
            Ok(None) | Err(_) => break,
        }
    }
    let mut conn = redis.connection().await;
    let written: usize =
        redis::cmd("XLEN").arg("velaro:events").query_async(&mut conn).await.unwrap();
    (events, written)
}

/// One `CallStarted` and one `CallEnded` (answered, hung up by the agent), written and handed
/// over once each.
fn assert_one_call(events: &[ClusterEvent], written: usize) {
    let started = events.iter().filter(|e| matches!(e, ClusterEvent::CallStarted { .. })).count();
    let ended: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::CallEnded { record } => Some(record),
            _ => None,
        })
        .collect();
    assert_eq!((started, ended.len()), (1, 1), "{events:?}");
    assert_eq!(written, 2, "the events stream holds one start and one end");
    let record = ended[0];
    assert_eq!((record.outcome, record.reason.clone()), (Outcome::Answered, Reason::UserHangup));
    assert_eq!(record.ended_by, Some(Role::Agent));
    assert_eq!(record.call_id.as_str(), "call-1");
}

async fn lease(redis: &RedisServer) -> Option<String> {
    let mut conn = redis.connection().await;
    redis::cmd("GET").arg("velaro:{conv-1}:lease").query_async(&mut conn).await.unwrap()
}

#[tokio::test]
async fn a_whole_call_with_the_agent_on_node_a_and_the_visitor_on_node_b() {
    let began = Instant::now();
    let redis = RedisServer::start();
    let (a, a_events) = node(&redis, "node-a").await;
    let (b, b_events) = node(&redis, "node-b").await;
    let (agent_link, agent_at_a) = memory_pair();
    let (visitor_link, visitor_at_b) = memory_pair();
    let agent = PartyId::new("agent-1").unwrap();
    let visitor = PartyId::new("visitor-1").unwrap();
    a.connect(agent_at_a, &conversation(), Role::Agent, agent, None).await.unwrap();
    b.connect(visitor_at_b, &conversation(), Role::Visitor, visitor, None).await.unwrap();
    let (agent_link, agent_received) = counting(agent_link);
    let (visitor_link, visitor_received) = counting(visitor_link);

    let call = tokio::time::timeout(
        Duration::from_secs(30),
        whole_call(agent_link, visitor_link, Duration::from_millis(500)),
    )
    .await
    .expect("the call ends in time");
    assert_answered_and_hung_up(&call);
    assert_each_frame_once("the agent", &agent_received);
    assert_each_frame_once("the visitor", &visitor_received);

    let (events, written) = host_events(&redis, vec![a_events, b_events]).await;
    assert_one_call(&events, written);
    let (a, b) = (a.stats(), b.stats());
    assert_eq!(a.acquisitions + b.acquisitions, 1, "one owner, no failover: {a:?} {b:?}");
    assert_eq!(a.fenced_commits + b.fenced_commits, 0);
    assert!(a.frames_delivered > 0 && b.frames_delivered > 0, "both nodes delivered frames");
    let (entries, compacted) = journal(&redis).await;
    assert!(compacted, "a call's some 20 inputs passed the cap: the journal was compacted");
    assert!(entries <= JOURNAL_CAP + 1, "a snapshot and at most the cap's inputs: {entries}");
    println!("a call across two nodes: {:?}", began.elapsed());
}

#[tokio::test]
async fn a_stalled_owner_is_fenced_off_once_another_node_took_over() {
    let began = Instant::now();
    let redis = RedisServer::start();
    let (a, a_events) = node(&redis, "node-a").await;
    let (b, b_events) = node(&redis, "node-b").await;
    let (agent_link, agent_at_a) = memory_pair();
    let (visitor_link, visitor_at_b) = memory_pair();
    let agent = PartyId::new("agent-1").unwrap();
    a.connect(agent_at_a, &conversation(), Role::Agent, agent, None).await.unwrap();
    // Node A owns the conversation (the first lease: epoch 1).
    let waited = Instant::now();
    while lease(&redis).await.as_deref() != Some("1:node-a") {
        assert!(waited.elapsed() < Duration::from_secs(5), "node A never took the lease");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let visitor = PartyId::new("visitor-1").unwrap();
    b.connect(visitor_at_b, &conversation(), Role::Visitor, visitor, None).await.unwrap();
    let (agent_link, agent_received) = counting(agent_link);
    let (visitor_link, visitor_received) = counting(visitor_link);
    // Both connects judged and committed by A.
    while a.stats().commits < 2 {
        assert!(waited.elapsed() < Duration::from_secs(5), "node A never judged the connects");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Node A pauses (four leases long) just as the call begins: it reads the invite, judges
    // it, and waits to commit. Its lease runs out, node B takes over (epoch 2), rebuilds the
    // conversation from the journal and carries the call; A wakes mid-call and tries to write
    // what it judged.
    a.dangerous_stall(Duration::from_millis(2400)).await;
    let call = tokio::time::timeout(
        Duration::from_secs(30),
        whole_call(agent_link, visitor_link, Duration::from_secs(3)),
    )
    .await
    .expect("the call ends in time");
    assert_answered_and_hung_up(&call);
    assert!(began.elapsed() > Duration::from_millis(2400), "the call outlasted the stall");

    assert_each_frame_once("the agent", &agent_received);
    assert_each_frame_once("the visitor", &visitor_received);
    let (events, written) = host_events(&redis, vec![a_events, b_events]).await;
    assert_one_call(&events, written);
    let (a_stats, b_stats) = (a.stats(), b.stats());
    assert!(a_stats.fenced_commits >= 1, "A's late commit was refused: {a_stats:?}");
    assert_eq!(b_stats.fenced_commits, 0, "{b_stats:?}");
    assert_eq!((a_stats.acquisitions, b_stats.acquisitions), (1, 1));
    assert_eq!(lease(&redis).await.as_deref(), Some("2:node-b"), "B owns it now");
    println!("a split brain, fenced: {:?}", began.elapsed());
}

/// A socket-like in-memory link: when one end is dropped (its process crashed), the other's
/// stream ends and its sends fail, as a TCP connection's would.
struct Socket {
    tx: futures::channel::mpsc::UnboundedSender<Bytes>,
    rx: UnboundedReceiver<Bytes>,
}

fn socket_pair() -> (Socket, Socket) {
    let (a_tx, b_rx) = futures::channel::mpsc::unbounded();
    let (b_tx, a_rx) = futures::channel::mpsc::unbounded();
    (Socket { tx: a_tx, rx: a_rx }, Socket { tx: b_tx, rx: b_rx })
}

#[async_trait]
impl Transport for Socket {
    async fn send(&mut self, frame: Bytes) -> Result<(), TransportError> {
        self.tx.unbounded_send(frame).map_err(|_| TransportError::Closed)
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        Ok(self.rx.next().await)
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        self.tx.close_channel();
        Ok(())
    }
}

/// `(call, type, seq)` of the frames `from` wrote in `list`.
/// The frames of `from` in `list`, but its `call.ack`s: those are for the relay, which
/// forwards them to nobody.
fn frames_of(list: &Received, from: &str) -> Vec<(String, String, u64)> {
    let list = list.lock().unwrap();
    let mut frames: Vec<_> = list
        .iter()
        .filter(|(party, _, _, kind, _)| party == from && kind != "call.ack")
        .map(|(_, _, call, kind, seq)| (call.clone(), kind.clone(), *seq))
        .collect();
    frames.sort();
    frames
}

#[tokio::test]
async fn the_owner_crashes_mid_call_and_both_parties_carry_on_through_node_c() {
    let began = Instant::now();
    let redis = RedisServer::start();
    let (a, a_events) = node(&redis, "node-a").await;
    let (c, c_events) = node(&redis, "node-c").await;
    let agent_party = PartyId::new("agent-1").unwrap();
    let visitor_party = PartyId::new("visitor-1").unwrap();
    let (agent_link, agent_at_a) = socket_pair();
    let (visitor_link, visitor_at_a) = socket_pair();
    a.connect(agent_at_a, &conversation(), Role::Agent, agent_party.clone(), None).await.unwrap();
    let visitor_at = visitor_party.clone();
    a.connect(visitor_at_a, &conversation(), Role::Visitor, visitor_at, None).await.unwrap();
    // Both parties' frames, sent and received, over both of their links.
    let (agent_sent, agent_received) = (Received::default(), Received::default());
    let (visitor_sent, visitor_received) = (Received::default(), Received::default());
    let link = |inner, sent: &Received, received: &Received| Counting {
        inner,
        received: received.clone(),
        sent: sent.clone(),
    };

    let clock = Arc::new(TokioClock);
    let agent_config = CallConfig::new(conversation(), agent_party.clone());
    let visitor_config = CallConfig::new(conversation(), visitor_party.clone());
    let call_id = CallId::new("call-1").unwrap();
    let (mut agent, agent_control, agent_outputs) = CallSession::agent(
        agent_config,
        call_id,
        link(agent_link, &agent_sent, &agent_received),
        clock.clone(),
    );
    let (mut visitor, visitor_control, visitor_outputs) = CallSession::visitor(
        visitor_config,
        link(visitor_link, &visitor_sent, &visitor_received),
        clock,
    );
    let prompt = Prompt::new("Your agent would like to start a video call. Accept?").unwrap();
    let invite =
        Action::Invite { prompt, media: MediaKinds::AUDIO_VIDEO, ice: None, camera_off: false };
    agent_control.act(invite);
    // The agent hangs up 3 s after media opened: after the crash and the move to node C.
    let talk = Duration::from_secs(3);
    let agent_ui = tokio::spawn(browser(agent_control, agent_outputs, Role::Agent, talk));
    let visitor_ui =
        tokio::spawn(browser(visitor_control, visitor_outputs, Role::Visitor, Duration::ZERO));
    let agent_run = tokio::spawn(async move {
        let result = agent.run().await;
        (agent, result)
    });
    let visitor_run = tokio::spawn(async move {
        let result = visitor.run().await;
        (visitor, result)
    });

    // Mid-call: media is connected on both sides (each has had the other's `call.media`).
    let waited = Instant::now();
    let has_media = |list: &Received, from: &str| {
        frames_of(list, from).iter().any(|(_, kind, _)| kind == "call.media")
    };
    while !(has_media(&agent_received, "visitor-1") && has_media(&visitor_received, "agent-1")) {
        assert!(waited.elapsed() < Duration::from_secs(10), "media never connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.dangerous_crash();
    let (mut agent, dropped) = agent_run.await.unwrap();
    assert!(dropped.is_err(), "the agent's link died with node A: {dropped:?}");
    let (mut visitor, dropped) = visitor_run.await.unwrap();
    assert!(dropped.is_err(), "the visitor's link died with node A: {dropped:?}");

    // Both come back on node C well within the grace, naming what they saw.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (agent_link, agent_at_c) = socket_pair();
    let seen = agent.reconnect(link(agent_link, &agent_sent, &agent_received));
    c.connect(agent_at_c, &conversation(), Role::Agent, agent_party, Some(seen)).await.unwrap();
    let (visitor_link, visitor_at_c) = socket_pair();
    let seen = visitor.reconnect(link(visitor_link, &visitor_sent, &visitor_received));
    c.connect(visitor_at_c, &conversation(), Role::Visitor, visitor_party, Some(seen))
        .await
        .unwrap();
    let agent_run = tokio::spawn(async move { agent.run().await });
    let visitor_run = tokio::spawn(async move { visitor.run().await });
    let call = tokio::time::timeout(Duration::from_secs(30), async {
        Finished {
            agent: agent_run.await.unwrap().unwrap(),
            visitor: visitor_run.await.unwrap().unwrap(),
            agent_ui: agent_ui.await.unwrap(),
            visitor_ui: visitor_ui.await.unwrap(),
        }
    })
    .await
    .expect("the call ends in time");
    assert_answered_and_hung_up(&call);

    // Every frame a party's transport took reached the other party once: none lost in the
    // crash, none twice after the rebuild and the resume.
    assert_each_frame_once("the agent", &agent_received);
    assert_each_frame_once("the visitor", &visitor_received);
    assert_eq!(frames_of(&visitor_received, "agent-1"), frames_of(&agent_sent, "agent-1"));
    assert_eq!(frames_of(&agent_received, "visitor-1"), frames_of(&visitor_sent, "visitor-1"));
    let (events, written) = host_events(&redis, vec![a_events, c_events]).await;
    assert_one_call(&events, written);
    assert_eq!(c.stats().acquisitions, 1, "node C took the conversation over");
    assert_eq!(lease(&redis).await.as_deref(), Some("2:node-c"));
    println!("an owner crash, carried on through node C: {:?}", began.elapsed());
}

#[tokio::test]
async fn a_call_whose_owner_died_with_all_its_sessions_still_ends_once() {
    let began = Instant::now();
    let redis = RedisServer::start();
    // A short grace, so that the orphaned call ends soon.
    let config = config().with_relay(RelayConfig::default().with_grace(Duration::from_secs(1)));
    let (a, a_events) = ClusterNode::start(&redis.url(), "node-a", config.clone()).await.unwrap();
    let (c, c_events) = ClusterNode::start(&redis.url(), "node-c", config).await.unwrap();
    a.open_conversation(conversation(), true);
    let (agent_link, agent_at_a) = socket_pair();
    let (visitor_link, visitor_at_a) = socket_pair();
    let agent = PartyId::new("agent-1").unwrap();
    let visitor = PartyId::new("visitor-1").unwrap();
    a.connect(agent_at_a, &conversation(), Role::Agent, agent, None).await.unwrap();
    a.connect(visitor_at_a, &conversation(), Role::Visitor, visitor, None).await.unwrap();
    let (agent_link, agent_received) = counting(agent_link);
    let (visitor_link, visitor_received) = counting(visitor_link);
    let call = tokio::spawn(whole_call(agent_link, visitor_link, Duration::from_secs(60)));
    let waited = Instant::now();
    let has_media = |list: &Received, from: &str| {
        frames_of(list, from).iter().any(|(_, kind, _)| kind == "call.media")
    };
    while !(has_media(&agent_received, "visitor-1") && has_media(&visitor_received, "agent-1")) {
        assert!(waited.elapsed() < Duration::from_secs(10), "media never connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Node A dies with both sessions, and nobody comes back. Node C, which never had a session
    // of the conversation, finds it silent, takes it over, sees node A gone, and ends the call
    // when the parties' grace is over.
    a.dangerous_crash();
    call.abort();
    let (events, written) = host_events(&redis, vec![a_events, c_events]).await;
    let ended: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ClusterEvent::CallEnded { record } => Some(record),
            _ => None,
        })
        .collect();
    let started = events.iter().filter(|e| matches!(e, ClusterEvent::CallStarted { .. })).count();
    assert_eq!((started, ended.len(), written), (1, 1, 2), "{events:?}");
    // It failed (signaling lost) after it was answered and media connected: billed until then.
    let record = ended[0];
    assert_eq!((record.outcome, record.reason.clone()), (Outcome::Failed, Reason::SignalingLost));
    assert!(record.answered_at_ms.is_some() && record.talk_time_ms > 0, "{record:?}");
    assert_eq!(c.stats().acquisitions, 1, "node C swept it up");

    // Nothing is left: the conversation was freed, its lease given up, the live set empty.
    let mut conn = redis.connection().await;
    let waited = Instant::now();
    loop {
        let live: usize =
            redis::cmd("ZCARD").arg("velaro:live").query_async(&mut conn).await.unwrap();
        if live == 0 && lease(&redis).await.is_none() {
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(5), "the conversation was never freed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("an orphaned call, ended by node C: {:?}", began.elapsed());
}

#[tokio::test]
async fn an_event_a_dead_node_read_but_never_handed_over_reaches_a_live_node() {
    let redis = RedisServer::start();
    let mut conn = redis.connection().await;
    // A node named `ghost` read a CallStarted and died before handing it to its host.
    let started = ClusterEvent::CallStarted {
        conversation_id: conversation(),
        call_id: CallId::new("call-1").unwrap(),
        agent: PartyId::new("agent-1").unwrap(),
        visitor: PartyId::new("visitor-1").unwrap(),
    };
    let json = serde_json::to_string(&started).unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg(&["CREATE", "velaro:events", "velaro-hosts", "0", "MKSTREAM"][..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(&["velaro:events", "*", "c", "conv-1", "e", &json][..])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", "velaro-hosts", "ghost", "STREAMS", "velaro:events", ">"][..])
        .query_async(&mut conn)
        .await
        .unwrap();

    let (_node, mut events) = node(&redis, "node-a").await;
    let handed = tokio::time::timeout(Duration::from_secs(5), events.next()).await;
    assert_eq!(handed.expect("claimed within a few node TTLs"), Some(started));
    let pending: (usize, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
        .arg(&["velaro:events", "velaro-hosts"][..])
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending.0, 0, "acknowledged once handed over");
}

#[tokio::test]
async fn redis_unreachable_mid_call_and_back_the_call_goes_on() {
    let began = Instant::now();
    // Redis stops answering for 1.5 s, longer than a lease: commands time out, the owner's
    // lease lapses, the hangup waits on node A; then Redis is back, with its data.
    let outage = |redis: RedisServer| {
        redis.signal("-STOP");
        std::thread::sleep(Duration::from_millis(1500));
        redis.signal("-CONT");
        redis
    };
    let (_, (a, b)) = a_call_through_an_outage(RedisServer::start(), outage).await;
    assert!(a.redis_errors + b.redis_errors > 0, "the outage was felt: {a:?} {b:?}");
    println!("redis unreachable for 1.5 s mid-call: {:?}", began.elapsed());
}

#[tokio::test]
async fn redis_restarted_mid_call_the_call_goes_on() {
    let began = Instant::now();
    // Redis is killed (every connection drops, no goodbye), down for 1 s, and a new process
    // on the same port loads its append-only file: the nodes reconnect by themselves, scripts
    // are loaded again, leases lapsed meanwhile are taken again.
    let outage = |mut redis: RedisServer| {
        redis.restart(Duration::from_secs(1));
        redis
    };
    let (_, (a, b)) = a_call_through_an_outage(RedisServer::start_persistent(), outage).await;
    assert!(a.redis_errors + b.redis_errors > 0, "the outage was felt: {a:?} {b:?}");
    println!("redis restarted mid-call: {:?}", began.elapsed());
}

/// A whole call, agent on node A and visitor on node B, with `outage` done to Redis (on a
/// thread of its own, while the nodes run) once media flows and while the agent hangs up:
/// every frame arrives once, and the call starts and ends once. Returns both nodes' stats
/// before the outage and after the call.
async fn a_call_through_an_outage(
    redis: RedisServer,
    outage: impl FnOnce(RedisServer) -> RedisServer + Send + 'static,
) -> ((ClusterStats, ClusterStats), (ClusterStats, ClusterStats)) {
    // Heartbeats outlast the outage (no node is taken for gone); leases do not.
    let config = config().with_node_ttl(Duration::from_secs(5));
    let (a, a_events) = ClusterNode::start(&redis.url(), "node-a", config.clone()).await.unwrap();
    let (b, b_events) = ClusterNode::start(&redis.url(), "node-b", config).await.unwrap();
    for node in [&a, &b] {
        node.open_conversation(conversation(), true);
    }
    let (agent_link, agent_at_a) = memory_pair();
    let (visitor_link, visitor_at_b) = memory_pair();
    let agent = PartyId::new("agent-1").unwrap();
    let visitor = PartyId::new("visitor-1").unwrap();
    a.connect(agent_at_a, &conversation(), Role::Agent, agent, None).await.unwrap();
    b.connect(visitor_at_b, &conversation(), Role::Visitor, visitor, None).await.unwrap();
    let (agent_sent, agent_received) = (Received::default(), Received::default());
    let (visitor_sent, visitor_received) = (Received::default(), Received::default());
    let agent_link =
        Counting { inner: agent_link, received: agent_received.clone(), sent: agent_sent.clone() };
    let visitor_link = Counting {
        inner: visitor_link,
        received: visitor_received.clone(),
        sent: visitor_sent.clone(),
    };
    // The agent hangs up 1 s after media opened: during the outage.
    let call = tokio::spawn(whole_call(agent_link, visitor_link, Duration::from_secs(1)));
    let waited = Instant::now();
    let has_media = |list: &Received, from: &str| {
        frames_of(list, from).iter().any(|(_, kind, _)| kind == "call.media")
    };
    while !(has_media(&agent_received, "visitor-1") && has_media(&visitor_received, "agent-1")) {
        assert!(waited.elapsed() < Duration::from_secs(10), "media never connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let before = (a.stats(), b.stats());
    let redis = tokio::task::spawn_blocking(move || outage(redis)).await.unwrap();

    let call = tokio::time::timeout(Duration::from_secs(30), call)
        .await
        .expect("the call ends in time")
        .unwrap();
    assert_answered_and_hung_up(&call);
    assert_each_frame_once("the agent", &agent_received);
    assert_each_frame_once("the visitor", &visitor_received);
    assert_eq!(frames_of(&visitor_received, "agent-1"), frames_of(&agent_sent, "agent-1"));
    assert_eq!(frames_of(&agent_received, "visitor-1"), frames_of(&visitor_sent, "visitor-1"));
    let (events, written) = host_events(&redis, vec![a_events, b_events]).await;
    assert_one_call(&events, written);
    let hangup_sent = agent_sent.lock().unwrap().iter().any(|f| f.3 == "call.hangup");
    assert!(hangup_sent, "the agent hung up");
    let after = (a.stats(), b.stats());
    println!("after the outage: {after:?}");
    (before, after)
}

#[tokio::test]
async fn a_draining_owner_hands_the_call_over_and_its_party_moves_on() {
    let began = Instant::now();
    let redis = RedisServer::start();
    let (a, a_events) = node(&redis, "node-a").await;
    let (b, b_events) = node(&redis, "node-b").await;
    let agent_party = PartyId::new("agent-1").unwrap();
    let visitor_party = PartyId::new("visitor-1").unwrap();
    let (agent_link, agent_at_a) = memory_pair();
    a.connect(agent_at_a, &conversation(), Role::Agent, agent_party.clone(), None).await.unwrap();
    let waited = Instant::now();
    while lease(&redis).await.as_deref() != Some("1:node-a") {
        assert!(waited.elapsed() < Duration::from_secs(5), "node A never took the lease");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (visitor_link, visitor_at_b) = memory_pair();
    b.connect(visitor_at_b, &conversation(), Role::Visitor, visitor_party, None).await.unwrap();
    let (agent_sent, agent_received) = (Received::default(), Received::default());
    let (visitor_sent, visitor_received) = (Received::default(), Received::default());
    let link = |inner, sent: &Received, received: &Received| Counting {
        inner,
        received: received.clone(),
        sent: sent.clone(),
    };

    let clock = Arc::new(TokioClock);
    let agent_config = CallConfig::new(conversation(), agent_party.clone());
    let visitor_config = CallConfig::new(conversation(), PartyId::new("visitor-1").unwrap());
    let (mut agent, agent_control, agent_outputs) = CallSession::agent(
        agent_config,
        CallId::new("call-1").unwrap(),
        link(agent_link, &agent_sent, &agent_received),
        clock.clone(),
    );
    let (mut visitor, visitor_control, visitor_outputs) = CallSession::visitor(
        visitor_config,
        link(visitor_link, &visitor_sent, &visitor_received),
        clock,
    );
    let prompt = Prompt::new("Your agent would like to start a video call. Accept?").unwrap();
    agent_control.act(Action::Invite {
        prompt,
        media: MediaKinds::AUDIO_VIDEO,
        ice: None,
        camera_off: false,
    });
    let talk = Duration::from_secs(2);
    let agent_ui = tokio::spawn(browser(agent_control, agent_outputs, Role::Agent, talk));
    let visitor_ui =
        tokio::spawn(browser(visitor_control, visitor_outputs, Role::Visitor, Duration::ZERO));
    let agent_run = tokio::spawn(async move {
        let result = agent.run().await;
        (agent, result)
    });
    let visitor_run = tokio::spawn(async move { visitor.run().await });
    let has_media = |list: &Received, from: &str| {
        frames_of(list, from).iter().any(|(_, kind, _)| kind == "call.media")
    };
    while !(has_media(&agent_received, "visitor-1") && has_media(&visitor_received, "agent-1")) {
        assert!(waited.elapsed() < Duration::from_secs(10), "media never connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Node A is being redeployed: it drains. Its session with the agent closes; the agent's
    // client reconnects to node B and resumes; B takes the conversation over.
    a.drain(Duration::from_secs(5)).await;
    let (mut agent, dropped) = agent_run.await.unwrap();
    assert!(dropped.is_err(), "node A closed the agent's session: {dropped:?}");
    let (agent_link, agent_at_b) = memory_pair();
    let seen = agent.reconnect(link(agent_link, &agent_sent, &agent_received));
    b.connect(agent_at_b, &conversation(), Role::Agent, agent_party, Some(seen)).await.unwrap();
    // The session moves into its task, and is dropped when its call ends: its browser's
    // stream of outputs ends with it.
    let agent_run = tokio::spawn(async move { agent.run().await });
    let call = tokio::time::timeout(Duration::from_secs(30), async {
        Finished {
            agent: agent_run.await.unwrap().unwrap(),
            visitor: visitor_run.await.unwrap().unwrap(),
            agent_ui: agent_ui.await.unwrap(),
            visitor_ui: visitor_ui.await.unwrap(),
        }
    })
    .await
    .expect("the call ends in time");
    assert_answered_and_hung_up(&call);
    assert_each_frame_once("the agent", &agent_received);
    assert_each_frame_once("the visitor", &visitor_received);
    assert_eq!(frames_of(&visitor_received, "agent-1"), frames_of(&agent_sent, "agent-1"));
    assert_eq!(frames_of(&agent_received, "visitor-1"), frames_of(&visitor_sent, "visitor-1"));
    let (events, written) = host_events(&redis, vec![a_events, b_events]).await;
    assert_one_call(&events, written);
    assert_eq!(b.stats().acquisitions, 1, "node B took the conversation over");
    assert_eq!(a.stats().fenced_commits, 0, "A gave its lease up: it was never fenced");
    assert_eq!(lease(&redis).await.as_deref(), Some("2:node-b"));
    assert!(
        a.connect(memory_pair().1, &conversation(), Role::Agent, PartyId::new("x").unwrap(), None)
            .await
            .is_err(),
        "a drained node takes no session"
    );
    println!("a graceful drain mid-call: {:?}", began.elapsed());
}

/// A name another node holds is refused: a process that reused it could not tell its sessions
/// from the other node's (the demo's rolling-deploy test found a restarted process doing so).
/// Once the holder has been gone for the heartbeat's TTL, the name is free again.
#[tokio::test]
async fn a_node_name_another_node_holds_is_refused_until_it_is_free() {
    let redis = RedisServer::start();
    let (first, _events) = node(&redis, "node-a").await;
    let taken = ClusterNode::start(&redis.url(), "node-a", config()).await.err();
    assert_eq!(taken, Some(ClusterError::NodeNameTaken("node-a".to_owned())));
    let (_other, _other_events) = node(&redis, "node-b").await;
    first.dangerous_crash();
    let ttl = config().node_ttl;
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert!(ClusterNode::start(&redis.url(), "node-a", config()).await.is_ok(), "free again");
}

#[tokio::test]
async fn a_frame_redis_cannot_take_is_refused_as_unavailable_and_the_session_closes() {
    let redis = RedisServer::start();
    let patience = Duration::from_millis(300);
    let config = config().with_node_ttl(Duration::from_secs(5)).with_redis_patience(patience);
    let (a, _events) = ClusterNode::start(&redis.url(), "node-a", config).await.unwrap();
    a.open_conversation(conversation(), true);
    let (mut agent, agent_at_a) = memory_pair();
    let party = PartyId::new("agent-1").unwrap();
    a.connect(agent_at_a, &conversation(), Role::Agent, party, None).await.unwrap();

    redis.signal("-STOP");
    let hangup = r#"{"type":"call.hangup","version":1,"conversation_id":"conv-1","call_id":"call-7","party_id":"agent-1","role":"agent","seq":4,"body":{}}"#;
    agent.send(Bytes::from_static(hangup.as_bytes())).await.unwrap();
    let notice = tokio::time::timeout(Duration::from_secs(5), agent.recv()).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), agent.recv()).await;
    redis.signal("-CONT");

    let notice = decode(&notice.expect("a notice in time").unwrap().expect("a notice")).unwrap();
    assert_eq!((notice.party_id.as_str(), notice.role), ("relay", Role::Agent));
    assert_eq!(notice.call_id.as_str(), "call-7");
    let velaro_call_protocol::Message::Rejected(rejected) = notice.message else {
        panic!("not a rejection: {notice:?}");
    };
    assert_eq!(rejected.code, RejectCode::Unavailable);
    assert_eq!(rejected.rejected_seq, Some(4));
    assert!(rejected.detail.contains("300 ms"), "{}", rejected.detail);
    assert_eq!(closed.expect("closed in time").unwrap(), None, "the session closed");
    assert_eq!(a.stats().unavailable_notices, 1);
}

/// A node's news stream (the notices of its owners' inputs and of its sessions' frames) is
/// gone for a while (deleted here, as an expired or lost key would be): the notices written
/// meanwhile are dropped, the hangup's among them. Each node's heartbeat finds the stream gone,
/// creates it again, and the node reads the conversations' streams themselves: the call ends,
/// every frame once. Without that fallback the hangup would never be judged.
#[tokio::test]
async fn notices_lost_with_a_news_stream_are_read_from_the_streams() {
    let began = Instant::now();
    // Both news streams are deleted every 5 ms for 1.6 s: past the hangup.
    let outage = |redis: RedisServer| {
        let mut conn = redis::Client::open(redis.url()).unwrap().get_connection().unwrap();
        let gone = Instant::now();
        while gone.elapsed() < Duration::from_millis(1600) {
            let streams = ["velaro:node:node-a:news", "velaro:node:node-b:news"];
            let _: () = redis::cmd("DEL").arg(&streams[..]).query(&mut conn).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        redis
    };
    let ((a0, b0), (a, b)) = a_call_through_an_outage(RedisServer::start(), outage).await;
    let resyncs = (a.resyncs + b.resyncs) - (a0.resyncs + b0.resyncs);
    assert!(resyncs > 0, "the nodes read the streams: {a:?} {b:?}");
    println!("news streams gone for 1.6 s mid-call: {:?}", began.elapsed());
}
