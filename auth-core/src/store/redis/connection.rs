//! Connecting a [`RedisStore`], and the calls every operation makes:
//! bounded by the timeout, reported to the outage log, one round trip each.

use std::sync::Arc;

use redis::{RedisError, Script, ScriptInvocation};

use super::conn::Conn;
use super::endpoints::Endpoints;
use super::{Inner, RedisOptions, RedisStore};
use crate::store::codec::hashed_key;
use crate::store::{OutageLog, StoreError};

/// Times sent to Lua are clamped to this (Lua numbers are doubles: exact
/// to 2^53; 2^50 seconds is 35 million years).
const MAX_TIME: i64 = 1 << 50;

impl RedisStore {
    /// Connects to `url` with the default options, and checks the server
    /// answers. See [`connect_with`](Self::connect_with) for the URLs.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects with `options` and checks the server answers (`PING`; on
    /// a cluster, every node), so a wrong URL, a refused password or a
    /// certificate that does not verify fails at start-up, not at the
    /// first request.
    ///
    /// `url` is one of:
    /// - `redis://[USER:PASSWORD@]HOST:PORT/DB` (also `valkey://`): one
    ///   server, plaintext;
    /// - `rediss://[USER:PASSWORD@]HOST:PORT/DB` (also `valkeys://`): one
    ///   server over TLS, its certificate checked against the platform's
    ///   roots, or against [`RedisOptions::ca_file`] / [`RedisOptions::ca_pem`];
    /// - `redis-cluster://[USER:PASSWORD@]HOST:PORT,HOST:PORT,...`: Redis
    ///   Cluster from these seed nodes (no database: a cluster has only 0);
    /// - `rediss-cluster://...`: the same over TLS.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), auth_core::StoreError> {
    /// use auth_core::{RedisOptions, RedisStore};
    /// let tls = RedisOptions::default().ca_file("/etc/redis/tls/ca.crt");
    /// let store = RedisStore::connect_with("rediss://redis.internal:6380/0", tls).await?;
    /// let cluster = RedisStore::connect_with("redis-cluster://10.0.0.1:7000,10.0.0.2:7000", RedisOptions::default()).await?;
    /// # let _ = (store, cluster); Ok(()) }
    /// ```
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let trust = if options.has_ca() { "the configured CA" } else { "the platform's trusted roots" };
        let store = Self::lazy(url, options)?;
        let mut conn = store.conn();
        store
            .call("ping", async move { redis::cmd("PING").query_async::<String>(&mut conn).await })
            .await
            .map_err(|err| match err {
                StoreError::Source(source) if source.to_string().contains("invalid peer certificate") => {
                    StoreError::Backend(format!(
                        "the Redis server's TLS certificate did not verify against {trust}: {source} \
                         (a server whose certificate comes from a private CA needs that CA: \
                         RedisOptions::ca_file, or the demo's --store-ca)"
                    ))
                }
                other => other,
            })?;
        Ok(store)
    }

    /// A store that connects at its first call: the application starts
    /// even while Redis is down (its requests answer 503 until Redis is
    /// up; on a cluster, each call after a failed one tries again).
    /// Fails only for a malformed URL or options (among them a CA with a
    /// plaintext URL, or a CA file that cannot be read).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_core::{RedisOptions, RedisStore};
    /// // Nothing listens there; the store is made anyway.
    /// let store = RedisStore::lazy("redis-cluster://127.0.0.1:1,127.0.0.1:2", RedisOptions::default());
    /// assert!(store.is_ok());
    /// let plain = RedisStore::lazy("redis://127.0.0.1:1/0", RedisOptions::default().ca_pem(b"-----BEGIN CERTIFICATE-----".to_vec()));
    /// assert!(plain.unwrap_err().to_string().contains("needs a TLS URL"));
    /// # });
    /// ```
    pub fn lazy(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        options.check()?;
        let Endpoints { conn, pubsub } = Endpoints::new(url, &options)?;
        let store = Self {
            inner: Arc::new(Inner {
                conn,
                pubsub,
                tag: format!("{{{}}}:", options.prefix),
                timeout: options.timeout,
                outage: OutageLog::new("redis"),
                calls: Default::default(),
                mirror: options.mirror.then(|| Arc::new(crate::store::mirror::Mirror::new())),
            }),
        };
        store.follow_events()?;
        Ok(store)
    }

    /// A dedicated RESP2 pub/sub connection with the store's address,
    /// credentials and TLS settings, each attempt bounded by the timeout.
    /// On a cluster it goes to the first seed node (in the URL's order)
    /// that answers: a plain `PUBLISH` on Redis Cluster is broadcast to
    /// every node, so a subscriber on any node hears every message.
    pub(super) async fn open_pubsub(&self) -> Result<redis::aio::PubSub, StoreError> {
        let timeout = self.inner.timeout;
        let mut failure = StoreError::Backend("no Redis node to subscribe on".into());
        for client in &self.inner.pubsub {
            match tokio::time::timeout(timeout, client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => return Ok(pubsub),
                Ok(Err(err)) => failure = StoreError::from_source(err),
                Err(_) => failure = StoreError::Timeout(timeout),
            }
        }
        Err(failure)
    }

    /// Runs one call under the timeout, reporting to the outage log and
    /// recording it as `operation` (one of
    /// [`STORE_OPERATIONS`](crate::metrics::STORE_OPERATIONS)).
    pub(super) async fn call<T>(
        &self,
        operation: &'static str,
        fut: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        self.inner.calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let timeout = self.inner.timeout;
        let call = async move {
            fut.await.map_err(|err| {
                if err.is_timeout() { StoreError::Timeout(timeout) } else { StoreError::from_source(err) }
            })
        };
        self.inner.outage.run_op(operation, timeout, call).await
    }

    /// How many calls (round trips, a script's first load aside) this
    /// store has made, for metrics and tests: a protected request's check
    /// is one, or none while a mirror answers.
    pub fn round_trips(&self) -> u64 {
        self.inner.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn conn(&self) -> Conn {
        self.inner.conn.clone()
    }

    pub(super) fn key(&self, kind: &str, id: &str) -> String {
        let mut key = String::with_capacity(self.inner.tag.len() + kind.len() + 1 + id.len());
        key.push_str(&self.inner.tag);
        key.push_str(kind);
        key.push(':');
        key.push_str(id);
        key
    }

    pub(super) fn opaque_key(&self, key: &str) -> String {
        self.key("o", &hashed_key(key))
    }

    /// Runs a prepared script call, in one round trip (`EVALSHA`), as
    /// `operation` (see [`call`](Self::call)).
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        operation: &'static str,
        invocation: ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        self.call(operation, async move { invocation.invoke_async(&mut conn).await }).await
    }
}

/// A call of `script` on `keys`; the caller adds the arguments.
pub(super) fn invocation(script: &'static Script, keys: &[&str]) -> ScriptInvocation<'static> {
    let mut invocation = script.prepare_invoke();
    for key in keys {
        invocation.key(*key);
    }
    invocation
}

pub(super) fn t(time: i64) -> i64 {
    time.clamp(-MAX_TIME, MAX_TIME)
}
