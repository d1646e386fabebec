//! The demo's `--store`: a shared store from its URL.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{RedisOptions, RedisStore, SqlOptions, SqlStore, Store};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::{DemoConfig, StoreSpec};

/// The store `spec` names, connected with the configured prefix and
/// timeout (the SQL stores create their tables).
pub(crate) async fn open(spec: &StoreSpec, config: &DemoConfig) -> Result<Arc<dyn Store>, String> {
    let (prefix, timeout) = (&config.store_prefix, config.store_timeout);
    let sql_options = || SqlOptions::default().prefix(format!("{prefix}_")).timeout(timeout);
    Ok(match spec {
        StoreSpec::Memory => Arc::new(auth_core::MemoryStore::new()),
        StoreSpec::Redis(url) => {
            let options = RedisOptions::default().prefix(prefix).timeout(timeout);
            Arc::new(RedisStore::connect_with(url, options).await.map_err(|e| e.to_string())?)
        }
        StoreSpec::Sqlite(url) => {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| e.to_string())?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(|e| format!("cannot open {url}: {e}"))?;
            Arc::new(SqlStore::sqlite(pool, sql_options()).await.map_err(|e| e.to_string())?)
        }
        StoreSpec::Postgres(url) => {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(timeout.max(Duration::from_secs(1)))
                // One round trip per protected request: no ping before each query
                // (a dead connection fails one request with 503 and is replaced).
                .test_before_acquire(false)
                .connect(url)
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
            Arc::new(SqlStore::postgres(pool, sql_options()).await.map_err(|e| e.to_string())?)
        }
    })
}
