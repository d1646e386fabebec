//! [`SqlOptions`]: the table prefix, the timeout and the sweep of a
//! [`SqlStore`](super::SqlStore), and their defaults.

use std::time::Duration;

use crate::store::StoreError;

/// How long one call to the database may take unless [`SqlOptions::timeout`] says otherwise.
pub const DEFAULT_SQL_TIMEOUT: Duration = Duration::from_millis(500);

/// The table prefix unless [`SqlOptions::prefix`] says otherwise.
pub const DEFAULT_SQL_PREFIX: &str = "auth_";

/// Table names, their prefix, the timeout and the sweep of a [`SqlStore`](super::SqlStore).
///
/// ```
/// use std::time::Duration;
/// let options = auth_core::SqlOptions::default().prefix("shop_auth_").sweep_every(Duration::from_secs(30));
/// assert_eq!(options.prefix_str(), "shop_auth_");
/// ```
#[derive(Debug, Clone)]
pub struct SqlOptions {
    pub(super) prefix: String,
    pub(super) timeout: Duration,
    pub(super) sweep_every: Duration,
    pub(super) sweep_batch: u32,
    pub(super) max_attempt_counters: u32,
    pub(super) mirror: bool,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_SQL_PREFIX.to_owned(),
            timeout: DEFAULT_SQL_TIMEOUT,
            sweep_every: Duration::from_secs(60),
            sweep_batch: 500,
            max_attempt_counters: 100_000,
            mirror: false,
        }
    }
}

impl SqlOptions {
    /// The table prefix (default `auth_`): ASCII letters, digits and `_`,
    /// at most 32. Instances sharing a prefix share their state.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one call may take (default [`DEFAULT_SQL_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How often the background sweep runs (default one minute); the first
    /// sweep runs one period after the store starts.
    pub fn sweep_every(mut self, every: Duration) -> Self {
        self.sweep_every = every;
        self
    }

    /// At most this many expired rows per table per sweep (default 500).
    pub fn sweep_batch(mut self, rows: u32) -> Self {
        self.sweep_batch = rows;
        self
    }

    /// The most login-throttle counters kept (default 100,000): every
    /// sweep deletes those past the bound that expire soonest (the fresh
    /// counters of a flood go first; the addresses users logged in from,
    /// kept for weeks, stay).
    ///
    /// ```
    /// let options = auth_core::SqlOptions::default().max_attempt_counters(50_000);
    /// # let _ = options;
    /// ```
    pub fn max_attempt_counters(mut self, max: u32) -> Self {
        self.max_attempt_counters = max.max(1);
        self
    }

    /// The revocation mirror (default off): this instance keeps the live
    /// revocations, and the opaque records it has seen, in memory, so that
    /// a protected request runs no query. Writes still go to the database
    /// first, in the same statements.
    ///
    /// **PostgreSQL**: kept current by `LISTEN`/`NOTIFY`. Each revocation
    /// also takes the next number of a sequence and notifies it in its own
    /// transaction. The mirror answers only while it knows it is complete:
    /// after `LISTEN` and a snapshot, with every notification numbered one
    /// more than the last, and within [`MIRROR_LEASE`](crate::MIRROR_LEASE)
    /// of the last probe (published by the database every 200 ms with the
    /// number it has reached) that came back. A lost notification, a
    /// dropped connection, a number that went back or a lapsed lease sends
    /// every check to the database (503 while it is down) until the
    /// instance has listened again and reloaded. A revocation made on one
    /// instance is refused on the others when its notification arrives
    /// (milliseconds), on the instance that made it at once. The mirror
    /// uses two connections of its own (the `LISTEN`, and its probes and
    /// snapshots), opened from the pool's options (TLS included), never one
    /// of the pool's.
    ///
    /// **SQLite**: write-through. The live revocations are loaded at start;
    /// from then on only this process's own writes change them. The store
    /// locks `PATH.tokenauth.lock` beside the database file while it lives
    /// (exclusively with the mirror, shared without), so a mirrored store
    /// fails to start beside any other store of this crate on the same
    /// file, and no other starts beside it.
    ///
    /// ```
    /// let options = auth_core::SqlOptions::default().mirror(true);
    /// # let _ = options;
    /// ```
    pub fn mirror(mut self, on: bool) -> Self {
        self.mirror = on;
        self
    }

    /// The configured prefix.
    pub fn prefix_str(&self) -> &str {
        &self.prefix
    }

    pub(super) fn check(&self) -> Result<(), StoreError> {
        let valid = self.prefix.len() <= 32
            && self.prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !self.prefix.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(StoreError::Backend(
                "the SQL table prefix must be at most 32 ASCII letters, digits or `_`, not starting with a digit"
                    .into(),
            ));
        }
        if self.timeout.is_zero() || self.sweep_every.is_zero() || self.sweep_batch == 0 {
            return Err(StoreError::Backend(
                "the SQL timeout, sweep interval and batch must be more than zero".into(),
            ));
        }
        Ok(())
    }
}
