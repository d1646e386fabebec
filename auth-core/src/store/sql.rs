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
//! ([`Store::rotate_family`], [`Store::rotate_opaque`],
//! [`Store::count_attempt`]) run in one transaction that locks the row
//! first (`SELECT ... FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on
//! SQLite) and then apply the same rules, in Rust, as every other store:
//! of 50 concurrent rotations from 50 connections exactly one wins.
//! [`Store::is_revoked`], on every request, is one query over token id,
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
//! roots), e.g. `postgres://auth@db.internal/app?sslmode=verify-full`, or
//! `PgConnectOptions::ssl_mode(PgSslMode::VerifyFull)`. sqlx's default,
//! `prefer`, verifies no certificate and silently falls back to plaintext
//! when the server offers no TLS: a machine in the middle then reads
//! every revocation and refresh-family id. `require` encrypts but still
//! verifies nothing.
//!
//! **Failure.** Every call is bounded ([`SqlOptions::timeout`], 500 ms by
//! default) and reported through the same [`OutageLog`] as the Redis
//! store: a database that cannot be reached means 503 with `Retry-After`,
//! one warning per outage, and recovery with the pool's next connection.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::codec::{decode_record, encode_record, hashed_key};
use super::family::Family;
use super::{Attempt, AttemptRule, AttemptState};
use super::{OpaqueRecord, OpaqueRotation, OutageLog, Rotation, Store, StoreError, TokenRef};

/// How long one call to the database may take unless [`SqlOptions::timeout`] says otherwise.
pub const DEFAULT_SQL_TIMEOUT: Duration = Duration::from_millis(500);

/// The table prefix unless [`SqlOptions::prefix`] says otherwise.
pub const DEFAULT_SQL_PREFIX: &str = "auth_";

/// Table names, their prefix, the timeout and the sweep of a [`SqlStore`].
///
/// ```
/// use std::time::Duration;
/// let options = auth_core::SqlOptions::default().prefix("shop_auth_").sweep_every(Duration::from_secs(30));
/// assert_eq!(options.prefix_str(), "shop_auth_");
/// ```
#[derive(Debug, Clone)]
pub struct SqlOptions {
    prefix: String,
    timeout: Duration,
    sweep_every: Duration,
    sweep_batch: u32,
    max_attempt_counters: u32,
}

impl Default for SqlOptions {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_SQL_PREFIX.to_owned(),
            timeout: DEFAULT_SQL_TIMEOUT,
            sweep_every: Duration::from_secs(60),
            sweep_batch: 500,
            max_attempt_counters: 100_000,
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

    /// How often the background sweep runs (default one minute).
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

    /// The configured prefix.
    pub fn prefix_str(&self) -> &str {
        &self.prefix
    }

    fn check(&self) -> Result<(), StoreError> {
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

/// A [`Store`] in PostgreSQL or SQLite, on the application's own `sqlx`
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

/// A query built at start-up (the table names are configured), shared.
type Sql = Arc<str>;

/// Every statement, with the configured table names, for one database.
struct Queries {
    tables: String,
    begin: &'static str,
    /// Serialises migrations between instances (PostgreSQL).
    migration_lock: Option<Sql>,
    schema: Sql,
    revoke_token: Sql,
    revoke_subject: Sql,
    is_revoked: Sql,
    create_family: Sql,
    lock_family: Sql,
    save_family: Sql,
    family_is_current: Sql,
    extend_family: Sql,
    revoke_family: Sql,
    put_opaque: Sql,
    get_opaque: Sql,
    get_opaque_checked: Sql,
    lock_opaque: Sql,
    delete_opaque: Sql,
    touch_attempt: Sql,
    lock_attempt: Sql,
    save_attempt: Sql,
    take_back_attempt: Sql,
    attempts: Sql,
    clear_attempts: Sql,
    trim_attempts: Sql,
    sweep: Vec<Sql>,
}

const TABLES: [&str; 5] = ["revoked", "subjects", "families", "opaque", "attempts"];

impl Queries {
    fn new(prefix: &str, postgres: bool) -> Self {
        let t = |name: &str| format!("{prefix}{name}");
        let (revoked, subjects, families, opaque, attempts) =
            (t("revoked"), t("subjects"), t("families"), t("opaque"), t("attempts"));
        let (bytes, for_update) = if postgres { ("BYTEA", " FOR UPDATE") } else { ("BLOB", "") };
        let sql = |s: String| -> Sql { s.into() };
        // (PostgreSQL says "already exists, skipping" at every start otherwise)
        let quiet = if postgres { "SET LOCAL client_min_messages = warning;\n" } else { "" };
        let mut schema = format!(
            "{quiet}CREATE TABLE IF NOT EXISTS {revoked} (id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {subjects} (id TEXT PRIMARY KEY, cutoff BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {families} (id TEXT PRIMARY KEY, cur TEXT NOT NULL, prev TEXT, prev_at BIGINT NOT NULL,
  prev_used BIGINT NOT NULL, revoked BIGINT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {opaque} (id TEXT PRIMARY KEY, record {bytes} NOT NULL, refresh_hash {bytes} NOT NULL,
  retired {bytes} NOT NULL, expires_at BIGINT NOT NULL, sub TEXT NOT NULL, issued_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS {attempts} (id TEXT PRIMARY KEY, count BIGINT NOT NULL, passed BIGINT NOT NULL,
  next_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
"
        );
        for table in TABLES {
            schema.push_str(&format!(
                "CREATE INDEX IF NOT EXISTS {prefix}{table}_expiry ON {prefix}{table} (expires_at);\n"
            ));
        }
        Self {
            tables: format!("{prefix}*"),
            begin: if postgres { "BEGIN" } else { "BEGIN IMMEDIATE" },
            migration_lock: postgres
                .then(|| sql(format!("SELECT pg_advisory_xact_lock({})", advisory_key(prefix)))),
            schema: sql(schema),
            revoke_token: sql(format!(
                "INSERT INTO {revoked} (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET
                 expires_at = CASE WHEN {revoked}.expires_at > excluded.expires_at
                              THEN {revoked}.expires_at ELSE excluded.expires_at END"
            )),
            // a live mark keeps the later cut-off and the later end; an expired one is replaced
            revoke_subject: sql(format!(
                "INSERT INTO {subjects} (id, cutoff, expires_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET
                 cutoff = CASE WHEN {subjects}.expires_at > $4 AND {subjects}.cutoff > excluded.cutoff
                          THEN {subjects}.cutoff ELSE excluded.cutoff END,
                 expires_at = CASE WHEN {subjects}.expires_at > $4 AND {subjects}.expires_at > excluded.expires_at
                              THEN {subjects}.expires_at ELSE excluded.expires_at END"
            )),
            is_revoked: sql(format!(
                "SELECT CAST(CASE WHEN
                   EXISTS (SELECT 1 FROM {revoked} WHERE id = $1 AND expires_at > $4)
                   OR EXISTS (SELECT 1 FROM {families} WHERE id = $2 AND revoked = 1)
                   OR EXISTS (SELECT 1 FROM {subjects} WHERE id = $3 AND cutoff >= $5 AND expires_at > $4)
                 THEN 1 ELSE 0 END AS BIGINT)"
            )),
            create_family: sql(format!(
                "INSERT INTO {families} (id, cur, prev, prev_at, prev_used, revoked, expires_at)
                 VALUES ($1, $2, NULL, 0, 0, 0, $3) ON CONFLICT (id) DO UPDATE SET
                 cur = excluded.cur, prev = NULL, prev_at = 0, prev_used = 0, revoked = 0,
                 expires_at = excluded.expires_at"
            )),
            lock_family: sql(format!(
                "SELECT cur, prev, prev_at, prev_used, revoked, expires_at FROM {families} WHERE id = $1{for_update}"
            )),
            save_family: sql(format!(
                "UPDATE {families} SET cur = $2, prev = $3, prev_at = $4, prev_used = $5, revoked = $6, expires_at = $7
                 WHERE id = $1"
            )),
            family_is_current: sql(format!(
                "SELECT CAST(COUNT(*) AS BIGINT) FROM {families}
                 WHERE id = $1 AND cur = $2 AND revoked = 0 AND expires_at > $3"
            )),
            extend_family: sql(format!(
                "UPDATE {families} SET expires_at = CASE WHEN expires_at > $2 THEN expires_at ELSE $2 END
                 WHERE id = $1 AND revoked = 0 AND expires_at > $3"
            )),
            revoke_family: sql(format!("UPDATE {families} SET revoked = 1 WHERE id = $1")),
            put_opaque: sql(format!(
                "INSERT INTO {opaque} (id, record, refresh_hash, retired, expires_at, sub, issued_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET record = excluded.record, refresh_hash = excluded.refresh_hash,
                 retired = excluded.retired, expires_at = excluded.expires_at, sub = excluded.sub,
                 issued_at = excluded.issued_at"
            )),
            get_opaque: sql(format!(
                "SELECT record, refresh_hash, retired, expires_at FROM {opaque} WHERE id = $1 AND expires_at > $2"
            )),
            get_opaque_checked: sql(format!(
                "SELECT o.record, o.refresh_hash, o.retired, o.expires_at, CAST(CASE WHEN EXISTS
                   (SELECT 1 FROM {subjects} s WHERE s.id = o.sub AND s.cutoff >= o.issued_at AND s.expires_at > $2)
                 THEN 1 ELSE 0 END AS BIGINT)
                 FROM {opaque} o WHERE o.id = $1 AND o.expires_at > $2"
            )),
            lock_opaque: sql(format!(
                "SELECT record, refresh_hash, retired, expires_at FROM {opaque}
                 WHERE id = $1 AND expires_at > $2{for_update}"
            )),
            delete_opaque: sql(format!("DELETE FROM {opaque} WHERE id = $1")),
            touch_attempt: sql(format!(
                "INSERT INTO {attempts} (id, count, passed, next_at, expires_at) VALUES ($1, 0, 0, 0, 0)
                 ON CONFLICT (id) DO NOTHING"
            )),
            lock_attempt: sql(format!(
                "SELECT count, passed, next_at, expires_at FROM {attempts} WHERE id = $1{for_update}"
            )),
            save_attempt: sql(format!(
                "UPDATE {attempts} SET count = $2, passed = $3, next_at = $4, expires_at = $5 WHERE id = $1"
            )),
            take_back_attempt: sql(format!(
                "UPDATE {attempts} SET count = CASE WHEN count > 0 THEN count - 1 ELSE 0 END,
                 passed = CASE WHEN passed > 0 THEN passed - 1 ELSE 0 END WHERE id = $1"
            )),
            attempts: sql(format!("SELECT count FROM {attempts} WHERE id = $1 AND expires_at > $2")),
            clear_attempts: sql(format!("DELETE FROM {attempts} WHERE id = $1")),
            trim_attempts: sql(format!(
                "DELETE FROM {attempts} WHERE id IN (SELECT id FROM {attempts}
                 ORDER BY CASE WHEN expires_at > $1 THEN 1 ELSE 0 END DESC, passed DESC, expires_at DESC, id
                 LIMIT $2 OFFSET $3)"
            )),
            sweep: TABLES
                .iter()
                .map(|table| {
                    sql(format!(
                        "DELETE FROM {prefix}{table} WHERE id IN
                         (SELECT id FROM {prefix}{table} WHERE expires_at <= $1 LIMIT $2)"
                    ))
                })
                .collect(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut => {
                StoreError::Backend("no database connection available in time".into())
            }
            other => StoreError::from_source(other),
        }
    }
}

fn to_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl SqlStore {
    /// A store on the application's PostgreSQL pool: creates the schema
    /// if needed and starts the sweep (call it inside a tokio runtime).
    #[cfg(feature = "postgres")]
    pub async fn postgres(pool: sqlx::PgPool, options: SqlOptions) -> Result<Self, StoreError> {
        options.check()?;
        let sql = Queries::new(&options.prefix, true);
        Self::start(Backend::Postgres(pool), sql, options).await
    }

    /// A store on the application's SQLite pool: creates the schema if
    /// needed and starts the sweep (call it inside a tokio runtime).
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(pool: sqlx::SqlitePool, options: SqlOptions) -> Result<Self, StoreError> {
        options.check()?;
        let sql = Queries::new(&options.prefix, false);
        Self::start(Backend::Sqlite(pool), sql, options).await
    }

    async fn start(pool: Backend, sql: Queries, options: SqlOptions) -> Result<Self, StoreError> {
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                sql,
                timeout: options.timeout,
                outage: OutageLog::new("sql"),
                queries: Default::default(),
                max_attempts: options.max_attempt_counters,
            }),
        };
        store.migrate().await?;
        tokio::spawn(sweep_loop(Arc::downgrade(&store.inner), options.sweep_every, options.sweep_batch));
        Ok(store)
    }

    /// Creates the tables and indexes if they do not exist (idempotent;
    /// safe when several instances start at once).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let sql = &self.inner.sql;
        self.call(async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin()).await?;
                if let Some(lock) = &sql.migration_lock {
                    sqlx::query(self.q(lock)).execute(&mut *tx).await?;
                }
                sqlx::raw_sql(self.q(&sql.schema)).execute(&mut *tx).await?;
                Ok(tx.commit().await?)
            })
        })
        .await
    }

    /// Deletes up to `batch` expired rows from each table; answers how
    /// many went. The background sweep calls this; so can a test.
    pub async fn sweep(&self, now: i64, batch: u32) -> Result<u64, StoreError> {
        let mut removed = 0;
        let mut failed = None;
        for query in &self.inner.sql.sweep {
            let swept = self
                .call(async {
                    on_pool!(self, pool => sqlx::query(self.q(query))
                        .bind(now)
                        .bind(i64::from(batch))
                        .execute(pool)
                        .await
                        .map(|r| r.rows_affected()))
                    .map_err(StoreError::from)
                })
                .await;
            match swept {
                Ok(n) => removed += n,
                // the other tables and the trim still run
                Err(err) => failed = Some(err),
            }
        }
        removed += self.trim_attempts(now, batch).await?;
        match failed {
            Some(err) => Err(err),
            None => Ok(removed),
        }
    }

    /// Deletes the attempt counters past the bound
    /// ([`SqlOptions::max_attempt_counters`]), in batches of `batch` rows:
    /// the short-lived ones before the addresses users logged in from
    /// (kept for weeks), those that let the fewest attempts through first
    /// (a flood's fresh counters before those holding an attacker back),
    /// soonest expiry first.
    async fn trim_attempts(&self, now: i64, batch: u32) -> Result<u64, StoreError> {
        let (sql, keep, batch) =
            (&self.inner.sql, i64::from(self.inner.max_attempts), i64::from(batch.max(1)));
        let mut removed = 0;
        // Each statement deletes (up to a batch of) the rows ranked past the
        // bound: a statement run twice at once, by two instances, deletes
        // the same rows, never twice as many.
        loop {
            let done = self
                .execute(&sql.trim_attempts, |b| b.int(now.saturating_add(86_400)).int(batch).int(keep))
                .await?;
            removed += done;
            if done < batch.unsigned_abs() {
                return Ok(removed);
            }
        }
    }

    /// How many statements this store has sent (a transaction's `BEGIN`
    /// and `COMMIT` included), for metrics: a protected request's
    /// revocation check is one.
    pub fn queries(&self) -> u64 {
        self.inner.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A statement about to be sent, counted. Only the validated prefix is
    /// spliced into the text; every value is a bind parameter.
    fn q(&self, sql: &Sql) -> sqlx::AssertSqlSafe<Sql> {
        self.inner.queries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        sqlx::AssertSqlSafe(sql.clone())
    }

    /// A transaction about to begin: its `BEGIN` and its end, counted.
    fn begin(&self) -> &'static str {
        self.inner.queries.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        self.inner.sql.begin
    }

    async fn call<T>(&self, fut: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        self.inner.outage.run(self.inner.timeout, fut).await
    }

    async fn execute(&self, query: &Sql, binds: impl FnOnce(Binder) -> Binder) -> Result<u64, StoreError> {
        let binder = binds(Binder::default());
        self.call(async {
            let done = on_pool!(self, pool => binder.apply(sqlx::query(self.q(query))).execute(pool).await.map(|r| r.rows_affected()));
            Ok(done?)
        })
        .await
    }
}

/// A stable advisory-lock key for a prefix (PostgreSQL wants a bigint).
fn advisory_key(prefix: &str) -> i64 {
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("tokenauth:{prefix}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

async fn sweep_loop(inner: Weak<Inner>, every: Duration, batch: u32) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        // A failed sweep is retried at the next tick; the outage log has it.
        let _ = SqlStore { inner }.sweep(crate::time::now(), batch).await;
    }
}

/// The bind values of one statement, in order, for either database.
#[derive(Default)]
struct Binder(Vec<Value>);

enum Value {
    Int(i64),
    Text(Option<String>),
    Bytes(Vec<u8>),
}

impl Binder {
    fn int(mut self, v: i64) -> Self {
        self.0.push(Value::Int(v));
        self
    }
    fn text(mut self, v: &str) -> Self {
        self.0.push(Value::Text(Some(v.to_owned())));
        self
    }
    fn opt_text(mut self, v: Option<&str>) -> Self {
        self.0.push(Value::Text(v.map(str::to_owned)));
        self
    }
    fn bytes(mut self, v: Vec<u8>) -> Self {
        self.0.push(Value::Bytes(v));
        self
    }

    fn apply<'q, DB>(
        self,
        mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
    where
        DB: sqlx::Database,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        Vec<u8>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        for value in self.0 {
            query = match value {
                Value::Int(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Bytes(v) => query.bind(v),
            };
        }
        query
    }
}

type FamilyRow = (String, Option<String>, i64, i64, i64, i64);
type OpaqueRow = (Vec<u8>, Vec<u8>, Vec<u8>, i64);
type AttemptRow = (i64, i64, i64, i64);

fn family_of(row: FamilyRow) -> Family {
    let (current, prev, prev_at, prev_used, revoked, expires_at) = row;
    Family {
        current,
        previous: prev.map(|p| (p, prev_at, prev_used == 1)),
        revoked: revoked == 1,
        expires_at,
    }
}

fn family_binds(id: &str, fam: &Family) -> Binder {
    let (prev, prev_at, used) = match &fam.previous {
        Some((p, at, used)) => (Some(p.as_str()), *at, i64::from(*used)),
        None => (None, 0, 0),
    };
    Binder::default()
        .text(id)
        .text(&fam.current)
        .opt_text(prev)
        .int(prev_at)
        .int(used)
        .int(i64::from(fam.revoked))
        .int(fam.expires_at)
}

fn record_of(row: OpaqueRow) -> Result<OpaqueRecord, StoreError> {
    let (record, refresh_hash, retired, exp) = row;
    decode_record(&record, &refresh_hash, &retired, exp)
}

fn opaque_binds(id: &str, record: &OpaqueRecord) -> Result<Binder, StoreError> {
    Ok(Binder::default()
        .text(id)
        .bytes(encode_record(record)?)
        .bytes(record.refresh_hash.to_vec())
        .bytes(record.retired.concat())
        .int(record.refresh_expires_at)
        .text(&record.sub)
        .int(record.issued_at))
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn revoke_token(&self, jti: &str, expires_at: i64, _now: i64) -> Result<(), StoreError> {
        self.execute(&self.inner.sql.revoke_token, |b| b.text(jti).int(expires_at)).await.map(drop)
    }

    async fn revoke_subject(
        &self,
        sub: &str,
        cutoff: i64,
        keep_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let binds = |b: Binder| b.text(sub).int(cutoff).int(keep_until).int(now);
        self.execute(&self.inner.sql.revoke_subject, binds).await.map(drop)
    }

    async fn is_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<bool, StoreError> {
        let query = &self.inner.sql.is_revoked;
        let revoked: i64 = self
            .call(async {
                on_pool!(self, pool => sqlx::query_scalar(self.q(query))
                    .bind(token.jti)
                    .bind(token.family)
                    .bind(token.sub)
                    .bind(now)
                    .bind(token.iat)
                    .fetch_one(pool)
                    .await)
                .map_err(StoreError::from)
            })
            .await?;
        Ok(revoked == 1)
    }

    async fn create_family(
        &self,
        family: &str,
        jti: &str,
        expires_at: i64,
        _now: i64,
    ) -> Result<(), StoreError> {
        self.execute(&self.inner.sql.create_family, |b| b.text(family).text(jti).int(expires_at))
            .await
            .map(drop)
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
        let sql = &self.inner.sql;
        self.call(async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin()).await?;
                let row: Option<FamilyRow> =
                    sqlx::query_as(self.q(&sql.lock_family)).bind(family).fetch_optional(&mut *tx).await?;
                let Some(mut fam) = row.map(family_of) else { return Ok(Rotation::Dead) };
                let rotation = fam.rotate(presented, next, grace_secs, expires_at, now);
                if rotation != Rotation::Dead {
                    family_binds(family, &fam).apply(sqlx::query(self.q(&sql.save_family))).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(rotation)
            })
        })
        .await
    }

    async fn family_is_current(&self, family: &str, jti: &str, now: i64) -> Result<bool, StoreError> {
        let query = &self.inner.sql.family_is_current;
        let count: i64 = self
            .call(async {
                on_pool!(self, pool => sqlx::query_scalar(self.q(query)).bind(family).bind(jti).bind(now).fetch_one(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        Ok(count == 1)
    }

    async fn extend_family(&self, family: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let changed =
            self.execute(&self.inner.sql.extend_family, |b| b.text(family).int(expires_at).int(now)).await?;
        Ok(changed == 1)
    }

    async fn revoke_family(&self, family: &str, _now: i64) -> Result<(), StoreError> {
        self.execute(&self.inner.sql.revoke_family, |b| b.text(family)).await.map(drop)
    }

    async fn put_opaque(&self, key: &str, record: OpaqueRecord, _now: i64) -> Result<(), StoreError> {
        let binds = opaque_binds(&hashed_key(key), &record)?;
        self.execute(&self.inner.sql.put_opaque, |_| binds).await.map(drop)
    }

    async fn get_opaque(&self, key: &str, now: i64) -> Result<Option<OpaqueRecord>, StoreError> {
        let (id, query) = (hashed_key(key), &self.inner.sql.get_opaque);
        let row: Option<OpaqueRow> = self
            .call(async {
                on_pool!(self, pool => sqlx::query_as(self.q(query)).bind(&id).bind(now).fetch_optional(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        row.map(record_of).transpose()
    }

    async fn get_opaque_checked(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<(OpaqueRecord, bool)>, StoreError> {
        let (id, query) = (hashed_key(key), &self.inner.sql.get_opaque_checked);
        let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>, i64, i64)> = self
            .call(async {
                on_pool!(self, pool => sqlx::query_as(self.q(query)).bind(&id).bind(now).fetch_optional(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        row.map(|(record, refresh_hash, retired, exp, revoked)| {
            Ok((record_of((record, refresh_hash, retired, exp))?, revoked == 1))
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
        let (id, sql) = (hashed_key(key), &self.inner.sql);
        self.call(async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin()).await?;
                let row: Option<OpaqueRow> =
                    sqlx::query_as(self.q(&sql.lock_opaque)).bind(&id).bind(now).fetch_optional(&mut *tx).await?;
                let Some(record) = row.map(record_of).transpose()? else { return Ok(OpaqueRotation::Unknown) };
                let answer = if record.is_current(refresh_hash) || record.in_grace(refresh_hash, grace_secs, now) {
                    let binds = opaque_binds(&id, &record.succeeded_by(next))?;
                    binds.apply(sqlx::query(self.q(&sql.put_opaque))).execute(&mut *tx).await?;
                    OpaqueRotation::Rotated
                } else if record.is_retired(refresh_hash) {
                    sqlx::query(self.q(&sql.delete_opaque)).bind(&id).execute(&mut *tx).await?;
                    OpaqueRotation::Reused
                } else {
                    OpaqueRotation::Unknown
                };
                tx.commit().await?;
                Ok(answer)
            })
        })
        .await
    }

    async fn delete_opaque(&self, key: &str, _now: i64) -> Result<bool, StoreError> {
        let id = hashed_key(key);
        Ok(self.execute(&self.inner.sql.delete_opaque, |b| b.text(&id)).await? > 0)
    }

    async fn count_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<Attempt, StoreError> {
        let sql = &self.inner.sql;
        self.call(async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_with(self.begin()).await?;
                sqlx::query(self.q(&sql.touch_attempt)).bind(key).execute(&mut *tx).await?;
                let (count, passed, next_at, expires_at): AttemptRow =
                    sqlx::query_as(self.q(&sql.lock_attempt)).bind(key).fetch_one(&mut *tx).await?;
                let old = AttemptState { count: to_u32(count), passed: to_u32(passed), next_at, expires_at };
                let (state, attempt) = rule.apply(Some(old), now);
                sqlx::query(self.q(&sql.save_attempt))
                    .bind(key)
                    .bind(i64::from(state.count))
                    .bind(i64::from(state.passed))
                    .bind(state.next_at)
                    .bind(state.expires_at)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(attempt)
            })
        })
        .await
    }

    async fn take_back_attempt(&self, key: &str, _rule: &AttemptRule, _now: i64) -> Result<(), StoreError> {
        self.execute(&self.inner.sql.take_back_attempt, |b| b.text(key)).await.map(drop)
    }

    async fn attempts(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        let query = &self.inner.sql.attempts;
        let count: Option<i64> = self
            .call(async {
                on_pool!(self, pool => sqlx::query_scalar(self.q(query)).bind(key).bind(now).fetch_optional(pool).await)
                    .map_err(StoreError::from)
            })
            .await?;
        Ok(count.map_or(0, to_u32))
    }

    async fn clear_attempts(&self, key: &str, _now: i64) -> Result<(), StoreError> {
        self.execute(&self.inner.sql.clear_attempts, |b| b.text(key)).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
    }

    fn prefixed() -> SqlOptions {
        SqlOptions::default().prefix(format!("t{:016x}_", rand::random::<u64>()))
    }

    /// A SQLite file of its own, removed when dropped.
    #[cfg(feature = "sqlite")]
    struct TempDb(std::path::PathBuf);

    #[cfg(feature = "sqlite")]
    impl TempDb {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!("tokenauth-{}.db", uuid::Uuid::new_v4().simple())))
        }

        async fn pool(&self) -> sqlx::SqlitePool {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&self.0)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .expect("sqlite")
        }
    }

    #[cfg(feature = "sqlite")]
    impl Drop for TempDb {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_passes_the_store_contract() {
        let db = TempDb::new();
        rt().block_on(async {
            // 50 concurrent writers queue for SQLite's one write lock: on a
            // loaded test machine the last waits longer than the default
            // timeout (the contract is about atomicity, not latency)
            let options = prefixed().timeout(Duration::from_secs(5));
            let store = SqlStore::sqlite(db.pool().await, options).await.expect("store");
            crate::store::contract::run(store).await;
        });
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_in_memory_passes_the_store_contract() {
        // One connection: every connection to `:memory:` is a database of its own.
        rt().block_on(async {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect("sqlite::memory:")
                .await
                .expect("sqlite");
            let store =
                SqlStore::sqlite(pool, prefixed().timeout(Duration::from_secs(5))).await.expect("store");
            crate::store::contract::run(store).await;
        });
    }

    #[cfg(feature = "postgres")]
    async fn pg_pool(url: &str) -> sqlx::PgPool {
        sqlx::postgres::PgPoolOptions::new().max_connections(10).connect(url).await.expect("postgres")
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_passes_the_store_contract() {
        let Some(url) = crate::store::test_services::postgres_url() else { return };
        rt().block_on(async {
            let store = SqlStore::postgres(pg_pool(&url).await, prefixed()).await.expect("store");
            crate::store::contract::run(store).await;
        });
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn the_sweep_deletes_expired_rows_in_bounded_batches_and_migrations_repeat() {
        let db = TempDb::new();
        rt().block_on(async {
            let store = SqlStore::sqlite(db.pool().await, prefixed()).await.expect("store");
            store.migrate().await.expect("a second migration changes nothing");
            let now = crate::time::now();
            for i in 0..7 {
                store.revoke_token(&format!("old{i}"), now + 10, now).await.expect("revoke");
            }
            store.revoke_token("live", now + 1000, now).await.expect("revoke");
            store.create_family("fam", "a", now + 10, now).await.expect("family");
            assert_eq!(store.sweep(now, 5).await.expect("sweep"), 0, "nothing has expired yet");
            // every table is swept, each by at most the batch
            assert_eq!(store.sweep(now + 10, 5).await.expect("sweep"), 5 + 1);
            assert_eq!(store.sweep(now + 10, 5).await.expect("sweep"), 2);
            assert_eq!(store.sweep(now + 10, 5).await.expect("sweep"), 0);
            let live = TokenRef { jti: Some("live"), family: None, sub: "s", iat: 0 };
            assert!(store.is_revoked(&live, now + 10).await.expect("read"), "live rows stay");
        });
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn the_sweep_trims_the_attempt_counters_to_their_bound_soonest_expiry_first() {
        let db = TempDb::new();
        rt().block_on(async {
            let store =
                SqlStore::sqlite(db.pool().await, prefixed().max_attempt_counters(10)).await.expect("store");
            trims_to_the_bound(store).await;
        });
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_trims_the_attempt_counters_to_their_bound() {
        let Some(url) = crate::store::test_services::postgres_url() else { return };
        rt().block_on(async {
            let options = prefixed().max_attempt_counters(10);
            let store = SqlStore::postgres(pg_pool(&url).await, options).await.expect("store");
            trims_to_the_bound(store).await;
        });
    }

    /// 41 counters on a store bounded to 10: the sweep keeps the remembered
    /// address and 9 of the flood.
    async fn trims_to_the_bound(store: SqlStore) {
        let now = crate::time::now();
        // a user's remembered address: kept for weeks
        let weeks = AttemptRule { free: u32::MAX, window_secs: 30 * 86_400, first_delay: 0, max_delay: 0 };
        store.count_attempt("remembered", &weeks, now).await.expect("count");
        // a flood of fresh counters
        let fresh = AttemptRule { free: 5, window_secs: 900, first_delay: 900, max_delay: 900 };
        for i in 0..40 {
            store.count_attempt(&format!("flood-{i}"), &fresh, now).await.expect("count");
        }
        // (the background sweep may have trimmed some already)
        store.sweep(now, 500).await.expect("sweep");
        assert_eq!(store.sweep(now, 500).await.expect("sweep"), 0, "nothing left past the bound");
        let mut left = 0;
        for i in 0..40 {
            left += store.attempts(&format!("flood-{i}"), now).await.expect("read");
        }
        assert_eq!(left, 9, "trimmed to the bound of 10");
        assert_eq!(store.attempts("remembered", now).await.expect("read"), 1, "the long-lived counter stays");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn opaque_keys_and_secrets_are_not_stored_in_clear() {
        let db = TempDb::new();
        rt().block_on(async {
            let pool = db.pool().await;
            let options = prefixed();
            let table = format!("{}opaque", options.prefix_str());
            let store = SqlStore::sqlite(pool.clone(), options).await.expect("store");
            let authority = crate::Authority::builder(crate::tests::keys()).store(store).build();
            let creds = authority
                .issue_opaque(&crate::Principal::new("u-1", "ann"))
                .await
                .expect("opaque credentials");
            let rows: Vec<(String, Vec<u8>, Vec<u8>)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id, record, refresh_hash FROM {table}")))
                    .fetch_all(&pool)
                    .await
                    .expect("rows");
            assert_eq!(rows.len(), 1);
            let (id, record, refresh_hash) = &rows[0];
            assert_ne!(id, &creds.key, "the key is stored as its hash");
            let stored = [id.as_bytes(), record, refresh_hash].concat();
            for secret in [&creds.key, &creds.token, &creds.refresh] {
                assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret in clear");
            }
        });
    }

    /// A protected request's check (what the guard of every adapter runs)
    /// sends exactly one statement.
    async fn one_statement_per_check(store: SqlStore) {
        let authority = crate::Authority::builder(crate::tests::keys())
            .users(crate::tests::users())
            .store(store.clone())
            .build();
        let pair = authority.login("alice", "alice-pw").await.expect("login");
        let credentials = crate::Credentials::Bearer(pair.access_token);
        for _ in 0..3 {
            let before = store.queries();
            authority.authenticate(&credentials).await.expect("a valid token");
            assert_eq!(store.queries() - before, 1, "one statement per protected request");
        }
        authority.revoke(&pair.access_claims).await.expect("logout");
        let before = store.queries();
        assert!(authority.authenticate(&credentials).await.is_err(), "revoked");
        assert_eq!(store.queries() - before, 1, "a refusal costs one statement too");
        // keytoken's `Basic key:token`: the pair and its subject's revocation, one statement
        let creds = authority.issue_opaque(&crate::Principal::new("u-alice", "alice")).await.expect("opaque");
        let before = store.queries();
        authority.authenticate_opaque(&creds.key, &creds.token).await.expect("a live pair");
        assert_eq!(store.queries() - before, 1, "one statement per opaque check");
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_checks_a_request_with_one_statement() {
        let db = TempDb::new();
        rt().block_on(async {
            one_statement_per_check(SqlStore::sqlite(db.pool().await, prefixed()).await.expect("store"))
                .await;
        });
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_checks_a_request_with_one_statement() {
        let Some(url) = crate::store::test_services::postgres_url() else { return };
        rt().block_on(async {
            one_statement_per_check(
                SqlStore::postgres(pg_pool(&url).await, prefixed()).await.expect("store"),
            )
            .await;
        });
    }

    #[test]
    fn bad_options_are_refused() {
        for prefix in ["1abc", "a-b", "a;drop", &"x".repeat(33)] {
            assert!(SqlOptions::default().prefix(prefix).check().is_err(), "{prefix}");
        }
        assert!(SqlOptions::default().timeout(Duration::ZERO).check().is_err());
        assert!(SqlOptions::default().prefix("").check().is_ok(), "no prefix at all is fine");
    }
}
