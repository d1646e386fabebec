//! The operator's view: each route answer of every dialect makes one audit
//! event and one route count, the authority's own decisions (revocations,
//! key rotation, revoked tokens at the guard) theirs, and the labels name
//! the throttle rule and the rejection reason. Captured on this thread: a
//! `tracing` subscriber of the audit target and a metrics recorder.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span;

use super::*;
use crate::dialect::test_doc::request;
use crate::dialects::{Drf, Keytoken, Sachet};
use crate::store::test_recorder::TestRecorder;
use crate::{AuthGuard, AuthResponse, AuthorizationRef, Dialect, Peer, RouteSet, Standard};

type Line = BTreeMap<String, String>;

/// Every audit event, as its fields (and `level`).
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Line>>>);

impl Capture {
    fn take(&self) -> Vec<Line> {
        std::mem::take(&mut *self.0.lock().expect("capture"))
    }
}

struct Fields(Line);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl tracing::Subscriber for Capture {
    fn register_callsite(&self, _: &'static tracing::Metadata<'static>) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }

    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == crate::audit::TARGET
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(Line::new());
        fields.0.insert("level".into(), event.metadata().level().to_string());
        event.record(&mut fields);
        self.0.lock().expect("capture").push(fields.0);
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// Runs `test` on this thread with the capture and a recorder installed.
fn observed(test: impl AsyncFnOnce(Capture, &TestRecorder)) {
    let capture = Capture::default();
    let recorder = TestRecorder::default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    tracing::subscriber::with_default(capture.clone(), || {
        ::metrics::with_local_recorder(&recorder, || runtime.block_on(test(capture.clone(), &recorder)))
    });
}

fn post(path: &str, body: Value) -> crate::AuthRequest {
    request("POST", path, None, Some(&body))
        .with_peer(Peer::new(Some("192.0.2.7".parse().expect("ip"))).with_user_agent("ops-test/1.0"))
}

fn field(res: &AuthResponse, name: &str) -> String {
    res.json_body().and_then(|b| b[name].as_str().map(str::to_owned)).unwrap_or_default()
}

/// `(event, outcome, reason, subject_id)` of each line.
fn summary(lines: &[Line]) -> Vec<(String, String, String, String)> {
    let get = |l: &Line, k: &str| l.get(k).cloned().unwrap_or_default();
    lines
        .iter()
        .map(|l| (get(l, "event"), get(l, "outcome"), get(l, "reason"), get(l, "subject_id")))
        .collect()
}

fn row(event: &str, outcome: &str, reason: &str, subject: &str) -> (String, String, String, String) {
    (event.into(), outcome.into(), reason.into(), subject.into())
}

fn config() -> AuthorityConfig {
    AuthorityConfig {
        reuse_grace: Duration::ZERO,
        refusal_delay: Duration::ZERO,
        ..AuthorityConfig::default()
    }
}

/// The recorder's value of `key` is `expected`.
#[track_caller]
fn assert_count(recorder: &TestRecorder, key: &str, expected: f64) {
    assert_eq!(recorder.get(key), Some(expected), "{key}");
}

/// No line holds any of `secrets`.
fn assert_clean(lines: &[Line], secrets: &[&str]) {
    for line in lines {
        for value in line.values() {
            for secret in secrets.iter().filter(|s| !s.is_empty()) {
                assert!(!value.contains(secret), "a secret in the audit line {line:?}");
            }
        }
    }
}

#[test]
fn keytoken_signup_login_refresh_and_reuse_are_one_event_each() {
    observed(async |capture, recorder| {
        let dialect = Keytoken::new(["app"]);
        let config = AuthorityConfig { reuse_grace: Duration::ZERO, ..dialect.default_config() };
        let authority = Authority::builder(keys()).users(users()).config(config).build();
        let routes = RouteSet::new(authority, dialect);
        let new = json!({"client": "app", "email": "carol@example.com", "password": "carol-password-1"});
        let signup = routes.handle(post("/", new)).await;
        assert_eq!(signup.status, 200);
        let (key, refresh) = (field(&signup, "key"), field(&signup, "refresh"));
        let login = json!({"client": "app", "email": "carol@example.com", "password": "carol-password-1"});
        let logged_in = routes.handle(post("/token", login)).await;
        assert_eq!(logged_in.status, 200);
        let fresh = json!({"client": "app", "key": key, "refresh": refresh});
        let rotated = routes.handle(post("/token/refresh", fresh.clone())).await;
        assert_eq!(rotated.status, 200);
        assert_eq!(routes.handle(post("/token/refresh", fresh)).await.status, 401, "reuse");

        let lines = capture.take();
        let sub = lines[0].get("subject_id").cloned().expect("the new user's id");
        assert_eq!(
            summary(&lines),
            [
                row("signup", "ok", "", &sub),
                row("login", "ok", "", &sub),
                row("refresh", "ok", "", &sub),
                row("refresh_reuse", "invalid_token", "reused", &sub),
            ]
        );
        assert_eq!(lines[0].get("username").map(String::as_str), Some("carol@example.com"));
        assert_eq!(lines[3].get("level").map(String::as_str), Some("WARN"));
        assert!(lines.iter().all(|l| l.get("dialect").map(String::as_str) == Some("keytoken")
            && l.get("client_address").map(String::as_str) == Some("192.0.2.7")
            && l.get("user_agent").map(String::as_str) == Some("ops-test/1.0")));
        assert_clean(
            &lines,
            &["carol-password-1", &refresh, &field(&signup, "token"), &field(&rotated, "token")],
        );
        assert_count(recorder, "tokenauth_refresh_reuse_detections_total", 1.0);
        assert_eq!(
            recorder
                .get("tokenauth_route_requests_total{dialect=keytoken,action=refresh,outcome=invalid_token}"),
            Some(1.0)
        );
        assert_count(recorder, "tokenauth_token_rejections_total{source=route,reason=reused}", 1.0);
    });
}

#[test]
fn sachet_extend_and_logout_name_the_session() {
    observed(async |capture, recorder| {
        let routes = RouteSet::new(authority(Sachet.default_config()), Sachet);
        let res = routes.handle(post("/login", json!({"username": "bob", "password": "bob-pw"}))).await;
        assert_eq!(res.status, 200);
        let token = field(&res, "auth_token");
        let bearer = |path: &str, body: Value| {
            let mut req = post(path, body);
            req = req.with_authorization(format!("Bearer {token}"));
            req
        };
        let extended = routes.handle(bearer("/extend", json!({}))).await;
        assert_eq!(extended.status, 200);
        let out = routes.handle(bearer("/logout", json!({"token": token}))).await;
        assert_eq!(out.status, 200, "{:?}", out.json_body());

        let lines = capture.take();
        assert_eq!(
            summary(&lines),
            [
                row("login", "ok", "", "u-bob"),
                row("extend", "ok", "", "u-bob"),
                row("logout", "ok", "", "u-bob")
            ]
        );
        let family = lines[0].get("session_family").cloned().expect("the session");
        assert!(lines.iter().all(|l| l.get("session_family") == Some(&family)), "{lines:?}");
        assert_clean(&lines, &["bob-pw", &token, &field(&extended, "auth_token")]);
        // logout revoked the token and its family, inside the route: no `revocation` events
        assert_count(recorder, "tokenauth_revocations_total{kind=token}", 1.0);
        assert_count(recorder, "tokenauth_revocations_total{kind=family}", 1.0);
        for action in ["login", "extend", "logout"] {
            let key = format!("tokenauth_route_requests_total{{dialect=sachet,action={action},outcome=ok}}");
            assert_count(recorder, &key, 1.0);
        }
    });
}

#[test]
fn sachet_logout_of_another_users_token_names_the_administrator() {
    observed(async |capture, recorder| {
        let routes = RouteSet::new(authority(Sachet.default_config()), Sachet);
        let login = async |username: &str, password: &str| {
            let res =
                routes.handle(post("/login", json!({"username": username, "password": password}))).await;
            assert_eq!(res.status, 200, "{username}");
            field(&res, "auth_token")
        };
        let (admin, bob, bob_again) =
            (login("alice", "alice-pw").await, login("bob", "bob-pw").await, login("bob", "bob-pw").await);
        let logout = async |caller: &str, target: &str| {
            let req =
                post("/logout", json!({"token": target})).with_authorization(format!("Bearer {caller}"));
            routes.handle(req).await.status
        };
        capture.take();
        // bob may not log out the administrator's token; the administrator may log out bob's
        assert_eq!(logout(&bob, &admin).await, 403);
        assert_eq!(logout(&admin, &bob).await, 200);
        assert_eq!(logout(&bob_again, &bob_again).await, 200);
        // sachet answers a bad target with 400; the operator sees the token's rejection
        assert_eq!(logout(&admin, &bob).await, 400, "already revoked");
        assert_eq!(logout(&admin, "not.a.token").await, 400);

        let lines = capture.take();
        let get = |i: usize, k: &str| lines[i].get(k).map(String::as_str);
        assert_eq!(
            summary(&lines),
            [
                row("logout", "forbidden", "", "u-alice"),
                row("logout", "ok", "", "u-bob"),
                row("logout", "ok", "", "u-bob"),
                row("logout", "invalid_token", "revoked", "u-bob"),
                row("logout", "invalid_token", "malformed", ""),
            ]
        );
        assert_eq!(get(0, "actor_id"), Some("u-bob"), "who tried, on the administrator's session");
        assert_eq!(get(1, "actor_id"), Some("u-alice"), "who logged bob out");
        assert_eq!(get(2, "actor_id"), None, "bob's own logout: no actor beside the subject");
        assert_eq!((get(3, "actor_id"), get(4, "actor_id")), (Some("u-alice"), Some("u-alice")));
        assert_clean(&lines, &[&admin, &bob, &bob_again, "alice-pw", "bob-pw"]);
        assert_count(recorder, "tokenauth_token_rejections_total{source=route,reason=revoked}", 1.0);
        assert_count(recorder, "tokenauth_token_rejections_total{source=route,reason=malformed}", 1.0);
    });
}

#[test]
fn drf_refused_tokens_count_as_token_rejections_though_answered_400() {
    // drf-jwt answers a refused token with 400 and its own message; the
    // operator still sees the token's rejection and its reason.
    observed(async |capture, recorder| {
        let authority = authority(Drf.default_config());
        let routes = RouteSet::new(authority.clone(), Drf);
        let res =
            routes.handle(post("/access_token/", json!({"username": "alice", "password": "alice-pw"}))).await;
        assert_eq!(res.status, 200);
        let token = field(&res, "access_token");
        let verified = routes.handle(post("/verify_token/", json!({"token": token}))).await;
        assert_eq!(verified.status, 200);
        authority.revoke_subject("u-alice").await.expect("revoke");
        capture.take();

        for path in ["/verify_token/", "/refresh_token/"] {
            let refused = routes.handle(post(path, json!({"token": token}))).await;
            assert_eq!(refused.status, 400, "{path}");
            assert_eq!(refused.json_body(), Some(json!({"non_field_errors": ["Error decoding signature."]})));
        }
        let junk = routes.handle(post("/verify_token/", json!({"token": "not.a.token"}))).await;
        assert_eq!(junk.status, 400);
        let missing = routes.handle(post("/verify_token/", json!({}))).await;
        assert_eq!(missing.status, 400);

        // verify writes no event; refresh does, with the rejection's reason
        let lines = capture.take();
        assert_eq!(summary(&lines), [row("refresh", "invalid_token", "revoked", "u-alice")]);
        assert_clean(&lines, &[&token, "alice-pw"]);
        assert_count(recorder, "tokenauth_token_rejections_total{source=route,reason=revoked}", 2.0);
        assert_count(recorder, "tokenauth_token_rejections_total{source=route,reason=malformed}", 1.0);
        let route = |action: &str, outcome: &str| {
            format!("tokenauth_route_requests_total{{dialect=drf,action={action},outcome={outcome}}}")
        };
        assert_count(recorder, &route("verify", "ok"), 1.0);
        assert_count(recorder, &route("verify", "invalid_token"), 2.0);
        assert_count(recorder, &route("refresh", "invalid_token"), 1.0);
        // a request without a token is a bad request, as before
        assert_count(recorder, &route("verify", "bad_request"), 1.0);
    });
}

#[test]
fn standard_verify_counts_an_inactive_token_as_its_refusal_with_the_reason() {
    // `{"active": false}` is a 200 in the wire format's terms and a refused
    // token in the operator's: counted as `invalid_token`, with the reason
    // of the use it was asked about, never "the wrong use" of the other.
    observed(async |capture, recorder| {
        let authority = authority(config());
        let routes = RouteSet::new(authority.clone(), Standard);
        let res = routes.handle(post("/login", json!({"username": "alice", "password": "alice-pw"}))).await;
        assert_eq!(res.status, 200);
        let (access, refresh) = (field(&res, "access_token"), field(&res, "refresh_token"));
        let active = |res: &AuthResponse| res.json_body().map(|b| b["active"].clone());
        let verify = async |body: Value| routes.handle(post("/verify", body)).await;

        assert_eq!(active(&verify(json!({"token": access})).await), Some(json!(true)));
        let hinted = json!({"token": refresh, "token_type_hint": "refresh_token"});
        assert_eq!(active(&verify(hinted.clone()).await), Some(json!(true)));
        authority.revoke_subject("u-alice").await.expect("revoke");
        capture.take();

        for body in [json!({"token": access}), hinted, json!({"token": "not.a.token"})] {
            let res = verify(body).await;
            assert_eq!((res.status, active(&res)), (200, Some(json!(false))));
        }
        assert_eq!(summary(&capture.take()), [], "verify writes no event");
        let route = |outcome: &str| {
            format!("tokenauth_route_requests_total{{dialect=standard,action=verify,outcome={outcome}}}")
        };
        assert_count(recorder, &route("ok"), 2.0);
        assert_count(recorder, &route("invalid_token"), 3.0);
        assert_count(recorder, "tokenauth_token_rejections_total{source=route,reason=revoked}", 2.0);
        assert_count(recorder, "tokenauth_token_rejections_total{source=route,reason=malformed}", 1.0);
        assert_eq!(recorder.get("tokenauth_token_rejections_total{source=route,reason=wrong_use}"), None);
    });
}

/// A dialect of an application's own: drf's routes, but a refused token
/// at verify is answered 200 `{"valid": false}`.
struct Lenient;

#[async_trait::async_trait]
impl Dialect for Lenient {
    fn name(&self) -> &'static str {
        "lenient"
    }

    fn routes(&self) -> &[crate::Route] {
        Drf.routes()
    }

    async fn handle(
        &self,
        action: crate::dialect::Action,
        ctx: crate::RouteContext<'_>,
    ) -> Result<AuthResponse, crate::AuthError> {
        match Drf.handle(action, ctx).await {
            Err(crate::AuthError::InvalidRequest(_)) => Ok(AuthResponse::json(200, &json!({"valid": false}))),
            other => other,
        }
    }
}

#[test]
fn a_refusal_a_dialect_turns_into_a_success_is_counted_as_its_success() {
    observed(async |_capture, recorder| {
        let routes = RouteSet::new(authority(Drf.default_config()), Lenient);
        let res = routes.handle(post("/verify_token/", json!({"token": "not.a.token"}))).await;
        assert_eq!((res.status, res.json_body()), (200, Some(json!({"valid": false}))));
        assert_count(
            recorder,
            "tokenauth_route_requests_total{dialect=lenient,action=verify,outcome=ok}",
            1.0,
        );
        let rejected = "tokenauth_token_rejections_total{source=route,reason=malformed}";
        assert_eq!(
            recorder.get(rejected),
            None,
            "no rejection is counted for an answer the dialect gave as a success"
        );
    });
}

#[test]
fn throttle_refusals_and_unmatched_paths_have_closed_labels() {
    observed(async |capture, recorder| {
        let routes = RouteSet::new(authority(config().login_throttle(2, Duration::from_secs(60))), Standard);
        for attempt in 0..3 {
            let body = json!({"username": "alice", "password": format!("guess-{attempt}")});
            let res = routes.handle(post("/login", body)).await;
            assert_eq!(res.status, if attempt < 2 { 400 } else { 429 });
        }
        for path in ["/x-7f3a", "/x-9bc1"] {
            assert_eq!(routes.handle(post(path, json!({}))).await.status, 404);
        }
        let lines = capture.take();
        assert_eq!(
            summary(&lines),
            [
                row("login", "bad_credentials", "", ""),
                row("login", "bad_credentials", "", ""),
                row("login", "throttled", "user_address", ""),
            ]
        );
        assert!(lines.iter().all(|l| l.get("username").map(String::as_str) == Some("alice")));
        assert_clean(&lines, &["guess-"]);
        assert_count(recorder, "tokenauth_throttle_refusals_total{rule=user_address}", 1.0);
        assert_eq!(
            recorder
                .get("tokenauth_route_requests_total{dialect=standard,action=login,outcome=bad_credentials}"),
            Some(2.0)
        );
        assert_eq!(
            recorder
                .get("tokenauth_route_requests_total{dialect=standard,action=unmatched,outcome=not_found}"),
            Some(2.0),
            "random paths share one series"
        );
    });
}

#[test]
fn revocations_key_rotation_and_revoked_tokens_at_the_guard_are_events() {
    observed(async |capture, recorder| {
        let authority = authority(config());
        let pair = authority.login("alice", "alice-pw").await.expect("login");
        let guard = AuthGuard::new(authority.clone());
        let bearer = format!("Bearer {}", pair.access_token);
        let peer = || Peer::new(Some("192.0.2.9".parse().expect("ip"))).with_user_agent("stolen/1.0");
        let check = |value: &str| guard.begin(AuthorizationRef::One(value.as_bytes()), peer).outcome();
        assert!(check(&bearer).await.is_ok());

        // an application's own logout endpoint: one `logout` event for the token and its
        // family; given the refresh token of another of bob's sessions, it ends that one
        // too, with a `revocation` event of its own
        let bob = authority.login("bob", "bob-pw").await.expect("login");
        let bob_elsewhere = authority.login("bob", "bob-pw").await.expect("login");
        let bob_identity = authority.verify_access(&bob.access_token, crate::now()).expect("valid");
        authority.logout(&bob_identity, bob_elsewhere.refresh_token.as_deref()).await.expect("logout");
        authority.revoke_subject("u-alice").await.expect("revoke");
        let refused = check(&bearer).await.expect_err("revoked");
        assert_eq!(refused, crate::AuthError::InvalidToken(crate::TokenRejection::Revoked));
        assert!(check("Bearer not.a.token").await.is_err());
        authority.set_keys(KeySet::new(JwtKey::hs256("k2", &[9u8; 32]).expect("key")).expect("set"));

        let lines = capture.take();
        assert_eq!(
            summary(&lines),
            [
                row("revocation", "ok", "", "u-bob"),
                row("logout", "ok", "", "u-bob"),
                row("revocation", "ok", "", "u-alice"),
                row("revoked_token", "invalid_token", "revoked", "u-alice"),
                row("key_rotation", "ok", "", ""),
            ]
        );
        assert_eq!(
            lines[0].get("session_family"),
            bob_elsewhere.access_claims.fam.as_ref(),
            "the other session"
        );
        assert_eq!(lines[0].get("kind").map(String::as_str), Some("family"));
        assert_eq!(lines[1].get("session_family"), bob.access_claims.fam.as_ref());
        assert_eq!(lines[1].get("kind"), None);
        assert_eq!(lines[2].get("kind").map(String::as_str), Some("subject"));
        assert_eq!(lines[3].get("session_family"), pair.access_claims.fam.as_ref());
        assert_eq!(lines[3].get("client_address").map(String::as_str), Some("192.0.2.9"), "who presented it");
        assert_eq!(lines[3].get("user_agent").map(String::as_str), Some("stolen/1.0"));
        assert_eq!(lines[4].get("key_id").map(String::as_str), Some("k2"));
        assert_clean(
            &lines,
            &[
                &pair.access_token,
                pair.refresh_token.as_deref().unwrap_or_default(),
                "alice-pw",
                &bob.access_token,
                bob.refresh_token.as_deref().unwrap_or_default(),
                bob_elsewhere.refresh_token.as_deref().unwrap_or_default(),
                "bob-pw",
            ],
        );
        assert_count(recorder, "tokenauth_revocations_total{kind=subject}", 1.0);
        assert_count(recorder, "tokenauth_revocations_total{kind=token}", 1.0);
        assert_count(recorder, "tokenauth_revocations_total{kind=family}", 2.0);
        assert_count(recorder, "tokenauth_token_rejections_total{source=guard,reason=revoked}", 1.0);
        assert_count(recorder, "tokenauth_token_rejections_total{source=guard,reason=malformed}", 1.0);
        assert_count(recorder, "tokenauth_token_cache_lookups_total{result=hit}", 1.0);
    });
}

#[test]
fn basic_credentials_refused_at_the_guard_are_events_with_the_client() {
    observed(async |capture, recorder| {
        let authority = authority(config().login_throttle(1, Duration::from_secs(60)));
        let guard = AuthGuard::new(authority).schemes(&[crate::Scheme::Bearer, crate::Scheme::Basic]);
        let peer = || Peer::new(Some("192.0.2.7".parse().expect("ip"))).with_user_agent("ops-test/1.0");
        let basic = |password: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("alice:{password}"));
            format!("Basic {encoded}")
        };
        let check =
            async |value: String| guard.begin(AuthorizationRef::One(value.as_bytes()), peer).outcome().await;
        assert!(check(basic("alice-pw")).await.is_ok());
        assert_eq!(check(basic("guess-1")).await.expect_err("wrong").status(), 401);
        assert_eq!(check(basic("guess-2")).await.expect_err("throttled").status(), 429);

        let lines = capture.take();
        assert_eq!(
            summary(&lines),
            [
                row("basic_auth", "bad_credentials", "", ""),
                row("basic_auth", "throttled", "user_address", "")
            ]
        );
        assert!(lines.iter().all(|l| l.get("username").map(String::as_str) == Some("alice")
            && l.get("client_address").map(String::as_str) == Some("192.0.2.7")
            && l.get("user_agent").map(String::as_str) == Some("ops-test/1.0")));
        assert_clean(&lines, &["alice-pw", "guess-"]);
        for (outcome, count) in [("ok", 1.0), ("bad_credentials", 1.0), ("throttled", 1.0)] {
            let key = format!("tokenauth_basic_checks_total{{outcome={outcome}}}");
            assert_count(recorder, &key, count);
        }
    });
}

#[test]
fn cookie_mode_refusals_answered_with_cleared_cookies_are_refusals() {
    observed(async |capture, recorder| {
        let routes = RouteSet::with_cookies(authority(config()), crate::CookieMode::new());
        // a same-origin browser request carrying `cookies` and the CSRF header
        let browser = |mut req: crate::AuthRequest, cookies: &str, csrf: &str| {
            req.browser.origin = Some("https://app.example".into());
            req.browser.host = Some("app.example".into());
            req.browser.fetch_site = Some("same-origin".into());
            req.browser.cookies = vec![cookies.to_owned()];
            req.browser.csrf_token = Some(csrf.to_owned());
            req
        };
        let cookie = |res: &AuthResponse, name: &str| {
            let set = res.headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.as_str());
            set.filter_map(|v| v.split(';').next()?.split_once('='))
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_owned())
                .unwrap_or_default()
        };
        let login = post("/login", json!({"username": "alice", "password": "alice-pw"}));
        let res = routes.handle(browser(login, "", "")).await;
        assert_eq!(res.status, 200);
        let (refresh, csrf) = (cookie(&res, "__Secure-refresh_token"), cookie(&res, "__Host-csrf_token"));
        let jar = format!("__Secure-refresh_token={refresh}; __Host-csrf_token={csrf}");
        let rotated = routes.handle(browser(post("/refresh", json!({})), &jar, &csrf)).await;
        assert_eq!(rotated.status, 200);
        // the old refresh cookie again (a copy of the jar): 401, cookies cleared
        let replayed = routes.handle(browser(post("/refresh", json!({})), &jar, &csrf)).await;
        assert_eq!(replayed.status, 401);
        assert!(replayed.headers.iter().any(|(n, v)| *n == "set-cookie" && v.contains("Max-Age=0")));

        let lines = capture.take();
        assert_eq!(
            summary(&lines),
            [
                row("login", "ok", "", "u-alice"),
                row("refresh", "ok", "", "u-alice"),
                row("refresh_reuse", "invalid_token", "reused", "u-alice"),
            ]
        );
        assert_clean(&lines, &["alice-pw", &refresh, &csrf, &cookie(&rotated, "__Secure-refresh_token")]);
        let refused = "tokenauth_route_requests_total{dialect=standard,action=refresh,outcome=invalid_token}";
        assert_count(recorder, refused, 1.0);
        assert_count(
            recorder,
            "tokenauth_route_requests_total{dialect=standard,action=refresh,outcome=ok}",
            1.0,
        );
        assert_count(recorder, "tokenauth_token_rejections_total{source=route,reason=reused}", 1.0);
    });
}

#[test]
fn a_revoked_token_checked_later_names_who_presented_it_too() {
    observed(async |capture, _| {
        // the principal check on: every token's liveness is checked in a future
        let authority = authority(config().check_principal(true));
        let pair = authority.login("bob", "bob-pw").await.expect("login");
        authority.revoke_subject("u-bob").await.expect("revoke");
        capture.take();
        let guard = AuthGuard::new(authority);
        let peer = || Peer::new(Some("198.51.100.4".parse().expect("ip"))).with_user_agent("copy/2.0");
        let bearer = format!("Bearer {}", pair.access_token);
        let check = guard.begin(AuthorizationRef::One(bearer.as_bytes()), peer);
        assert!(matches!(check, crate::Check::Pending(_)), "checked later");
        assert_eq!(check.outcome().await.expect_err("revoked").status(), 401);
        let lines = capture.take();
        assert_eq!(summary(&lines), [row("revoked_token", "invalid_token", "revoked", "u-bob")]);
        assert_eq!(lines[0].get("client_address").map(String::as_str), Some("198.51.100.4"));
        assert_eq!(lines[0].get("user_agent").map(String::as_str), Some("copy/2.0"));
    });
}
