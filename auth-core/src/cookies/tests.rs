//! Cookie mode through the route engine and the guard.

use crate::{
    AuthError, AuthGuard, AuthRequest, AuthResponse, Authority, AuthorizationRef, BrowserHeaders, CookieMode,
    CsrfRejection, MemoryUsers, Peer, Principal, RouteSet, Standard,
};

const HOST: &str = "app.example";
const ORIGIN: &str = "https://app.example";

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

async fn routes() -> RouteSet {
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "alice"), "s3cret").await.expect("user");
    users.add_user(Principal::new("2", "bob"), "hunter22").await.expect("user");
    let authority = Authority::hs256([9u8; 32]).expect("key").users(users).build();
    RouteSet::new(authority, Standard).cookies(CookieMode::new()).expect("standard")
}

/// A same-origin browser request.
fn request(method: &str, path: &str) -> AuthRequest {
    let mut req = AuthRequest::new(method, path);
    req.browser.origin = Some(ORIGIN.into());
    req.browser.host = Some(HOST.into());
    req.browser.fetch_site = Some("same-origin".into());
    req
}

/// The session a browser holds after a login: its cookie jar, as `name=value`.
#[derive(Clone, Debug, Default)]
struct Jar {
    access: Option<String>,
    refresh: Option<String>,
    csrf: Option<String>,
}

impl Jar {
    /// Applies the answer's `Set-Cookie`s (an expired one removes).
    fn take(&mut self, res: &AuthResponse) {
        for (_, value) in res.headers.iter().filter(|(n, _)| *n == "set-cookie") {
            let cookie = cookie::Cookie::parse(value.as_str()).expect("a cookie");
            let removed = cookie.max_age().is_some_and(|age| age.is_zero());
            let value = (!removed).then(|| cookie.value().to_owned());
            match cookie.name() {
                "__Host-access_token" => self.access = value,
                "__Secure-refresh_token" => self.refresh = value,
                "__Host-csrf_token" => self.csrf = value,
                other => assert_eq!(other, "device_token", "an unexpected cookie"),
            }
        }
    }

    /// `req` carrying the cookies a browser sends to `path`, and the CSRF header.
    fn send(&self, mut req: AuthRequest) -> AuthRequest {
        let mut pairs = Vec::new();
        if let Some(a) = &self.access {
            pairs.push(format!("__Host-access_token={a}"));
        }
        if let (Some(r), true) = (&self.refresh, req.path == "/refresh") {
            pairs.push(format!("__Secure-refresh_token={r}"));
        }
        if let Some(c) = &self.csrf {
            pairs.push(format!("__Host-csrf_token={c}"));
            req.browser.csrf_token = Some(c.clone());
        }
        req.browser.cookies = vec![pairs.join("; ")];
        req
    }
}

async fn login(routes: &RouteSet, user: &str, password: &str) -> Jar {
    let body = format!(r#"{{"username":"{user}","password":"{password}"}}"#);
    let res = routes.handle(request("POST", "/login").with_body(body)).await;
    assert_eq!(res.status, 200, "{:?}", res.json_body());
    let mut jar = Jar::default();
    jar.take(&res);
    jar
}

fn assert_refused(res: &AuthResponse, why: CsrfRejection) {
    assert_eq!(res.status, 403);
    assert_eq!(
        res.json_body(),
        Some(serde_json::json!({"error": "access_denied", "error_description": why.to_string()}))
    );
    assert!(res.header("set-cookie").is_none(), "a refusal leaves the cookies alone");
}

fn guard(routes: &RouteSet) -> AuthGuard {
    AuthGuard::for_routes(routes).cookies(routes.cookie_mode().expect("cookie mode").clone())
}

async fn check(guard: &AuthGuard, method: &str, req: &AuthRequest) -> Result<Option<String>, AuthError> {
    let browser = || req.browser.clone();
    let check = guard.begin_browser(req.authorization.as_ref(), method, browser, Peer::default);
    check.outcome().await.map(|id| id.map(|id| id.username().to_owned()))
}

#[test]
fn a_login_sets_three_cookies_and_no_token_in_the_body() {
    run(async {
        let routes = routes().await;
        let res = routes.handle(request("POST", "/login").with_body("username=alice&password=s3cret")).await;
        assert_eq!(res.status, 200);
        let body = res.json_body().expect("json");
        assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
        assert_eq!(body["expires_in"], 900);
        let mut jar = Jar::default();
        jar.take(&res);
        assert_eq!(body["csrf_token"].as_str(), jar.csrf.as_deref());
        let (access, refresh) = (jar.access.expect("access"), jar.refresh.expect("refresh"));
        assert!(!res.body.windows(access.len()).any(|w| w == access.as_bytes()));
        assert!(!res.body.windows(refresh.len()).any(|w| w == refresh.as_bytes()));
        assert_eq!(res.header("cache-control"), Some("no-store"));
    })
}

#[test]
fn login_csrf_from_another_site_is_refused_before_the_password_is_checked() {
    run(async {
        let routes = routes().await;
        let mut cross = request("POST", "/login").with_body("username=alice&password=s3cret");
        cross.browser.fetch_site = Some("cross-site".into());
        assert_refused(&routes.handle(cross).await, CsrfRejection::CrossSite);
        let mut evil = request("POST", "/login").with_body("username=alice&password=s3cret");
        evil.browser.origin = Some("https://evil.example".into());
        evil.browser.fetch_site = None;
        assert_refused(&routes.handle(evil).await, CsrfRejection::Origin);
    })
}

#[test]
fn refresh_reads_the_cookie_checks_the_session_and_rotates() {
    run(async {
        let routes = routes().await;
        let mut jar = login(&routes, "alice", "s3cret").await;
        let before = jar.clone();
        let res = routes.handle(jar.send(request("POST", "/refresh"))).await;
        assert_eq!(res.status, 200, "{:?}", res.json_body());
        jar.take(&res);
        assert_ne!(jar.refresh, before.refresh, "rotated");
        assert_ne!(jar.access, before.access);
        assert_eq!(jar.csrf, before.csrf, "one CSRF value per session");
        // the new access token still carries the binding
        let guard = guard(&routes);
        assert_eq!(
            check(&guard, "POST", &jar.send(request("POST", "/notes"))).await,
            Ok(Some("alice".into()))
        );

        // without the CSRF header, or with another session's: refused, cookies kept
        let mut bare = jar.send(request("POST", "/refresh"));
        bare.browser.csrf_token = None;
        assert_refused(&routes.handle(bare).await, CsrfRejection::MissingToken);
        let bob = login(&routes, "bob", "hunter22").await;
        let mut mixed = jar.send(request("POST", "/refresh"));
        mixed.browser.csrf_token.clone_from(&bob.csrf);
        assert_refused(&routes.handle(mixed).await, CsrfRejection::WrongToken);
    })
}

#[test]
fn a_refresh_that_lost_the_race_with_logout_clears_the_cookies() {
    run(async {
        let routes = routes().await;
        let jar = login(&routes, "alice", "s3cret").await;
        let res = routes.handle(jar.send(request("POST", "/logout"))).await;
        assert_eq!(res.status, 204);
        let mut after = jar.clone();
        after.take(&res);
        assert!(after.access.is_none() && after.refresh.is_none() && after.csrf.is_none());

        // the refresh that was in flight arrives with the old cookies
        let res = routes.handle(jar.send(request("POST", "/refresh"))).await;
        assert_eq!(res.status, 401);
        assert_eq!(res.json_body().expect("json")["error"], "invalid_token");
        let mut raced = jar.clone();
        raced.take(&res);
        assert!(raced.access.is_none() && raced.refresh.is_none(), "never re-set");
        // and the old access cookie replayed by hand is refused
        let guard = guard(&routes);
        let replay = jar.send(request("GET", "/whoami"));
        assert!(matches!(check(&guard, "GET", &replay).await, Err(AuthError::InvalidToken(_))));
    })
}

#[test]
fn a_logout_after_the_access_cookie_expired_keeps_the_session_for_a_refresh_and_retry() {
    run(async {
        let routes = routes().await;
        let mut jar = login(&routes, "alice", "s3cret").await;
        // the browser dropped the access cookie (its Max-Age ran out)
        jar.access = None;
        let res = routes.handle(jar.send(request("POST", "/logout"))).await;
        assert_eq!(res.status, 401);
        assert!(res.header("set-cookie").is_none(), "the refresh cookie must stay to end the session");
        // what the page does next: one refresh, one retry
        let res = routes.handle(jar.send(request("POST", "/refresh"))).await;
        assert_eq!(res.status, 200);
        jar.take(&res);
        let old_refresh = jar.refresh.clone();
        let res = routes.handle(jar.send(request("POST", "/logout"))).await;
        assert_eq!(res.status, 204);
        // the whole session is over: the refresh token too
        let mut stale = Jar { refresh: old_refresh, ..jar.clone() };
        stale.access = None;
        assert_eq!(routes.handle(stale.send(request("POST", "/refresh"))).await.status, 401);
    })
}

#[test]
fn a_login_in_cookie_mode_hands_the_device_token_only_as_an_http_only_cookie() {
    run(async {
        let routes = routes().await;
        let res = routes.handle(request("POST", "/login").with_body("username=alice&password=s3cret")).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header(crate::DEVICE_TOKEN_HEADER), None);
        let device = res.headers.iter().find(|(n, v)| *n == "set-cookie" && v.starts_with("device_token="));
        assert!(device.is_some_and(|(_, v)| v.contains("HttpOnly")), "{device:?}");
    })
}

#[test]
fn a_logout_with_an_access_cookie_that_does_not_verify_keeps_the_session_too() {
    run(async {
        let routes = routes().await;
        let mut jar = login(&routes, "alice", "s3cret").await;
        // what an expired or broken cookie gets: a plain 401, the cookies kept
        jar.access = Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.AAAA".into());
        let res = routes.handle(jar.send(request("POST", "/logout"))).await;
        assert_eq!(res.status, 401);
        assert!(res.header("set-cookie").is_none());
        let res = routes.handle(jar.send(request("POST", "/refresh"))).await;
        assert_eq!(res.status, 200, "the session is still there to be ended");
    })
}

#[test]
fn non_utf8_browser_headers_fail_closed() {
    let values: [(&str, &[u8]); 4] = [
        ("sec-fetch-site", b"cross-site"),
        ("sec-fetch-site", b"\xff"),
        ("origin", b"https://evil.example"),
        ("origin", b"\xff"),
    ];
    let browser = BrowserHeaders::from_lookup(|name| {
        let found: Vec<&[u8]> = values.iter().filter(|(n, _)| *n == name).map(|(_, v)| *v).collect();
        found.into_iter()
    });
    let mode = CookieMode::new();
    assert_eq!(mode.check_site("POST", &browser), Err(CsrfRejection::CrossSite));
    let only_bad: [(&str, &[u8]); 1] = [("origin", b"\xffhttps://app.example")];
    let browser = BrowserHeaders::from_lookup(|name| {
        let found: Vec<&[u8]> = only_bad.iter().filter(|(n, _)| *n == name).map(|(_, v)| *v).collect();
        found.into_iter()
    });
    assert_eq!(mode.check_site("POST", &browser), Err(CsrfRejection::Origin));
}

#[test]
fn without_rotation_the_csrf_cookie_keeps_the_sessions_lifetime() {
    run(async {
        let users = MemoryUsers::new();
        users.add_user(Principal::new("1", "alice"), "s3cret").await.expect("user");
        let config = crate::AuthorityConfig { rotate_refresh: false, ..crate::AuthorityConfig::default() };
        let authority = Authority::hs256([9u8; 32]).expect("key").users(users).config(config).build();
        let routes = RouteSet::new(authority, Standard).cookies(CookieMode::new()).expect("standard");
        let jar = login(&routes, "alice", "s3cret").await;
        let res = routes.handle(jar.send(request("POST", "/refresh"))).await;
        assert_eq!(res.status, 200);
        let csrf = res
            .headers
            .iter()
            .find_map(|(n, v)| {
                (*n == "set-cookie" && v.starts_with("__Host-csrf_token=")).then_some(v.as_str())
            })
            .expect("the CSRF cookie");
        let max_age: i64 =
            csrf.split("Max-Age=").nth(1).and_then(|v| v.split(';').next()?.parse().ok()).unwrap_or(0);
        assert!(max_age > 86_000, "the refresh token's day, not the access token's 15 minutes: {csrf}");
        assert!(
            !res.headers.iter().any(|(n, v)| *n == "set-cookie" && v.starts_with("__Secure-refresh_token="))
        );
    })
}

#[test]
fn a_refresh_without_its_cookie_is_401_and_clears() {
    run(async {
        let routes = routes().await;
        let res = routes.handle(request("POST", "/refresh")).await;
        assert_eq!(res.status, 401);
        assert_eq!(res.headers.iter().filter(|(n, _)| *n == "set-cookie").count(), 3);
        // a refresh token in the body is not read in cookie mode
        let jar = login(&routes, "alice", "s3cret").await;
        let body = format!("refresh_token={}", jar.refresh.as_deref().unwrap_or_default());
        assert_eq!(routes.handle(request("POST", "/refresh").with_body(body)).await.status, 401);
    })
}

#[test]
fn the_guard_reads_the_cookie_and_a_header_wins() {
    run(async {
        let routes = routes().await;
        let guard = guard(&routes);
        let jar = login(&routes, "alice", "s3cret").await;
        // a safe method needs no CSRF value, even from another site (a link)
        let mut get = jar.send(request("GET", "/whoami"));
        get.browser.csrf_token = None;
        get.browser.fetch_site = Some("cross-site".into());
        assert_eq!(check(&guard, "GET", &get).await, Ok(Some("alice".into())));
        // unsafe: both layers
        let mut cross = jar.send(request("POST", "/notes"));
        cross.browser.fetch_site = Some("cross-site".into());
        assert_eq!(check(&guard, "POST", &cross).await, Err(AuthError::Csrf(CsrfRejection::CrossSite)));
        let mut bare = jar.send(request("POST", "/notes"));
        bare.browser.csrf_token = None;
        assert_eq!(check(&guard, "POST", &bare).await, Err(AuthError::Csrf(CsrfRejection::MissingToken)));
        let mut wrong = jar.send(request("POST", "/notes"));
        wrong.browser.csrf_token = Some("not-it".into());
        assert_eq!(check(&guard, "POST", &wrong).await, Err(AuthError::Csrf(CsrfRejection::WrongToken)));
        // a Bearer header wins over the cookie and needs neither layer
        let bob = routes.authority().login("bob", "hunter22").await.expect("bob");
        let mut with_header = cross.clone().with_authorization(format!("Bearer {}", bob.access_token));
        with_header.browser.csrf_token = None;
        assert_eq!(check(&guard, "POST", &with_header).await, Ok(Some("bob".into())));
        // no cookie and no header: 401, as without cookie mode
        let anonymous = request("POST", "/notes");
        assert_eq!(check(&guard, "POST", &anonymous).await, Err(AuthError::MissingCredentials));
        // a guard without cookie mode never reads the cookie
        let plain = AuthGuard::for_routes(&routes);
        let header = AuthorizationRef::Absent;
        let outcome =
            plain.begin_browser(header, "GET", || get.browser.clone(), Peer::default).outcome().await;
        assert_eq!(outcome.map(|_| ()), Err(AuthError::MissingCredentials));
    })
}

#[test]
fn a_guard_without_cookie_mode_says_why_a_request_with_the_cookie_was_refused() {
    let warnings = crate::tests::Warnings::default();
    run(async {
        let routes = routes().await;
        let jar = login(&routes, "alice", "s3cret").await;
        let plain = AuthGuard::for_routes(&routes);
        let req = jar.send(request("GET", "/whoami"));
        let check = tracing::subscriber::with_default(warnings.clone(), || {
            plain.begin_browser(AuthorizationRef::Absent, "GET", || req.browser.clone(), Peer::default)
        });
        assert_eq!(check.outcome().await.map(|_| ()), Err(AuthError::MissingCredentials));
    });
    let logged = warnings.0.lock().expect("warnings").clone();
    assert!(logged.iter().any(|w| w.contains(".cookies(mode)")), "{logged:?}");
}

#[test]
fn tokens_issued_outside_cookie_mode_carry_no_binding() {
    run(async {
        let routes = routes().await;
        let guard = guard(&routes);
        // a Bearer login's token, planted as the cookie: no CSRF value can match it
        let pair = routes.authority().login("alice", "s3cret").await.expect("login");
        let mut req = request("POST", "/notes");
        req.browser.cookies = vec![format!("__Host-access_token={}", pair.access_token)];
        req.browser.csrf_token = Some("anything".into());
        assert_eq!(check(&guard, "POST", &req).await, Err(AuthError::Csrf(CsrfRejection::WrongToken)));
        let claims =
            routes.authority().verify(&pair.access_token, crate::TokenUse::Access, crate::time::now());
        assert!(claims.expect("valid").custom::<serde_json::Value>().expect("json").get("csrf").is_none());
    })
}

#[test]
fn a_user_store_cannot_plant_the_binding_claim() {
    run(async {
        let users = MemoryUsers::new();
        let mut planted = Principal::new("1", "alice");
        planted.extra.insert("csrf".into(), "chosen".into());
        users.add_user(planted, "s3cret").await.expect("user");
        let authority = Authority::hs256([9u8; 32]).expect("key").users(users).build();
        let pair = authority.login("alice", "s3cret").await.expect("login");
        let identity = authority.verify(&pair.access_token, crate::TokenUse::Access, crate::time::now());
        assert!(identity.expect("valid").custom::<serde_json::Value>().expect("json").get("csrf").is_none());
    })
}

#[test]
fn the_refresh_cookie_follows_the_mount_point() {
    run(async {
        let routes = routes().await.at("/api/auth");
        let res = routes
            .handle(request("POST", "/api/auth/login").with_body("username=alice&password=s3cret"))
            .await;
        let refresh = res
            .headers
            .iter()
            .find(|(n, v)| *n == "set-cookie" && v.starts_with("__Secure-refresh_token="))
            .map(|(_, v)| v.clone())
            .expect("refresh cookie");
        assert!(refresh.contains("; Path=/api/auth/refresh;"), "{refresh}");
    })
}
