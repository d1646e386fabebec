//! What an operator sees of one attack-and-recovery scenario, over real
//! TCP on both frameworks: the demo binary with `--metrics` and
//! `--audit-log`, a password-guessing run against one user (V), a session
//! of another (A) whose rotated refresh token is stolen and replayed, the
//! throttle closing on V, and the revoked session still in use.
//!
//! The metrics must change by exactly the table below (auth-core's
//! documented series, `auth-core/src/metrics.rs`), the audit log must hold
//! exactly the events below (`auth-core/src/audit.rs`), neither may hold a
//! secret, and input an attacker chooses (usernames, paths, user agents)
//! must never create series.
//!
//! The demo binary comes from `cargo build -p examples --example demo`
//! (the README's `cargo test --workspace` builds it); without it the test
//! prints `SKIPPED` and passes, unless `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::Rng as _;
use serde_json::{Value, json};

use crate::harness::{Req, Res};
use crate::tcp::{Server, send, start_args};

/// The signing secret the scenario's demo gets (`--secret`).
const SECRET: &str = "operations-scenario-signing-secret-0123456789";
/// V: the user whose password is guessed (never logs in).
const VICTIM: &str = "victim";
const VICTIM_PASSWORD: &str = "victim-right-password-Qx7";
/// A: the user who logs in, refreshes, and whose refresh token is replayed.
const ALICE: &str = "alice";
const ALICE_PASSWORD: &str = "alice-right-password-Kd9";
/// The guesses at V's password: three failures, then the throttled fourth.
const WRONG: [&str; 4] = ["wrong-password-1", "wrong-password-2", "wrong-password-3", "wrong-password-4"];
/// The `User-Agent` of every scenario request.
const USER_AGENT: &str = "tokenauth-operations-scenario/1.0 (+conformance)";

/// What steps 1–7 add to auth-core's series: every `tokenauth_*` series
/// that changes, by exactly this much (labels sorted by name; a histogram
/// by its `_count`; any series not listed must not change).
const SCENARIO_METRICS: &[(&str, u64)] = &[
    // 1: three wrong passwords of V (400 invalid_grant)
    (r#"tokenauth_route_requests_total{action="login",dialect="standard",outcome="bad_credentials"}"#, 3),
    // 2: A logs in
    (r#"tokenauth_route_requests_total{action="login",dialect="standard",outcome="ok"}"#, 1),
    // 1 + 2: four passwords hashed, each waited for a hashing thread once
    ("tokenauth_hashing_wait_seconds_count", 4),
    // 3: R1 exchanged for A2 + R2 (the refresh token is verified without the
    // access-token cache)
    (r#"tokenauth_route_requests_total{action="refresh",dialect="standard",outcome="ok"}"#, 1),
    // 4: R1 again: reuse, the family revoked
    (r#"tokenauth_route_requests_total{action="refresh",dialect="standard",outcome="invalid_token"}"#, 1),
    (r#"tokenauth_token_rejections_total{reason="reused",source="route"}"#, 1),
    ("tokenauth_refresh_reuse_detections_total", 1),
    (r#"tokenauth_revocations_total{kind="family"}"#, 1),
    // 5: logout with A2: verified (a cache miss; cached), refused as revoked
    (r#"tokenauth_route_requests_total{action="logout",dialect="standard",outcome="invalid_token"}"#, 1),
    (r#"tokenauth_token_rejections_total{reason="revoked",source="route"}"#, 1),
    (r#"tokenauth_token_cache_lookups_total{result="miss"}"#, 1),
    // 6: V's fourth attempt: the username + address rule (3) refuses, unhashed
    (r#"tokenauth_route_requests_total{action="login",dialect="standard",outcome="throttled"}"#, 1),
    (r#"tokenauth_throttle_refusals_total{rule="user_address"}"#, 1),
    // 7: GET /whoami with A2: a cache hit (cached by 5), refused by the guard
    (r#"tokenauth_token_rejections_total{reason="revoked",source="guard"}"#, 1),
    (r#"tokenauth_token_cache_lookups_total{result="hit"}"#, 1),
];

/// The session A's login started, as its tokens name it.
struct Session {
    subject_id: String,
    family: String,
}

/// The audit events of steps 1–7, in order, each line whole but its
/// `timestamp`.
fn expected_audit(session: &Session) -> Vec<Value> {
    let (sub, fam) = (session.subject_id.as_str(), session.family.as_str());
    // A route's event: the dialect and the client, plus `fields`.
    let route = |level: &str, fields: Value| {
        let mut line = json!({
            "level": level,
            "dialect": "standard",
            "client_address": "127.0.0.1",
            "user_agent": USER_AGENT,
            "target": "tokenauth::audit",
        });
        for (k, v) in fields.as_object().expect("an object") {
            line[k] = v.clone();
        }
        line
    };
    let failed =
        || route("INFO", json!({"event": "login", "outcome": "bad_credentials", "username": VICTIM}));
    vec![
        // 1: a failed login names nobody (no subject_id), only what was typed
        failed(),
        failed(),
        failed(),
        // 2
        route(
            "INFO",
            json!({"event": "login", "outcome": "ok", "subject_id": sub, "session_family": fam,
                   "username": ALICE}),
        ),
        // 3
        route("INFO", json!({"event": "refresh", "outcome": "ok", "subject_id": sub, "session_family": fam})),
        // 4
        route(
            "WARN",
            json!({"event": "refresh_reuse", "outcome": "invalid_token", "reason": "reused",
                   "subject_id": sub, "session_family": fam}),
        ),
        // 5: A2 verified (our signature): the session it belongs to is known,
        // and is "the session concerned" as the refresh route's and the
        // guard's events for a revoked token name it.
        route(
            "INFO",
            json!({"event": "logout", "outcome": "invalid_token", "reason": "revoked",
                   "subject_id": sub, "session_family": fam}),
        ),
        // 6
        route(
            "INFO",
            json!({"event": "login", "outcome": "throttled", "reason": "user_address", "username": VICTIM}),
        ),
        // 7: the guard's event: no route, so no dialect; who presented the token
        json!({"level": "INFO", "event": "revoked_token", "outcome": "invalid_token", "reason": "revoked",
               "subject_id": sub, "session_family": fam, "client_address": "127.0.0.1",
               "user_agent": USER_AGENT, "target": "tokenauth::audit"}),
    ]
}

/// One kind of request an attacker fills with values of their choosing.
#[derive(Clone, Copy, Debug)]
enum Random {
    /// A failed login of a new random username.
    Login,
    /// A POST to a random path under the route set's mount.
    PostPath,
    /// A GET of a random path (and query) under the mount.
    GetPath,
    /// A refresh with a random "token".
    Refresh,
    /// A protected route with a random Bearer "token".
    Bearer,
}

const RANDOM_KINDS: [Random; 5] =
    [Random::Login, Random::PostPath, Random::GetPath, Random::Refresh, Random::Bearer];

/// Requests in one random batch (10 of each kind).
const BATCH: usize = 50;

/// What one batch of random requests adds, per request of each kind:
/// auth-core's documented counting, with no series of its own per value.
fn random_batch_metrics(per_kind: u64) -> BTreeMap<String, u64> {
    [
        // a failed login: counted and hashed (an unknown user costs a hash too)
        (r#"tokenauth_route_requests_total{action="login",dialect="standard",outcome="bad_credentials"}"#, 1),
        ("tokenauth_hashing_wait_seconds_count", 1),
        // a path (POST or GET) the route set does not serve: `unmatched`
        // (metrics::ACTIONS: "`unmatched` for a path or method the set does not serve")
        (r#"tokenauth_route_requests_total{action="unmatched",dialect="standard",outcome="not_found"}"#, 2),
        // a refresh with junk: the token refused as malformed by the route
        (r#"tokenauth_route_requests_total{action="refresh",dialect="standard",outcome="invalid_token"}"#, 1),
        (r#"tokenauth_token_rejections_total{reason="malformed",source="route"}"#, 1),
        // junk as a Bearer token: a cache miss, refused as malformed by the guard
        (r#"tokenauth_token_cache_lookups_total{result="miss"}"#, 1),
        (r#"tokenauth_token_rejections_total{reason="malformed",source="guard"}"#, 1),
    ]
    .into_iter()
    .map(|(series, n)| (series.to_owned(), n * per_kind))
    .collect()
}

// ---------------------------------------------------------------------------
// Prometheus' text format

/// The `tokenauth_*` series of a `/metrics` text: `name{k="v",...}` with
/// the labels sorted by name, to its value. Histograms by their `_count`
/// only (`_sum` and `_bucket` vary with timing).
fn tokenauth_series(text: &str) -> BTreeMap<String, f64> {
    let histograms = histogram_names(text);
    all_series(text)
        .into_iter()
        .filter(|(key, _)| key.starts_with("tokenauth_"))
        .filter(|(key, _)| {
            let name = key.split('{').next().unwrap_or_default();
            !histograms.iter().any(|h| name == format!("{h}_sum") || name == format!("{h}_bucket"))
        })
        .collect()
}

/// The names `# TYPE NAME histogram` declares.
fn histogram_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" histogram"))
        .map(|name| name.trim().to_owned())
        .collect()
}

/// Every sample line of a Prometheus text (`#` lines and blank lines
/// skipped): its normalised key to its value.
fn all_series(text: &str) -> BTreeMap<String, f64> {
    let mut series = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                let (labels, rest) = parse_labels(&line[open + 1..])
                    .unwrap_or_else(|| panic!("unparsable labels in metrics line {line:?}"));
                (&line[..open], labels, rest)
            }
            None => {
                let (name, rest) = line.split_once(' ').unwrap_or_else(|| panic!("no value: {line:?}"));
                (name, Vec::new(), rest)
            }
        };
        // the value, then an optional timestamp
        let value = rest.split_whitespace().next().unwrap_or_default();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in metrics line {line:?}"));
        series.insert(series_key(name, labels), value);
    }
    series
}

/// `name{a="1",b="2"}` (labels sorted), or `name` alone.
fn series_key(name: &str, mut labels: Vec<(String, String)>) -> String {
    if labels.is_empty() {
        return name.to_owned();
    }
    labels.sort();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// The labels after a `{` up to its `}` (values unescaped), and what follows.
fn parse_labels(s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    let mut rest = s.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, quoted) = rest.split_once('=')?;
        let quoted = quoted.trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim().to_owned(), value));
        rest = quoted[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

/// The series that changed from `before` to `after` (absent = 0), by how much.
fn changes(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let delta = after.get(key).copied().unwrap_or(0.0) - before.get(key).copied().unwrap_or(0.0);
            (delta != 0.0).then(|| (key.clone(), delta))
        })
        .collect()
}

/// The differences between the changes seen and the ones expected, one
/// line each.
fn compare_changes(seen: &BTreeMap<String, f64>, expected: &BTreeMap<String, u64>) -> Vec<String> {
    let keys: BTreeSet<&String> = seen.keys().chain(expected.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let got = seen.get(key).copied().unwrap_or(0.0);
            let want = expected.get(key).copied().unwrap_or(0) as f64;
            (got != want).then(|| format!("{key}: changed by {got}, expected {want}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The run

/// The demo binary next to this test binary, if it was built.
fn demo_built() -> bool {
    let Ok(exe) = std::env::current_exe() else { return false };
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join(format!("demo{}", std::env::consts::EXE_SUFFIX)))
        .is_some_and(|path| path.exists())
}

/// A port nothing listens on now (bound, read, released): `--metrics`
/// takes no port 0.
fn free_port() -> Option<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    listener.local_addr().ok().map(|a| a.port())
}

/// Skips (`SKIPPED`, passing) or, with `CI=true`, fails.
fn skip(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why} (CI=true: the operations scenario may not be skipped)");
    }
    eprintln!("SKIPPED operations scenario: {why}");
}

/// A demo for the scenario, with its metrics address and audit file.
struct Demo {
    server: Server,
    metrics: SocketAddr,
    audit: PathBuf,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.audit);
    }
}

/// Starts the scenario's demo on `framework`; `None` (skipped) without a
/// free port. The port of `--metrics` may be taken between probing and
/// the demo's bind: then the demo exits and is started again.
fn start_demo(framework: &str) -> Option<Demo> {
    for attempt in 1..=3 {
        let port = free_port()?;
        let metrics: SocketAddr = ([127, 0, 0, 1], port).into();
        let audit = std::env::temp_dir().join(format!(
            "tokenauth-operations-{framework}-{}-{}.jsonl",
            std::process::id(),
            rand::thread_rng().r#gen::<u64>()
        ));
        let args: Vec<String> = [
            "--secret",
            SECRET,
            "--dialect",
            "standard",
            "--user",
            &format!("{VICTIM}:{VICTIM_PASSWORD}"),
            "--user",
            &format!("{ALICE}:{ALICE_PASSWORD}"),
            "--metrics",
            &metrics.to_string(),
            "--audit-log",
            &audit.to_string_lossy(),
            "--max-failed-logins",
            "3",
            "--reuse-grace",
            "0s",
            "--refusal-delay",
            "0s",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        let started =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| start_args(args, framework, &[])));
        match started {
            Ok(server) => return Some(Demo { server, metrics, audit }),
            Err(_) if attempt < 3 => eprintln!("operations: the demo did not start (port {port}?); again"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    None
}

/// What went wrong on one framework.
struct Failures {
    framework: &'static str,
    list: Vec<String>,
}

impl Failures {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.list.push(format!("[{}] {}", self.framework, what()));
        }
    }

    fn status(&mut self, step: &str, res: &Res, want: u16) {
        self.check(res.status == want, || {
            format!(
                "{step}: status {} (expected {want}), body {}",
                res.status,
                String::from_utf8_lossy(&res.body)
            )
        });
    }
}

/// A scenario request: the `User-Agent` always, a JSON body and a Bearer
/// token when given.
fn req(method: &'static str, path: &str, bearer: Option<&str>, body: Option<Value>, ua: &str) -> Req {
    let mut headers = vec![("user-agent", ua.to_owned())];
    if let Some(token) = bearer {
        headers.push(("authorization", format!("Bearer {token}")));
    }
    let body = body.map_or_else(Vec::new, |b| {
        headers.push(("content-type", "application/json".to_owned()));
        b.to_string().into_bytes()
    });
    Req { method, path: path.to_owned(), headers, body, peer: None }
}

fn login(username: &str, password: &str, ua: &str) -> Req {
    req("POST", "/auth/login", None, Some(json!({"username": username, "password": password})), ua)
}

/// A string field of a JSON answer.
fn field(res: &Res, name: &str) -> Option<String> {
    serde_json::from_slice::<Value>(&res.body).ok()?.get(name)?.as_str().map(str::to_owned)
}

/// Checks a 401 `invalid_token` answer: its body and its challenge.
fn refused_as(f: &mut Failures, step: &str, res: &Res, description: &str) {
    f.check(field(res, "error").as_deref() == Some("invalid_token"), || format!("{step} body {res:?}"));
    f.check(field(res, "error_description").as_deref() == Some(description), || {
        format!("{step} error_description of {res:?}, expected {description:?}")
    });
    f.check(res.header("www-authenticate").is_some_and(|c| c.contains("error=\"invalid_token\"")), || {
        format!("{step} challenge {:?}", res.header("www-authenticate"))
    });
}

/// The claims of a JWT, unverified.
fn claims(token: &str) -> Value {
    token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice(&p).ok())
        .unwrap_or_default()
}

async fn scrape(metrics: SocketAddr) -> String {
    let res = send(metrics, req("GET", "/metrics", None, None, USER_AGENT)).await;
    assert_eq!(res.status, 200, "GET http://{metrics}/metrics");
    String::from_utf8(res.body).expect("UTF-8 metrics")
}

/// The audit file's lines once there are at least `n` (or the deadline passed).
async fn audit_lines(demo: &Demo, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&demo.audit).unwrap_or_default();
        let lines: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A random alphanumeric string no answer or series could contain by chance.
fn random_string() -> String {
    rand::thread_rng().sample_iter(rand::distributions::Alphanumeric).take(20).map(char::from).collect()
}

/// The scenario on one framework.
async fn scenario(demo: &Demo, f: &mut Failures) {
    let addr = demo.server.addr;
    let before = scrape(demo.metrics).await;

    // 1. three wrong passwords of V
    for wrong in &WRONG[..3] {
        let res = send(addr, login(VICTIM, wrong, USER_AGENT)).await;
        f.status(&format!("1. login {VICTIM}/{wrong}"), &res, 400);
        f.check(field(&res, "error").as_deref() == Some("invalid_grant"), || format!("1. body {res:?}"));
    }
    // 2. A logs in: A1, R1 and a device token
    let res = send(addr, login(ALICE, ALICE_PASSWORD, USER_AGENT)).await;
    f.status("2. login of A", &res, 200);
    let (Some(a1), Some(r1), Some(device)) = (
        field(&res, "access_token"),
        field(&res, "refresh_token"),
        res.header("device-token").map(str::to_owned),
    ) else {
        f.check(false, || format!("2. login answer without access, refresh or device token: {res:?}"));
        return;
    };
    // 3. refresh with R1: A2, R2
    let res =
        send(addr, req("POST", "/auth/refresh", None, Some(json!({"refresh_token": r1})), USER_AGENT)).await;
    f.status("3. refresh with R1", &res, 200);
    let (Some(a2), Some(r2)) = (field(&res, "access_token"), field(&res, "refresh_token")) else {
        f.check(false, || format!("3. refresh answer without tokens: {res:?}"));
        return;
    };
    f.check(r2 != r1 && a2 != a1, || "3. the refresh rotated nothing".to_owned());
    // 4. R1 again: reuse, the family revoked
    let res =
        send(addr, req("POST", "/auth/refresh", None, Some(json!({"refresh_token": r1})), USER_AGENT)).await;
    f.status("4. reuse of R1", &res, 401);
    refused_as(f, "4.", &res, "the refresh token was already used");
    // 5. logout with A2 and R2: the family is revoked already
    let body = json!({"refresh_token": r2});
    let res = send(addr, req("POST", "/auth/logout", Some(&a2), Some(body), USER_AGENT)).await;
    f.status("5. logout with A2", &res, 401);
    refused_as(f, "5.", &res, "the token has been revoked");
    // 6. V's fourth attempt: throttled, unhashed
    let res = send(addr, login(VICTIM, WRONG[3], USER_AGENT)).await;
    f.status("6. fourth login of V", &res, 429);
    f.check(res.header("retry-after").is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s > 0)), || {
        format!("6. Retry-After {:?}", res.header("retry-after"))
    });
    // 7. a protected route with A2
    let res = send(addr, req("GET", "/whoami", Some(&a2), None, USER_AGENT)).await;
    f.status("7. GET /whoami with A2", &res, 401);
    refused_as(f, "7.", &res, "the token has been revoked");

    // The metrics: exactly the table.
    let after = scrape(demo.metrics).await;
    let expected: BTreeMap<String, u64> =
        SCENARIO_METRICS.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect();
    let seen = changes(&tokenauth_series(&before), &tokenauth_series(&after));
    for wrong in compare_changes(&seen, &expected) {
        f.check(false, || format!("metrics after steps 1-7: {wrong}"));
    }

    // The audit log: exactly these lines.
    let (c1, c2) = (claims(&a1), claims(&a2));
    let session = Session {
        subject_id: c1["sub"].as_str().unwrap_or_default().to_owned(),
        family: c1["fam"].as_str().unwrap_or_default().to_owned(),
    };
    f.check(!session.subject_id.is_empty() && !session.family.is_empty(), || format!("A1 claims {c1}"));
    f.check(c2["sub"] == c1["sub"] && c2["fam"] == c1["fam"], || format!("A2 claims {c2} vs A1 {c1}"));
    f.check(claims(&r1)["fam"] == c1["fam"], || "R1 of another family".to_owned());
    let want = expected_audit(&session);
    let lines = audit_lines(demo, want.len()).await;
    let got: Vec<Value> = lines
        .iter()
        .map(|line| {
            let mut event: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("audit line not JSON ({e}): {line}"));
            let stamp = event.as_object_mut().and_then(|o| o.remove("timestamp"));
            assert!(stamp.as_ref().is_some_and(Value::is_string), "no timestamp: {line}");
            event
        })
        .collect();
    f.check(got.len() == want.len(), || format!("{} audit lines, expected {}", got.len(), want.len()));
    for (i, (got, want)) in got.iter().zip(&want).enumerate() {
        f.check(got == want, || format!("audit line {}:\n    got      {got}\n    expected {want}", i + 1));
    }

    // No secret in either.
    let secrets: [&str; 12] = [
        SECRET,
        VICTIM_PASSWORD,
        ALICE_PASSWORD,
        WRONG[0],
        WRONG[1],
        WRONG[2],
        WRONG[3],
        &a1,
        &a2,
        &r1,
        &r2,
        &device,
    ];
    let audit_text = lines.join("\n");
    for (what, text) in [("/metrics", &before), ("/metrics", &after), ("the audit log", &audit_text)] {
        for secret in secrets {
            f.check(!text.contains(secret), || format!("{what} contains the secret {secret}"));
        }
    }

    unbounded_input(demo, f, &secrets).await;
}

/// Attacker-chosen values create no series: a batch of random requests,
/// the series set, a second batch with fresh values, the same set.
async fn unbounded_input(demo: &Demo, f: &mut Failures, secrets: &[&str]) {
    let mut randoms = Vec::new();
    random_batch(demo, f, &mut randoms).await;
    let first = scrape(demo.metrics).await;
    random_batch(demo, f, &mut randoms).await;
    let second = scrape(demo.metrics).await;
    let (s1, s2) = (all_series(&first), all_series(&second));
    let grown: Vec<&String> =
        s2.keys().filter(|k| k.starts_with("tokenauth_") && !s1.contains_key(*k)).collect();
    f.check(grown.is_empty(), || format!("the second random batch created series: {grown:?}"));
    // and each batch is counted as documented, in the series that exist
    let per_kind = (BATCH / RANDOM_KINDS.len()) as u64;
    let seen = changes(&tokenauth_series(&first), &tokenauth_series(&second));
    for wrong in compare_changes(&seen, &random_batch_metrics(per_kind)) {
        f.check(false, || format!("metrics of the second random batch: {wrong}"));
    }
    for text in [&first, &second] {
        if let Some(r) = randoms.iter().find(|r| text.contains(r.as_str())) {
            f.check(false, || format!("/metrics contains the random value {r}"));
        }
        for secret in secrets {
            f.check(!text.contains(secret), || format!("/metrics contains the secret {secret}"));
        }
    }
    let audit = std::fs::read_to_string(&demo.audit).unwrap_or_default();
    for secret in secrets {
        f.check(!audit.contains(secret), || format!("the audit log contains the secret {secret}"));
    }
    // the exporter serves `GET /metrics` and nothing else
    let path = format!("/{}", random_string());
    for (method, path, status) in [("GET", path.as_str(), 404), ("GET", "/", 404), ("POST", "/metrics", 405)]
    {
        let res = send(demo.metrics, req(method, path, None, None, USER_AGENT)).await;
        f.check(res.status == status, || {
            format!("{method} {path} on the exporter: {}, not {status}", res.status)
        });
    }
}

/// [`BATCH`] requests of every [`Random`] kind in turn, each with fresh
/// random values (kept in `randoms`) and a random `User-Agent`.
async fn random_batch(demo: &Demo, f: &mut Failures, randoms: &mut Vec<String>) {
    for i in 0..BATCH {
        let kind = RANDOM_KINDS[i % RANDOM_KINDS.len()];
        let (value, ua) = (random_string(), format!("agent-{}", random_string()));
        let (request, want) = match kind {
            Random::Login => (login(&format!("user-{value}"), &random_string(), &ua), 400),
            Random::PostPath => (req("POST", &format!("/auth/{value}"), None, Some(json!({})), &ua), 404),
            Random::GetPath => (req("GET", &format!("/auth/{value}?{value}={value}"), None, None, &ua), 404),
            Random::Refresh => {
                (req("POST", "/auth/refresh", None, Some(json!({"refresh_token": value})), &ua), 401)
            }
            Random::Bearer => (req("GET", "/whoami", Some(&value), None, &ua), 401),
        };
        let res = send(demo.server.addr, request).await;
        f.status(&format!("random {kind:?} {value}"), &res, want);
        randoms.push(value);
        randoms.push(ua);
    }
}

#[test]
fn operators_see_exactly_what_happened_and_no_secret_on_both_frameworks() {
    if !demo_built() {
        return skip("the demo binary is missing: run `cargo build -p examples --example demo`");
    }
    let began = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut failures = Vec::new();
    for framework in ["axum", "actix"] {
        let Some(demo) = start_demo(framework) else {
            return skip("no free loopback port for --metrics");
        };
        let mut f = Failures { framework, list: Vec::new() };
        rt.block_on(scenario(&demo, &mut f));
        failures.extend(f.list);
    }
    eprintln!("operations scenario on both frameworks: {:?}", began.elapsed());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn an_audit_log_that_cannot_be_written_is_said_on_stderr_not_dropped_in_silence() {
    if !demo_built() {
        return skip("the demo binary is missing: run `cargo build -p examples --example demo`");
    }
    let full = std::path::Path::new("/dev/full");
    if !full.exists() {
        return skip("no /dev/full (a device every write to fails with ENOSPC) on this system");
    }
    let args: Vec<String> = [
        "--secret",
        SECRET,
        "--user",
        &format!("{ALICE}:{ALICE_PASSWORD}"),
        "--audit-log",
        "/dev/full",
        "--refusal-delay",
        "0s",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let demo = start_args(args, "axum", &[]);
    let said = "--audit-log: cannot write to /dev/full: ";
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        for attempt in ["first", "second"] {
            let res = send(demo.addr, login(ALICE, ALICE_PASSWORD, USER_AGENT)).await;
            assert_eq!(res.status, 200, "{attempt} login: the server goes on without its audit file");
            // the demo's stderr reaches the test through a pipe and a thread
            let deadline = Instant::now() + Duration::from_secs(5);
            while demo.logged(said) == 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(demo.logged(said), 1, "{attempt} login: said once, while writes keep failing");
        }
        // a second report of the second failure would have arrived by now
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    assert_eq!(demo.logged(said), 1, "said once, while writes keep failing");
    assert_eq!(demo.logged("audit events are being lost"), 1);
    assert_eq!(demo.logged(ALICE_PASSWORD), 0);
}

#[test]
fn the_throttle_and_reuse_grace_flags_reach_the_authority() {
    use clap::Parser as _;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let demo = |args: &[&str]| {
        let config =
            demo_app::DemoConfig::try_parse_from(std::iter::once("demo").chain(args.iter().copied()))
                .expect("valid flags");
        rt.block_on(demo_app::Demo::new(&config)).expect("demo")
    };
    let defaults = auth_core::AuthorityConfig::default();
    let plain = demo(&[]);
    assert_eq!(plain.authority.config().max_failed_logins, defaults.max_failed_logins);
    assert_eq!(plain.authority.config().reuse_grace, defaults.reuse_grace);
    let set = demo(&["--max-failed-logins", "3", "--reuse-grace", "0s"]);
    assert_eq!(set.authority.config().max_failed_logins, 3);
    assert_eq!(set.authority.config().reuse_grace, Duration::ZERO);
    for bad in
        [&["--max-failed-logins", "-1"][..], &["--max-failed-logins", "many"], &["--reuse-grace", "soon"]]
    {
        let args = std::iter::once("demo").chain(bad.iter().copied());
        assert!(demo_app::DemoConfig::try_parse_from(args).is_err(), "{bad:?}");
    }
}

#[test]
fn the_metrics_parser_reads_labels_escapes_and_histograms() {
    let text = "# TYPE tokenauth_x_seconds histogram\n\
                tokenauth_x_seconds_bucket{le=\"0.5\"} 1\n\
                tokenauth_x_seconds_sum 0.25\n\
                tokenauth_x_seconds_count 1\n\
                # HELP tokenauth_y_total y\n\
                tokenauth_y_total{source=\"route\",reason=\"a \\\"q\\\", b\"} 2\n\
                \n\
                other_metric 3 1700000000\n";
    let all = all_series(text);
    assert_eq!(all.get(r#"other_metric"#), Some(&3.0));
    assert_eq!(all.get(r#"tokenauth_x_seconds_bucket{le="0.5"}"#), Some(&1.0));
    let ours = tokenauth_series(text);
    let keys: Vec<&str> = ours.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [r#"tokenauth_x_seconds_count"#, r#"tokenauth_y_total{reason="a \"q\", b",source="route"}"#]
    );
}
