//! gRPC: the demo binary's `--grpc` service (`tokenauth.demo.v1.Demo`)
//! through a real tonic client over TCP (h2c), on both frameworks: the
//! layer's refusals as gRPC statuses with their reasons (and never a
//! token), the identity in the handlers, a stream cut off when its token
//! expires, the store down, every dialect's scheme; and HTTP routes and
//! the gRPC service on one port behind one layer, each client getting its
//! own kind of answer.
//!
//! The demo binary is not rebuilt by `cargo test -p conformance`: build it
//! first (`cargo build -p examples --example demo`), or run the README's
//! `cargo test --workspace --all-features`, which does.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_core::store_tests::RedisServer;
use base64::Engine as _;
use demo_app::grpc::proto::demo_client::DemoClient;
use demo_app::grpc::proto::{AdminRequest, WatchRequest, WhoAmIReply, WhoAmIRequest};
use serde_json::{Value, json};
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::harness::{demo_args, json_of, request};
use crate::tcp::{example_binary, send};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// The demo binary serving HTTP and `--grpc`, both on free ports, killed
/// (SIGKILL) when dropped.
struct GrpcDemo {
    child: Child,
    /// The HTTP routes (logins come from there).
    http: SocketAddr,
    /// `tokenauth.demo.v1.Demo`.
    grpc: SocketAddr,
    framework: &'static str,
}

impl Drop for GrpcDemo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo of `dialect` on `framework` with the tables' users and secret,
/// `--grpc`, and `extra` flags.
fn start(dialect: &str, framework: &'static str, extra: &[&str]) -> GrpcDemo {
    let mut args = demo_args(dialect);
    args.remove(0); // the program name
    args.extend(
        ["--framework", framework, "--addr", "127.0.0.1:0", "--grpc", "127.0.0.1:0"].map(String::from),
    );
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let mut child = Command::new(example_binary("demo"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    let err_pipe = child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
            eprintln!("demo ({framework}): {line}");
        }
    });
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let prefix = format!("gRPC: {} on ", demo_app::grpc::SERVICE_NAME);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix(&prefix) {
                let _ = tx.send(("grpc", addr.to_owned()));
            } else if let Some(addr) = line.strip_prefix("listening on http://") {
                let _ = tx.send(("http", addr.to_owned()));
            }
        }
    });
    let mut http = None;
    let mut grpc = None;
    while http.is_none() || grpc.is_none() {
        let (which, addr) = rx.recv_timeout(Duration::from_secs(30)).expect("the demo's banner");
        let addr: SocketAddr = addr.parse().expect("a socket address");
        // the gRPC line comes before `listening on`
        assert!(which == "grpc" || grpc.is_some(), "{framework}: the banner names the gRPC address first");
        *(if which == "grpc" { &mut grpc } else { &mut http }) = Some(addr);
    }
    GrpcDemo { child, http: http.expect("http"), grpc: grpc.expect("grpc"), framework }
}

async fn client(addr: SocketAddr) -> DemoClient<Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect to the gRPC service");
    DemoClient::new(channel)
}

/// `message` with `authorization: auth` (if any).
fn call<T>(message: T, auth: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(auth) = auth {
        request.metadata_mut().insert("authorization", auth.parse().expect("an ASCII header value"));
    }
    request
}

async fn who_am_i(client: &mut DemoClient<Channel>, auth: Option<&str>) -> Result<WhoAmIReply, Status> {
    client.who_am_i(call(WhoAmIRequest {}, auth)).await.map(tonic::Response::into_inner)
}

/// The refusal `result` must be: `code`, a non-empty reason that says
/// `reason`, and no trace of `secret` (the token sent) in the reason or
/// the metadata.
#[track_caller]
fn refused<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    reason: &str,
    secret: &str,
    what: &str,
) {
    let status = match result {
        Ok(answer) => panic!("{what}: answered {answer:?}, expected {code:?}"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{what}: {status:?}");
    let message = status.message();
    assert!(!message.is_empty(), "{what}: a reason in grpc-message");
    assert!(message.contains(reason), "{what}: {message:?} should say {reason:?}");
    if !secret.is_empty() {
        assert!(!message.contains(secret), "{what}: the token in grpc-message: {message}");
        for entry in status.metadata().iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(key, value) = entry {
                let value = value.to_str().unwrap_or_default();
                assert!(!value.contains(secret), "{what}: the token in metadata {key:?}");
            }
        }
    }
    eprintln!("{what}: {:?} {message:?}", status.code());
}

/// The standard dialect's login of `username` on the demo's HTTP routes:
/// (access token, refresh token).
async fn login(demo: &GrpcDemo, username: &str, password: &str) -> (String, String) {
    let body = json!({"username": username, "password": password});
    let res = send(demo.http, request("POST", "/auth/login", None, Some(body))).await;
    assert_eq!(res.status, 200, "login: {}", String::from_utf8_lossy(&res.body));
    let body = json_of(&res);
    let field = |name: &str| body[name].as_str().expect("a token").to_owned();
    (field("access_token"), field("refresh_token"))
}

/// What an HTTP route answered for `auth`: `{"sub", "username", "roles"}`.
async fn http_identity(
    demo: &GrpcDemo,
    method: &'static str,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> Value {
    let res = send(demo.http, request(method, path, Some(auth), body)).await;
    assert_eq!(res.status, 200, "{method} {path}: {}", String::from_utf8_lossy(&res.body));
    json_of(&res)
}

fn reply_json(reply: &WhoAmIReply) -> Value {
    json!({"sub": reply.sub, "username": reply.username, "roles": reply.roles})
}

/// A JWT's claims (unverified: the test reads what the demo signed).
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A JWT's `exp`.
fn exp_of(token: &str) -> i64 {
    claims_of(token)["exp"].as_i64().expect("exp")
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs_f64()
}

/// Every refusal and answer of a standard demo on `framework`.
async fn refusals_and_answers(demo: &GrpcDemo) {
    let fw = demo.framework;
    let mut grpc = client(demo.grpc).await;
    let (access, refresh) = login(demo, "alice", "alice-pw").await;
    let (bob, _) = login(demo, "bob", "bob-pw").await;

    refused(
        who_am_i(&mut grpc, None).await,
        Code::Unauthenticated,
        "required",
        "",
        &format!("{fw}: no token"),
    );
    let garbage = "not.a.token";
    refused(
        who_am_i(&mut grpc, Some(&format!("Bearer {garbage}"))).await,
        Code::Unauthenticated,
        "malformed",
        garbage,
        &format!("{fw}: a garbage token"),
    );
    refused(
        who_am_i(&mut grpc, Some(&format!("Bearer {refresh}"))).await,
        Code::Unauthenticated,
        "not usable",
        &refresh,
        &format!("{fw}: a refresh token"),
    );
    refused(
        grpc.admin(call(AdminRequest {}, Some(&format!("Bearer {bob}")))).await,
        Code::PermissionDenied,
        "privileges",
        &bob,
        &format!("{fw}: Admin without the role"),
    );

    // an admin; WhoAmI says what the HTTP /whoami says of the same token
    let bearer = format!("Bearer {access}");
    let admin = grpc.admin(call(AdminRequest {}, Some(&bearer))).await.expect("Admin as an admin");
    assert_eq!(admin.into_inner().message, "hello, admin alice", "{fw}");
    let me = who_am_i(&mut grpc, Some(&bearer)).await.expect("WhoAmI");
    assert_eq!((me.username.as_str(), me.roles.as_slice()), ("alice", &["admin".to_owned()][..]), "{fw}");
    let claims = claims_of(&access);
    assert_eq!(Some(me.sub.as_str()), claims["sub"].as_str(), "{fw}: the token's subject");
    assert_eq!(Some(me.username.as_str()), claims["username"].as_str(), "{fw}: the token's username");
    assert_eq!(reply_json(&me), http_identity(demo, "GET", "/whoami", &bearer, None).await, "{fw}");
    let bob_me = who_am_i(&mut grpc, Some(&format!("Bearer {bob}"))).await.expect("WhoAmI of bob");
    assert_eq!((bob_me.username.as_str(), bob_me.roles.len()), ("bob", 0), "{fw}");
    assert_ne!(bob_me.sub, me.sub, "{fw}");

    // a short Watch streams its ticks and ends OK; out-of-bounds asks are refused
    let mut stream = grpc
        .watch(call(WatchRequest { count: 3, interval_ms: 10 }, Some(&bearer)))
        .await
        .expect("Watch")
        .into_inner();
    let mut ticks = Vec::new();
    while let Some(tick) = stream.message().await.expect("a tick or the end") {
        ticks.push(tick.n);
    }
    assert_eq!(ticks, [1, 2, 3], "{fw}");
    for (count, interval_ms, field) in [(10_001, 10, "count"), (1, 60_001, "interval_ms")] {
        refused(
            grpc.watch(call(WatchRequest { count, interval_ms }, Some(&bearer))).await,
            Code::InvalidArgument,
            field,
            "",
            &format!("{fw}: Watch with {field} out of bounds"),
        );
    }
    refused(
        grpc.watch(call(WatchRequest { count: 3, interval_ms: 10 }, None)).await,
        Code::Unauthenticated,
        "required",
        "",
        &format!("{fw}: Watch without a token"),
    );

    // logged out on HTTP: refused on gRPC at once
    let res = send(demo.http, request("POST", "/auth/logout", Some(&bearer), None)).await;
    assert_eq!(res.status, 204, "{fw}: logout");
    refused(
        who_am_i(&mut grpc, Some(&bearer)).await,
        Code::Unauthenticated,
        "revoked",
        &access,
        &format!("{fw}: a logged-out token"),
    );
}

#[test]
fn grpc_refusals_are_grpc_statuses_and_handlers_see_the_identity_on_both_frameworks() {
    let rt = rt();
    for framework in ["axum", "actix"] {
        let demo = start("standard", framework, &[]);
        rt.block_on(refusals_and_answers(&demo));
    }
}

/// A 2 s token: a `Watch` opened with it gets its ticks, then
/// `UNAUTHENTICATED` about a second after `exp`; the token is then refused.
async fn expiry(demo: &GrpcDemo) {
    let fw = demo.framework;
    let mut grpc = client(demo.grpc).await;
    // logged in at the start of a second: `iat` is whole seconds, so the
    // token then lives its full 2 s, not as little as one
    let into_second = unix_now().fract();
    tokio::time::sleep(Duration::from_secs_f64(1.0 - into_second + 0.02)).await;
    let (access, _) = login(demo, "alice", "alice-pw").await;
    let exp = exp_of(&access);
    let bearer = format!("Bearer {access}");
    let opened = Instant::now();
    let mut stream = grpc
        .watch(call(WatchRequest { count: 10_000, interval_ms: 100 }, Some(&bearer)))
        .await
        .expect("Watch")
        .into_inner();
    let mut ticks = 0;
    let status = loop {
        match stream.message().await {
            Ok(Some(_)) => ticks += 1,
            Ok(None) => panic!("{fw}: the stream ended OK after {ticks} ticks"),
            Err(status) => break status,
        }
        assert!(opened.elapsed() < Duration::from_secs(15), "{fw}: still streaming after 15 s");
    };
    let ended = unix_now();
    let (code, message) = (status.code(), status.message().to_owned());
    assert_eq!((code, message.as_str()), (Code::Unauthenticated, "the token has expired"), "{fw}");
    assert!(!message.contains(&access));
    // ~2 s of ticks 100 ms apart before the cut
    assert!(ticks >= 10, "{fw}: only {ticks} ticks before the cut");
    let late = ended - exp as f64;
    assert!((0.0..=3.0).contains(&late), "{fw}: cut {late:.2} s after exp (expected within 0..=3 s)");
    eprintln!("{fw}: Watch cut after {ticks} ticks, {late:.2} s after exp");
    refused(
        who_am_i(&mut grpc, Some(&bearer)).await,
        Code::Unauthenticated,
        "expired",
        &access,
        &format!("{fw}: an expired token"),
    );
}

#[test]
fn an_expired_token_is_refused_and_ends_its_stream_on_both_frameworks() {
    // no leeway: the token is refused from the second after `exp`
    let flags = ["--access-ttl", "2s", "--leeway", "0s"];
    let demos = [start("standard", "axum", &flags), start("standard", "actix", &flags)];
    rt().block_on(async {
        // both at once: one wait for the two expiries
        tokio::join!(expiry(&demos[0]), expiry(&demos[1]));
    });
}

#[test]
fn the_store_down_is_unavailable_on_both_frameworks() {
    // A server of our own: the test kills it.
    let Some(mut redis) = RedisServer::own() else { return };
    let prefix = format!("g{:016x}", rand::random::<u64>());
    let flags = ["--store", redis.url(), "--store-prefix", &prefix, "--store-timeout", "2s"];
    let demos = [start("standard", "axum", &flags), start("standard", "actix", &flags)];
    let rt = rt();
    let tokens: Vec<String> =
        demos.iter().map(|demo| rt.block_on(login(demo, "alice", "alice-pw")).0).collect();
    for (demo, access) in demos.iter().zip(&tokens) {
        let me = rt.block_on(async {
            who_am_i(&mut client(demo.grpc).await, Some(&format!("Bearer {access}"))).await
        });
        assert_eq!(me.expect("WhoAmI with the store up").username, "alice");
    }
    redis.kill();
    for (demo, access) in demos.iter().zip(&tokens) {
        let fw = demo.framework;
        let result = rt.block_on(async {
            who_am_i(&mut client(demo.grpc).await, Some(&format!("Bearer {access}"))).await
        });
        if let Err(status) = &result {
            assert_eq!(
                status.metadata().get("retry-after").map(|v| v.to_str().ok()),
                Some(Some("1")),
                "{fw}"
            );
        }
        refused(result, Code::Unavailable, "unavailable", access, &format!("{fw}: the store down"));
    }
    redis.restart();
    for (demo, access) in demos.iter().zip(&tokens) {
        let back = rt.block_on(async {
            let mut grpc = client(demo.grpc).await;
            for _ in 0..100 {
                match who_am_i(&mut grpc, Some(&format!("Bearer {access}"))).await {
                    Err(status) if status.code() == Code::Unavailable => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    other => return other,
                }
            }
            Err(Status::unavailable("still down after 10 s"))
        });
        assert_eq!(
            back.expect("the service resumes without a restart").username,
            "alice",
            "{}",
            demo.framework
        );
    }
}

/// keytoken's `Basic key:token` and drf's `Token` credentials: WhoAmI
/// answers what the dialect's own protected HTTP route answers.
async fn other_schemes(keytoken: &GrpcDemo, drf: &GrpcDemo) {
    let fw = keytoken.framework;
    let login = json!({"client": "demo", "email": "ann@example.com", "password": "ann-pw"});
    let res = send(keytoken.http, request("POST", "/users/token", None, Some(login))).await;
    assert_eq!(res.status, 200, "{fw}: keytoken login");
    let creds = json_of(&res);
    let pair = format!("{}:{}", creds["key"].as_str().expect("key"), creds["token"].as_str().expect("token"));
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(&pair));
    let mut grpc = client(keytoken.grpc).await;
    let me = who_am_i(&mut grpc, Some(&basic)).await.expect("WhoAmI with keytoken's Basic");
    assert_eq!(me.username, "ann@example.com", "{fw}");
    let http =
        http_identity(keytoken, "PATCH", "/users", &basic, Some(json!({"email": "ann@example.com"}))).await;
    assert_eq!(reply_json(&me), http, "{fw}: keytoken");
    let key = creds["key"].as_str().expect("key");
    let wrong = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:wrong")));
    refused(
        who_am_i(&mut grpc, Some(&wrong)).await,
        Code::Unauthenticated,
        "not valid",
        "",
        &format!("{fw}: keytoken, a wrong token"),
    );

    let fw = drf.framework;
    let login = json!({"username": "alice", "password": "alice-pw"});
    let res = send(drf.http, request("POST", "/auth/access_token/", None, Some(login))).await;
    assert_eq!(res.status, 200, "{fw}: drf login");
    let access = json_of(&res)["access_token"].as_str().expect("access_token").to_owned();
    let token = format!("Token {access}");
    let mut grpc = client(drf.grpc).await;
    let me = who_am_i(&mut grpc, Some(&token)).await.expect("WhoAmI with drf's Token");
    assert_eq!(me.username, "alice", "{fw}");
    assert_eq!(
        reply_json(&me),
        http_identity(drf, "POST", "/protected-url/", &token, None).await,
        "{fw}: drf"
    );
    let admin = grpc.admin(call(AdminRequest {}, Some(&token))).await.expect("Admin with drf's Token");
    assert_eq!(admin.into_inner().message, "hello, admin alice");
    refused(
        who_am_i(&mut grpc, Some("Token not.a.token")).await,
        Code::Unauthenticated,
        "malformed",
        "not.a.token",
        &format!("{fw}: drf, a garbage token"),
    );
}

#[test]
fn keytoken_basic_and_drf_token_credentials_work_on_grpc_on_both_frameworks() {
    let rt = rt();
    for framework in ["axum", "actix"] {
        let keytoken = start("keytoken", framework, &[]);
        let drf = start("drf", framework, &[]);
        rt.block_on(other_schemes(&keytoken, &drf));
    }
}

/// HTTP routes and the gRPC service on one port behind one `AuthLayer`
/// (axum::serve, HTTP/1 and h2c): an HTTP client gets HTTP answers (401
/// with `WWW-Authenticate`), a gRPC client gets gRPC statuses (16); with
/// a token both are served.
#[test]
fn http_and_grpc_on_one_port_behind_one_layer() {
    use auth_tower::{AuthLayer, Authenticated};
    use axum::routing::get;

    rt().block_on(async {
        let demo = crate::harness::demo("standard").await;
        let grpc_routes = tonic::service::Routes::new(demo_app::grpc::service()).prepare().into_axum_router();
        let app = axum::Router::new()
            .route("/hello", get(|id: Authenticated| async move { format!("hello, {}", id.username()) }))
            .merge(grpc_routes)
            .layer(AuthLayer::new(demo.guard.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("bound");
        let server = tokio::spawn(async move { axum::serve(listener, app).await });

        // a token from the demo's own login route (in process)
        let login = crate::harness::axum_client(&demo);
        let body = json!({"username": "alice", "password": "alice-pw"});
        let res = login(request("POST", "/auth/login", None, Some(body))).await;
        let access = json_of(&res)["access_token"].as_str().expect("access_token").to_owned();
        let bearer = format!("Bearer {access}");

        let http = reqwest::Client::new();
        let url = format!("http://{addr}/hello");
        let anonymous = http.get(&url).send().await.expect("HTTP GET");
        assert_eq!(anonymous.status(), 401);
        let challenge = anonymous.headers().get("www-authenticate").and_then(|v| v.to_str().ok());
        assert!(challenge.is_some_and(|c| c.starts_with("Bearer")), "{challenge:?}");
        assert_eq!(anonymous.headers().get("grpc-status"), None);
        let garbage = http.get(&url).header("authorization", "Bearer not.a.token").send().await.expect("GET");
        assert_eq!(garbage.status(), 401);
        let served = http.get(&url).header("authorization", &bearer).send().await.expect("HTTP GET");
        assert_eq!(served.status(), 200);
        assert_eq!(served.text().await.expect("body"), "hello, alice");

        let mut grpc = client(addr).await;
        refused(
            who_am_i(&mut grpc, None).await,
            Code::Unauthenticated,
            "required",
            "",
            "one port: gRPC without a token",
        );
        refused(
            who_am_i(&mut grpc, Some("Bearer not.a.token")).await,
            Code::Unauthenticated,
            "malformed",
            "not.a.token",
            "one port: gRPC with a garbage token",
        );
        let me = who_am_i(&mut grpc, Some(&bearer)).await.expect("WhoAmI on the shared port");
        assert_eq!(me.username, "alice");
        server.abort();
    });
}

/// The demo's stdout up to `listening on`, with `args`.
fn banner(args: &[&str]) -> Vec<String> {
    let mut child = Command::new(example_binary("demo"))
        .args(args)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let done = line.starts_with("listening on http://");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn the_grpc_flag_is_checked_and_without_it_nothing_changes() {
    // a bad address: a usage error, in one line, before anything starts
    let out = Command::new(example_binary("demo")).args(["--grpc", "nope"]).output().expect("demo runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim(), "demo: --grpc `nope` is not a HOST:PORT this machine can listen on");
    // a port already taken: it says which, and fails
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("bound").to_string();
    let out = Command::new(example_binary("demo")).args(["--grpc", &port]).output().expect("demo runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with(&format!("demo: --grpc: cannot listen on {port}")), "{stderr}");
    for framework in ["axum", "actix"] {
        let without = banner(&["--framework", framework]);
        assert!(without.iter().all(|l| !l.contains("gRPC")), "{framework}: {without:#?}");
        let with = banner(&["--framework", framework, "--grpc", "127.0.0.1:0"]);
        assert_eq!(with.len(), without.len() + 1, "{framework}: one more line");
        let line = &with[with.len() - 2];
        assert!(line.starts_with("gRPC: tokenauth.demo.v1.Demo on 127.0.0.1:"), "{framework}: {line}");
    }
}
