//! `datarhei`: the datarhei Core login API.
//!
//! | route (mount `/api`) | request | answer |
//! |---|---|---|
//! | `POST /login` | `{username, password}` | 200 `{access_token, refresh_token}` |
//! | `POST /login` | no body, `Bearer <IdP JWT>` | the same, via an [`ExternalIdentity`] |
//! | `GET /login/refresh` | the refresh token as Bearer | 200 `{access_token}` |
//! | `GET /` (that is, `GET /api`) | with or without a token | 200 the Core's "about" JSON |
//!
//! datarhei's clients call `GET /api` before they log in and go on only
//! when it answers 200 with `{"app", "version": {"number"}, "auths"}`;
//! `auths` lists `localjwt` and each external identity provider
//! ([`ExternalIdentity::describe`]). As the real Core, the answer is the
//! minimal one (version number `MAJOR.0.0`) without a valid access token,
//! and the full one (name, id, creation time, uptime, version details) with
//! one.
//!
//! Tokens carry `exi`, `usefor` and `iss: datarhei-core`. Errors are
//! `{"code": <status>, "message": "<reason phrase>", "details": [...]}`.
//!
//! Lifetimes as datarhei Core's: access 10 minutes, refresh 1 day, not
//! rotated, so a session ends when its refresh token does; the 30-day
//! session cap ([`DEFAULT_SESSION_CAP`](crate::DEFAULT_SESSION_CAP)) holds
//! if the refresh lifetime is raised.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::RouteContext;
use super::util::{bearer, password_or_external, reason};
use super::{Action, Dialect, Route};
use crate::authority::AuthorityConfig;
use crate::claims::ClaimStyle;
use crate::error::AuthError;
pub use crate::external::ExternalIdentity;
use crate::jwt::Validation;
use crate::response::AuthResponse;

const ROUTES: &[Route] = &[
    Route::new("GET", "/", Action::About),
    Route::new("POST", "/login", Action::Login),
    Route::new("GET", "/login/refresh", Action::Refresh),
];

/// The app name `GET /api` reports by default (the Core's own).
pub const DATARHEI_APP: &str = "datarhei-core";
/// The version `GET /api` reports by default: a Core 16 release, the API
/// version datarhei's clients speak.
pub const DATARHEI_VERSION: &str = "16.16.0";

/// The `datarhei` dialect. Without an [`ExternalIdentity`], a login without
/// username and password is a 400.
///
/// ```
/// use auth_core::{dialects::Datarhei, Dialect};
/// assert_eq!(Datarhei::default().default_config().validation.issuer.as_deref(), Some("datarhei-core"));
/// ```
#[derive(Clone)]
pub struct Datarhei {
    external: Option<Arc<dyn ExternalIdentity>>,
    about: Arc<About>,
}

/// What `GET /api` says about the service.
#[derive(Debug)]
struct About {
    app: String,
    version: String,
    id: String,
    created_at: std::time::SystemTime,
}

impl Default for Datarhei {
    fn default() -> Self {
        Self { external: None, about: Arc::new(About::new(DATARHEI_APP, DATARHEI_VERSION)) }
    }
}

impl About {
    fn new(app: &str, version: &str) -> Self {
        Self {
            app: app.to_owned(),
            version: version.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            created_at: std::time::SystemTime::now(),
        }
    }

    fn major(&self) -> String {
        let major = self.version.split('.').next().unwrap_or_default();
        format!("{major}.0.0")
    }
}

impl std::fmt::Debug for Datarhei {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datarhei")
            .field("external", &self.external.is_some())
            .field("app", &self.about.app)
            .field("version", &self.about.version)
            .finish()
    }
}

impl Datarhei {
    /// The app name and version `GET /api` reports (default
    /// [`DATARHEI_APP`], [`DATARHEI_VERSION`]).
    ///
    /// ```
    /// let dialect = auth_core::dialects::Datarhei::default().with_about("my-core", "16.2.1");
    /// # let _ = dialect;
    /// ```
    pub fn with_about(mut self, app: &str, version: &str) -> Self {
        self.about = Arc::new(About::new(app, version));
        self
    }

    /// The `auths` list of `GET /api`: `localjwt`, then each external
    /// identity provider's description.
    pub fn auths(&self) -> Vec<String> {
        let mut auths = vec!["localjwt".to_owned()];
        auths.extend(self.external.iter().flat_map(|e| e.describe()));
        auths
    }

    async fn about(&self, ctx: &RouteContext<'_>) -> AuthResponse {
        let about = &self.about;
        let authenticated = match bearer(ctx.request) {
            Ok(token) => ctx.authority.authenticate_token(&token).await.is_ok(),
            Err(_) => false,
        };
        if !authenticated {
            return AuthResponse::json(
                200,
                &json!({"app": about.app, "auths": self.auths(), "version": {"number": about.major()}}),
            );
        }
        let uptime = about.created_at.elapsed().map_or(0, |d| d.as_secs());
        AuthResponse::json(
            200,
            &json!({
                "app": about.app,
                "auths": self.auths(),
                "name": about.app,
                "id": about.id,
                "created_at": humantime::format_rfc3339_seconds(about.created_at).to_string(),
                "uptime_seconds": uptime,
                "version": {
                    "number": about.version,
                    "repository_commit": "",
                    "repository_branch": "",
                    "build_date": "",
                    "arch": std::env::consts::ARCH,
                    "compiler": "rustc",
                },
            }),
        )
    }
    /// Accepts IdP tokens at `POST /login` through `external`.
    pub fn with_external_identity(mut self, external: impl ExternalIdentity) -> Self {
        self.external = Some(Arc::new(external));
        self
    }
}

#[async_trait::async_trait]
impl Dialect for Datarhei {
    fn name(&self) -> &'static str {
        "datarhei"
    }

    fn routes(&self) -> &[Route] {
        ROUTES
    }

    fn default_mount(&self) -> &'static str {
        "/api"
    }

    fn default_config(&self) -> AuthorityConfig {
        AuthorityConfig {
            access_ttl: Duration::from_secs(600),
            refresh_ttl: Duration::from_secs(86_400),
            rotate_refresh: false,
            validation: Validation::default().with_issuer("datarhei-core"),
            claim_style: ClaimStyle { token_use: "usefor", exi: true, ..ClaimStyle::default() },
            ..AuthorityConfig::default()
        }
    }

    async fn handle(&self, action: Action, ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        let authority = ctx.authority;
        match action {
            Action::About => Ok(self.about(&ctx).await),
            Action::Login => {
                let external = self.external.as_deref().or(authority.external_identity());
                let pair = password_or_external(&ctx, external).await?;
                Ok(AuthResponse::json(
                    200,
                    &json!({"access_token": pair.access_token, "refresh_token": pair.refresh_token}),
                ))
            }
            Action::Refresh => {
                let pair = authority.refresh(&bearer(ctx.request)?).await?;
                let mut body = json!({"access_token": pair.access_token});
                if let Some(rotated) = pair.refresh_token {
                    body["refresh_token"] = rotated.into();
                }
                Ok(AuthResponse::json(200, &body))
            }
            _ => Err(AuthError::NotFound),
        }
    }

    fn error_body(&self, err: &AuthError) -> serde_json::Value {
        let status = self.error_status(err);
        json!({"code": status, "message": reason(status), "details": [err.to_string()]})
    }
}
