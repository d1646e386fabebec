//! The route engine with the `standard` dialect.

use std::future::Future as _;

use serde_json::{Value, json};

use super::*;
use crate::{AuthRequest, AuthResponse, Dialect as _, RouteSet, Standard};

fn routes() -> RouteSet {
    RouteSet::new(authority(AuthorityConfig::default()), Standard).body_limit(1024)
}

fn post(path: &str, body: Value) -> AuthRequest {
    AuthRequest::new("POST", path).with_content_type("application/json").with_body(body.to_string())
}

fn keys_of(res: &AuthResponse) -> Vec<String> {
    let mut k: Vec<String> =
        res.json_body().and_then(|b| b.as_object().map(|o| o.keys().cloned().collect())).unwrap_or_default();
    k.sort();
    k
}

#[test]
fn login_refresh_verify_logout() {
    rt().block_on(async {
        let r = routes();
        let res = r.handle(post("/login", json!({"username": "alice", "password": "alice-pw"}))).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("cache-control"), Some("no-store"));
        assert_eq!(keys_of(&res), ["access_token", "expires_in", "refresh_token", "token_type"]);
        let body = res.json_body().expect("json");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        let access = body["access_token"].as_str().expect("access").to_owned();
        let refresh = body["refresh_token"].as_str().expect("refresh").to_owned();

        let res = r.handle(post("/verify", json!({"token": access}))).await;
        let v = res.json_body().expect("json");
        assert_eq!(
            (v["active"].clone(), v["sub"].clone(), v["username"].clone()),
            (json!(true), json!("u-alice"), json!("alice"))
        );

        let res = r.handle(post("/refresh", json!({"refresh_token": refresh}))).await;
        assert_eq!(res.status, 200);
        let rotated = res.json_body().expect("json")["refresh_token"].as_str().expect("rotated").to_owned();
        assert_ne!(rotated, refresh);

        let logout = AuthRequest::new("POST", "/logout")
            .with_authorization(format!("Bearer {access}"))
            .with_content_type("application/x-www-form-urlencoded")
            .with_body(format!("refresh_token={rotated}"));
        assert_eq!(r.handle(logout.clone()).await.status, 204);
        let again = r.handle(logout).await;
        assert_eq!(again.status, 401);
        assert!(again.header("www-authenticate").is_some_and(|c| c.contains(r#"error="invalid_token""#)));
        let res = r.handle(post("/verify", json!({"token": access}))).await;
        assert_eq!(res.json_body(), Some(json!({"active": false})));
        let res = r.handle(post("/refresh", json!({"refresh_token": rotated}))).await;
        assert_eq!(res.status, 401);
    });
}

#[test]
fn login_accepts_forms_and_ignores_authorization() {
    rt().block_on(async {
        let r = routes();
        let form = AuthRequest::new("POST", "/login")
            .with_content_type("application/x-www-form-urlencoded")
            .with_authorization("Bearer junk junk")
            .with_body("username=bob&password=bob-pw");
        assert_eq!(r.handle(form).await.status, 200);
        let sniffed = AuthRequest::new("POST", "/login").with_body("username=bob&password=bob-pw");
        assert_eq!(r.handle(sniffed).await.status, 200);
    });
}

#[test]
fn bad_requests_get_exact_answers() {
    rt().block_on(async {
        let r = routes();
        let bad = r.handle(post("/login", json!({"username": "alice", "password": "x"}))).await;
        let unknown = r.handle(post("/login", json!({"username": "zed", "password": "x"}))).await;
        // RFC 6749 section 5.2: an invalid grant is 400, with no challenge
        assert_eq!((bad.status, unknown.status), (400, 400));
        assert_eq!(bad.body, unknown.body);
        assert_eq!(bad.json_body().expect("json")["error"], "invalid_grant");
        assert_eq!(bad.header("www-authenticate"), None);
        let cases: Vec<(AuthRequest, u16, &str)> = vec![
            (post("/login", json!({"username": "alice"})), 400, "missing field `password`"),
            (
                post("/login", json!({"username": 5, "password": "x"})),
                400,
                "field `username` must be a string",
            ),
            (
                AuthRequest::new("POST", "/login").with_content_type("application/json").with_body("{"),
                400,
                "the request body is not valid JSON",
            ),
            (
                AuthRequest::new("POST", "/login").with_content_type("text/plain").with_body("hi"),
                415,
                "unsupported content type",
            ),
            (
                post("/login", json!({"username": "a".repeat(2000), "password": "x"})),
                413,
                "the request body is too large",
            ),
            (AuthRequest::new("GET", "/login"), 405, "method not allowed"),
            (AuthRequest::new("POST", "/nope"), 404, "not found"),
            (post("/logout", json!({})), 401, "authentication is required"),
            (post("/refresh", json!({"refresh_token": "a.b.c"})), 401, "the token is malformed"),
        ];
        for (req, status, description) in cases {
            let path = format!("{} {}", req.method, req.path);
            let res = r.handle(req).await;
            assert_eq!(res.status, status, "{path}");
            assert_eq!(res.json_body().expect("json")["error_description"], description, "{path}");
        }
        assert_eq!(r.handle(AuthRequest::new("DELETE", "/refresh")).await.header("allow"), Some("POST"));
    });
}

#[test]
fn an_exp_in_the_year_10000_is_refused_without_a_panic() {
    rt().block_on(async {
        let now = crate::now();
        let year_10000: i64 = 253_402_300_800;
        let claims = json!({"sub": "u-alice", "username": "alice", "jti": "j", "iat": now, "exp": year_10000, "token_use": "access"});
        let token = craft_hmac(header("HS256"), claims, SECRET, Algorithm::HS256);
        let verify = || post("/verify_token/", json!({"token": token}));
        // the default lifetime refuses it
        let drf = RouteSet::new(authority(crate::dialects::Drf.default_config()), crate::dialects::Drf);
        let res = drf.handle(verify()).await;
        assert_eq!(res.status, 400);
        assert_eq!(res.json_body(), Some(json!({"non_field_errors": ["Error decoding signature."]})));
        // a lifetime long enough to accept it: the ISO-8601 answer is clamped, not a panic
        let forever = crate::dialects::Drf.default_config().access_ttl(std::time::Duration::from_secs(u64::MAX / 4));
        let drf = RouteSet::new(authority(forever), crate::dialects::Drf);
        let res = drf.handle(verify()).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.json_body().expect("json")["expires_in"], "9999-12-31T23:59:59.000Z");
    });
}

/// A one-thread hashing pool with room for `queue` jobs, its thread
/// occupied until the returned sender is dropped; join the handle after.
fn blocked_pool(
    queue: usize,
) -> (
    crate::HashingPool,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Result<(), crate::UserStoreError>>,
) {
    let pool = crate::HashingPool::new(1, queue);
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (started, wait) = std::sync::mpsc::channel::<()>();
    let blocker = pool.clone();
    let holder = std::thread::spawn(move || {
        rt().block_on(blocker.run(move || {
            let _ = started.send(());
            let _ = gate.recv();
        }))
    });
    wait.recv().expect("the blocking job started");
    (pool, release, holder)
}

#[test]
fn a_full_hashing_queue_refuses_logins_before_the_throttle_touches_the_store() {
    let (pool, release, holder) = blocked_pool(2);
    let store = super::Outage::default();
    // Refusals answered unheld: this test counts store calls, not time.
    let config = AuthorityConfig::default().hold_refusals(std::time::Duration::ZERO, 0);
    let authority = Authority::builder(keys())
        .users(users().with_pool(pool.clone()))
        .store(store.clone())
        .config(config)
        .build();
    let r = RouteSet::new(authority, Standard);
    rt().block_on(async {
        let login = || r.handle(post("/login", json!({"username": "alice", "password": "alice-pw"})));
        // Two logins fill the queue (each counted by the throttle first).
        let mut queued = vec![Box::pin(login()), Box::pin(login())];
        for l in &mut queued {
            let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(l.as_mut().poll(cx))).await;
            assert!(polled.is_pending());
        }
        assert!(pool.is_saturated());
        let calls = store.calls_left.load(std::sync::atomic::Ordering::SeqCst);
        for _ in 0..50 {
            let res = login().await;
            assert_eq!(res.status, 503);
            assert_eq!(res.header("retry-after"), Some("1"));
        }
        assert_eq!(
            store.calls_left.load(std::sync::atomic::Ordering::SeqCst),
            calls,
            "refused without a store call"
        );
        drop(release);
        for l in queued {
            assert_eq!(l.await.status, 200);
        }
    });
    holder.join().expect("holder").expect("the blocking job ran");
}

#[test]
fn a_login_flood_on_a_full_hashing_queue_gets_503_at_once_when_refusals_are_not_held() {
    let (pool, release, holder) = blocked_pool(8);
    let users = users().with_pool(pool.clone());
    let config = AuthorityConfig::default()
        .login_throttle(0, std::time::Duration::from_secs(60))
        .hold_refusals(std::time::Duration::ZERO, 0);
    let r = RouteSet::new(Authority::builder(keys()).users(users).config(config).build(), Standard);
    rt().block_on(async {
        let mut waiting = Vec::new();
        let mut refused = 0;
        for _ in 0..200 {
            let mut login =
                Box::pin(r.handle(post("/login", json!({"username": "alice", "password": "alice-pw"}))));
            // One poll reaches the queue; a full queue answers then and there.
            let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(login.as_mut().poll(cx))).await;
            match polled {
                std::task::Poll::Ready(res) => {
                    assert_eq!(res.status, 503);
                    assert_eq!(res.header("retry-after"), Some("1"));
                    assert_eq!(res.json_body().expect("json")["error"], "temporarily_unavailable");
                    refused += 1;
                }
                std::task::Poll::Pending => waiting.push(login),
            }
            assert!(pool.queued() <= 8, "the queue grew past its bound");
        }
        assert_eq!((waiting.len(), refused), (8, 192));
        drop(release);
        for login in waiting {
            assert_eq!(login.await.status, 200);
        }
    });
    holder.join().expect("blocker").expect("blocking job ran");
}

#[test]
fn sachet_logout_during_a_store_outage_is_503_not_already_revoked() {
    rt().block_on(async {
        let store = Outage::default();
        let dialect = crate::dialects::Sachet;
        let authority = Authority::builder(keys())
            .users(users())
            .store(store.clone())
            .config(dialect.default_config())
            .build();
        let r = RouteSet::new(authority, dialect);
        let res = r.handle(post("/login", json!({"username": "bob", "password": "bob-pw"}))).await;
        let token = res.json_body().expect("json")["auth_token"].as_str().expect("token").to_owned();
        let logout = post("/logout", json!({"token": token})).with_authorization(format!("Bearer {token}"));
        // the caller's own check reaches the store; the target's does not
        store.down_after(1);
        let res = r.handle(logout.clone()).await;
        assert_eq!(res.status, 503, "{:?}", res.json_body());
        assert_eq!(res.header("retry-after"), Some("1"), "a 503 says when to come back");
        assert_eq!(res.json_body().expect("json")["status"], "fail");
        // once the store is back, the same logout works, and a second says "already revoked"
        store.down_after(usize::MAX);
        assert_eq!(r.handle(logout.clone()).await.status, 200);
        let again = post("/logout", json!({"token": token}));
        let other = r.handle(post("/login", json!({"username": "bob", "password": "bob-pw"}))).await;
        let fresh = other.json_body().expect("json")["auth_token"].as_str().expect("token").to_owned();
        let res = r.handle(again.with_authorization(format!("Bearer {fresh}"))).await;
        assert_eq!(res.status, 400);
        assert_eq!(res.json_body().expect("json")["message"], "the token is already revoked");
    });
}

#[test]
fn the_login_routes_400_is_theirs_alone_a_protected_route_keeps_its_401() {
    rt().block_on(async {
        let r = routes();
        let guard = crate::AuthGuard::for_routes(&r).schemes(&[crate::Scheme::Bearer, crate::Scheme::Basic]);
        let peer = crate::Peer::new(Some("192.0.2.9".parse().expect("ip")));
        for credentials in ["alice:wrong", "nobody:wrong"] {
            use base64::Engine as _;
            let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials));
            let header = crate::AuthorizationHeader::from_values([basic.as_bytes()]);
            let err = guard.check_request(&header, &peer).await.expect_err("a wrong password");
            assert_eq!(err, crate::AuthError::InvalidCredentials, "{credentials}");
            let res = guard.reject(&err);
            assert_eq!(res.status, 401, "{credentials}");
            assert_eq!(res.header("www-authenticate"), Some(r#"Bearer realm="api""#), "{credentials}");
        }
        // the same wrong password at the login route: RFC 6749's 400
        let res = r.handle(post("/login", json!({"username": "alice", "password": "wrong"}))).await;
        assert_eq!((res.status, res.header("www-authenticate")), (400, None));
    });
}
