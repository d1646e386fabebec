//! The security review's identity-provider findings, on both frameworks:
//! an IdP's `sub` that equals a local user id (the admin's `1`) logs in
//! as a user of its own, namespaced by its issuer, and stays one through
//! a refresh, so it never reaches `/admin`; a subject allowed for one
//! issuer cannot log in through another; the user store decides (a
//! disabled or unknown external user is refused, stored roles go into the
//! first token); and a valid IdP token replayed 10,000 times against the
//! demo binary is throttled and costs bounded memory.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser as _;
use demo_app::{Demo, DemoConfig};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::harness::{
    Client, Req, Res, SECRET, actix_client, axum_client, http1_request, json_of, read_http1,
};
use crate::jwks::{ALICE, AUDIENCE, Idp, IdpKey, assert_refused, claims_of, idp_key, idp_token, send};

/// Why an IdP login of a subject the verifier or the user store does not
/// allow is refused.
const NOT_ALLOWED: &str = "the token's subject is not allowed to log in here";

/// Two identity providers on loopback, each with a key of its own.
struct TwoIdps {
    a: Idp,
    a_key: IdpKey,
    b: Idp,
    b_key: IdpKey,
}

impl TwoIdps {
    fn start() -> Self {
        let (a_key, b_key) = (idp_key("testdata/idp_a.pem"), idp_key("testdata/idp_b.pem"));
        let a = Idp::start(vec![a_key.jwk.clone()]);
        let b = Idp::start(vec![b_key.jwk.clone()]);
        Self { a, a_key, b, b_key }
    }

    /// A token of issuer A for `sub`.
    fn token_a(&self, sub: &str) -> String {
        idp_token(&self.a, &self.a_key, json!({"sub": sub}))
    }

    /// A token of issuer B for `sub`.
    fn token_b(&self, sub: &str) -> String {
        idp_token(&self.b, &self.b_key, json!({"sub": sub}))
    }

    /// The `--idp-*` flags of both issuers (one audience for both), then
    /// `--idp-user` for each of `users`.
    fn flags(&self, users: &[&str]) -> Vec<String> {
        let mut flags = Vec::new();
        for idp in [&self.a, &self.b] {
            let issuer = idp.issuer();
            flags.extend(["--idp-issuer".to_owned(), issuer.clone()]);
            flags.extend(["--idp-jwks".to_owned(), format!("{issuer}jwks.json")]);
        }
        flags.extend(["--idp-audience".to_owned(), AUDIENCE.to_owned()]);
        for user in users {
            flags.extend(["--idp-user".to_owned(), (*user).to_owned()]);
        }
        flags
    }
}

/// The datarhei demo with the one local user `admin` (id `1`, role
/// `admin`) and `extra` flags.
fn datarhei_admin_demo(extra: &[String]) -> DemoConfig {
    let mut args: Vec<String> =
        ["demo", "--secret", SECRET, "--dialect", "datarhei"].map(str::to_owned).into();
    args.extend(["--user".to_owned(), "admin:admin-pw:admin".to_owned()]);
    args.extend(extra.iter().cloned());
    DemoConfig::try_parse_from(args).expect("demo flags")
}

/// A password login at datarhei's `POST /api/login`.
async fn password_login(client: &Client, username: &str, password: &str) -> Res {
    let body = json!({"username": username, "password": password}).to_string().into_bytes();
    let headers = vec![("content-type", "application/json".to_owned())];
    client(Req { method: "POST", path: "/api/login".into(), headers, body, peer: None }).await
}

/// A string field of a JSON answer.
fn field(res: &Res, name: &str) -> String {
    match json_of(res)[name].as_str() {
        Some(value) => value.to_owned(),
        None => panic!("no string `{name}` in {}", String::from_utf8_lossy(&res.body)),
    }
}

/// An IdP login that must succeed: the answered token pair.
async fn idp_login(what: &str, client: &Client, token: &str) -> (String, String) {
    let res = send(client, "POST", "/api/login", Some(token)).await;
    assert_eq!(res.status, 200, "{what}: {}", String::from_utf8_lossy(&res.body));
    (field(&res, "access_token"), field(&res, "refresh_token"))
}

/// `GET /admin` with `token`: 403 with the insufficient-scope challenge
/// and datarhei's envelope.
async fn assert_not_admin(what: &str, client: &Client, token: &str) {
    let res = send(client, "GET", "/admin", Some(token)).await;
    assert_eq!(res.status, 403, "{what}: {}", String::from_utf8_lossy(&res.body));
    let challenge = res.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer ") && challenge.contains("error=\"insufficient_scope\""),
        "{what}: {challenge}"
    );
    let body = json_of(&res);
    assert_eq!((&body["code"], &body["message"]), (&json!(403), &json!("Forbidden")), "{what}: {body}");
}

/// Finding 1 against one framework's app: the IdP's subject `1` is never
/// the local admin `1`, not at login and not after a refresh.
async fn two_idp_escalation(fw: &str, client: Client, idps: &TwoIdps) {
    // Control: the local admin logs in with a password and reaches /admin.
    let res = password_login(&client, "admin", "admin-pw").await;
    assert_eq!(res.status, 200, "{fw}: admin's password login: {}", String::from_utf8_lossy(&res.body));
    let admin = field(&res, "access_token");
    assert_eq!(claims_of(&admin)["sub"], "1", "{fw}: the local admin's id");
    let res = send(&client, "GET", "/admin", Some(&admin)).await;
    assert_eq!((res.status, json_of(&res)), (200, json!({"admin": "admin"})), "{fw}: control");

    // Issuer A's subject "1" logs in as a user of its own.
    let ext_a = auth_core::ExternalSubject::new(idps.a.issuer(), "1").principal_id();
    let (access, refresh) = idp_login(&format!("{fw}: A's sub 1"), &client, &idps.token_a("1")).await;
    assert_eq!(claims_of(&access)["sub"], ext_a, "{fw}");
    // named by the IdP's subject, never by the local user with that id
    assert_eq!(claims_of(&access)["username"], "1", "{fw}");
    assert_not_admin(&format!("{fw}: A's sub 1, as logged in"), &client, &access).await;

    // datarhei's refresh (the refresh token as Bearer) reloads the
    // principal by the token's `sub`: still the external one.
    let res = send(&client, "GET", "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(res.status, 200, "{fw}: refresh: {}", String::from_utf8_lossy(&res.body));
    let refreshed = field(&res, "access_token");
    let claims = claims_of(&refreshed);
    assert_eq!(claims["sub"], ext_a, "{fw}: refreshed");
    assert_eq!(claims["username"], "1", "{fw}: refreshed: {claims}");
    assert!(!claims["roles"].as_array().is_some_and(|r| r.contains(&json!("admin"))), "{fw}: {claims}");
    assert_not_admin(&format!("{fw}: A's sub 1, refreshed"), &client, &refreshed).await;
    let whoami = send(&client, "GET", "/whoami", Some(&refreshed)).await;
    assert_eq!(
        (whoami.status, json_of(&whoami)["sub"].clone(), json_of(&whoami)["username"].clone()),
        (200, json!(ext_a), json!("1")),
        "{fw}: whoami, refreshed"
    );

    // Issuer B's subject "1" is yet another user, no admin either.
    let ext_b = auth_core::ExternalSubject::new(idps.b.issuer(), "1").principal_id();
    let (access_b, _) = idp_login(&format!("{fw}: B's sub 1"), &client, &idps.token_b("1")).await;
    assert_eq!(claims_of(&access_b)["sub"], ext_b, "{fw}");
    assert_ne!(ext_a, ext_b, "{fw}");
    assert_not_admin(&format!("{fw}: B's sub 1"), &client, &access_b).await;

    // and the admin's own session is untouched
    let res = send(&client, "GET", "/admin", Some(&admin)).await;
    assert_eq!(res.status, 200, "{fw}: control, afterwards");
}

#[test]
fn an_idp_subject_equal_to_the_admins_id_is_not_the_admin_even_after_a_refresh() {
    let idps = TwoIdps::start();
    let config = datarhei_admin_demo(&idps.flags(&["1"]));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        two_idp_escalation("axum", axum_client(&demo), &idps).await;
    });
    actix_rt::System::new().block_on(async {
        let demo = Demo::new(&config).await.expect("demo");
        two_idp_escalation("actix", actix_client(&demo).await, &idps).await;
    });
}

/// Finding 2 against one framework: `--idp-user A=alice` lets A's Alice
/// in, never B's.
async fn scoped_subject(fw: &str, client: Client, idps: &TwoIdps) {
    let (access, _) = idp_login(&format!("{fw}: A's alice"), &client, &idps.token_a("alice")).await;
    let alice_a = auth_core::ExternalSubject::new(idps.a.issuer(), "alice").principal_id();
    assert_eq!(claims_of(&access)["sub"], alice_a, "{fw}");
    let res = send(&client, "POST", "/api/login", Some(&idps.token_b("alice"))).await;
    assert_refused(&format!("{fw}: B's alice, allowed for A only"), &res, NOT_ALLOWED);
    // B's own subject still logs in there.
    idp_login(&format!("{fw}: B's bob"), &client, &idps.token_b("bob")).await;
}

/// `--idp-user alice` (every issuer): both log in, as two principals.
async fn global_subject(fw: &str, client: Client, idps: &TwoIdps) {
    let (from_a, _) = idp_login(&format!("{fw}: A's alice"), &client, &idps.token_a("alice")).await;
    let (from_b, _) = idp_login(&format!("{fw}: B's alice"), &client, &idps.token_b("alice")).await;
    let (sub_a, sub_b) = (claims_of(&from_a)["sub"].clone(), claims_of(&from_b)["sub"].clone());
    assert_eq!(sub_a, auth_core::ExternalSubject::new(idps.a.issuer(), "alice").principal_id(), "{fw}");
    assert_eq!(sub_b, auth_core::ExternalSubject::new(idps.b.issuer(), "alice").principal_id(), "{fw}");
    assert_ne!(sub_a, sub_b, "{fw}: one subject name, two issuers, two principals");
    for token in [&from_a, &from_b] {
        let whoami = send(&client, "GET", "/whoami", Some(token)).await;
        assert_eq!(whoami.status, 200, "{fw}");
        assert_eq!(json_of(&whoami)["sub"], claims_of(token)["sub"], "{fw}");
    }
}

#[test]
fn a_subject_allowed_for_one_issuer_cannot_log_in_through_another() {
    let idps = TwoIdps::start();
    let scoped = datarhei_admin_demo(
        &idps.flags(&[&format!("{}=alice", idps.a.issuer()), &format!("{}=bob", idps.b.issuer())]),
    );
    let global = datarhei_admin_demo(&idps.flags(&["alice"]));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        scoped_subject("axum", axum_client(&Demo::new(&scoped).await.expect("demo")), &idps).await;
        global_subject("axum", axum_client(&Demo::new(&global).await.expect("demo")), &idps).await;
    });
    actix_rt::System::new().block_on(async {
        let client = actix_client(&Demo::new(&scoped).await.expect("demo")).await;
        scoped_subject("actix", client, &idps).await;
        let client = actix_client(&Demo::new(&global).await.expect("demo")).await;
        global_subject("actix", client, &idps).await;
    });
}

/// A subject the verifier allows but the user store never registered.
const UNREGISTERED: &str = "auth0|carol";

/// The datarhei route set at `/api` taking logins of `idp`'s Alice and
/// Carol (the verifier allows both), over `users`, which the caller
/// keeps to disable and re-enable Alice.
fn datarhei_over(idp: &Idp, users: &auth_core::MemoryUsers) -> auth_core::RouteSet {
    use auth_core::Dialect as _;
    use auth_core::jwks::{IssuerConfig, JwksOptions, JwksVerifier};
    let tenant = IssuerConfig::new(idp.issuer(), AUDIENCE)
        .jwks_url(format!("{}jwks.json", idp.issuer()))
        .allow_subjects([ALICE, UNREGISTERED]);
    let verifier = JwksVerifier::new(vec![tenant], JwksOptions::default()).expect("verifier");
    let keys =
        auth_core::KeySet::new(auth_core::JwtKey::hs256("k", SECRET.as_bytes()).expect("key")).expect("keys");
    let dialect = auth_core::dialects::Datarhei::default().with_external_identity(verifier);
    let authority =
        auth_core::Authority::builder(keys).users(users.clone()).config(dialect.default_config()).build();
    auth_core::RouteSet::new(authority, dialect).at("/api")
}

/// Finding 3 against one framework: the user store decides.
async fn store_decides(fw: &str, client: Client, idp: &Idp, key: &IdpKey, users: &auth_core::MemoryUsers) {
    let who = auth_core::ExternalSubject::new(idp.issuer(), ALICE);
    let token = idp_token(idp, key, json!({}));
    let (access, refresh) = idp_login(&format!("{fw}: registered"), &client, &token).await;
    let claims = claims_of(&access);
    assert_eq!(claims["sub"], who.principal_id(), "{fw}");
    assert_eq!(claims["roles"], json!(["viewer", "editor"]), "{fw}: the stored roles: {claims}");

    assert!(users.set_active(&who.principal_id(), false), "{fw}: disabled");
    let res = send(&client, "POST", "/api/login", Some(&token)).await;
    assert_refused(&format!("{fw}: disabled"), &res, NOT_ALLOWED);
    // nor does the session of before go on
    let res = send(&client, "GET", "/api/login/refresh", Some(&refresh)).await;
    assert_eq!(res.status, 401, "{fw}: refresh while disabled: {}", String::from_utf8_lossy(&res.body));

    assert!(users.set_active(&who.principal_id(), true), "{fw}: re-enabled");
    idp_login(&format!("{fw}: re-enabled"), &client, &token).await;

    let res =
        send(&client, "POST", "/api/login", Some(&idp_token(idp, key, json!({"sub": UNREGISTERED})))).await;
    assert_refused(&format!("{fw}: allowed by the verifier, unknown to the store"), &res, NOT_ALLOWED);
}

/// Users with Alice of `idp` registered (roles viewer and editor), and a
/// local user whose id is Alice's subject, who must never be her.
fn users_with_alice(idp: &Idp) -> auth_core::MemoryUsers {
    let users = auth_core::MemoryUsers::new()
        .with_user(auth_core::Principal::new(ALICE, "local-alice").with_role("admin"), "pw-of-local-alice")
        .expect("user");
    let who = auth_core::ExternalSubject::new(idp.issuer(), ALICE);
    users.add_external(
        auth_core::Principal::new(who.principal_id(), ALICE).with_role("viewer").with_role("editor"),
    );
    users
}

#[test]
fn a_disabled_or_unregistered_external_user_is_refused_at_login() {
    let key = idp_key("testdata/idp_a.pem");
    let idp = Idp::start(vec![key.jwk.clone()]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let users = users_with_alice(&idp);
    let routes = datarhei_over(&idp, &users);
    rt.block_on(async {
        let router = axum::Router::new().fallback_service(auth_tower::AuthRoutes::new(routes));
        store_decides("axum", crate::harness::router_client(router), &idp, &key, &users).await;
    });
    let users = users_with_alice(&idp);
    let routes = datarhei_over(&idp, &users);
    actix_rt::System::new().block_on(async {
        let client = crate::harness::configured_client(move |cfg| {
            cfg.default_service(auth_actix::service(routes));
        })
        .await;
        store_decides("actix", client, &idp, &key, &users).await;
    });
}

/// What one client of the flood saw.
#[derive(Default)]
struct Tally {
    ok: usize,
    throttled: usize,
    other: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.ok += other.ok;
        self.throttled += other.throttled;
        self.other.extend(other.other);
    }
}

/// Sends `POST /api/login` with `token` `times` times over one keep-alive
/// connection; every answer must be 200 or 429 with `Retry-After` and
/// datarhei's envelope.
async fn replay_token(addr: SocketAddr, token: &str, times: usize) -> Tally {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect to the demo");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let req = Req {
        method: "POST",
        path: "/api/login".into(),
        headers: vec![("authorization", format!("Bearer {token}"))],
        body: Vec::new(),
        peer: None,
    };
    let mut tally = Tally::default();
    for i in 0..times {
        sender.ready().await.expect("the connection stays open");
        let request = http1_request(&req)
            .header("host", addr.to_string())
            .body(Full::new(Bytes::new()))
            .expect("request");
        let res = read_http1(sender.send_request(request).await.expect("response")).await;
        let retry_after = res.header("retry-after").and_then(|v| v.parse::<u64>().ok());
        match res.status {
            200 => tally.ok += 1,
            429 if retry_after.is_some_and(|s| s >= 1) && json_of(&res)["code"] == 429 => {
                tally.throttled += 1
            }
            status => tally.other.push(format!(
                "request {i}: {status} (Retry-After {:?}): {}",
                res.header("retry-after"),
                String::from_utf8_lossy(&res.body)
            )),
        }
    }
    tally
}

/// `clients` concurrent keep-alive clients sending `token` `each` times.
async fn flood(addr: SocketAddr, token: &str, clients: usize, each: usize) -> Tally {
    let runs = (0..clients).map(|_| replay_token(addr, token, each));
    let mut total = Tally::default();
    for tally in futures_util::future::join_all(runs).await {
        total.add(tally);
    }
    total
}

/// One IdP login from `forwarded_for` (a client address the trusted
/// loopback proxy names).
async fn login_from(addr: SocketAddr, token: &str, forwarded_for: &str) -> Res {
    let req = Req {
        method: "POST",
        path: "/api/login".into(),
        headers: vec![
            ("authorization", format!("Bearer {token}")),
            ("x-forwarded-for", forwarded_for.to_owned()),
        ],
        body: Vec::new(),
        peer: None,
    };
    crate::tcp::send(addr, req).await
}

/// The most logins of one external principal the throttle lets through
/// in `elapsed`: the 20 free ones, then one after 1 s, 2 s, 4 s ... (the
/// k-th extra one at least 2^k - 1 s after the 20th, on a clock of whole
/// seconds).
fn most_logins_in(elapsed: Duration) -> usize {
    let secs = elapsed.as_secs() + 1; // whole seconds the run may span
    let mut extra = 0;
    while (1u64 << (extra + 1)) - 1 <= secs {
        extra += 1;
    }
    20 + extra
}

/// Requests of the flood, and of its warm-up.
const REPLAYS: usize = 10_000;
const CLIENTS: usize = 4;
const WARM_UP_EACH: usize = 100;
/// What the flood may add to the demo's resident memory, after warm-up.
/// Before the fix every replay was a login that stored a refresh family
/// (about 550 bytes each): 9,600 logins that all succeed (500 subjects,
/// 20 each, within the throttle) grow the debug demo by about 4.3 MiB.
/// Throttled, a replay stores nothing (the principal's and the address's
/// counters exist already), so what remains is allocator noise (tens of
/// KiB when measured). 2 MiB sits between the two.
const RSS_GROWTH_BOUND: u64 = 2 * 1024 * 1024;

/// Finding 4 against the demo binary on `framework`.
fn replayed_token(framework: &str) {
    let key = idp_key("testdata/idp_a.pem");
    let idp = Idp::start(vec![key.jwk.clone()]);
    let issuer = idp.issuer();
    let mut args = crate::harness::demo_args("datarhei");
    args.remove(0); // the program name
    args.extend(
        [
            "--idp-issuer",
            &issuer,
            "--idp-audience",
            AUDIENCE,
            "--idp-jwks",
            &format!("{issuer}jwks.json"),
            "--idp-user",
            ALICE,
            "--idp-user",
            "auth0|bob",
            "--refusal-delay",
            "0s",
        ]
        .map(str::to_owned),
    );
    // (loopback is the trusted proxy: X-Forwarded-For names the client)
    let demo = crate::tcp::start_args(args, framework, &[]);
    let token = idp_token(&idp, &key, json!({}));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let started = Instant::now();
    let warm_up = rt.block_on(flood(demo.addr, &token, CLIENTS, WARM_UP_EACH));
    let before = demo.rss();
    let rest = rt.block_on(flood(demo.addr, &token, CLIENTS, (REPLAYS - CLIENTS * WARM_UP_EACH) / CLIENTS));
    let after = demo.rss();
    let elapsed = started.elapsed();
    let mut total = warm_up;
    total.add(rest);
    let growth = after.saturating_sub(before);
    eprintln!(
        "{framework}: {REPLAYS} replays in {elapsed:?}: {} × 200, {} × 429; RSS {before} -> {after} bytes (+{growth})",
        total.ok, total.throttled
    );
    assert!(
        total.other.is_empty(),
        "{framework}: {} other answers:\n{}",
        total.other.len(),
        total.other.join("\n")
    );
    assert_eq!(total.ok + total.throttled, REPLAYS, "{framework}");
    assert!(total.ok >= 20, "{framework}: the 20 free logins: {}", total.ok);
    let most = most_logins_in(elapsed);
    assert!(total.ok <= most, "{framework}: {} logins in {elapsed:?}, at most {most} expected", total.ok);
    assert!(
        growth < RSS_GROWTH_BOUND,
        "{framework}: the flood grew the demo by {growth} bytes ({before} -> {after})"
    );
    // Another user, from another address, is not held back by the flood.
    let bob = idp_token(&idp, &key, json!({"sub": "auth0|bob"}));
    let res = rt.block_on(login_from(demo.addr, &bob, "192.0.2.10"));
    assert_eq!(res.status, 200, "{framework}: bob elsewhere: {}", String::from_utf8_lossy(&res.body));
}

#[test]
fn a_replayed_idp_token_is_throttled_and_costs_bounded_memory() {
    replayed_token("axum");
    replayed_token("actix");
}
