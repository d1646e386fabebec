//! The unit tests of [`RedisStore`]: the store contract, what the keys hold,
//! and an outage, against a `redis-server` of their own (skipped without
//! one); the same contract over TLS and on Redis Cluster (plaintext and
//! TLS), and the TLS refusals.

use super::*;
use crate::store::test_services::{RedisCluster, RedisServer, RedisTlsServer};
use crate::store::{AttemptRule, Store, StoreError, TokenRef};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// A fresh prefix, and a timeout a loaded two-core CI machine cannot
/// miss (the 250 ms default is for production, not for a machine
/// hashing passwords for a dozen tests at once).
fn prefixed() -> RedisOptions {
    RedisOptions::default()
        .prefix(format!("test-{}", uuid::Uuid::new_v4().simple()))
        .timeout(Duration::from_secs(5))
}

#[test]
fn passes_the_store_contract() {
    let Some(redis) = RedisServer::shared() else { return };
    rt().block_on(async {
        let store = RedisStore::connect_with(redis.url(), prefixed()).await.expect("connect");
        crate::store::contract::run(store).await;
    });
}

/// Every key of a real session: its name, its TTL and its value.
async fn dump(url: &str, prefix: &str) -> Vec<(String, i64, Vec<u8>)> {
    let client = redis::Client::open(url).expect("url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{{{prefix}}}:*")).query_async(&mut conn).await.expect("keys");
    let mut out = Vec::new();
    for key in keys {
        let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut conn).await.expect("ttl");
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut conn).await.expect("type");
        let value: Vec<u8> = if kind == "hash" {
            let fields: Vec<Vec<u8>> =
                redis::cmd("HGETALL").arg(&key).query_async(&mut conn).await.expect("hgetall");
            fields.concat()
        } else if kind == "zset" {
            // the mirror's indexes of live revocations: ids by end
            let members: Vec<Vec<u8>> =
                redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query_async(&mut conn).await.expect("zrange");
            members.concat()
        } else {
            redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("get")
        };
        out.push((key, ttl, value));
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn keys_are_tagged_expire_and_hold_no_secret() {
    let Some(redis) = RedisServer::shared() else { return };
    rt().block_on(async {
        let options = prefixed();
        let prefix = options.prefix_str().to_owned();
        let store = RedisStore::connect_with(redis.url(), options).await.expect("connect");
        let authority =
            crate::Authority::builder(crate::tests::keys()).users(crate::tests::users()).store(store).build();
        let pair = authority.login("alice", "alice-pw").await.expect("login");
        let refresh = pair.refresh_token.clone().expect("a refresh token");
        let next = authority.refresh(&refresh).await.expect("refresh");
        authority.revoke(&next.access_claims).await.expect("logout");
        assert!(authority.login("alice", "wrong").await.is_err());
        let principal = crate::Principal::new("u-alice", "alice");
        let opaque = authority.issue_opaque(&principal).await.expect("opaque");

        let keys = dump(redis.url(), &prefix).await;
        let kinds: Vec<&str> = keys.iter().map(|(k, ..)| &k[prefix.len() + 3..prefix.len() + 4]).collect();
        // r: revoked token ids, f: families, o: opaque, a: counters, s(eq)
        // and i(ndexes): the revocation events' sequence and live sets
        for kind in ["r", "f", "o", "a", "s", "i"] {
            assert!(kinds.contains(&kind), "a `{kind}` key was written: {kinds:?}");
        }
        for (key, ttl, value) in &keys {
            assert!(key.starts_with(&format!("{{{prefix}}}:")), "{key} carries the prefix as hash tag");
            assert!(*ttl > 0, "{key} has a TTL ({ttl})");
            for secret in [&pair.access_token, &refresh, &next.access_token, &opaque.token, &opaque.refresh] {
                assert!(!contains(value, secret), "{key} holds a token in clear");
            }
            assert!(!contains(key.as_bytes(), &opaque.key), "the opaque key is stored hashed");
            assert!(!contains(key.as_bytes(), "alice"), "{key}: usernames are hashed in throttle keys");
        }
    });
}

#[test]
fn an_outage_fails_closed_and_ends_by_itself() {
    let Some(mut redis) = RedisServer::own() else { return };
    rt().block_on(async {
        let options = prefixed().timeout(Duration::from_secs(1));
        let store = RedisStore::connect_with(redis.url(), options).await.expect("connect");
        let token = TokenRef { jti: Some("j"), family: Some("f"), sub: "s", iat: 0 };
        let now = crate::time::now();
        store.revoke_token("j", now + 600, now).await.expect("revoke");
        redis.kill();
        for _ in 0..3 {
            let err = store.is_revoked(&token, now).await.expect_err("no answer without Redis");
            assert!(matches!(err, StoreError::Timeout(_) | StoreError::Source(_)), "{err:?}");
        }
        assert!(store.inner.outage.is_down(), "the outage is noticed");
        let err = store
            .count_attempt("k", &AttemptRule { free: 1, window_secs: 60, first_delay: 1, max_delay: 1 }, now)
            .await;
        assert!(err.is_err(), "a counter that cannot be recorded is an error, not a pass");
        redis.restart();
        // The manager reconnects on the next calls; no new store is made.
        let mut answer = store.is_revoked(&token, now).await;
        for _ in 0..50 {
            if answer.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = store.is_revoked(&token, now).await;
        }
        // The restarted server is empty (no persistence): the revocation is gone with it.
        assert!(!answer.expect("Redis is back"), "an empty server knows no revocation");
        assert!(!store.inner.outage.is_down(), "the end of the outage is noticed");
        store.revoke_token("j", now + 600, now).await.expect("writes work again");
        assert!(store.is_revoked(&token, now).await.expect("reads work again"));
    });
}

#[test]
fn passes_the_store_contract_over_tls_with_its_ca() {
    let Some(redis) = RedisTlsServer::own() else { return };
    rt().block_on(async {
        let options = prefixed().ca_file(redis.ca_file());
        let store = RedisStore::connect_with(redis.url(), options).await.expect("connect over TLS");
        crate::store::contract::run(store.clone()).await;
        // The pub/sub connection has the same TLS settings.
        let mut pubsub = store.open_pubsub().await.expect("a pub/sub connection over TLS");
        pubsub.subscribe("auth-core-test").await.expect("subscribe");
    });
}

#[test]
fn tls_refuses_a_certificate_it_cannot_verify() {
    let Some(redis) = RedisTlsServer::own() else { return };
    rt().block_on(async {
        // Signed by a CA the store was not told to trust.
        let other = prefixed().ca_file(redis.other_ca_file());
        let err = RedisStore::connect_with(redis.url(), other).await.expect_err("another CA is refused");
        let text = err.to_string();
        assert!(text.contains("TLS certificate did not verify against the configured CA"), "{text}");
        assert!(text.contains("UnknownIssuer"), "the error says why: {text}");
        // No CA: the platform's roots, which do not know the test CA (so
        // verification is on, with no plaintext fallback).
        let err =
            RedisStore::connect_with(redis.url(), prefixed()).await.expect_err("self-signed is refused");
        assert!(err.to_string().contains("did not verify against the platform's trusted roots"), "{err}");
        // The same server without TLS is no server at all.
        let plain = redis.url().replace("rediss://", "redis://");
        assert!(RedisStore::connect_with(&plain, prefixed()).await.is_err(), "no plaintext answer");
    });
}

#[test]
fn a_ca_needs_a_tls_url() {
    rt().block_on(async {
        let Some(pem) = RedisTlsServer::own().map(|redis| std::fs::read(redis.ca_file()).expect("the CA"))
        else {
            return;
        };
        for url in ["redis://127.0.0.1:6379/0", "redis-cluster://127.0.0.1:7000,127.0.0.1:7001"] {
            let err =
                RedisStore::lazy(url, prefixed().ca_pem(pem.clone())).expect_err("a configuration error");
            assert!(err.to_string().contains("needs a TLS URL"), "{url}: {err}");
        }
        let err = RedisStore::lazy("rediss://127.0.0.1:1/0", prefixed().ca_file("/no/such/ca.pem"))
            .expect_err("an unreadable CA");
        assert!(err.to_string().contains("/no/such/ca.pem"), "{err}");
        let err = RedisStore::lazy("rediss://127.0.0.1:1/0", prefixed().ca_pem(b"not a PEM".to_vec()))
            .expect_err("a CA that is no certificate");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    });
}

#[test]
fn passes_the_store_contract_on_a_cluster_in_one_slot() {
    let Some(cluster) = RedisCluster::own() else { return };
    rt().block_on(async {
        let options = prefixed();
        let prefix = options.prefix_str().to_owned();
        let store = RedisStore::connect_with(cluster.url(), options).await.expect("connect to the cluster");
        assert!(format!("{store:?}").contains("cluster: true"));
        assert!(!format!("{store:?}").contains("127.0.0.1"), "no URL in Debug");
        // A fresh cluster knows no script: each first EVALSHA answers
        // NOSCRIPT and is loaded and run again.
        crate::store::contract::run(store.clone()).await;
        let authority = crate::Authority::builder(crate::tests::keys())
            .users(crate::tests::users())
            .store(store.clone())
            .build();
        authority.login("alice", "alice-pw").await.expect("login");
        // Every key is on one node, in one slot: the prefix's.
        let mut found = Vec::new();
        for port in cluster.ports() {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("url");
            let mut node = client.get_multiplexed_async_connection().await.expect("a node");
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("{{{prefix}}}:*")).query_async(&mut node).await.expect("keys");
            let mut slots = Vec::new();
            for key in &keys {
                let slot: i64 =
                    redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).query_async(&mut node).await.expect("slot");
                slots.push(slot);
            }
            let tag: i64 =
                redis::cmd("CLUSTER").arg("KEYSLOT").arg(&prefix).query_async(&mut node).await.expect("slot");
            assert!(slots.iter().all(|slot| *slot == tag), "every key in the prefix's slot {tag}: {slots:?}");
            found.push(keys.len());
        }
        assert_eq!(found.iter().filter(|n| **n > 0).count(), 1, "one node holds the store: {found:?}");
        // A pub/sub connection on a seed node.
        let mut pubsub = store.open_pubsub().await.expect("pub/sub on the cluster");
        pubsub.subscribe("auth-core-test").await.expect("subscribe");
    });
}

#[test]
fn passes_the_store_contract_on_a_tls_cluster() {
    let Some(cluster) = RedisCluster::own_tls() else { return };
    rt().block_on(async {
        let ca = cluster.ca_file().expect("a TLS cluster has a CA");
        let store = RedisStore::connect_with(cluster.url(), prefixed().ca_file(ca)).await.expect("connect");
        crate::store::contract::run(store).await;
        // Without the CA the cluster's certificates do not verify.
        assert!(RedisStore::connect_with(cluster.url(), prefixed()).await.is_err(), "verification is on");
    });
}

#[test]
fn a_lazy_cluster_store_starts_while_the_cluster_is_down() {
    let ports = [crate::store::test_services::free_port(), crate::store::test_services::free_port()];
    let [Some(a), Some(b)] = ports else { return };
    rt().block_on(async {
        let url = format!("redis-cluster://127.0.0.1:{a},127.0.0.1:{b}");
        let store = RedisStore::lazy(&url, prefixed().timeout(Duration::from_millis(200))).expect("made");
        let token = TokenRef { jti: Some("j"), family: None, sub: "s", iat: 0 };
        for _ in 0..2 {
            // Each call tries again, and fails closed.
            assert!(store.is_revoked(&token, crate::time::now()).await.is_err());
        }
        assert!(
            RedisStore::connect_with(&url, prefixed().timeout(Duration::from_millis(200))).await.is_err()
        );
    });
}
