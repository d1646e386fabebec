//! Many instances, one truth: demo servers of both frameworks on one real
//! `redis-server` or PostgreSQL (`--store redis://...`, `postgres://...`),
//! and on a SQLite file across a SIGKILL restart, over real TCP. Redis is
//! CI's (`AUTH_TEST_REDIS_URL`) or one these tests start; PostgreSQL is
//! CI's (`AUTH_TEST_POSTGRES_URL`); without them the tests print that
//! they skipped (and fail under `CI=true`).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::store_tests::RedisServer;
use base64::Engine as _;
use serde_json::json;

use crate::harness::{Client, Req, Res, json_of, replay, request};
use crate::hostile::{BOB, BOB_WRONG, GUESSER, guess};
use crate::pgproxy::PgProxy;
use crate::table::{ALICE, Case, Challenge, Keys, TOKENS, WHOAMI, case};
use crate::tcp::{Server, send, start_with};

/// Which of the two instances a case goes to (stripped before sending).
const INSTANCE: &str = "x-test-instance";

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

pub(crate) fn unique_prefix() -> String {
    format!("t{:016x}", rand::random::<u64>())
}

/// The flags that put a demo on `redis` under `prefix` (a timeout a loaded
/// CI machine does not hit by accident).
pub(crate) fn store_flags<'a>(url: &'a str, prefix: &'a str) -> [&'a str; 6] {
    ["--store", url, "--store-prefix", prefix, "--store-timeout", "2s"]
}

/// Sends a case to instance A, or to B when it carries [`INSTANCE`].
pub(crate) fn pair_client(a: SocketAddr, b: SocketAddr) -> Client {
    Rc::new(move |mut req: Req| {
        let on_b = req.headers.iter().any(|(n, v)| *n == INSTANCE && v == "b");
        req.headers.retain(|(n, _)| *n != INSTANCE);
        Box::pin(send(if on_b { b } else { a }, req))
    })
}

pub(crate) fn on_b(case: Case) -> Case {
    case.header(INSTANCE, "b")
}

pub(crate) fn invalid() -> Challenge {
    Challenge::Error("Bearer", "invalid_token")
}

pub(crate) fn whoami(name: &'static str, token: &'static str) -> Case {
    case(name, "GET", "/whoami").auth(token)
}

/// The standard dialect: A is axum, B is actix, one Redis, one secret.
pub(crate) fn standard_cases() -> Vec<Case> {
    vec![
        case("A: login", "POST", "/auth/login")
            .json(ALICE)
            .ok(TOKENS)
            .capture(&[("access", "access_token"), ("refresh", "refresh_token")]),
        on_b(whoami("B: A's token works", "Bearer {access}").ok(WHOAMI)),
        case("A: logout", "POST", "/auth/logout").auth("Bearer {access}").expect(
            204,
            Challenge::None,
            Keys::Empty,
        ),
        on_b(whoami("B: the logged-out token is refused at once", "Bearer {access}").error(
            401,
            invalid(),
            "invalid_token",
        )),
        case("A: login again", "POST", "/auth/login")
            .json(ALICE)
            .ok(TOKENS)
            .capture(&[("access2", "access_token"), ("refresh2", "refresh_token")]),
        case("A: refresh rotates", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"{refresh2}"}"#)
            .ok(TOKENS)
            .capture(&[("access3", "access_token"), ("refresh3", "refresh_token")]),
        on_b(whoami("B: the rotated family's new token works", "Bearer {access3}").ok(WHOAMI)),
        on_b(
            case("B: the rotated-away refresh token retried once within the grace", "POST", "/auth/refresh")
                .json(r#"{"refresh_token":"{refresh2}"}"#)
                .ok(TOKENS),
        ),
        on_b(
            case("B: the rotated-away refresh token replayed is reuse", "POST", "/auth/refresh")
                .json(r#"{"refresh_token":"{refresh2}"}"#)
                .error(401, invalid(), "invalid_token")
                .field("error_description", json!("the refresh token was already used")),
        ),
        whoami("A: which revoked the family's access token", "Bearer {access3}").error(
            401,
            invalid(),
            "invalid_token",
        ),
        on_b(whoami("B: on both instances", "Bearer {access3}").error(401, invalid(), "invalid_token")),
        case("A: and its refresh token", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"{refresh3}"}"#)
            .error(401, invalid(), "invalid_token"),
        // login throttling counts on both: 5 guesses let through, then none
        guess("A: guess 1"),
        on_b(guess("B: guess 2")),
        guess("A: guess 3"),
        on_b(guess("B: guess 4")),
        guess("A: guess 5"),
        on_b(
            case("B: guess 6 is throttled", "POST", "/auth/login")
                .from(GUESSER)
                .json(BOB_WRONG)
                .error(429, Challenge::None, "slow_down")
                .has_number("retry-after", 1..=900),
        ),
        case("A: the right password from that address waits too", "POST", "/auth/login")
            .from(GUESSER)
            .json(BOB)
            .error(429, Challenge::None, "slow_down"),
    ]
}

/// The keytoken dialect: a pair deleted or reused on A is dead on B.
pub(crate) fn keytoken_cases() -> Vec<Case> {
    let creds = &["expires", "key", "refresh", "role", "token"];
    let errors = &["errors"];
    let basic = || Challenge::Scheme("Basic");
    let login = r#"{"client": "demo", "email": "ann@example.com", "password": "ann-pw"}"#;
    let patch = |name, auth| case(name, "PATCH", "/users").auth(auth).json(r#"{"email": "ann@example.com"}"#);
    vec![
        case("A: log in", "POST", "/users/token").json(login).ok(creds).capture(&[
            ("key", "key"),
            ("token", "token"),
            ("refresh", "refresh"),
        ]),
        on_b(patch("B: A's pair works", "Basic {b64:key:token}").ok(WHOAMI)),
        case("A: log out", "DELETE", "/users/token")
            .auth("Basic {b64:key:token}")
            .json(r#"{"client": "demo"}"#)
            .ok(&[]),
        on_b(patch("B: the deleted pair is dead", "Basic {b64:key:token}").answer(401, basic(), errors)),
        on_b(
            case("B: its refresh secret too", "POST", "/users/token/refresh")
                .json(r#"{"client": "demo", "key": "{key}", "refresh": "{refresh}"}"#)
                .answer(401, basic(), errors),
        ),
        case("A: log in again", "POST", "/users/token").json(login).ok(creds).capture(&[
            ("key2", "key"),
            ("token2", "token"),
            ("refresh2", "refresh"),
        ]),
        case("A: refresh", "POST", "/users/token/refresh")
            .json(r#"{"client": "demo", "key": "{key2}", "refresh": "{refresh2}"}"#)
            .ok(creds)
            .capture(&[("token3", "token")]),
        on_b(
            case(
                "B: the rotated-away refresh secret retried once within the grace",
                "POST",
                "/users/token/refresh",
            )
            .json(r#"{"client": "demo", "key": "{key2}", "refresh": "{refresh2}"}"#)
            .ok(creds),
        ),
        on_b(
            case("B: the rotated-away refresh secret is reuse", "POST", "/users/token/refresh")
                .json(r#"{"client": "demo", "key": "{key2}", "refresh": "{refresh2}"}"#)
                .answer(401, basic(), errors),
        ),
        patch("A: which killed the pair", "Basic {b64:key2:token3}").answer(401, basic(), errors),
    ]
}

/// An axum and an actix demo of each dialect on the store at `url`.
fn instances_act_as_one(url: &str, label: &str) {
    let rt = rt();
    let mut failures = Vec::new();
    for (dialect, cases) in [("standard", standard_cases()), ("keytoken", keytoken_cases())] {
        let prefix = unique_prefix();
        let flags = store_flags(url, &prefix);
        let a = start_with(dialect, "axum", &flags);
        let b = start_with(dialect, "actix", &flags);
        let client = pair_client(a.addr, b.addr);
        failures.extend(rt.block_on(replay(&format!("{label}/{dialect}"), client, &cases)));
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn two_instances_of_both_frameworks_on_one_redis_act_as_one() {
    let Some(redis) = RedisServer::shared() else { return };
    instances_act_as_one(redis.url(), "redis");
}

#[test]
fn two_instances_of_both_frameworks_on_one_postgres_act_as_one() {
    let Some(url) = auth_core::store_tests::postgres_url() else { return };
    instances_act_as_one(&url, "postgres");
}

pub(crate) async fn login(server: &Server) -> (String, String) {
    let res = send(
        server.addr,
        request("POST", "/auth/login", None, Some(serde_json::from_str(ALICE).expect("json"))),
    )
    .await;
    assert_eq!(res.status, 200, "login: {}", String::from_utf8_lossy(&res.body));
    let body = json_of(&res);
    let field = |name: &str| body[name].as_str().expect("a token").to_owned();
    (field("access_token"), field("refresh_token"))
}

async fn refresh(server: &Server, refresh_token: &str) -> Res {
    send(server.addr, request("POST", "/auth/refresh", None, Some(json!({"refresh_token": refresh_token}))))
        .await
}

pub(crate) async fn whoami_status(server: &Server, access: &str) -> Res {
    send(server.addr, request("GET", "/whoami", Some(&format!("Bearer {access}")), None)).await
}

/// Logs ann in on a keytoken demo: `Basic key:token`.
pub(crate) async fn keytoken_login(server: &Server) -> String {
    let login = json!({"client": "demo", "email": "ann@example.com", "password": "ann-pw"});
    let res = send(server.addr, request("POST", "/users/token", None, Some(login))).await;
    assert_eq!(res.status, 200, "keytoken login: {}", String::from_utf8_lossy(&res.body));
    let creds = json_of(&res);
    let pair = format!("{}:{}", creds["key"].as_str().expect("key"), creds["token"].as_str().expect("token"));
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
}

/// The keytoken dialect's protected request with `basic`.
pub(crate) fn keytoken_patch(basic: &str) -> Req {
    request("PATCH", "/users", Some(basic), Some(json!({"email": "ann@example.com"})))
}

/// Waits (up to 10 s) until `server` has logged `text` at least `times` times.
pub(crate) fn wait_logged(server: &Server, text: &str, times: usize) {
    for _ in 0..1000 {
        if server.logged(text) >= times {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the demo never logged {text:?} {times} time(s) within 10 s");
}

/// Every command `MONITOR` sees on keys under `{prefix}`, sent by a client
/// (the commands a script runs inside Redis are marked `lua` and left out).
pub(crate) struct Monitor {
    lines: Arc<Mutex<Vec<String>>>,
    pub(crate) port: u16,
}

impl Monitor {
    pub(crate) fn start(url: &str) -> Self {
        let port: u16 = url
            .trim_start_matches("redis://")
            .split(['/', ':'])
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("redis://HOST:PORT/DB");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect for MONITOR");
        stream.write_all(b"MONITOR\r\n").expect("MONITOR");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        Self { lines, port }
    }

    /// The client commands on `prefix` since the last call: waits for a
    /// marker sent after them, so nothing in flight is missed.
    pub(crate) fn round_trips(&self, prefix: &str) -> Vec<String> {
        let marker = format!("marker-{:016x}", rand::random::<u64>());
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.write_all(format!("ECHO {marker}\r\n").as_bytes()).expect("ECHO");
        for _ in 0..500 {
            let mut lines = self.lines.lock().expect("lines");
            if let Some(end) = lines.iter().position(|l| l.contains(&marker)) {
                let seen: Vec<String> = lines.drain(..=end).collect();
                return seen
                    .into_iter()
                    .filter(|l| l.contains(&format!("{{{prefix}}}")) && !l.contains(" lua]"))
                    .collect();
            }
            drop(lines);
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("MONITOR never showed the marker");
    }
}

#[test]
fn a_protected_request_is_one_redis_round_trip() {
    // A server of our own: MONITOR sees everything on it.
    let Some(redis) = RedisServer::own() else { return };
    let rt = rt();
    let prefix = unique_prefix();
    for (dialect, framework) in
        [("standard", "axum"), ("standard", "actix"), ("keytoken", "axum"), ("keytoken", "actix")]
    {
        let server = start_with(dialect, framework, &store_flags(redis.url(), &prefix));
        let protected = match dialect {
            "standard" => {
                let (access, _) = rt.block_on(login(&server));
                request("GET", "/whoami", Some(&format!("Bearer {access}")), None)
            }
            _ => keytoken_patch(&rt.block_on(keytoken_login(&server))),
        };
        // The first call on a server that has not seen the script yet
        // loads it (EVALSHA, NOSCRIPT, SCRIPT LOAD, EVALSHA): once per
        // server start, not per request.
        assert_eq!(rt.block_on(send(server.addr, protected.clone())).status, 200);
        let monitor = Monitor::start(redis.url());
        monitor.round_trips(&prefix);
        for _ in 0..3 {
            assert_eq!(rt.block_on(send(server.addr, protected.clone())).status, 200);
            let trips = monitor.round_trips(&prefix);
            assert_eq!(
                trips.len(),
                1,
                "{dialect}/{framework}: one round trip per protected request: {trips:#?}"
            );
            assert!(trips[0].contains("\"EVALSHA\""), "{dialect}/{framework}: one script: {trips:?}");
        }
    }
}

/// An axum and an actix demo on the store at `url`: while `down` holds,
/// everything that needs the store answers 503 with `Retry-After` in the
/// dialect's envelope (never a 200), routes that do not still answer;
/// after `up`, service resumes with no restart, and each instance logged
/// one warning and one recovery. `extra`: more demo flags (with
/// `--store-mirror`, the outage starts once each instance has noticed
/// that its subscription died, which a closed socket tells at once).
pub(crate) fn outage(url: &str, extra: &[&str], down: impl FnOnce(), up: impl FnOnce()) {
    let rt = rt();
    let prefix = unique_prefix();
    let flags = [&store_flags(url, &prefix)[..], extra].concat();
    let servers = [start_with("standard", "axum", &flags), start_with("standard", "actix", &flags)];
    let tokens: Vec<(String, String)> = servers.iter().map(|s| rt.block_on(login(s))).collect();
    down();
    if extra.contains(&"--store-mirror") {
        for server in &servers {
            wait_logged(server, "revocation mirror behind", 1);
        }
    }
    for (server, (access, refresh)) in servers.iter().zip(&tokens) {
        rt.block_on(async {
            let attempts = [
                ("whoami", request("GET", "/whoami", Some(&format!("Bearer {access}")), None)),
                (
                    "login",
                    request("POST", "/auth/login", None, Some(serde_json::from_str(ALICE).expect("json"))),
                ),
                ("refresh", request("POST", "/auth/refresh", None, Some(json!({"refresh_token": refresh})))),
                ("logout", request("POST", "/auth/logout", Some(&format!("Bearer {access}")), None)),
                ("verify", request("POST", "/auth/verify", None, Some(json!({"token": access})))),
            ];
            for (name, req) in attempts {
                let res = send(server.addr, req).await;
                assert_eq!(
                    res.status,
                    503,
                    "{name} without the store: {}",
                    String::from_utf8_lossy(&res.body)
                );
                assert_eq!(res.header("retry-after"), Some("1"), "{name}: Retry-After");
                assert_eq!(
                    json_of(&res)["error"],
                    "temporarily_unavailable",
                    "{name}: the dialect's envelope"
                );
            }
            let public = send(server.addr, request("GET", "/public", None, None)).await;
            assert_eq!(public.status, 200, "routes that need no store still answer");
        });
    }
    up();
    for (server, (access, _)) in servers.iter().zip(&tokens) {
        rt.block_on(async {
            let mut status = 0;
            for _ in 0..100 {
                status = whoami_status(server, access).await.status;
                if status != 503 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(status, 200, "the service resumes without a restart");
            login(server).await;
        });
        // Dozens of failed requests, one warning; and one line when it ended.
        assert_eq!(server.logged("auth store unreachable"), 1, "warned once per outage");
        assert_eq!(server.logged("auth store reachable again"), 1, "and once when it ended");
    }
}

#[test]
fn a_redis_outage_answers_503_on_both_frameworks_and_ends_by_itself() {
    let Some(redis) = RedisServer::own() else { return };
    let url = redis.url().to_owned();
    let redis = std::cell::RefCell::new(redis);
    outage(&url, &[], || redis.borrow_mut().kill(), || redis.borrow_mut().restart());
}

#[test]
fn a_postgres_outage_answers_503_on_both_frameworks_and_ends_by_itself() {
    let Some(url) = auth_core::store_tests::postgres_url() else { return };
    let proxy = PgProxy::start(pg_host_port(&url));
    outage(&proxy.url(&url), &[], || proxy.cut(), || proxy.restore());
}

/// `HOST:PORT` of a `postgres://USER@HOST:PORT/DB` URL.
pub(crate) fn pg_host_port(url: &str) -> String {
    let rest = url.split_once('@').map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

#[test]
fn a_protected_request_is_one_postgres_query() {
    let Some(url) = auth_core::store_tests::postgres_url() else { return };
    let proxy = PgProxy::start(pg_host_port(&url));
    let rt = rt();
    let prefix = unique_prefix();
    for framework in ["axum", "actix"] {
        let server = start_with("standard", framework, &store_flags(&proxy.url(&url), &prefix));
        let (access, _) = rt.block_on(login(&server));
        // the first query on each pooled connection prepares its statement
        // (one more round trip, once per connection): warm them all up
        for _ in 0..32 {
            assert_eq!(rt.block_on(whoami_status(&server, &access)).status, 200);
        }
        for _ in 0..3 {
            let (queries, trips) = proxy.counts();
            assert_eq!(rt.block_on(whoami_status(&server, &access)).status, 200);
            // sqlx pings a connection when it goes back to the pool, after the answer
            std::thread::sleep(Duration::from_millis(50));
            let (queries, trips) = (proxy.counts().0 - queries, proxy.counts().1 - trips);
            assert_eq!(queries, 1, "{framework}: one query per protected request");
            // The query's own round trip, the pool's ping of the connection it
            // gets back (after the answer), and a prepare on a connection the
            // pool opened meanwhile: measured, not asserted (BENCHMARKS.md).
            eprintln!("{framework}: {queries} query, {trips} round trips to PostgreSQL");
        }
    }
}

#[test]
fn a_logout_survives_a_demo_restart() {
    let Some(redis) = RedisServer::shared() else { return };
    let rt = rt();
    for framework in ["axum", "actix"] {
        let prefix = unique_prefix();
        let flags = store_flags(redis.url(), &prefix);
        let server = start_with("standard", framework, &flags);
        let (out, _) = rt.block_on(login(&server));
        let (kept, _) = rt.block_on(login(&server));
        let res = rt.block_on(send(
            server.addr,
            request("POST", "/auth/logout", Some(&format!("Bearer {out}")), None),
        ));
        assert_eq!(res.status, 204, "{framework}: logout");
        drop(server); // SIGKILL
        let server = start_with("standard", framework, &flags);
        assert_eq!(rt.block_on(whoami_status(&server, &out)).status, 401, "{framework}: still logged out");
        assert_eq!(
            rt.block_on(whoami_status(&server, &kept)).status,
            200,
            "{framework}: the other token lives"
        );
    }
}

/// A SQLite file for one test, removed when dropped.
struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", ".tokenauth.lock"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

#[test]
fn sqlite_state_survives_a_sigkill_restart_on_both_frameworks() {
    let rt = rt();
    for framework in ["axum", "actix"] {
        let db = TempDb(std::env::temp_dir().join(format!("tokenauth-{}.db", unique_prefix())));
        let url = format!("sqlite://{}", db.0.display());
        let flags = store_flags(&url, "auth");
        let server = start_with("standard", framework, &flags);
        let (out, _) = rt.block_on(login(&server));
        let res = rt.block_on(send(
            server.addr,
            request("POST", "/auth/logout", Some(&format!("Bearer {out}")), None),
        ));
        assert_eq!(res.status, 204, "{framework}: logout");
        // family x: rotated once, its first token kept to replay; family y: rotated once, its current kept
        let (_, x0) = rt.block_on(login(&server));
        let x1 =
            json_of(&rt.block_on(refresh(&server, &x0)))["refresh_token"].as_str().expect("x1").to_owned();
        let (_, y0) = rt.block_on(login(&server));
        let y1 =
            json_of(&rt.block_on(refresh(&server, &y0)))["refresh_token"].as_str().expect("y1").to_owned();
        drop(server); // SIGKILL: nothing is flushed on the way out
        let server = start_with("standard", framework, &flags);
        let res = rt.block_on(whoami_status(&server, &out));
        assert_eq!(res.status, 401, "{framework}: the logged-out token is still refused");
        assert_eq!(json_of(&res)["error_description"], "the token has been revoked");
        // the rotated-away token: once within the grace (the state survived), then reuse
        assert_eq!(rt.block_on(refresh(&server, &x0)).status, 200, "{framework}: the grace answer");
        let reuse = rt.block_on(refresh(&server, &x0));
        assert_eq!(reuse.status, 401, "{framework}: the rotated-away refresh token");
        assert_eq!(json_of(&reuse)["error_description"], "the refresh token was already used", "{framework}");
        assert_eq!(rt.block_on(refresh(&server, &x1)).status, 401, "{framework}: reuse killed its family");
        let current = rt.block_on(refresh(&server, &y1));
        assert_eq!(current.status, 200, "{framework}: the current refresh token still refreshes");
    }
}
