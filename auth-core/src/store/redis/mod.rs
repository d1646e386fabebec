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
//! script that touches several keys ([`Store::is_revoked`](crate::Store::is_revoked): token id,
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
//! [`StoreError`](crate::StoreError), which the authority turns into 503 with `Retry-After`
//! in the dialect's envelope; an outage is logged once (`warn`), its end
//! once (`info`). The connection manager reconnects by itself: when Redis
//! is back, the next request works, with no restart.

mod connection;
mod options;
mod scripts;
mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;

pub use options::{DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisOptions};

use super::OutageLog;

/// A [`Store`](crate::Store) on Redis (or Valkey, or Redis Cluster through one hash
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
