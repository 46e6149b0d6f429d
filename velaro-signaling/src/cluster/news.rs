//! A node's news: one stream key per node (`P:node:NAME:news`) that the appends and the fenced
//! commits write a notice into, carrying the input or the frame itself. The node's one reader
//! blocks on that key alone, however many conversations it owns or holds sessions of, and
//! hands each owner its inputs and each local session its frames.
//!
//! The conversations' streams stay the truth: a notice carries its entry's id and `prev`, the
//! id of the entry before it for the same reader, and a reader that sees `prev` beyond what it
//! has reads the stream itself from there. A notice that cannot show a gap (the last one of a
//! conversation) is caught by the heartbeat: it answers when the news stream was gone or full,
//! and the node then reads every stream it serves again.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::streams::StreamId;
use velaro_call_state::velaro_call_protocol::ConversationId;

use super::error::ClusterError;
use super::input::Input;
use super::node::{Deliver, Inner, Notice, bump, lock, sleep, stream_id};
use super::store;

/// An input announced to its owner: its inbound id, the id of the last unconsumed entry
/// before it (empty: none), and the input.
#[derive(Debug)]
pub(super) struct Announced {
    pub(super) id: String,
    pub(super) prev: String,
    pub(super) input: Result<Input, ClusterError>,
}

/// The most notices one read takes.
const NEWS_COUNT: usize = 1024;

/// How long the reader's read blocks when there is no news (it wakes at once on news).
pub(super) const NEWS_BLOCK: Duration = Duration::from_secs(1);

/// A notice's text field.
fn text(entry: &StreamId, field: &str) -> Option<String> {
    String::from_utf8(store::field_bytes(entry, field)?).ok()
}

/// An outbound entry's delivery, if it is one: the session and what to hand it.
fn delivery(entry: &StreamId) -> Option<(u64, Deliver)> {
    let session = store::field_u64(entry, "s")?;
    let deliver = match store::field_bytes(entry, "k").as_deref() {
        Some(b"f") => Deliver::Frame(Bytes::from(store::field_bytes(entry, "b")?)),
        Some(b"x") => Deliver::Close,
        _ => return None,
    };
    Some((session, deliver))
}

/// Reads the node's news stream and hands out what it carries, in order, each entry once.
pub(super) async fn read_news(inner: Arc<Inner>, mut conn: ConnectionManager) {
    let mut after = lock(&inner.state).news_cursor.clone();
    loop {
        if inner.resync.swap(false, Ordering::AcqRel) {
            resync(&inner, &mut conn).await;
        }
        let read = store::read_news(&mut conn, &inner.news_key, &after, NEWS_COUNT, NEWS_BLOCK);
        let Ok(notices) = read.await else {
            // Whatever the outage was, what it hid is in the streams.
            bump(&inner.counters.redis_errors);
            inner.resync.store(true, Ordering::Release);
            sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(last) = notices.last() else { continue };
        last.id.clone_into(&mut after);
        let mut inputs: HashMap<ConversationId, Vec<Announced>> = HashMap::new();
        for notice in &notices {
            let Some(conversation) = text(notice, "_c").and_then(|c| ConversationId::new(c).ok())
            else {
                continue; // a first entry, or not ours
            };
            let (Some(id), Some(prev)) = (text(notice, "_i"), text(notice, "_p")) else {
                continue;
            };
            match store::field_bytes(notice, "_t").as_deref() {
                Some(b"i") => {
                    let input = Input::from_fields(&notice.map, "inbound", &id);
                    inputs.entry(conversation).or_default().push(Announced { id, prev, input });
                }
                Some(b"o") => {
                    outbound(&inner, &mut conn, &conversation, &id, &prev, delivery(notice)).await;
                }
                _ => {}
            }
        }
        {
            let mut state = lock(&inner.state);
            for (conversation, announced) in inputs {
                let Some(listener) = state.listening.get(&conversation) else { continue };
                if listener.to.unbounded_send(Notice::Inputs(announced)).is_err() {
                    state.listening.remove(&conversation);
                }
            }
            after.clone_into(&mut state.news_cursor);
        }
    }
}

/// An outbound notice for one of this node's conversations: delivered unless it was already;
/// when `prev` shows that an earlier one never came, the outbound stream is read from the
/// last id delivered first.
async fn outbound(
    inner: &Arc<Inner>,
    conn: &mut ConnectionManager,
    conversation: &ConversationId,
    id: &str,
    prev: &str,
    delivery: Option<(u64, Deliver)>,
) {
    let gap = {
        let state = lock(&inner.state);
        let Some(reading) = state.reading.get(conversation) else { return };
        !prev.is_empty() && stream_id(prev) > stream_id(&reading.cursor)
    };
    if gap {
        read_outbound(inner, conn, conversation).await;
    }
    inner.handle_outbound(conversation, id, delivery);
}

/// Reads a conversation's outbound stream after the last id this node handled, and hands out
/// what is addressed to it (once per id, as notices are).
async fn read_outbound(inner: &Arc<Inner>, conn: &mut ConnectionManager, c: &ConversationId) {
    loop {
        let (key, cursor) = {
            let state = lock(&inner.state);
            let Some(reading) = state.reading.get(c) else { return };
            (reading.outbound.clone(), reading.cursor.clone())
        };
        let Ok(entries) = store::read_after(conn, "read outbound", &key, &cursor, 512).await else {
            bump(&inner.counters.redis_errors);
            inner.resync.store(true, Ordering::Release);
            return;
        };
        if entries.is_empty() {
            return;
        }
        for entry in &entries {
            let ours = store::field_bytes(entry, "n").is_some_and(|n| n == inner.name.as_bytes());
            inner.handle_outbound(c, &entry.id, delivery(entry).filter(|_| ours));
        }
    }
}

/// Notices may have been lost: every owner reads its inbound stream after what it consumed,
/// and every conversation with local sessions its outbound stream after what was delivered.
async fn resync(inner: &Arc<Inner>, conn: &mut ConnectionManager) {
    bump(&inner.counters.resyncs);
    let reading: Vec<ConversationId> = {
        let state = lock(&inner.state);
        for listener in state.listening.values() {
            let _ = listener.to.unbounded_send(Notice::Fill);
        }
        state.reading.keys().cloned().collect()
    };
    for conversation in reading {
        read_outbound(inner, conn, &conversation).await;
    }
}

/// Keeps the node's heartbeat key and its news stream alive, trims the notices read, and asks
/// for a resync when notices may have been lost.
pub(super) async fn heartbeat(inner: Arc<Inner>, key: String) {
    let mut conn = inner.control.clone();
    let lost_key = super::keys::news_lost(&inner.config.prefix, &inner.name);
    loop {
        let read_up_to = lock(&inner.state).news_cursor.clone();
        let keys = (key.as_str(), inner.news_key.as_str(), lost_key.as_str());
        match store::heartbeat(&mut conn, keys, &read_up_to, inner.config.node_ttl).await {
            Ok(true) => inner.resync.store(true, Ordering::Release),
            Ok(false) => {}
            Err(_) => bump(&inner.counters.redis_errors),
        }
        sleep(inner.config.node_ttl / 3).await;
    }
}
