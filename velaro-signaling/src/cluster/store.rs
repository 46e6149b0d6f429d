//! The cluster's Redis commands: leases, the fenced commit, and the streams' reads and writes.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamRangeReply, StreamReadReply};
use redis::{Script, Value};

use super::error::ClusterError;
use super::event::ClusterEvent;
use super::input::Input;
use super::keys::{EVENTS_MAXLEN, Keys, STREAM_MAXLEN};
use super::owner::Effects;

/// Takes the lease when nobody holds it, with the next epoch: returns the epoch; else minus
/// the milliseconds the lease has left (at least 1).
const ACQUIRE: &str = r"
local left = redis.call('PTTL', KEYS[1])
if left ~= -2 then return -math.max(left, 1) end
local epoch = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], epoch .. ':' .. ARGV[1], 'PX', ARGV[2])
return epoch
";

/// Redis's own clock in milliseconds (one clock for the whole cluster's liveness scores).
const NOW_MS: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
";

/// Renews the lease if it is still ours (1), else 0; a live conversation's score says its
/// owner was heard from now. KEYS: lease, live. ARGV: lease value, lease ms, member.
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', now, ARGV[3])
return 1
";

/// Gives the lease up if it is still ours; `forget` ('1'): the conversation is idle, it leaves
/// the live set. KEYS: lease, live. ARGV: lease value, forget, member.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] == '1' then redis.call('ZREM', KEYS[2], ARGV[3]) end
return 1
";

/// The live conversations whose owner was last heard from more than ARGV[1] ms ago (at most
/// 16). KEYS: live.
const STALE: &str = r"
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 16)
";

/// The fenced commit: refused (0) unless the lease still holds the owner's `epoch:node`, and
/// out of step (2) unless the conversation's commit count is the one the owner expects (a
/// commit its connection timed out on, executed late, or sent twice); else the journal entry
/// (or the journal's reset), the deliveries, the events, the consumed inbound id, the count
/// and the renewals, all at once (1).
///
/// KEYS: lease, journal, outbound, events, done, inbound, epoch, live, commits.
/// ARGV: lease value, consumed inbound id or '', reset '1'/'0', retention ms, lease ms,
/// outbound maxlen, events maxlen, the conversation (its member in the live set), the commit
/// count expected, then a count
/// and that many journal field/value items, a count and that many deliveries (node, session,
/// kind, frame), a count and that many events (conversation, JSON). The conversation stays in
/// the live set (scored now) until a reset.
const COMMIT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local count = tonumber(redis.call('GET', KEYS[9]) or '0')
if count ~= tonumber(ARGV[9]) then return 2 end
local retention = ARGV[4]
redis.call('SET', KEYS[9], count + 1, 'PX', retention)
local i = 10
local nj = tonumber(ARGV[i])
i = i + 1
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[2])
elseif nj > 0 then
  local fields = {}
  for j = 1, nj do fields[j] = ARGV[i + j - 1] end
  redis.call('XADD', KEYS[2], '*', unpack(fields))
  redis.call('PEXPIRE', KEYS[2], retention)
end
i = i + nj
local nd = tonumber(ARGV[i])
i = i + 1
for j = 1, nd do
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*',
    'n', ARGV[i], 's', ARGV[i + 1], 'k', ARGV[i + 2], 'b', ARGV[i + 3])
  i = i + 4
end
if nd > 0 then redis.call('PEXPIRE', KEYS[3], retention) end
local ne = tonumber(ARGV[i])
i = i + 1
for j = 1, ne do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', 'c', ARGV[i], 'e', ARGV[i + 1])
  i = i + 2
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[5], ARGV[2], 'PX', retention)
  redis.call('XTRIM', KEYS[6], 'MINID', ARGV[2])
  redis.call('XDEL', KEYS[6], ARGV[2])
end
redis.call('PEXPIRE', KEYS[7], retention)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if ARGV[3] == '1' then
  redis.call('ZREM', KEYS[8], ARGV[8])
else
  redis.call('ZADD', KEYS[8], now, ARGV[8])
end
return 1
";

/// The scripts, hashed once (run with `EVALSHA`, loaded on first use).
static ACQUIRE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACQUIRE));
static RENEW_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{NOW_MS}{RENEW}")));
static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE));
static COMMIT_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{NOW_MS}{COMMIT}")));
static STALE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{NOW_MS}{STALE}")));

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The lease's value for an owner: `epoch:node`.
pub(super) fn lease_value(epoch: u64, node: &str) -> String {
    format!("{epoch}:{node}")
}

/// A try for a conversation's lease.
pub(super) enum Lease {
    /// Taken, with this epoch.
    Taken(u64),
    /// Another node holds it for this long yet (unless it renews it).
    Held(Duration),
}

/// Takes the conversation's lease if nobody holds it.
pub(super) async fn acquire(
    conn: &mut ConnectionManager,
    keys: &Keys,
    node: &str,
    lease: Duration,
    retention: Duration,
) -> Result<Lease, ClusterError> {
    let answer: i64 = ACQUIRE_SCRIPT
        .key(&keys.lease)
        .key(&keys.epoch)
        .arg(node)
        .arg(ms(lease))
        .arg(ms(retention))
        .invoke_async(conn)
        .await
        .map_err(|e| ClusterError::redis("acquire", &e))?;
    Ok(match u64::try_from(answer) {
        Ok(epoch) => Lease::Taken(epoch),
        Err(_) => Lease::Held(Duration::from_millis(answer.unsigned_abs())),
    })
}

/// Renews the lease; `false` when it is not ours any more.
pub(super) async fn renew(
    conn: &mut ConnectionManager,
    keys: &Keys,
    value: &str,
    lease: Duration,
) -> Result<bool, ClusterError> {
    let renewed: u8 = RENEW_SCRIPT
        .key(&keys.lease)
        .key(&keys.live)
        .arg(value)
        .arg(ms(lease))
        .arg(&keys.member)
        .invoke_async(conn)
        .await
        .map_err(|e| ClusterError::redis("renew", &e))?;
    Ok(renewed == 1)
}

/// Gives the lease up, if it is still ours; `idle`: the conversation leaves the live set.
pub(super) async fn release(
    conn: &mut ConnectionManager,
    keys: &Keys,
    value: &str,
    idle: bool,
) -> Result<(), ClusterError> {
    let _: u8 = RELEASE_SCRIPT
        .key(&keys.lease)
        .key(&keys.live)
        .arg(value)
        .arg(if idle { "1" } else { "0" })
        .arg(&keys.member)
        .invoke_async(conn)
        .await
        .map_err(|e| ClusterError::redis("release", &e))?;
    Ok(())
}

/// What one fenced commit writes.
pub(super) struct Commit<'a> {
    pub(super) lease_value: &'a str,
    /// The inbound entry consumed, if the input came from the inbound stream.
    pub(super) consumed: Option<&'a str>,
    /// The journal entry: the input and its time (`None`: a malformed inbound entry, skipped).
    pub(super) input: Option<(u64, &'a Input)>,
    pub(super) effects: &'a Effects,
    /// How many commits the conversation has had (the owner's count).
    pub(super) count: u64,
}

/// How a commit went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Committed {
    /// Written.
    Yes,
    /// Another node holds the lease: nothing was written.
    Fenced,
    /// The conversation's commit count is not the owner's: an earlier commit of this owner,
    /// whose answer it never had, was written after all. Nothing was written.
    OutOfStep,
}

/// Runs the fenced commit.
pub(super) async fn commit(
    conn: &mut ConnectionManager,
    keys: &Keys,
    events_key: &str,
    conversation: &str,
    commit: &Commit<'_>,
    lease: Duration,
    retention: Duration,
) -> Result<Committed, ClusterError> {
    let mut invocation = COMMIT_SCRIPT.prepare_invoke();
    for key in [
        &keys.lease,
        &keys.journal,
        &keys.outbound,
        events_key,
        &keys.done,
        &keys.inbound,
        &keys.epoch,
        &keys.live,
        &keys.commits,
    ] {
        invocation.key(key);
    }
    invocation
        .arg(commit.lease_value)
        .arg(commit.consumed.unwrap_or(""))
        .arg(if commit.effects.reset { "1" } else { "0" })
        .arg(ms(retention))
        .arg(ms(lease))
        .arg(STREAM_MAXLEN)
        .arg(EVENTS_MAXLEN)
        .arg(&keys.member)
        .arg(commit.count);
    match commit.input {
        Some((t, input)) => {
            let fields = input.to_fields();
            invocation.arg(fields.len() * 2 + 2).arg("t").arg(t);
            for (name, value) in fields {
                invocation.arg(name).arg(value);
            }
        }
        None => {
            invocation.arg(0);
        }
    }
    invocation.arg(commit.effects.deliveries.len());
    for ((node, session), frame) in &commit.effects.deliveries {
        let (kind, body): (&str, &[u8]) = match frame {
            Some(frame) => ("f", frame),
            None => ("x", b""),
        };
        invocation.arg(node).arg(session).arg(kind).arg(body);
    }
    invocation.arg(commit.effects.events.len());
    for event in &commit.effects.events {
        let json = serde_json::to_string(event).map_err(|_| ClusterError::Malformed {
            stream: "events",
            id: String::new(),
            field: "e",
        })?;
        invocation.arg(conversation).arg(json);
    }
    let committed: u8 =
        invocation.invoke_async(conn).await.map_err(|e| ClusterError::redis("commit", &e))?;
    Ok(match committed {
        1 => Committed::Yes,
        2 => Committed::OutOfStep,
        _ => Committed::Fenced,
    })
}

/// A conversation as Redis holds it: the consumed inbound id, the journal with each input's
/// time, and the commit count they add up to.
pub(super) struct Loaded {
    pub(super) done: Option<String>,
    pub(super) journal: Vec<(u64, Input)>,
    pub(super) count: u64,
}

/// The consumed inbound id, and the journal: every input since the conversation was last
/// freed, with its time, in order. Malformed entries are errors: a journal is only ever
/// written by owners, and skipping an entry would rebuild another state.
pub(super) async fn load(
    conn: &mut ConnectionManager,
    keys: &Keys,
) -> Result<Loaded, ClusterError> {
    // Read between two reads of the commit count: equal, nothing was committed in between.
    for _ in 0..8 {
        let before = commit_count(conn, keys).await?;
        let (done, journal) = load_once(conn, keys).await?;
        if commit_count(conn, keys).await? == before {
            return Ok(Loaded { done, journal, count: before });
        }
    }
    Err(ClusterError::Redis { operation: "load", category: "kept changing".to_owned() })
}

async fn commit_count(conn: &mut ConnectionManager, keys: &Keys) -> Result<u64, ClusterError> {
    let count: Option<u64> = redis::cmd("GET")
        .arg(&keys.commits)
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis("load", &e))?;
    Ok(count.unwrap_or(0))
}

async fn load_once(
    conn: &mut ConnectionManager,
    keys: &Keys,
) -> Result<(Option<String>, Vec<(u64, Input)>), ClusterError> {
    let done: Option<String> = redis::cmd("GET")
        .arg(&keys.done)
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis("load", &e))?;
    let mut journal = Vec::new();
    let mut from = "-".to_owned();
    loop {
        let page: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&keys.journal)
            .arg(&from)
            .arg("+")
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .map_err(|e| ClusterError::redis("load", &e))?;
        let Some(last) = page.ids.last().map(|entry| entry.id.clone()) else { break };
        for entry in page.ids {
            let t = field_u64(&entry, "t").ok_or(ClusterError::Malformed {
                stream: "journal",
                id: entry.id.clone(),
                field: "t",
            })?;
            journal.push((t, Input::from_fields(&entry.map, "journal", &entry.id)?));
        }
        from = format!("({last}");
    }
    Ok((done, journal))
}

/// Appends an input to a conversation's inbound stream.
pub(super) async fn append(
    conn: &mut ConnectionManager,
    keys: &Keys,
    input: &Input,
    retention: Duration,
) -> Result<(), ClusterError> {
    let mut xadd = redis::cmd("XADD");
    xadd.arg(&keys.inbound).arg("MAXLEN").arg("~").arg(STREAM_MAXLEN).arg("*");
    for (name, value) in input.to_fields() {
        xadd.arg(name).arg(value);
    }
    let mut pipe = redis::pipe();
    pipe.add_command(xadd).ignore();
    pipe.cmd("PEXPIRE").arg(&keys.inbound).arg(ms(retention)).ignore();
    pipe.query_async::<()>(conn).await.map_err(|e| ClusterError::redis("append", &e))
}

/// The outbound stream's last id (`0-0` when it is empty): where a new reader starts.
pub(super) async fn last_outbound(
    conn: &mut ConnectionManager,
    keys: &Keys,
) -> Result<String, ClusterError> {
    let last: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(&keys.outbound)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis("read outbound", &e))?;
    Ok(last.ids.first().map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone()))
}

/// Reads several streams after their ids (at most `count` entries of each), waiting up to
/// `block` for an entry: one `XREAD` for all of a node's streams of a kind, on one connection.
pub(super) async fn read_streams<'a>(
    conn: &mut ConnectionManager,
    operation: &'static str,
    streams: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    count: usize,
    block: Duration,
) -> Result<Vec<(String, Vec<StreamId>)>, ClusterError> {
    let mut xread = redis::cmd("XREAD");
    xread.arg("COUNT").arg(count).arg("BLOCK").arg(ms(block).max(1)).arg("STREAMS");
    for (key, _) in streams.clone() {
        xread.arg(key);
    }
    for (_, id) in streams {
        xread.arg(id);
    }
    let reply: Option<StreamReadReply> =
        xread.query_async(conn).await.map_err(|e| ClusterError::redis(operation, &e))?;
    Ok(reply.into_iter().flat_map(|r| r.keys).map(|k| (k.key, k.ids)).collect())
}

/// The live conversations whose owner was last heard from longer than `silence` ago.
pub(super) async fn stale(
    conn: &mut ConnectionManager,
    live: &str,
    silence: Duration,
) -> Result<Vec<String>, ClusterError> {
    STALE_SCRIPT
        .key(live)
        .arg(ms(silence))
        .invoke_async(conn)
        .await
        .map_err(|e| ClusterError::redis("sweep", &e))
}

/// Sets a node's heartbeat.
/// Claims a node name for a new node: its heartbeat key, set only if no node holds it (a live
/// one, or one dead for less than the key's TTL). `false` when it is held.
pub(super) async fn claim_name(
    conn: &mut ConnectionManager,
    key: &str,
    ttl: Duration,
) -> Result<bool, ClusterError> {
    let set: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(1)
        .arg("NX")
        .arg("PX")
        .arg(ms(ttl))
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis("claim node name", &e))?;
    Ok(set.is_some())
}

pub(super) async fn heartbeat(
    conn: &mut ConnectionManager,
    key: &str,
    ttl: Duration,
) -> Result<(), ClusterError> {
    redis::cmd("SET")
        .arg(key)
        .arg(1)
        .arg("PX")
        .arg(ms(ttl))
        .query_async::<()>(conn)
        .await
        .map_err(|e| ClusterError::redis("heartbeat", &e))
}

/// Which of these heartbeat keys exist.
pub(super) async fn alive(
    conn: &mut ConnectionManager,
    keys: &[String],
) -> Result<Vec<bool>, ClusterError> {
    let mut pipe = redis::pipe();
    for key in keys {
        pipe.cmd("EXISTS").arg(key);
    }
    pipe.query_async(conn).await.map_err(|e| ClusterError::redis("heartbeat", &e))
}

/// Creates the events stream's consumer group (once per cluster; an existing one is kept).
pub(super) async fn events_group(
    conn: &mut ConnectionManager,
    key: &str,
    group: &str,
) -> Result<(), ClusterError> {
    let created: Result<(), _> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(key)
        .arg(group)
        .arg("0")
        .arg("MKSTREAM")
        .query_async(conn)
        .await;
    match created {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
        Err(e) => Err(ClusterError::redis("create events group", &e)),
    }
}

/// The events for this node's consumer after `from`: `>` for new ones (waiting up to `block`),
/// `0` for those it was given and did not acknowledge.
pub(super) async fn read_events(
    conn: &mut ConnectionManager,
    key: &str,
    group: &str,
    consumer: &str,
    from: &str,
    block: Duration,
) -> Result<Vec<(String, Result<ClusterEvent, ClusterError>)>, ClusterError> {
    let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(group)
        .arg(consumer)
        .arg("COUNT")
        .arg(64)
        .arg("BLOCK")
        .arg(ms(block).max(1))
        .arg("STREAMS")
        .arg(key)
        .arg(from)
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis("read events", &e))?;
    Ok(reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids).map(event_of).collect())
}

/// Claims for this node's consumer the events another consumer read but never acknowledged
/// for longer than `idle` (it died before handing them to its host).
pub(super) async fn claim_events(
    conn: &mut ConnectionManager,
    key: &str,
    group: &str,
    consumer: &str,
    idle: Duration,
) -> Result<Vec<(String, Result<ClusterEvent, ClusterError>)>, ClusterError> {
    let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
        .arg(key)
        .arg(group)
        .arg(consumer)
        .arg(ms(idle))
        .arg("0-0")
        .arg("COUNT")
        .arg(64)
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis("claim events", &e))?;
    Ok(reply.claimed.into_iter().map(event_of).collect())
}

/// An events stream entry's event.
fn event_of(entry: StreamId) -> (String, Result<ClusterEvent, ClusterError>) {
    let event = field_bytes(&entry, "e")
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(ClusterError::Malformed { stream: "events", id: entry.id.clone(), field: "e" });
    (entry.id, event)
}

/// Acknowledges events handed to the host.
pub(super) async fn ack_events(
    conn: &mut ConnectionManager,
    key: &str,
    group: &str,
    ids: &[String],
) -> Result<(), ClusterError> {
    if ids.is_empty() {
        return Ok(());
    }
    redis::cmd("XACK")
        .arg(key)
        .arg(group)
        .arg(ids)
        .query_async::<()>(conn)
        .await
        .map_err(|e| ClusterError::redis("ack events", &e))
}

/// A field's bytes, if it is there and a string.
pub(super) fn field_bytes(entry: &StreamId, field: &str) -> Option<Vec<u8>> {
    match entry.map.get(field)? {
        Value::BulkString(bytes) => Some(bytes.clone()),
        Value::SimpleString(text) => Some(text.clone().into_bytes()),
        _ => None,
    }
}

/// A field as a number.
pub(super) fn field_u64(entry: &StreamId, field: &str) -> Option<u64> {
    String::from_utf8(field_bytes(entry, field)?).ok()?.parse().ok()
}
