//! The Lua scripts, one per operation that reads and writes atomically.
//! Each runs by its SHA (`EVALSHA`) in one round trip.

use std::sync::LazyLock;

use redis::Script;

// The scripts. Times are whole seconds; `now` is always the caller's. A
// key's TTL is its expiry minus `now`, plus one second of slack (the
// answer is decided by `now`; the TTL only collects the garbage).

/// The revocation events (see the mirror): an evented script declares the
/// sequence hash `{PREFIX}:seq` as `KEYS[2]` and, for revocations, the
/// kind's index (a sorted set of live ids by end, `{PREFIX}:ir`, `:if`,
/// `:is`) as `KEYS[3]`. `publish` takes the next number, names the epoch
/// (made from the server's clock when the hash is new: a flushed or
/// restarted Redis starts a new one), publishes `EPOCH SEQ KIND A B ID` on
/// `{PREFIX}:events` and answers that line, all inside the script: a
/// change and its event are one atomic step. Plain `PUBLISH` reaches every
/// node of a cluster.
const EVENTS: &str = r"
local function publish(kind, a, b, id)
  local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
  local e = redis.call('HGET', KEYS[2], 'e')
  if not e then
    local t = redis.call('TIME')
    e = t[1] .. '.' .. t[2]
    redis.call('HSET', KEYS[2], 'e', e)
  end
  redis.call('EXPIRE', KEYS[2], 2592000)
  local line = e .. ' ' .. n .. ' ' .. kind .. ' ' .. string.format('%d', a) .. ' ' .. string.format('%d', b) .. ' ' .. id
  redis.call('PUBLISH', string.sub(KEYS[2], 1, -4) .. 'events', line)
  return line
end
local function index(id, keep, now)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  local old = redis.call('ZSCORE', KEYS[3], id)
  if not old or tonumber(old) < keep then redis.call('ZADD', KEYS[3], keep, id) end
  if redis.call('TTL', KEYS[3]) < keep - now + 1 then redis.call('EXPIRE', KEYS[3], keep - now + 1) end
end
";

/// A script that publishes its change: [`EVENTS`], then `body`.
fn evented(body: &str) -> Script {
    Script::new(&format!("{EVENTS}{body}"))
}

/// KEYS: token id, family, subject. ARGV: now, has id, has family, iat.
pub(super) static IS_REVOKED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
if ARGV[2] == '1' then
  local exp = redis.call('GET', KEYS[1])
  if exp and tonumber(exp) > now then return 1 end
end
if ARGV[3] == '1' and redis.call('HGET', KEYS[2], 'rev') == '1' then return 1 end
local s = redis.call('HMGET', KEYS[3], 'cut', 'keep')
if s[1] and tonumber(ARGV[4]) <= tonumber(s[1]) and tonumber(s[2]) > now then return 1 end
return 0
",
    )
});

/// KEYS: token id, sequence, token index. ARGV: expires_at, now, token
/// id. Answers the event line, or nil (already over).
pub(super) static REVOKE_TOKEN: LazyLock<Script> = LazyLock::new(|| {
    evented(
        r"
local exp, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local old = redis.call('GET', KEYS[1])
if old then exp = math.max(exp, tonumber(old)) end
if exp <= now then return false end
redis.call('SET', KEYS[1], exp, 'EX', exp - now + 1)
index(ARGV[3], exp, now)
return publish('t', exp, 0, ARGV[3])
",
    )
});

/// KEYS: subject, sequence, subject index. ARGV: cutoff, keep_until,
/// now, subject. Answers the event line, or nil.
pub(super) static REVOKE_SUBJECT: LazyLock<Script> = LazyLock::new(|| {
    evented(
        r"
local cut, keep, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('HMGET', KEYS[1], 'cut', 'keep')
if old[1] and tonumber(old[2]) > now then
  cut = math.max(cut, tonumber(old[1]))
  keep = math.max(keep, tonumber(old[2]))
end
if keep <= now then return false end
redis.call('HSET', KEYS[1], 'cut', cut, 'keep', keep)
redis.call('EXPIRE', KEYS[1], keep - now + 1)
index(ARGV[4], keep, now)
return publish('s', cut, keep, ARGV[4])
",
    )
});

/// KEYS: family. ARGV: current token id, expires_at, now.
pub(super) static CREATE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local exp, now = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
if exp <= now then return 0 end
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'exp', exp)
redis.call('EXPIRE', KEYS[1], exp - now + 1)
return 1
",
    )
});

/// KEYS: family, sequence, family index. ARGV: presented, next, grace,
/// expires_at, now, family id. Answers {'rotated'}, {'grace', current},
/// {'reused', event line} or {'dead'}.
pub(super) static ROTATE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    evented(
        r"
local f = redis.call('HMGET', KEYS[1], 'cur', 'exp', 'rev', 'prev', 'at', 'used')
local now = tonumber(ARGV[5])
if not f[1] or f[3] == '1' or tonumber(f[2]) <= now then return {'dead'} end
if f[1] == ARGV[1] then
  local exp = math.max(tonumber(f[2]), tonumber(ARGV[4]))
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'prev', ARGV[1], 'at', now, 'used', '0', 'exp', exp)
  redis.call('EXPIRE', KEYS[1], exp - now + 1)
  return {'rotated'}
end
local grace = tonumber(ARGV[3])
if f[4] == ARGV[1] and f[6] ~= '1' and grace > 0 and now - tonumber(f[5]) <= grace then
  redis.call('HSET', KEYS[1], 'used', '1')
  return {'grace', f[1]}
end
redis.call('HSET', KEYS[1], 'rev', '1')
index(ARGV[6], tonumber(f[2]), now)
return {'reused', publish('f', tonumber(f[2]), 0, ARGV[6])}
",
    )
});

/// KEYS: family. ARGV: expires_at, now.
pub(super) static EXTEND_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local f = redis.call('HMGET', KEYS[1], 'exp', 'rev')
local now = tonumber(ARGV[2])
if not f[1] or f[2] == '1' or tonumber(f[1]) <= now then return 0 end
local exp = math.max(tonumber(f[1]), tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'exp', exp)
redis.call('EXPIRE', KEYS[1], exp - now + 1)
return 1
",
    )
});

/// KEYS: family, sequence, family index. ARGV: family id, now. Answers
/// the event line, or nil (no such family).
pub(super) static REVOKE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    evented(
        r"
local exp = redis.call('HGET', KEYS[1], 'exp')
if not exp then return false end
redis.call('HSET', KEYS[1], 'rev', '1')
local now = tonumber(ARGV[2])
index(ARGV[1], math.max(tonumber(exp), now + 1), now)
return publish('f', math.max(tonumber(exp), now + 1), 0, ARGV[1])
",
    )
});

/// KEYS: opaque key, sequence. ARGV: record, refresh hash, retired
/// hashes, refresh expiry, now, subject, issued at, hashed key. Answers
/// the event line.
pub(super) static PUT_OPAQUE: LazyLock<Script> = LazyLock::new(|| {
    evented(
        r"
local exp, now = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('DEL', KEYS[1])
if exp > now then
  redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'rh', ARGV[2], 'ret', ARGV[3], 'exp', exp, 'sub', ARGV[6], 'iat', ARGV[7])
  redis.call('EXPIRE', KEYS[1], exp - now + 1)
end
return publish('o', 0, 0, ARGV[8])
",
    )
});

/// KEYS: opaque key, sequence. ARGV: presented hash, next record, next
/// refresh hash, next refresh expiry, now, how many retired hashes to
/// keep, next subject, next issued at, grace seconds (the secret rotated
/// away last, presented again at most this long after the current ones
/// were issued, rotates once more instead of being reuse), hashed key.
/// Answers {'rotated', line}, {'reused', line} or {'unknown'}.
/// Hashes are 32 raw bytes; comparing a SHA-256 of a random secret tells a
/// timing observer nothing about the secret, and Lua compares interned
/// strings by identity anyway.
pub(super) static ROTATE_OPAQUE: LazyLock<Script> = LazyLock::new(|| {
    evented(
        r"
local o = redis.call('HMGET', KEYS[1], 'rh', 'ret', 'exp', 'iat')
local now = tonumber(ARGV[5])
if not o[1] or tonumber(o[3]) <= now then return {'unknown'} end
local ret0 = o[2] or ''
local grace = tonumber(ARGV[9])
local retry = #ret0 >= 32 and string.sub(ret0, #ret0 - 31) == ARGV[1] and grace > 0
  and o[4] and now - tonumber(o[4]) <= grace
if o[1] == ARGV[1] or retry then
  local ret = (o[2] or '') .. o[1]
  local max = tonumber(ARGV[6]) * 32
  if #ret > max then ret = string.sub(ret, #ret - max + 1) end
  local exp = tonumber(ARGV[4])
  if exp <= now then redis.call('DEL', KEYS[1]); return {'rotated', publish('o', 0, 0, ARGV[10])} end
  redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'rh', ARGV[3], 'ret', ret, 'exp', exp, 'sub', ARGV[7], 'iat', ARGV[8])
  redis.call('EXPIRE', KEYS[1], exp - now + 1)
  return {'rotated', publish('o', 0, 0, ARGV[10])}
end
local ret = o[2] or ''
for i = 1, #ret, 32 do
  if string.sub(ret, i, i + 31) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return {'reused', publish('o', 0, 0, ARGV[10])}
  end
end
return {'unknown'}
",
    )
});

/// KEYS: opaque key, sequence. ARGV: hashed key. Answers the event
/// line, or nil (nothing to delete).
pub(super) static DELETE_OPAQUE: LazyLock<Script> = LazyLock::new(|| {
    evented(
        r"
if redis.call('DEL', KEYS[1]) == 0 then return false end
return publish('o', 0, 0, ARGV[1])
",
    )
});

/// KEYS: sequence, token, family and subject indexes. ARGV: now, this
/// store's subject key prefix, `SCAN MATCH` pattern of the store's keys.
/// Answers {epoch, seq, {token id, end, ...}, {family, end, ...},
/// {subject, end, cut-off, ...}}: every live revocation as of `seq`, for a
/// mirror (re)starting. One script, so one instant: no event can fall
/// between the sequence and the sets.
///
/// The indexes are kept by the revoking scripts; revocations written
/// before them (an older version, or before the sequence hash was lost)
/// are indexed here once, by a `SCAN` of the store's keys on the node
/// that holds them, before the sequence is marked `idx`.
pub(super) static SNAPSHOT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local e = redis.call('HGET', KEYS[1], 'e')
if not e then
  local t = redis.call('TIME')
  e = t[1] .. '.' .. t[2]
  redis.call('HSET', KEYS[1], 'e', e, 'n', 0)
end
redis.call('EXPIRE', KEYS[1], 2592000)
if not redis.call('HGET', KEYS[1], 'idx') then
  local tag = string.sub(KEYS[1], 1, -4)
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', ARGV[3], 'COUNT', 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do
      local kind, id = string.sub(key, #tag + 1, #tag + 2), string.sub(key, #tag + 3)
      if kind == 'r:' then
        local exp = tonumber(redis.call('GET', key))
        if exp and exp > now then redis.call('ZADD', KEYS[2], exp, id) end
      elseif kind == 'f:' then
        local f = redis.call('HMGET', key, 'rev', 'exp')
        if f[1] == '1' and f[2] then redis.call('ZADD', KEYS[3], math.max(tonumber(f[2]), now + 1), id) end
      elseif kind == 's:' then
        local keep = tonumber(redis.call('HGET', key, 'keep'))
        if keep and keep > now then redis.call('ZADD', KEYS[4], keep, id) end
      end
    end
  until cursor == '0'
  for i = 2, 4 do
    local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    if last[2] then redis.call('EXPIRE', KEYS[i], tonumber(last[2]) - now + 1) end
  end
  redis.call('HSET', KEYS[1], 'idx', '1')
end
local n = redis.call('HGET', KEYS[1], 'n')
local out = {e, n}
for i = 2, 4 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  table.insert(out, redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES'))
end
local subjects = {}
for i = 1, #out[5], 2 do
  local cut = redis.call('HGET', ARGV[2] .. out[5][i], 'cut')
  if cut then
    table.insert(subjects, out[5][i])
    table.insert(subjects, out[5][i + 1])
    table.insert(subjects, cut)
  end
end
out[5] = subjects
return out
",
    )
});

/// KEYS: sequence. ARGV: nonce. Publishes `EPOCH SEQ h 0 0 NONCE` (the
/// number reached, taking none) on the events channel, from the node that
/// owns the slot, in order with the events; answers 0 without a sequence.
pub(super) static PROBE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local s = redis.call('HMGET', KEYS[1], 'e', 'n')
if not s[1] then return 0 end
redis.call('PUBLISH', string.sub(KEYS[1], 1, -4) .. 'events', s[1] .. ' ' .. (s[2] or '0') .. ' h 0 0 ' .. ARGV[1])
return 1
",
    )
});

/// KEYS: opaque key. ARGV: now, this store's subject key prefix. Answers
/// nil, or {record, refresh hash, retired hashes, refresh expiry, revoked}.
/// The subject's key is read without being declared: its name is in the
/// record. It carries this store's hash tag like every key of the store,
/// so it is in the same slot and the script still runs on Redis Cluster.
pub(super) static GET_OPAQUE_CHECKED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now = tonumber(ARGV[1])
local o = redis.call('HMGET', KEYS[1], 'rec', 'rh', 'ret', 'exp', 'sub', 'iat')
if not o[1] or not o[5] or tonumber(o[4]) <= now then return false end
local s = redis.call('HMGET', ARGV[2] .. o[5], 'cut', 'keep')
local revoked = 0
if s[1] and tonumber(o[6]) <= tonumber(s[1]) and tonumber(s[2]) > now then revoked = 1 end
return {o[1], o[2], o[3] or '', tonumber(o[4]), revoked}
",
    )
});

/// KEYS: counter. ARGV: now, free, window, first delay, max delay.
/// Exactly [`AttemptRule::apply`](crate::AttemptRule::apply); answers {allowed, count, retry_after}.
pub(super) static COUNT_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local now, free, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local first, maxd = tonumber(ARGV[4]), tonumber(ARGV[5])
local s = redis.call('HMGET', KEYS[1], 'c', 'p', 'n', 'e')
local c, p, n = 0, 0, 0
if s[4] and tonumber(s[4]) > now then c, p, n = tonumber(s[1]), tonumber(s[2]), tonumber(s[3]) end
c = c + 1
local allowed = p < free or now >= n
if allowed then
  p = p + 1
  if p >= free then
    local delay = math.max(math.min(first * 2 ^ math.min(p - free, 62), maxd), 0)
    if delay > 0 then n = now + delay end
  end
end
local e = math.max(now + window, n)
redis.call('HSET', KEYS[1], 'c', c, 'p', p, 'n', n, 'e', e)
redis.call('EXPIRE', KEYS[1], e - now + 1)
local retry = 0
if not allowed then retry = math.max(n - now, 1) end
return {allowed and 1 or 0, c, retry}
",
    )
});

/// KEYS: counter.
pub(super) static TAKE_BACK_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local s = redis.call('HMGET', KEYS[1], 'c', 'p')
if not s[1] then return 0 end
redis.call('HSET', KEYS[1], 'c', math.max(tonumber(s[1]) - 1, 0), 'p', math.max(tonumber(s[2]) - 1, 0))
return 1
",
    )
});
