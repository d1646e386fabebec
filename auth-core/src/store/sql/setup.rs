//! Making a [`SqlStore`] on an application's pool: the options checked, the
//! schema migrated, the background sweep started.

use std::sync::Arc;

use super::queries::Queries;
use super::sweep::sweep_loop;
use super::{Backend, Inner, SqlOptions, SqlStore};
use crate::store::{OutageLog, StoreError};

impl SqlStore {
    /// A store on the application's PostgreSQL pool: creates the schema
    /// if needed and starts the sweep (call it inside a tokio runtime).
    #[cfg(feature = "postgres")]
    pub async fn postgres(pool: sqlx::PgPool, options: SqlOptions) -> Result<Self, StoreError> {
        options.check()?;
        let sql = Queries::new(&options.prefix, true);
        Self::start(Backend::Postgres(pool), sql, options, None).await
    }

    /// A store on the application's SQLite pool: creates the schema if
    /// needed and starts the sweep (call it inside a tokio runtime).
    #[cfg(feature = "sqlite")]
    pub async fn sqlite(pool: sqlx::SqlitePool, options: SqlOptions) -> Result<Self, StoreError> {
        options.check()?;
        let lock = super::mirror::lock_file(&pool, options.mirror).await?;
        let sql = Queries::new(&options.prefix, false);
        let store = Self::start(Backend::Sqlite(pool), sql, options, lock).await?;
        store.load_local_mirror().await?;
        Ok(store)
    }

    async fn start(
        pool: Backend,
        sql: Queries,
        options: SqlOptions,
        file_lock: Option<std::fs::File>,
    ) -> Result<Self, StoreError> {
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                sql,
                timeout: options.timeout,
                outage: OutageLog::new("sql"),
                queries: Default::default(),
                max_attempts: options.max_attempt_counters,
                mirror: options.mirror.then(|| Arc::new(crate::store::mirror::Mirror::new())),
                #[cfg(feature = "sqlite")]
                write_failures: Default::default(),
                _file_lock: file_lock,
            }),
        };
        store.migrate().await?;
        tokio::spawn(sweep_loop(Arc::downgrade(&store.inner), options.sweep_every, options.sweep_batch));
        #[cfg(feature = "postgres")]
        store.follow_events();
        Ok(store)
    }

    /// Creates the tables and indexes if they do not exist (idempotent;
    /// safe when several instances start at once).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let sql = &self.inner.sql;
        self.call("migrate", async {
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
}
