//! What a guard adds to the operations it protects.

use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::{OpenApi, RefOr};

use super::{ACCESS_COOKIE, ERROR_HEADERS, Security, csrf_parameter, response, sampled_headers, scheme_name};
use crate::cookies::is_unsafe_method;
use crate::describe::{self, HeaderDoc};
use crate::dialect::util::reason;
use crate::error::AuthError;
use crate::guard::AuthGuard;

/// The OpenAPI contribution of an [`AuthGuard`] to the operations it
/// protects: its security requirement (each accepted scheme, and cookie
/// mode's access cookie; anonymous too when the guard is optional), and
/// the answers it gives for them: 400 (a malformed `Authorization`), 401
/// (with `WWW-Authenticate`), 503 (the store is down), 403 where a role
/// is required ([`roles`](Self::roles)) and, in cookie mode, for an
/// unsafe request that fails the CSRF checks, in the guard's error shape.
///
/// Use [`protect`](Self::protect) on a document, or list the paths and
/// pass it to `#[openapi(modifiers(...))]` as a [`Modify`].
///
/// ```
/// use auth_core::{Authority, AuthGuard};
/// use utoipa::openapi::path::{HttpMethod, OperationBuilder};
/// use utoipa::openapi::{OpenApiBuilder, PathItem, Paths, ResponseBuilder};
/// use utoipa::Modify as _;
///
/// let guard = AuthGuard::new(Authority::hs256([7u8; 32]).unwrap().build());
/// let admin = OperationBuilder::new().response("200", ResponseBuilder::new().description("the admin page"));
/// let mut doc = OpenApiBuilder::new()
///     .paths(Paths::builder().path("/admin", PathItem::new(HttpMethod::Get, admin)))
///     .build();
/// guard.openapi().roles(true).paths(["/admin"]).modify(&mut doc);
/// let json = serde_json::to_value(&doc).unwrap();
/// let responses = &json["paths"]["/admin"]["get"]["responses"];
/// assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object());
/// assert!(responses["403"].is_object());
/// ```
#[derive(Clone)]
pub struct GuardDoc {
    guard: AuthGuard,
    roles: bool,
    paths: Vec<String>,
}

impl std::fmt::Debug for GuardDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardDoc").field("roles", &self.roles).field("paths", &self.paths).finish()
    }
}

/// The admitted answers' headers in cookie mode.
const ADMITTED: &[HeaderDoc] = &[
    HeaderDoc::new("Cache-Control", true, "`private, no-store` unless the handler set its own"),
    HeaderDoc::new("Vary", true, "`Cookie`: the answer depends on the access cookie"),
];

impl AuthGuard {
    /// What this guard adds to the OpenAPI description of the operations
    /// it protects ([`GuardDoc`]).
    ///
    /// ```
    /// let guard = auth_core::AuthGuard::new(auth_core::Authority::hs256([7u8; 32]).unwrap().build());
    /// assert_eq!(format!("{:?}", guard.openapi()), r#"GuardDoc { roles: false, paths: [] }"#);
    /// ```
    pub fn openapi(&self) -> GuardDoc {
        GuardDoc { guard: self.clone(), roles: false, paths: Vec::new() }
    }
}

impl GuardDoc {
    /// Whether the operations require a role or check an owner
    /// ([`require_role`](crate::require_role),
    /// [`require_self_or_role`](crate::require_self_or_role)), and so
    /// may answer 403.
    pub fn roles(mut self, roles: bool) -> Self {
        self.roles = roles;
        self
    }

    /// The paths whose operations (every method) [`Modify::modify`] protects.
    pub fn paths<I: IntoIterator<Item = S>, S: Into<String>>(mut self, paths: I) -> Self {
        self.paths.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Protects every operation at `path` in `openapi` (nothing if the path
    /// is not there), and adds the security schemes it uses.
    pub fn protect(&self, openapi: &mut OpenApi, path: &str) {
        self.protect_where(openapi, path, None);
    }

    /// Protects the `method` operation at `path` only (a path whose other
    /// methods are open, such as a sign-up beside a guarded update).
    ///
    /// ```
    /// use auth_core::{Authority, AuthGuard};
    /// use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    /// use utoipa::openapi::{OpenApiBuilder, PathItem, Paths, ResponseBuilder};
    ///
    /// let guard = AuthGuard::new(Authority::hs256([7u8; 32]).unwrap().build());
    /// let op = || OperationBuilder::new().response("200", ResponseBuilder::new().description("ok"));
    /// let mut item = PathItem::new(HttpMethod::Post, op());
    /// item.merge_operations(PathItem::new(HttpMethod::Patch, op()));
    /// let mut doc = OpenApiBuilder::new().paths(Paths::builder().path("/users", item)).build();
    /// guard.openapi().protect_operation(&mut doc, "/users", "PATCH");
    /// let json = serde_json::to_value(&doc).unwrap();
    /// assert!(json["paths"]["/users"]["patch"]["security"].is_array());
    /// assert!(json["paths"]["/users"]["post"].get("security").is_none());
    /// ```
    pub fn protect_operation(&self, openapi: &mut OpenApi, path: &str, method: &str) {
        self.protect_where(openapi, path, Some(method));
    }

    /// Protects the operations at `path` (of `method` only, if given); a
    /// path or method the document does not have is a mistake, logged as
    /// a warning (the document is still valid, only less than promised).
    fn protect_where(&self, openapi: &mut OpenApi, path: &str, method: Option<&str>) {
        let wanted = |m: &str| method.is_none_or(|want| m.eq_ignore_ascii_case(want));
        let mut protected = 0;
        let mut security = Security::default();
        if let Some(item) = openapi.paths.paths.get_mut(path) {
            let methods = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Delete, &mut item.delete),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Head, &mut item.head),
                (HttpMethod::Options, &mut item.options),
                (HttpMethod::Trace, &mut item.trace),
            ];
            for (method, op) in methods {
                if let (Some(op), true) = (op, wanted(method_name(&method))) {
                    self.apply(method_name(&method), op, &mut security);
                    protected += 1;
                }
            }
        }
        if protected == 0 {
            tracing::warn!(
                path,
                method = method.unwrap_or("any"),
                "GuardDoc found no such operation in the OpenAPI document to protect: protect paths after \
                 adding them, spelled as the document has them (with their mount point)"
            );
        }
        security.install(openapi, self.guard.cookie_mode());
    }

    /// Adds the guard's requirement and answers to one operation (a
    /// `method` request); the caller adds the security schemes
    /// ([`protect`](Self::protect) does both).
    fn apply(&self, method: &str, op: &mut Operation, security: &mut Security) {
        let guard = &self.guard;
        let cookies = guard.cookie_mode();
        let schemes: Vec<&'static str> = guard.accepted_schemes().iter().map(|s| scheme_name(*s)).collect();
        let mut alternatives: Vec<Vec<&'static str>> = Vec::new();
        if guard.is_optional() {
            alternatives.push(Vec::new());
        }
        alternatives.extend(schemes.iter().map(|s| vec![*s]));
        if cookies.is_some() {
            alternatives.push(vec![ACCESS_COOKIE]);
        }
        let alternatives: Vec<&[&'static str]> = alternatives.iter().map(Vec::as_slice).collect();
        security.require(op, &alternatives);

        let mut errors: Vec<AuthError> = vec![
            AuthError::InvalidRequest("a malformed Authorization header".into()),
            AuthError::MissingCredentials,
            AuthError::Unavailable,
        ];
        errors.extend(AuthError::samples().into_iter().filter(|e| matches!(e, AuthError::InvalidToken(_))));
        if self.roles {
            // `require_role` refuses with insufficient_scope (a challenge),
            // `require_self_or_role` someone else's resource with a plain 403.
            errors.push(AuthError::InsufficientScope { required: "a role".into() });
            errors.push(AuthError::Forbidden);
        }
        let csrf = cookies.is_some() && is_unsafe_method(method);
        if csrf {
            errors.extend(AuthError::samples().into_iter().filter(|e| matches!(e, AuthError::Csrf(_))));
            op.parameters.get_or_insert_with(Vec::new).push(csrf_parameter().into());
        }
        let mut statuses: Vec<u16> = errors.iter().map(|e| guard.reject(e).status).collect();
        statuses.sort_unstable();
        statuses.dedup();
        for status in statuses {
            let key = status.to_string();
            if op.responses.responses.contains_key(&key) {
                continue; // the application documented it itself
            }
            // The adapters send every refusal `no-store`; the rest is what
            // this guard's own refusals with this status carry.
            let mut headers = describe::NO_STORE_HEADERS.to_vec();
            headers.extend(sampled_headers(status, &errors, |e| guard.reject(e), ERROR_HEADERS));
            let shape = guard.error_shape(status);
            op.responses.responses.insert(key, RefOr::T(response(reason(status), Some(&shape), &headers)));
        }
        if cookies.is_some() {
            for (status, res) in op.responses.responses.iter_mut() {
                if let (true, RefOr::T(res)) = (status.starts_with('2'), res) {
                    for doc in ADMITTED {
                        res.headers
                            .entry(doc.name.to_owned())
                            .or_insert_with(|| super::schema::header(doc).into());
                    }
                }
            }
        }
    }
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

impl Modify for GuardDoc {
    fn modify(&self, openapi: &mut OpenApi) {
        for path in &self.paths {
            self.protect(openapi, path);
        }
    }
}
