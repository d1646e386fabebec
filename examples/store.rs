//! The demo's `--store`: a shared store from its URL.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{RedisOptions, RedisStore, SqlOptions, SqlStore, Store};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::{DemoConfig, StoreSpec};

/// The store `spec` names, connected with the configured prefix and
/// timeout (the SQL stores create their tables), trusting `--store-ca`
/// for its TLS if given.
pub(crate) async fn open(spec: &StoreSpec, config: &DemoConfig) -> Result<Arc<dyn Store>, String> {
    let (prefix, timeout, ca) = (&config.store_prefix, config.store_timeout, config.store_ca.as_deref());
    let mirror = config.store_mirror;
    let sql_options = || SqlOptions::default().prefix(format!("{prefix}_")).timeout(timeout);
    if mirror && matches!(spec, StoreSpec::Memory) {
        return Err("--store-mirror is for a Redis, PostgreSQL or SQLite store: memory is one already".into());
    }
    if ca.is_some() && matches!(spec, StoreSpec::Memory | StoreSpec::Sqlite(_)) {
        return Err(format!(
            "--store-ca is for a store reached over TLS (rediss://, rediss-cluster://, postgres://), not {spec}"
        ));
    }
    Ok(match spec {
        StoreSpec::Memory => Arc::new(auth_core::MemoryStore::new()),
        StoreSpec::Redis(url) => {
            let mut options = RedisOptions::default().prefix(prefix).timeout(timeout).mirror(mirror);
            if let Some(ca) = ca {
                // With a `redis://` URL this is a configuration error, not plaintext.
                options = options.ca_file(ca);
            }
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
            Arc::new(SqlStore::sqlite(pool, sql_options().mirror(mirror)).await.map_err(|e| e.to_string())?)
        }
        StoreSpec::Postgres(url) => {
            let mut options =
                PgConnectOptions::from_str(url).map_err(|e| format!("invalid PostgreSQL URL: {e}"))?;
            if let Some(ca) = ca {
                options = options.ssl_root_cert(ca);
                if !sets_sslmode(url) {
                    // A CA is given to be checked: the certificate and the host name.
                    options = options.ssl_mode(PgSslMode::VerifyFull);
                } else if !matches!(options.get_ssl_mode(), PgSslMode::VerifyFull | PgSslMode::VerifyCa) {
                    return Err(format!(
                        "--store-ca is checked only with sslmode=verify-full (or verify-ca); the URL says {:?}",
                        options.get_ssl_mode()
                    ));
                }
            }
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(timeout.max(Duration::from_secs(1)))
                // One round trip per protected request: no ping before each query
                // (a dead connection fails one request with 503 and is replaced).
                .test_before_acquire(false)
                .connect_with(options)
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
            Arc::new(SqlStore::postgres(pool, sql_options().mirror(mirror)).await.map_err(|e| e.to_string())?)
        }
    })
}

/// Whether a PostgreSQL URL's query sets `sslmode` (or its alias `ssl-mode`).
fn sets_sslmode(url: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    query.split('&').any(|pair| {
        let key = pair.split_once('=').map_or(pair, |(key, _)| key);
        key.eq_ignore_ascii_case("sslmode") || key.eq_ignore_ascii_case("ssl-mode")
    })
}

#[cfg(test)]
mod tests {
    use super::sets_sslmode;

    #[test]
    fn an_sslmode_in_the_url_is_seen() {
        assert!(sets_sslmode("postgres://u@db/auth?sslmode=require"));
        assert!(sets_sslmode("postgres://u@db/auth?application_name=x&sslmode=disable"));
        assert!(!sets_sslmode("postgres://u@db/auth"));
        assert!(!sets_sslmode("postgres://u@db/auth?application_name=sslmode"));
    }
}
