//! Server-side state that stateless tokens cannot carry.
//!
//! A [`Store`] keeps revoked token ids (until the token would have expired),
//! subject-wide revocations, refresh families (with an atomic
//! compare-and-rotate), opaque key/token credentials (hashes only) and
//! login-attempt counters ([`crate::AttemptRule`]). Every method is one
//! atomic step, so a Redis implementation can make each a single script or
//! transaction. [`MemoryStore`] is the embedded default; the contract every
//! store passes is `auth_core::store_tests::run` (feature `store-tests`).
//!
//! **Time** is passed in, as `now` (seconds since the epoch), to every
//! method: the verifier's clock is the only clock, so a store on another
//! machine can never disagree with it about what has expired. A backend
//! may also give its keys a TTL (it should, so that nothing outlives the
//! longest token), but must decide by `now`.
//!
//! **One trait, not several.** The concerns could be split into capability
//! traits (revocations, families, opaque credentials, counters), but they
//! do not split cleanly: [`Store::is_revoked`], on the path of every
//! request, checks a token id, its family and its subject in one atomic
//! round trip, which a backend can only do if it owns all three. A
//! third-party backend implements one trait and runs one contract, and an
//! [`Authority`](crate::Authority) needs one `Arc<dyn Store>`, not four
//! that might disagree about which server they talk to.

mod attempt;
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
mod codec;
#[cfg(any(test, feature = "store-tests"))]
pub(crate) mod contract;
mod family;
mod memory;
#[cfg(any(feature = "redis", feature = "postgres", feature = "sqlite"))]
pub(crate) mod mirror;
mod outage;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql;
#[cfg(all(test, feature = "metrics"))]
pub(crate) mod test_recorder;
#[cfg(any(test, feature = "store-tests"))]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) mod test_services;

use std::sync::Arc;

pub use memory::{DEFAULT_MAX_ATTEMPT_COUNTERS, MemoryStore};
#[cfg(any(feature = "redis", feature = "postgres"))]
pub use mirror::MIRROR_LEASE;
pub use outage::OutageLog;
#[cfg(feature = "redis")]
pub use redis::{DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisOptions, RedisStore};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use sql::{DEFAULT_SQL_PREFIX, DEFAULT_SQL_TIMEOUT, SqlOptions, SqlStore};

use subtle::ConstantTimeEq;

pub use attempt::{Attempt, AttemptRule, AttemptState};

/// A backend failure. Its text goes to the log, never to a client, which
/// gets 503.
///
/// ```
/// let err = auth_core::StoreError::Backend("connection refused".into());
/// assert_eq!(err.to_string(), "store backend failed: connection refused");
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let err = auth_core::StoreError::from_source(io);
/// assert!(std::error::Error::source(&err).is_some());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or answered an error, said in words.
    #[error("store backend failed: {0}")]
    Backend(String),
    /// The backend failed with this error (kept as the source).
    #[error("store backend failed: {0}")]
    Source(#[source] Arc<dyn std::error::Error + Send + Sync + 'static>),
    /// The backend did not answer within the configured time.
    #[error("store backend did not answer within {0:?}")]
    Timeout(std::time::Duration),
}

impl StoreError {
    /// Wraps a backend's own error, keeping it as the source.
    pub fn from_source(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Source(Arc::new(err))
    }
}

/// What the store needs of a token to tell whether it was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRef<'a> {
    /// The token's `jti`.
    pub jti: Option<&'a str>,
    /// The refresh family the token belongs to.
    pub family: Option<&'a str>,
    /// The subject.
    pub sub: &'a str,
    /// The token's `iat` (tokens issued at or before a subject-wide
    /// revocation are revoked).
    pub iat: i64,
}

impl<'a> TokenRef<'a> {
    /// What the store needs of a token with these claims.
    ///
    /// ```
    /// use auth_core::{Claims, TokenRef};
    /// let claims = Claims { sub: "1".into(), jti: Some("j".into()), iat: Some(5), ..Default::default() };
    /// let token = TokenRef::of(&claims);
    /// assert_eq!((token.jti, token.family, token.sub, token.iat), (Some("j"), None, "1", 5));
    /// ```
    pub fn of(claims: &'a crate::claims::Claims) -> Self {
        Self {
            jti: claims.jti.as_deref(),
            family: claims.fam.as_deref(),
            sub: &claims.sub,
            iat: claims.iat.unwrap_or(i64::MIN),
        }
    }
}

/// The outcome of presenting a refresh token to [`Store::rotate_family`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was the current one; the family now expects the next one.
    Rotated,
    /// The presented token was rotated a moment ago (within the grace
    /// window, once): the caller may answer with the family's current token id.
    Grace {
        /// The family's current refresh token id.
        current: String,
    },
    /// The presented token had been rotated before: the family is revoked now.
    Reused,
    /// The family is unknown, expired or revoked.
    Dead,
}

/// An opaque key/token credential: only hashes of the secrets are kept.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueRecord {
    /// The principal's id.
    pub sub: String,
    /// The principal's username.
    pub username: String,
    /// The principal's roles.
    pub roles: Vec<String>,
    /// SHA-256 of the access secret.
    pub token_hash: [u8; 32],
    /// SHA-256 of the refresh secret.
    pub refresh_hash: [u8; 32],
    /// When the access secret stops working (seconds since the epoch).
    pub expires_at: i64,
    /// When the record is forgotten (the refresh secret's expiry).
    pub refresh_expires_at: i64,
    /// When the session began (the login), for the session cap.
    pub auth_time: i64,
    /// When these secrets were issued: a subject-wide revocation covers
    /// records issued at or before its cutoff.
    pub issued_at: i64,
    /// SHA-256 of the refresh secrets rotated away, oldest first (at most
    /// [`MAX_RETIRED_SECRETS`]): presenting one again is reuse.
    pub retired: Vec<[u8; 32]>,
}

/// How many rotated-away refresh secrets an [`OpaqueRecord`] remembers.
pub const MAX_RETIRED_SECRETS: usize = 16;

impl OpaqueRecord {
    /// What a store keeps when this record is rotated to `next`: `next`,
    /// with this record's refresh hash added to the retired ones.
    ///
    /// ```
    /// # let rec = auth_core::OpaqueRecord { sub: "1".into(), username: "a".into(), roles: vec![], token_hash: [1; 32],
    /// #     refresh_hash: [2; 32], expires_at: 9, refresh_expires_at: 9, auth_time: 0, issued_at: 0, retired: vec![] };
    /// let next = auth_core::OpaqueRecord { refresh_hash: [3; 32], ..rec.clone() };
    /// let kept = rec.succeeded_by(next);
    /// assert!(kept.is_retired(&[2; 32]) && !kept.is_retired(&[3; 32]));
    /// ```
    pub fn succeeded_by(&self, mut next: OpaqueRecord) -> OpaqueRecord {
        next.retired.clone_from(&self.retired);
        next.retired.push(self.refresh_hash);
        let excess = next.retired.len().saturating_sub(MAX_RETIRED_SECRETS);
        next.retired.drain(..excess);
        next
    }

    /// Whether `refresh_hash` was this session's refresh secret once
    /// (compared in constant time).
    pub fn is_retired(&self, refresh_hash: &[u8; 32]) -> bool {
        self.retired.iter().fold(false, |found, old| found | bool::from(old.ct_eq(refresh_hash)))
    }

    /// Whether presenting `refresh_hash` at `now` is a retry within the
    /// grace: it is the secret rotated away last (constant time), and the
    /// current secrets were issued at most `grace_secs` ago. A client
    /// whose rotation answer was lost retries with the secret it had; the
    /// record then rotates once more (so a second retry is reuse).
    ///
    /// ```
    /// # let rec = auth_core::OpaqueRecord { sub: "1".into(), username: "a".into(), roles: vec![], token_hash: [1; 32],
    /// #     refresh_hash: [2; 32], expires_at: 9, refresh_expires_at: 99, auth_time: 0, issued_at: 0, retired: vec![] };
    /// let rotated = rec.succeeded_by(auth_core::OpaqueRecord { refresh_hash: [3; 32], issued_at: 10, ..rec.clone() });
    /// assert!(rotated.in_grace(&[2; 32], 10, 15));
    /// assert!(!rotated.in_grace(&[2; 32], 10, 21), "too late");
    /// assert!(!rotated.in_grace(&[2; 32], 0, 10), "no grace");
    /// ```
    pub fn in_grace(&self, refresh_hash: &[u8; 32], grace_secs: i64, now: i64) -> bool {
        let last = self.retired.last().is_some_and(|last| bool::from(last.ct_eq(refresh_hash)));
        last && grace_secs > 0 && now.saturating_sub(self.issued_at) <= grace_secs
    }

    /// Whether `refresh_hash` is the current refresh secret (constant time).
    pub fn is_current(&self, refresh_hash: &[u8; 32]) -> bool {
        bool::from(self.refresh_hash.ct_eq(refresh_hash))
    }
}

/// The outcome of presenting a refresh secret to [`Store::rotate_opaque`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpaqueRotation {
    /// It was the current secret: the record now holds the next pair.
    Rotated,
    /// It was rotated away before: the record is deleted (the pair dies).
    Reused,
    /// No live record, or a secret it never had.
    Unknown,
}

impl std::fmt::Debug for OpaqueRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueRecord")
            .field("sub", &self.sub)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Server-side state for an [`Authority`](crate::Authority). All times are
/// seconds since the epoch; `now` is passed in so that every backend and
/// every test agrees on the clock.
///
/// ```
/// # tokio_test();
/// # fn tokio_test() { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use auth_core::{MemoryStore, Store, TokenRef};
/// let store = MemoryStore::new();
/// store.revoke_token("abc", 2_000_000_000, 1_000).await.unwrap();
/// let token = TokenRef { jti: Some("abc"), family: None, sub: "u1", iat: 1_000 };
/// assert!(store.is_revoked(&token, 1_500).await.unwrap());
/// # }) }
/// ```
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Revokes one token id until `expires_at`, after which it is forgotten.
    async fn revoke_token(&self, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError>;

    /// Revokes every token of `sub` issued at or before `cutoff`; the mark is
    /// kept until `keep_until` (the longest lifetime of any token).
    async fn revoke_subject(
        &self,
        sub: &str,
        cutoff: i64,
        keep_until: i64,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Whether the token, its family or its subject was revoked.
    async fn is_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<bool, StoreError>;

    /// [`is_revoked`](Store::is_revoked) answered at once, without I/O and
    /// without a future, by a store that holds its state in this process
    /// (or a current copy of it); `None` (the default) means "ask
    /// `is_revoked`". What lets a protected request be checked without
    /// allocating: a store that returns `Some` must answer what
    /// `is_revoked` would, or (a network store with a revocation mirror)
    /// what it answered at most the mirror's propagation delay ago. Only
    /// protected requests ask this (and the dialects' verify routes that
    /// authenticate a token the same way); a refresh, an extension and an
    /// introspection ask `is_revoked`, which must ask the store itself.
    fn is_revoked_now(&self, token: &TokenRef<'_>, now: i64) -> Option<Result<bool, StoreError>> {
        let _ = (token, now);
        None
    }

    /// Starts a refresh family whose current token id is `jti`.
    async fn create_family(
        &self,
        family: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError>;

    /// Atomically: if `presented` is the family's current token id, make
    /// `next` current and answer [`Rotation::Rotated`]; of N concurrent
    /// calls with the same `presented`, exactly one gets `Rotated`. On
    /// rotation the family lives at least until `expires_at` (the new
    /// refresh token's expiry).
    #[allow(clippy::too_many_arguments)]
    async fn rotate_family(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        grace_secs: i64,
        expires_at: i64,
        now: i64,
    ) -> Result<Rotation, StoreError>;

    /// Whether `jti` is the current token of a live family (used when
    /// rotation is off).
    async fn family_is_current(&self, family: &str, jti: &str, now: i64) -> Result<bool, StoreError>;

    /// Atomically: if the family is live (known, not revoked, not
    /// expired), keeps it at least until `expires_at` and answers `true`;
    /// otherwise answers `false`. Used when a token is extended or
    /// refreshed without rotation, so that the family outlives every token
    /// issued in it (revoking it must reach them all).
    async fn extend_family(&self, family: &str, expires_at: i64, now: i64) -> Result<bool, StoreError>;

    /// Revokes a family: none of its tokens work any more.
    async fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError>;

    /// Stores an opaque credential under `key`, replacing any other.
    async fn put_opaque(&self, key: &str, record: OpaqueRecord, now: i64) -> Result<(), StoreError>;

    /// The opaque credential under `key`, if live.
    async fn get_opaque(&self, key: &str, now: i64) -> Result<Option<OpaqueRecord>, StoreError>;

    /// The live opaque credential under `key`, and whether a subject-wide
    /// revocation covers it (its `issued_at` at or before the subject's
    /// cut-off): [`get_opaque`](Store::get_opaque) and
    /// [`is_revoked`](Store::is_revoked) together, so that a backend can
    /// check a `Basic key:token` request in one round trip. The default
    /// makes the two calls.
    async fn get_opaque_checked(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(OpaqueRecord, bool)>, StoreError> {
        let Some(record) = self.get_opaque(key, now).await? else { return Ok(None) };
        let token = TokenRef { jti: None, family: None, sub: &record.sub, iat: record.issued_at };
        let revoked = self.is_revoked(&token, now).await?;
        Ok(Some((record, revoked)))
    }

    /// [`get_opaque_checked`](Store::get_opaque_checked) for a protected
    /// request: a store with a revocation mirror may answer it from memory
    /// (within the mirror's propagation delay); a refresh asks
    /// `get_opaque_checked`, which must ask the store itself. The default
    /// is `get_opaque_checked`.
    async fn get_opaque_for_request(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(OpaqueRecord, bool)>, StoreError> {
        self.get_opaque_checked(key, now).await
    }

    /// Atomically: if `refresh_hash` is the live record's current refresh
    /// hash, or a retry within the grace
    /// ([`OpaqueRecord::in_grace`] with `grace_secs`), store
    /// `record.succeeded_by(next)` and answer [`OpaqueRotation::Rotated`]
    /// (of N concurrent calls exactly one does); if it is one of its
    /// retired hashes otherwise, delete the record and answer
    /// [`OpaqueRotation::Reused`]; otherwise [`OpaqueRotation::Unknown`].
    /// Hashes are compared in constant time.
    async fn rotate_opaque(
        &self,
        key: &str,
        refresh_hash: &[u8; 32],
        next: OpaqueRecord,
        grace_secs: i64,
        now: i64,
    ) -> Result<OpaqueRotation, StoreError>;

    /// Deletes the credential under `key`; answers whether there was one.
    async fn delete_opaque(&self, key: &str, now: i64) -> Result<bool, StoreError>;

    /// Atomically counts one login attempt on the counter `key` under
    /// `rule` and answers whether it may go on: exactly
    /// [`AttemptRule::apply`] on the stored state, stored back, with the
    /// counter kept until the state's `expires_at`. Of N concurrent calls,
    /// every one is counted and no more are let through than the rule allows.
    async fn count_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<Attempt, StoreError>;

    /// Atomically takes one let-through attempt back from `key`
    /// ([`AttemptRule::take_back`]); nothing if the counter is gone.
    async fn take_back_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<(), StoreError>;

    /// Attempts counted on `key` in its current window (for tests and metrics).
    async fn attempts(&self, key: &str, now: i64) -> Result<u32, StoreError>;

    /// Forgets the counter `key` (after a successful login).
    async fn clear_attempts(&self, key: &str, now: i64) -> Result<(), StoreError>;
}
