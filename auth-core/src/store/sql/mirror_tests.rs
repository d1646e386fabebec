//! The revocation mirror on PostgreSQL: the store contract with the mirror
//! on, and two mirrored instances of one database (skipped without CI's
//! PostgreSQL).

use std::time::Duration;

use super::*;
use crate::store::mirror::pair::{Breaker, Mirrored};

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

async fn store(url: &str, prefix: &str) -> SqlStore {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(url).await.expect("postgres");
    let options = SqlOptions::default().prefix(prefix).timeout(Duration::from_secs(5)).mirror(true);
    SqlStore::postgres(pool, options).await.expect("store")
}

fn prefix() -> String {
    format!("m{:016x}_", rand::random::<u64>())
}

#[test]
fn passes_the_store_contract_with_the_mirror_on() {
    let Some(url) = crate::store::test_services::postgres_url() else { return };
    rt().block_on(async { crate::store::contract::run(store(&url, &prefix()).await).await });
}

/// Breaks the channel of the instances on `prefix` from a connection of its own.
struct PgBreaker {
    pool: sqlx::PgPool,
    prefix: String,
}

impl PgBreaker {
    async fn run(&self, query: String) {
        sqlx::query(sqlx::AssertSqlSafe(query)).execute(&self.pool).await.expect("statement");
    }
}

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
