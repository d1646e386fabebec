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
}

/// A response in plain terms (header names lower case).
#[derive(Debug, Clone)]
pub struct Res {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Res {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

pub type Client = Rc<dyn Fn(Req) -> LocalBoxFuture<'static, Res>>;

pub async fn demo() -> Demo {
    let args = ["demo", "--secret", SECRET, "--user", "alice:alice-pw:admin", "--user", "bob:bob-pw"];
    Demo::new(&DemoConfig::try_parse_from(args).expect("test args")).await.expect("demo")
}

pub fn axum_client(demo: &Demo) -> Client {
    let router = demo.axum_router();
    Rc::new(move |req: Req| {
        let router = router.clone();
        Box::pin(async move {
            let mut builder = axum::http::Request::builder().method(req.method).uri(req.path);
            for (n, v) in &req.headers {
                builder = builder.header(*n, v.as_bytes());
            }
            let request = builder.body(axum::body::Body::from(req.body)).expect("valid request");
            let res = router.oneshot(request).await.expect("infallible");
            let status = res.status().as_u16();
            let headers = res
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let body = res.into_body().collect().await.expect("body").to_bytes().to_vec();
            Res { status, headers, body }
        })
    })
}

pub async fn actix_client(demo: &Demo) -> Client {
    let app =
        Rc::new(actix_web::test::init_service(actix_web::App::new().configure(demo.actix_config())).await);
    Rc::new(move |req: Req| {
        let app = app.clone();
        Box::pin(async move {
            let mut builder = actix_web::test::TestRequest::default()
                .method(actix_web::http::Method::from_bytes(req.method.as_bytes()).expect("method"))
                .uri(&req.path);
            for (n, v) in &req.headers {
                builder = builder.insert_header((*n, v.as_bytes()));
            }
            let res = match app.call(builder.set_payload(req.body).to_request()).await {
                Ok(res) => res,
                Err(e) => actix_web::dev::ServiceResponse::from_err(
                    e,
                    actix_web::test::TestRequest::default().to_http_request(),
                ),
            };
            let status = res.status().as_u16();
            let headers = res
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let body = actix_web::test::read_body(res).await.to_vec();
            Res { status, headers, body }
        })
    })
}

/// Replaces `{name}` with the variable's value.
fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Forged and hostile tokens, made with the demo's own secret.
pub fn hostile_tokens(vars: &mut HashMap<String, String>) {
    let now = auth_core::now();
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let sign = |header: Value, claims: Value, secret: &[u8]| {
        let msg = format!("{}.{}", b64(&header), b64(&claims));
        let key = jsonwebtoken::EncodingKey::from_secret(secret);
        let sig =
            jsonwebtoken::crypto::sign(msg.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).expect("sign");
        format!("{msg}.{sig}")
    };
    let header = serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": demo_app::DEMO_KID});
    let claims = |exp: i64| serde_json::json!({"sub": "1", "username": "alice", "roles": ["admin"], "exp": exp, "iat": now - 10, "jti": "forged", "token_use": "access"});
    vars.insert("expired".into(), sign(header.clone(), claims(now - 60), SECRET.as_bytes()));
    vars.insert(
        "other_key".into(),
        sign(header.clone(), claims(now + 60), b"some-other-secret-that-is-long-enough"),
    );
    vars.insert(
        "alg_none".into(),
        format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "kid": demo_app::DEMO_KID})),
            b64(&claims(now + 60))
        ),
    );
}

/// Runs every case in order against one client; returns what went wrong.
pub async fn replay(framework: &str, client: Client, cases: &[Case]) -> Vec<String> {
    let mut vars = HashMap::new();
    hostile_tokens(&mut vars);
    let mut failures = Vec::new();
    for case in cases {
        let mut headers: Vec<(&'static str, String)> = Vec::new();
        if let Some(a) = case.authorization {
            headers.push(("authorization", substitute(a, &vars)));
        }
        if let Some(ct) = case.content_type {
            headers.push(("content-type", ct.to_owned()));
        }
        let body = case.body.make(&vars);
        let req = Req { method: case.method, path: substitute(case.path, &vars), headers, body };
        let res = client(req).await;
        let mut fail = |what: String| failures.push(format!("[{framework}] {}: {what}", case.name));
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
        for (var, field) in case.capture {
            match json.as_ref().and_then(|j| j.get(*field)).and_then(Value::as_str) {
                Some(v) => {
                    vars.insert((*var).to_owned(), v.to_owned());
                }
                None => fail(format!("no string field {field} to capture")),
            }
        }
        if let Some(token) = case.tamper.and_then(|var| vars.get(var).cloned()) {
            vars.insert(format!("{}_tampered", case.tamper.unwrap_or_default()), tamper(&token));
        }
    }
    failures
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

#[test]
fn the_table_passes_on_axum() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let failures = rt.block_on(async {
        let demo = demo().await;
        replay("axum", axum_client(&demo), &crate::table::cases()).await
    });
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_table_passes_on_actix() {
    let failures = actix_rt::System::new().block_on(async {
        let demo = demo().await;
        let client = actix_client(&demo).await;
        replay("actix", client, &crate::table::cases()).await
    });
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
