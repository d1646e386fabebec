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
//! runs unchanged on a single `redis-server` and on Redis Cluster. One slot
//! means **one shard holds a store's whole state** (a cluster gives it
//! availability, not spread); the state is small (ids, hashes, counters),
//! and services that want it spread over several shards give each store
//! its own prefix. Every key gets a TTL (computed from the
//! caller's `now`, so clock skew between machines cannot cut it short):
//! nothing outlives the token, family or counter it is about, and every
//! answer is still decided by comparing with `now`, never by whether Redis
//! has expired the key yet.
//!
//! Where it connects (one server, TLS, Redis Cluster) and how TLS is
//! checked: [`RedisStore`]'s documentation (this module is private).
//!
//! **Revocation events.** Every script that revokes (a token id, a
//! family, a subject) or changes an opaque credential also, in the same
//! atomic step, takes the next number of the store's sequence
//! (`{PREFIX}:seq`, with the epoch naming its life), adds the id to the
//! kind's index of live revocations (`{PREFIX}:ir`, `:if`, `:is`, sorted
//! by end) and publishes `EPOCH SEQ KIND A B ID` on `{PREFIX}:events`.
//! Always, whether this instance mirrors or not, so that the instances
//! that do ([`RedisOptions::mirror`]) hear about every change.
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
//! is back, the next request works, with no restart. The cluster
//! connection follows `MOVED`/`ASK` and refreshes its slot map by itself.

mod conn;
mod connection;
mod endpoints;
mod mirror;
#[cfg(test)]
mod mirror_tests;
mod options;
mod scripts;
mod store;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use self::conn::Conn;
pub use options::{DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisOptions};

use super::OutageLog;

/// A [`Store`](crate::Store) on Redis (one server, over TLS or not, or
/// Redis Cluster through one hash slot), shared by every instance of a
/// service. Cheap to clone.
///
/// **Where.** [`connect_with`](Self::connect_with) takes `redis://HOST:PORT/DB`
/// (one server), `rediss://...` (one server over TLS),
/// `redis-cluster://HOST:PORT,HOST:PORT,...` (Redis Cluster from its seed
/// nodes) or `rediss-cluster://...` (Redis Cluster over TLS), each with an
/// optional `USER:PASSWORD@`. The tests run against Redis 7 (one server,
/// one server over TLS, a three-master cluster and a three-master TLS
/// cluster). Valkey speaks the same protocol and Lua (and the `redis`
/// crate also takes `valkey://` and `valkeys://`), but is not in the tests.
/// Redis Sentinel is **not supported**: there is no Sentinel URL; point the
/// store at the current master (or a proxy that follows it) instead.
///
/// **TLS.** With a TLS URL the server's certificate and host name are
/// always verified (there is no way to turn that off: `#insecure` is
/// refused), against the platform's trusted roots (the operating system's
/// store, read by `rustls-native-certs`; `SSL_CERT_FILE` overrides it), or,
/// with [`RedisOptions::ca_file`] / [`RedisOptions::ca_pem`], against that
/// CA only. A CA with a plaintext URL is a configuration error, never a
/// plaintext connection. TLS is rustls; unless the application installed a
/// rustls `CryptoProvider` as the process default, the store installs
/// ring's when it makes its first TLS client.
///
/// **One slot.** Every key of a store carries its prefix as a hash tag
/// (`{PREFIX}:KIND:ID`), so on Redis Cluster every key of one store is in
/// one hash slot, on **one shard**: the cluster gives the store
/// availability and failover, not spread. The state is small; stores
/// with different [prefixes](RedisOptions::prefix) land in different
/// slots, which is how several services spread over the shards.
///
/// **Revocations in memory.** With [`RedisOptions::mirror`] each instance
/// keeps the live revocations and the opaque credentials it has seen in
/// memory, kept current through pub/sub, and a protected request makes no
/// round trip while that copy is provably complete; otherwise the check
/// goes to Redis as without it. How it stays correct, and what it costs,
/// is on [`RedisOptions::mirror`].
///
/// On one server the client is the `redis` crate's tokio
/// [`ConnectionManager`](redis::aio::ConnectionManager): one multiplexed
/// connection that pipelines every concurrent call and reconnects by
/// itself. On Redis Cluster it is the crate's async cluster connection
/// (one multiplexed connection per node, made at the first call). Not
/// `fred` (a second, larger client with its own runtime model for what
/// here is a handful of scripts) and not a pool crate (`bb8`/`deadpool`):
/// a multiplexed connection already serves concurrent requests without a
/// connection per request, and the manager gives the reconnect-on-failure
/// this store needs. Its `Debug` shows the prefix, the timeout and
/// whether it is a cluster, never the URL (it may carry a password).
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
    /// Every call goes through this.
    conn: Conn,
    /// RESP2 clients for dedicated pub/sub connections
    /// ([`RedisStore::open_pubsub`]): the server, or the cluster's seed nodes.
    pubsub: Vec<redis::Client>,
    /// `{prefix}:`
    tag: String,
    timeout: Duration,
    outage: OutageLog,
    /// Calls made ([`RedisStore::round_trips`]).
    calls: std::sync::atomic::AtomicU64,
    /// The revocation mirror ([`RedisOptions::mirror`]).
    mirror: Option<Arc<crate::store::mirror::Mirror>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the URL: it may carry a password.
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.tag)
            .field("timeout", &self.inner.timeout)
            .field("cluster", &self.inner.conn.is_cluster())
            .finish_non_exhaustive()
    }
}
