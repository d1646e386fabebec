//! The demo server's building blocks, shared by `examples/demo.rs` and the
//! conformance tests so that both drive exactly the same apps.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use clap::Parser;
//! let config = demo_app::DemoConfig::try_parse_from(["demo", "--user", "ann:pw-of-ann"]).unwrap();
//! let demo = demo_app::Demo::new(&config).await.unwrap();
//! let router: axum::Router = demo.axum_router();
//! # let _ = router;
//! # })
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod actix_app;
mod axum_app;
mod config;
mod curl;
pub mod grpc;
pub mod notes;
pub mod openapi;
pub mod page;
pub mod samples;
pub mod sql_users;
mod store;
pub mod telemetry;

pub use config::{DemoConfig, DialectName, Framework, IdpSpec, StoreSpec, UserSpec};

use auth_core::dialects::{Datarhei, Drf, Echome, Jwks, Keytoken, Sachet, Standard};
use std::sync::Arc;

use auth_core::{AuthGuard, Authority, Dialect, JwtKey, KeySet, MemoryUsers, Principal, RouteSet};

/// Where the demo publishes its public keys (with `--signing-key`).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The key id the demo signs with.
pub const DEMO_KID: &str = "demo-1";

/// A configured demo: the authority, the mounted route set and the guards.
#[derive(Clone, Debug)]
pub struct Demo {
    /// The authority behind every route.
    pub authority: Authority,
    /// The dialect's route set.
    pub routes: RouteSet,
    /// The guard of protected routes.
    pub guard: AuthGuard,
    /// The users, as configured (for the start-up banner).
    pub users: Vec<UserSpec>,
    /// The dialect served.
    pub dialect: DialectName,
    /// Where the server-side state lives.
    pub store: StoreSpec,
    /// `GET /.well-known/jwks.json`, when the demo signs with `--signing-key`.
    pub jwks: Option<RouteSet>,
    /// The identity providers of `--idp-issuer`.
    pub idp: Option<auth_core::jwks::JwksVerifier>,
    /// Cookie mode (`--cookies`): the route set and the guard use it, and
    /// the demo serves its page at `/` and the notes at `/notes`.
    pub cookies: Option<auth_core::CookieMode>,
    /// The notes of `POST /notes` / `GET /notes` (served with `--cookies`).
    pub notes: notes::Notes,
}

/// A signing key from a PEM file: EC (P-256 or P-384), Ed25519, or RSA
/// (RS256, with the `aws_lc_rs` feature); the `kid` is the key's RFC 7638
/// thumbprint.
pub fn load_signing_key(path: &std::path::Path) -> Result<JwtKey, String> {
    use auth_core::Algorithm;
    let pem = std::fs::read(path).map_err(|e| format!("--signing-key {}: {e}", path.display()))?;
    let mut last = None;
    for alg in [Algorithm::ES256, Algorithm::ES384, Algorithm::EdDSA, Algorithm::RS256] {
        match JwtKey::private_pem(alg, &pem) {
            Ok(key) => return Ok(key),
            Err(e @ auth_core::KeyError::RsaNeedsAwsLc) => last = Some(e),
            Err(e) => last = last.or(Some(e)),
        }
    }
    let why = last.map_or_else(|| "unreadable".to_owned(), |e| e.to_string());
    Err(format!("--signing-key {}: not an EC, Ed25519 or RSA private key PEM ({why})", path.display()))
}

/// The IdP verifier the `--idp-*` flags describe, if any.
fn idp_verifier(
    idps: &[IdpSpec],
    config: &DemoConfig,
) -> Result<Option<auth_core::jwks::JwksVerifier>, String> {
    use auth_core::jwks::{IssuerConfig, JwksOptions, JwksVerifier};
    if idps.is_empty() {
        return Ok(None);
    }
    let issuers = idps
        .iter()
        .cloned()
        .map(|idp| {
            let tenant = IssuerConfig::new(idp.issuer, idp.audience).allow_subjects(idp.subjects);
            match idp.jwks {
                Some(url) => tenant.jwks_url(url),
                None => tenant,
            }
        })
        .collect();
    let options = JwksOptions { unknown_kid_cooldown: config.idp_kid_cooldown, ..JwksOptions::default() };
    JwksVerifier::new(issuers, options).map(Some).map_err(|e| format!("--idp-issuer: {e}"))
}

impl Demo {
    /// Builds the demo from its configuration (hashes the users' passwords).
    pub async fn new(config: &DemoConfig) -> Result<Self, String> {
        // First: a flag error needs no password hashing or store connection.
        let cookies = config.cookie_mode()?;
        let keys = if config.signing_keys.is_empty() {
            let secret = config.secret_bytes();
            KeySet::new(JwtKey::hs256(DEMO_KID, &secret).map_err(|e| format!("--secret: {e}"))?)
        } else {
            let keys =
                config.signing_keys.iter().map(|p| load_signing_key(p)).collect::<Result<Vec<_>, _>>()?;
            KeySet::newest_first(keys)
        }
        .map_err(|e| e.to_string())?;
        let idps = config.idps()?;
        let idp = idp_verifier(&idps, config)?;
        let users = MemoryUsers::new();
        // Each allowed subject is a user of its own, per issuer, apart from
        // the password users: the IdP's `sub` "1" is not local user 1.
        for spec in &idps {
            for sub in &spec.subjects {
                let who = auth_core::ExternalSubject::new(spec.issuer.clone(), sub.clone());
                users.add_external(Principal::new(who.principal_id(), sub.clone()));
            }
        }
        let specs = config.users_or_default();
        for (i, spec) in specs.iter().enumerate() {
            let mut principal = Principal::new((i + 1).to_string(), spec.name.clone());
            principal.roles.extend(spec.role.clone());
            users.add_user(principal, &spec.password).await.map_err(|e| e.to_string())?;
        }
        let dialect: Arc<dyn Dialect> = match config.dialect {
            DialectName::Standard => Arc::new(Standard),
            DialectName::Echome => Arc::new(Echome),
            DialectName::Datarhei => Arc::new(match &idp {
                Some(verifier) => Datarhei::default().with_external_identity(verifier.clone()),
                None => Datarhei::default(),
            }),
            DialectName::Sachet => Arc::new(Sachet),
            DialectName::Keytoken => Arc::new(Keytoken::new(config.clients_or_default())),
            DialectName::Drf => Arc::new(Drf),
        };
        let mut authority_config = dialect.default_config();
        if let Some(ttl) = config.access_ttl {
            authority_config.access_ttl = ttl;
        }
        if let Some(ttl) = config.refresh_ttl {
            authority_config.refresh_ttl = ttl;
        }
        if config.refresh_window.is_some() {
            authority_config.refresh_window = config.refresh_window;
        }
        if let Some(leeway) = config.leeway {
            authority_config.validation.leeway = i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX);
        }
        authority_config.trusted_proxies =
            auth_core::TrustedProxies::parse(&config.trusted_proxies.join(","))
                .map_err(|e| format!("--trusted-proxy: {e}"))?;
        if let Some(delay) = config.refusal_delay {
            authority_config.refusal_delay = delay;
        }
        if let Some(max) = config.max_failed_logins {
            authority_config.max_failed_logins = max;
        }
        if let Some(grace) = config.reuse_grace {
            authority_config.reuse_grace = grace;
        }
        // A deleted or disabled user's tokens stop working at once.
        authority_config.check_principal = true;
        let builder = Authority::builder(keys).users(users).config(authority_config);
        let store = store::open(&config.store, config).await.map_err(|e| format!("--store: {e}"))?;
        let authority = builder.shared_store(store).build();
        let mount = dialect.default_mount();
        let mut routes = RouteSet::from_shared(authority.clone(), dialect).at(mount);
        let mut guard = AuthGuard::for_routes(&routes);
        if let Some(mode) = &cookies {
            routes = routes.cookies(mode.clone()).map_err(|e| format!("--cookies: {e}"))?;
            guard = guard.cookies(mode.clone());
        }
        if let Some(verifier) = &idp
            && !verifier.prefetch().await
        {
            eprintln!("demo: an identity provider's keys could not be fetched yet; IdP logins retry");
        }
        let jwks = (!config.signing_keys.is_empty()).then(|| RouteSet::new(authority.clone(), Jwks));
        Ok(Self {
            authority,
            routes,
            guard,
            users: specs,
            dialect: config.dialect,
            store: config.store.clone(),
            jwks,
            idp,
            cookies,
            notes: notes::Notes::new(),
        })
    }

    /// The browser page in cookie mode (`None` without `--cookies`),
    /// naming the route set's cookies and refresh route.
    pub fn page(&self) -> Option<page::Page> {
        self.routes.cookie_mode().map(|mode| page::Page::new(mode, self.mount()))
    }

    /// Where the dialect's routes are mounted.
    pub fn mount(&self) -> &'static str {
        self.routes.dialect().default_mount()
    }

    /// The axum app: the dialect's routes, `/public`, `/whoami`, `/maybe`,
    /// `/admin`, `/openapi.json`, and with `--cookies` the page (`/`,
    /// `/app.js`) and `/notes`.
    pub fn axum_router(&self) -> axum::Router {
        axum_app::router(self)
    }

    /// The OpenAPI 3.1 document `GET /openapi.json` answers: the dialect's
    /// routes and the demo's own, for this configuration ([`openapi`]).
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        openapi::document(self)
    }

    /// The actix app's routes, for `App::configure`.
    pub fn actix_config(&self) -> impl Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static {
        actix_app::configure(self.clone())
    }

    /// The start-up banner: the users and ready-to-paste curl lines.
    pub fn banner(&self, addr: &str) -> String {
        let mut out = format!(
            "dialect: {:?}, routes under {}, store: {}\n",
            self.dialect,
            self.mount_or_root(),
            self.store
        );
        for u in &self.users {
            out.push_str(&format!(
                "user: {} / {} (roles: {})\n",
                u.name,
                u.password,
                u.role.as_deref().unwrap_or("-")
            ));
        }
        if self.jwks.is_some() {
            out.push_str(&format!("public keys: http://{addr}{JWKS_PATH}\n"));
        }
        if let Some(mode) = &self.cookies {
            out.push_str(&cookie_banner(mode, addr));
        }
        if let Some(external) =
            self.routes.dialect().name().eq("datarhei").then_some(()).and(self.idp.as_ref())
        {
            for issuer in external.issuers() {
                out.push_str(&format!(
                    "IdP login: POST {}/login with `Authorization: Bearer <token of {}>`\n",
                    self.mount(),
                    issuer.issuer
                ));
            }
        }
        out.push_str("try:\n");
        for line in crate::curl::lines(self, &format!("http://{addr}")) {
            out.push_str("  ");
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn mount_or_root(&self) -> &'static str {
        match self.mount() {
            "" => "/",
            m => m,
        }
    }
}

/// The banner's lines for cookie mode: where to open the page, and what
/// keeps a browser from storing the cookies.
fn cookie_banner(mode: &auth_core::CookieMode, addr: &str) -> String {
    let mut out =
        format!("browser: open http://{addr}/ (cookie mode, SameSite={})\n", page::same_site_name(mode));
    let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host).trim_matches(['[', ']']);
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !mode.is_secure() {
        out.push_str(
            "warning: --insecure-cookies: cookies without Secure, tokens in clear; development only\n",
        );
    } else if !loopback {
        out.push_str(
            "note: browsers keep Secure cookies over plain http only from localhost or 127.0.0.1: \
             put https in front, or use --insecure-cookies in development\n",
        );
    }
    out
}

auth_core::role!(
    /// The role `GET /admin` requires (one type for both frameworks).
    pub Admin = "admin"
);

/// What `/admin` answers.
pub fn admin_body(identity: &auth_core::AuthIdentity) -> serde_json::Value {
    serde_json::json!({"admin": identity.username()})
}

/// `{"ok": true}`: the open route.
pub fn public_body() -> serde_json::Value {
    serde_json::json!({"ok": true})
}

/// What `/maybe` answers: the identity's summary, or that there is none.
pub fn maybe_body(identity: Option<&auth_core::AuthIdentity>) -> serde_json::Value {
    match identity {
        Some(id) => {
            let mut body = id.summary();
            body["authenticated"] = true.into();
            body
        }
        None => serde_json::json!({"authenticated": false}),
    }
}

/// The browser-mode scenario both frameworks' tests drive, through a
/// framework-neutral request and answer.
#[cfg(test)]
pub(crate) mod browser_tests {
    use std::future::Future;

    use clap::Parser as _;
    use serde_json::{Value, json};

    use crate::{Demo, DemoConfig};

    /// One request: method, path, headers, body.
    pub(crate) struct Call {
        pub(crate) method: &'static str,
        pub(crate) path: &'static str,
        pub(crate) headers: Vec<(&'static str, String)>,
        pub(crate) body: Vec<u8>,
    }

    impl Call {
        fn new(method: &'static str, path: &'static str) -> Self {
            Self { method, path, headers: Vec::new(), body: Vec::new() }
        }

        fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
            self.headers.push((name, value.into()));
            self
        }

        fn json(self, body: Value) -> Self {
            let mut call = self.header("content-type", "application/json");
            call.body = body.to_string().into_bytes();
            call
        }

        fn form(self, body: &str) -> Self {
            let mut call = self.header("content-type", "application/x-www-form-urlencoded");
            call.body = body.as_bytes().to_vec();
            call
        }

        /// As the page's `fetch` sends it: same origin, on `localhost`.
        fn same_origin(self) -> Self {
            self.header("host", "localhost").header("origin", "http://localhost")
        }
    }

    /// One answer: status, headers (lower-case names), body.
    pub(crate) struct Answer {
        pub(crate) status: u16,
        pub(crate) headers: Vec<(String, String)>,
        pub(crate) body: Vec<u8>,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
        }

        fn set_cookies(&self) -> Vec<&str> {
            self.headers.iter().filter(|(n, _)| n == "set-cookie").map(|(_, v)| v.as_str()).collect()
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("JSON: {:?}", self.text()))
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
    }

    /// The demo with one user and `args`.
    pub(crate) async fn demo(args: &[&str]) -> Demo {
        let args = ["demo", "--user", "ann:pw-of-ann"].into_iter().chain(args.iter().copied());
        Demo::new(&DemoConfig::try_parse_from(args).expect("flags")).await.expect("the demo")
    }

    /// `--cookies`: the page, a login that sets the three cookies, notes
    /// added with the cookies and the CSRF value, refused without it.
    pub(crate) async fn cookie_mode<F, Fut>(send: F)
    where
        F: Fn(Call) -> Fut,
        Fut: Future<Output = Answer>,
    {
        let page = send(Call::new("GET", "/")).await;
        assert_eq!(page.status, 200);
        for (name, value) in [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("content-security-policy", crate::page::CONTENT_SECURITY_POLICY),
        ] {
            assert_eq!(page.header(name), Some(value), "{name}");
        }
        let html = page.text();
        assert!(html.contains(r#"id="output""#));
        assert!(html.contains(r#"<meta name="csrf-cookie" content="__Host-csrf_token">"#));
        assert!(html.contains(r#"<meta name="refresh-path" content="/auth/refresh">"#));
        let script = send(Call::new("GET", "/app.js")).await;
        assert_eq!(script.status, 200);
        assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));
        assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(script.body, crate::page::APP_JS.as_bytes());

        // other methods: 405 with Allow, before any authentication
        let wrong = send(Call::new("PUT", "/")).await;
        assert_eq!((wrong.status, wrong.header("allow")), (405, Some("GET, HEAD")));
        let wrong = send(Call::new("DELETE", "/notes")).await;
        assert_eq!((wrong.status, wrong.header("allow")), (405, Some("GET, HEAD, POST")));
        assert_eq!(send(Call::new("GET", "/notes")).await.status, 401);

        // login: the three cookies, the CSRF value in the body, no token
        let credentials = json!({"username": "ann", "password": "pw-of-ann"});
        let login = send(Call::new("POST", "/auth/login").same_origin().json(credentials)).await;
        assert_eq!(login.status, 200, "{}", login.text());
        let answer = login.json();
        assert!(answer.get("access_token").is_none() && answer["expires_in"].is_u64(), "{answer}");
        let csrf = answer["csrf_token"].as_str().expect("csrf_token").to_owned();
        let set = login.set_cookies();
        let cookie = |name: &str| {
            let line =
                set.iter().find(|c| c.starts_with(&format!("{name}="))).unwrap_or_else(|| panic!("{name}"));
            let pair = line.split(';').next().unwrap_or_default().to_owned();
            (pair, line.to_owned())
        };
        let (access, access_line) = cookie("__Host-access_token");
        let (refresh, refresh_line) = cookie("__Secure-refresh_token");
        let (csrf_pair, csrf_line) = cookie("__Host-csrf_token");
        assert!(access_line.contains("HttpOnly") && access_line.contains("Secure"), "{access_line}");
        assert!(refresh_line.contains("Path=/auth/refresh"), "{refresh_line}");
        assert!(!csrf_line.contains("HttpOnly"), "the page reads it: {csrf_line}");
        assert_eq!(csrf_pair, format!("__Host-csrf_token={csrf}"));
        let cookies = format!("{access}; {refresh}; {csrf_pair}");

        // the cookie authenticates the demo's routes
        let whoami = send(Call::new("GET", "/whoami").header("cookie", &cookies)).await;
        assert_eq!((whoami.status, &whoami.json()["username"]), (200, &json!("ann")));

        // notes: with the cookies and the CSRF value, from the page's origin
        let add = |body: Call| body.same_origin().header("cookie", &cookies);
        let note = send(
            add(Call::new("POST", "/notes")).header("x-csrf-token", &csrf).json(json!({"text": "first"})),
        )
        .await;
        assert_eq!((note.status, note.json()), (201, json!({"text": "first", "count": 1})));
        let note =
            send(add(Call::new("POST", "/notes")).header("x-csrf-token", &csrf).form("text=second+note"))
                .await;
        assert_eq!((note.status, note.json()), (201, json!({"text": "second note", "count": 2})));
        let empty =
            send(add(Call::new("POST", "/notes")).header("x-csrf-token", &csrf).json(json!({"text": ""})))
                .await;
        assert_eq!((empty.status, &empty.json()["error"]), (400, &json!("invalid_request")));

        // without the CSRF header, or from another origin: 403
        let forged = send(add(Call::new("POST", "/notes")).json(json!({"text": "forged"}))).await;
        assert_eq!((forged.status, &forged.json()["error"]), (403, &json!("access_denied")));
        let cross = Call::new("POST", "/notes")
            .header("host", "localhost")
            .header("origin", "http://evil.example")
            .header("cookie", &cookies)
            .header("x-csrf-token", &csrf)
            .json(json!({"text": "forged"}));
        assert_eq!(send(cross).await.status, 403);

        let list = send(Call::new("GET", "/notes").header("cookie", &cookies)).await;
        assert_eq!((list.status, list.json()), (200, json!({"notes": ["first", "second note"]})));
    }

    /// Without `--cookies`: `/`, `/app.js` and `/notes` are what they were,
    /// the route set's 404, and login answers tokens in the body.
    pub(crate) async fn without_cookies<F, Fut>(send: F)
    where
        F: Fn(Call) -> Fut,
        Fut: Future<Output = Answer>,
    {
        let unknown = send(Call::new("GET", "/no-such-route")).await;
        assert_eq!(unknown.status, 404);
        for (method, path) in [("GET", "/"), ("GET", "/app.js"), ("GET", "/notes"), ("POST", "/notes")] {
            let res = send(Call::new(method, path).json(json!({"text": "x"}))).await;
            assert_eq!((res.status, res.json()), (404, unknown.json()), "{method} {path}");
            assert_eq!(res.header("content-security-policy"), None);
        }
        let credentials = json!({"username": "ann", "password": "pw-of-ann"});
        let login = send(Call::new("POST", "/auth/login").json(credentials)).await;
        assert_eq!(login.status, 200);
        assert!(login.json()["access_token"].is_string());
        assert!(login.set_cookies().iter().all(|c| !c.contains("access_token")));
    }
}
