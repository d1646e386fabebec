//! [`SqlStore`]: server-side state in the PostgreSQL or SQLite database a
//! service already has (features `postgres`, `sqlite`; `sqlx`, tokio).
//!
//! The store borrows the application's own pool (`PgPool`, `SqlitePool`)
//! and opens no connection of its own. [`SqlStore::postgres`] and
//! [`SqlStore::sqlite`] create the schema (five tables under a
//! configurable prefix, `auth_` by default, each with an index on its
//! expiry; `CREATE ... IF NOT EXISTS` in one transaction, serialised
//! between instances by an advisory lock on PostgreSQL and a write lock on
//! SQLite), and start the background sweep.
//!
//! **Atomicity.** Single-row changes are one statement (an upsert, or a
//! conditional `UPDATE ... WHERE`); read-modify-write operations
//! ([`Store::rotate_family`](crate::Store::rotate_family), [`Store::rotate_opaque`](crate::Store::rotate_opaque),
//! [`Store::count_attempt`](crate::Store::count_attempt)) run in one transaction that locks the row
//! first (`SELECT ... FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on
//! SQLite) and then apply the same rules, in Rust, as every other store:
//! of 50 concurrent rotations from 50 connections exactly one wins.
//! [`Store::is_revoked`](crate::Store::is_revoked), on every request, is one query over token id,
//! family and subject together.
//!
//! **Expiry.** Every read compares with the caller's `now`, so an expired
//! row never answers as live; a background task deletes expired rows in
//! bounded batches ([`SqlOptions::sweep_every`], [`SqlOptions::sweep_batch`])
//! and stops when the store is dropped.
//!
//! **Secrets.** Token ids, family ids and subjects are identifiers;
//! opaque keys are stored as their SHA-256, opaque secrets only as hashes.
//!
//! **Bounded.** Login-throttle counters are trimmed to
//! [`SqlOptions::max_attempt_counters`] on every sweep, those that expire
//! soonest first.
//!
//! **TLS (PostgreSQL).** In production connect with `sslmode=verify-full`
//! (and `sslrootcert=PATH` when the server's CA is not in the system
//! roots), e.g.
//! `postgres://auth@db.internal/app?sslmode=verify-full&sslrootcert=/etc/auth/db-ca.pem`,
//! or with sqlx's `PgConnectOptions`:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! # #[cfg(feature = "postgres")] {
//! use auth_core::{SqlOptions, SqlStore};
//! use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
//! let options = PgConnectOptions::new()
//!     .host("db.internal") // the name the server's certificate carries
//!     .username("auth")
//!     .database("app")
//!     .ssl_mode(PgSslMode::VerifyFull)
//!     .ssl_root_cert("/etc/auth/db-ca.pem"); // a private CA
//! let pool = PgPoolOptions::new().max_connections(10).connect_with(options).await?;
//! let store = SqlStore::postgres(pool, SqlOptions::default()).await?;
//! # let _ = store; }
//! # Ok(()) }
//! ```
//!
//! `verify-full` checks the server's chain against those roots and that
//! its certificate names the host connected to, and never falls back to
//! plaintext. sqlx's default, `prefer`, verifies no certificate and
//! silently falls back to plaintext when the server offers no TLS: a
//! machine in the middle then reads every revocation and refresh-family
//! id. `require` encrypts but still verifies nothing; `verify-ca` checks
//! the chain but not the name. Tested against a TLS-only server with a
//! certificate from a private CA given as `sslrootcert`: the store
//! contract passes over `verify-full`; a certificate from another CA is
//! refused (`invalid peer certificate: UnknownIssuer`), as is an address
//! the certificate does not name; `verify-full` against a plaintext
//! server fails (`server does not support TLS`) where `prefer` carries on
//! in plaintext; and a plaintext client (`sslmode=disable`) is refused by
//! a server whose `pg_hba.conf` has only `hostssl` lines (SQLSTATE 28000,
//! `no pg_hba.conf entry for host ..., no encryption`).
//!
//! **Failure.** Every call is bounded ([`SqlOptions::timeout`], 500 ms by
//! default) and reported through the same [`OutageLog`] as the Redis
//! store: a database that cannot be reached means 503 with `Retry-After`,
//! one warning per outage, and recovery with the pool's next connection.

/// Runs `$body` with `$pool` bound to whichever pool the store has: the
/// same code, compiled once per database.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.inner.pool {
            #[cfg(feature = "postgres")]
            Backend::Postgres($pool) => $body,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite($pool) => $body,
        }
    };
}

mod binds;
mod call;
mod mirror;
#[cfg(test)]
mod mirror_tests;
mod options;
mod queries;
mod setup;
mod store;
mod sweep;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use options::{DEFAULT_SQL_PREFIX, DEFAULT_SQL_TIMEOUT, SqlOptions};

use super::OutageLog;
use queries::Queries;

/// A [`Store`](crate::Store) in PostgreSQL or SQLite, on the application's own `sqlx`
/// pool. Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// # #[cfg(feature = "sqlite")] {
/// use auth_core::{Authority, JwtKey, KeySet, SqlOptions, SqlStore};
/// let options = sqlx::sqlite::SqliteConnectOptions::new().filename("auth.db").create_if_missing(true);
/// let pool = sqlx::SqlitePool::connect_with(options).await?;
/// let store = SqlStore::sqlite(pool, SqlOptions::default()).await?;
/// let key = JwtKey::hs256("k1", b"a secret of at least thirty-two bytes!")?;
/// let authority = Authority::builder(KeySet::new(key)?).store(store).build();
/// # let _ = authority; }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqlStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Backend,
    sql: Queries,
    timeout: Duration,
    outage: OutageLog,
    /// Statements sent (for [`SqlStore::queries`]).
    queries: std::sync::atomic::AtomicU64,
    /// The bound the sweep trims the attempt counters to.
    max_attempts: u32,
    /// The revocation mirror ([`SqlOptions::mirror`]).
    mirror: Option<Arc<crate::store::mirror::Mirror>>,
    /// Writes that failed under a write-through mirror (each reloads it later).
    #[cfg(feature = "sqlite")]
    write_failures: std::sync::atomic::AtomicU64,
    /// SQLite: the lock on the database file held for the store's life
    /// (exclusive with the mirror, shared without).
    _file_lock: Option<std::fs::File>,
}

#[derive(Clone)]
enum Backend {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.inner.pool {
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
        };
        f.debug_struct("SqlStore")
            .field("backend", &backend)
            .field("tables", &self.inner.sql.tables)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}
