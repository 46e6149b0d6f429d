//! Cross-node routing (issue 12's benchmark): a candidates frame from an agent whose session is
//! on node A to a visitor whose session is on node B, through a local Redis (the agent's node
//! appends it, the owner judges and commits it, the visitor's node reads and delivers it),
//! against the same frames through the single-process `RelayServer`. Each frame is sent once
//! the previous one arrived: the time per iteration is the latency of one hop. After the runs
//! it prints p50/p99 per hop for both and their ratio (the goal: p99 ≤ 2 ms across
//! nodes on loopback).
//!
//! The bench starts its own `redis-server` (`/usr/bin/redis-server`) on a free loopback port
//! and stops it. `cargo bench -p velaro-benches --bench cluster_routing`.

// The bench is the IO edge: it starts redis-server and a runtime, and measures with the clock.
#![allow(clippy::disallowed_methods)]

use std::cell::RefCell;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use velaro_call_protocol::message::answer::{AcceptBody, SelectAnswerBody};
use velaro_call_protocol::message::candidates::{CandidatesBody, IceCandidate};
use velaro_call_protocol::message::invite::{InviteBody, MediaKinds, Prompt};
use velaro_call_protocol::{CallId, ConversationId, Envelope, Message, PartyId, Role, encode};
use velaro_signaling::cluster::{ClusterConfig, ClusterNode};
use velaro_signaling::{
    MemoryTransport, RateLimit, Relay, RelayConfig, RelayServer, Transport, memory_pair, serve,
};
use velaro_tests::redis_server::RedisServer;

/// Frames routed per call: under the referee's 100-candidates-per-direction cap.
const FRAMES: u64 = 90;

fn conversation(k: u64) -> ConversationId {
    ConversationId::new(format!("conv-{k}")).expect("id")
}

fn frame(k: u64, seq: u64, role: Role, message: impl Into<Message>) -> Bytes {
    let party = if role == Role::Agent { "agent-1" } else { "visitor-1" };
    Bytes::from(encode(&Envelope::new(
        conversation(k),
        CallId::new("call-1").expect("id"),
        PartyId::new(party).expect("id"),
        role,
        seq,
        message,
    )))
}

fn candidates(k: u64, seq: u64) -> Bytes {
    let line = "candidate:275346429 1 udp 2122260223 127.0.0.1 43974 typ host generation 0 ufrag lZ7j network-id 1 network-cost 50";
    let candidate = IceCandidate::new(line.parse().expect("candidate"), Some("0".into()), Some(0))
        .with_username_fragment("lZ7j");
    frame(k, seq, Role::Agent, CandidatesBody::new(vec![candidate]))
}

fn relay_config() -> RelayConfig {
    // Frames back to back: above the default rate limit, which is not measured here.
    RelayConfig::default().with_rate(RateLimit { burst: 1000, per_second: 1000 })
}

/// Sends `frame` on `from` and waits for it on `to`: the hop's latency.
async fn hop(from: &mut MemoryTransport, to: &mut MemoryTransport, frame: Bytes) -> Duration {
    let sent = Instant::now();
    from.send(frame).await.expect("the session is up");
    let got = tokio::time::timeout(Duration::from_secs(10), to.recv())
        .await
        .expect("the frame arrives")
        .expect("the link is up")
        .expect("the link is open");
    assert!(!got.is_empty());
    sent.elapsed()
}

/// An answered call in conversation `k`: the agent's and the visitor's client links.
async fn answered(
    k: u64,
    agent_link: MemoryTransport,
    visitor_link: MemoryTransport,
) -> (MemoryTransport, MemoryTransport) {
    let (mut agent, mut visitor) = (agent_link, visitor_link);
    let invite =
        InviteBody::new(Prompt::new("Video call?").expect("prompt"), MediaKinds::AUDIO_VIDEO);
    hop(&mut agent, &mut visitor, frame(k, 1, Role::Agent, invite)).await;
    let accept = AcceptBody::new(MediaKinds::AUDIO_VIDEO);
    hop(&mut visitor, &mut agent, frame(k, 1, Role::Visitor, accept)).await;
    let select = SelectAnswerBody::new(PartyId::new("visitor-1").expect("id"));
    hop(&mut agent, &mut visitor, frame(k, 2, Role::Agent, select)).await;
    (agent, visitor)
}

/// Where the calls are served.
enum Target {
    /// Agent on the first node, visitor on the second.
    Cluster(ClusterNode, ClusterNode),
    InProcess(RelayServer),
}

impl Target {
    async fn call(&self, k: u64) -> (MemoryTransport, MemoryTransport) {
        let (agent, agent_end) = memory_pair();
        let (visitor, visitor_end) = memory_pair();
        let (agent_id, visitor_id) =
            (PartyId::new("agent-1").expect("id"), PartyId::new("visitor-1").expect("id"));
        let c = conversation(k);
        match self {
            Target::Cluster(a, b) => {
                a.open_conversation(c.clone(), true);
                b.open_conversation(c.clone(), true);
                a.connect(agent_end, &c, Role::Agent, agent_id, None).await.expect("connect");
                b.connect(visitor_end, &c, Role::Visitor, visitor_id, None).await.expect("connect");
            }
            Target::InProcess(server) => {
                server.open_conversation(c.clone(), true);
                server.connect(agent_end, &c, Role::Agent, agent_id, None).expect("connect");
                server.connect(visitor_end, &c, Role::Visitor, visitor_id, None).expect("connect");
            }
        }
        answered(k, agent, visitor).await
    }

    /// Routes `iters` candidates frames, each after the previous one arrived, over fresh calls
    /// of `FRAMES` frames; returns the time spent in hops and records each hop.
    async fn route(&self, iters: u64, next: &mut u64, hops: &mut Vec<Duration>) -> Duration {
        let mut left = iters;
        let mut total = Duration::ZERO;
        while left > 0 {
            *next += 1;
            let k = *next;
            let (mut agent, mut visitor) = self.call(k).await;
            for seq in 3..3 + left.min(FRAMES) {
                let took = hop(&mut agent, &mut visitor, candidates(k, seq)).await;
                hops.push(took);
                total += took;
            }
            left = left.saturating_sub(FRAMES);
        }
        total
    }
}

fn percentile(hops: &mut [Duration], q: f64) -> Duration {
    hops.sort_unstable();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let at = ((hops.len() as f64 * q) as usize).min(hops.len().saturating_sub(1));
    hops.get(at).copied().unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let redis = RedisServer::start();
    let (cluster, in_process) = runtime.block_on(async {
        let config = ClusterConfig::new(relay_config());
        let (a, _a_events) =
            ClusterNode::start(&redis.url(), "node-a", config.clone()).await.expect("node a");
        let (b, _b_events) = ClusterNode::start(&redis.url(), "node-b", config).await.expect("b");
        let (server, _events) = serve(Relay::new(relay_config()));
        (Target::Cluster(a, b), Target::InProcess(server))
    });
    let next = RefCell::new(0);
    let cluster_hops = RefCell::new(Vec::new());
    let in_process_hops = RefCell::new(Vec::new());

    let mut group = c.benchmark_group("cluster_routing");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for (name, target, hops) in [
        ("cross_node_hop_over_redis", &cluster, &cluster_hops),
        ("in_process_relay_hop", &in_process, &in_process_hops),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (mut next, mut hops) = (next.borrow_mut(), hops.borrow_mut());
                runtime.block_on(target.route(iters, &mut next, &mut hops))
            });
        });
    }
    group.finish();

    let mut cluster_hops = cluster_hops.into_inner();
    let mut in_process_hops = in_process_hops.into_inner();
    let mean = |hops: &[Duration]| {
        hops.iter().sum::<Duration>() / u32::try_from(hops.len().max(1)).unwrap_or(u32::MAX)
    };
    let (cluster_mean, in_process_mean) = (mean(&cluster_hops), mean(&in_process_hops));
    for (what, hops, mean) in [
        ("cross-node hop over redis", &mut cluster_hops, cluster_mean),
        ("in-process relay hop", &mut in_process_hops, in_process_mean),
    ] {
        eprintln!(
            "{what}: {} hops, mean {mean:?}, p50 {:?}, p99 {:?}",
            hops.len(),
            percentile(hops, 0.50),
            percentile(hops, 0.99),
        );
    }
    eprintln!(
        "cross-node / in-process: mean x{:.1}, p50 x{:.1}, p99 x{:.1} (goal: p99 per cross-node \
         hop <= 2 ms on loopback)",
        cluster_mean.as_secs_f64() / in_process_mean.as_secs_f64().max(1e-9),
        percentile(&mut cluster_hops, 0.50).as_secs_f64()
            / percentile(&mut in_process_hops, 0.50).as_secs_f64().max(1e-9),
        percentile(&mut cluster_hops, 0.99).as_secs_f64()
            / percentile(&mut in_process_hops, 0.99).as_secs_f64().max(1e-9),
    );
    runtime.block_on(async {
        if let Target::Cluster(a, b) = &cluster {
            a.dangerous_crash();
            b.dangerous_crash();
        }
    });
    drop(redis);
}

criterion_group!(cluster_routing, benches);
criterion_main!(cluster_routing);
