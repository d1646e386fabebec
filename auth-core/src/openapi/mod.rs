//! OpenAPI 3.1 descriptions of route sets and guards (feature `openapi`).
//!
//! [`RouteSet::openapi`] describes a route set as mounted: every route of
//! its dialect, with the request body it reads (JSON or form), each answer
//! with its exact JSON schema, every error status in the dialect's
//! envelope, the headers (`Cache-Control`, `Pragma`, `Retry-After`,
//! `WWW-Authenticate`, cookies in cookie mode) and the security scheme
//! the dialect uses. It is generated from the route table the engine
//! serves from ([`Route::doc`](crate::Route::doc),
//! [`Dialect::error_shape`]), and which
//! headers an error status carries is learned by rendering every kind of
//! error through the dialect, so the description follows the behaviour.
//!
//! [`AuthGuard::openapi`](crate::AuthGuard::openapi) gives the application's
//! own operations the guard's security requirement and its 400, 401 and
//! 503 answers (and 403 where roles are required).
//!
//! Merge both into the application's document with utoipa's usual calls:
//!
//! ```
//! use auth_core::{Authority, AuthGuard, RouteSet, Standard};
//! use utoipa::openapi::path::{HttpMethod, OperationBuilder};
//! use utoipa::openapi::{OpenApiBuilder, PathItem, Paths, ResponseBuilder};
//!
//! let authority = Authority::hs256([7u8; 32]).unwrap().build();
//! let routes = RouteSet::new(authority, Standard).at("/auth");
//! let guard = AuthGuard::for_routes(&routes);
//!
//! // the application's own document (here built by hand; `#[derive(OpenApi)]` works the same)
//! let whoami = OperationBuilder::new().response("200", ResponseBuilder::new().description("who you are"));
//! let mut doc = OpenApiBuilder::new()
//!     .paths(Paths::builder().path("/whoami", PathItem::new(HttpMethod::Get, whoami)))
//!     .build();
//! doc.merge(routes.openapi());
//! guard.openapi().protect(&mut doc, "/whoami");
//!
//! let json = serde_json::to_value(&doc).unwrap();
//! assert_eq!(json["openapi"], "3.1.0");
//! assert!(json["paths"]["/auth/login"]["post"]["responses"]["429"].is_object());
//! assert_eq!(json["paths"]["/whoami"]["get"]["security"][0]["bearer"], serde_json::json!([]));
//! assert!(json["paths"]["/whoami"]["get"]["responses"]["401"].is_object());
//! ```

mod guard;
mod schema;

use std::collections::BTreeSet;

use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::Tag;
use utoipa::openapi::{
    ComponentsBuilder, Content, Info, ObjectBuilder, OpenApi, OpenApiBuilder, Paths, Required, Response,
    ResponseBuilder, Type,
};

pub use guard::GuardDoc;

use crate::cookies::CookieMode;
use crate::describe::{self, Credential, HeaderDoc, Reply, RouteDoc, Shape};
use crate::dialect::{Action, Dialect, Route, util::reason};
use crate::error::AuthError;
use crate::routes::RouteSet;
use crate::scheme::Scheme;

/// The tag every operation of a route set carries.
pub const TAG: &str = "auth";

/// The security scheme names the documents use.
pub(crate) fn scheme_name(scheme: Scheme) -> &'static str {
    match scheme {
        Scheme::Bearer => "bearer",
        Scheme::Token => "token",
        Scheme::Basic => "basic",
    }
}

/// The names of cookie mode's two credential cookies as security schemes.
const ACCESS_COOKIE: &str = "access_cookie";
const REFRESH_COOKIE: &str = "refresh_cookie";

/// The security scheme behind a name [`Security`] uses.
fn security_scheme(name: &str, cookies: Option<&CookieMode>) -> Option<SecurityScheme> {
    let cookie = |cookie: &str, about: &str| {
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(cookie, about)))
    };
    Some(match name {
        "bearer" => {
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build())
        }
        "token" => SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "Authorization",
            "`Authorization: Token <jwt>`",
        ))),
        "basic" => SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        ACCESS_COOKIE => cookie(cookies?.access_cookie(), "Cookie mode's access token (HttpOnly)"),
        REFRESH_COOKIE => cookie(cookies?.refresh_cookie(), "Cookie mode's refresh token (HttpOnly)"),
        _ => return None,
    })
}

/// Security requirements, and the names of the schemes they use.
#[derive(Default)]
pub(crate) struct Security {
    used: BTreeSet<&'static str>,
}

impl Security {
    /// One alternative per entry; an empty entry is "anonymous too".
    fn require(&mut self, op: &mut Operation, alternatives: &[&[&'static str]]) {
        let requirements = alternatives
            .iter()
            .map(|names| {
                self.used.extend(names.iter().copied());
                names
                    .iter()
                    .fold(SecurityRequirement::default(), |req, name| req.add(*name, Vec::<String>::new()))
            })
            .collect();
        op.security = Some(requirements);
    }

    /// Adds the schemes used to `openapi`'s components.
    pub(crate) fn install(&self, openapi: &mut OpenApi, cookies: Option<&CookieMode>) {
        let components = openapi.components.get_or_insert_with(|| ComponentsBuilder::new().build());
        for name in &self.used {
            if let Some(scheme) = security_scheme(name, cookies) {
                components.security_schemes.entry((*name).to_owned()).or_insert(scheme.into());
            }
        }
    }
}

/// An optional string request header.
fn header_parameter(name: &str, about: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(about))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// The `X-CSRF-Token` header parameter of a cookie-authenticated request.
fn csrf_parameter() -> utoipa::openapi::path::Parameter {
    header_parameter(
        "X-CSRF-Token",
        "The session's CSRF value (the login answer's `csrf_token`); required when the credential is a \
         cookie, not an `Authorization` header",
    )
}

/// The `Device-Token` request header of a password login: the token the
/// last successful login on this client answered, which lets it through
/// the throttle of its own account.
fn device_parameter() -> utoipa::openapi::path::Parameter {
    header_parameter(
        "Device-Token",
        "The `Device-Token` the last successful login from this client answered (or send its cookie): a \
         known device keeps logging in while its account is throttled for others",
    )
}

/// A JSON (or empty) response with its headers.
pub(crate) fn response(about: &str, body: Option<&Shape>, headers: &[HeaderDoc]) -> Response {
    let mut res = ResponseBuilder::new().description(about);
    if let Some(shape) = body {
        res = res.content("application/json", Content::new(Some(schema::schema(shape))));
    }
    for doc in headers {
        res = res.header(doc.name, schema::header(doc));
    }
    res.build()
}

/// Which of `names` every rendered error with `status` carries (required),
/// and which only some do (optional).
pub(crate) fn sampled_headers(
    status: u16,
    errors: &[AuthError],
    render: impl Fn(&AuthError) -> crate::AuthResponse,
    names: &[(&'static str, &'static HeaderDoc)],
) -> Vec<HeaderDoc> {
    let rendered: Vec<_> = errors.iter().map(render).filter(|res| res.status == status).collect();
    names
        .iter()
        .filter_map(|(name, doc)| {
            let carrying = rendered.iter().filter(|res| res.header(name).is_some()).count();
            (carrying > 0).then_some(HeaderDoc { required: carrying == rendered.len(), ..**doc })
        })
        .collect()
}

/// The headers an error may carry, as the samples say.
pub(crate) const ERROR_HEADERS: &[(&str, &HeaderDoc)] =
    &[("www-authenticate", &describe::WWW_AUTHENTICATE), ("retry-after", &describe::RETRY_AFTER)];

const CLEARS_COOKIES: HeaderDoc =
    HeaderDoc::new("Set-Cookie", false, "Clears cookie mode's cookies when the session is over");
const DEVICE_HEADERS: &[HeaderDoc] = &[
    HeaderDoc::new(
        "Device-Token",
        false,
        "After a password login: this client's proof for the login throttle, to send back as `Device-Token` \
         (or its cookie) next time",
    ),
    HeaderDoc::new("Set-Cookie", false, "The device token's cookie, after a password login"),
];

/// What the description of one route needs to know of its route set.
struct Site<'a> {
    set: &'a RouteSet,
    dialect: &'a dyn Dialect,
    cookies: Option<&'a CookieMode>,
    /// One error of every kind: any may come from a route's own logic.
    samples: Vec<AuthError>,
}

impl Site<'_> {
    /// The route's description: cookie mode's for its three routes.
    fn doc(&self, route: &Route) -> Option<&'static RouteDoc> {
        match (self.cookies, route.action) {
            (Some(_), Action::Login) => Some(&crate::cookies::routes::LOGIN_DOC),
            (Some(_), Action::Refresh) => Some(&crate::cookies::routes::REFRESH_DOC),
            (Some(_), Action::Logout) => Some(&crate::cookies::routes::LOGOUT_DOC),
            _ => route.doc,
        }
    }

    fn operation(&self, route: &Route, security: &mut Security) -> Operation {
        let name = self.dialect.name();
        // Method and path below the mount: the same however the set is mounted.
        let id: String = format!("{name}_{}{}", route.method.to_ascii_lowercase(), route.path)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let mut op = OperationBuilder::new().tag(TAG).operation_id(Some(id.trim_end_matches('_')));
        let Some(doc) = self.doc(route) else {
            let fallback = ResponseBuilder::new().description("see the dialect's documentation");
            return op.summary(Some(format!("{:?}", route.action))).response("default", fallback).build();
        };
        // A login that also takes an identity provider's token as Bearer
        // (and then no username or password).
        let external = doc.external_login && self.set.authority().external_identity().is_some();
        op = op.summary(Some(doc.summary));
        if !doc.description.is_empty() {
            op = op.description(Some(doc.description));
        }
        if let Some(fields) = doc.body {
            let all_optional = external;
            let schema = schema::fields_schema(fields, all_optional);
            let required = !all_optional && fields.iter().any(|f| f.required);
            let body = RequestBodyBuilder::new()
                .required(Some(if required { Required::True } else { Required::False }))
                .content("application/json", Content::new(Some(schema.clone())))
                .content("application/x-www-form-urlencoded", Content::new(Some(schema)))
                .build();
            op = op.request_body(Some(body));
        }
        let issues_device = self.set.authority().config().device_ttl.is_some()
            && matches!(route.action, Action::Login | Action::Signup);
        for reply in doc.replies {
            op = op.response(reply.status.to_string(), self.reply(reply, issues_device));
        }
        let credential = if external { Credential::Optional } else { doc.credential };
        let statuses = RouteDoc { credential, ..*doc }.error_statuses();
        for status in statuses {
            op = op.response(status.to_string(), self.error(status, doc.credential));
        }
        let mut op = op.build();
        let scheme = scheme_name(self.dialect.scheme());
        match credential {
            Credential::None => {}
            Credential::Required => security.require(&mut op, &[&[scheme]]),
            Credential::Optional => security.require(&mut op, &[&[], &[scheme]]),
            Credential::RefreshCookie => security.require(&mut op, &[&[REFRESH_COOKIE]]),
            Credential::HeaderOrAccessCookie => security.require(&mut op, &[&[scheme], &[ACCESS_COOKIE]]),
        }
        if matches!(credential, Credential::RefreshCookie | Credential::HeaderOrAccessCookie) {
            op.parameters.get_or_insert_with(Vec::new).push(csrf_parameter().into());
        }
        if issues_device && self.cookies.is_none() && route.action == Action::Login {
            op.parameters.get_or_insert_with(Vec::new).push(device_parameter().into());
        }
        op
    }

    fn reply(&self, reply: &Reply, issues_device: bool) -> Response {
        let mut headers: Vec<HeaderDoc> = Vec::new();
        // Every answer is `no-store`, but an answer that decides its own caching.
        if !reply.headers.iter().any(|h| h.name.eq_ignore_ascii_case("cache-control")) {
            headers.extend_from_slice(describe::NO_STORE_HEADERS);
        }
        headers.extend_from_slice(reply.headers);
        // A password login's device token: a header and a cookie, only the
        // cookie in cookie mode (whose login sets cookies anyway).
        if issues_device && self.cookies.is_none() && (200..300).contains(&reply.status) {
            headers.extend_from_slice(DEVICE_HEADERS);
        }
        response(reply.about, reply.body.as_ref(), &headers)
    }

    fn error(&self, status: u16, credential: Credential) -> Response {
        let mut headers = describe::NO_STORE_HEADERS.to_vec();
        headers.extend(sampled_headers(
            status,
            &self.samples,
            |e| self.dialect.render_error(e),
            ERROR_HEADERS,
        ));
        // A cookie session that cannot go on is ended: its cookies cleared.
        if self.cookies.is_some() && status == 401 && credential != Credential::None {
            headers.push(CLEARS_COOKIES);
        }
        response(reason(status), Some(&self.dialect.error_shape(status)), &headers)
    }
}

/// The HTTP method of a route, for the methods OpenAPI names.
pub(crate) fn http_method(method: &str) -> Option<HttpMethod> {
    Some(match method.to_ascii_uppercase().as_str() {
        "GET" => HttpMethod::Get,
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        "DELETE" => HttpMethod::Delete,
        "PATCH" => HttpMethod::Patch,
        "HEAD" => HttpMethod::Head,
        "OPTIONS" => HttpMethod::Options,
        "TRACE" => HttpMethod::Trace,
        _ => return None,
    })
}

impl RouteSet {
    /// The OpenAPI 3.1 document of this route set, as mounted: its paths
    /// under [`at`](Self::at)'s prefix. A set the framework nests without
    /// a prefix (`Router::nest_service("/auth", ...)`, `web::scope("/auth")`)
    /// is described under its mount point with utoipa's
    /// `OpenApi::nest("/auth", routes.openapi())`.
    ///
    /// Every operation is tagged [`TAG`] and has an `operationId` of the
    /// dialect, method and path below the mount point
    /// (`standard_post_login`): the same however the set is mounted. A
    /// document holding one dialect twice (at `/auth` and `/v2/auth`) has
    /// each id twice; rename one set's before merging.
    ///
    /// ```
    /// use auth_core::{Authority, RouteSet, dialects::Drf};
    /// let authority = Authority::hs256([7u8; 32]).unwrap().config(auth_core::Dialect::default_config(&Drf)).build();
    /// let doc = serde_json::to_value(RouteSet::new(authority, Drf).at("/auth").openapi()).unwrap();
    /// let login = &doc["paths"]["/auth/access_token/"]["post"];
    /// assert_eq!(login["operationId"], "drf_post_access_token");
    /// assert!(login["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
    /// assert_eq!(doc["components"]["securitySchemes"]["token"]["in"], "header");
    /// ```
    pub fn openapi(&self) -> OpenApi {
        let dialect = self.dialect();
        let site = Site { set: self, dialect, cookies: self.cookie_mode(), samples: AuthError::samples() };
        let mut security = Security::default();
        // The dialect's own scheme, even where no route of the set takes it:
        // the application's guarded routes do.
        security.used.insert(scheme_name(dialect.scheme()));
        let mut paths = Paths::new();
        let mut seen: BTreeSet<(String, &str)> = BTreeSet::new();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for route in dialect.routes() {
            // What the engine never serves, or serves from an earlier route,
            // is not described (a custom dialect's odd table).
            let method = http_method(route.method);
            let upper = route.method.to_ascii_uppercase();
            if method.is_none() || !route.path.starts_with('/') || !seen.insert((upper, route.path)) {
                tracing::warn!(
                    dialect = dialect.name(),
                    method = route.method,
                    path = route.path,
                    "this route is not in the OpenAPI document: its method is not one OpenAPI names, its path does \
                     not start with `/`, or an earlier route of the table has the same method and path"
                );
                continue;
            }
            let Some(method) = method else { continue };
            // The set's own root is served at the prefix itself (`/api` for `/api/`).
            let path = match (self.prefix(), route.path) {
                (prefix, "/") if !prefix.is_empty() => prefix.to_owned(),
                (prefix, path) => format!("{prefix}{path}"),
            };
            let mut op = site.operation(route, &mut security);
            // Unique ids (`/a-b` and `/a_b` would both be `..._a_b`).
            if let Some(id) = op.operation_id.take() {
                let mut unique = (1..).map(|n| if n == 1 { id.clone() } else { format!("{id}_{n}") });
                op.operation_id = unique.find(|candidate| ids.insert(candidate.clone()));
            }
            paths.add_path_operation(&path, vec![method], op);
        }
        let info = Info::builder()
            .title(format!("{} token routes", dialect.name()))
            .version(env!("CARGO_PKG_VERSION"))
            .description(Some("Login, refresh and logout routes served by auth-core"))
            .build();
        let mut doc = OpenApiBuilder::new().info(info).paths(paths).tags(Some([Tag::new(TAG)])).build();
        security.install(&mut doc, self.cookie_mode());
        doc
    }
}

#[cfg(test)]
mod tests;
