//! `ClusterNode`: one relay node of a cluster. Its sessions' IO, the conversations it owns,
//! and its three readers (one connection each, however many calls it serves): the inbound
//! streams of the conversations it owns, the outbound streams of those it holds sessions of,
//! and the events stream.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
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
use super::owner::{Effects, Owner, unix_ms};
use super::store::{self, Commit, Committed, Lease};
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
}

#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    fenced_commits: AtomicU64,
    acquisitions: AtomicU64,
    frames_delivered: AtomicU64,
    redis_errors: AtomicU64,
    unavailable_notices: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What the outbound reader hands a local session.
#[derive(Debug)]
enum Deliver {
    Frame(Bytes),
    Close,
}

/// A local session as the outbound reader sees it: where its frames go, and how many wait.
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

/// A conversation this node holds sessions of: where its outbound reader is.
#[derive(Debug)]
struct Reading {
    outbound: String,
    cursor: String,
    sessions: usize,
}

/// Inbound entries read for an owner, in stream order: each entry's id and input.
type Entries = Vec<(String, Result<Input, ClusterError>)>;

/// A conversation this node owns, as the inbound reader sees it: where it read up to, and
/// where it hands the entries.
#[derive(Debug)]
struct Listener {
    inbound: String,
    cursor: String,
    /// Which registration this is: a steward that rebuilds registers again, from its consumed
    /// id, and what was read for an earlier one is dropped.
    generation: u64,
    to: UnboundedSender<Entries>,
}

#[derive(Debug, Default)]
struct State {
    stopped: bool,
    next_session: u64,
    video: HashMap<ConversationId, bool>,
    sessions: HashMap<u64, Local>,
    reading: HashMap<ConversationId, Reading>,
    /// The conversations this node owns, read by its one inbound reader.
    listening: HashMap<ConversationId, Listener>,
    next_listener: u64,
    stewards: HashSet<ConversationId>,
    tasks: Vec<AbortHandle>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    config: ClusterConfig,
    conn: ConnectionManager,
    events_key: String,
    state: Mutex<State>,
    /// Held for writing by [`ClusterNode::dangerous_stall`]: an owner waits on it before each
    /// commit, and renews no lease while it is held, as a paused process would.
    gate: Arc<RwLock<()>>,
    counters: Counters,
    /// The node is draining: its stewards give their leases up and end.
    draining: AtomicBool,
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

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every update of the state is a single step: a panic cannot leave it half done.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `ms-seq` stream ids, compared as numbers.
fn stream_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

async fn new_connection(client: &redis::Client) -> Result<ConnectionManager, ClusterError> {
    ConnectionManager::new(client.clone()).await.map_err(|e| ClusterError::redis("connect", &e))
}

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
        let mut conn = new_connection(&client).await.map_err(connect)?;
        let heartbeat_key = keys::node(&config.prefix, node_name);
        if !store::claim_name(&mut conn, &heartbeat_key, config.node_ttl).await.map_err(connect)? {
            return Err(ClusterError::NodeNameTaken(node_name.to_owned()));
        }
        let events_key = keys::events(&config.prefix);
        store::events_group(&mut conn, &events_key, keys::EVENTS_GROUP).await.map_err(connect)?;
        let outbound_reader = new_connection(&client).await.map_err(connect)?;
        let inbound_reader = new_connection(&client).await.map_err(connect)?;
        let events_reader = new_connection(&client).await.map_err(connect)?;
        #[allow(clippy::disallowed_methods)] // the IO edge reads the wall clock, once
        let wall = unix_ms(SystemTime::now());
        let inner = Arc::new(Inner {
            name: node_name.to_owned(),
            config,
            conn,
            events_key,
            state: Mutex::new(State::default()),
            gate: Arc::new(RwLock::new(())),
            counters: Counters::default(),
            draining: AtomicBool::new(false),
            start: (TokioClock.now(), wall),
        });
        let (events, events_rx) = unbounded();
        inner.spawn(heartbeat(Arc::clone(&inner), heartbeat_key));
        inner.spawn(read_outbound(Arc::clone(&inner), outbound_reader));
        inner.spawn(read_inbound(Arc::clone(&inner), inbound_reader));
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
        // Read from here on: the owner writes nothing for this session before its connect.
        let cursor = store::last_outbound(&mut conn, &keys).await?;
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
            let reading = state.reading.entry(conversation_id.clone()).or_insert(Reading {
                outbound: keys.outbound.clone(),
                cursor,
                sessions: 0,
            });
            reading.sessions += 1;
            (session, state.stewards.insert(conversation_id.clone()))
        };
        if steward {
            inner.spawn(steward_conversation(Arc::clone(inner), conversation_id.clone(), false));
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
        if let Err(error) = store::append(&mut conn, &keys, &input, inner.config.retention).await {
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

    /// Registers an owned conversation with the inbound reader, which reads its inbound stream
    /// after `cursor` from now on (a registration of it before is replaced).
    fn listen(self: &Arc<Self>, conversation: &ConversationId, keys: &Keys, cursor: &str) -> Inbox {
        let (to, entries) = unbounded();
        let mut state = lock(&self.state);
        state.next_listener += 1;
        let generation = state.next_listener;
        let listener =
            Listener { inbound: keys.inbound.clone(), cursor: cursor.to_owned(), generation, to };
        state.listening.insert(conversation.clone(), listener);
        Inbox { inner: Arc::clone(self), conversation: conversation.clone(), generation, entries }
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut state = lock(&self.state);
        if state.stopped {
            return;
        }
        #[allow(clippy::disallowed_methods)] // the IO edge owns the tasks
        let handle = tokio::spawn(task).abort_handle();
        state.tasks.retain(|task| !task.is_finished());
        state.tasks.push(handle);
    }

    /// Unix milliseconds now (the runtime's clock, placed on the wall clock at start).
    fn now_ms(&self) -> u64 {
        let (at, wall) = self.start;
        let since = TokioClock.now().saturating_duration_since(at);
        wall.saturating_add(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    fn has_local(&self, conversation: &ConversationId) -> bool {
        lock(&self.state).reading.contains_key(conversation)
    }

    fn forget_session(&self, conversation: &ConversationId, session: u64) {
        let mut state = lock(&self.state);
        state.sessions.remove(&session);
        if let Some(reading) = state.reading.get_mut(conversation) {
            reading.sessions = reading.sessions.saturating_sub(1);
            if reading.sessions == 0 {
                state.reading.remove(conversation);
            }
        }
    }

    /// The steward of `conversation` ends unless a session connected meanwhile.
    fn retire_steward(&self, conversation: &ConversationId) -> bool {
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
            match store::append(&mut conn, keys, input, self.config.retention).await {
                Ok(()) => return true,
                Err(_) => bump(&self.counters.redis_errors),
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

async fn sleep(duration: Duration) {
    TokioClock.sleep_until(TokioClock.now() + duration).await;
}

/// Keeps the node's heartbeat key alive.
async fn heartbeat(inner: Arc<Inner>, key: String) {
    let mut conn = inner.conn.clone();
    loop {
        if store::heartbeat(&mut conn, &key, inner.config.node_ttl).await.is_err() {
            bump(&inner.counters.redis_errors);
        }
        sleep(inner.config.node_ttl / 3).await;
    }
}

/// Reads the outbound streams of the conversations this node holds sessions of, and hands
/// each frame addressed to one of its sessions to it: once per stream id.
async fn read_outbound(inner: Arc<Inner>, mut conn: ConnectionManager) {
    loop {
        let streams: HashMap<String, (ConversationId, String)> = {
            let state = lock(&inner.state);
            let streams = state.reading.iter();
            streams.map(|(id, r)| (r.outbound.clone(), (id.clone(), r.cursor.clone()))).collect()
        };
        if streams.is_empty() {
            sleep(Duration::from_millis(10)).await;
            continue;
        }
        let keys = streams.iter().map(|(key, (_, cursor))| (key.as_str(), cursor.as_str()));
        let block = Duration::from_millis(50);
        let read = store::read_streams(&mut conn, "read outbound", keys, 512, block).await;
        let Ok(read) = read else {
            bump(&inner.counters.redis_errors);
            sleep(Duration::from_millis(50)).await;
            continue;
        };
        for (key, entries) in read {
            let Some((conversation, _)) = streams.get(&key) else { continue };
            for entry in entries {
                let addressed =
                    store::field_bytes(&entry, "n").is_some_and(|n| n == inner.name.as_bytes());
                let session = store::field_u64(&entry, "s");
                let deliver = match store::field_bytes(&entry, "k").as_deref() {
                    Some(b"f") => {
                        store::field_bytes(&entry, "b").map(|b| Deliver::Frame(Bytes::from(b)))
                    }
                    Some(b"x") => Some(Deliver::Close),
                    _ => None,
                };
                let mut state = lock(&inner.state);
                if let Some(reading) = state.reading.get_mut(conversation)
                    && stream_id(&entry.id) > stream_id(&reading.cursor)
                {
                    reading.cursor.clone_from(&entry.id);
                } else {
                    // Read already (the cursor moved on), or nobody here reads it any more.
                    continue;
                }
                if let (true, Some(session), Some(deliver)) = (addressed, session, deliver)
                    && let Some(to) = state.sessions.get(&session)
                {
                    let queued = to.queue.frames.load(Ordering::Acquire);
                    if matches!(deliver, Deliver::Frame(_))
                        && queued >= inner.config.relay.max_queued
                    {
                        // A slow consumer: closed, even while a send waits.
                        to.queue.closed.store(true, Ordering::Release);
                        to.queue.close.notify_one();
                        state.sessions.remove(&session);
                        continue;
                    }
                    if matches!(deliver, Deliver::Frame(_)) {
                        to.queue.frames.fetch_add(1, Ordering::AcqRel);
                        bump(&inner.counters.frames_delivered);
                    }
                    let _ = to.deliver.unbounded_send(deliver);
                }
            }
        }
    }
}

/// Reads the inbound streams of the conversations this node owns, all in one blocking `XREAD`
/// on one connection, and hands each owner its entries in order, each once per registration.
async fn read_inbound(inner: Arc<Inner>, mut conn: ConnectionManager) {
    loop {
        let streams: HashMap<String, (ConversationId, String, u64)> = {
            let state = lock(&inner.state);
            let listening = state.listening.iter();
            listening
                .map(|(id, l)| (l.inbound.clone(), (id.clone(), l.cursor.clone(), l.generation)))
                .collect()
        };
        if streams.is_empty() {
            sleep(Duration::from_millis(5)).await;
            continue;
        }
        let keys = streams.iter().map(|(key, (_, cursor, _))| (key.as_str(), cursor.as_str()));
        let block = Duration::from_millis(50);
        let read = store::read_streams(&mut conn, "read inbound", keys, 64, block).await;
        let Ok(read) = read else {
            bump(&inner.counters.redis_errors);
            sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut state = lock(&inner.state);
        for (key, entries) in read {
            let Some((conversation, _, generation)) = streams.get(&key) else { continue };
            // Registered again meanwhile (from an earlier cursor) or gone: read it again, or not.
            let Some(listener) = state.listening.get_mut(conversation) else { continue };
            if listener.generation != *generation {
                continue;
            }
            let Some(last) = entries.last() else { continue };
            listener.cursor.clone_from(&last.id);
            let entries: Entries = entries
                .into_iter()
                .map(|entry| {
                    let input = Input::from_fields(&entry.map, "inbound", &entry.id);
                    (entry.id, input)
                })
                .collect();
            if listener.to.unbounded_send(entries).is_err() {
                state.listening.remove(conversation);
            }
        }
    }
}

/// An owner's share of the inbound reader: the entries read for it. Dropped, it leaves the
/// reader (unless it was registered again since).
struct Inbox {
    inner: Arc<Inner>,
    conversation: ConversationId,
    generation: u64,
    entries: UnboundedReceiver<Entries>,
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
    let mut conn = inner.conn.clone();
    loop {
        sleep(inner.config.lease).await;
        let Ok(stale) = store::stale(&mut conn, &live, inner.config.lease).await else {
            bump(&inner.counters.redis_errors);
            continue;
        };
        for conversation in stale.into_iter().filter_map(|id| ConversationId::new(id).ok()) {
            let start = lock(&inner.state).stewards.insert(conversation.clone());
            if start {
                inner.spawn(steward_conversation(Arc::clone(&inner), conversation, true));
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

/// The `call.rejected` (`unavailable`) that tells a client its `frame` went nowhere because
/// Redis stayed out of reach for `patience`, just before its session closes: the loss is never
/// silent, and the client reconnects and resumes.
fn unavailable(
    conversation: &ConversationId,
    role: Role,
    frame: &[u8],
    patience: Duration,
) -> Bytes {
    let refused = decode(frame).ok();
    let detail =
        format!("redis was out of reach for {} ms: frame not stored", patience.as_millis());
    let notice =
        rejection(conversation.clone(), role, 1, refused.as_ref(), RejectCode::Unavailable, detail);
    Bytes::from(encode(&notice))
}

/// A conversation this node owns: the lease's value, the judge, and where it read up to.
struct Owned {
    lease: String,
    owner: Owner,
    /// The last inbound entry consumed.
    cursor: String,
    /// The entries the inbound reader reads after it.
    inbox: Inbox,
    renewed: Instant,
    /// The conversation's commit count, as of the last commit.
    count: u64,
}

/// Runs on every node that holds sessions of `conversation`: takes its lease when nobody
/// holds it, and while it does, judges its inputs, fires its timers and watches the nodes of
/// its sessions. Ends when the node has no session of it and does not own it (an owner gives
/// the lease up once nothing is left to judge).
///
/// `sweeping`: started by the sweeper for a conversation whose owner went silent, the steward
/// tries once to take it over even though this node has no session of it (so that a call whose
/// owner died with all its sessions still ends, once, when its parties' grace is over).
async fn steward_conversation(inner: Arc<Inner>, conversation: ConversationId, sweeping: bool) {
    let mut sweeping = sweeping;
    let keys = Keys::new(&inner.config.prefix, &conversation);
    let conn = inner.conn.clone();
    let mut steward = Steward { inner, keys, conversation, conn };
    let mut owned: Option<Owned> = None;
    loop {
        if steward.inner.draining.load(Ordering::Acquire) {
            if let Some(held) = owned.take() {
                let idle = held.owner.is_idle();
                let _ = store::release(&mut steward.conn, &steward.keys, &held.lease, idle).await;
            }
            lock(&steward.inner.state).stewards.remove(&steward.conversation);
            return;
        }
        owned = match owned.take() {
            None => {
                if !std::mem::take(&mut sweeping)
                    && !steward.inner.has_local(&steward.conversation)
                    && steward.inner.retire_steward(&steward.conversation)
                {
                    return;
                }
                steward.try_acquire().await
            }
            Some(held) => steward.serve(held).await,
        };
    }
}

/// A conversation's steward on this node.
struct Steward {
    inner: Arc<Inner>,
    keys: Keys,
    conversation: ConversationId,
    conn: ConnectionManager,
}

impl Steward {
    /// Takes the lease if nobody holds it, and rebuilds the conversation.
    async fn try_acquire(&mut self) -> Option<Owned> {
        let config = &self.inner.config;
        let acquired = store::acquire(
            &mut self.conn,
            &self.keys,
            &self.inner.name,
            config.lease,
            config.retention,
        )
        .await;
        match acquired {
            Ok(Lease::Taken(epoch)) => {
                bump(&self.inner.counters.acquisitions);
                let lease = store::lease_value(epoch, &self.inner.name);
                let rebuilt = self.take_over(lease.clone()).await;
                if rebuilt.is_none() {
                    let _ = store::release(&mut self.conn, &self.keys, &lease, false).await;
                }
                rebuilt
            }
            // Another node owns it: try again when its lease would run out (it is renewed every
            // third of it), so a dead owner is replaced as soon as its lease expires.
            Ok(Lease::Held(left)) => {
                sleep(left.min(config.lease) + Duration::from_millis(1)).await;
                None
            }
            Err(_) => {
                bump(&self.inner.counters.redis_errors);
                sleep(Duration::from_millis(100)).await;
                None
            }
        }
    }

    /// Rebuilds the conversation from Redis, for the lease `lease`.
    async fn take_over(&mut self, lease: String) -> Option<Owned> {
        let Ok(store::Loaded { done, journal, count }) =
            store::load(&mut self.conn, &self.keys).await
        else {
            bump(&self.inner.counters.redis_errors);
            return None;
        };
        let relay = self.inner.config.relay;
        let owner = Owner::rebuild(self.conversation.clone(), relay, TokioClock.now(), journal);
        let cursor = done.unwrap_or_else(|| "0-0".to_owned());
        let inbox = self.inner.listen(&self.conversation, &self.keys, &cursor);
        Some(Owned { lease, owner, cursor, inbox, renewed: TokioClock.now(), count })
    }

    /// One round as the owner: renew and watch, fire what is due, judge what arrives. `None`
    /// once it is not the owner any more (or gave the lease up).
    async fn serve(&mut self, mut held: Owned) -> Option<Owned> {
        if held.renewed.elapsed() >= self.inner.config.lease / 3 && !self.renew(&mut held).await {
            return None;
        }
        let now = self.inner.now_ms();
        if held.owner.next_due().is_some_and(|due| due <= now) {
            held = self.judge_all(held, vec![(None, Ok(Input::Timeout))]).await?;
        }
        if held.owner.is_idle() && !self.inner.has_local(&self.conversation) {
            let _ = store::release(&mut self.conn, &self.keys, &held.lease, true).await;
            return None;
        }
        self.read_and_judge(held).await
    }

    /// Renews the lease and disconnects the sessions of nodes whose heartbeat expired;
    /// `false` when the lease is lost.
    async fn renew(&mut self, held: &mut Owned) -> bool {
        let config = &self.inner.config;
        // A paused process renews nothing (and its next commit waits, in `judge`).
        let renewed = {
            let Ok(_running) = self.inner.gate.try_read() else { return true };
            store::renew(&mut self.conn, &self.keys, &held.lease, config.lease).await
        };
        match renewed {
            Ok(true) => held.renewed = TokioClock.now(),
            Ok(false) => return false, // taken over: forget what was judged
            Err(_) => {
                bump(&self.inner.counters.redis_errors);
                if held.renewed.elapsed() >= config.lease {
                    return false; // it has expired by now
                }
            }
        }
        let nodes: Vec<String> = held.owner.nodes(&self.inner.name).into_iter().collect();
        let heartbeats: Vec<String> = nodes.iter().map(|n| keys::node(&config.prefix, n)).collect();
        let Ok(alive) = store::alive(&mut self.conn, &heartbeats).await else { return true };
        for (node, up) in nodes.into_iter().zip(alive) {
            if !up {
                let input = Ok(Input::NodeGone { node });
                let committed = self.judge(held, None, input).await;
                if !matches!(committed, Ok(Committed::Yes)) {
                    return false;
                }
            }
        }
        true
    }

    /// Waits for inputs (until the next renewal or deadline at the latest) and judges them.
    async fn read_and_judge(&mut self, mut held: Owned) -> Option<Owned> {
        let third = self.inner.config.lease / 3;
        let until_renewal = third.saturating_sub(held.renewed.elapsed());
        let until_due = held.owner.next_due().map_or(Duration::MAX, |due| {
            Duration::from_millis(due.saturating_sub(self.inner.now_ms()))
        });
        let wait = until_renewal
            .min(until_due)
            .clamp(Duration::from_millis(2), Duration::from_millis(100));
        let first = {
            let timer = std::pin::pin!(sleep(wait));
            match select(held.inbox.entries.next(), timer).await {
                Either::Left((Some(entries), _)) => entries,
                // The reader let it go (the node stops): nothing more to read.
                Either::Left((None, _)) => {
                    sleep(wait).await;
                    return Some(held);
                }
                Either::Right(((), _)) => return Some(held),
            }
        };
        let mut batch = first;
        while let Ok(more) = held.inbox.entries.try_recv() {
            batch.extend(more);
        }
        // Consumed already: read before a rebuild that started from an earlier cursor.
        let after = stream_id(&held.cursor);
        let inputs = batch
            .into_iter()
            .filter(|(id, _)| stream_id(id) > after)
            .map(|(id, input)| (Some(id), input))
            .collect();
        self.judge_all(held, inputs).await
    }

    /// Judges inputs in order; `None` once the lease is lost, a rebuilt owner when Redis
    /// failed mid-commit.
    async fn judge_all(
        &mut self,
        mut held: Owned,
        inputs: Vec<(Option<String>, Result<Input, ClusterError>)>,
    ) -> Option<Owned> {
        for (id, input) in inputs {
            match self.judge(&mut held, id.as_deref(), input).await {
                Ok(Committed::Yes) => {}
                Ok(Committed::Fenced) => return None,
                // Written or not, or written late: Redis knows, so start again from what it
                // holds (the commit count refuses a late or repeated commit).
                Ok(Committed::OutOfStep) | Err(_) => return self.take_over(held.lease).await,
            }
        }
        Some(held)
    }

    /// Judges one input and commits it, fenced by the lease.
    async fn judge(
        &mut self,
        owned: &mut Owned,
        consumed: Option<&str>,
        input: Result<Input, ClusterError>,
    ) -> Result<Committed, ClusterError> {
        let inner = &self.inner;
        let t = owned.owner.time_for(inner.now_ms());
        let (effects, journaled) = match &input {
            Ok(input) => (owned.owner.apply(t, input), Some((t, input))),
            Err(_) => (Effects::default(), None),
        };
        // A paused process stops here: judged, not yet committed (the worst moment).
        let _running = inner.gate.read().await;
        let commit = Commit {
            lease_value: &owned.lease,
            consumed,
            input: journaled,
            effects: &effects,
            count: owned.count,
        };
        let committed = store::commit(
            &mut self.conn,
            &self.keys,
            &inner.events_key,
            self.conversation.as_str(),
            &commit,
            inner.config.lease,
            inner.config.retention,
        )
        .await;
        match committed {
            Ok(Committed::Yes) => {
                bump(&inner.counters.commits);
                if let Some(id) = consumed {
                    id.clone_into(&mut owned.cursor);
                }
                owned.renewed = TokioClock.now();
                owned.count += 1;
            }
            Ok(Committed::Fenced) => bump(&inner.counters.fenced_commits),
            Ok(Committed::OutOfStep) | Err(_) => bump(&inner.counters.redis_errors),
        }
        committed
    }
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
