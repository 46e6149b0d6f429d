//! `ClusterNode`: one relay node of a cluster. Its sessions' IO, the conversations it owns,
//! and its two readers (one connection each, however many calls it serves): its news stream
//! (`news`: the inputs for the conversations it owns, the frames for its sessions) and the
//! events stream. Its stewards (`steward`) judge the conversations it owns.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::channel::oneshot;
use futures::future::{Either, select};
use redis::aio::ConnectionManager;
use tokio::sync::{Notify, RwLock};
use tokio::task::AbortHandle;
use velaro_call_state::velaro_call_protocol::message::hangup::RejectCode;
use velaro_call_state::velaro_call_protocol::{ConversationId, PartyId, Role, decode, encode};

use super::config::ClusterConfig;
use super::error::ClusterError;
use super::event::ClusterEvent;
use super::input::Input;
use super::keys::{self, Keys};
use super::news::{self, Announced, NEWS_BLOCK};
use super::owner::{Owner, unix_ms};
use super::steward;
use super::store;
use crate::clock::{Clock as _, TokioClock};
use crate::relay::rejection;
use crate::transport::Transport;

/// A session connected to this node: numbered by the node (its number in the cluster is the
/// pair of the node's name and this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterSessionId(u64);

impl fmt::Display for ClusterSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node-session-{}", self.0)
    }
}

/// What a node did so far, for tests and dashboards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClusterStats {
    /// Inputs this node judged and committed as an owner.
    pub commits: u64,
    /// Commits Redis refused because another node had taken the lease (nothing was written).
    pub fenced_commits: u64,
    /// Leases this node took (each with a new epoch, each followed by a rebuild).
    pub acquisitions: u64,
    /// Frames this node wrote to its own sessions from the outbound streams.
    pub frames_delivered: u64,
    /// Redis commands that failed (and were retried, or ended an ownership).
    pub redis_errors: u64,
    /// Sessions closed because Redis stayed out of reach for
    /// [`ClusterConfig::redis_patience`] with one of their frames, each told so first
    /// (`call.rejected`, code `unavailable`).
    pub unavailable_notices: u64,
    /// Times the node read every stream it serves again because notices for it may have been
    /// lost (its news stream was gone or full, or a read of it failed).
    pub resyncs: u64,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) commits: AtomicU64,
    pub(super) fenced_commits: AtomicU64,
    pub(super) acquisitions: AtomicU64,
    pub(super) frames_delivered: AtomicU64,
    pub(super) redis_errors: AtomicU64,
    pub(super) unavailable_notices: AtomicU64,
    pub(super) resyncs: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What the news reader hands a local session.
#[derive(Debug)]
pub(super) enum Deliver {
    Frame(Bytes),
    Close,
}

/// A local session as the news reader sees it: where its frames go, and how many wait.
#[derive(Debug)]
struct Local {
    deliver: UnboundedSender<Deliver>,
    queue: Arc<Queue>,
}

/// The frames waiting for a local session, bounded by the relay's `max_queued`: a session that
/// falls further behind is closed (its party resumes from the owner's replay log), as the
/// single-process relay closes a slow consumer.
#[derive(Debug, Default)]
struct Queue {
    frames: AtomicUsize,
    closed: AtomicBool,
    close: Notify,
}

/// A conversation this node holds sessions of: how far its outbound stream was handled.
#[derive(Debug)]
pub(super) struct Reading {
    pub(super) outbound: String,
    /// The last outbound id handled (delivered if it was for this node): each once.
    pub(super) cursor: String,
    sessions: usize,
}

/// What an owner hears, in its inbox.
#[derive(Debug)]
pub(super) enum Notice {
    /// Inputs its news stream announced, in stream order.
    Inputs(Vec<Announced>),
    /// Notices may have been lost: read the inbound stream after what was consumed.
    Fill,
    /// The renewal round found the lease taken: this node owns the conversation no more.
    Lost,
    /// These nodes' heartbeats expired: their sessions are gone.
    NodesGone(Vec<String>),
    /// A renewal round went by: an idle conversation is given up.
    Tick,
}

/// A conversation this node owns, as the news reader and the renewal round see it.
#[derive(Debug)]
pub(super) struct Listener {
    /// Which registration this is: a steward that rebuilds registers again, and what was
    /// announced for an earlier one is dropped.
    pub(super) generation: u64,
    pub(super) to: UnboundedSender<Notice>,
    pub(super) lease_key: String,
    /// The lease's value, `epoch:node`.
    pub(super) lease: String,
    /// The other nodes its sessions are on (the renewal round watches their heartbeats).
    pub(super) nodes: Vec<String>,
    /// Nothing is left to judge: the renewal round wakes it to give the lease up.
    pub(super) idle: bool,
}

#[derive(Debug, Default)]
pub(super) struct State {
    stopped: bool,
    next_session: u64,
    video: HashMap<ConversationId, bool>,
    sessions: HashMap<u64, Local>,
    pub(super) reading: HashMap<ConversationId, Reading>,
    /// The conversations this node owns.
    pub(super) listening: HashMap<ConversationId, Listener>,
    next_listener: u64,
    pub(super) stewards: HashSet<ConversationId>,
    /// Stewards waiting for a lease another node holds: the renewal round tries to take them
    /// all at once, and hands each one taken its epoch.
    pub(super) waiting: HashMap<ConversationId, oneshot::Sender<u64>>,
    tasks: Vec<AbortHandle>,
    /// How many tasks were running at the last sweep of finished ones.
    tasks_kept: usize,
    /// The last notice the news reader handled (the heartbeat trims the stream up to it).
    pub(super) news_cursor: String,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) name: String,
    pub(super) config: ClusterConfig,
    /// The data connection: appends, commits, loads, acquires at connect, releases.
    pub(super) conn: ConnectionManager,
    /// The liveness connection: heartbeats, the renewal round, sweeps. Its commands never wait
    /// behind a loaded node's data, so a busy node is not taken for dead.
    pub(super) control: ConnectionManager,
    pub(super) events_key: String,
    /// `P:node:`: the scripts name a node's news stream after it.
    pub(super) node_prefix: String,
    /// This node's news stream.
    pub(super) news_key: String,
    pub(super) state: Mutex<State>,
    /// Held for writing by [`ClusterNode::dangerous_stall`]: an owner waits on it before each
    /// commit, and renews no lease while it is held, as a paused process would.
    pub(super) gate: Arc<RwLock<()>>,
    pub(super) counters: Counters,
    /// The node is draining: its stewards give their leases up and end.
    pub(super) draining: AtomicBool,
    /// Notices may have been lost: the news reader reads every stream it serves again.
    pub(super) resync: AtomicBool,
    /// The same moment on the runtime's clock and the wall clock (Unix ms).
    start: (Instant, u64),
}

/// One relay node of a Redis cluster: connect sessions of any conversation to it, and read
/// the host events it is handed (each event reaches one node).
///
/// Every node of a cluster uses the same Redis and the same [`ClusterConfig`], and a name of
/// its own. Runs on the tokio runtime it was started on. The methods mirror
/// [`RelayServer`](crate::RelayServer)'s: [`start`](Self::start) (with the receiver of host
/// events), [`open_conversation`](Self::open_conversation), [`connect`](Self::connect) (an
/// authenticated transport, with `resume` after a reconnect to any node); then
/// [`stats`](Self::stats) to watch it and [`drain`](Self::drain) before it exits. Two
/// `dangerous_*` methods inject faults for tests (a stall, a crash).
#[derive(Debug, Clone)]
pub struct ClusterNode {
    inner: Arc<Inner>,
}

pub(super) fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every update of the state is a single step: a panic cannot leave it half done.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `ms-seq` stream ids, compared as numbers.
pub(super) fn stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// A connection whose commands count as failed after `timeout` without an answer.
async fn new_connection(
    client: &redis::Client,
    timeout: Duration,
) -> Result<ConnectionManager, ClusterError> {
    let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(Some(timeout));
    ConnectionManager::new_with_config(client.clone(), config)
        .await
        .map_err(|e| ClusterError::redis("connect", &e))
}

/// How long a liveness command may take (a third of the default lease's renewal period).
const CONTROL_TIMEOUT: Duration = Duration::from_millis(500);

impl ClusterNode {
    /// Starts a node named `node_name` (1 to 64 characters of `[0-9A-Za-z._-]`, unique in the
    /// cluster) on the Redis at `redis_url` (`redis://host:port/db`), on the current tokio
    /// runtime. Returns the node and the stream of host events it is handed.
    ///
    /// A name another node holds (alive, or dead for less than `node_ttl`) is refused with
    /// [`ClusterError::NodeNameTaken`]: give each process a name of its own (a restarted
    /// process too).
    pub async fn start(
        redis_url: &str,
        node_name: &str,
        config: ClusterConfig,
    ) -> Result<(ClusterNode, UnboundedReceiver<ClusterEvent>), ClusterError> {
        if !valid_name(node_name) {
            return Err(ClusterError::InvalidNodeName(node_name.to_owned()));
        }
        let client = redis::Client::open(redis_url)
            .map_err(|e| ClusterError::Connect(e.category().to_owned()))?;
        let connect = |e: ClusterError| match e {
            ClusterError::Redis { category, .. } => ClusterError::Connect(category),
            other => other,
        };
        let mut conn = new_connection(&client, config.redis_timeout).await.map_err(connect)?;
        let control = new_connection(&client, CONTROL_TIMEOUT).await.map_err(connect)?;
        let heartbeat_key = keys::node(&config.prefix, node_name);
        if !store::claim_name(&mut conn, &heartbeat_key, config.node_ttl).await.map_err(connect)? {
            return Err(ClusterError::NodeNameTaken(node_name.to_owned()));
        }
        let events_key = keys::events(&config.prefix);
        store::events_group(&mut conn, &events_key, keys::EVENTS_GROUP).await.map_err(connect)?;
        let news_key = keys::news(&config.prefix, node_name);
        let lost_key = keys::news_lost(&config.prefix, node_name);
        let news_cursor = store::open_news(&mut conn, &news_key, &lost_key, config.node_ttl * 2)
            .await
            .map_err(connect)?;
        // A reader's blocking read waits up to its block, longer than a command may.
        let news_reader = new_connection(&client, NEWS_BLOCK + Duration::from_secs(2));
        let news_reader = news_reader.await.map_err(connect)?;
        let events_reader = new_connection(&client, CONTROL_TIMEOUT).await.map_err(connect)?;
        #[allow(clippy::disallowed_methods)] // the IO edge reads the wall clock, once
        let wall = unix_ms(SystemTime::now());
        let inner = Arc::new(Inner {
            name: node_name.to_owned(),
            node_prefix: keys::node_prefix(&config.prefix),
            config,
            conn,
            control,
            events_key,
            news_key,
            state: Mutex::new(State { news_cursor, ..State::default() }),
            gate: Arc::new(RwLock::new(())),
            counters: Counters::default(),
            draining: AtomicBool::new(false),
            resync: AtomicBool::new(false),
            start: (TokioClock.now(), wall),
        });
        let (events, events_rx) = unbounded();
        inner.spawn(news::heartbeat(Arc::clone(&inner), heartbeat_key));
        inner.spawn(news::read_news(Arc::clone(&inner), news_reader));
        inner.spawn(steward::renewals(Arc::clone(&inner)));
        inner.spawn(read_events(Arc::clone(&inner), events_reader, events));
        inner.spawn(sweep(Arc::clone(&inner)));
        Ok((ClusterNode { inner }, events_rx))
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Opens a conversation on this node (again: changes whether video is enabled for the
    /// sessions that connect from now on). The owner's relay takes the setting of each connect.
    pub fn open_conversation(&self, conversation_id: ConversationId, video_enabled: bool) {
        lock(&self.inner.state).video.insert(conversation_id, video_enabled);
    }

    /// Connects an authenticated transport as a session of `party` and serves it until it ends;
    /// `resume`: the last `seq` it saw from each sender, when it reconnects (to any node).
    ///
    /// The connect reaches the conversation's owner through Redis: a refusal there (a party id
    /// bound to the other role) closes the transport, as the single-process relay's error
    /// would have refused it.
    pub async fn connect<T: Transport + 'static>(
        &self,
        transport: T,
        conversation_id: &ConversationId,
        role: Role,
        party: PartyId,
        resume: Option<Vec<(PartyId, u64)>>,
    ) -> Result<ClusterSessionId, ClusterError> {
        let inner = &self.inner;
        if party == PartyId::relay() {
            return Err(ClusterError::ReservedParty(party));
        }
        let video = {
            let state = lock(&inner.state);
            if state.stopped {
                return Err(ClusterError::Stopped);
            }
            *state
                .video
                .get(conversation_id)
                .ok_or_else(|| ClusterError::UnknownConversation(conversation_id.clone()))?
        };
        let keys = Keys::new(&inner.config.prefix, conversation_id);
        let mut conn = inner.conn.clone();
        let (deliver, delivered) = unbounded();
        let queue = Arc::new(Queue::default());
        let (session, steward) = {
            let mut state = lock(&inner.state);
            if state.stopped {
                return Err(ClusterError::Stopped);
            }
            state.next_session += 1;
            let session = state.next_session;
            state.sessions.insert(session, Local { deliver, queue: Arc::clone(&queue) });
            // A conversation read afresh is read from the outbound stream's last id before the
            // connect (the append answers it): nothing for this session can come earlier. Until
            // then from the start: entries for this node's earlier sessions go nowhere.
            let reading = state.reading.entry(conversation_id.clone()).or_insert(Reading {
                outbound: keys.outbound.clone(),
                cursor: "0-0".to_owned(),
                sessions: 0,
            });
            reading.sessions += 1;
            (session, state.stewards.insert(conversation_id.clone()))
        };
        if steward {
            let conversation = conversation_id.clone();
            inner.spawn(steward::steward_conversation(Arc::clone(inner), conversation, false));
        }
        let input = Input::Connect {
            node: inner.name.clone(),
            session,
            q: 1,
            role,
            party,
            video,
            seen: resume,
        };
        let names = (inner.node_prefix.as_str(), true);
        let appended = store::append(&mut conn, &keys, names, &input, inner.config.retention);
        let appended = appended.await.map(|(_, outbound)| {
            let mut state = lock(&inner.state);
            if let Some(reading) = state.reading.get_mut(conversation_id)
                && stream_id(&outbound) > stream_id(&reading.cursor)
            {
                reading.cursor = outbound;
            }
        });
        if let Err(error) = appended {
            bump(&inner.counters.redis_errors);
            inner.forget_session(conversation_id, session);
            // The connect may reach Redis after all: its disconnect follows it there.
            let gone = Input::Disconnect { node: inner.name.clone(), session, q: 2 };
            let cleanup = Arc::clone(inner);
            inner.spawn(async move {
                let _ = cleanup.append_patiently(&keys, &gone).await;
            });
            return Err(error);
        }
        let run = run_session(
            Arc::clone(inner),
            (session, role),
            conversation_id.clone(),
            transport,
            (delivered, queue),
        );
        inner.spawn(run);
        Ok(ClusterSessionId(session))
    }

    /// What this node did so far.
    pub fn stats(&self) -> ClusterStats {
        let c = &self.inner.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ClusterStats {
            commits: get(&c.commits),
            fenced_commits: get(&c.fenced_commits),
            acquisitions: get(&c.acquisitions),
            frames_delivered: get(&c.frames_delivered),
            redis_errors: get(&c.redis_errors),
            unavailable_notices: get(&c.unavailable_notices),
            resyncs: get(&c.resyncs),
        }
    }

    /// Fault injection, for tests: the node's owner work stops for `duration`, as in a paused
    /// process, at the worst moment: it renews no lease, and the next input it judges waits
    /// to be committed until the stall is over (its sessions' IO goes on meanwhile).
    /// Returns once the stall has begun.
    pub async fn dangerous_stall(&self, duration: Duration) {
        let stalled = Arc::clone(&self.inner.gate).write_owned().await;
        self.inner.spawn(async move {
            TokioClock.sleep_until(TokioClock.now() + duration).await;
            drop(stalled);
        });
    }

    /// Drains the node before it exits: it takes no new session, gives up the leases of the
    /// conversations it owns (a node with a session of one takes it over within a lease, and
    /// one with none is swept up), and closes its sessions, whose clients reconnect to another
    /// node and resume within the grace. Returns once that is done, or after `timeout`; then
    /// the node is stopped. Nothing is lost: every input it read is in Redis.
    pub async fn drain(&self, timeout: Duration) {
        let inner = &self.inner;
        inner.draining.store(true, Ordering::Release);
        {
            let mut state = lock(&inner.state);
            state.stopped = true;
            for local in state.sessions.values() {
                let _ = local.deliver.unbounded_send(Deliver::Close);
            }
            // Owners wake up to give their leases up, and waiting stewards to end.
            for listener in state.listening.values() {
                let _ = listener.to.unbounded_send(Notice::Tick);
            }
            state.waiting.clear();
        }
        let give_up = TokioClock.now() + timeout;
        loop {
            let done = {
                let state = lock(&inner.state);
                state.sessions.is_empty() && state.stewards.is_empty()
            };
            if done || TokioClock.now() >= give_up {
                break;
            }
            sleep(Duration::from_millis(10)).await;
        }
        self.inner.stop();
    }

    /// Fault injection, for tests: the node dies at once, without a goodbye. Every task stops
    /// (its sessions' transports are dropped, its leases and heartbeat are left to expire) and
    /// the node refuses new sessions.
    pub fn dangerous_crash(&self) {
        self.inner.stop();
    }
}

impl Inner {
    /// Stops every task at once and refuses new sessions.
    fn stop(&self) {
        let tasks = {
            let mut state = lock(&self.state);
            state.stopped = true;
            state.sessions.clear();
            std::mem::take(&mut state.tasks)
        };
        // Outside the lock: a task's drop may take it (an owner's inbox leaves the reader).
        for task in tasks {
            task.abort();
        }
    }

    /// Registers a conversation this node owns with lease `lease`: the news reader hands its
    /// inputs to the inbox from now on, and the renewal round renews its lease (a registration
    /// of it before is replaced).
    pub(super) fn listen(
        self: &Arc<Self>,
        conversation: &ConversationId,
        keys: &Keys,
        lease: &str,
    ) -> Inbox {
        let (to, notices) = unbounded();
        let mut state = lock(&self.state);
        state.next_listener += 1;
        let generation = state.next_listener;
        let listener = Listener {
            generation,
            to,
            lease_key: keys.lease.clone(),
            lease: lease.to_owned(),
            nodes: Vec::new(),
            idle: false,
        };
        state.listening.insert(conversation.clone(), listener);
        Inbox { inner: Arc::clone(self), conversation: conversation.clone(), generation, notices }
    }

    /// Tells the renewal round which other nodes the owner's sessions are on, and whether
    /// it is idle.
    pub(super) fn publish(&self, conversation: &ConversationId, generation: u64, owner: &Owner) {
        let nodes: Vec<String> = owner.nodes(&self.name).into_iter().collect();
        let mut state = lock(&self.state);
        if let Some(listener) = state.listening.get_mut(conversation)
            && listener.generation == generation
        {
            listener.idle = owner.is_idle();
            if listener.nodes != nodes {
                listener.nodes = nodes;
            }
        }
    }

    /// Hands an outbound entry of `conversation` to its local session (`delivery`: it is for
    /// this node), once per id: one at or before the last one handled is dropped.
    pub(super) fn handle_outbound(
        &self,
        conversation: &ConversationId,
        id: &str,
        delivery: Option<(u64, Deliver)>,
    ) {
        let mut state = lock(&self.state);
        match state.reading.get_mut(conversation) {
            Some(reading) if stream_id(id) > stream_id(&reading.cursor) => {
                id.clone_into(&mut reading.cursor);
            }
            // Handled already, or nobody here reads it any more.
            _ => return,
        }
        let Some((session, deliver)) = delivery else { return };
        let Some(to) = state.sessions.get(&session) else { return };
        let frame = matches!(deliver, Deliver::Frame(_));
        if frame && to.queue.frames.load(Ordering::Acquire) >= self.config.relay.max_queued {
            // A slow consumer: closed, even while a send waits.
            to.queue.closed.store(true, Ordering::Release);
            to.queue.close.notify_one();
            state.sessions.remove(&session);
            return;
        }
        if frame {
            to.queue.frames.fetch_add(1, Ordering::AcqRel);
            bump(&self.counters.frames_delivered);
        }
        let _ = to.deliver.unbounded_send(deliver);
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut state = lock(&self.state);
        if state.stopped {
            return;
        }
        #[allow(clippy::disallowed_methods)] // the IO edge owns the tasks
        let handle = tokio::spawn(task).abort_handle();
        // Finished tasks are swept once the list doubled: linear in all, whatever the calls.
        if state.tasks.len() >= 2 * state.tasks_kept.max(64) {
            state.tasks.retain(|task| !task.is_finished());
            state.tasks_kept = state.tasks.len();
        }
        state.tasks.push(handle);
    }

    /// The runtime's `Instant` at Unix milliseconds `ms` (see [`now_ms`](Self::now_ms)).
    pub(super) fn instant_of(&self, ms: u64) -> Instant {
        let (at, wall) = self.start;
        at + Duration::from_millis(ms.saturating_sub(wall))
    }

    /// Unix milliseconds now (the runtime's clock, placed on the wall clock at start).
    pub(super) fn now_ms(&self) -> u64 {
        let (at, wall) = self.start;
        let since = TokioClock.now().saturating_duration_since(at);
        wall.saturating_add(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn has_local(&self, conversation: &ConversationId) -> bool {
        lock(&self.state).reading.contains_key(conversation)
    }

    fn forget_session(&self, conversation: &ConversationId, session: u64) {
        let mut state = lock(&self.state);
        state.sessions.remove(&session);
        if let Some(reading) = state.reading.get_mut(conversation) {
            reading.sessions = reading.sessions.saturating_sub(1);
            if reading.sessions == 0 {
                state.reading.remove(conversation);
                // Its steward waits for the lease no more.
                state.waiting.remove(conversation);
            }
        }
    }

    /// The steward of `conversation` ends unless a session connected meanwhile.
    pub(super) fn retire_steward(&self, conversation: &ConversationId) -> bool {
        let mut state = lock(&self.state);
        if state.reading.contains_key(conversation) {
            return false;
        }
        state.stewards.remove(conversation);
        true
    }

    /// Appends to the inbound stream, retrying with backoff for up to `redis_patience`:
    /// `false` when Redis stayed out of reach that long.
    async fn append_patiently(&self, keys: &Keys, input: &Input) -> bool {
        let give_up = TokioClock.now() + self.config.redis_patience;
        let mut backoff = Duration::from_millis(20);
        let mut conn = self.conn.clone();
        loop {
            let names = (self.node_prefix.as_str(), false);
            let append = store::append(&mut conn, keys, names, input, self.config.retention);
            // Patience bounds the wait for an answer too, not only the retries: a command
            // stuck on a silent Redis waits for the connection's timeout (seconds) otherwise.
            let deadline = std::pin::pin!(TokioClock.sleep_until(give_up));
            match select(std::pin::pin!(append), deadline).await {
                Either::Left((Ok(_), _)) => return true,
                Either::Left((Err(_), _)) | Either::Right(_) => bump(&self.counters.redis_errors),
            }
            let now = TokioClock.now();
            if now >= give_up {
                return false;
            }
            TokioClock.sleep_until((now + backoff).min(give_up)).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}

pub(super) async fn sleep(duration: Duration) {
    TokioClock.sleep_until(TokioClock.now() + duration).await;
}

/// An owner's inbox: what the news reader and the renewal round tell it. Dropped, it leaves
/// them (unless it was registered again since).
pub(super) struct Inbox {
    inner: Arc<Inner>,
    conversation: ConversationId,
    pub(super) generation: u64,
    pub(super) notices: UnboundedReceiver<Notice>,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        let mut state = lock(&self.inner.state);
        if state.listening.get(&self.conversation).is_some_and(|l| l.generation == self.generation)
        {
            state.listening.remove(&self.conversation);
        }
    }
}

/// Looks for live conversations whose owner went silent (its lease neither renewed nor used
/// for longer than a lease) and starts a steward to take each over, unless this node has one.
async fn sweep(inner: Arc<Inner>) {
    let live = keys::live(&inner.config.prefix);
    let mut conn = inner.control.clone();
    loop {
        sleep(inner.config.lease).await;
        let Ok(stale) = store::stale(&mut conn, &live, inner.config.lease).await else {
            bump(&inner.counters.redis_errors);
            continue;
        };
        for conversation in stale.into_iter().filter_map(|id| ConversationId::new(id).ok()) {
            let start = lock(&inner.state).stewards.insert(conversation.clone());
            if start {
                inner.spawn(steward::steward_conversation(Arc::clone(&inner), conversation, true));
            }
        }
    }
}

/// Hands this node's share of the host events to the host, and acknowledges them; once per
/// `node_ttl`, it also claims the events a dead node read and never acknowledged.
async fn read_events(
    inner: Arc<Inner>,
    mut conn: ConnectionManager,
    events: UnboundedSender<ClusterEvent>,
) {
    let group = keys::EVENTS_GROUP;
    let mut claimed_at = TokioClock.now();
    // After a failed read, this node's own pending events first: Redis may have given it
    // events whose answer never arrived.
    let mut own_pending = false;
    loop {
        let (key, name) = (&inner.events_key, &inner.name);
        let read = if claimed_at.elapsed() >= inner.config.node_ttl {
            claimed_at = TokioClock.now();
            // Acknowledged as soon as handed over: pending this long, its reader is gone.
            let idle = inner.config.node_ttl * 2;
            store::claim_events(&mut conn, key, group, name, idle).await
        } else {
            let block = Duration::from_millis(100);
            let from = if own_pending { "0" } else { ">" };
            store::read_events(&mut conn, key, group, name, from, block).await
        };
        let Ok(read) = read else {
            bump(&inner.counters.redis_errors);
            own_pending = true;
            sleep(Duration::from_millis(50)).await;
            continue;
        };
        own_pending = false;
        let mut ids = Vec::with_capacity(read.len());
        for (id, event) in read {
            // A malformed entry is acknowledged too: reading it again would not mend it.
            if let Ok(event) = event {
                let _ = events.unbounded_send(event);
            }
            ids.push(id);
        }
        if store::ack_events(&mut conn, &inner.events_key, group, &ids).await.is_err() {
            bump(&inner.counters.redis_errors);
        }
    }
}

/// One local session: its frames go to the inbound stream, its deliveries to its transport.
async fn run_session<T: Transport>(
    inner: Arc<Inner>,
    (session, role): (u64, Role),
    conversation: ConversationId,
    mut transport: T,
    (mut delivered, queue): (UnboundedReceiver<Deliver>, Arc<Queue>),
) {
    let keys = Keys::new(&inner.config.prefix, &conversation);
    // This session's inputs are numbered from its connect's 1.
    let mut q = 1;
    loop {
        let next = match select(transport.recv(), delivered.next()).await {
            Either::Left((frame, _)) => Either::Left(frame),
            Either::Right((deliver, _)) => Either::Right(deliver),
        };
        match next {
            Either::Left(Ok(Some(frame))) => {
                q += 1;
                let input = Input::Frame { node: inner.name.clone(), session, q, frame };
                if !inner.append_patiently(&keys, &input).await {
                    let Input::Frame { frame, .. } = input else { break };
                    let notice =
                        unavailable(&conversation, role, &frame, inner.config.redis_patience);
                    bump(&inner.counters.unavailable_notices);
                    // Bounded: a client that does not read gets no notice, only the close.
                    let _ = tokio::time::timeout(NOTICE_TIMEOUT, transport.send(notice)).await;
                    break;
                }
            }
            Either::Right(Some(Deliver::Frame(frame))) => {
                queue.frames.fetch_sub(1, Ordering::AcqRel);
                if queue.closed.load(Ordering::Acquire) {
                    break;
                }
                match select(transport.send(frame), std::pin::pin!(queue.close.notified())).await {
                    Either::Left((Ok(()), _)) => {}
                    Either::Left((Err(_), _)) | Either::Right(_) => break,
                }
            }
            Either::Left(Ok(None) | Err(_)) | Either::Right(Some(Deliver::Close) | None) => break,
        }
    }
    let _ = transport.close().await;
    let gone = Input::Disconnect { node: inner.name.clone(), session, q: q + 1 };
    let _ = inner.append_patiently(&keys, &gone).await;
    inner.forget_session(&conversation, session);
}

/// How long a session that is closing waits to hand its client the `unavailable` notice.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(1);

/// The `call.rejected` (`unavailable`) that tells a client its `frame` may have gone nowhere
/// (Redis stayed out of reach for `patience`; a command sent before it went silent may still
/// run), just before its session closes: a loss is never silent, and the client reconnects
/// and resumes.
fn unavailable(
    conversation: &ConversationId,
    role: Role,
    frame: &[u8],
    patience: Duration,
) -> Bytes {
    let refused = decode(frame).ok();
    let detail = format!(
        "redis was out of reach for {} ms: the frame may not have reached the call",
        patience.as_millis()
    );
    let notice =
        rejection(conversation.clone(), role, 1, refused.as_ref(), RejectCode::Unavailable, detail);
    Bytes::from(encode(&notice))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_short_plain_tokens() {
        for name in ["node-a", "eu-west-1.relay_2", "a"] {
            assert!(valid_name(name), "{name}");
        }
        let long = "n".repeat(65);
        for name in ["", "node a", "node:a", "nöde", long.as_str()] {
            assert!(!valid_name(name), "{name:?}");
        }
    }

    #[tokio::test]
    async fn a_bad_node_name_or_url_is_refused_before_any_connection() {
        let config = ClusterConfig::default();
        let refused = ClusterNode::start("redis://127.0.0.1:1/", "node a", config.clone()).await;
        let error = refused.map(|_| ()).unwrap_err();
        assert_eq!(error, ClusterError::InvalidNodeName("node a".into()));
        assert_eq!(
            error.to_string(),
            r#"node name "node a" is not 1 to 64 characters of [0-9A-Za-z._-]"#
        );
        let refused = ClusterNode::start("http://nowhere", "node-a", config).await;
        assert!(matches!(refused.map(|_| ()), Err(ClusterError::Connect(_))));
    }

    #[test]
    fn stream_ids_compare_as_numbers() {
        assert!(stream_id("10-0") > stream_id("9-5"));
        assert!(stream_id("9-10") > stream_id("9-9"));
        assert_eq!(stream_id("garbage"), (0, 0));
    }
}
