//! Sending one plain request to either framework's app, and replaying the table.

use std::collections::HashMap;
use std::rc::Rc;

use actix_web::dev::Service as _;
use base64::Engine as _;
use clap::Parser as _;
use demo_app::{Demo, DemoConfig};
use futures_util::future::LocalBoxFuture;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::table::{Case, Challenge, Keys};

/// The secret the test apps sign with, so the table can forge tokens.
pub const SECRET: &str = "conformance-secret-of-at-least-32-bytes";

/// A request in plain terms.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// The client's address, if the case names one.
    pub peer: Option<std::net::SocketAddr>,
}

/// A response in plain terms (header names lower case).
#[derive(Debug, Clone)]
pub struct Res {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Res {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

pub type Client = Rc<dyn Fn(Req) -> LocalBoxFuture<'static, Res>>;

/// The demo app for `dialect`, with the users and secret the tables expect.
pub async fn demo(dialect: &str) -> Demo {
    Demo::new(&DemoConfig::try_parse_from(demo_args(dialect)).expect("test args")).await.expect("demo")
}

/// The demo's command line for `dialect` (also used over real TCP).
pub fn demo_args(dialect: &str) -> Vec<String> {
    // `cookies`: the standard dialect in cookie mode
    let mut args = match dialect {
        "cookies" => vec!["demo", "--secret", SECRET, "--dialect", "standard", "--cookies"],
        _ => vec!["demo", "--secret", SECRET, "--dialect", dialect],
    };
    args.extend(match dialect {
        "keytoken" => [
            "--user",
            "ann@example.com:ann-pw:attendee",
            "--user",
            "bob@example.com:bob-pw",
            "--client",
            "ios",
            "--client",
            "demo",
        ]
        .as_slice(),
        "sachet" => {
            ["--user", "alice:alice-pw", "--user", "bob:bob-pw", "--user", "root:root-pw:admin"].as_slice()
        }
        _ => ["--user", "alice:alice-pw:admin", "--user", "bob:bob-pw"].as_slice(),
    });
    args.into_iter().map(str::to_owned).collect()
}

pub fn axum_client(demo: &Demo) -> Client {
    router_client(demo.axum_router())
}

/// A client of any axum app.
pub fn router_client(router: axum::Router) -> Client {
    Rc::new(move |req: Req| {
        let router = router.clone();
        Box::pin(async move {
            let mut request =
                http1_request(&req).body(axum::body::Body::from(req.body)).expect("valid request");
            if let Some(peer) = req.peer {
                // what `into_make_service_with_connect_info` puts there
                request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            }
            read_http1(router.oneshot(request).await.expect("infallible")).await
        })
    })
}

pub async fn actix_client(demo: &Demo) -> Client {
    configured_client(demo.actix_config()).await
}

/// A client of an actix app built by `configure`.
pub async fn configured_client(configure: impl FnOnce(&mut actix_web::web::ServiceConfig)) -> Client {
    let app = Rc::new(actix_web::test::init_service(actix_web::App::new().configure(configure)).await);
    Rc::new(move |req: Req| {
        let app = app.clone();
        Box::pin(async move {
            let mut builder = actix_web::test::TestRequest::default()
                .method(actix_web::http::Method::from_bytes(req.method.as_bytes()).expect("method"))
                .uri(&req.path);
            if let Some(peer) = req.peer {
                builder = builder.peer_addr(peer);
            }
            for (n, v) in &req.headers {
                // append: a repeated header must arrive repeated
                builder = builder.append_header((*n, v.as_bytes()));
            }
            let res = match app.call(builder.set_payload(req.body).to_request()).await {
                Ok(res) => res,
                Err(e) => actix_web::dev::ServiceResponse::from_err(
                    e,
                    actix_web::test::TestRequest::default().to_http_request(),
                ),
            };
            let status = res.status().as_u16();
            let headers = header_pairs(res.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
            let body = actix_web::test::read_body(res).await.to_vec();
            Res { status, headers, body }
        })
    })
}

/// An `http` 1.x request builder (axum and hyper) with the method, path and headers of `req`.
pub fn http1_request(req: &Req) -> axum::http::request::Builder {
    let mut builder = axum::http::Request::builder().method(req.method).uri(&req.path);
    for (n, v) in &req.headers {
        builder = builder.header(*n, v.as_bytes());
    }
    builder
}

/// Reads an `http` 1.x response (axum and hyper) into a [`Res`].
pub async fn read_http1<B>(res: axum::http::Response<B>) -> Res
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let status = res.status().as_u16();
    let headers = header_pairs(res.headers().iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
    let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
    Res { status, headers, body }
}

fn header_pairs<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, String)> {
    headers.map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned())).collect()
}

/// The JSON body of `res` (`null` if it has none).
pub fn json_of(res: &Res) -> Value {
    serde_json::from_slice(&res.body).unwrap_or(Value::Null)
}

/// A request with an optional `Authorization` value and JSON body.
pub fn request(method: &'static str, path: &str, auth: Option<&str>, body: Option<Value>) -> Req {
    let mut headers = Vec::new();
    if let Some(auth) = auth {
        headers.push(("authorization", auth.to_owned()));
    }
    let body = body.map_or_else(Vec::new, |b| {
        headers.push(("content-type", "application/json".to_owned()));
        b.to_string().into_bytes()
    });
    Req { method, path: path.to_owned(), headers, body, peer: None }
}

/// Replaces `{name}` with the variable's value, and `{b64:a:b}` with
/// base64 of `a`'s and `b`'s values joined by a colon (Basic credentials).
pub fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = text.to_owned();
    while let Some(start) = out.find("{b64:") {
        let Some(len) = out[start..].find('}') else { break };
        let spec = out[start + 5..start + len].to_owned();
        let (a, b) = spec.split_once(':').unwrap_or((&spec, ""));
        let get = |k: &str| vars.get(k).cloned().unwrap_or_default();
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", get(a), get(b)));
        out.replace_range(start..=start + len, &encoded);
    }
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Runs every case in order against one client; returns what went wrong.
pub async fn replay(framework: &str, client: Client, cases: &[Case]) -> Vec<String> {
    let mut vars = HashMap::new();
    crate::hostile::tokens(&mut vars);
    let mut failures = Vec::new();
    let documented = match crate::openapi::Documented::fetch(&client).await {
        Ok(documented) => Some(documented),
        Err(why) => {
            failures.push(format!("[{framework}] the app's OpenAPI document: {why}"));
            None
        }
    };
    for case in cases {
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Some(a) = case.authorization {
            headers.push(("authorization", substitute(a, &vars)));
        }
        for (name, value) in &case.headers {
            headers.push((name, substitute(value, &vars)));
        }
        if let Some(ct) = case.content_type {
            headers.push(("content-type", ct.to_owned()));
        }
        let body = case.body.make(&vars);
        let peer = case.peer.map(|p| p.parse().expect("a test peer IP:PORT"));
        let req_path = substitute(case.path, &vars);
        let req = Req { method: case.method, path: req_path.clone(), headers, body, peer };
        let res = client(req).await;
        let mut fail = |what: String| failures.push(format!("[{framework}] {}: {what}", case.name));
        if let Some(Err(why)) = documented.as_ref().map(|d| d.check(case.method, &req_path, &res)) {
            fail(format!("not as documented: {why}"));
        }
        if res.status != case.status {
            fail(format!(
                "status {} (expected {}), body {}",
                res.status,
                case.status,
                String::from_utf8_lossy(&res.body)
            ));
            continue;
        }
        let challenge = res.header("www-authenticate");
        match (&case.challenge, challenge) {
            (Challenge::None, None) => {}
            (Challenge::Scheme(s), Some(c)) if c.starts_with(&format!("{s} ")) && !c.contains("error=") => {}
            (Challenge::Error(s, code), Some(c))
                if c.starts_with(&format!("{s} ")) && c.contains(&format!("error=\"{code}\"")) => {}
            (expected, got) => fail(format!("challenge {got:?}, expected {expected:?}")),
        }
        let json: Option<Value> = serde_json::from_slice(&res.body).ok();
        match (&case.keys, &json) {
            (Keys::Empty, _) if res.body.is_empty() => {}
            (Keys::Exactly(keys), Some(Value::Object(map))) => {
                let mut got: Vec<&str> = map.keys().map(String::as_str).collect();
                got.sort_unstable();
                let mut want = keys.to_vec();
                want.sort_unstable();
                if got != want {
                    fail(format!("keys {got:?}, expected {want:?}"));
                }
            }
            (expected, _) => {
                fail(format!("body {:?}, expected {expected:?}", String::from_utf8_lossy(&res.body)))
            }
        }
        for (field, value) in &case.fields {
            let got = json.as_ref().and_then(|j| j.get(*field));
            if got != Some(value) {
                fail(format!("field {field} = {got:?}, expected {value}"));
            }
        }
        for (name, want) in &case.response_headers {
            let got = res.header(name);
            if got != *want {
                fail(format!("header {name}: {got:?}, expected {want:?}"));
            }
        }
        for (name, range) in &case.numeric_headers {
            let got = res.header(name).and_then(|v| v.parse::<u64>().ok());
            if !got.is_some_and(|n| range.contains(&n)) {
                fail(format!("header {name}: {:?}, expected a number in {range:?}", res.header(name)));
            }
        }
        for (name, want) in &case.cookies {
            let got = set_cookie(&res, name).map(|(_, attributes)| attributes);
            let matches = match (want, got) {
                (Some(w), Some(g)) => match w.strip_suffix('*') {
                    Some(prefix) => g.starts_with(prefix),
                    None => g == *w,
                },
                (None, None) => true,
                _ => false,
            };
            if !matches {
                fail(format!("cookie {name}: {got:?}, expected {want:?}"));
            }
        }
        for (var, field) in case.capture {
            // `header:NAME` captures a response header, `cookie:NAME` the
            // value of a cookie set, anything else a JSON field
            let found = if let Some(name) = field.strip_prefix("header:") {
                res.header(name)
            } else if let Some(name) = field.strip_prefix("cookie:") {
                set_cookie(&res, name).map(|(value, _)| value)
            } else {
                json.as_ref().and_then(|j| j.get(*field)).and_then(Value::as_str)
            };
            match found {
                Some(v) => {
                    vars.insert((*var).to_owned(), v.to_owned());
                }
                None => fail(format!("no string field {field} to capture")),
            }
        }
        if let Some((var, names)) = case.claims {
            let payload = vars
                .get(var)
                .and_then(|t| t.split('.').nth(1))
                .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok());
            let claims: Value = payload.and_then(|p| serde_json::from_slice(&p).ok()).unwrap_or_default();
            for name in names {
                if claims.get(name).is_none() {
                    fail(format!("token {var} lacks claim {name}: {claims}"));
                }
            }
        }
        if let Some(token) = case.tamper.and_then(|var| vars.get(var).cloned()) {
            vars.insert(format!("{}_tampered", case.tamper.unwrap_or_default()), tamper(&token));
        }
    }
    failures
}

/// The value and the attributes (what follows `; `) of the cookie `name`
/// the answer sets.
fn set_cookie<'r>(res: &'r Res, name: &str) -> Option<(&'r str, &'r str)> {
    res.headers.iter().filter(|(n, _)| n == "set-cookie").find_map(|(_, v)| {
        let rest = v.strip_prefix(name)?.strip_prefix('=')?;
        Some(rest.split_once("; ").unwrap_or((rest, "")))
    })
}

/// Changes the payload of a token, keeping its signature.
fn tamper(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    if let Some(payload) = parts.get_mut(1) {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: Value = engine
            .decode(payload.as_bytes())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        claims["roles"] = serde_json::json!(["admin", "root"]);
        *payload = engine.encode(claims.to_string());
    }
    parts.join(".")
}

/// Replays `cases` on the axum app of `dialect`.
pub fn run_axum(dialect: &str, cases: &[Case]) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let demo = demo(dialect).await;
        replay(&format!("axum/{dialect}"), axum_client(&demo), cases).await
    })
}

/// Replays `cases` on the actix app of `dialect`.
pub fn run_actix(dialect: &str, cases: &[Case]) -> Vec<String> {
    actix_rt::System::new().block_on(async {
        let demo = demo(dialect).await;
        let client = actix_client(&demo).await;
        replay(&format!("actix/{dialect}"), client, cases).await
    })
}

/// Runs one dialect's table on both frameworks and fails with every difference.
pub fn both(dialect: &str, cases: &[Case]) {
    let mut failures = run_axum(dialect, cases);
    failures.extend(run_actix(dialect, cases));
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn standard_table_on_both_frameworks() {
    both("standard", &crate::table::cases());
}

/// Captured `tracing` output.
#[derive(Clone, Default)]
pub struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture")).into_owned()
    }

    /// Runs `f` with this thread's events of our crates written here;
    /// what `f` returns.
    pub fn during<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.capture();
        f()
    }

    /// Writes this thread's events of our crates (every level) here while
    /// the guard lives (a current-thread runtime runs its tasks on it).
    pub fn capture(&self) -> tracing::subscriber::DefaultGuard {
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let writer = self.clone();
        let ours = tracing_subscriber::filter::Targets::new()
            .with_target("auth_core", tracing::Level::TRACE)
            .with_target("auth_tower", tracing::Level::TRACE)
            .with_target("auth_actix", tracing::Level::TRACE);
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(ours);
        tracing::subscriber::set_default(tracing_subscriber::registry().with(layer))
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
