//! The revocation mirror on Redis: the store contract with the mirror on,
//! and two mirrored instances of one store, on a single server and on the
//! three-master cluster (skipped without `redis-server`).

use std::time::Duration;

use super::*;
use crate::store::Store;
use crate::store::mirror::pair::{Breaker, Mirrored};
use crate::store::test_services::{RedisCluster, RedisServer};

impl Mirrored for RedisStore {
    fn mirror_trusted(&self) -> bool {
        self.inner.mirror.as_ref().is_some_and(|m| m.trusted())
    }
    fn mirror_resyncs(&self) -> u64 {
        self.inner.mirror.as_ref().map_or(0, |m| m.resyncs())
    }
    fn round_trips(&self) -> u64 {
        RedisStore::round_trips(self)
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn mirrored(prefix: &str) -> RedisOptions {
    RedisOptions::default().prefix(prefix).timeout(Duration::from_secs(5)).mirror(true)
}

fn prefix() -> String {
    format!("m-{}", uuid::Uuid::new_v4().simple())
}

/// Breaks the channel of the stores on `prefix`: every pub/sub client of
/// every node killed, or a number of the sequence taken unpublished
/// (through `store`, a plain store on the same prefix, so on a cluster
/// too).
struct RedisBreaker {
    nodes: Vec<String>,
    store: RedisStore,
}

#[async_trait::async_trait]
impl Breaker for RedisBreaker {
    async fn kill_subscriptions(&self) {
        let mut killed = 0;
        for node in &self.nodes {
            let client = redis::Client::open(node.as_str()).expect("node url");
            let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
            let n: i64 = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("TYPE")
                .arg("pubsub")
                .query_async(&mut conn)
                .await
                .expect("kill");
            killed += n;
        }
        assert!(killed > 0, "a subscription was killed");
    }

    async fn roll_back(&self) {
        let (seq, _) = self.store.event_keys(None);
        let mut conn = self.store.conn();
        let _: i64 =
            redis::cmd("HINCRBY").arg(&seq).arg("n").arg(-1).query_async(&mut conn).await.expect("go back");
    }

    async fn revoke_silently(&self, jti: &str, until: i64) {
        let mut conn = self.store.conn();
        let key = self.store.key("r", jti);
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(until)
            .arg("EX")
            .arg(600)
            .query_async(&mut conn)
            .await
            .expect("set");
    }

    async fn lose_an_event(&self) {
        let (seq, _) = self.store.event_keys(None);
        let mut conn = self.store.conn();
        let _: i64 = redis::cmd("HINCRBY")
            .arg(&seq)
            .arg("n")
            .arg(1)
            .query_async(&mut conn)
            .await
            .expect("take a number");
    }
}

/// Runs the pair scenario on two mirrored stores at `url`.
async fn pair(url: &str, nodes: Vec<String>) {
    let prefix = prefix();
    let a = RedisStore::connect_with(url, mirrored(&prefix)).await.expect("a");
    let b = RedisStore::connect_with(url, mirrored(&prefix)).await.expect("b");
    let store = RedisStore::connect_with(url, mirrored(&prefix).mirror(false)).await.expect("plain");
    crate::store::mirror::pair::run(a, b, &RedisBreaker { nodes, store }).await;
}

#[test]
fn passes_the_store_contract_with_the_mirror_on() {
    let Some(redis) = RedisServer::shared() else { return };
    rt().block_on(async {
        let store = RedisStore::connect_with(redis.url(), mirrored(&prefix())).await.expect("connect");
        crate::store::contract::run(store).await;
    });
}

#[test]
fn two_mirrored_instances_see_each_others_revocations_and_heal() {
    // a server of its own: the test kills every subscription on it
    let Some(redis) = RedisServer::own() else { return };
    rt().block_on(pair(redis.url(), vec![redis.url().to_owned()]));
}

#[test]
fn two_mirrored_instances_on_the_cluster_see_each_others_revocations_and_heal() {
    let Some(cluster) = RedisCluster::own() else { return };
    let nodes = cluster.ports().iter().map(|p| format!("redis://127.0.0.1:{p}")).collect();
    rt().block_on(pair(cluster.url(), nodes));
}

#[test]
fn revocations_written_before_the_indexes_existed_are_in_the_first_snapshot() {
    let Some(redis) = RedisServer::shared() else { return };
    rt().block_on(async {
        let prefix = prefix();
        let plain =
            RedisStore::connect_with(redis.url(), mirrored(&prefix).mirror(false)).await.expect("plain");
        let now = crate::time::now();
        // as an older version wrote them: the keys alone, no index, no sequence
        let mut conn = plain.conn();
        let (token_key, subject_key, family_key) =
            (plain.key("r", "old-jti"), plain.key("s", "old-sub"), plain.key("f", "old-fam"));
        let _: () = redis::cmd("SET")
            .arg(&token_key)
            .arg(now + 600)
            .arg("EX")
            .arg(600)
            .query_async(&mut conn)
            .await
            .expect("set");
        let _: () = redis::cmd("HSET")
            .arg(&subject_key)
            .arg("cut")
            .arg(now)
            .arg("keep")
            .arg(now + 600)
            .query_async(&mut conn)
            .await
            .expect("hset");
        let _: () = redis::cmd("HSET")
            .arg(&family_key)
            .arg("cur")
            .arg("x")
            .arg("exp")
            .arg(now + 600)
            .arg("rev")
            .arg("1")
            .query_async(&mut conn)
            .await
            .expect("hset");

        let store = RedisStore::connect_with(redis.url(), mirrored(&prefix)).await.expect("mirrored");
        for _ in 0..500 {
            if store.mirror_trusted() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(store.mirror_trusted(), "the mirror came up");
        let answer = |jti, family, sub| {
            store.is_revoked_now(&crate::TokenRef { jti: Some(jti), family, sub, iat: now }, now)
        };
        assert!(matches!(answer("old-jti", None, "x"), Some(Ok(true))), "the token id");
        assert!(matches!(answer("j", None, "old-sub"), Some(Ok(true))), "the subject");
        assert!(matches!(answer("j", Some("old-fam"), "x"), Some(Ok(true))), "the family");
        assert!(matches!(answer("j", Some("other"), "x"), Some(Ok(false))), "and nothing else");
    });
}
