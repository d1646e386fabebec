//! Connecting a [`RedisStore`], and the calls every operation makes:
//! bounded by the timeout, reported to the outage log, one round trip each.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script, ScriptInvocation};

use super::{Inner, RedisOptions, RedisStore};
use crate::store::codec::hashed_key;
use crate::store::{OutageLog, StoreError};

/// Times sent to Lua are clamped to this (Lua numbers are doubles: exact
/// to 2^53; 2^50 seconds is 35 million years).
const MAX_TIME: i64 = 1 << 50;

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
    pub(super) async fn call<T>(
        &self,
        fut: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        let timeout = self.inner.timeout;
        let call = async move {
            fut.await.map_err(|err| {
                if err.is_timeout() { StoreError::Timeout(timeout) } else { StoreError::from_source(err) }
            })
        };
        self.inner.outage.run(timeout, call).await
    }

    pub(super) fn conn(&self) -> ConnectionManager {
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

    /// Runs a prepared script call, in one round trip (`EVALSHA`).
    pub(super) async fn invoke<T: redis::FromRedisValue>(
        &self,
        invocation: ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        self.call(async move { invocation.invoke_async(&mut conn).await }).await
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
