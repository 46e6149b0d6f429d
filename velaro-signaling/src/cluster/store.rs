//! The cluster's Redis commands: leases, the fenced commit, and the streams' reads and writes.

use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamRangeReply, StreamReadReply};
use redis::{Script, Value};

use super::error::ClusterError;
use super::event::ClusterEvent;
use super::input::Input;
use super::keys::{EVENTS_MAXLEN, Keys, NEWS_MAXLEN, STREAM_MAXLEN};
use super::owner::{Effects, OwnerSnapshot};

/// Takes each lease nobody holds, in one call for many conversations (the renewal round's,
/// for the stewards waiting for one): for each, its new epoch, or 0 when it is held.
/// KEYS: each conversation's lease and epoch. ARGV: node, lease ms, retention ms.
const ACQUIRE_MANY: &str = r"
local taken = {}
for j = 1, #KEYS / 2 do
  local lease, epochs = KEYS[2 * j - 1], KEYS[2 * j]
  if redis.call('EXISTS', lease) == 1 then
    taken[j] = 0
  else
    local epoch = redis.call('INCR', epochs)
    redis.call('PEXPIRE', epochs, ARGV[3])
    redis.call('SET', lease, epoch .. ':' .. ARGV[1], 'PX', ARGV[2])
    taken[j] = epoch
  end
end
return taken
";

/// Redis's own clock in milliseconds (one clock for the whole cluster's liveness scores).
const NOW_MS: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
";

/// Writes a notice into a node's news stream (`node` is its key prefix `P:node:NAME`), if
/// the stream is there (a node that died and let it expire gets none); a full one gets none
/// either, and the node's `lost` flag is set instead (it then reads its streams again).
const NOTIFY: &str = r"
local function notify(node, cap, notice)
  local news = node .. ':news'
  if redis.call('EXISTS', news) == 0 then return end
  if redis.call('XLEN', news) >= tonumber(cap) then
    redis.call('SET', news .. ':lost', '1', 'PX', math.max(redis.call('PTTL', news), 1))
    return
  end
  redis.call('XADD', news, '*', unpack(notice))
end
";

/// Appends an input to the inbound stream and sends its owner (the lease's node, if any) a
/// notice carrying it, its id and `prev`: the id of the last unconsumed entry before it (''
/// when every earlier entry was consumed), so that an owner that missed a notice sees the gap.
/// Without an owner, whoever takes the lease reads the stream from `done`. Returns the id.
///
/// With a third key, the outbound stream, it also answers that stream's last id before the
/// input (a connect: where its node starts reading, since nothing for it can come earlier).
///
/// KEYS: inbound, lease[, outbound]. ARGV: maxlen, retention ms, node prefix (`P:node:`),
/// news cap, conversation, then the input's field/value items. Answers the id and the
/// outbound stream's last id ('' without the third key, `0-0` when it is empty).
const APPEND: &str = r"
local out = ''
if KEYS[3] then
  local newest = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
  out = newest[1] and newest[1][1] or '0-0'
end
local prev = ''
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] then prev = last[1][1] end
local fields = {}
for j = 6, #ARGV do fields[#fields + 1] = ARGV[j] end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local lease = redis.call('GET', KEYS[2])
local node = lease and string.match(lease, '^%d+:(.+)$')
if node then
  notify(ARGV[3] .. node, ARGV[4], {'_t', 'i', '_c', ARGV[5], '_i', id, '_p', prev, unpack(fields)})
end
return {id, out}
";

/// Renews every lease that is still ours, in one call for many conversations (a node's
/// renewal round): for each, 1 if renewed (its live score says its owner was heard from now),
/// else 0. KEYS: live, then the leases. ARGV: lease ms, then each lease's value and member.
const RENEW: &str = r"
local renewed = {}
for j = 2, #KEYS do
  if redis.call('GET', KEYS[j]) == ARGV[2 * j - 2] then
    redis.call('PEXPIRE', KEYS[j], ARGV[1])
    redis.call('ZADD', KEYS[1], 'XX', now, ARGV[2 * j - 1])
    renewed[j - 1] = 1
  else
    renewed[j - 1] = 0
  end
end
return renewed
";

/// A node's heartbeat: sets its key, keeps its news stream (re-creating it if it is gone),
/// trims the notices it read (before ARGV[2], if not ''), and answers 1 when notices may
/// have been lost (the stream was gone, or full: its `lost` flag was set), else 0.
/// KEYS: heartbeat, news, lost. ARGV: TTL ms, the reader's last id, the news TTL ms.
const HEARTBEAT: &str = r"
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
local lost = 0
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('XADD', KEYS[2], '*', '_t', 'h')
  lost = 1
elseif ARGV[2] ~= '' then
  redis.call('XTRIM', KEYS[2], 'MINID', ARGV[2])
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('DEL', KEYS[3]) == 1 then lost = 1 end
return lost
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
/// Each delivery also goes, as a notice with its outbound id and `prev` (the last outbound id
/// addressed to that node before it, kept in `outlast`), to its node's news stream.
///
/// With a snapshot (the owner's state after this input), the journal is replaced by it: one
/// entry `k`=`s`, `t`, `b` the snapshot's JSON (the compaction).
///
/// KEYS: lease, journal, outbound, events, done, inbound, epoch, live, commits, outlast.
/// ARGV: lease value, consumed inbound id or '', reset '1'/'0', retention ms, lease ms,
/// outbound maxlen, events maxlen, the conversation (its member in the live set), the commit
/// count expected, the node prefix (`P:node:`), the news cap, the snapshot's JSON or '', its
/// time, then a count
/// and that many journal field/value items, a count and that many deliveries (node, session,
/// kind, frame), a count and that many events (conversation, JSON). The conversation stays in
/// the live set (scored now) until a reset.
const COMMIT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local count = tonumber(redis.call('GET', KEYS[9]) or '0')
if count ~= tonumber(ARGV[9]) then return 2 end
local retention = ARGV[4]
redis.call('SET', KEYS[9], count + 1, 'PX', retention)
local i = 14
local nj = tonumber(ARGV[i])
i = i + 1
if ARGV[3] == '1' then
  redis.call('DEL', KEYS[2])
elseif ARGV[12] ~= '' then
  redis.call('DEL', KEYS[2])
  redis.call('XADD', KEYS[2], '*', 'k', 's', 't', ARGV[13], 'b', ARGV[12])
  redis.call('PEXPIRE', KEYS[2], retention)
elseif nj > 0 then
  local fields = {}
  for j = 1, nj do fields[j] = ARGV[i + j - 1] end
  redis.call('XADD', KEYS[2], '*', unpack(fields))
  redis.call('PEXPIRE', KEYS[2], retention)
end
i = i + nj
local nd = tonumber(ARGV[i])
i = i + 1
local last = {}
for j = 1, nd do
  local node = ARGV[i]
  local id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*',
    'n', node, 's', ARGV[i + 1], 'k', ARGV[i + 2], 'b', ARGV[i + 3])
  local prev = last[node] or redis.call('HGET', KEYS[10], node) or ''
  last[node] = id
  notify(ARGV[10] .. node, ARGV[11], {'_t', 'o', '_c', ARGV[8], '_i', id, '_p', prev,
    's', ARGV[i + 1], 'k', ARGV[i + 2], 'b', ARGV[i + 3]})
  i = i + 4
end
for node, id in pairs(last) do redis.call('HSET', KEYS[10], node, id) end
if nd > 0 then
  redis.call('PEXPIRE', KEYS[3], retention)
  redis.call('PEXPIRE', KEYS[10], retention)
end
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
static ACQUIRE_MANY_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACQUIRE_MANY));
static RENEW_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{NOW_MS}{RENEW}")));
static APPEND_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{NOTIFY}{APPEND}")));
static HEARTBEAT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(HEARTBEAT));
static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE));
static COMMIT_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{NOW_MS}{NOTIFY}{COMMIT}")));
static STALE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{NOW_MS}{STALE}")));

fn ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The lease's value for an owner: `epoch:node`.
pub(super) fn lease_value(epoch: u64, node: &str) -> String {
    format!("{epoch}:{node}")
}

/// Takes the conversation's lease if nobody holds it: the epoch it was taken with.
pub(super) async fn acquire(
    conn: &mut ConnectionManager,
    keys: &Keys,
    node: &str,
    lease: Duration,
    retention: Duration,
) -> Result<Option<u64>, ClusterError> {
    let taken = acquire_many(conn, &[keys], node, lease, retention).await?;
    Ok(taken.into_iter().next().flatten())
}

/// One lease a node renews: its key, its value (`epoch:node`) and its conversation.
pub(super) struct Renewal<'a> {
    pub(super) key: &'a str,
    pub(super) value: &'a str,
    pub(super) member: &'a str,
}

/// The most leases one renewal script covers (a node with more sends several).
pub(super) const RENEWALS_PER_CALL: usize = 512;

/// Renews many leases in one script call (at most [`RENEWALS_PER_CALL`] each): for each, in
/// order, whether it is still ours.
pub(super) async fn renew(
    conn: &mut ConnectionManager,
    live: &str,
    leases: &[Renewal<'_>],
    lease: Duration,
) -> Result<Vec<bool>, ClusterError> {
    let mut invocation = RENEW_SCRIPT.prepare_invoke();
    invocation.key(live).arg(ms(lease));
    for renewal in leases {
        invocation.key(renewal.key).arg(renewal.value).arg(renewal.member);
    }
    let renewed: Vec<u8> =
        invocation.invoke_async(conn).await.map_err(|e| ClusterError::redis("renew", &e))?;
    if renewed.len() != leases.len() {
        return Err(ClusterError::Redis { operation: "renew", category: "short answer".into() });
    }
    Ok(renewed.into_iter().map(|r| r == 1).collect())
}

/// Takes each of these conversations' leases that nobody holds (at most
/// [`RENEWALS_PER_CALL`] a call): for each, in order, the epoch it was taken with.
pub(super) async fn acquire_many(
    conn: &mut ConnectionManager,
    leases: &[&Keys],
    node: &str,
    lease: Duration,
    retention: Duration,
) -> Result<Vec<Option<u64>>, ClusterError> {
    let mut invocation = ACQUIRE_MANY_SCRIPT.prepare_invoke();
    invocation.arg(node).arg(ms(lease)).arg(ms(retention));
    for keys in leases {
        invocation.key(&keys.lease).key(&keys.epoch);
    }
    let taken: Vec<u64> =
        invocation.invoke_async(conn).await.map_err(|e| ClusterError::redis("acquire", &e))?;
    if taken.len() != leases.len() {
        return Err(ClusterError::Redis { operation: "acquire", category: "short answer".into() });
    }
    Ok(taken.into_iter().map(|epoch| (epoch > 0).then_some(epoch)).collect())
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
    /// The owner's snapshot (JSON) after this input, to replace the journal with.
    pub(super) snapshot: Option<Vec<u8>>,
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
    (events_key, node_prefix): (&str, &str),
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
        &keys.outlast,
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
        .arg(commit.count)
        .arg(node_prefix)
        .arg(NEWS_MAXLEN)
        .arg(commit.snapshot.as_deref().unwrap_or_default())
        .arg(commit.input.map_or(0, |(t, _)| t));
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

/// A conversation as Redis holds it: the consumed inbound id, the journal (the snapshot it
/// starts with, if it was compacted, and each input after it with its time), and the commit
/// count they add up to.
pub(super) struct Loaded {
    pub(super) done: Option<String>,
    pub(super) snapshot: Option<OwnerSnapshot>,
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
        let (done, (snapshot, journal)) = load_once(conn, keys).await?;
        if commit_count(conn, keys).await? == before {
            return Ok(Loaded { done, snapshot, journal, count: before });
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

/// The journal: its snapshot, if it starts with one, and the inputs after it.
type Journal = (Option<OwnerSnapshot>, Vec<(u64, Input)>);

async fn load_once(
    conn: &mut ConnectionManager,
    keys: &Keys,
) -> Result<(Option<String>, Journal), ClusterError> {
    let done: Option<String> = redis::cmd("GET")
        .arg(&keys.done)
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis("load", &e))?;
    let mut snapshot = None;
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
            let malformed =
                |field| ClusterError::Malformed { stream: "journal", id: entry.id.clone(), field };
            // Only a compaction writes a snapshot, and it writes it first.
            if field_bytes(&entry, "k").as_deref() == Some(b"s") {
                if snapshot.is_some() || !journal.is_empty() {
                    return Err(malformed("k"));
                }
                let json = field_bytes(&entry, "b").ok_or_else(|| malformed("b"))?;
                snapshot = Some(serde_json::from_slice(&json).map_err(|_| malformed("b"))?);
                continue;
            }
            let t = field_u64(&entry, "t").ok_or_else(|| malformed("t"))?;
            journal.push((t, Input::from_fields(&entry.map, "journal", &entry.id)?));
        }
        from = format!("({last}");
    }
    Ok((done, (snapshot, journal)))
}

/// Appends an input to a conversation's inbound stream, with a notice to its owner's news
/// stream (`node_prefix`: `P:node:`); returns the entry's id, and with `connect`, the
/// outbound stream's last id before it (`0-0` for none).
pub(super) async fn append(
    conn: &mut ConnectionManager,
    keys: &Keys,
    (node_prefix, connect): (&str, bool),
    input: &Input,
    retention: Duration,
) -> Result<(String, String), ClusterError> {
    let mut invocation = APPEND_SCRIPT.prepare_invoke();
    invocation.key(&keys.inbound).key(&keys.lease);
    if connect {
        invocation.key(&keys.outbound);
    }
    invocation
        .arg(STREAM_MAXLEN)
        .arg(ms(retention))
        .arg(node_prefix)
        .arg(NEWS_MAXLEN)
        .arg(&keys.member);
    for (name, value) in input.to_fields() {
        invocation.arg(name).arg(value);
    }
    invocation.invoke_async(conn).await.map_err(|e| ClusterError::redis("append", &e))
}

/// The entries of a stream after `after` (at most `count`), in order: how a node reads what
/// a notice it missed announced.
pub(super) async fn read_after(
    conn: &mut ConnectionManager,
    operation: &'static str,
    key: &str,
    after: &str,
    count: usize,
) -> Result<Vec<StreamId>, ClusterError> {
    let page: StreamRangeReply = redis::cmd("XRANGE")
        .arg(key)
        .arg(format!("({after}"))
        .arg("+")
        .arg("COUNT")
        .arg(count)
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis(operation, &e))?;
    Ok(page.ids)
}

/// A new node's news stream, empty but for a first entry: its id, where the reader starts
/// (the name is the node's own: anything an earlier node of that name left is dropped).
pub(super) async fn open_news(
    conn: &mut ConnectionManager,
    news: &str,
    lost: &str,
    ttl: Duration,
) -> Result<String, ClusterError> {
    let mut pipe = redis::pipe();
    pipe.atomic().cmd("DEL").arg(news).arg(lost).ignore();
    pipe.cmd("XADD").arg(news).arg("*").arg("_t").arg("h");
    pipe.cmd("PEXPIRE").arg(news).arg(ms(ttl)).ignore();
    let (id,): (String,) =
        pipe.query_async(conn).await.map_err(|e| ClusterError::redis("open news", &e))?;
    Ok(id)
}

/// Reads a node's news stream after `after` (at most `count` notices), waiting up to `block`
/// for one: the node's one blocking read, whatever the number of its calls.
pub(super) async fn read_news(
    conn: &mut ConnectionManager,
    key: &str,
    after: &str,
    count: usize,
    block: Duration,
) -> Result<Vec<StreamId>, ClusterError> {
    let reply: Option<StreamReadReply> = redis::cmd("XREAD")
        .arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(ms(block).max(1))
        .arg("STREAMS")
        .arg(key)
        .arg(after)
        .query_async(conn)
        .await
        .map_err(|e| ClusterError::redis("read news", &e))?;
    Ok(reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids).collect())
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

/// The node's heartbeat (see `HEARTBEAT`): `true` when notices for it may have been lost.
pub(super) async fn heartbeat(
    conn: &mut ConnectionManager,
    (key, news, lost): (&str, &str, &str),
    read_up_to: &str,
    ttl: Duration,
) -> Result<bool, ClusterError> {
    let lost: u8 = HEARTBEAT_SCRIPT
        .key(key)
        .key(news)
        .key(lost)
        .arg(ms(ttl))
        .arg(read_up_to)
        .arg(ms(ttl * 2))
        .invoke_async(conn)
        .await
        .map_err(|e| ClusterError::redis("heartbeat", &e))?;
    Ok(lost == 1)
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
