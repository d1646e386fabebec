//! The authority's flows: login, refresh with rotation, reuse, grace,
//! session cap, extend, revocation and throttling.

use std::time::Duration;

use super::*;
use crate::{AuthError, Credentials, Dialect as _, Store as _, TokenRejection, UserStore as _};

fn refresh_of(pair: &crate::TokenPair) -> String {
    pair.refresh_token.clone().expect("a refresh token")
}

#[test]
fn login_never_says_whether_the_user_exists() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default());
        let wrong = a.login("alice", "nope").await.unwrap_err();
        let unknown = a.login("mallory", "nope").await.unwrap_err();
        assert_eq!(wrong, AuthError::InvalidCredentials);
        assert_eq!(wrong, unknown);
        assert_eq!(wrong.to_string(), unknown.to_string());
        let pair = a.login("alice", "alice-pw").await.expect("login");
        assert_eq!(pair.expires_in(), 900);
        let id = a.authenticate(&Credentials::Bearer(pair.access_token.clone())).await.expect("access");
        assert_eq!((id.sub(), id.username(), id.roles()), ("u-alice", "alice", &["admin".to_string()][..]));
        let basic = Credentials::Basic { user: "bob".into(), password: "bob-pw".into() };
        assert_eq!(a.authenticate(&basic).await.expect("basic").sub(), "u-bob");
    });
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default().reuse_grace(Duration::ZERO));
        let first = a.login("alice", "alice-pw").await.expect("login");
        let second = a.refresh(&refresh_of(&first)).await.expect("refresh");
        assert_ne!(refresh_of(&first), refresh_of(&second));
        assert_eq!(second.access_claims.auth_time, first.access_claims.auth_time);
        // the rotated token again: reuse, the family dies
        assert_eq!(
            a.refresh(&refresh_of(&first)).await,
            Err(AuthError::InvalidToken(TokenRejection::Reused))
        );
        assert_eq!(
            a.refresh(&refresh_of(&second)).await,
            Err(AuthError::InvalidToken(TokenRejection::Revoked))
        );
        assert_eq!(
            a.authenticate_token(&second.access_token).await,
            Err(AuthError::InvalidToken(TokenRejection::Revoked))
        );
        // a refresh token is never an access token, and the reverse
        assert_eq!(
            a.authenticate_token(&refresh_of(&second)).await,
            Err(AuthError::InvalidToken(TokenRejection::WrongUse))
        );
        assert_eq!(
            a.refresh(&second.access_token).await,
            Err(AuthError::InvalidToken(TokenRejection::WrongUse))
        );
    });
}

#[test]
fn fifty_concurrent_refreshes_exactly_one_wins() {
    rt().block_on(async {
        // no grace: one rotation, every other presentation is reuse
        // (the default grace lets one more through: see the next test)
        for (grace, expected_wins) in [(Duration::ZERO, 1), (crate::DEFAULT_REUSE_GRACE, 2)] {
            let a = authority(AuthorityConfig::default().reuse_grace(grace));
            let token = refresh_of(&a.login("bob", "bob-pw").await.expect("login"));
            let tasks: Vec<_> = (0..50)
                .map(|_| {
                    let (a, token) = (a.clone(), token.clone());
                    tokio::spawn(async move { a.refresh(&token).await })
                })
                .collect();
            let mut winners = Vec::new();
            for t in tasks {
                match t.await.expect("task") {
                    Ok(pair) => winners.push(pair.refresh_claims.and_then(|c| c.jti)),
                    Err(e) => assert!(matches!(
                        e,
                        AuthError::InvalidToken(TokenRejection::Reused | TokenRejection::Revoked)
                    )),
                }
            }
            assert_eq!(winners.len(), expected_wins, "grace {grace:?}");
            // the grace answer is the same generation as the rotation's
            assert!(winners.windows(2).all(|w| w[0] == w[1]));
        }
    });
}

#[test]
fn a_refresh_whose_answer_was_lost_is_retried_without_killing_the_session() {
    rt().block_on(async {
        // The default: a client that rotated but never got the answer (a
        // store timeout after the commit, a dropped connection) retries
        // with the token it had and gets a fresh pair; the family goes on.
        let a = authority(AuthorityConfig::default());
        assert_eq!(a.config().reuse_grace, crate::DEFAULT_REUSE_GRACE);
        let first = a.login("alice", "alice-pw").await.expect("login");
        let lost = a.refresh(&refresh_of(&first)).await.expect("rotated, answer lost");
        let retried = a.refresh(&refresh_of(&first)).await.expect("the retry is not reuse");
        assert_ne!(retried.access_token, lost.access_token);
        a.authenticate_token(&retried.access_token).await.expect("the retry's access token works");
        let next = a.refresh(&refresh_of(&retried)).await.expect("the family goes on");
        a.authenticate_token(&next.access_token).await.expect("and keeps working");
        // the rotated-away token a second time, or any older one: reuse
        let second = a.login("alice", "alice-pw").await.expect("login");
        let rotated = a.refresh(&refresh_of(&second)).await.expect("rotate");
        a.refresh(&refresh_of(&second)).await.expect("one grace answer");
        assert_eq!(
            a.refresh(&refresh_of(&second)).await,
            Err(AuthError::InvalidToken(TokenRejection::Reused))
        );
        assert_eq!(
            a.refresh(&refresh_of(&rotated)).await,
            Err(AuthError::InvalidToken(TokenRejection::Revoked))
        );
    });
}

#[test]
fn grace_window_allows_one_late_twin() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default().reuse_grace(Duration::from_secs(30)));
        let first = a.login("alice", "alice-pw").await.expect("login");
        let tab_a = a.refresh(&refresh_of(&first)).await.expect("tab a");
        let tab_b = a.refresh(&refresh_of(&first)).await.expect("tab b, within grace");
        assert_eq!(
            tab_a.refresh_claims.as_ref().and_then(|c| c.jti.clone()),
            tab_b.refresh_claims.and_then(|c| c.jti)
        );
        assert_eq!(
            a.refresh(&refresh_of(&first)).await,
            Err(AuthError::InvalidToken(TokenRejection::Reused))
        );
    });
}

#[test]
fn no_rotation_keeps_the_refresh_token() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default().rotate_refresh(false));
        let first = a.login("alice", "alice-pw").await.expect("login");
        for _ in 0..3 {
            let next = a.refresh(&refresh_of(&first)).await.expect("refresh");
            assert!(next.refresh_token.is_none());
            a.authenticate_token(&next.access_token).await.expect("new access token works");
        }
        a.revoke_family(first.access_claims.fam.as_deref().expect("family")).await.expect("revoke");
        assert_eq!(
            a.refresh(&refresh_of(&first)).await,
            Err(AuthError::InvalidToken(TokenRejection::Revoked))
        );
    });
}

#[test]
fn session_cap_stops_refresh() {
    rt().block_on(async {
        let now = crate::now();
        let refresh = serde_json::json!({
            "sub": "u-alice", "exp": now + 1000, "iat": now - 100, "jti": "r1",
            "token_use": "refresh", "auth_time": now - 100, "fam": "f1"
        });
        let token = craft_hmac(header("HS256"), refresh, SECRET, Algorithm::HS256);
        let capped = authority(AuthorityConfig::default().refresh_window(Some(Duration::from_secs(60))));
        assert_eq!(
            capped.refresh(&token).await,
            Err(AuthError::InvalidToken(TokenRejection::SessionExpired))
        );
        // within the window the cap passes, and the unknown family is what refuses it
        let open = authority(AuthorityConfig::default().refresh_window(Some(Duration::from_secs(200))));
        assert_eq!(open.refresh(&token).await, Err(AuthError::InvalidToken(TokenRejection::Revoked)));
        // issued refresh tokens never outlive the window
        let pair = capped.login("alice", "alice-pw").await.expect("login");
        let r = pair.refresh_claims.expect("refresh claims");
        assert_eq!(r.exp, r.auth_time.expect("auth_time") + 60);
    });
}

#[test]
fn extend_keeps_the_old_token_and_logout_revokes() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default());
        let pair = a.login("alice", "alice-pw").await.expect("login");
        let extended = a.extend(&pair.access_token).await.expect("extend");
        assert_ne!(extended.access_claims.jti, pair.access_claims.jti);
        let old = a.authenticate_token(&pair.access_token).await.expect("old still valid");
        a.authenticate_token(&extended.access_token).await.expect("new valid");
        a.logout(&old, pair.refresh_token.as_deref()).await.expect("logout");
        for t in [&pair.access_token, &extended.access_token] {
            assert_eq!(a.authenticate_token(t).await, Err(AuthError::InvalidToken(TokenRejection::Revoked)));
        }
        assert_eq!(
            a.refresh(&refresh_of(&pair)).await,
            Err(AuthError::InvalidToken(TokenRejection::Revoked))
        );
        assert_eq!(a.introspect(&pair.access_token, crate::TokenUse::Access).await, Ok(None));
    });
}

#[test]
fn revoke_subject_kills_every_session() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default());
        let one = a.login("bob", "bob-pw").await.expect("login");
        let two = a.login("bob", "bob-pw").await.expect("login");
        let alice = a.login("alice", "alice-pw").await.expect("login");
        a.revoke_subject("u-bob").await.expect("revoke");
        for p in [&one, &two] {
            assert!(a.authenticate_token(&p.access_token).await.is_err());
            assert!(a.refresh(&refresh_of(p)).await.is_err());
        }
        a.authenticate_token(&alice.access_token).await.expect("others unaffected");
    });
}

#[test]
fn failed_logins_are_throttled_per_username() {
    rt().block_on(async {
        // The address is unknown here: the per-address and
        // username + address limits are skipped (nothing all clients share
        // stands in for it), the per-user slow-down applies.
        let config =
            AuthorityConfig::default().login_throttle(3, Duration::from_secs(60)).login_slowdown(4, 100);
        let (a, err) = in_one_second(async || {
            let a = authority(config.clone());
            for _ in 0..4 {
                assert_eq!(a.login("bob", "x").await.unwrap_err(), AuthError::InvalidCredentials);
            }
            let answer = a.login("bob", "bob-pw").await;
            (a, answer)
        })
        .await;
        let err = err.expect_err("throttled");
        // one second of delay, plus a random part of it
        assert!(
            matches!(err, AuthError::TooManyAttempts { retry_after } if (1..=2).contains(&retry_after)),
            "{err:?}"
        );
        let res = err.to_response(crate::Scheme::Bearer, "api");
        assert_eq!(res.status, 429);
        assert!(res.header("retry-after").is_some());
        a.login("alice", "alice-pw").await.expect("other users unaffected");
    });
}

/// An authority on a store the test can read, with a hashing queue long
/// enough that no attempt in these tests is refused as busy.
fn throttled(config: AuthorityConfig) -> (crate::Authority, crate::MemoryStore) {
    let store = crate::MemoryStore::new();
    let users = users().with_pool(crate::HashingPool::new(2, 64));
    (crate::Authority::builder(keys()).users(users).store(store.clone()).config(config).build(), store)
}

/// Waits for the start of the next whole second, so that a few attempts in
/// a row fall in one second of the throttle's clock (its delays are whole
/// seconds).
async fn at_a_fresh_second() {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let into_second = u64::from(since_epoch.subsec_millis());
    tokio::time::sleep(Duration::from_millis(1000 - into_second + 20)).await;
}

/// Runs `attempts` (on a fresh authority each time) from the start of a
/// second until they all fall within that one second of the throttle's
/// clock, and answers what they answered. A hash takes a few hundredths of
/// a second, but on a loaded machine the hashing threads (idle priority)
/// may wait long enough to carry a run past the second's end, where the
/// slow-down it tests has already expired; such a run is done again.
async fn in_one_second<T>(mut attempts: impl AsyncFnMut() -> T) -> T {
    for _ in 0..5 {
        at_a_fresh_second().await;
        let second = crate::time::now();
        let answer = attempts().await;
        if crate::time::now() == second {
            return answer;
        }
    }
    panic!("five runs in a row did not fit in one second: the machine is too loaded for this test");
}

fn addr(s: &str) -> Option<std::net::IpAddr> {
    Some(s.parse().expect("test address"))
}

#[test]
fn fifty_parallel_guesses_from_one_address_are_all_counted_and_none_pass_the_limit() {
    rt().block_on(async {
        let (a, store) = throttled(AuthorityConfig::default());
        let guesser = addr("198.51.100.7");
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let a = a.clone();
                tokio::spawn(async move { a.login_from(guesser, "bob", "guess").await })
            })
            .collect();
        let (mut checked, mut throttled) = (0, 0);
        for task in tasks {
            match task.await.expect("task") {
                Err(AuthError::InvalidCredentials) => checked += 1,
                Err(AuthError::TooManyAttempts { retry_after }) => {
                    assert!((890..=900).contains(&retry_after), "{retry_after}");
                    throttled += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // the limit (5) was checked against the hash, the rest never hashed
        assert_eq!((checked, throttled), (5, 45));
        let now = crate::time::now();
        let key = crate::throttle_key_pair("bob", guesser);
        assert_eq!(store.attempts(&key, now).await.expect("store"), 50);
        // the right password from that address waits too...
        let err = a.login_from(guesser, "bob", "bob-pw").await.unwrap_err();
        assert!(matches!(err, AuthError::TooManyAttempts { .. }), "{err:?}");
        // ...but another address logs in, and that does not unlock the first
        a.login_from(addr("198.51.100.8"), "bob", "bob-pw").await.expect("another address");
        let err = a.login_from(guesser, "bob", "bob-pw").await.unwrap_err();
        assert!(matches!(err, AuthError::TooManyAttempts { .. }), "{err:?}");
        // only one username is locked at that address
        a.login_from(guesser, "alice", "alice-pw").await.expect("alice from the same address");
    });
}

#[test]
fn many_addresses_slow_a_username_down_instead_of_locking_it() {
    rt().block_on(async {
        let config = AuthorityConfig::default().login_slowdown(3, 0);
        let (a, store, err) = in_one_second(async || {
            let (a, store) = throttled(config.clone());
            for i in 1..=3 {
                let from = addr(&format!("203.0.113.{i}"));
                assert_eq!(a.login_from(from, "bob", "x").await.unwrap_err(), AuthError::InvalidCredentials);
            }
            // the fourth address is told to wait a second or two, not the window
            let answer = a.login_from(addr("203.0.113.4"), "bob", "bob-pw").await;
            (a, store, answer)
        })
        .await;
        let err = err.expect_err("slowed down");
        assert!(matches!(err, AuthError::TooManyAttempts { retry_after: 1..=2 }), "{err:?}");
        // the refusal was not free: it counts on that address's own counter
        let pair = crate::throttle_key_pair("bob", addr("203.0.113.4"));
        assert_eq!(store.attempts(&pair, crate::time::now()).await.expect("store"), 1);
        // after the delay the user logs in, and the counter starts over
        tokio::time::sleep(Duration::from_millis(1100)).await;
        a.login_from(addr("203.0.113.4"), "bob", "bob-pw").await.expect("after the delay");
        let user = crate::throttle_key_user("bob");
        assert_eq!(store.attempts(&user, crate::time::now()).await.expect("store"), 0);
    });
}

#[test]
fn one_address_spraying_many_usernames_slows_down() {
    rt().block_on(async {
        let config = AuthorityConfig::default().login_slowdown(20, 4);
        let sprayer = addr("192.0.2.66");
        let (a, err) = in_one_second(async || {
            let (a, _) = throttled(config.clone());
            for name in ["ann", "ben", "cat", "dan"] {
                assert_eq!(
                    a.login_from(sprayer, name, "123456").await.unwrap_err(),
                    AuthError::InvalidCredentials
                );
            }
            let answer = a.login_from(sprayer, "eve", "123456").await;
            (a, answer)
        })
        .await;
        let err = err.expect_err("slowed down");
        assert_eq!(err, AuthError::TooManyAttempts { retry_after: 1 });
        // other addresses are not affected
        a.login_from(addr("192.0.2.67"), "alice", "alice-pw").await.expect("another address");
    });
}

#[test]
fn an_attempt_the_pool_refused_is_not_counted() {
    rt().block_on(async {
        let store = crate::MemoryStore::new();
        // one thread and no queue: while it is busy, logins are refused at once
        let pool = crate::HashingPool::new(1, 0);
        let users = users().with_pool(pool.clone());
        // refusals answered at once here: the test counts, not times
        let config = AuthorityConfig::default().hold_refusals(Duration::ZERO, 0);
        let a = crate::Authority::builder(keys()).users(users).store(store.clone()).config(config).build();
        let (started, running) = tokio::sync::oneshot::channel();
        // the pool's one thread is held until the test lets it go
        let (release, released) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    let _ = started.send(());
                    let _ = released.recv();
                })
                .await
            }
        });
        running.await.expect("the blocking job started");
        let from = addr("198.51.100.9");
        for _ in 0..10 {
            assert_eq!(a.login_from(from, "bob", "x").await, Err(AuthError::Busy { retry_after: 1 }));
        }
        let key = crate::throttle_key_pair("bob", from);
        assert_eq!(store.attempts(&key, crate::time::now()).await.expect("store"), 0);
        release.send(()).expect("the blocking job waits");
        blocker.await.expect("task").expect("blocking job ran");
        // once the pool is free (its thread back waiting for work, which on
        // a loaded machine an idle-priority thread may take a while to be)
        // the same address is checked, not throttled
        let mut outcome = a.login_from(from, "bob", "x").await;
        for _ in 0..1000 {
            if outcome != Err(AuthError::Busy { retry_after: 1 }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            outcome = a.login_from(from, "bob", "x").await;
        }
        assert_eq!(outcome, Err(AuthError::InvalidCredentials));
    });
}

#[test]
fn principal_check_cuts_off_deleted_and_disabled_users() {
    rt().block_on(async {
        let users = users();
        let config = AuthorityConfig::default().check_principal(true);
        let a = Authority::builder(keys()).users(users.clone()).config(config).build();
        let alice = a.login("alice", "alice-pw").await.expect("login").access_token;
        let bob = a.login("bob", "bob-pw").await.expect("login").access_token;
        let inactive = AuthError::InvalidToken(TokenRejection::InactivePrincipal);
        assert!(a.authenticate_token(&alice).await.is_ok());
        // disabled: refused at once, and login too
        assert!(users.set_active("alice", false));
        assert_eq!(a.authenticate_token(&alice).await.unwrap_err(), inactive);
        assert_eq!(a.introspect(&alice, crate::TokenUse::Access).await, Ok(None));
        assert_eq!(a.login("alice", "alice-pw").await.unwrap_err(), AuthError::InvalidCredentials);
        assert!(users.set_active("alice", true));
        assert!(a.authenticate_token(&alice).await.is_ok());
        // deleted: refused, others unaffected
        assert!(users.remove_user("alice"));
        assert_eq!(a.authenticate_token(&alice).await.unwrap_err(), inactive);
        assert!(a.authenticate_token(&bob).await.is_ok());
        // off by default: the token lives until it expires
        let lax = Authority::builder(keys()).users(users.clone()).build();
        assert!(lax.authenticate_token(&alice).await.is_ok());
    });
}

#[test]
fn a_revoked_token_stays_refused_through_the_leeway() {
    rt().block_on(async {
        let a = authority(AuthorityConfig::default()); // leeway 5 s
        let now = crate::now();
        let mut claims = access_claims(now);
        claims["iat"] = serde_json::json!(now - 60);
        claims["exp"] = serde_json::json!(now - 2); // expired, but within the leeway
        let token = craft_hmac(header("HS256"), claims, SECRET, Algorithm::HS256);
        let identity = a.authenticate_token(&token).await.expect("accepted within the leeway");
        a.revoke(&identity.claims).await.expect("revoke");
        assert_eq!(
            a.authenticate_token(&token).await.unwrap_err(),
            AuthError::InvalidToken(TokenRejection::Revoked)
        );
    });
}

#[test]
fn sessions_reload_the_principal_and_keep_application_claims() {
    rt().block_on(async {
        let users = users();
        let a = Authority::builder(keys()).users(users.clone()).build();
        let mut alice = Principal::new("u-alice", "alice").with_role("admin");
        alice.extra.insert("tenant".into(), "acme".into());
        let first = a.issue(&alice).await.expect("issue");
        // a role change shows in the next access token; `extra` survives
        assert!(users.update_principal(Principal::new("u-alice", "alice").with_role("auditor")));
        let second = a.refresh(&refresh_of(&first)).await.expect("refresh");
        let id = a.authenticate_token(&second.access_token).await.expect("access");
        assert_eq!(id.roles(), ["auditor".to_string()]);
        assert_eq!(id.app_claims().get("tenant"), Some(&serde_json::json!("acme")));
        let extended = a.extend(&second.access_token).await.expect("extend");
        let id = a.authenticate_token(&extended.access_token).await.expect("access");
        assert_eq!(id.app_claims().get("tenant"), Some(&serde_json::json!("acme")));
        assert_eq!(extended.access_claims.auth_time, first.access_claims.auth_time);
        assert_eq!(extended.access_claims.fam, first.access_claims.fam);
        // a deleted user cannot refresh or extend, even with the principal check off
        assert!(users.remove_user("alice"));
        let inactive = AuthError::InvalidToken(TokenRejection::InactivePrincipal);
        assert_eq!(a.refresh(&refresh_of(&second)).await.unwrap_err(), inactive);
        assert_eq!(a.extend(&second.access_token).await.unwrap_err(), inactive);
    });
}

#[test]
fn a_deleted_user_cannot_refresh_opaque_credentials() {
    rt().block_on(async {
        let users = users();
        let a = Authority::builder(keys()).users(users.clone()).build();
        let bob = users.load("u-bob").await.expect("load").expect("bob");
        let creds = a.issue_opaque(&bob).await.expect("issue");
        let renewed = a.refresh_opaque(&creds.key, &creds.refresh).await.expect("refresh");
        assert!(users.remove_user("bob"));
        let err = a.refresh_opaque(&renewed.key, &renewed.refresh).await.unwrap_err();
        assert_eq!(err, AuthError::InvalidToken(TokenRejection::InactivePrincipal));
    });
}

#[test]
fn revoke_subject_kills_a_keytoken_pair() {
    rt().block_on(async {
        let users = users();
        let a = Authority::builder(keys()).users(users.clone()).build();
        let bob = users.load("u-bob").await.expect("load").expect("bob");
        let creds = a.issue_opaque(&bob).await.expect("issue");
        a.authenticate_opaque(&creds.key, &creds.token).await.expect("live");
        a.revoke_subject("u-bob").await.expect("log out everywhere");
        let revoked = AuthError::InvalidToken(TokenRejection::Revoked);
        assert_eq!(a.authenticate_opaque(&creds.key, &creds.token).await.unwrap_err(), revoked);
        assert_eq!(a.refresh_opaque(&creds.key, &creds.refresh).await.unwrap_err(), revoked);
    });
}

#[test]
fn a_reused_keytoken_refresh_secret_kills_the_pair() {
    rt().block_on(async {
        let users = users();
        let a = Authority::builder(keys()).users(users.clone()).build();
        let bob = users.load("u-bob").await.expect("load").expect("bob");
        let first = a.issue_opaque(&bob).await.expect("issue");
        let second = a.refresh_opaque(&first.key, &first.refresh).await.expect("refresh");
        let third = a.refresh_opaque(&second.key, &second.refresh).await.expect("refresh again");
        a.authenticate_opaque(&third.key, &third.token).await.expect("live");
        // the first refresh secret, rotated away two refreshes ago, comes back
        let err = a.refresh_opaque(&first.key, &first.refresh).await.unwrap_err();
        assert_eq!(err, AuthError::InvalidToken(TokenRejection::Reused));
        let unknown = AuthError::InvalidToken(TokenRejection::Unknown);
        assert_eq!(a.authenticate_opaque(&third.key, &third.token).await.unwrap_err(), unknown);
        assert_eq!(a.refresh_opaque(&third.key, &third.refresh).await.unwrap_err(), unknown);
        // a secret it never had is refused without killing anything
        let other = a.issue_opaque(&bob).await.expect("issue");
        let err = a.refresh_opaque(&other.key, "not-a-secret-of-this-key").await.unwrap_err();
        assert_eq!(err, unknown);
        a.authenticate_opaque(&other.key, &other.token).await.expect("still live");
    });
}

#[test]
fn keytoken_sessions_obey_the_session_cap() {
    rt().block_on(async {
        let users = users();
        let store = crate::MemoryStore::new();
        let config = AuthorityConfig::default().refresh_window(Some(Duration::from_secs(50)));
        let a = Authority::builder(keys()).users(users.clone()).store(store.clone()).config(config).build();
        let bob = users.load("u-bob").await.expect("load").expect("bob");
        // no secret outlives the cap
        let creds = a.issue_opaque(&bob).await.expect("issue");
        let now = crate::time::now();
        assert!(creds.expires_at <= now + 50, "{} vs {now}", creds.expires_at);
        // a session that began 100 s ago cannot refresh, though its secrets are live
        let mut record = store.get_opaque(&creds.key, now).await.expect("store").expect("record");
        record.auth_time = now - 100;
        record.refresh_expires_at = now + 1000;
        store.put_opaque(&creds.key, record, now).await.expect("store");
        let err = a.refresh_opaque(&creds.key, &creds.refresh).await.unwrap_err();
        assert_eq!(err, AuthError::InvalidToken(TokenRejection::SessionExpired));
    });
}

#[test]
fn every_dialect_has_a_session_cap_by_default() {
    use crate::dialects::{Datarhei, Drf, Echome, Keytoken, Sachet, Standard};
    let dialects: [&dyn crate::Dialect; 6] =
        [&Standard, &Echome, &Datarhei::default(), &Sachet, &Keytoken::default(), &Drf];
    for d in dialects {
        let cap = d.default_config().refresh_window;
        assert!(cap.is_some_and(|c| c >= d.default_config().access_ttl), "{}: {cap:?}", d.name());
    }
    assert_eq!(AuthorityConfig::default().refresh_window, Some(crate::DEFAULT_SESSION_CAP));
}

#[test]
fn extensions_join_the_family_of_the_token_they_extend() {
    rt().block_on(async {
        let a = authority(crate::dialects::Sachet.default_config());
        let first = a.login_access("bob", "bob-pw").await.expect("login");
        let family = first.access_claims.fam.clone().expect("a single token starts a family");
        let second = a.extend(&first.access_token).await.expect("extend");
        let third = a.extend(&second.access_token).await.expect("extend the extension");
        assert_eq!(third.access_claims.fam.as_deref(), Some(family.as_str()));
        // revoking the family (what Sachet's logout does) ends the whole chain
        a.revoke_family(&family).await.expect("revoke");
        let revoked = AuthError::InvalidToken(TokenRejection::Revoked);
        for pair in [&first, &second, &third] {
            assert_eq!(a.authenticate_token(&pair.access_token).await.unwrap_err(), revoked);
            assert_eq!(a.extend(&pair.access_token).await.unwrap_err(), revoked);
        }
    });
}

#[test]
fn a_refusal_that_cost_no_hash_is_held_and_the_holds_are_bounded() {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().expect("rt");
    rt.block_on(async {
        let delay = Duration::from_millis(250);
        let config =
            AuthorityConfig::default().login_throttle(1, Duration::from_secs(60)).hold_refusals(delay, 1);
        let a = authority(config);
        let from = addr("203.0.113.40");
        assert_eq!(a.login_from(from, "alice", "wrong").await, Err(AuthError::InvalidCredentials));
        // Past the limit: refused before any hash, and held for the delay
        // (the clock is tokio's paused one: it moves only by the timer).
        let start = tokio::time::Instant::now();
        // (the throttle's clock is the wall clock: the hash above may have
        // taken a second or two on a loaded machine)
        let refused = a.login_from(from, "alice", "x").await;
        assert!(matches!(refused, Err(AuthError::TooManyAttempts { retry_after: 55..=60 })), "{refused:?}");
        assert_eq!(start.elapsed(), delay);
        // One hold at a time: a second refusal while one is held is
        // answered at once, and holds are available again afterwards.
        let mut held = Box::pin(a.login_from(from, "alice", "x"));
        let first_poll =
            std::future::poll_fn(|cx| std::task::Poll::Ready(held.as_mut().poll(cx).is_pending()));
        assert!(first_poll.await, "held");
        let start = tokio::time::Instant::now();
        let refused = a.login_from(from, "alice", "x").await;
        assert!(matches!(refused, Err(AuthError::TooManyAttempts { retry_after: 55..=60 })), "{refused:?}");
        assert_eq!(start.elapsed(), Duration::ZERO, "answered at once");
        let refused = held.await;
        assert!(matches!(refused, Err(AuthError::TooManyAttempts { retry_after: 55..=60 })), "{refused:?}");
        let start = tokio::time::Instant::now();
        let _ = a.login_from(from, "alice", "x").await;
        assert_eq!(start.elapsed(), delay, "the hold was given back");
    });
}
