//! [`RedisOptions`]: the key prefix and the timeout of a
//! [`RedisStore`](super::RedisStore), and their defaults.

use std::time::Duration;

use crate::store::StoreError;

/// How long a call to Redis may take before it fails with
/// [`StoreError::Timeout`], unless [`RedisOptions::timeout`] says otherwise.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// The key prefix unless [`RedisOptions::prefix`] says otherwise.
pub const DEFAULT_REDIS_PREFIX: &str = "auth";

/// How a [`RedisStore`](super::RedisStore) names its keys and how long it waits.
///
/// ```
/// use std::time::Duration;
/// let options = auth_core::RedisOptions::default().prefix("shop-auth").timeout(Duration::from_millis(100));
/// assert_eq!(options.prefix_str(), "shop-auth");
/// ```
#[derive(Debug, Clone)]
pub struct RedisOptions {
    pub(super) prefix: String,
    pub(super) timeout: Duration,
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

    pub(super) fn check(&self) -> Result<(), StoreError> {
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
