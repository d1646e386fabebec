//! The revocation mirror of a [`SqlStore`]: on PostgreSQL the store
//! contract with the mirror on and two mirrored instances of one database
//! (skipped without CI's PostgreSQL); on SQLite the write-through mirror
//! and the file's lock.

use std::time::Duration;

use super::*;
#[cfg(feature = "postgres")]
use crate::store::mirror::pair::Breaker;
use crate::store::mirror::pair::Mirrored;
#[cfg(feature = "sqlite")]
use crate::store::mirror::pair::record;
#[cfg(feature = "sqlite")]
use crate::store::{Store, TokenRef};

impl Mirrored for SqlStore {
    fn mirror_trusted(&self) -> bool {
        self.inner.mirror.as_ref().is_some_and(|m| m.trusted())
    }
    fn mirror_resyncs(&self) -> u64 {
        self.inner.mirror.as_ref().map_or(0, |m| m.resyncs())
    }
    fn round_trips(&self) -> u64 {
        self.queries()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

#[cfg(feature = "postgres")]
async fn store(url: &str, prefix: &str) -> SqlStore {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(url).await.expect("postgres");
    let options = SqlOptions::default().prefix(prefix).timeout(Duration::from_secs(5)).mirror(true);
    SqlStore::postgres(pool, options).await.expect("store")
}

#[cfg(feature = "postgres")]
fn prefix() -> String {
    format!("m{:016x}_", rand::random::<u64>())
}

#[cfg(feature = "postgres")]
#[test]
fn passes_the_store_contract_with_the_mirror_on() {
    let Some(url) = crate::store::test_services::postgres_url() else { return };
    rt().block_on(async { crate::store::contract::run(store(&url, &prefix()).await).await });
}

#[cfg(feature = "postgres")]
/// Breaks the channel of the instances on `prefix` from a connection of its own.
struct PgBreaker {
    pool: sqlx::PgPool,
    prefix: String,
}

#[cfg(feature = "postgres")]
impl PgBreaker {
    async fn run(&self, query: String) {
        sqlx::query(sqlx::AssertSqlSafe(query)).execute(&self.pool).await.expect("statement");
    }
}

#[cfg(feature = "postgres")]
#[async_trait::async_trait]
impl Breaker for PgBreaker {
    async fn kill_subscriptions(&self) {
        let channel = format!("{}events", self.prefix);
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(format!("tokenauth mirror {channel}"))
        .fetch_all(&self.pool)
        .await
        .expect("terminate");
        assert!(!killed.is_empty() && killed.iter().all(|k| *k), "every listener was terminated: {killed:?}");
    }

    async fn lose_an_event(&self) {
        self.run(format!("UPDATE {}mirror SET seq = seq + 1 WHERE id = 1", self.prefix)).await;
    }

    async fn roll_back(&self) {
        self.run(format!("UPDATE {}mirror SET seq = seq - 1 WHERE id = 1", self.prefix)).await;
    }

    async fn revoke_silently(&self, jti: &str, until: i64) {
        self.run(format!("INSERT INTO {}revoked (id, expires_at) VALUES ('{jti}', {until})", self.prefix))
            .await;
    }
}

#[cfg(feature = "postgres")]
#[test]
fn two_mirrored_instances_see_each_others_revocations_and_heal() {
    let Some(url) = crate::store::test_services::postgres_url() else { return };
    rt().block_on(async {
        let prefix = prefix();
        let (a, b) = (store(&url, &prefix).await, store(&url, &prefix).await);
        let pool = sqlx::PgPool::connect(&url).await.expect("postgres");
        crate::store::mirror::pair::run(a, b, &PgBreaker { pool, prefix }).await;
    });
}

/// The options of these tests' SQLite stores: a timeout a loaded machine
/// does not miss, the mirror on or off.
#[cfg(feature = "sqlite")]
fn sqlite_options(mirror: bool) -> SqlOptions {
    SqlOptions::default().timeout(Duration::from_secs(5)).mirror(mirror)
}

#[cfg(feature = "sqlite")]
async fn sqlite(db: &super::tests::TempDb, mirror: bool) -> Result<SqlStore, crate::StoreError> {
    SqlStore::sqlite(db.pool().await, sqlite_options(mirror)).await
}

/// A store on `db` once the one dropped before has let the file go.
#[cfg(feature = "sqlite")]
async fn once_free(db: &super::tests::TempDb, mirror: bool) -> SqlStore {
    once_free_with(db, sqlite_options(mirror)).await
}

/// [`once_free`] with `options`.
#[cfg(feature = "sqlite")]
async fn once_free_with(db: &super::tests::TempDb, options: SqlOptions) -> SqlStore {
    for _ in 0..100 {
        if let Ok(store) = SqlStore::sqlite(db.pool().await, options.clone()).await {
            return store;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    SqlStore::sqlite(db.pool().await, options).await.expect("the file is free again")
}

#[cfg(feature = "sqlite")]
#[test]
fn sqlite_passes_the_store_contract_with_the_write_through_mirror() {
    let db = super::tests::TempDb::new();
    rt().block_on(async { crate::store::contract::run(sqlite(&db, true).await.expect("store")).await });
}

#[cfg(feature = "sqlite")]
#[test]
fn a_mirrored_sqlite_store_answers_from_memory_and_is_the_files_only_user() {
    let db = super::tests::TempDb::new();
    rt().block_on(async {
        let now = crate::time::now();
        let token = |jti| TokenRef { jti: Some(jti), family: None, sub: "s", iat: now };
        // a revocation already in the file is loaded at start
        let plain = sqlite(&db, false).await.expect("a plain store");
        plain.revoke_token("before", now + 600, now).await.expect("revoke");
        let err = sqlite(&db, true).await.expect_err("not beside a plain store");
        assert!(err.to_string().contains("only user"), "{err}");
        drop(plain);

        let store = once_free(&db, true).await;
        assert!(store.mirror_trusted());
        let err = sqlite(&db, true).await.expect_err("a second mirrored store");
        assert!(err.to_string().contains("only user"), "{err}");
        let err = sqlite(&db, false).await.expect_err("a plain store beside it");
        assert!(err.to_string().contains("alone"), "{err}");

        let before = store.round_trips();
        assert!(matches!(store.is_revoked_now(&token("before"), now), Some(Ok(true))), "loaded at start");
        assert!(matches!(store.is_revoked_now(&token("live"), now), Some(Ok(false))));
        assert_eq!(store.round_trips(), before, "answered from memory");
        store.revoke_token("now", now + 600, now).await.expect("revoke");
        assert!(
            matches!(store.is_revoked_now(&token("now"), now), Some(Ok(true))),
            "its own writes, at once"
        );
        store.revoke_subject("s", now, now + 600, now).await.expect("revoke the subject");
        assert!(matches!(store.is_revoked_now(&token("live"), now), Some(Ok(true))), "the subject");
        store.create_family("fam", "r1", now + 600, now).await.expect("family");
        store.revoke_family("fam", now).await.expect("revoke the family");
        let in_family = TokenRef { jti: Some("x"), family: Some("fam"), sub: "other", iat: now };
        assert!(matches!(store.is_revoked_now(&in_family, now), Some(Ok(true))), "the family");

        store.put_opaque("key", record(now), now).await.expect("put");
        assert!(store.get_opaque_for_request("key", now).await.expect("get").is_some());
        let before = store.round_trips();
        assert!(store.get_opaque_for_request("key", now).await.expect("get").is_some());
        assert_eq!(store.round_trips(), before, "the record is kept");
        assert!(store.delete_opaque("key", now).await.expect("delete"));
        assert!(store.get_opaque_for_request("key", now).await.expect("get").is_none(), "and forgotten");

        drop(store);
        let again = once_free(&db, false).await;
        assert!(again.is_revoked(&token("now"), now).await.expect("check"), "what it wrote is in the file");
    });
}

#[cfg(feature = "sqlite")]
#[test]
fn a_failed_write_makes_a_sqlite_mirror_ask_the_file() {
    let db = super::tests::TempDb::new();
    rt().block_on(async {
        let now = crate::time::now();
        // the schema made first, without the short timeout below (which a
        // loaded machine could miss while creating tables)
        drop(sqlite(&db, false).await.expect("the schema"));
        let options = SqlOptions::default().timeout(Duration::from_millis(200)).mirror(true);
        let store = once_free_with(&db, options).await;
        assert!(store.mirror_trusted());
        // another connection holds SQLite's write lock: the revocation times out
        let other = db.pool().await;
        let mut blocker = other.begin_with("BEGIN IMMEDIATE").await.expect("write lock");
        sqlx::query("CREATE TABLE IF NOT EXISTS hold (x INTEGER)")
            .execute(&mut *blocker)
            .await
            .expect("hold");
        let err = store.revoke_token("late", now + 600, now).await.expect_err("no write lock in time");
        assert!(matches!(err, crate::StoreError::Timeout(_)), "{err:?}");
        // it may still commit once the lock is free: the mirror no longer answers
        let token = TokenRef { jti: Some("late"), family: None, sub: "s", iat: now };
        assert!(!store.mirror_trusted(), "distrusted after a failed write");
        assert!(store.is_revoked_now(&token, now).is_none(), "checks go to the file");
        blocker.rollback().await.expect("release");
    });
}
