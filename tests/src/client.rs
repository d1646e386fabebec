//! The client layer (`auth_tower::client`) against the demo binary, on both
//! frameworks, in every dialect. A recording reverse proxy sits between
//! the client and the demo: it counts logins and refreshes on the server's
//! side of the wire and keeps every request, so the tests check what was
//! sent, not what the client says it sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth_core::agent::{Agent, ClientDialect, MemoryTokenStore, TokenStore, Tokens};
use auth_tower::client::{AuthClient, AuthClientLayer, AuthClientMiddleware, BodyPolicy, ClientBody};
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::{Layer, Service, ServiceExt};

use crate::harness::{Req, SECRET, demo_args};
use crate::tcp::{Server, example_binary, send, start_args, start_with};

/// One dialect as the demo serves it to the tables' users.
struct Dial {
    name: &'static str,
    user: &'static str,
    password: &'static str,
    /// The scheme protected requests must carry.
    scheme: &'static str,
    login: &'static str,
    renew: &'static str,
    /// The demo's protected sample route: method, path, JSON body.
    sample: (&'static str, &'static str, &'static str),
}

static DIALECTS: [Dial; 6] = [
    Dial {
        name: "standard",
        user: "alice",
        password: "alice-pw",
        scheme: "Bearer ",
        login: "/auth/login",
        renew: "/auth/refresh",
        sample: ("GET", "/whoami", ""),
    },
    Dial {
        name: "echome",
        user: "alice",
        password: "alice-pw",
        scheme: "Bearer ",
        login: "/api/v1/identity/token",
        renew: "/api/v1/identity/token/refresh",
        sample: ("GET", "/api/v1/vm/vm/describe/all", ""),
    },
    Dial {
        name: "datarhei",
        user: "alice",
        password: "alice-pw",
        scheme: "Bearer ",
        login: "/api/login",
        renew: "/api/login/refresh",
        sample: ("GET", "/whoami", ""),
    },
    Dial {
        name: "sachet",
        user: "alice",
        password: "alice-pw",
        scheme: "Bearer ",
        login: "/users/login",
        renew: "/users/extend",
        sample: ("GET", "/users/alice", ""),
    },
    Dial {
        name: "keytoken",
        user: "ann@example.com",
        password: "ann-pw",
        scheme: "Basic ",
        login: "/users/token",
        renew: "/users/token/refresh",
        sample: ("PATCH", "/users", r#"{"email":"ann@example.com"}"#),
    },
    Dial {
        name: "drf",
        user: "alice",
        password: "alice-pw",
        scheme: "Token ",
        login: "/auth/access_token/",
        renew: "/auth/refresh_token/",
        sample: ("POST", "/protected-url/", ""),
    },
];

fn dial(name: &str) -> &'static Dial {
    DIALECTS.iter().find(|d| d.name == name).expect("a known dialect")
}

/// The demo with 2 s access tokens and no leeway: a token is refused the
/// second it expires.
const SHORT: &[&str] = &["--access-ttl", "2s", "--leeway", "0s"];

// ---------------------------------------------------------------------------
// The recording proxy

/// One request the proxy forwarded, with the demo's status.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    status: u16,
    authorization: Option<String>,
    content_type: Option<String>,
    /// The `Device-Token` the request carried.
    device_token: Option<String>,
    body: Vec<u8>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: Arc<Mutex<SocketAddr>>,
    seen: Arc<Mutex<Vec<Seen>>>,
    http: HttpClient<HttpConnector, Full<Bytes>>,
}

/// A reverse proxy to a demo that records everything.
struct Proxy {
    addr: SocketAddr,
    state: ProxyState,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let state = ProxyState {
            upstream: Arc::new(Mutex::new(upstream)),
            seen: Arc::default(),
            http: HttpClient::builder(TokioExecutor::new()).build_http(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, state }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends what follows to another demo.
    fn switch_to(&self, upstream: SocketAddr) {
        *self.state.upstream.lock().expect("upstream") = upstream;
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("seen").clone()
    }

    /// Requests to `path` the demo answered with `status`.
    fn count(&self, path: &str, status: impl Fn(u16) -> bool) -> usize {
        self.seen().iter().filter(|s| s.path == path && status(s.status)).count()
    }
}

async fn forward(State(state): State<ProxyState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let upstream = *state.upstream.lock().expect("upstream");
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let mut out =
        http::Request::builder().method(parts.method.clone()).uri(format!("http://{upstream}{path}"));
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != http::header::HOST) {
        out = out.header(name, value);
    }
    let res = match state.http.request(out.body(Full::new(body.clone())).expect("request")).await {
        Ok(res) => res,
        Err(e) => return (http::StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let (res_parts, res_body) = res.into_parts();
    let res_body = res_body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let header =
        |name| parts.headers.get(name).and_then(|v: &http::HeaderValue| v.to_str().ok()).map(str::to_owned);
    state.seen.lock().expect("seen").push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        status: res_parts.status.as_u16(),
        authorization: header(http::header::AUTHORIZATION),
        content_type: header(http::header::CONTENT_TYPE),
        device_token: header(http::header::HeaderName::from_static(auth_core::DEVICE_TOKEN_HEADER)),
        body: body.to_vec(),
    });
    Response::from_parts(res_parts, axum::body::Body::from(res_body))
}

// ---------------------------------------------------------------------------
// The client under test

fn agent(d: &Dial, base: &str, store: Option<Arc<MemoryTokenStore>>) -> Agent {
    let dialect = ClientDialect::parse(d.name, Some("demo")).expect("dialect");
    let builder = Agent::builder(dialect, base, d.user, d.password);
    match store {
        Some(store) => builder.store(store),
        None => builder,
    }
    .build()
    .expect("agent")
}

type Api<B> = AuthClient<HttpClient<HttpConnector, B>>;

fn api<B>(agent: &Agent) -> Api<B>
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    AuthClientLayer::new(agent.clone()).layer(HttpClient::builder(TokioExecutor::new()).build_http())
}

/// Sends the dialect's sample request; its status, or the error.
async fn sample<B>(api: &mut Api<B>, d: &Dial, base: &str) -> Result<u16, String>
where
    B: ClientBody + http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (method, path, body) = d.sample;
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(B::from_bytes(Bytes::from_static(body.as_bytes())))
        .map_err(|e| e.to_string())?;
    let res = api.ready().await.map_err(|e| e.to_string())?.call(req).await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    res.into_body().collect().await.map_err(|_| "body".to_owned())?;
    Ok(status)
}

async fn tokens_of(store: &MemoryTokenStore, agent: &Agent) -> Tokens {
    store.load(agent.account()).await.expect("store").expect("tokens saved")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

// ---------------------------------------------------------------------------
// Done when: 200 sequential and 100 concurrent requests across expiries

/// One dialect on one framework: 200 sequential requests, then 100, ten at
/// a time, with 2 s tokens; the failures found.
async fn steady(framework: &str, d: &'static Dial, server: &Server) -> Vec<String> {
    let proxy = Proxy::start(server.addr).await;
    let base = proxy.url();
    let agent = agent(d, &base, None);
    let mut api = api::<Full<Bytes>>(&agent);
    let tag = format!("{framework}/{}", d.name);
    let mut failures = Vec::new();
    let started = Instant::now();
    for i in 0..200 {
        match sample(&mut api, d, &base).await {
            Ok(200) => {}
            other => failures.push(format!("{tag}: sequential request {i}: {other:?}")),
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let workers: Vec<_> = (0..10)
        .map(|w| {
            let (mut api, base) = (api.clone(), base.clone());
            tokio::spawn(async move {
                let mut failed = Vec::new();
                for i in 0..10 {
                    match sample(&mut api, d, &base).await {
                        Ok(200) => {}
                        other => failed.push(format!("concurrent request {w}.{i}: {other:?}")),
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                failed
            })
        })
        .collect();
    for worker in workers {
        failures.extend(worker.await.expect("worker").into_iter().map(|f| format!("{tag}: {f}")));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let logins = proxy.count(d.login, |s| s == 200);
    let refreshes = proxy.count(d.renew, |s| s == 200);
    let refused = proxy.count(d.renew, |s| s != 200);
    let samples: Vec<Seen> = proxy.seen().into_iter().filter(|s| s.path == d.sample.1).collect();
    if logins != 1 || agent.logins() != 1 {
        failures
            .push(format!("{tag}: {logins} logins on the server, {} by the client, not 1", agent.logins()));
    }
    if refreshes as u64 != agent.refreshes() || refused != 0 {
        failures.push(format!(
            "{tag}: the server answered {refreshes} refreshes (+{refused} refused), the client counted {}",
            agent.refreshes()
        ));
    }
    // Each token lives 2 s and is renewed after 1 s: over `elapsed`
    // seconds of steady traffic, at least one renewal per 2 s and at most
    // one per second.
    let (least, most) = ((elapsed / 2.0).floor() - 1.0, elapsed.ceil() + 2.0);
    if (refreshes as f64) < least || (refreshes as f64) > most {
        failures.push(format!("{tag}: {refreshes} refreshes in {elapsed:.1}s, expected {least} to {most}"));
    }
    if samples.len() < 300
        || samples.iter().any(|s| !s.authorization.as_deref().is_some_and(|a| a.starts_with(d.scheme)))
    {
        failures.push(format!(
            "{tag}: {} sample requests, not all with `{}`",
            samples.len(),
            d.scheme.trim()
        ));
    }
    if server.logged("reuse") != 0 {
        failures.push(format!("{tag}: the demo detected refresh-token reuse"));
    }
    failures
}

#[test]
fn one_login_across_expiries_for_every_dialect_on_both_frameworks() {
    let mut servers = Vec::new();
    for framework in ["axum", "actix"] {
        for d in &DIALECTS {
            servers.push((framework, d, start_with(d.name, framework, SHORT)));
        }
    }
    let rt = runtime();
    let failures: Vec<String> = rt.block_on(async {
        let runs = servers.iter().map(|(framework, d, server)| steady(framework, d, server));
        futures_util::future::join_all(runs).await.into_iter().flatten().collect()
    });
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Done when: a revoked session logs in again once

/// Ends the client's session on the server: a logout where the dialect has
/// one; elsewhere a restart with a new signing secret (every token dead).
async fn revoke(d: &Dial, framework: &str, server: &mut Server, proxy: &Proxy, tokens: &Tokens) {
    let bearer = format!("Bearer {}", tokens.access);
    let logout = match d.name {
        "standard" => {
            Some(("POST", "/auth/logout", bearer, serde_json::json!({"refresh_token": tokens.refresh})))
        }
        "sachet" => Some(("POST", "/users/logout", bearer, serde_json::json!({"token": tokens.access}))),
        "keytoken" => {
            let user = tokens.key.clone().expect("a key");
            let creds = auth_core::Credentials::Basic { user, password: tokens.access.clone() };
            Some(("DELETE", "/users/token", creds.header_value(), serde_json::json!({"client": "demo"})))
        }
        _ => None,
    }
    .map(|(method, path, authorization, body)| Req {
        method,
        path: path.into(),
        headers: vec![("authorization", authorization), ("content-type", "application/json".to_owned())],
        body: body.to_string().into_bytes(),
        peer: None,
    });
    match logout {
        Some(req) => {
            let res = send(server.addr, req).await;
            assert!(
                matches!(res.status, 200 | 204),
                "{framework}/{}: logout answered {}",
                d.name,
                res.status
            );
        }
        None => {
            let mut args = demo_args(d.name);
            args.remove(0);
            let secret = args.iter().position(|a| a == SECRET).expect("the tables' secret");
            args[secret] = "another-secret-of-at-least-32-bytes!".into();
            *server = start_args(args, framework, &[]);
            proxy.switch_to(server.addr);
        }
    }
}

#[test]
fn a_revoked_session_logs_in_again_once_and_the_request_succeeds() {
    let rt = runtime();
    let mut failures = Vec::new();
    for framework in ["axum", "actix"] {
        for d in &DIALECTS {
            let mut server = start_with(d.name, framework, &[]);
            rt.block_on(async {
                let proxy = Proxy::start(server.addr).await;
                let store = Arc::new(MemoryTokenStore::default());
                let agent = agent(d, &proxy.url(), Some(store.clone()));
                let mut api = api::<Full<Bytes>>(&agent);
                let tag = format!("{framework}/{}", d.name);
                assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(200), "{tag}");
                revoke(d, framework, &mut server, &proxy, &tokens_of(&store, &agent).await).await;
                let before = proxy.seen().len();
                let status = sample(&mut api, d, &proxy.url()).await;
                let after: Vec<(String, u16)> =
                    proxy.seen()[before..].iter().map(|s| (s.path.clone(), s.status)).collect();
                // The request is refused, the refresh (where the dialect
                // renews with a refresh token) refused, one login, the
                // request again.
                let mut expected = vec![(d.sample.1.to_owned(), 401)];
                if !matches!(d.name, "sachet" | "drf") {
                    expected.push((d.renew.to_owned(), 401));
                }
                expected.extend([(d.login.to_owned(), 200), (d.sample.1.to_owned(), 200)]);
                // the second login sends back the device token the first one earned
                let device =
                    proxy.seen()[before..].iter().any(|s| s.path == d.login && s.device_token.is_some());
                if status != Ok(200) || after != expected || agent.logins() != 2 || !device {
                    failures.push(format!(
                        "{tag}: status {status:?}, {} logins, server saw {after:?}, expected {expected:?}, \
                         device token sent back: {device}",
                        agent.logins()
                    ));
                }
            });
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Done when: the ecHome flow matches the ecHome SDK

/// The ecHome SDK (`echome/session.py`, `resource.py`): logs in with a
/// form, sends `Bearer <access>`, and on a 401 posts `refresh=<refresh>`
/// as a form with the expired access token as `Bearer`, then repeats the
/// request. With no refresh margin the client does exactly that.
#[test]
fn the_echome_client_refreshes_on_401_as_the_sdk_does() {
    let d = dial("echome");
    let rt = runtime();
    for framework in ["axum", "actix"] {
        let server = start_with(d.name, framework, SHORT);
        rt.block_on(async {
            let proxy = Proxy::start(server.addr).await;
            let store = Arc::new(MemoryTokenStore::default());
            let dialect = ClientDialect::Echome;
            let agent = Agent::builder(dialect, proxy.url(), d.user, d.password)
                .refresh_margin(None)
                .store(store.clone())
                .build()
                .expect("agent");
            let mut api = api::<Full<Bytes>>(&agent);
            assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(200));
            let first = tokens_of(&store, &agent).await;
            let login = &proxy.seen()[0];
            assert_eq!((login.method.as_str(), login.path.as_str()), ("POST", d.login), "{framework}");
            assert_eq!(login.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
            assert_eq!(login.body, b"username=alice&password=alice-pw");
            // wait until the server refuses the access token
            let expires = first.expires_at_ms.expect("an exp");
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
            tokio::time::sleep(Duration::from_millis(expires.saturating_sub(now.as_millis() as u64) + 100))
                .await;
            assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(200), "{framework}");
            let second = tokens_of(&store, &agent).await;
            let seen = proxy.seen();
            let tail: Vec<&Seen> = seen[2..].iter().collect();
            assert_eq!(tail.len(), 3, "{framework}: {tail:?}");
            let bearer = |t: &str| Some(format!("Bearer {t}"));
            assert_eq!((tail[0].path.as_str(), tail[0].status), (d.sample.1, 401));
            assert_eq!(tail[0].authorization, bearer(&first.access));
            assert_eq!(
                (tail[1].method.as_str(), tail[1].path.as_str(), tail[1].status),
                ("POST", d.renew, 200)
            );
            assert_eq!(tail[1].authorization, bearer(&first.access), "the expired access token as Bearer");
            assert_eq!(tail[1].content_type.as_deref(), Some("application/x-www-form-urlencoded"));
            let refresh = first.refresh.clone().expect("a refresh token");
            assert_eq!(tail[1].body, format!("refresh={refresh}").into_bytes());
            assert_eq!((tail[2].path.as_str(), tail[2].status), (d.sample.1, 200));
            assert_eq!(tail[2].authorization, bearer(&second.access));
            assert_ne!(second.access, first.access);
            assert_eq!(second.refresh, first.refresh, "ecHome does not rotate the refresh token");
            assert_eq!((agent.logins(), agent.refreshes()), (1, 1));
        });
    }
}

// ---------------------------------------------------------------------------
// Bodies that cannot be replayed, other hosts, secrets in logs

#[test]
fn a_body_that_cannot_be_replayed_gets_the_401_and_the_next_request_renews() {
    let d = dial("standard");
    let rt = runtime();
    for framework in ["axum", "actix"] {
        let mut server = start_with(d.name, framework, &[]);
        rt.block_on(async {
            let proxy = Proxy::start(server.addr).await;
            let store = Arc::new(MemoryTokenStore::default());
            let agent = agent(d, &proxy.url(), Some(store.clone()));
            // axum's Body is a stream: never replayed
            let mut api = api::<axum::body::Body>(&agent);
            assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(200));
            revoke(d, framework, &mut server, &proxy, &tokens_of(&store, &agent).await).await;
            let before = proxy.seen().len();
            assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(401), "{framework}: not retried");
            assert_eq!(proxy.seen().len(), before + 1, "{framework}: one request, no renewal yet");
            assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(200), "{framework}: the next one renews");
            assert_eq!(agent.logins(), 2);
        });
    }
}

#[test]
fn a_request_to_another_host_or_with_its_own_credential_is_left_alone() {
    let d = dial("standard");
    let server = start_with(d.name, "axum", &[]);
    let rt = runtime();
    rt.block_on(async {
        let proxy = Proxy::start(server.addr).await;
        let other = Proxy::start(server.addr).await;
        let agent = agent(d, &proxy.url(), None);
        let mut api = api::<Full<Bytes>>(&agent);
        // another origin (same server behind another port): no token, no login
        let status = sample(&mut api, d, &other.url()).await;
        assert_eq!(status, Ok(401));
        assert_eq!(agent.logins(), 0);
        assert!(other.seen().iter().all(|s| s.authorization.is_none()), "{:?}", other.seen());
        // the caller's own Authorization header is kept
        let req = http::Request::get(format!("{}/whoami", proxy.url()))
            .header("authorization", "Bearer caller.own.token")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let res = api.ready().await.expect("ready").call(req).await.expect("response");
        assert_eq!(res.status(), 401);
        assert_eq!(agent.logins(), 0);
        assert_eq!(proxy.seen()[0].authorization.as_deref(), Some("Bearer caller.own.token"));
    });
}

/// A body type of another crate (as a tonic channel's is), through a
/// policy: built from bytes, never replayed.
#[derive(Clone)]
struct Boxed;

type Boxy = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

impl BodyPolicy<Boxy> for Boxed {
    fn build(&self, bytes: Bytes) -> Boxy {
        Full::new(bytes).boxed()
    }

    fn try_clone(&self, _: &Boxy) -> Option<Boxy> {
        None
    }
}

#[test]
fn a_body_type_of_another_crate_goes_through_a_body_policy() {
    let d = dial("datarhei");
    let server = start_with(d.name, "actix", &[]);
    runtime().block_on(async {
        let proxy = Proxy::start(server.addr).await;
        let agent = agent(d, &proxy.url(), None);
        let http = HttpClient::builder(TokioExecutor::new()).build_http::<Boxy>();
        let mut api = AuthClientLayer::with_bodies(agent.clone(), Boxed).layer(http);
        for _ in 0..3 {
            let req =
                http::Request::get(format!("{}/whoami", proxy.url())).body(Full::new(Bytes::new()).boxed());
            let res = api.ready().await.expect("ready").call(req.expect("request")).await.expect("response");
            assert_eq!(res.status(), 200);
        }
        assert_eq!(agent.logins(), 1);
        let login = &proxy.seen()[0];
        assert_eq!((login.path.as_str(), login.content_type.as_deref()), (d.login, Some("application/json")));
        assert_eq!(login.body, br#"{"password":"alice-pw","username":"alice"}"#);
    });
}

#[test]
fn no_token_or_password_reaches_logs_debug_output_or_errors() {
    let d = dial("standard");
    let mut server = start_with(d.name, "axum", SHORT);
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    // Global (a thread's scoped subscriber can miss events of call sites
    // other tests' threads register first): every event of our crates, from
    // every test of this binary, at every level.
    let capture = crate::harness::Capture::default();
    let writer = capture.clone();
    let ours = tracing_subscriber::filter::Targets::new()
        .with_target("auth_core", tracing::Level::TRACE)
        .with_target("auth_tower", tracing::Level::TRACE);
    let layer = tracing_subscriber::fmt::layer().with_writer(move || writer.clone()).with_filter(ours);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
        .expect("the only subscriber");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut secrets = vec![d.password.to_owned()];
    let mut debug = String::new();
    rt.block_on(async {
        let proxy = Proxy::start(server.addr).await;
        let store = Arc::new(MemoryTokenStore::default());
        let agent = agent(d, &proxy.url(), Some(store.clone()));
        let mut api = api::<Full<Bytes>>(&agent);
        assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(200));
        let first = tokens_of(&store, &agent).await;
        tokio::time::sleep(Duration::from_millis(1100)).await; // due: refreshed
        assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(200));
        revoke(d, "axum", &mut server, &proxy, &tokens_of(&store, &agent).await).await;
        assert_eq!(sample(&mut api, d, &proxy.url()).await, Ok(200)); // refused refresh, login
        let last = tokens_of(&store, &agent).await;
        for t in [&first, &last] {
            secrets.push(t.access.clone());
            secrets.extend(t.refresh.clone());
            debug.push_str(&format!("{t:?}"));
        }
        debug.push_str(&format!("{agent:?} {api:?}"));
        let wrong = Agent::builder(ClientDialect::Standard, proxy.url(), d.user, "wrong-password-123")
            .build()
            .expect("agent");
        secrets.push("wrong-password-123".into());
        let err = sample(&mut crate::client::api::<Full<Bytes>>(&wrong), d, &proxy.url()).await;
        assert_eq!(err, Err("the server refused the login (400)".to_owned()));
        assert_eq!(agent.refreshes(), 1);
        assert_eq!(agent.logins(), 2);
    });
    let logged = capture.text();
    for needle in ["logged in", "access token refreshed", "refresh refused; logging in"] {
        assert!(logged.contains(needle), "no `{needle}` event in:\n{logged}");
    }
    for secret in &secrets {
        assert!(!logged.contains(secret.as_str()), "a secret in the log:\n{logged}");
        assert!(!debug.contains(secret.as_str()), "a secret in Debug output: {debug}");
    }
}

// ---------------------------------------------------------------------------
// The reqwest adapter

async fn reqwest_sample(
    client: &reqwest_middleware::ClientWithMiddleware,
    d: &Dial,
    base: &str,
) -> Result<u16, String> {
    let (method, path, body) = d.sample;
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let res = client
        .request(method, format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

#[test]
fn the_reqwest_middleware_keeps_one_login_and_renews_after_a_logout() {
    let rt = runtime();
    let mut failures = Vec::new();
    for framework in ["axum", "actix"] {
        for d in [dial("datarhei"), dial("keytoken")] {
            let mut server = start_with(d.name, framework, SHORT);
            rt.block_on(async {
                let proxy = Proxy::start(server.addr).await;
                let base = proxy.url();
                let store = Arc::new(MemoryTokenStore::default());
                let agent = agent(d, &base, Some(store.clone()));
                let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                    .with(AuthClientMiddleware::new(agent.clone()))
                    .build();
                let tag = format!("reqwest {framework}/{}", d.name);
                let runs = (0..8).map(|_| async {
                    let mut statuses = Vec::new();
                    for _ in 0..8 {
                        statuses.push(reqwest_sample(&client, d, &base).await);
                        tokio::time::sleep(Duration::from_millis(400)).await;
                    }
                    statuses
                });
                let statuses: Vec<_> =
                    futures_util::future::join_all(runs).await.into_iter().flatten().collect();
                if statuses.iter().any(|s| *s != Ok(200)) || agent.logins() != 1 {
                    failures.push(format!("{tag}: {statuses:?}, {} logins", agent.logins()));
                }
                if proxy.count(d.renew, |s| s == 200) as u64 != agent.refreshes() || agent.refreshes() == 0 {
                    failures.push(format!("{tag}: {} refreshes counted by the client", agent.refreshes()));
                }
                if d.name == "keytoken" {
                    revoke(d, framework, &mut server, &proxy, &tokens_of(&store, &agent).await).await;
                    let status = reqwest_sample(&client, d, &base).await;
                    if status != Ok(200) || agent.logins() != 2 {
                        failures.push(format!("{tag}: after logout {status:?}, {} logins", agent.logins()));
                    }
                }
            });
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------
// Logins and refreshes follow no redirect

/// A raw TCP server on 127.0.0.2 (another host, as far as the client can
/// tell) that counts connections and keeps every byte it receives. It
/// answers each complete request `200 {}` and closes.
struct Recorder {
    addr: SocketAddr,
    connections: Arc<Mutex<usize>>,
    received: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.expect("bind 127.0.0.2");
        let addr = listener.local_addr().expect("address");
        let (connections, received) = (Arc::new(Mutex::new(0)), Arc::new(Mutex::new(Vec::new())));
        let (count, sink) = (connections.clone(), received.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                *count.lock().expect("count") += 1;
                let sink = sink.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = stream.read(&mut buf).await {
                        request.extend_from_slice(&buf[..n]);
                        sink.lock().expect("received").extend_from_slice(&buf[..n]);
                        if complete(&request) {
                            let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                                          content-length: 2\r\nconnection: close\r\n\r\n{}";
                            let _ = stream.write_all(answer.as_bytes()).await;
                            break;
                        }
                    }
                });
            }
        });
        Self { addr, connections, received }
    }

    fn connections(&self) -> usize {
        *self.connections.lock().expect("count")
    }

    fn received(&self) -> String {
        String::from_utf8_lossy(&self.received.lock().expect("received")).into_owned()
    }
}

/// Whether `request` holds a whole HTTP/1.1 request (headers and a
/// `content-length` body).
fn complete(request: &[u8]) -> bool {
    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    request.len() >= end + 4 + length
}

const REDIRECT_PASSWORD: &str = "password-that-must-stay-home";
const REDIRECT_REFRESH: &str = "refresh-token-that-must-stay-home";

/// A standard-dialect server on 127.0.0.1 whose login (when
/// `login_redirects`) and refresh answer `307` to the recorder; its login
/// otherwise answers a pair, its `/whoami` always 401. Keeps what it got.
#[derive(Clone)]
struct Redirecting {
    to: SocketAddr,
    login_redirects: bool,
    got: Arc<Mutex<Vec<Got>>>,
}

/// A request the redirecting server received: its path and body.
type Got = (String, Vec<u8>);

impl Redirecting {
    async fn start(to: SocketAddr, login_redirects: bool) -> (String, Self) {
        let state = Self { to, login_redirects, got: Arc::default() };
        let app = axum::Router::new().fallback(redirecting).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), state)
    }

    fn got(&self) -> Vec<(String, String)> {
        let got = self.got.lock().expect("got");
        got.iter().map(|(path, body)| (path.clone(), String::from_utf8_lossy(body).into_owned())).collect()
    }
}

async fn redirecting(State(state): State<Redirecting>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    state.got.lock().expect("got").push((path.clone(), body.to_vec()));
    let redirect = || {
        let location = format!("http://{}{path}", state.to);
        (http::StatusCode::TEMPORARY_REDIRECT, [(http::header::LOCATION, location)]).into_response()
    };
    match path.as_str() {
        "/auth/login" if state.login_redirects => redirect(),
        "/auth/login" => {
            let pair = serde_json::json!({
                "access_token": "access-1", "token_type": "Bearer", "expires_in": 3600,
                "refresh_token": REDIRECT_REFRESH,
            });
            axum::Json(pair).into_response()
        }
        "/auth/refresh" => redirect(),
        _ => http::StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// The request the tests send through each adapter: `/whoami` with a
/// replayable body.
async fn whoami_through_the_tower_layer(base: &str) -> Result<u16, String> {
    let agent =
        Agent::builder(ClientDialect::Standard, base, "ann", REDIRECT_PASSWORD).build().expect("agent");
    let mut api = api::<Full<Bytes>>(&agent);
    let req = http::Request::get(format!("{base}/whoami")).body(Full::new(Bytes::new())).expect("request");
    let res = api.ready().await.map_err(|e| e.to_string())?.call(req).await.map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

async fn whoami_through_the_reqwest_middleware(base: &str) -> Result<u16, String> {
    let agent =
        Agent::builder(ClientDialect::Standard, base, "ann", REDIRECT_PASSWORD).build().expect("agent");
    // the user's own client follows redirects (reqwest's default)
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AuthClientMiddleware::new(agent))
        .build();
    let res = client.get(format!("{base}/whoami")).body("").send().await.map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

/// Control: the user's client itself does follow the server's 307 to the
/// recorder, body and all (so the recorder's silence above means
/// something).
async fn a_plain_client_follows(url: String, recorder: &Recorder) {
    let res = reqwest::Client::new().post(url).body("control-body").send().await.expect("followed");
    assert_eq!(res.status(), 200);
    assert!(recorder.received().contains("control-body"), "{}", recorder.received());
}

#[test]
fn a_login_answered_with_a_redirect_is_an_error_and_the_password_goes_nowhere_else() {
    runtime().block_on(async {
        for adapter in ["tower", "reqwest"] {
            let recorder = Recorder::start().await;
            let (base, server) = Redirecting::start(recorder.addr, true).await;
            let outcome = match adapter {
                "tower" => whoami_through_the_tower_layer(&base).await,
                _ => whoami_through_the_reqwest_middleware(&base).await,
            };
            let err = outcome.expect_err("no credential");
            assert!(
                err.contains("the login answered a redirect (307)") && err.contains("not followed"),
                "{adapter}: {err}"
            );
            // the login reached our server, and nothing reached the other host
            let got = server.got();
            assert_eq!(got.len(), 1, "{adapter}: {got:?}");
            assert_eq!(got[0].0, "/auth/login");
            assert!(got[0].1.contains(REDIRECT_PASSWORD), "{adapter}");
            assert_eq!(recorder.connections(), 0, "{adapter}: {}", recorder.received());
            assert!(recorder.received().is_empty());
            a_plain_client_follows(format!("{base}/auth/login"), &recorder).await;
            assert!(!recorder.received().contains(REDIRECT_PASSWORD));
        }
    });
}

#[test]
fn a_refresh_answered_with_a_redirect_is_an_error_and_the_refresh_token_goes_nowhere_else() {
    runtime().block_on(async {
        for adapter in ["tower", "reqwest"] {
            let recorder = Recorder::start().await;
            let (base, server) = Redirecting::start(recorder.addr, false).await;
            // the login succeeds, /whoami answers 401: the agent refreshes
            let outcome = match adapter {
                "tower" => whoami_through_the_tower_layer(&base).await,
                _ => whoami_through_the_reqwest_middleware(&base).await,
            };
            let err = outcome.expect_err("no renewed credential");
            assert!(
                err.contains("the refresh answered a redirect (307)") && err.contains("not followed"),
                "{adapter}: {err}"
            );
            let paths: Vec<String> = server.got().into_iter().map(|(path, _)| path).collect();
            assert_eq!(paths, ["/auth/login", "/whoami", "/auth/refresh"], "{adapter}: no login after");
            assert!(server.got()[2].1.contains(REDIRECT_REFRESH), "{adapter}");
            assert_eq!(recorder.connections(), 0, "{adapter}: {}", recorder.received());
            a_plain_client_follows(format!("{base}/auth/refresh"), &recorder).await;
            assert!(!recorder.received().contains(REDIRECT_REFRESH));
        }
    });
}

// ---------------------------------------------------------------------------
// Relative URIs

/// A service that sends requests with a relative URI to one server, as a
/// tonic channel does, over hyper-util's client.
#[derive(Clone)]
struct Pinned {
    to: SocketAddr,
    http: HttpClient<HttpConnector, Full<Bytes>>,
}

impl Service<http::Request<Full<Bytes>>> for Pinned {
    type Response = http::Response<hyper::body::Incoming>;
    type Error = hyper_util::client::legacy::Error;
    type Future = hyper_util::client::legacy::ResponseFuture;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Full<Bytes>>) -> Self::Future {
        if req.uri().scheme().is_none() {
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            *req.uri_mut() = format!("http://{}{path}", self.to).parse().expect("an absolute URI");
        }
        self.http.request(req)
    }
}

#[test]
fn a_relative_uri_gets_the_token_only_from_a_layer_told_the_service_is_the_origin() {
    let d = dial("standard");
    let server = start_with(d.name, "axum", &[]);
    runtime().block_on(async {
        let proxy = Proxy::start(server.addr).await;
        let other = Proxy::start(server.addr).await;
        let pinned = Pinned { to: proxy.addr, http: HttpClient::builder(TokioExecutor::new()).build_http() };
        let whoami = |uri: String| http::Request::get(uri).body(Full::new(Bytes::new())).expect("request");
        // by default: a relative URI goes out without a token, no login
        let agent = agent(d, &proxy.url(), None);
        let mut api = AuthClientLayer::new(agent.clone()).layer(pinned.clone());
        assert_eq!(status(&mut api, whoami("/whoami".into())).await, 401);
        assert_eq!(agent.logins(), 0);
        assert_eq!(proxy.seen().len(), 1);
        assert_eq!(proxy.seen()[0].authorization, None);

        // declared the origin: the token goes with it
        let mut api = AuthClientLayer::new(agent.clone()).assume_origin().layer(pinned.clone());
        assert_eq!(status(&mut api, whoami("/whoami".into())).await, 200);
        assert_eq!(agent.logins(), 1);
        let last = proxy.seen().pop().expect("the request");
        assert_eq!(last.path, "/whoami");
        assert!(last.authorization.as_deref().is_some_and(|a| a.starts_with("Bearer ")), "{last:?}");

        // an absolute URI of another origin never gets it, opt-in or not
        assert_eq!(status(&mut api, whoami(format!("{}/whoami", other.url()))).await, 401);
        assert_eq!(other.seen().len(), 1);
        assert!(other.seen().iter().all(|s| s.authorization.is_none()), "{:?}", other.seen());
        assert_eq!(agent.logins(), 1);
    });
}

/// Sends `req` through `api`; the status.
async fn status(api: &mut AuthClient<Pinned>, req: http::Request<Full<Bytes>>) -> u16 {
    api.ready().await.expect("ready").call(req).await.expect("response").status().as_u16()
}

// ---------------------------------------------------------------------------
// examples/client.rs

fn run_client(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(example_binary("client")).args(args).output().expect("client runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), stdout)
}

#[test]
fn the_client_example_reports_and_keeps_its_tokens_across_runs() {
    let server = start_with("keytoken", "axum", &[]);
    let base = format!("http://{}", server.addr);
    let dir = std::env::temp_dir().join(format!("client-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("tokens.json");
    let file = file.to_str().expect("UTF-8 path");
    let args = |user: &'static str, requests: &'static str| {
        let base = base.as_str();
        vec![
            "--dialect",
            "keytoken",
            "--server",
            base,
            "--client",
            "demo",
            "--user",
            user,
            "--requests",
            requests,
        ]
    };
    let good = "ann@example.com:ann-pw";
    let (code, out) =
        run_client(&[args(good, "20"), vec!["--concurrency", "4", "--token-file", file]].concat());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.lines().any(|l| l.starts_with("login: ok")), "{out}");
    assert_eq!(out.lines().last(), Some("requests=20 ok=20 failed=0 logins=1 refreshes=0"), "{out}");
    // a restarted client goes on with the saved tokens
    let (code, out) = run_client(&[args(good, "20"), vec!["--token-file", file]].concat());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.lines().any(|l| l.starts_with("restored:")), "{out}");
    assert_eq!(out.lines().last(), Some("requests=20 ok=20 failed=0 logins=0 refreshes=0"), "{out}");
    let saved = std::fs::read_to_string(file).expect("token file");
    assert!(!saved.contains("ann-pw"), "the password is not saved");
    // a wrong password: every request fails, exit 1
    let (code, out) = run_client(&args("ann@example.com:wrong", "3"));
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(out.lines().last(), Some("requests=3 ok=0 failed=3 logins=0 refreshes=0"), "{out}");
    let (code, _) = run_client(&["--dialect", "oauth1"]);
    assert_eq!(code, Some(2));
    std::fs::remove_dir_all(dir).expect("cleanup");
}
