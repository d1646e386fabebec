//! The verified-token cache: what a hit still checks, what empties it,
//! and its bound.

use serde_json::json;

use super::*;
use crate::{
    AuthError, AuthGuard, AuthIdentity, Check, Credentials, TokenCacheConfig, TokenCacheStats, TokenRejection,
};

fn stats(a: &Authority) -> TokenCacheStats {
    a.token_cache_stats()
}

/// A token signed with the test key, valid from `iat` for `ttl` seconds.
fn token_at(iat: i64, ttl: i64, jti: &str) -> String {
    let claims = json!({"sub": "u-alice", "exp": iat + ttl, "iat": iat, "jti": jti, "token_use": "access"});
    craft_hmac(header("HS256"), claims, SECRET, Algorithm::HS256)
}

#[test]
fn a_second_verification_is_a_hit_and_gives_the_same_identity() {
    let a = authority(AuthorityConfig::default());
    let now = crate::now();
    let token = token_at(now, 60, "j-hit");
    let first = a.verify_access(&token, now).expect("valid");
    assert_eq!(stats(&a), TokenCacheStats { misses: 1, entries: 1, ..stats(&a) });
    let second = a.verify_access(&token, now).expect("still valid");
    assert_eq!((stats(&a).hits, stats(&a).misses), (1, 1));
    assert_eq!(first, second);
    assert!(stats(&a).bytes > token.len() as u64);
}

#[test]
fn a_token_that_shares_a_cached_tokens_tail_misses_and_is_verified() {
    // The cache hashes a token's length and tail (its signature); equality
    // still compares every byte.
    let a = authority(AuthorityConfig::default());
    let now = crate::now();
    let token = token_at(now, 60, "j-tail");
    a.verify_access(&token, now).expect("valid, cached");
    for i in [0, token.len() / 2, token.len() - 40] {
        let mut forged = token.clone().into_bytes();
        forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(forged).expect("ascii");
        assert!(a.verify_access(&forged, now).is_err(), "byte {i} changed: refused");
    }
    assert_eq!((stats(&a).hits, stats(&a).misses), (0, 4), "none of them was a hit");
    a.verify_access(&token, now).expect("the real token still hits");
    assert_eq!(stats(&a).hits, 1);
}

#[test]
fn a_revoked_token_is_refused_on_the_next_request_while_cached() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default());
        let pair = a.issue(&Principal::new("u-alice", "alice")).await.expect("issued");
        let credentials = Credentials::Bearer(pair.access_token.clone());
        a.authenticate(&credentials).await.expect("valid");
        a.authenticate(&credentials).await.expect("valid, from the cache");
        assert_eq!(stats(&a).hits, 1, "the token is cached");
        a.revoke(&pair.access_claims).await.expect("revoked");
        assert_eq!(a.authenticate(&credentials).await, Err(AuthError::InvalidToken(TokenRejection::Revoked)));
        assert_eq!(stats(&a).hits, 2, "refused although the cache still holds it");
        // The guard's no-I/O path says the same.
        let guard = AuthGuard::new(a.clone());
        let header = format!("Bearer {}", pair.access_token);
        let check = guard.begin(crate::AuthorizationRef::One(header.as_bytes()), Default::default);
        assert!(
            matches!(check, Check::Ready(Err(AuthError::InvalidToken(TokenRejection::Revoked)))),
            "{check:?}"
        );
    });
}

#[test]
fn a_store_that_must_be_asked_is_asked_on_every_hit() {
    rt().block_on(async {
        // `Outage` answers only through the async `is_revoked`: the guard must wait for it.
        let store = Outage::default();
        let a = Authority::builder(keys()).store(store.clone()).build();
        let pair = a.issue(&Principal::new("u-alice", "alice")).await.expect("issued");
        let header = format!("Bearer {}", pair.access_token);
        let guard = AuthGuard::new(a.clone());
        let begin = || guard.begin(crate::AuthorizationRef::One(header.as_bytes()), Default::default);
        assert!(matches!(begin(), Check::Pending(_)));
        assert!(begin().outcome().await.expect("valid").is_some());
        assert_eq!(stats(&a).hits, 1, "the second check was a hit, and still waited for the store");
        store.down_after(0);
        assert_eq!(
            begin().outcome().await,
            Err(AuthError::Unavailable),
            "a cached token needs the store too"
        );
    });
}

#[test]
fn an_expired_token_is_refused_at_exp_plus_leeway_while_cached() {
    let a = authority(AuthorityConfig::default()); // leeway 5 s
    let now = crate::now();
    let token = token_at(now, 60, "j-exp");
    let exp = now + 60;
    a.verify_access(&token, now).expect("cached");
    a.verify_access(&token, exp - 1).expect("a hit just before exp");
    assert_eq!(stats(&a).hits, 1);
    // From exp on the entry is not used: verified again, accepted within the leeway.
    a.verify_access(&token, exp + 4).expect("within the leeway");
    assert_eq!(stats(&a).hits, 1);
    assert_eq!(a.verify_access(&token, exp + 5), Err(TokenRejection::Expired));
    assert_eq!(a.verify_access(&token, exp + 500), Err(TokenRejection::Expired));
    assert_eq!(stats(&a).hits, 1, "never answered from the cache after exp");
}

#[test]
fn the_clock_claims_are_checked_on_a_hit() {
    // A max age beyond the token's life: only the per-hit clock check can refuse.
    let cache = TokenCacheConfig::default().max_age(std::time::Duration::from_secs(3600));
    let a = authority(AuthorityConfig::default().token_cache(cache));
    let now = crate::now();
    let claims = json!({"sub": "u-alice", "exp": now + 60, "iat": now, "nbf": now, "jti": "j-nbf", "token_use": "access"});
    let token = craft_hmac(header("HS256"), claims, SECRET, Algorithm::HS256);
    a.verify_access(&token, now).expect("cached");
    // The same bytes, asked about before their `nbf` and `iat` (a clock set back).
    assert_eq!(a.verify_access(&token, now - 6), Err(TokenRejection::NotYetValid));
    assert_eq!(stats(&a).hits, 1, "refused on a hit");
    assert_eq!(stats(&a).entries, 0, "and dropped");
}

#[test]
fn an_entry_is_not_used_past_its_max_age() {
    let cache = TokenCacheConfig::default().max_age(std::time::Duration::from_secs(10));
    let a = authority(AuthorityConfig::default().token_cache(cache));
    let now = crate::now();
    let token = token_at(now, 60, "j-age");
    a.verify_access(&token, now).expect("cached");
    a.verify_access(&token, now + 9).expect("hit");
    a.verify_access(&token, now + 10).expect("verified again");
    assert_eq!((stats(&a).hits, stats(&a).misses), (1, 2));
    a.verify_access(&token, now + 11).expect("and cached again");
    assert_eq!(stats(&a).hits, 2);
}

#[test]
fn a_removed_key_empties_the_cache() {
    let old = JwtKey::hs256("old", b"the-old-secret-of-at-least-32-bytes!").expect("key");
    let signer = Authority::builder(KeySet::new(old.clone()).expect("keys")).build();
    let a = Authority::builder(keys().with_verification_key(old)).build();
    rt().block_on(async {
        let pair = signer.issue(&Principal::new("u-alice", "alice")).await.expect("issued");
        let credentials = Credentials::Bearer(pair.access_token.clone());
        a.authenticate(&credentials).await.expect("the old key is trusted");
        a.authenticate(&credentials).await.expect("from the cache");
        assert_eq!((stats(&a).hits, stats(&a).entries), (1, 1));
        a.set_keys(a.keys().without_key("old").expect("not the signing key"));
        assert_eq!(stats(&a).entries, 0, "emptied");
        assert_eq!(
            a.authenticate(&credentials).await,
            Err(AuthError::InvalidToken(TokenRejection::UnknownKey)),
            "refused on the very next request"
        );
        // A token of the remaining key is verified and cached again.
        let mine = a.issue(&Principal::new("u-bob", "bob")).await.expect("issued");
        let mine = Credentials::Bearer(mine.access_token);
        a.authenticate(&mine).await.expect("valid");
        a.authenticate(&mine).await.expect("cached");
        assert_eq!(stats(&a).entries, 1);
    });
}

#[test]
fn a_one_byte_change_misses_and_fails() {
    let a = authority(AuthorityConfig::default());
    let now = crate::now();
    let token = token_at(now, 60, "j-byte");
    a.verify_access(&token, now).expect("cached");
    let flip = |i: usize| {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ascii")
    };
    let (payload_at, signature_at) = (token.find('.').expect("dot") + 3, token.len() - 2);
    for changed in
        [flip(payload_at), flip(signature_at), format!("{token}A"), token[..token.len() - 1].to_owned()]
    {
        assert!(a.verify_access(&changed, now).is_err(), "a changed token is refused");
    }
    assert_eq!((stats(&a).hits, stats(&a).misses), (0, 5), "every change missed");
    assert_eq!(stats(&a).entries, 1, "failures are not cached");
    assert!(a.verify_access(&token, now).is_ok());
    assert_eq!(stats(&a).hits, 1);
}

#[test]
fn refresh_tokens_are_never_served_from_the_cache_as_access_tokens() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default());
        let pair = a.issue(&Principal::new("u-alice", "alice")).await.expect("issued");
        let refresh = pair.refresh_token.expect("a refresh token");
        for _ in 0..2 {
            assert_eq!(
                a.authenticate(&Credentials::Bearer(refresh.clone())).await,
                Err(AuthError::InvalidToken(TokenRejection::WrongUse))
            );
        }
        assert_eq!((stats(&a).hits, stats(&a).entries), (0, 0));
    });
}

#[test]
fn long_tokens_are_verified_every_time_and_off_means_off() {
    let short = TokenCacheConfig::default().max_token_len(64);
    let a = authority(AuthorityConfig::default().token_cache(short));
    let now = crate::now();
    let token = token_at(now, 60, "j-long");
    assert!(token.len() > 64);
    for _ in 0..3 {
        a.verify_access(&token, now).expect("valid");
    }
    assert_eq!((stats(&a).hits, stats(&a).misses, stats(&a).entries), (0, 3, 0));
    let off = authority(AuthorityConfig::default().token_cache(TokenCacheConfig::disabled()));
    for _ in 0..3 {
        off.verify_access(&token, now).expect("valid");
    }
    assert_eq!(stats(&off), TokenCacheStats { max_bytes: stats(&off).max_bytes, ..Default::default() });
}

#[test]
fn a_flood_of_distinct_tokens_stays_within_the_bound() {
    const BOUND: usize = 1 << 20;
    let cache = TokenCacheConfig::default().max_bytes(BOUND);
    let a = authority(AuthorityConfig::default().token_cache(cache));
    let now = crate::now();
    let hot = token_at(now, 600, "hot");
    let mut hot_hits = 0;
    let mut peak = 0;
    for i in 0..100_000 {
        let token = token_at(now, 600, &format!("flood-{i}"));
        let identity: AuthIdentity = a.verify_access(&token, now).expect("valid");
        assert_eq!(identity.claims.jti.as_deref(), Some(format!("flood-{i}").as_str()));
        if i % 100 == 0 {
            let before = stats(&a).hits;
            a.verify_access(&hot, now).expect("valid");
            hot_hits += stats(&a).hits - before;
        }
        peak = peak.max(stats(&a).bytes);
    }
    let s = stats(&a);
    assert!(peak <= BOUND as u64, "weight {peak} over the bound {BOUND}");
    assert!(s.entries > 100, "the cache is in use: {s:?}");
    assert!(s.entries < 10_000, "entries are evicted: {s:?}");
    // One-hit tokens pass through probation; the token that keeps coming back stays.
    assert!(hot_hits >= 990, "the hot token kept its place: {hot_hits} hits of 1000");
}

#[test]
fn a_cached_token_gets_the_same_verdict_in_any_header_spelling() {
    rt().block_on(async {
        let cached = authority(AuthorityConfig::default());
        let plain = authority(AuthorityConfig::default().token_cache(TokenCacheConfig::disabled()));
        let pair = cached.issue(&Principal::new("u-alice", "alice")).await.expect("issued");
        let t = pair.access_token;
        let (with_cache, without) = (AuthGuard::new(cached.clone()), AuthGuard::new(plain));
        with_cache.check(Some(format!("Bearer {t}").as_bytes())).await.expect("cached now");
        let spellings = [
            format!("Bearer {t}"),
            format!("bearer {t}"),
            format!("Bearer   {t}"),
            format!(" Bearer {t}\t"),
            format!("Bearer\t{t}"),
            format!("Bearer {t} "),
            format!("Bearer {t}="),
            format!("Bearer {t},"),
            format!("Bearer {t} x"),
            format!("Token {t}"),
            format!("Basic {t}"),
            format!("Bearer{t}"),
        ];
        for header in &spellings {
            let got = with_cache.check(Some(header.as_bytes())).await;
            let expected = without.check(Some(header.as_bytes())).await;
            assert_eq!(got, expected, "{header:?}");
        }
        assert!(stats(&cached).hits >= 4, "the well-formed spellings were hits: {:?}", stats(&cached));
    });
}
