//! The demo server under abuse, measured rather than assumed: the hop a relayed frame takes,
//! and the server's memory (this process's resident set, the server running in-process) while
//! a page stops reading, floods pings, parks sockets mid-frame, floods chat or leaves
//! conversations behind.
//!
//! The tests run one at a time (they measure the whole process); run them with `--nocapture`
//! to see the figures.

#![allow(clippy::disallowed_methods)] // tests own their clocks and tasks

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use velaro_demo::{DemoConfig, DemoServer};
use velaro_signaling::{RateLimit, RelayConfig};

type Page = WebSocketStream<TcpStream>;

#[path = "support/pages.rs"]
mod pages;
use pages::{envelope, next, render, send};

/// One measuring test at a time: they share the process's memory and the machine's cores.
static SERIAL: Mutex<()> = Mutex::const_new(());

const MIB: usize = 1024 * 1024;

/// This process's resident set, in bytes (`VmRSS` of `/proc/self/status`).
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    let kib: usize = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("kB");
    kib * 1024
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// Rates so high that they never trip: for tests of the other limits.
fn unlimited() -> RateLimit {
    RateLimit { burst: 1_000_000, per_second: 1_000_000 }
}

async fn server(config: DemoConfig) -> DemoServer {
    let config = DemoConfig { addr: ([127, 0, 0, 1], 0).into(), verbose: false, ..config };
    DemoServer::start(config).await.expect("the demo server starts")
}

/// A page whose kernel receive buffer is `recv_buffer` bytes (small: it soon stops taking
/// what the server writes), with Nagle off on the test's side. Its party id is the server's.
async fn page_with(
    server: &DemoServer,
    role: &str,
    conversation: &str,
    recv_buffer: Option<u32>,
) -> Page {
    let token = render(server, &format!("/{role}?conversation={conversation}")).await.token;
    let socket = TcpSocket::new_v4().expect("socket");
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    let stream = socket.connect(server.addr()).await.expect("connects");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let url = format!("ws://{}/ws?conversation={conversation}&token={token}", server.addr());
    tokio_tungstenite::client_async(url, stream).await.expect("the page connects").0
}

async fn page(server: &DemoServer, role: &str, conversation: &str) -> Page {
    page_with(server, role, conversation, None).await
}

/// The next frame of type `kind`, skipping others.
async fn next_of(page: &mut Page, kind: &str) -> Value {
    loop {
        let frame = next(page).await;
        if frame["type"] == kind {
            return frame;
        }
    }
}

/// Reads whatever the server had written until it closes the socket; panics if it is still
/// open after `within`.
async fn assert_closed_by_server(page: &mut Page, within: Duration, what: &str) {
    let closed = tokio::time::timeout(within, async {
        while let Some(Ok(message)) = page.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "{what}: the server did not close the socket within {within:?}");
}

/// Counts the frames a page receives, reading as fast as they come.
fn drain(
    mut stream: futures::stream::SplitStream<Page>,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&count);
    let task = tokio::spawn(async move {
        while let Some(Ok(_)) = stream.next().await {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    (count, task)
}

async fn wait_for_count(count: &AtomicUsize, at_least: usize, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    while count.load(Ordering::Relaxed) < at_least {
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {at_least} within {within:?}",
            count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An agent and a visitor in `conversation` whose call the visitor answered; the visitor's
/// receive buffer is `visitor_buffer`.
async fn answered_call(
    server: &DemoServer,
    conversation: &str,
    visitor_buffer: Option<u32>,
) -> (Page, Page) {
    let mut agent = page(server, "agent", conversation).await;
    let mut visitor = page_with(server, "visitor", conversation, visitor_buffer).await;
    next_of(&mut agent, "host.welcome").await;
    next_of(&mut visitor, "host.welcome").await;
    let invite = json!({"prompt": {"text": "Video call?"}, "media": {"audio": true, "video": true},
        "lifetime_ms": 60000});
    send(&mut agent, &envelope(conversation, "agent-1", "agent", 1, "call.invite", invite)).await;
    next_of(&mut visitor, "call.invite").await;
    let accept = json!({"media": {"audio": true, "video": true}});
    send(&mut visitor, &envelope(conversation, "visitor-1", "visitor", 1, "call.accept", accept))
        .await;
    next_of(&mut agent, "call.accept").await;
    (agent, visitor)
}

/// A `call.media` body of about 1 KiB: eight streams with long ids.
fn media_body() -> Value {
    let streams: serde_json::Map<String, Value> = (0..8)
        .map(|i| {
            let id = format!("{i}{}", "s".repeat(63));
            (id, json!({"purpose": "camera", "audio_muted": false, "video_muted": i % 2 == 0}))
        })
        .collect();
    json!({ "streams": streams })
}

/// Item 12: frames relayed from one page's WebSocket to the other's cross the server without
/// waiting for an acknowledgement. Pages talk both ways (so their TCP delays its ACKs to ride on
/// their own frames) and frames come in bursts (trickled candidates, a description and its
/// candidates): without `TCP_NODELAY`, Nagle's algorithm holds the second frame of a burst
/// until the page's delayed ACK, about 40 ms on Linux.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_frame_crosses_the_server_without_nagle_delay() {
    let _one = SERIAL.lock().await;
    let relay = RelayConfig::default().with_rate(unlimited());
    let server = server(DemoConfig { relay, ..DemoConfig::default() }).await;
    let (mut agent, mut visitor) = answered_call(&server, "hop-1", None).await;
    let body = json!({"streams": {"cam-1": {"purpose": "camera", "audio_muted": false,
        "video_muted": false}}});
    let media = |party: &str, role: &str, seq: u64| {
        envelope("hop-1", party, role, seq, "call.media", body.clone())
    };
    const ROUNDS: u64 = 60;
    let mut hops = Vec::new();
    for round in 0..ROUNDS {
        // The agent sends two frames; the hop is until the visitor has the second.
        let seq = 2 + 2 * round;
        let sent = Instant::now();
        send(&mut agent, &media("agent-1", "agent", seq)).await;
        send(&mut agent, &media("agent-1", "agent", seq + 1)).await;
        assert_eq!(next_of(&mut visitor, "call.media").await["seq"], seq);
        assert_eq!(next_of(&mut visitor, "call.media").await["seq"], seq + 1);
        hops.push(sent.elapsed());
        // The visitor answers, as a page does.
        send(&mut visitor, &media("visitor-1", "visitor", 2 + round)).await;
        assert_eq!(next_of(&mut agent, "call.media").await["seq"], 2 + round);
    }
    hops.sort();
    let median = hops[hops.len() / 2];
    let p99 = hops[(hops.len() * 99).div_ceil(100) - 1];
    eprintln!("relay hop over loopback, {ROUNDS} bursts of two: median {median:?}, p99 {p99:?}");
    assert!(median < Duration::from_millis(20), "median hop {median:?} (p99 {p99:?})");
    server.stop().await.expect("stops");
}

/// Item 14: a page that stops reading while another floods the chat is disconnected once its
/// outgoing queue is full; the server does not keep what it could not write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_stops_reading_is_disconnected_before_its_queue_grows() {
    let _one = SERIAL.lock().await;
    let server = server(DemoConfig { chat_rate: unlimited(), ..DemoConfig::default() }).await;
    let mut slow = page_with(&server, "visitor", "flood-1", Some(4096)).await;
    next_of(&mut slow, "host.welcome").await;
    let flooder = page(&server, "agent", "flood-1").await;
    let (mut flood, echoes) = flooder.split();
    let (echoed, reader) = drain(echoes);
    wait_for_count(&echoed, 1, Duration::from_secs(5), "the welcome").await;

    const MESSAGES: usize = 8_000; // 2,000 characters each: 16 MB of chat
    let line = json!({"type": "chat.message", "text": "x".repeat(2000)}).to_string();
    let before = rss();
    for sent in 0..MESSAGES {
        // The flooder reads its own echoes: it keeps at most 256 lines in flight so that it
        // is not the page that falls behind.
        while sent > echoed.load(Ordering::Relaxed) + 256 {
            tokio::task::yield_now().await;
        }
        flood.send(Message::text(line.clone())).await.expect("sent");
    }
    // Every line came back to the flooder: the server has handled the whole flood.
    wait_for_count(&echoed, 1 + MESSAGES, Duration::from_secs(60), "the flood's echoes").await;
    let grown = rss().saturating_sub(before);
    eprintln!("16 MB of chat to a page that stopped reading: the server grew {}", mib(grown));
    assert!(grown < 8 * MIB, "the server grew {} for a page that stopped reading", mib(grown));
    assert_closed_by_server(&mut slow, Duration::from_secs(10), "the slow page").await;
    reader.abort();
    server.stop().await.expect("stops");
}

/// Item 14: a page that floods pings and never reads its pongs: the pongs the server cannot
/// write are not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_that_never_reads_its_pongs_stays_bounded() {
    let _one = SERIAL.lock().await;
    let server = server(DemoConfig::default()).await;
    let mut watcher = page(&server, "agent", "ping-1").await;
    next_of(&mut watcher, "host.welcome").await;
    let mut flooder = page_with(&server, "visitor", "ping-1", Some(4096)).await;

    // A masked ping with the largest control payload (125 bytes), 8,000 to a chunk.
    let mut ping = vec![0x89, 0x80 | 125, 1, 2, 3, 4];
    ping.extend((0..125u8).map(|i| i ^ [1, 2, 3, 4][usize::from(i % 4)]));
    let chunk: Vec<u8> = ping.iter().copied().cycle().take(ping.len() * 8000).collect();
    let before = rss();
    let raw = flooder.get_mut();
    for _ in 0..32 {
        raw.write_all(&chunk).await.expect("the server keeps reading");
    }
    // After the pings, a chat line on the same socket: once the watcher has it, the server has
    // read every ping before it.
    let done = br#"{"type":"chat.message","text":"pings done"}"#;
    let mut frame = vec![0x81, 0x80 | u8::try_from(done.len()).expect("short"), 0, 0, 0, 0];
    frame.extend_from_slice(done);
    raw.write_all(&frame).await.expect("sent");
    let line = next_of(&mut watcher, "chat.message").await;
    assert_eq!(line["text"], "pings done");
    let grown = rss().saturating_sub(before);
    eprintln!("256,000 pings whose pongs are never read: the server grew {}", mib(grown));
    assert!(grown < 8 * MIB, "the server grew {} keeping unread pongs", mib(grown));
    server.stop().await.expect("stops");
}

/// Item 14: sockets that send the start of a huge frame and stop: the server refuses a frame
/// larger than a message may be, instead of buffering it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_parked_mid_frame_hold_no_more_than_the_message_limit() {
    let _one = SERIAL.lock().await;
    let server = server(DemoConfig::default()).await;
    let mut pages = Vec::new();
    for _ in 0..40 {
        let mut page = page(&server, "visitor", "parked-1").await;
        next_of(&mut page, "host.welcome").await;
        pages.push(page);
    }
    // A text frame announcing 8 MiB, of which 2 MiB follow.
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(8 * MIB as u64).to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    let payload = vec![b'x'; 2 * MIB];
    let before = rss();
    for page in &mut pages {
        let raw = page.get_mut();
        // A server that refuses the header closes the socket: later writes may fail.
        if raw.write_all(&header).await.is_ok() {
            let _ = raw.write_all(&payload).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await; // the server reads what it was sent
    let grown = rss().saturating_sub(before);
    eprintln!("40 sockets parked 2 MiB into an 8 MiB frame: the server grew {}", mib(grown));
    assert!(grown < 16 * MIB, "the server grew {} holding partial frames", mib(grown));
    for page in &mut pages {
        let raw = page.get_mut();
        let mut sink = vec![0; 64 * 1024];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(n) = raw.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the server kept a socket with an oversized frame open");
    }
    server.stop().await.expect("stops");
}

/// Item 14: chat is rate-limited per page like call frames (a token bucket): a burst of 200
/// lines reaches the other page only up to the bucket, and the sender is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_is_rate_limited_like_call_frames() {
    let _one = SERIAL.lock().await;
    let server = server(DemoConfig::default()).await;
    let mut sender = page(&server, "visitor", "chatty-1").await;
    next_of(&mut sender, "host.welcome").await;
    let listener = page(&server, "agent", "chatty-1").await;
    let (_, incoming) = listener.split();
    let (heard, reader) = drain(incoming);
    wait_for_count(&heard, 1, Duration::from_secs(5), "the welcome").await;
    let before = rss();
    let started = Instant::now();
    for i in 0..200 {
        send(
            &mut sender,
            &json!({"type": "chat.message", "text": format!("line {i} {}", "y".repeat(1900))}),
        )
        .await;
    }
    let refusal = next_of(&mut sender, "host.error").await;
    assert!(
        refusal["detail"].as_str().is_some_and(|d| d.contains("rate")),
        "the sender is told it is rate-limited: {refusal}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lines = heard.load(Ordering::Relaxed) - 1;
    let elapsed = started.elapsed();
    let grown = rss().saturating_sub(before);
    eprintln!(
        "200 chat lines at once: {lines} reached the other page in {elapsed:?}; \
         the server grew {}",
        mib(grown)
    );
    let rate = DemoConfig::default().chat_rate;
    let allowed = f64::from(rate.burst) + elapsed.as_secs_f64() * f64::from(rate.per_second);
    assert!(lines as f64 <= allowed + 1.0, "{lines} lines passed, the bucket allows {allowed}");
    reader.abort();
    server.stop().await.expect("stops");
}

/// Item 13: the page's queue is bounded, so the relay's own limit (`max_queued`) trips: a
/// visitor that stops reading its call frames is disconnected, and the frames it could not
/// take are not kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_disconnects_a_page_that_stops_reading_its_call_frames() {
    let _one = SERIAL.lock().await;
    let relay = RelayConfig::default().with_rate(unlimited()).with_max_queued(16);
    let server = server(DemoConfig { relay, ..DemoConfig::default() }).await;
    let (agent, mut visitor) = answered_call(&server, "stalled-1", Some(4096)).await;
    let (mut agent_out, agent_in) = agent.split();
    let rejected = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&rejected);
    let reader = tokio::spawn(async move {
        let mut agent_in = agent_in;
        while let Some(Ok(message)) = agent_in.next().await {
            if message.to_text().is_ok_and(|t| t.contains("call.rejected")) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    const FRAMES: u64 = 20_000; // about 1 KiB each
    let body = media_body();
    let before = rss();
    for seq in 2..2 + FRAMES {
        let frame = envelope("stalled-1", "agent-1", "agent", seq, "call.media", body.clone());
        agent_out.send(Message::text(frame.to_string())).await.expect("sent");
    }
    // Not a frame: the relay's refusal comes back once it has handled everything before it.
    agent_out.send(Message::text("[]")).await.expect("sent");
    wait_for_count(&rejected, 1, Duration::from_secs(60), "the refusal").await;
    let grown = rss().saturating_sub(before);
    eprintln!(
        "20 MB of call frames to a visitor that stopped reading: the server grew {}",
        mib(grown)
    );
    assert!(grown < 8 * MIB, "the server grew {} for a visitor that stopped reading", mib(grown));
    assert_closed_by_server(&mut visitor, Duration::from_secs(10), "the stalled visitor").await;
    reader.abort();
    server.stop().await.expect("stops");
}

/// Item 14: conversations are freed once their pages are gone (the chat room with its history,
/// and the relay's conversation): a second wave of one-off conversations reuses the first's
/// memory instead of adding to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_off_conversations_are_freed() {
    let _one = SERIAL.lock().await;
    let relay = RelayConfig::default().with_grace(Duration::from_millis(50));
    let server = Arc::new(server(DemoConfig { relay, ..DemoConfig::default() }).await);
    const AT_ONCE: usize = 16;
    const LINES: usize = 10; // of 1,000 characters: 10 kB of history a conversation
    let wave = |first: usize, count: usize| {
        let server = Arc::clone(&server);
        async move {
            let mut lanes = Vec::new();
            for lane in 0..AT_ONCE {
                let server = Arc::clone(&server);
                lanes.push(tokio::spawn(async move {
                    for i in (first + lane..first + count).step_by(AT_ONCE) {
                        let conversation = format!("one-off-{i}");
                        let mut page = page(&server, "visitor", &conversation).await;
                        next_of(&mut page, "host.welcome").await;
                        for line in 0..LINES {
                            let text = format!("{line} {}", "z".repeat(1000));
                            send(&mut page, &json!({"type": "chat.message", "text": text})).await;
                        }
                        for _ in 0..LINES {
                            next_of(&mut page, "chat.message").await;
                        }
                        let _ = page.close(None).await;
                    }
                }));
            }
            for lane in lanes {
                lane.await.expect("a lane of conversations");
            }
            // Past the grace of the last ones.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    wave(0, 300).await; // warms up the server's tables and the allocator
    let before = rss();
    wave(300, 600).await;
    let grown = rss().saturating_sub(before);
    eprintln!(
        "600 more one-off conversations (10 kB of chat each): the server grew {}",
        mib(grown)
    );
    assert!(grown < 4 * MIB, "the server grew {} keeping ended conversations", mib(grown));
}
