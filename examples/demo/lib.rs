//! The browser demo: an HTTP server on 127.0.0.1 that hosts a [`Relay`] and serves two pages,
//! `/agent` and `/visitor`, whose plain JavaScript chats and makes real WebRTC calls with the
//! v1 protocol through the browser package `@velaro/call` (`velaro-call-js`, served as built).
//!
//! Each page opens one WebSocket that carries the host application's own frames (`chat.*`,
//! `host.*`) and our call frames side by side: the server reads each frame's `type`, handles
//! its own and hands every other frame to the relay, as a chat product embedding the crates
//! would. It mints TURN credentials and the `RTCConfiguration` (velaro-ice-config) when a
//! page connects, and again for every call and every ICE restart: credentials live an hour
//! while an agent's console stays open all day, so a host must mint per call, not per
//! connection. As a call starts the server sends a `host.ice` with fresh credentials just
//! ahead of the `call.invite` that rings a visitor and of the `call.accept` that reaches the
//! agent (the frames after which each creates its peer connection), and it answers a page's
//! `host.ice_refresh` (sent before an ICE restart) with another. Every page carries the
//! `Content-Security-Policy` and `Permissions-Policy` that [`EmbedPolicy`] builds.
//!
//! With the visitor's policy `Relay` (the server's `--relay-only`) the relay also filters what
//! visitors send down to relay candidates ([`DemoConfig::relay_config`]). Every buffer a page
//! can fill is bounded (the `socket` module lists them): a page that stops reading is
//! disconnected rather than buffered, chat is rate-limited like call frames, and a chat room
//! is freed once its last page has been gone for the relay's grace. Accepted sockets have
//! `TCP_NODELAY`, so a relayed frame is written at once rather than after the page's delayed
//! acknowledgement (Nagle's algorithm: about 40 ms a frame).
//!
//! `/metrics` serves the relay's metrics (`velaro-signaling`'s `metrics` feature) in the
//! Prometheus text format: the first server a process starts installs a Prometheus recorder as
//! the process's `metrics` recorder, without an HTTP listener of its own. A real host serves it
//! on an internal port, not beside its public pages. With `verbose` the server prints the
//! relay's `tracing` events (`velaro-signaling`'s `tracing` feature) on stderr.
//!
//! Identity comes from a join token (velaro-signaling's `JoinKeys`) that the server mints when
//! it renders a page: the role from the page's path, a party id of the server's making, the
//! conversation; the WebSocket admits that token once and nothing else, so a page cannot pick
//! its role. The `/agent` path stands in for a login: a real host signs tokens after its own.
//!
//! With [`DemoConfig::cluster`] (the server's `--redis URL --node NAME`) the server is one node
//! of a relay cluster on Redis: the pages' sockets go through a [`ClusterNode`] instead of the
//! in-process relay, the chat goes through Redis, and the transcript lines come from the
//! cluster's host events, so pages on two or three demo servers share a conversation and its
//! calls, and a call goes on when the server of one of its pages is restarted (the `cluster`
//! module says what the demo keeps in Redis).
//!
//! Every call that ends becomes one JSON line ([`CallRecord`]: parties, wall-clock times,
//! outcome, talk time, media used) appended to [`DemoConfig::records`], to store and bill from.
//!
//! [`CallRecord`]: velaro_call_state::CallRecord
//!
//! [`Relay`]: velaro_signaling::Relay
//! [`ClusterNode`]: velaro_signaling::cluster::ClusterNode
//! [`EmbedPolicy`]: velaro_ice_config::EmbedPolicy

// The demo is the IO edge: it owns the runtime, the tasks and the clocks.
#![allow(clippy::disallowed_methods)]

mod cluster;
mod config;
mod hub;
mod outbox;
mod pages;
mod socket;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use futures::StreamExt as _;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use velaro_call_protocol::{ConversationId, PartyId, Role};
use velaro_call_state::{CallRecord, CallSummary};
use velaro_signaling::cluster::{ClusterConfig, ClusterEvent, ClusterNode};
use velaro_signaling::{Relay, RelayEvent, RelayServer, Transport, serve};

pub use cluster::{ClusterSettings, MAX_NODE_NAME, shared_join_key};
pub use config::{DemoConfig, JoinTokens, TurnConfig};

/// The workspace README, whose Rust code blocks run as doctests, so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
use cluster::ChatBus;
use hub::{Hub, Speaker};

/// Where the pages' sockets go: the in-process relay, or this server's node of a cluster.
#[derive(Debug)]
enum Relays {
    Local(RelayServer),
    Cluster(ClusterNode),
}

/// What every request handler shares.
#[derive(Debug)]
struct App {
    config: DemoConfig,
    relay: Relays,
    hub: Mutex<Hub>,
    headers: pages::SecurityHeaders,
    /// In a cluster, the chat goes through Redis to every node.
    bus: Option<ChatBus>,
}

impl App {
    fn hub(&self) -> MutexGuard<'_, Hub> {
        // Chat state stays consistent even if a holder panicked: each update is one push.
        self.hub.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Says `text` in the conversation: to this server's pages in it, or, in a cluster, to
    /// every node's.
    fn say(&self, conversation: &ConversationId, speaker: Speaker<'_>, text: &str) {
        match &self.bus {
            Some(bus) => bus.say(conversation, speaker, text),
            None => self.hub().post(Instant::now(), conversation, speaker, text),
        }
    }

    fn open_conversation(&self, conversation: ConversationId, video_enabled: bool) {
        match &self.relay {
            Relays::Local(relay) => relay.open_conversation(conversation, video_enabled),
            Relays::Cluster(node) => node.open_conversation(conversation, video_enabled),
        }
    }

    /// Connects a page's transport to the relay or the cluster; an error says why not.
    async fn connect<T: Transport + 'static>(
        &self,
        transport: T,
        conversation: &ConversationId,
        role: Role,
        party: PartyId,
        resume: Option<Vec<(PartyId, u64)>>,
    ) -> Result<(), String> {
        match &self.relay {
            Relays::Local(relay) => relay
                .connect(transport, conversation, role, party, resume)
                .map(drop)
                .map_err(|e| e.to_string()),
            Relays::Cluster(node) => node
                .connect(transport, conversation, role, party, resume)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        }
    }
}

/// A running demo server; [`stop`](Self::stop) it, or drop it to stop it with the runtime.
#[derive(Debug)]
pub struct DemoServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
    /// In a cluster: this server's node, drained when it stops.
    node: Option<ClusterNode>,
    /// The tasks beside the server: the host events' reader, the chat's publisher and
    /// subscriber.
    helpers: Vec<JoinHandle<()>>,
}

impl DemoServer {
    /// Binds `config.addr` (port 0 picks a free port) and starts serving on the current tokio
    /// runtime; with [`DemoConfig::cluster`], first starts its node of the cluster (an error
    /// when Redis cannot be reached).
    pub async fn start(config: DemoConfig) -> io::Result<DemoServer> {
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let headers = pages::SecurityHeaders::for_origin(addr)?;
        if config.verbose {
            print_logs();
        }
        // Before the relay: it registers its metrics with the recorder installed now.
        prometheus();
        let hub = Mutex::new(Hub::new(config.relay.grace));
        let mut helpers = Vec::new();
        let (app, node) = if let Some(settings) = config.cluster.clone() {
            let (bus, chat) = ChatBus::connect(&settings).await?;
            let cluster = ClusterConfig::new(config.relay_config());
            let (node, events) = cluster::start_node(&settings, cluster).await?;
            let relay = Relays::Cluster(node.clone());
            let app = Arc::new(App { config, relay, hub, headers, bus: Some(bus) });
            helpers.extend(chat.run(Arc::clone(&app)));
            helpers.push(tokio::spawn(report_cluster_calls(Arc::clone(&app), events)));
            (app, Some(node))
        } else {
            let (relay, events) = serve(Relay::new(config.relay_config()));
            let relay = Relays::Local(relay);
            let app = Arc::new(App { config, relay, hub, headers, bus: None });
            helpers.push(tokio::spawn(report_calls(Arc::clone(&app), events)));
            (app, None)
        };
        let router = Router::new()
            .route("/", get(pages::index))
            .route("/agent", get(pages::agent))
            .route("/visitor", get(pages::visitor))
            .route("/static/{file}", get(pages::asset))
            .route("/static/call/{*path}", get(pages::package_module))
            .route("/ws", get(socket::upgrade))
            .route("/metrics", get(scrape))
            .with_state(app);
        let (shutdown, stopped) = oneshot::channel::<()>();
        // Every relayed frame is a small write: without TCP_NODELAY, Nagle's algorithm holds one
        // that follows another until the page acknowledges the first, which its delayed ACK
        // does only after about 40 ms.
        let listener = listener.tap_io(|socket| {
            let _ = socket.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(DemoServer { addr, shutdown: Some(shutdown), task, node, helpers })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves until the listener fails (the command line's way to run).
    pub async fn run(mut self) -> io::Result<()> {
        // Holding the shutdown sender keeps the graceful shutdown from firing.
        let _keep_running = self.shutdown.take();
        (&mut self.task).await.map_err(io::Error::other)?
    }

    /// Stops accepting connections, closes the open ones and waits for the server to end. In
    /// a cluster its node is drained first (for at most [`DRAIN`](Self::DRAIN)): its
    /// conversations are handed over, and its pages reconnect to the server again, or to
    /// another node, and resume.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(node) = self.node.take() {
            node.drain(Self::DRAIN).await;
        }
        for helper in &self.helpers {
            helper.abort();
        }
        // Open WebSockets keep a graceful shutdown waiting: end them with the task.
        self.task.abort();
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) if error.is_cancelled() => Ok(()),
            Err(error) => Err(io::Error::other(error)),
        }
    }
}

impl DemoServer {
    /// How long [`stop`](Self::stop) waits for a cluster node to hand its conversations over.
    pub const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);
}

/// Dropped without [`stop`](DemoServer::stop), a cluster node is not drained: its tasks stop
/// with the runtime, and the cluster takes it for gone once its heartbeat expires.
impl Drop for DemoServer {
    fn drop(&mut self) {
        self.task.abort();
        for helper in &self.helpers {
            helper.abort();
        }
    }
}

/// The histogram buckets of `velaro_accept_to_media_seconds`, in seconds: browsers on one
/// network connect in well under a second, through TURN in one or two, and the call fails at 30.
const ACCEPT_TO_MEDIA_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];

/// The process's Prometheus recorder, installed as the global `metrics` recorder by the first
/// call (a process has one recorder); `None` when the host had installed another.
fn prometheus() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let accept_to_media = Matcher::Full("velaro_accept_to_media_seconds".to_owned());
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(accept_to_media, ACCEPT_TO_MEDIA_BUCKETS)
                .ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// `GET /metrics`: the metrics in the Prometheus text format.
async fn scrape() -> Response {
    let Some(handle) = prometheus() else {
        return (StatusCode::NOT_FOUND, "another metrics recorder is installed").into_response();
    };
    // Without a listener of its own, the recorder's upkeep (draining histograms) runs here.
    handle.run_upkeep();
    let content_type = [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")];
    (content_type, handle.render()).into_response()
}

/// One record as one JSON line.
fn write_record(file: &mut std::fs::File, record: &CallRecord) -> io::Result<()> {
    use std::io::Write as _;
    let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
    line.push(b'\n');
    file.write_all(&line)
}

/// Prints the relay's `tracing` events on stderr (`verbose`): sessions, refusals, calls started
/// and ended, at `DEBUG`; the first server of a process installs it, unless the host has a
/// subscriber of its own.
fn print_logs() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
    use tracing_subscriber::util::SubscriberInitExt as _;
    let ours = Targets::new().with_target("velaro_signaling", LevelFilter::DEBUG);
    let stderr = tracing_subscriber::fmt::layer().with_writer(io::stderr).with_filter(ours);
    let _ = tracing_subscriber::registry().with(stderr).try_init();
}

/// Writes the relay's news into the conversations' chat: the call started, and the call's
/// summary line when it ended (the chat goes on); appends each ended call's record.
async fn report_calls(
    app: Arc<App>,
    mut events: futures::channel::mpsc::UnboundedReceiver<RelayEvent>,
) {
    let mut records = open_records(&app);
    while let Some(event) = events.next().await {
        match event {
            RelayEvent::CallStarted { conversation_id, .. } => {
                app.say(&conversation_id, Speaker::System, CALL_STARTED);
            }
            RelayEvent::CallEnded { report } => {
                let line = report.summary.transcript_line();
                app.say(&report.conversation_id, Speaker::System, &line);
                if let Some(file) = records.as_mut() {
                    let record = CallRecord::new(&report, Instant::now(), SystemTime::now());
                    if let Err(error) = write_record(file, &record) {
                        eprintln!("server: writing a call record: {error}");
                    }
                }
            }
            _ => {}
        }
    }
}

/// The transcript line of a call that started.
const CALL_STARTED: &str = "Video call started";

/// The `--records` file, opened to append (`None` without one, or when it cannot be opened).
fn open_records(app: &App) -> Option<std::fs::File> {
    app.config.records.as_ref().and_then(|path| {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
        file.map_err(|error| eprintln!("server: records {}: {error}", path.display())).ok()
    })
}

/// The transcript line of an ended call, from its record (what a cluster's event carries).
fn transcript_line(record: &CallRecord) -> String {
    let summary = CallSummary {
        call_id: record.call_id.clone(),
        outcome: record.outcome,
        ended_by: record.ended_by,
        reason: record.reason.clone(),
        ring_time: std::time::Duration::from_millis(record.ring_time_ms),
        talk_time: std::time::Duration::from_millis(record.talk_time_ms),
    };
    summary.transcript_line()
}

/// [`report_calls`] for a cluster node: the host events this node is handed (each event of
/// the cluster reaches one node) go into the chat of every node, and each ended call's record
/// into this node's records.
async fn report_cluster_calls(
    app: Arc<App>,
    mut events: futures::channel::mpsc::UnboundedReceiver<ClusterEvent>,
) {
    let mut records = open_records(&app);
    while let Some(event) = events.next().await {
        match event {
            ClusterEvent::CallStarted { conversation_id, .. } => {
                app.say(&conversation_id, Speaker::System, CALL_STARTED);
            }
            ClusterEvent::CallEnded { record } => {
                app.say(&record.conversation_id, Speaker::System, &transcript_line(&record));
                if let Some(file) = records.as_mut()
                    && let Err(error) = write_record(file, &record)
                {
                    eprintln!("server: writing a call record: {error}");
                }
            }
            _ => {}
        }
    }
}
