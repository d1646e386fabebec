//! The unit tests of [`SqlStore`]: the store contract on SQLite (a file, and
//! in memory) and PostgreSQL (skipped without one), the sweep, the trim,
//! secrets at rest and one statement per request; and PostgreSQL over TLS
//! with `sslmode=verify-full` (skipped without CI's TLS-only server): the
//! contract passes, another CA, a name the certificate does not carry and
//! a plaintext server are refused, and a plaintext client is refused by
//! the server.

use super::*;
#[cfg(feature = "sqlite")]
use crate::store::TokenRef;
use crate::store::{AttemptRule, Store};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn prefixed() -> SqlOptions {
    SqlOptions::default().prefix(format!("t{:016x}_", rand::random::<u64>()))
}

/// A SQLite file of its own, removed when dropped.
#[cfg(feature = "sqlite")]
pub(super) struct TempDb(std::path::PathBuf);

#[cfg(feature = "sqlite")]
impl TempDb {
    pub(super) fn new() -> Self {
        Self(std::env::temp_dir().join(format!("tokenauth-{}.db", uuid::Uuid::new_v4().simple())))
    }

    pub(super) async fn pool(&self) -> sqlx::SqlitePool {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&self.0)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        sqlx::sqlite::SqlitePoolOptions::new().max_connections(8).connect_with(options).await.expect("sqlite")
    }
}

#[cfg(feature = "sqlite")]
impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", ".tokenauth.lock"] {
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
        let store = SqlStore::sqlite(pool, prefixed().timeout(Duration::from_secs(5))).await.expect("store");
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

/// CI's TLS-only PostgreSQL: `AUTH_TEST_POSTGRES_TLS_URL` (a `postgres://`
/// URL with `sslmode=verify-full&sslrootcert=CA`, the CA that signed the
/// server's certificate for `127.0.0.1` and `localhost`) and
/// `AUTH_TEST_POSTGRES_TLS_OTHER_CA` (an unrelated CA).
#[cfg(feature = "postgres")]
struct PgTls {
    options: sqlx::postgres::PgConnectOptions,
    /// The URL's `sslrootcert`.
    ca: String,
    other_ca: String,
}

/// The TLS-only server CI started, or `None` (skipped; a failure under
/// `CI=true`).
#[cfg(feature = "postgres")]
fn pg_tls() -> Option<PgTls> {
    let var = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let Some(url) = var("AUTH_TEST_POSTGRES_TLS_URL") else {
        crate::store::test_services::skip_or_fail(
            "AUTH_TEST_POSTGRES_TLS_URL is not set (.ci/run starts a TLS-only PostgreSQL and sets it)",
        );
        return None;
    };
    let Some(other_ca) = var("AUTH_TEST_POSTGRES_TLS_OTHER_CA") else {
        crate::store::test_services::skip_or_fail(
            "AUTH_TEST_POSTGRES_TLS_OTHER_CA is not set (.ci/run makes an unrelated CA and sets it)",
        );
        return None;
    };
    let options: sqlx::postgres::PgConnectOptions =
        url.parse().expect("AUTH_TEST_POSTGRES_TLS_URL is a postgres:// URL");
    assert!(
        matches!(options.get_ssl_mode(), sqlx::postgres::PgSslMode::VerifyFull),
        "AUTH_TEST_POSTGRES_TLS_URL asks for sslmode=verify-full"
    );
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let ca = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .expect("the URL's query")
        .into_iter()
        .find_map(|(key, value)| (key == "sslrootcert").then_some(value))
        .expect("AUTH_TEST_POSTGRES_TLS_URL names the server's CA in sslrootcert");
    Some(PgTls { options, ca, other_ca })
}

/// A connection with `options`, or sqlx's error (a hang is a failure).
#[cfg(feature = "postgres")]
async fn pg_connect(options: &sqlx::postgres::PgConnectOptions) -> Result<sqlx::PgConnection, sqlx::Error> {
    use sqlx::Connection;
    tokio::time::timeout(Duration::from_secs(10), sqlx::PgConnection::connect_with(options))
        .await
        .expect("a connection attempt answers within 10 s")
}

/// The error connecting with `options`, which must fail.
#[cfg(feature = "postgres")]
async fn pg_refused(options: &sqlx::postgres::PgConnectOptions) -> sqlx::Error {
    match pg_connect(options).await {
        Ok(_) => panic!(
            "connected to {}:{} with sslmode {:?}, which must be refused",
            options.get_host(),
            options.get_port(),
            options.get_ssl_mode()
        ),
        Err(e) => e,
    }
}

/// Whether the server says this session is encrypted (`pg_stat_ssl`).
#[cfg(feature = "postgres")]
async fn pg_session_is_tls<'c>(conn: impl sqlx::PgExecutor<'c>) -> bool {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(conn)
        .await
        .expect("pg_stat_ssl")
}

/// A handshake rustls ended over the server's certificate: sqlx reports
/// it as an I/O error (`InvalidData`) reading `invalid peer certificate:
/// <reason>`.
#[cfg(feature = "postgres")]
fn assert_certificate_refused(err: &sqlx::Error, reason: &str, why: &str) {
    let text = err.to_string();
    eprintln!("{why}: {text}");
    assert!(
        matches!(err, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::InvalidData),
        "{why}: a refused certificate, not {err:?}"
    );
    assert!(text.contains("invalid peer certificate"), "{why}: {text}");
    assert!(text.contains(reason), "{why}: {text} (expected {reason:?})");
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_over_tls_with_verify_full_passes_the_store_contract() {
    let Some(tls) = pg_tls() else { return };
    rt().block_on(async {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(10)
            .connect_with(tls.options.clone())
            .await
            .expect("a verify-full connection to the TLS server");
        assert!(pg_session_is_tls(&pool).await, "the session is encrypted");
        let store = SqlStore::postgres(pool.clone(), prefixed()).await.expect("store");
        crate::store::contract::run(store).await;
        assert!(pg_session_is_tls(&pool).await, "still encrypted");
    });
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_verify_full_refuses_a_server_certificate_from_another_ca() {
    let Some(tls) = pg_tls() else { return };
    rt().block_on(async {
        let err = pg_refused(&tls.options.clone().ssl_root_cert(&tls.other_ca)).await;
        assert_certificate_refused(
            &err,
            "UnknownIssuer",
            "a certificate signed by a CA the client does not trust",
        );
        // the right CA, on the same server, is accepted
        let mut conn = pg_connect(&tls.options).await.expect("the server's own CA");
        assert!(pg_session_is_tls(&mut conn).await);
    });
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_verify_full_checks_the_host_name_against_the_certificate() {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    let Some(tls) = pg_tls() else { return };
    let port = tls.options.get_port();
    rt().block_on(async {
        // `localhost` is in the certificate (the builder form of the URL)
        let by_name = PgConnectOptions::new()
            .host("localhost")
            .port(port)
            .username("postgres")
            .database("postgres")
            .ssl_mode(PgSslMode::VerifyFull)
            .ssl_root_cert(&tls.ca);
        let mut conn =
            pg_connect(&by_name).await.expect("verify-full to localhost, a name the certificate has");
        assert!(pg_session_is_tls(&mut conn).await);

        // 127.0.0.2 (the same server: .ci/run listens there too) is not
        if std::net::TcpStream::connect(("127.0.0.2", port)).is_err() {
            eprintln!("SKIPPED (half of this test): the TLS server does not listen on 127.0.0.2");
            return;
        }
        let other_address = tls.options.clone().host("127.0.0.2");
        let err = pg_refused(&other_address).await;
        assert_certificate_refused(
            &err,
            "certificate not valid for name \"127.0.0.2\"",
            "verify-full to an address the certificate does not name",
        );
        // verify-ca checks the chain only: the same address is accepted
        let mut conn = pg_connect(&other_address.ssl_mode(PgSslMode::VerifyCa))
            .await
            .expect("verify-ca does not check the name");
        assert!(pg_session_is_tls(&mut conn).await);
    });
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_tls_only_server_refuses_a_plaintext_client() {
    use sqlx::postgres::PgSslMode;
    let Some(tls) = pg_tls() else { return };
    rt().block_on(async {
        let err = pg_refused(&tls.options.clone().ssl_mode(PgSslMode::Disable)).await;
        // what an operator sees: the server's own refusal, from pg_hba.conf
        let db = err.as_database_error().unwrap_or_else(|| panic!("the server refuses, not {err:?}"));
        eprintln!("sslmode=disable against the TLS-only server: {db}");
        assert_eq!(db.code().as_deref(), Some("28000"), "invalid_authorization_specification: {db}");
        assert!(db.message().contains("no pg_hba.conf entry"), "{db}");
        assert!(db.message().ends_with("no encryption"), "{db}");
    });
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_verify_full_never_falls_back_to_a_plaintext_server() {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    let Some(tls) = pg_tls() else { return };
    let Some(plain_url) = crate::store::test_services::postgres_url() else { return };
    rt().block_on(async {
        let plain: PgConnectOptions = plain_url.parse().expect("AUTH_TEST_POSTGRES_URL");
        let err = pg_refused(&plain.clone().ssl_mode(PgSslMode::VerifyFull).ssl_root_cert(&tls.ca)).await;
        assert!(matches!(err, sqlx::Error::Tls(_)), "a TLS failure, not {err:?}");
        assert_eq!(
            err.to_string(),
            "error occurred while attempting to establish a TLS connection: server does not support TLS"
        );
        // what verify-full prevents: sqlx's default, `prefer`, silently
        // continues in plaintext with the same server
        let mut conn = pg_connect(&plain.ssl_mode(PgSslMode::Prefer)).await.expect("prefer falls back");
        assert!(!pg_session_is_tls(&mut conn).await, "prefer: a plaintext session");
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
        let creds =
            authority.issue_opaque(&crate::Principal::new("u-1", "ann")).await.expect("opaque credentials");
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
        one_statement_per_check(SqlStore::sqlite(db.pool().await, prefixed()).await.expect("store")).await;
    });
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_checks_a_request_with_one_statement() {
    let Some(url) = crate::store::test_services::postgres_url() else { return };
    rt().block_on(async {
        one_statement_per_check(SqlStore::postgres(pg_pool(&url).await, prefixed()).await.expect("store"))
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
