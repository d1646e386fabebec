//! How a [`SqlStore`] talks to its pool: each statement counted, every call
//! bounded by the timeout and reported to the outage log, and a database
//! error turned into a [`StoreError`].

use super::binds::Binder;
use super::queries::Sql;
use super::{Backend, SqlStore};
use crate::store::StoreError;

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

    pub(super) async fn call<T>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.inner.outage.run(self.inner.timeout, fut).await
    }

    pub(super) async fn execute(
        &self,
        query: &Sql,
        binds: impl FnOnce(Binder) -> Binder,
    ) -> Result<u64, StoreError> {
        let binder = binds(Binder::default());
        self.call(async {
            let done = on_pool!(self, pool => binder.apply(sqlx::query(self.q(query))).execute(pool).await.map(|r| r.rows_affected()));
            Ok(done?)
        })
        .await
    }
}
