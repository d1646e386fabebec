//! The contract every [`Store`] must pass, as one function a backend's own
//! test calls (feature `store-tests`), the way tower-sessions' third-party
//! stores test themselves:
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! auth_core::store_tests::run(auth_core::MemoryStore::new()).await;
//! # })
//! ```
//!
//! It covers every method of the trait: revocation until expiry and
//! forgetting after it, the subject cut-off by `iat`, families (create,
//! rotate, grace, reuse, dead, extend, revoke), opaque credentials (put,
//! get, rotate, reuse, delete), attempt counters and their windows, and 50
//! concurrent `rotate_family`, `rotate_opaque` and `count_attempt` calls on
//! one value from separate tasks. Every key it writes starts with a fresh
//! random prefix, so it can run against a shared server. It panics, naming
//! the broken rule, at the first failure.

use super::AttemptRule;
use crate::store::{OpaqueRecord, OpaqueRotation, Rotation, Store, TokenRef};

/// Runs the whole contract against `store` (on the caller's tokio
/// runtime; the concurrency checks spawn tasks).
pub async fn run<S: Store + Clone>(store: S) {
    let ns = uuid::Uuid::new_v4().simple().to_string();
    let now = crate::time::now();
    revocations(&store, &ns, now).await;
    subjects(&store, &ns, now).await;
    families(&store, &ns, now).await;
    family_lifetimes(&store, &ns, now).await;
    opaque(&store, &ns, now).await;
    counters(&store, &ns, now).await;
    concurrent_family_rotations(&store, &ns, now).await;
    concurrent_opaque_rotations(&store, &ns, now).await;
    concurrent_attempts(&store, &ns, now).await;
    cached_tokens_still_ask_the_store(store).await;
}

/// The verified-token cache in front of this store: every kind of
/// revocation refuses a cached token on the very next request.
async fn cached_tokens_still_ask_the_store<S: Store + Clone>(store: S) {
    use crate::{AuthError, Authority, Credentials, JwtKey, KeySet, Principal, TokenRejection};
    let key = JwtKey::hs256("contract", &[7; 32]).expect("key");
    let authority = Authority::builder(KeySet::new(key).expect("keys")).store(store).build();
    let revoked = Err(AuthError::InvalidToken(TokenRejection::Revoked));
    let sub = format!("contract-{}", uuid::Uuid::new_v4().simple());
    let principal = Principal::new(&sub, "contract-user");
    let cached = |token: String| async {
        let credentials = Credentials::Bearer(token);
        let hits = authority.token_cache_stats().hits;
        authority.authenticate(&credentials).await.expect("valid");
        authority.authenticate(&credentials).await.expect("valid, from the cache");
        assert_eq!(authority.token_cache_stats().hits, hits + 1, "cached");
        credentials
    };
    let pair = authority.issue(&principal).await.expect("issue");
    let credentials = cached(pair.access_token).await;
    authority.revoke(&pair.access_claims).await.expect("revoke");
    assert_eq!(authority.authenticate(&credentials).await.map(|_| ()), revoked, "token revoked");
    let pair = authority.issue(&principal).await.expect("issue");
    let credentials = cached(pair.access_token).await;
    let family = pair.access_claims.fam.as_deref().expect("a family");
    authority.revoke_family(family).await.expect("revoke family");
    assert_eq!(authority.authenticate(&credentials).await.map(|_| ()), revoked, "family revoked");
    let pair = authority.issue(&principal).await.expect("issue");
    let credentials = cached(pair.access_token).await;
    authority.revoke_subject(&sub).await.expect("revoke subject");
    assert_eq!(authority.authenticate(&credentials).await.map(|_| ()), revoked, "subject revoked");
}

fn token<'a>(jti: Option<&'a str>, family: Option<&'a str>, sub: &'a str, iat: i64) -> TokenRef<'a> {
    TokenRef { jti, family, sub, iat }
}

async fn revoked(store: &impl Store, token: &TokenRef<'_>, now: i64) -> bool {
    store.is_revoked(token, now).await.expect("is_revoked")
}

async fn revocations(store: &impl Store, ns: &str, now: i64) {
    let jti = format!("{ns}-jti");
    store.revoke_token(&jti, now + 100, now).await.expect("revoke_token");
    let t = token(Some(&jti), None, "someone", now - 10);
    assert!(revoked(store, &t, now).await, "a revoked token id is revoked");
    assert!(revoked(store, &t, now + 99).await, "until its expiry");
    assert!(!revoked(store, &t, now + 100).await, "and forgotten at its expiry");
    let other = format!("{ns}-other");
    assert!(!revoked(store, &token(Some(&other), None, "someone", now), now).await, "only that id");
    assert!(!revoked(store, &token(None, None, "someone", now), now).await, "no id, no revocation");
}

async fn subjects(store: &impl Store, ns: &str, now: i64) {
    let sub = format!("{ns}-sub");
    store.revoke_subject(&sub, now, now + 1000, now).await.expect("revoke_subject");
    assert!(revoked(store, &token(None, None, &sub, now), now).await, "issued at the cut-off: revoked");
    assert!(revoked(store, &token(None, None, &sub, now - 500), now).await, "issued before: revoked");
    assert!(!revoked(store, &token(None, None, &sub, now + 1), now + 1).await, "issued after: not revoked");
    let other = format!("{ns}-sub2");
    assert!(!revoked(store, &token(None, None, &other, now), now).await, "other subjects untouched");
    // an earlier cut-off never lowers a later one
    store.revoke_subject(&sub, now - 100, now + 10, now).await.expect("revoke_subject");
    assert!(revoked(store, &token(None, None, &sub, now - 50), now).await, "the later cut-off stays");
    assert!(!revoked(store, &token(None, None, &sub, now), now + 1000).await, "forgotten after keep_until");
}

async fn families(store: &impl Store, ns: &str, now: i64) {
    let f = format!("{ns}-fam");
    store.create_family(&f, "a", now + 1000, now).await.expect("create_family");
    assert!(store.family_is_current(&f, "a", now).await.expect("current"), "the first token is current");
    let rotate = |presented: &'static str, next: &'static str, grace: i64, at: i64| {
        let f = f.clone();
        async move { store.rotate_family(&f, presented, next, grace, now + 1000, at).await.expect("rotate") }
    };
    assert_eq!(rotate("a", "b", 10, now + 1).await, Rotation::Rotated);
    assert!(store.family_is_current(&f, "b", now + 1).await.expect("current"), "the next token is current");
    assert!(!store.family_is_current(&f, "a", now + 1).await.expect("current"), "the old one is not");
    assert_eq!(rotate("a", "x", 10, now + 5).await, Rotation::Grace { current: "b".into() }, "grace once");
    assert_eq!(rotate("a", "x", 10, now + 6).await, Rotation::Reused, "a second late twin is reuse");
    assert_eq!(rotate("b", "c", 10, now + 7).await, Rotation::Dead, "reuse killed the family");
    assert!(revoked(store, &token(None, Some(&f), "s", now), now + 7).await, "its tokens are revoked");
    assert!(!store.extend_family(&f, now + 2000, now + 7).await.expect("extend"), "a dead family stays dead");

    let g = format!("{ns}-fam2");
    store.create_family(&g, "a", now + 1000, now).await.expect("create_family");
    assert_eq!(
        store.rotate_family(&g, "a", "b", 0, now + 1000, now).await.expect("rotate"),
        Rotation::Rotated
    );
    let late = store.rotate_family(&g, "a", "x", 0, now + 1000, now + 1).await.expect("rotate");
    assert_eq!(late, Rotation::Reused, "without grace a rotated token is reuse at once");

    let h = format!("{ns}-fam3");
    store.create_family(&h, "a", now + 1000, now).await.expect("create_family");
    store.revoke_family(&h, now).await.expect("revoke_family");
    assert!(revoked(store, &token(None, Some(&h), "s", now), now).await, "a revoked family's tokens");
    assert!(!store.family_is_current(&h, "a", now).await.expect("current"), "nothing is current in it");
    let after = store.rotate_family(&h, "a", "b", 0, now + 1000, now).await.expect("rotate");
    assert_eq!(after, Rotation::Dead, "a revoked family never rotates");
    let unknown = format!("{ns}-nofam");
    let none = store.rotate_family(&unknown, "a", "b", 0, now + 1000, now).await.expect("rotate");
    assert_eq!(none, Rotation::Dead, "an unknown family is dead");
    assert!(!revoked(store, &token(None, Some(&unknown), "s", now), now).await, "but revokes nothing");
    store.revoke_family(&unknown, now).await.expect("revoking an unknown family is no error");
}

async fn family_lifetimes(store: &impl Store, ns: &str, now: i64) {
    let f = format!("{ns}-life");
    store.create_family(&f, "a", now + 100, now).await.expect("create_family");
    assert!(store.extend_family(&f, now + 500, now).await.expect("extend"), "a live family extends");
    // past its first expiry, within the extension: still alive
    assert!(store.family_is_current(&f, "a", now + 300).await.expect("current"), "the extension holds");
    let rotated = store.rotate_family(&f, "a", "b", 0, now + 900, now + 300).await.expect("rotate");
    assert_eq!(rotated, Rotation::Rotated);
    assert!(
        store.family_is_current(&f, "b", now + 800).await.expect("current"),
        "rotation pushes expiry out"
    );
    assert!(!store.family_is_current(&f, "b", now + 900).await.expect("current"), "and it ends there");
    let dead = store.rotate_family(&f, "b", "c", 0, now + 2000, now + 900).await.expect("rotate");
    assert_eq!(dead, Rotation::Dead, "an expired family is dead");
    assert!(!store.extend_family(&f, now + 2000, now + 900).await.expect("extend"), "and cannot be extended");
    let unknown = format!("{ns}-life-none");
    assert!(!store.extend_family(&unknown, now + 100, now).await.expect("extend"), "unknown: not extended");
}

fn record(now: i64, refresh_hash: [u8; 32]) -> OpaqueRecord {
    OpaqueRecord {
        sub: "u-1".into(),
        username: "user".into(),
        roles: vec!["r".into()],
        token_hash: [1; 32],
        refresh_hash,
        expires_at: now + 50,
        refresh_expires_at: now + 100,
        auth_time: now,
        issued_at: now,
        retired: Vec::new(),
    }
}

async fn opaque(store: &impl Store, ns: &str, now: i64) {
    let key = format!("{ns}-opaque");
    let first = record(now, [2; 32]);
    store.put_opaque(&key, first.clone(), now).await.expect("put_opaque");
    assert_eq!(store.get_opaque(&key, now).await.expect("get"), Some(first.clone()), "stored as given");
    assert_eq!(store.get_opaque(&key, now + 100).await.expect("get"), None, "forgotten at refresh expiry");
    let rotate = |hash: [u8; 32], next: [u8; 32]| {
        let key = key.clone();
        async move { store.rotate_opaque(&key, &hash, record(now, next), 0, now + 1).await.expect("rotate") }
    };
    assert_eq!(rotate([9; 32], [3; 32]).await, OpaqueRotation::Unknown, "a secret it never had");
    assert_eq!(rotate([2; 32], [3; 32]).await, OpaqueRotation::Rotated);
    let live = store.get_opaque(&key, now + 1).await.expect("get").expect("rotated record");
    assert_eq!(live.refresh_hash, [3; 32], "the next secret is current");
    assert_eq!(live.retired, vec![[2; 32]], "the old one is retired");
    assert_eq!(rotate([3; 32], [4; 32]).await, OpaqueRotation::Rotated);
    assert_eq!(rotate([2; 32], [5; 32]).await, OpaqueRotation::Reused, "a retired secret is reuse");
    assert_eq!(store.get_opaque(&key, now + 1).await.expect("get"), None, "reuse deletes the pair");
    assert_eq!(rotate([4; 32], [5; 32]).await, OpaqueRotation::Unknown, "nothing left to rotate");

    let other = format!("{ns}-opaque2");
    store.put_opaque(&other, record(now, [6; 32]), now).await.expect("put_opaque");
    assert!(store.delete_opaque(&other, now).await.expect("delete"), "deleting a live pair");
    assert!(!store.delete_opaque(&other, now).await.expect("delete"), "deleting it twice");
    assert_eq!(store.get_opaque(&other, now).await.expect("get"), None);
    let late = store.rotate_opaque(&other, &[6; 32], record(now, [7; 32]), 0, now).await.expect("rotate");
    assert_eq!(late, OpaqueRotation::Unknown, "a deleted pair cannot rotate");
    opaque_checked(store, ns, now).await;
    opaque_grace(store, ns, now).await;
}

/// A refresh secret retried within the grace after its rotation (its
/// answer was lost) rotates once more; a second retry, or one too late,
/// is reuse.
async fn opaque_grace(store: &impl Store, ns: &str, now: i64) {
    let key = format!("{ns}-opaque-grace");
    store.put_opaque(&key, record(now, [20; 32]), now).await.expect("put_opaque");
    let rotate = |hash: [u8; 32], next: [u8; 32], at: i64| {
        let key = key.clone();
        let next = OpaqueRecord { issued_at: at, ..record(now, next) };
        async move { store.rotate_opaque(&key, &hash, next, 10, at).await.expect("rotate") }
    };
    assert_eq!(rotate([20; 32], [21; 32], now + 1).await, OpaqueRotation::Rotated);
    assert_eq!(
        rotate([20; 32], [22; 32], now + 5).await,
        OpaqueRotation::Rotated,
        "a retry within the grace"
    );
    let live = store.get_opaque(&key, now + 5).await.expect("get").expect("the pair goes on");
    assert_eq!(live.refresh_hash, [22; 32], "the retry's secret is current");
    assert_eq!(rotate([20; 32], [23; 32], now + 6).await, OpaqueRotation::Reused, "a second retry is reuse");
    assert_eq!(store.get_opaque(&key, now + 6).await.expect("get"), None);

    let late = format!("{ns}-opaque-late");
    store.put_opaque(&late, record(now, [30; 32]), now).await.expect("put_opaque");
    let next = OpaqueRecord { issued_at: now + 1, ..record(now, [31; 32]) };
    assert_eq!(
        store.rotate_opaque(&late, &[30; 32], next, 10, now + 1).await.expect("rotate"),
        OpaqueRotation::Rotated
    );
    let again = OpaqueRecord { issued_at: now + 12, ..record(now, [32; 32]) };
    let answer = store.rotate_opaque(&late, &[30; 32], again, 10, now + 12).await.expect("rotate");
    assert_eq!(answer, OpaqueRotation::Reused, "after the grace a retry is reuse");
}

async fn opaque_checked(store: &impl Store, ns: &str, now: i64) {
    let key = format!("{ns}-opaque3");
    let rec = OpaqueRecord { sub: format!("{ns}-opaque-sub"), ..record(now, [8; 32]) };
    let checked = |at: i64| {
        let key = key.clone();
        async move { store.get_opaque_checked(&key, at).await.expect("get_opaque_checked") }
    };
    store.put_opaque(&key, rec.clone(), now).await.expect("put_opaque");
    assert_eq!(checked(now).await, Some((rec.clone(), false)), "a live record, its subject not revoked");
    store.revoke_subject(&rec.sub, now, now + 1000, now).await.expect("revoke_subject");
    assert_eq!(checked(now).await, Some((rec.clone(), true)), "issued at the subject's cut-off: revoked");
    let later = OpaqueRecord { issued_at: now + 1, ..rec.clone() };
    store.put_opaque(&key, later.clone(), now + 1).await.expect("put_opaque");
    assert_eq!(checked(now + 1).await, Some((later, false)), "issued after the cut-off: not revoked");
    assert_eq!(checked(now + 100).await, None, "forgotten at its refresh expiry");
    let unknown = format!("{ns}-opaque-none");
    assert_eq!(store.get_opaque_checked(&unknown, now).await.expect("get_opaque_checked"), None);
}

async fn counters(store: &impl Store, ns: &str, now: i64) {
    let key = format!("{ns}-counter");
    let rule = AttemptRule { free: 2, window_secs: 60, first_delay: 30, max_delay: 60 };
    // the store must answer exactly what the rule says, step by step
    let mut expected = None;
    for at in [now, now + 1, now + 2, now + 31, now + 32] {
        let (state, want) = rule.apply(expected, at);
        expected = Some(state);
        let got = store.count_attempt(&key, &rule, at).await.expect("count_attempt");
        assert_eq!(got, want, "count_attempt at +{} follows AttemptRule::apply", at - now);
    }
    assert_eq!(store.attempts(&key, now + 32).await.expect("attempts"), 5, "every attempt is counted");
    store.take_back_attempt(&key, &rule, now + 32).await.expect("take_back");
    assert_eq!(store.attempts(&key, now + 32).await.expect("attempts"), 4, "one taken back");
    store.clear_attempts(&key, now + 32).await.expect("clear");
    assert_eq!(store.attempts(&key, now + 32).await.expect("attempts"), 0, "cleared");
    let fresh = store.count_attempt(&key, &rule, now + 33).await.expect("count_attempt");
    assert_eq!((fresh.allowed, fresh.count), (true, 1), "a cleared counter starts over");
    assert_eq!(store.attempts(&key, now + 33 + 60).await.expect("attempts"), 0, "forgotten after the window");
    let later = store.count_attempt(&key, &rule, now + 33 + 60).await.expect("count_attempt");
    assert_eq!(later.count, 1, "a new window starts over");
    let unknown = format!("{ns}-counter-none");
    store.take_back_attempt(&unknown, &rule, now).await.expect("taking back from nothing is no error");
    assert_eq!(store.attempts(&unknown, now).await.expect("attempts"), 0);
}

async fn concurrent_family_rotations<S: Store + Clone>(store: &S, ns: &str, now: i64) {
    let f = format!("{ns}-race");
    store.create_family(&f, "a", now + 1000, now).await.expect("create_family");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (store, f) = (store.clone(), f.clone());
            tokio::spawn(
                async move { store.rotate_family(&f, "a", &format!("n{i}"), 0, now + 1000, now).await },
            )
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        if task.await.expect("task").expect("rotate_family") == Rotation::Rotated {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "of 50 concurrent rotate_family calls exactly one wins");
}

async fn concurrent_opaque_rotations<S: Store + Clone>(store: &S, ns: &str, now: i64) {
    let key = format!("{ns}-race-opaque");
    store.put_opaque(&key, record(now, [2; 32]), now).await.expect("put_opaque");
    let tasks: Vec<_> = (0..50u8)
        .map(|i| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                store.rotate_opaque(&key, &[2; 32], record(now, [100 + i; 32]), 0, now).await
            })
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        if task.await.expect("task").expect("rotate_opaque") == OpaqueRotation::Rotated {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "of 50 concurrent rotate_opaque calls exactly one wins");
}

async fn concurrent_attempts<S: Store + Clone>(store: &S, ns: &str, now: i64) {
    let key = format!("{ns}-race-counter");
    let rule = AttemptRule { free: 5, window_secs: 60, first_delay: 60, max_delay: 60 };
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move { store.count_attempt(&key, &rule, now).await })
        })
        .collect();
    let mut allowed = 0;
    for task in tasks {
        if task.await.expect("task").expect("count_attempt").allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "of 50 concurrent attempts exactly the free ones pass");
    assert_eq!(store.attempts(&key, now).await.expect("attempts"), 50, "and all 50 are counted");
}
