//! The unit tests of [`RedisStore`]: the store contract, what the keys hold,
//! and an outage, against a `redis-server` of their own (skipped without
//! one).

use super::*;
use crate::store::test_services::RedisServer;
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
        for kind in ["r", "f", "o", "a"] {
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
        let options = prefixed().timeout(Duration::from_millis(200));
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
