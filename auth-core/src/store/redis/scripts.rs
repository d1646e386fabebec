//! The Lua scripts, one per operation that reads and writes atomically.
//! Each runs by its SHA (`EVALSHA`) in one round trip.

use std::sync::LazyLock;

use redis::Script;

// The scripts. Times are whole seconds; `now` is always the caller's. A
// key's TTL is its expiry minus `now`, plus one second of slack (the
// answer is decided by `now`; the TTL only collects the garbage).

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

/// KEYS: token id. ARGV: expires_at, now.
pub(super) static REVOKE_TOKEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local exp, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local old = redis.call('GET', KEYS[1])
if old then exp = math.max(exp, tonumber(old)) end
if exp <= now then return 0 end
redis.call('SET', KEYS[1], exp, 'EX', exp - now + 1)
return 1
",
    )
});

/// KEYS: subject. ARGV: cutoff, keep_until, now.
pub(super) static REVOKE_SUBJECT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cut, keep, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local old = redis.call('HMGET', KEYS[1], 'cut', 'keep')
if old[1] and tonumber(old[2]) > now then
  cut = math.max(cut, tonumber(old[1]))
  keep = math.max(keep, tonumber(old[2]))
end
if keep <= now then return 0 end
redis.call('HSET', KEYS[1], 'cut', cut, 'keep', keep)
redis.call('EXPIRE', KEYS[1], keep - now + 1)
return 1
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

/// KEYS: family. ARGV: presented, next, grace, expires_at, now.
/// Answers {'rotated'}, {'grace', current}, {'reused'} or {'dead'}.
pub(super) static ROTATE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
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
return {'reused'}
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

/// KEYS: family.
pub(super) static REVOKE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'rev', '1') end
return 0
",
    )
});

/// KEYS: opaque key. ARGV: record, refresh hash, retired hashes, refresh
/// expiry, now, subject, issued at.
pub(super) static PUT_OPAQUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local exp, now = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('DEL', KEYS[1])
if exp <= now then return 0 end
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'rh', ARGV[2], 'ret', ARGV[3], 'exp', exp, 'sub', ARGV[6], 'iat', ARGV[7])
redis.call('EXPIRE', KEYS[1], exp - now + 1)
return 1
",
    )
});

/// KEYS: opaque key. ARGV: presented hash, next record, next refresh
/// hash, next refresh expiry, now, how many retired hashes to keep, next
/// subject, next issued at, grace seconds (the secret rotated away last,
/// presented again at most this long after the current ones were issued,
/// rotates once more instead of being reuse).
/// Hashes are 32 raw bytes; comparing a SHA-256 of a random secret tells a
/// timing observer nothing about the secret, and Lua compares interned
/// strings by identity anyway.
pub(super) static ROTATE_OPAQUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local o = redis.call('HMGET', KEYS[1], 'rh', 'ret', 'exp', 'iat')
local now = tonumber(ARGV[5])
if not o[1] or tonumber(o[3]) <= now then return 'unknown' end
local ret0 = o[2] or ''
local grace = tonumber(ARGV[9])
local retry = #ret0 >= 32 and string.sub(ret0, #ret0 - 31) == ARGV[1] and grace > 0
  and o[4] and now - tonumber(o[4]) <= grace
if o[1] == ARGV[1] or retry then
  local ret = (o[2] or '') .. o[1]
  local max = tonumber(ARGV[6]) * 32
  if #ret > max then ret = string.sub(ret, #ret - max + 1) end
  local exp = tonumber(ARGV[4])
  if exp <= now then redis.call('DEL', KEYS[1]); return 'rotated' end
  redis.call('HSET', KEYS[1], 'rec', ARGV[2], 'rh', ARGV[3], 'ret', ret, 'exp', exp, 'sub', ARGV[7], 'iat', ARGV[8])
  redis.call('EXPIRE', KEYS[1], exp - now + 1)
  return 'rotated'
end
local ret = o[2] or ''
for i = 1, #ret, 32 do
  if string.sub(ret, i, i + 31) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 'reused'
  end
end
return 'unknown'
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
