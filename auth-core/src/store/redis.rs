//! [`RedisStore`]: the shared store for services that run as several
//! instances (feature `redis`).
//!
//! Every trait operation is **one round trip**: a Lua script called by its
//! SHA (`EVALSHA`; the script is sent once, the first time a server does
//! not know it) or one plain read command. Scripts run atomically on the
//! server, so compare-and-rotate needs no lock and no `WATCH` retry loop.
//!
//! Keys are `{PREFIX}:KIND:ID`. The braces make the prefix a Redis Cluster
//! *hash tag*: every key of one store lives in one hash slot, so the one
//! script that touches several keys ([`Store::is_revoked`]: token id,
//! family and subject together) is legal on Redis Cluster, and the store
//! runs unchanged on a single `redis-server`, on Cluster and on Valkey
//! (which speaks the same protocol and Lua). The state is small (ids,
//! hashes, counters); services that want it spread over several shards
//! give each store its own prefix. Every key gets a TTL (computed from the
//! caller's `now`, so clock skew between machines cannot cut it short):
//! nothing outlives the token, family or counter it is about, and every
//! answer is still decided by comparing with `now`, never by whether Redis
//! has expired the key yet.
//!
//! Nothing secret is stored in clear: token ids, family ids and subjects
//! are identifiers; opaque keys are stored as their SHA-256, and opaque
//! secrets only ever as SHA-256 hashes; throttle keys are hashes already.
//!
//! **Failure.** Every call is bounded by a timeout ([`RedisOptions::timeout`],
//! 250 ms by default). A timeout or an unreachable server is a
//! [`StoreError`], which the authority turns into 503 with `Retry-After`
//! in the dialect's envelope; an outage is logged once (`warn`), its end
//! once (`info`). The connection manager reconnects by itself: when Redis
//! is back, the next request works, with no restart.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script, ScriptInvocation};

use super::codec::{corrupt, decode_record, encode_record};
use super::{Attempt, AttemptRule};
use super::{
    MAX_RETIRED_SECRETS, OpaqueRecord, OpaqueRotation, OutageLog, Rotation, Store, StoreError, TokenRef,
};

/// How long a call to Redis may take before it fails with
/// [`StoreError::Timeout`], unless [`RedisOptions::timeout`] says otherwise.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// The key prefix unless [`RedisOptions::prefix`] says otherwise.
pub const DEFAULT_REDIS_PREFIX: &str = "auth";

/// Times sent to Lua are clamped to this (Lua numbers are doubles: exact
/// to 2^53; 2^50 seconds is 35 million years).
const MAX_TIME: i64 = 1 << 50;

/// How a [`RedisStore`] names its keys and how long it waits.
///
/// ```
/// use std::time::Duration;
/// let options = auth_core::RedisOptions::default().prefix("shop-auth").timeout(Duration::from_millis(100));
/// assert_eq!(options.prefix_str(), "shop-auth");
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    prefix: String,
    timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self { prefix: DEFAULT_REDIS_PREFIX.to_owned(), timeout: DEFAULT_REDIS_TIMEOUT }
    }
}

impl RedisOptions {
    /// The key prefix (default `auth`): two services on one Redis with
    /// different prefixes never see each other's state; two instances of
    /// one service share a prefix. No braces (it becomes the hash tag).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one call may take (default [`DEFAULT_REDIS_TIMEOUT`]);
    /// connecting is bounded by the same time.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The configured prefix.
    pub fn prefix_str(&self) -> &str {
        &self.prefix
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) || self.prefix.len() > 64 {
            return Err(StoreError::Backend(
                "the Redis key prefix must be 1 to 64 characters without `{` or `}`".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(StoreError::Backend("the Redis timeout must be more than zero".into()));
        }
        Ok(())
    }
}

/// A [`Store`] on Redis (or Valkey, or Redis Cluster through one hash
/// slot), shared by every instance of a service. Cheap to clone.
///
/// The client is the `redis` crate's tokio [`ConnectionManager`]: one
/// multiplexed connection that pipelines every concurrent call and
/// reconnects by itself. Not `fred` (a second, larger client with its own
/// runtime model for what here is a handful of scripts) and not a pool
/// crate (`bb8`/`deadpool`): a multiplexed connection already serves
/// concurrent requests without a connection per request, and the manager
/// gives the reconnect-on-failure this store needs.
///
/// ```no_run
/// # async fn demo() -> Result<(), auth_core::StoreError> {
/// use auth_core::{Authority, JwtKey, KeySet, RedisOptions, RedisStore};
/// let store = RedisStore::connect_with("redis://127.0.0.1:6379/0", RedisOptions::default().prefix("api")).await?;
/// let key = JwtKey::hs256("k1", b"a secret of at least thirty-two bytes!").expect("key");
/// let authority = Authority::builder(KeySet::new(key).expect("keys")).store(store).build();
/// # let _ = authority; Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: ConnectionManager,
    /// `{prefix}:`
    tag: String,
    timeout: Duration,
    outage: OutageLog,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.tag)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://HOST:PORT/DB`, `rediss://` not built
    /// in) with the default options, and checks the server answers.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects with `options` and checks the server answers (`PING`),
    /// so a wrong URL fails at start-up, not at the first request.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let store = Self::lazy(url, options)?;
        let mut conn = store.inner.conn.clone();
        store.call(async move { redis::cmd("PING").query_async::<String>(&mut conn).await }).await?;
        Ok(store)
    }

    /// A store that connects at its first call: the application starts
    /// even while Redis is down (its requests answer 503 until Redis is up).
    /// Fails only for a malformed URL or options.
    pub fn lazy(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        options.check()?;
        let client = redis::Client::open(url).map_err(StoreError::from_source)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.timeout))
            .set_connection_timeout(Some(options.timeout))
            // Give up on a reconnect quickly; the next call starts another.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(options.timeout);
        let conn =
            ConnectionManager::new_lazy_with_config(client, config).map_err(StoreError::from_source)?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn,
                tag: format!("{{{}}}:", options.prefix),
                timeout: options.timeout,
                outage: OutageLog::new("redis"),
            }),
        })
    }

    /// Runs one call under the timeout, reporting to the outage log.
    async fn call<T>(&self, fut: impl Future<Output = Result<T, RedisError>>) -> Result<T, StoreError> {
        let timeout = self.inner.timeout;
        let call = async move {
            fut.await.map_err(|err| {
                if err.is_timeout() { StoreError::Timeout(timeout) } else { StoreError::from_source(err) }
            })
        };
        self.inner.outage.run(timeout, call).await
    }

    fn conn(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    fn key(&self, kind: &str, id: &str) -> String {
        let mut key = String::with_capacity(self.inner.tag.len() + kind.len() + 1 + id.len());
        key.push_str(&self.inner.tag);
        key.push_str(kind);
        key.push(':');
        key.push_str(id);
        key
    }

    fn opaque_key(&self, key: &str) -> String {
        self.key("o", &super::codec::hashed_key(key))
    }

    /// Runs a prepared script call, in one round trip (`EVALSHA`).
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        self.call(async move { invocation.invoke_async(&mut conn).await }).await
    }
}

/// A call of `script` on `keys`; the caller adds the arguments.
fn invocation(script: &'static Script, keys: &[&str]) -> ScriptInvocation<'static> {
    let mut invocation = script.prepare_invoke();
    for key in keys {
        invocation.key(*key);
    }
    invocation
}

fn t(time: i64) -> i64 {
    time.clamp(-MAX_TIME, MAX_TIME)
}

// The scripts. Times are whole seconds; `now` is always the caller's. A
// key's TTL is its expiry minus `now`, plus one second of slack (the
// answer is decided by `now`; the TTL only collects the garbage).

/// KEYS: token id, family, subject. ARGV: now, has id, has family, iat.
static IS_REVOKED: LazyLock<Script> = LazyLock::new(|| {
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
static REVOKE_TOKEN: LazyLock<Script> = LazyLock::new(|| {
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
static REVOKE_SUBJECT: LazyLock<Script> = LazyLock::new(|| {
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
static CREATE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
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
static ROTATE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
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
static EXTEND_FAMILY: LazyLock<Script> = LazyLock::new(|| {
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
static REVOKE_FAMILY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'rev', '1') end
return 0
",
    )
});

/// KEYS: opaque key. ARGV: record, refresh hash, retired hashes, refresh
/// expiry, now, subject, issued at.
static PUT_OPAQUE: LazyLock<Script> = LazyLock::new(|| {
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
static ROTATE_OPAQUE: LazyLock<Script> = LazyLock::new(|| {
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
static GET_OPAQUE_CHECKED: LazyLock<Script> = LazyLock::new(|| {
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
/// Exactly [`AttemptRule::apply`]; answers {allowed, count, retry_after}.
static COUNT_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
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
static TAKE_BACK_ATTEMPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local s = redis.call('HMGET', KEYS[1], 'c', 'p')
if not s[1] then return 0 end
redis.call('HSET', KEYS[1], 'c', math.max(tonumber(s[1]) - 1, 0), 'p', math.max(tonumber(s[2]) - 1, 0))
return 1
",
    )
});

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn revoke_token(&self, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
        let key = self.key("r", jti);
        let mut call = invocation(&REVOKE_TOKEN, &[&key]);
        call.arg(t(expires_at)).arg(t(now));
        self.invoke::<i64>(call).await.map(drop)
    }

    async fn revoke_subject(
        &self,
        sub: &str,
        cutoff: i64,
        keep_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = self.key("s", sub);
        let mut call = invocation(&REVOKE_SUBJECT, &[&key]);
        call.arg(t(cutoff)).arg(t(keep_until)).arg(t(now));
        self.invoke::<i64>(call).await.map(drop)
    }

    async fn is_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<bool, StoreError> {
        let subject = self.key("s", token.sub);
        // Absent parts are flagged off; the subject's key stands in for them.
        let jti = token.jti.map(|j| self.key("r", j));
        let family = token.family.map(|f| self.key("f", f));
        let keys = [jti.as_deref().unwrap_or(&subject), family.as_deref().unwrap_or(&subject), &subject];
        let flag = |on: bool| if on { "1" } else { "0" };
        let mut call = invocation(&IS_REVOKED, &keys);
        call.arg(t(now)).arg(flag(token.jti.is_some())).arg(flag(token.family.is_some())).arg(t(token.iat));
        let revoked: i64 = self.invoke(call).await?;
        Ok(revoked == 1)
    }

    async fn create_family(
        &self,
        family: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = self.key("f", family);
        let mut call = invocation(&CREATE_FAMILY, &[&key]);
        call.arg(jti).arg(t(expires_at)).arg(t(now));
        self.invoke::<i64>(call).await.map(drop)
    }

    async fn rotate_family(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        grace_secs: i64,
        expires_at: i64,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let key = self.key("f", family);
        let mut call = invocation(&ROTATE_FAMILY, &[&key]);
        call.arg(presented).arg(next).arg(t(grace_secs)).arg(t(expires_at)).arg(t(now));
        let answer: Vec<String> = self.invoke(call).await?;
        match answer.as_slice() {
            [kind] if kind == "rotated" => Ok(Rotation::Rotated),
            [kind, current] if kind == "grace" => Ok(Rotation::Grace { current: current.clone() }),
            [kind] if kind == "reused" => Ok(Rotation::Reused),
            [kind] if kind == "dead" => Ok(Rotation::Dead),
            _ => Err(corrupt("rotation answer")),
        }
    }

    async fn family_is_current(&self, family: &str, jti: &str, now: i64) -> Result<bool, StoreError> {
        let key = self.key("f", family);
        let mut conn = self.conn();
        let (current, exp, rev): (Option<String>, Option<i64>, Option<String>) = self
            .call(async move {
                redis::cmd("HMGET").arg(&key).arg("cur").arg("exp").arg("rev").query_async(&mut conn).await
            })
            .await?;
        Ok(current.as_deref() == Some(jti) && exp.is_some_and(|e| e > now) && rev.is_none())
    }

    async fn extend_family(&self, family: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let key = self.key("f", family);
        let mut call = invocation(&EXTEND_FAMILY, &[&key]);
        call.arg(t(expires_at)).arg(t(now));
        let extended: i64 = self.invoke(call).await?;
        Ok(extended == 1)
    }

    async fn revoke_family(&self, family: &str, _now: i64) -> Result<(), StoreError> {
        let key = self.key("f", family);
        self.invoke::<i64>(invocation(&REVOKE_FAMILY, &[&key])).await.map(drop)
    }

    async fn put_opaque(&self, key: &str, record: OpaqueRecord, now: i64) -> Result<(), StoreError> {
        let key = self.opaque_key(key);
        let rec = encode_record(&record)?;
        let retired = record.retired.concat();
        let mut call = invocation(&PUT_OPAQUE, &[&key]);
        call.arg(rec)
            .arg(record.refresh_hash.as_slice())
            .arg(retired)
            .arg(t(record.refresh_expires_at))
            .arg(t(now))
            .arg(&record.sub)
            .arg(t(record.issued_at));
        self.invoke::<i64>(call).await.map(drop)
    }

    async fn get_opaque(&self, key: &str, now: i64) -> Result<Option<OpaqueRecord>, StoreError> {
        let key = self.opaque_key(key);
        let mut conn = self.conn();
        type Row = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>, Option<i64>);
        let (rec, rh, retired, exp): Row = self
            .call(async move {
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("rec")
                    .arg("rh")
                    .arg("ret")
                    .arg("exp")
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        match (rec, rh, exp) {
            (Some(rec), Some(rh), Some(exp)) if exp > now => {
                decode_record(&rec, &rh, retired.as_deref().unwrap_or_default(), exp).map(Some)
            }
            _ => Ok(None),
        }
    }

    async fn get_opaque_checked(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(OpaqueRecord, bool)>, StoreError> {
        let key = self.opaque_key(key);
        let mut call = invocation(&GET_OPAQUE_CHECKED, &[&key]);
        call.arg(t(now)).arg(self.key("s", ""));
        type Row = Option<(Vec<u8>, Vec<u8>, Vec<u8>, i64, i64)>;
        let row: Row = self.invoke(call).await?;
        row.map(|(rec, rh, retired, exp, revoked)| {
            Ok((decode_record(&rec, &rh, &retired, exp)?, revoked == 1))
        })
        .transpose()
    }

    async fn rotate_opaque(
        &self,
        key: &str,
        refresh_hash: &[u8; 32],
        next: OpaqueRecord,
        grace_secs: i64,
        now: i64,
    ) -> Result<OpaqueRotation, StoreError> {
        let key = self.opaque_key(key);
        let rec = encode_record(&next)?;
        let mut call = invocation(&ROTATE_OPAQUE, &[&key]);
        call.arg(refresh_hash.as_slice())
            .arg(rec)
            .arg(next.refresh_hash.as_slice())
            .arg(t(next.refresh_expires_at))
            .arg(t(now))
            .arg(MAX_RETIRED_SECRETS)
            .arg(&next.sub)
            .arg(t(next.issued_at))
            .arg(grace_secs.max(0));
        let answer: String = self.invoke(call).await?;
        match answer.as_str() {
            "rotated" => Ok(OpaqueRotation::Rotated),
            "reused" => Ok(OpaqueRotation::Reused),
            "unknown" => Ok(OpaqueRotation::Unknown),
            _ => Err(corrupt("opaque rotation answer")),
        }
    }

    async fn delete_opaque(&self, key: &str, _now: i64) -> Result<bool, StoreError> {
        let key = self.opaque_key(key);
        let mut conn = self.conn();
        let deleted: i64 =
            self.call(async move { redis::cmd("DEL").arg(&key).query_async(&mut conn).await }).await?;
        Ok(deleted > 0)
    }

    async fn count_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<Attempt, StoreError> {
        let key = self.key("a", key);
        let mut call = invocation(&COUNT_ATTEMPT, &[&key]);
        call.arg(t(now))
            .arg(rule.free)
            .arg(t(rule.window_secs))
            .arg(t(rule.first_delay))
            .arg(t(rule.max_delay));
        let (allowed, count, retry_after): (i64, i64, i64) = self.invoke(call).await?;
        Ok(Attempt { allowed: allowed == 1, count: u32::try_from(count).unwrap_or(u32::MAX), retry_after })
    }

    async fn take_back_attempt(&self, key: &str, _rule: &AttemptRule, _now: i64) -> Result<(), StoreError> {
        let key = self.key("a", key);
        self.invoke::<i64>(invocation(&TAKE_BACK_ATTEMPT, &[&key])).await.map(drop)
    }

    async fn attempts(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        let key = self.key("a", key);
        let mut conn = self.conn();
        let (count, exp): (Option<i64>, Option<i64>) = self
            .call(async move { redis::cmd("HMGET").arg(&key).arg("c").arg("e").query_async(&mut conn).await })
            .await?;
        match (count, exp) {
            (Some(count), Some(exp)) if exp > now => Ok(u32::try_from(count).unwrap_or(u32::MAX)),
            _ => Ok(0),
        }
    }

    async fn clear_attempts(&self, key: &str, _now: i64) -> Result<(), StoreError> {
        let key = self.key("a", key);
        let mut conn = self.conn();
        self.call(async move { redis::cmd("DEL").arg(&key).query_async::<i64>(&mut conn).await })
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_services::RedisServer;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
    }

    /// A fresh prefix, and a timeout a loaded two-core CI machine cannot
    /// miss (the 250 ms default is for production, not for a machine
    /// hashing passwords for a dozen tests at once).
    fn prefixed() -> RedisOptions {
        RedisOptions::default()
            .prefix(format!("test-{}", uuid::Uuid::new_v4().simple()))
            .timeout(Duration::from_secs(5))
    }

    #[test]
    fn passes_the_store_contract() {
        let Some(redis) = RedisServer::shared() else { return };
        rt().block_on(async {
            let store = RedisStore::connect_with(redis.url(), prefixed()).await.expect("connect");
            crate::store::contract::run(store).await;
        });
    }

    /// Every key of a real session: its name, its TTL and its value.
    async fn dump(url: &str, prefix: &str) -> Vec<(String, i64, Vec<u8>)> {
        let client = redis::Client::open(url).expect("url");
        let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{{{prefix}}}:*")).query_async(&mut conn).await.expect("keys");
        let mut out = Vec::new();
        for key in keys {
            let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.expect("ttl");
            let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.expect("type");
            let value: Vec<u8> = if kind == "hash" {
                let fields: Vec<Vec<u8>> =
                    redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await.expect("hgetall");
                fields.concat()
            } else {
                redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("get")
            };
            out.push((key, ttl, value));
        }
        out
    }

    fn contains(haystack: &[u8], needle: &str) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn keys_are_tagged_expire_and_hold_no_secret() {
        let Some(redis) = RedisServer::shared() else { return };
        rt().block_on(async {
            let options = prefixed();
            let prefix = options.prefix_str().to_owned();
            let store = RedisStore::connect_with(redis.url(), options).await.expect("connect");
            let authority = crate::Authority::builder(crate::tests::keys())
                .users(crate::tests::users())
                .store(store)
                .build();
            let pair = authority.login("alice", "alice-pw").await.expect("login");
            let refresh = pair.refresh_token.clone().expect("a refresh token");
            let next = authority.refresh(&refresh).await.expect("refresh");
            authority.revoke(&next.access_claims).await.expect("logout");
            assert!(authority.login("alice", "wrong").await.is_err());
            let principal = crate::Principal::new("u-alice", "alice");
            let opaque = authority.issue_opaque(&principal).await.expect("opaque");

            let keys = dump(redis.url(), &prefix).await;
            let kinds: Vec<&str> =
                keys.iter().map(|(k, ..)| &k[prefix.len() + 3..prefix.len() + 4]).collect();
            for kind in ["r", "f", "o", "a"] {
                assert!(kinds.contains(&kind), "a `{kind}` key was written: {kinds:?}");
            }
            for (key, ttl, value) in &keys {
                assert!(key.starts_with(&format!("{{{prefix}}}:")), "{key} carries the prefix as hash tag");
                assert!(*ttl > 0, "{key} has a TTL ({ttl})");
                for secret in
                    [&pair.access_token, &refresh, &next.access_token, &opaque.token, &opaque.refresh]
                {
                    assert!(!contains(value, secret), "{key} holds a token in clear");
                }
                assert!(!contains(key.as_bytes(), &opaque.key), "the opaque key is stored hashed");
                assert!(!contains(key.as_bytes(), "alice"), "{key}: usernames are hashed in throttle keys");
            }
        });
    }

    #[test]
    fn an_outage_fails_closed_and_ends_by_itself() {
        let Some(mut redis) = RedisServer::own() else { return };
        rt().block_on(async {
            let options = prefixed().timeout(Duration::from_millis(200));
            let store = RedisStore::connect_with(redis.url(), options).await.expect("connect");
            let token = TokenRef { jti: Some("j"), family: Some("f"), sub: "s", iat: 0 };
            let now = crate::time::now();
            store.revoke_token("j", now + 600, now).await.expect("revoke");
            redis.kill();
            for _ in 0..3 {
                let err = store.is_revoked(&token, now).await.expect_err("no answer without Redis");
                assert!(matches!(err, StoreError::Timeout(_) | StoreError::Source(_)), "{err:?}");
            }
            assert!(store.inner.outage.is_down(), "the outage is noticed");
            let err = store
                .count_attempt(
                    "k",
                    &AttemptRule { free: 1, window_secs: 60, first_delay: 1, max_delay: 1 },
                    now,
                )
                .await;
            assert!(err.is_err(), "a counter that cannot be recorded is an error, not a pass");
            redis.restart();
            // The manager reconnects on the next calls; no new store is made.
            let mut answer = store.is_revoked(&token, now).await;
            for _ in 0..50 {
                if answer.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                answer = store.is_revoked(&token, now).await;
            }
            // The restarted server is empty (no persistence): the revocation is gone with it.
            assert!(!answer.expect("Redis is back"), "an empty server knows no revocation");
            assert!(!store.inner.outage.is_down(), "the end of the outage is noticed");
            store.revoke_token("j", now + 600, now).await.expect("writes work again");
            assert!(store.is_revoked(&token, now).await.expect("reads work again"));
        });
    }
}
