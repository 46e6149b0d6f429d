//! A conversation's steward on a node (it takes the lease when nobody holds it, and while it
//! does, judges the conversation's inputs), and the node's renewal round, which renews all of
//! its leases in one script call per 512 and watches the nodes of their sessions.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt as _;
use futures::channel::oneshot;
use futures::future::{Either, select};
use redis::aio::ConnectionManager;
use velaro_call_state::velaro_call_protocol::ConversationId;

use super::error::ClusterError;
use super::input::Input;
use super::keys::{self, Keys};
use super::news::Announced;
use super::node::{Inbox, Inner, Notice, bump, lock, sleep, stream_id};
use super::owner::{Effects, Owner};
use super::store::{self, Commit, Committed, Renewal};
use crate::clock::{Clock as _, TokioClock};

/// A conversation this node owns: the lease's value, the judge, and where it read up to.
struct Owned {
    lease: String,
    owner: Owner,
    /// The last inbound entry consumed.
    cursor: String,
    /// The notices the news reader hands it, and the renewal round's.
    inbox: Inbox,
    /// The conversation's commit count, as of the last commit.
    count: u64,
    /// The inputs in the journal after its snapshot (or since it was last freed): past
    /// `ClusterConfig::journal_cap`, the next commit compacts it.
    journaled: usize,
    /// The inbound stream must be read after `cursor`: a notice may be missing (after a
    /// rebuild, a gap, or a resync).
    fill: bool,
}

/// Inputs to judge in order: each one's inbound id (none for the owner's own) and the input.
type Inputs = Vec<(Option<String>, Result<Input, ClusterError>)>;

/// Runs on every node that holds sessions of `conversation`: takes its lease when nobody
/// holds it, and while it does, judges its inputs, fires its timers and hears of the nodes
/// of its sessions. Ends when the node has no session of it and does not own it (an owner
/// gives the lease up once nothing is left to judge).
///
/// `sweeping`: started by the sweeper for a conversation whose owner went silent, the steward
/// tries once to take it over even though this node has no session of it (so that a call whose
/// owner died with all its sessions still ends, once, when its parties' grace is over).
pub(super) async fn steward_conversation(
    inner: Arc<Inner>,
    conversation: ConversationId,
    sweeping: bool,
) {
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
            Ok(Some(epoch)) => self.own(epoch).await,
            // Another node owns it: the renewal round tries again (for every conversation
            // waiting, in one call) and hands over the epoch once it took the lease, so a dead
            // owner is replaced within a third of a lease after its lease expired.
            Ok(None) => {
                let (taken, epoch) = oneshot::channel();
                {
                    // Only while a session of it is here: the last one to leave drops the
                    // wait (and a sweeping steward without one does not wait).
                    let mut state = lock(&self.inner.state);
                    if !state.reading.contains_key(&self.conversation) {
                        return None;
                    }
                    state.waiting.insert(self.conversation.clone(), taken);
                }
                // Handed over by the round once it took the lease; dropped when drained or
                // when the node has no session of it any more (then the loop ends the steward).
                let Ok(epoch) = epoch.await else { return None };
                self.own(epoch).await
            }
            Err(_) => {
                bump(&self.inner.counters.redis_errors);
                sleep(Duration::from_millis(100)).await;
                None
            }
        }
    }

    /// The lease is ours with `epoch`: rebuilds the conversation, or gives the lease up again
    /// when that fails (another node may manage).
    async fn own(&mut self, epoch: u64) -> Option<Owned> {
        bump(&self.inner.counters.acquisitions);
        let lease = store::lease_value(epoch, &self.inner.name);
        let rebuilt = self.take_over(lease.clone()).await;
        if rebuilt.is_none() {
            let _ = store::release(&mut self.conn, &self.keys, &lease, false).await;
        }
        rebuilt
    }

    /// Rebuilds the conversation from Redis, for the lease `lease`, and registers it with the
    /// news reader; its inbound stream is read from `done` next.
    async fn take_over(&mut self, lease: String) -> Option<Owned> {
        // Registered first: a notice from now on reaches the new inbox, and what came before
        // is read from the stream.
        let inbox = self.inner.listen(&self.conversation, &self.keys, &lease);
        let Ok(store::Loaded { done, snapshot, journal, count }) =
            store::load(&mut self.conn, &self.keys).await
        else {
            bump(&self.inner.counters.redis_errors);
            return None;
        };
        let relay = self.inner.config.relay;
        let journaled = journal.len();
        let conversation = self.conversation.clone();
        let rebuilt = Owner::rebuild(conversation, relay, TokioClock.now(), (snapshot, journal));
        // A snapshot that does not restore (written by a newer version, say): not ours to
        // judge; another node may be able to.
        let Ok(owner) = rebuilt else {
            bump(&self.inner.counters.redis_errors);
            return None;
        };
        let cursor = done.unwrap_or_else(|| "0-0".to_owned());
        Some(Owned { lease, owner, cursor, inbox, count, journaled, fill: true })
    }

    /// One round as the owner: read what a notice may have missed, fire what is due, wait for
    /// notices (or the next deadline, never polling) and judge them. `None` once it is not the
    /// owner any more (or gave the lease up).
    async fn serve(&mut self, mut held: Owned) -> Option<Owned> {
        if std::mem::take(&mut held.fill) {
            return self.fill(held).await;
        }
        let now = self.inner.now_ms();
        if held.owner.next_due().is_some_and(|due| due <= now) {
            held = self.judge_all(held, vec![(None, Ok(Input::Timeout))]).await?;
        }
        if held.owner.is_idle() && !self.inner.has_local(&self.conversation) {
            let _ = store::release(&mut self.conn, &self.keys, &held.lease, true).await;
            return None;
        }
        let due = held.owner.next_due().map(|due| self.inner.instant_of(due));
        let first = {
            let timer = std::pin::pin!(async {
                match due {
                    Some(at) => TokioClock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            });
            match select(held.inbox.notices.next(), timer).await {
                Either::Left((Some(notice), _)) => notice,
                // The reader let it go (the node stops): nothing more to read.
                Either::Left((None, _)) => {
                    sleep(self.inner.config.lease / 3).await;
                    return Some(held);
                }
                Either::Right(((), _)) => return Some(held),
            }
        };
        let mut notices = vec![first];
        while let Ok(more) = held.inbox.notices.try_recv() {
            notices.push(more);
        }
        let mut inputs: Inputs = Vec::new();
        // The id the cursor will have once the inputs so far are committed.
        let mut upto = held.cursor.clone();
        for notice in notices {
            match notice {
                Notice::Inputs(announced) => {
                    for Announced { id, prev, input } in announced {
                        if held.fill || stream_id(&id) <= stream_id(&upto) {
                            continue; // consumed already, or read by the fill
                        }
                        if !prev.is_empty() && stream_id(&prev) > stream_id(&upto) {
                            held.fill = true; // a notice never came: the stream has it
                            continue;
                        }
                        id.clone_into(&mut upto);
                        inputs.push((Some(id), input));
                    }
                }
                Notice::Fill => held.fill = true,
                Notice::Lost => return None,
                Notice::NodesGone(nodes) => {
                    let gone = held.owner.nodes(&self.inner.name);
                    for node in nodes.into_iter().filter(|n| gone.contains(n)) {
                        inputs.push((None, Ok(Input::NodeGone { node })));
                    }
                }
                Notice::Tick => {}
            }
        }
        let fill = held.fill;
        let mut held = self.judge_all(held, inputs).await?;
        held.fill |= fill;
        self.inner.publish(&self.conversation, held.inbox.generation, &held.owner);
        Some(held)
    }

    /// Reads the inbound stream after the cursor and judges what is there.
    async fn fill(&mut self, mut held: Owned) -> Option<Owned> {
        loop {
            let read = store::read_after(
                &mut self.conn,
                "read inbound",
                &self.keys.inbound,
                &held.cursor,
                256,
            )
            .await;
            let Ok(entries) = read else {
                bump(&self.inner.counters.redis_errors);
                held.fill = true;
                sleep(Duration::from_millis(50)).await;
                return Some(held);
            };
            if entries.is_empty() {
                self.inner.publish(&self.conversation, held.inbox.generation, &held.owner);
                return Some(held);
            }
            let inputs = entries
                .into_iter()
                .map(|entry| {
                    let input = Input::from_fields(&entry.map, "inbound", &entry.id);
                    (Some(entry.id), input)
                })
                .collect();
            held = self.judge_all(held, inputs).await?;
            if held.fill {
                return Some(held); // rebuilt meanwhile: read again from its cursor
            }
        }
    }

    /// Judges inputs in order; `None` once the lease is lost, a rebuilt owner when Redis
    /// failed mid-commit.
    async fn judge_all(&mut self, mut held: Owned, inputs: Inputs) -> Option<Owned> {
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
        // The journal would pass its cap with this input: the owner's state after it replaces
        // the journal instead (a rebuild then restores it and replays what follows).
        let compact =
            journaled.is_some() && !effects.reset && owned.journaled >= inner.config.journal_cap;
        let snapshot = compact
            .then(|| owned.owner.snapshot())
            .flatten()
            .and_then(|snapshot| serde_json::to_vec(&snapshot).ok());
        // A paused process stops here: judged, not yet committed (the worst moment).
        let _running = inner.gate.read().await;
        let journal_after = if effects.reset || snapshot.is_some() {
            0
        } else {
            owned.journaled + usize::from(journaled.is_some())
        };
        let commit = Commit {
            lease_value: &owned.lease,
            consumed,
            input: journaled,
            effects: &effects,
            count: owned.count,
            snapshot,
        };
        let committed = store::commit(
            &mut self.conn,
            &self.keys,
            (&inner.events_key, &inner.node_prefix),
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
                owned.count += 1;
                owned.journaled = journal_after;
            }
            Ok(Committed::Fenced) => bump(&inner.counters.fenced_commits),
            Ok(Committed::OutOfStep) | Err(_) => bump(&inner.counters.redis_errors),
        }
        committed
    }
}

/// The node's renewal round, every third of a lease: one script call per 512 leases renews
/// every lease it holds (an owner whose lease was taken hears `Lost`), then one pipeline looks
/// at the heartbeats of the nodes its owners' sessions are on (an owner with sessions on a
/// node gone hears `NodesGone`). Every owner hears `Tick`, to give an idle conversation up.
pub(super) async fn renewals(inner: Arc<Inner>) {
    let mut conn = inner.control.clone();
    let live = keys::live(&inner.config.prefix);
    let period = inner.config.lease / 3;
    let mut next = TokioClock.now();
    loop {
        // On a fixed schedule: a round that took long does not push the next one back.
        next = (next + period).max(TokioClock.now());
        TokioClock.sleep_until(next).await;
        // A paused process renews nothing (and its next commit waits, in `judge`).
        let Ok(running) = inner.gate.try_read() else { continue };
        let held: Vec<(ConversationId, u64, String, String)> = {
            let state = lock(&inner.state);
            let listening = state.listening.iter();
            listening
                .map(|(c, l)| (c.clone(), l.generation, l.lease_key.clone(), l.lease.clone()))
                .collect()
        };
        // Every chunk at once (pipelined on the one connection): a loaded node's round takes
        // one round trip, not one per chunk.
        let rounds = held.chunks(store::RENEWALS_PER_CALL).map(|chunk| {
            let mut conn = inner.control.clone();
            let (live, lease) = (&live, inner.config.lease);
            async move {
                let leases: Vec<Renewal<'_>> = chunk
                    .iter()
                    .map(|(c, _, key, value)| Renewal { key, value, member: c.as_str() })
                    .collect();
                (chunk, store::renew(&mut conn, live, &leases, lease).await)
            }
        });
        let mut lost = Vec::new();
        for (chunk, renewed) in futures::future::join_all(rounds).await {
            match renewed {
                Ok(renewed) => lost.extend(
                    chunk.iter().zip(renewed).filter(|(_, ok)| !ok).map(|((c, g, ..), _)| (c, *g)),
                ),
                Err(_) => bump(&inner.counters.redis_errors),
            }
        }
        drop(running);
        take_waiting(&inner, &mut conn).await;
        let peers: BTreeSet<String> = {
            let state = lock(&inner.state);
            for (conversation, generation) in lost {
                if let Some(listener) = state.listening.get(conversation)
                    && listener.generation == generation
                {
                    let _ = listener.to.unbounded_send(Notice::Lost);
                }
            }
            for listener in state.listening.values().filter(|l| l.idle) {
                let _ = listener.to.unbounded_send(Notice::Tick);
            }
            state.listening.values().flat_map(|l| l.nodes.iter().cloned()).collect()
        };
        if peers.is_empty() {
            continue;
        }
        let peers: Vec<String> = peers.into_iter().collect();
        let heartbeats: Vec<String> =
            peers.iter().map(|n| keys::node(&inner.config.prefix, n)).collect();
        let Ok(alive) = store::alive(&mut conn, &heartbeats).await else {
            bump(&inner.counters.redis_errors);
            continue;
        };
        let gone: Vec<String> =
            peers.into_iter().zip(alive).filter(|(_, up)| !up).map(|(n, _)| n).collect();
        if gone.is_empty() {
            continue;
        }
        let state = lock(&inner.state);
        let mut told: HashMap<&ConversationId, Vec<String>> = HashMap::new();
        for (conversation, listener) in &state.listening {
            let theirs: Vec<String> =
                gone.iter().filter(|n| listener.nodes.contains(n)).cloned().collect();
            if !theirs.is_empty() {
                told.insert(conversation, theirs);
            }
        }
        for (conversation, nodes) in told {
            if let Some(listener) = state.listening.get(conversation) {
                let _ = listener.to.unbounded_send(Notice::NodesGone(nodes));
            }
        }
    }
}

/// Tries to take the leases the node's waiting stewards wait for (one script call per 512),
/// and hands each one taken its epoch; one whose steward is gone meanwhile is given up.
async fn take_waiting(inner: &Arc<Inner>, conn: &mut ConnectionManager) {
    let waiting: Vec<(ConversationId, Keys)> = {
        let state = lock(&inner.state);
        let prefix = &inner.config.prefix;
        state.waiting.keys().map(|c| (c.clone(), Keys::new(prefix, c))).collect()
    };
    let config = &inner.config;
    let tries = waiting.chunks(store::RENEWALS_PER_CALL).map(|chunk| {
        let mut conn = inner.control.clone();
        async move {
            let leases: Vec<&Keys> = chunk.iter().map(|(_, keys)| keys).collect();
            let (lease, retention) = (config.lease, config.retention);
            (chunk, store::acquire_many(&mut conn, &leases, &inner.name, lease, retention).await)
        }
    });
    for (chunk, taken) in futures::future::join_all(tries).await {
        let Ok(taken) = taken else {
            bump(&inner.counters.redis_errors);
            continue;
        };
        for ((conversation, keys), epoch) in chunk.iter().zip(taken) {
            let Some(epoch) = epoch else { continue };
            let steward = lock(&inner.state).waiting.remove(conversation);
            if steward.is_none_or(|steward| steward.send(epoch).is_err()) {
                let lease = store::lease_value(epoch, &inner.name);
                let _ = store::release(conn, keys, &lease, false).await;
            }
        }
    }
}
