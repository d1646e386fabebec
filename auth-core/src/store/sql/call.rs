//! How a [`SqlStore`] talks to its pool: each statement counted, every call
//! bounded by the timeout and reported to the outage log, and a database
//! error turned into a [`StoreError`].

use super::binds::Binder;
use super::queries::{Events, Sql};
use super::{Backend, SqlStore};
use crate::store::StoreError;
use crate::store::mirror::Change;

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

impl SqlStore {
    /// How many statements this store has sent (a transaction's `BEGIN`
    /// and `COMMIT` included), for metrics: a protected request's
    /// revocation check is one.
    pub fn queries(&self) -> u64 {
        self.inner.queries.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A statement about to be sent, counted. Only the validated prefix is
    /// spliced into the text; every value is a bind parameter.
    pub(super) fn q(&self, sql: &Sql) -> sqlx::AssertSqlSafe<Sql> {
        self.inner.queries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        sqlx::AssertSqlSafe(sql.clone())
    }

    /// A transaction about to begin: its `BEGIN` and its end, counted.
    pub(super) fn begin(&self) -> &'static str {
        self.inner.queries.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        self.inner.sql.begin
    }

    /// Runs one call under the timeout, reporting to the outage log and
    /// recording it as `operation` (one of
    /// [`STORE_OPERATIONS`](crate::metrics::STORE_OPERATIONS)).
    pub(super) async fn call<T>(
        &self,
        operation: &'static str,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.inner.outage.run_op(operation, self.inner.timeout, fut).await
    }

    /// One statement, as `operation`: answers the rows it changed.
    pub(super) async fn execute(
        &self,
        operation: &'static str,
        query: &Sql,
        binds: impl FnOnce(Binder) -> Binder,
    ) -> Result<u64, StoreError> {
        let binder = binds(Binder::default());
        self.call(operation, async {
            let done = on_pool!(self, pool => binder.apply(sqlx::query(self.q(query))).execute(pool).await.map(|r| r.rows_affected()));
            Ok(done?)
        })
        .await
    }

    /// Runs a write that may change what a protected request sees: on
    /// PostgreSQL its evented form (`evented`), whose line this instance's
    /// mirror applies at once; elsewhere the plain statement, whose
    /// `change` a (SQLite, write-through) mirror applies. Answers whether
    /// a row changed. Recorded as `operation`.
    pub(super) async fn change(
        &self,
        operation: &'static str,
        plain: &Sql,
        evented: impl FnOnce(&Events) -> &Sql,
        binds: impl FnOnce(Binder) -> Binder,
        change: Change,
    ) -> Result<bool, StoreError> {
        #[cfg(feature = "postgres")]
        if let (Some(events), Backend::Postgres(pool)) = (&self.inner.sql.events, &self.inner.pool) {
            let (query, binder) = (evented(events), binds(Binder::default()));
            let line: Option<String> = self
                .call(operation, async {
                    let row = binder.apply(sqlx::query(self.q(query))).fetch_optional(pool).await?;
                    Ok(row.map(|row| sqlx::Row::try_get(&row, 0)).transpose()?)
                })
                .await?;
            if let Some(line) = &line {
                self.committed(Some(line), &change);
            }
            return Ok(line.is_some());
        }
        #[cfg(not(feature = "postgres"))]
        let _ = evented;
        let changed = self.after_write(self.execute(operation, plain, binds).await)? > 0;
        if changed {
            self.committed(None, &change);
        }
        Ok(changed)
    }
}

/// Publishes a change a transaction made, in that transaction (on
/// PostgreSQL; SQLite has no channel): answers the line to hand to
/// [`SqlStore::committed`] once committed.
pub(super) trait Publish {
    async fn publish(&mut self, store: &SqlStore, change: &Change) -> Result<Option<String>, StoreError>;
}

#[cfg(feature = "sqlite")]
impl Publish for sqlx::SqliteConnection {
    async fn publish(&mut self, _store: &SqlStore, _change: &Change) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}
