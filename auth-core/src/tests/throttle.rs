//! The login throttle against the attacks it must not serve: a targeted
//! lock-out, a shared or unknown address, floods that would grow its
//! state, and identity providers' logins.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::{
    AuthError, AuthRequest, ExternalIdentity, ExternalSubject, MemoryStore, Peer, RouteSet, Standard,
    Store as _, TokenRejection, UserStore as _,
};

/// Puts the counter `key` of a rule that lets `free` attempts through at
/// its limit and in a 900 s delay (what a patient attacker keeps it in),
/// so that a test does not depend on how long its hashing takes.
async fn hold(store: &MemoryStore, key: &str, free: u32) {
    let now = crate::now();
    let rule = crate::AttemptRule { free, window_secs: 900, first_delay: 900, max_delay: 900 };
    store.clear_attempts(key, now).await.expect("store");
    for _ in 0..free.max(1) {
        store.count_attempt(key, &rule, now).await.expect("store");
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// An authority on a memory store the test can read, refusals answered at once.
fn throttled(config: AuthorityConfig) -> (Authority, MemoryStore) {
    let store = MemoryStore::new();
    let users = users().with_pool(crate::HashingPool::new(2, 64));
    let config = config.hold_refusals(Duration::ZERO, 0);
    (Authority::builder(keys()).users(users).store(store.clone()).config(config).build(), store)
}

/// `POST /login` through the standard route set, from `peer`.
async fn login(routes: &RouteSet, peer: Peer, user: &str, password: &str) -> crate::AuthResponse {
    let body = serde_json::json!({"username": user, "password": password}).to_string();
    let req = AuthRequest::new("POST", "/login")
        .with_content_type("application/json")
        .with_body(body)
        .with_peer(peer);
    routes.handle(req).await
}

fn retry_after(res: &crate::AuthResponse) -> u64 {
    res.header("retry-after").and_then(|v| v.parse().ok()).expect("a Retry-After")
}

#[test]
fn a_successful_login_hands_out_a_device_token_that_is_no_access_or_refresh_token() {
    rt().block_on(async {
        let (a, _) = throttled(AuthorityConfig::default());
        let routes = RouteSet::new(a.clone(), Standard);
        let res = login(&routes, Peer::new(Some(ip("192.0.2.1"))), "bob", "bob-pw").await;
        assert_eq!(res.status, 200);
        let device = res.header("device-token").expect("a device token").to_owned();
        let cookie = res.header("set-cookie").expect("the device cookie");
        assert_eq!(
            cookie,
            format!("device_token={device}; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=2592000")
        );
        // it opens nothing
        assert_eq!(
            a.authenticate_token(&device).await,
            Err(AuthError::InvalidToken(TokenRejection::WrongUse))
        );
        assert_eq!(a.refresh(&device).await, Err(AuthError::InvalidToken(TokenRejection::WrongUse)));
        // a failed login hands out none
        let res = login(&routes, Peer::new(Some(ip("192.0.2.1"))), "bob", "wrong").await;
        assert_eq!(res.status, 400);
        assert!(res.header("device-token").is_none() && res.header("set-cookie").is_none());
        // turned off: none either
        let (off, _) = throttled(AuthorityConfig::default().device_ttl(None));
        let res =
            login(&RouteSet::new(off, Standard), Peer::new(Some(ip("192.0.2.1"))), "bob", "bob-pw").await;
        assert_eq!(res.status, 200);
        assert!(res.header("device-token").is_none());
    });
}

/// The attack of the review: 20 wrong passwords for bob from four
/// addresses reach the per-user limit, then two more addresses poll for
/// the moment the next attempt opens. The owner, from a device or an
/// address that logged in before, logs in at the first try; the pollers
/// pay for their polling.
#[test]
fn an_attacker_cannot_lock_the_owner_out_of_a_device_or_network_used_before() {
    rt().block_on(async {
        let (a, store) = throttled(AuthorityConfig::default());
        let routes = RouteSet::new(a.clone(), Standard);
        // before the attack: the owner logs in at home (and keeps the device token)
        let home = Peer::new(Some(ip("198.51.100.10")));
        let res = login(&routes, home.clone(), "bob", "bob-pw").await;
        assert_eq!(res.status, 200);
        let device = res.header("device-token").expect("device token").to_owned();
        for i in 0..20 {
            let from = Peer::new(Some(ip(&format!("203.0.113.{}", i % 4 + 1))));
            assert_eq!(login(&routes, from, "bob", &format!("guess-{i}")).await.status, 400);
        }
        // The pollers guess on: refused by the per-user slow-down, or let
        // through when a slot opened (hashing takes time); either way every
        // poll counts on the poller's own counters, so the sixth is refused
        // for the rest of the window.
        for poller in ["203.0.113.5", "203.0.113.6"] {
            for _ in 0..5 {
                let res = login(&routes, Peer::new(Some(ip(poller))), "bob", "polling").await;
                assert!(matches!(res.status, 400 | 429), "{}", res.status);
            }
            let res = login(&routes, Peer::new(Some(ip(poller))), "bob", "bob-pw").await;
            assert_eq!(res.status, 429);
            assert!(retry_after(&res) > 800, "{}", retry_after(&res));
        }
        let now = crate::now();
        let poller_pair = crate::throttle_key_pair("bob", Some(ip("203.0.113.5")));
        assert_eq!(store.attempts(&poller_pair, now).await.expect("store"), 6);
        // Hold the per-user rule in a long delay, as a patient attacker
        // would, so that what follows does not depend on the clock.
        hold(&store, &crate::throttle_key_user("bob"), 20).await;
        // the owner with the device token, from a new address: first try
        let cafe = Peer::new(Some(ip("192.0.2.200"))).with_device_token(device.clone());
        assert_eq!(login(&routes, cafe, "bob", "bob-pw").await.status, 200);
        // the owner at home without the token: first try
        assert_eq!(login(&routes, home, "bob", "bob-pw").await.status, 200);
        // a new client with neither is still slowed down
        assert_eq!(login(&routes, Peer::new(Some(ip("192.0.2.201"))), "bob", "bob-pw").await.status, 429);
        // a device token of another user, or a forged one, is no help
        let res = login(&routes, Peer::new(Some(ip("192.0.2.9"))), "alice", "alice-pw").await;
        let alices = res.header("device-token").expect("alice's token").to_owned();
        let other = Peer::new(Some(ip("192.0.2.202"))).with_device_token(alices);
        assert_eq!(login(&routes, other, "bob", "bob-pw").await.status, 429);
        let mut forged = device.clone();
        forged.pop();
        forged.push(if device.ends_with('A') { 'B' } else { 'A' });
        let forged = Peer::new(Some(ip("192.0.2.203"))).with_device_token(forged);
        assert_eq!(login(&routes, forged, "bob", "bob-pw").await.status, 429);
    });
}

#[test]
fn a_device_token_is_judged_by_its_own_failures() {
    rt().block_on(async {
        let (a, _) = throttled(AuthorityConfig::default());
        let routes = RouteSet::new(a.clone(), Standard);
        let res = login(&routes, Peer::new(Some(ip("198.51.100.10"))), "bob", "bob-pw").await;
        let device = res.header("device-token").expect("device token").to_owned();
        let stolen = || Peer::new(Some(ip("192.0.2.50"))).with_device_token(device.clone());
        for _ in 0..5 {
            assert_eq!(login(&routes, stolen(), "bob", "guess").await.status, 400);
        }
        let res = login(&routes, stolen(), "bob", "bob-pw").await;
        assert_eq!(res.status, 429);
        assert!(retry_after(&res) > 60);
        // another client of bob's is not affected
        assert_eq!(login(&routes, Peer::new(Some(ip("198.51.100.10"))), "bob", "bob-pw").await.status, 200);
    });
}

#[test]
fn an_unknown_address_is_not_everyones_address() {
    rt().block_on(async {
        let (a, store) = throttled(AuthorityConfig::default());
        // five wrong passwords from "anyone" (no peer address) ...
        for _ in 0..5 {
            assert_eq!(
                a.login("bob", "wrong").await,
                Err(AuthError::InvalidCredentials).map(|()| unreachable!())
            );
        }
        // ... lock nobody out: the owner's next login works
        a.login("bob", "bob-pw").await.expect("the owner logs in");
        // no counter keyed by a shared "unknown" address was written
        let shared = crate::throttle_key_pair("bob", None);
        assert_eq!(store.attempts(&shared, crate::now()).await.expect("store"), 0);
    });
}

#[test]
fn a_flood_from_a_refused_address_writes_no_per_user_state() {
    rt().block_on(async {
        let (a, store) = throttled(AuthorityConfig::default().login_slowdown(20, 3));
        let flooder = Some(ip("192.0.2.66"));
        for name in ["ann", "ben", "cat"] {
            assert_eq!(
                a.login_from(flooder, name, "123456").await.unwrap_err(),
                AuthError::InvalidCredentials
            );
        }
        // held in a long delay, so that no slot opens while the flood runs
        hold(&store, &crate::throttle_key_address(ip("192.0.2.66")), 3).await;
        let before = store.attempt_counters();
        for i in 0..2_000 {
            let err = a.login_from(flooder, &format!("user-{i}"), "123456").await.unwrap_err();
            assert!(matches!(err, AuthError::TooManyAttempts { .. }), "{err:?}");
        }
        assert_eq!(store.attempt_counters(), before, "refused attempts created entries");
    });
}

#[test]
fn the_memory_store_bounds_its_counters_and_evicts_the_flood_first() {
    rt().block_on(async {
        let store = MemoryStore::new().with_max_attempt_counters(200);
        let users = users().with_pool(crate::HashingPool::new(2, 64));
        let config = AuthorityConfig::default().hold_refusals(Duration::ZERO, 0);
        let a = Authority::builder(keys()).users(users).store(store.clone()).config(config).build();
        // the owner logs in: their address is remembered for weeks
        let home = Some(ip("198.51.100.10"));
        a.login_from(home, "bob", "bob-pw").await.expect("login");
        let remembered = crate::throttle::throttle_key_known("bob", ip("198.51.100.10"));
        // alice is under attack: her per-user counter reached its limit
        let alice = crate::throttle_key_user("alice");
        hold(&store, &alice, 20).await;
        // a flood from many addresses with made-up usernames
        for i in 0..1_000u32 {
            let from = Some(IpAddr::from([10, 9, (i / 256) as u8, (i % 256) as u8]));
            let _ = a.login_from(from, &format!("nobody-{i}"), "x").await;
        }
        assert!(store.attempt_counters() <= 200, "{}", store.attempt_counters());
        assert_eq!(
            store.attempts(&remembered, crate::now()).await.expect("store"),
            1,
            "the owner's state was evicted"
        );
        assert_eq!(
            store.attempts(&alice, crate::now()).await.expect("store"),
            20,
            "a counter at its limit was evicted"
        );
    });
}

/// An identity provider that vouches for whatever `iss|sub` the token says.
struct Idp;

#[async_trait::async_trait]
impl ExternalIdentity for Idp {
    async fn verify(&self, token: &str) -> Result<ExternalSubject, AuthError> {
        let (iss, sub) = token.split_once('|').ok_or(AuthError::InvalidToken(TokenRejection::Malformed))?;
        Ok(ExternalSubject::new(iss, sub))
    }
}

#[test]
fn an_idp_subject_is_never_a_local_user_and_must_be_known() {
    rt().block_on(async {
        // local user "1" is an admin; an IdP's subject "1" is someone else
        let users = MemoryUsers::new()
            .with_user(Principal::new("1", "admin").with_role("admin"), "admin-pw")
            .expect("hash");
        let a = Authority::builder(keys())
            .users(users.clone())
            .external_identity(Idp)
            .config(AuthorityConfig::default().hold_refusals(Duration::ZERO, 0))
            .build();
        let refused = Err(AuthError::InvalidToken(TokenRejection::SubjectNotAllowed));
        assert_eq!(a.login_external("https://a.example/|1").await.map(|_| ()), refused);
        let who = ExternalSubject::new("https://a.example/", "1");
        users.add_external(Principal::new(who.principal_id(), "1").with_role("viewer"));
        let pair = a.login_external("https://a.example/|1").await.expect("a known external user");
        assert_eq!(pair.access_claims.sub, "ext|https://a.example/|1");
        assert_eq!(pair.access_claims.roles, ["viewer"], "the stored roles are in the first token");
        // the refresh reloads the same external user, never local user 1
        let next = a.refresh(pair.refresh_token.as_deref().expect("refresh")).await.expect("refresh");
        assert_eq!(
            (next.access_claims.sub.as_str(), &next.access_claims.roles[..]),
            (who.principal_id().as_str(), &["viewer".to_owned()][..])
        );
        // the same subject from another issuer is not that user
        assert_eq!(a.login_external("https://b.example/|1").await.map(|_| ()), refused);
        // disabled or removed: refused at login
        assert!(users.set_active(&who.principal_id(), false));
        assert_eq!(a.login_external("https://a.example/|1").await.map(|_| ()), refused);
        assert!(users.load_external(&who).await.expect("load").is_none());
    });
}

#[test]
fn idp_logins_are_throttled_and_cost_bounded_state() {
    rt().block_on(async {
        let users = MemoryUsers::new();
        let who = ExternalSubject::new("https://a.example/", "alice");
        users.add_external(Principal::new(who.principal_id(), "alice"));
        let store = MemoryStore::new();
        let config = AuthorityConfig::default().hold_refusals(Duration::ZERO, 0);
        let a = Authority::builder(keys())
            .users(users)
            .store(store.clone())
            .external_identity(Idp)
            .config(config)
            .build();
        let from = Some(ip("192.0.2.7"));
        let (mut ok, mut throttled) = (0, 0);
        let started = std::time::Instant::now();
        for _ in 0..500 {
            match a.login_external_from(from, "https://a.example/|alice").await {
                Ok(_) => ok += 1,
                Err(AuthError::TooManyAttempts { .. }) => throttled += 1,
                Err(other) => panic!("{other:?}"),
            }
        }
        // 20 free, then 1 s, 2 s, 4 s ... between logins: a loop gets no
        // further than the slots that open while it runs (at 1, 3, 7, 15 ...
        // seconds; plus one for a second boundary)
        let secs = started.elapsed().as_secs() + 2;
        let slots = (u64::BITS - secs.leading_zeros()) as usize;
        assert!((20..=20 + slots).contains(&ok), "{ok} logins in {secs} s");
        assert_eq!(ok + throttled, 500);
        // about twenty sessions (families) and the counters, not five hundred
        assert!(store.len() <= ok + 3, "{}", store.len());
        // a bad IdP token costs the address, as a wrong password does
        let addr = crate::throttle_key_address(ip("192.0.2.8"));
        let _ = a.login_external_from(Some(ip("192.0.2.8")), "garbage").await;
        assert_eq!(store.attempts(&addr, crate::now()).await.expect("store"), 1);
    });
}

#[test]
fn the_standard_dialect_takes_no_device_token_from_another_authority() {
    rt().block_on(async {
        // a device token signed by another key set is ignored (it would be
        // judged by the per-user rule like any new client)
        let other =
            Authority::builder(KeySet::new(JwtKey::hs256("k9", &[9u8; 32]).expect("key")).expect("set"))
                .users(users())
                .build();
        let routes = RouteSet::new(other, Standard);
        let res = login(&routes, Peer::new(Some(ip("192.0.2.1"))), "bob", "bob-pw").await;
        let foreign = res.header("device-token").expect("token").to_owned();
        // the per-user rule lets one attempt through, then holds
        let (a, store) = throttled(AuthorityConfig::default().login_slowdown(1, 100));
        let routes = RouteSet::new(a.clone(), Standard);
        hold(&store, &crate::throttle_key_user("bob"), 1).await;
        let with_foreign = Peer::new(Some(ip("192.0.2.3"))).with_device_token(foreign);
        assert_eq!(login(&routes, with_foreign, "bob", "bob-pw").await.status, 429);
    });
}

/// Users whose names are case-sensitive: `Bob` and `bob` are two accounts.
/// `exact` says whether the store says so (`canonical_username`) or
/// leaves the default folding on (a misconfiguration).
struct CaseSensitive {
    exact: bool,
}

#[async_trait::async_trait]
impl crate::UserStore for CaseSensitive {
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Principal>, crate::UserStoreError> {
        Ok(match (username, password) {
            ("bob", "bob-pw") => Some(Principal::new("u-bob", "bob")),
            ("Bob", "other-pw") => Some(Principal::new("u-Bob", "Bob")),
            _ => None,
        })
    }
    async fn load(&self, id: &str) -> Result<Option<Principal>, crate::UserStoreError> {
        Ok(match id {
            "u-bob" => Some(Principal::new("u-bob", "bob")),
            "u-Bob" => Some(Principal::new("u-Bob", "Bob")),
            _ => None,
        })
    }
    fn canonical_username(&self, username: &str) -> String {
        if self.exact { username.to_owned() } else { username.trim().to_lowercase() }
    }
}

fn case_sensitive(exact: bool) -> (Authority, MemoryStore) {
    let store = MemoryStore::new();
    let config = AuthorityConfig::default().hold_refusals(Duration::ZERO, 0);
    (
        Authority::builder(keys()).users(CaseSensitive { exact }).store(store.clone()).config(config).build(),
        store,
    )
}

#[test]
fn a_look_alike_account_lends_the_real_one_no_device_token_and_clears_none_of_its_counters() {
    rt().block_on(async {
        let (a, store) = case_sensitive(true);
        let routes = RouteSet::new(a.clone(), Standard);
        let attacker = || Peer::new(Some(ip("203.0.113.77")));
        // the attacker's own account "Bob" gives a device token for "Bob" only
        let res = login(&routes, attacker(), "Bob", "other-pw").await;
        assert_eq!(res.status, 200);
        let token = res.header("device-token").expect("device token").to_owned();
        // guesses for "bob" with it are judged as any new client's: the
        // address and username + address counters of "bob" count them
        for _ in 0..5 {
            let res = login(&routes, attacker().with_device_token(token.clone()), "bob", "guess").await;
            assert_eq!(res.status, 400);
        }
        let res = login(&routes, attacker().with_device_token(token.clone()), "bob", "guess").await;
        assert_eq!(res.status, 429, "locked by bob's username + address counter");
        // a success as "Bob" clears nothing of "bob"'s
        assert_eq!(login(&routes, Peer::new(Some(ip("203.0.113.78"))), "Bob", "other-pw").await.status, 200);
        let pair = crate::throttle_key_pair("bob", Some(ip("203.0.113.77")));
        assert_eq!(store.attempts(&pair, crate::now()).await.expect("store"), 6);
        // and MemoryUsers, which folds case, refuses the look-alike outright
        let users = MemoryUsers::new().with_user(Principal::new("1", "victim@x.com"), "pw").expect("hash");
        assert_eq!(
            users.register("VICTIM@x.com ", "pw2").await.expect("register"),
            crate::Registration::Taken
        );
    });
}

#[test]
fn a_device_token_names_the_username_exactly_even_where_the_store_folds_case_by_mistake() {
    rt().block_on(async {
        // A store that does not say it tells `Bob` from `bob` (the default
        // folding, a misconfiguration): "Bob"'s device token still lends
        // "bob" nothing, since it names the username as typed.
        let (a, _) = case_sensitive(false);
        let routes = RouteSet::new(a.clone(), Standard);
        let from = || Peer::new(Some(ip("203.0.113.79")));
        let res = login(&routes, from(), "Bob", "other-pw").await;
        let token = res.header("device-token").expect("device token").to_owned();
        let with = || from().with_device_token(token.clone());
        for _ in 0..5 {
            assert_eq!(login(&routes, with(), "bob", "guess").await.status, 400);
        }
        assert_eq!(login(&routes, with(), "bob", "bob-pw").await.status, 429, "the address's own limit");
        // the owner of the token, typing the name as before, keeps its standing
        assert_eq!(login(&routes, with(), "Bob", "other-pw").await.status, 200);
    });
}

#[test]
fn a_revoked_subject_loses_its_device_tokens() {
    rt().block_on(async {
        // the per-user rule lets one attempt through, then holds
        let (a, store) = throttled(AuthorityConfig::default().login_slowdown(1, 100));
        let routes = RouteSet::new(a.clone(), Standard);
        let res = login(&routes, Peer::new(Some(ip("198.51.100.10"))), "bob", "bob-pw").await;
        let token = res.header("device-token").expect("device token").to_owned();
        hold(&store, &crate::throttle_key_user("bob"), 1).await;
        let with = || Peer::new(Some(ip("192.0.2.90"))).with_device_token(token.clone());
        assert_eq!(login(&routes, with(), "bob", "bob-pw").await.status, 200);
        // a password reset revokes the subject: its device tokens end too
        tokio::time::sleep(Duration::from_millis(1100)).await; // issued before the cut-off second
        a.revoke_subject("u-bob").await.expect("revoke");
        assert_eq!(login(&routes, with(), "bob", "bob-pw").await.status, 429);
    });
}
