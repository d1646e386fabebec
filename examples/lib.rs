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
pub mod samples;
pub mod sql_users;
mod store;

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
        // A deleted or disabled user's tokens stop working at once.
        authority_config.check_principal = true;
        let builder = Authority::builder(keys).users(users).config(authority_config);
        let store = store::open(&config.store, config).await.map_err(|e| format!("--store: {e}"))?;
        let authority = builder.shared_store(store).build();
        let mount = dialect.default_mount();
        let routes = RouteSet::from_shared(authority.clone(), dialect).at(mount);
        let guard = AuthGuard::for_routes(&routes);
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
        })
    }

    /// Where the dialect's routes are mounted.
    pub fn mount(&self) -> &'static str {
        self.routes.dialect().default_mount()
    }

    /// The axum app: the dialect's routes, `/public`, `/whoami`, `/maybe`, `/admin`.
    pub fn axum_router(&self) -> axum::Router {
        axum_app::router(self)
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
