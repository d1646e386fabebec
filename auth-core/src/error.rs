//! One error type for everything that can go wrong while authenticating.
//!
//! Every [`AuthError`] variant knows its HTTP status, its RFC 6750
//! `WWW-Authenticate` error code and a short, safe description. No message
//! ever says whether a user exists, and none contains a token or password.
//!
//! Rendering an error into an [`AuthResponse`](crate::AuthResponse)
//! ([`AuthError::to_response`], [`AuthError::with_headers`]) lives in the
//! `response` module: this one depends on neither `response` nor `header`.

use std::sync::Arc;

use crate::scheme::Scheme;

/// Why a presented token was refused (the `invalid_token` family).
///
/// ```
/// use auth_core::TokenRejection;
/// assert_eq!(TokenRejection::Expired.to_string(), "the token has expired");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Not three base64url parts, or a part is not valid JSON.
    #[error("the token is malformed")]
    Malformed,
    /// Longer than the configured cap; refused before decoding.
    #[error("the token is too long")]
    TooLong,
    /// The header names an algorithm other than the one its key allows.
    #[error("the token's algorithm is not allowed")]
    Algorithm,
    /// The header's `kid` names no key of the key set.
    #[error("the token's key is unknown")]
    UnknownKey,
    /// The header carries a parameter outside the allow-list (`crit`,
    /// `jku`, `x5u`, `x5c`, `jwk`, `zip`, `enc`, or anything not configured).
    #[error("the token's header has a forbidden parameter")]
    ForbiddenHeader,
    /// The header's `typ` is not one of the accepted token types.
    #[error("the token's type is not accepted")]
    Type,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `iss` differs from the configured issuer.
    #[error("the token's issuer is not accepted")]
    Issuer,
    /// `aud` does not contain the configured audience, or the token carries
    /// `aud` while none is configured.
    #[error("the token's audience is not accepted")]
    Audience,
    /// A required claim (`sub`, `jti`, `iat`) is absent or empty.
    #[error("the token lacks the `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has an impossible value (a negative `iat`, an over-long `jti`...).
    #[error("the token's `{0}` claim is invalid")]
    InvalidClaim(&'static str),
    /// `exp - iat` is longer than this service issues tokens of that use for.
    #[error("the token's lifetime is longer than allowed")]
    Lifetime,
    /// A refresh token where an access token is expected, or the reverse.
    #[error("the token is not usable here")]
    WrongUse,
    /// The token, its family or its subject was revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// A refresh token presented again after it was rotated: its family is revoked now.
    #[error("the refresh token was already used")]
    Reused,
    /// The refresh window since the original login is over.
    #[error("the session has expired")]
    SessionExpired,
    /// The token's subject no longer exists or is disabled (principal check on).
    #[error("the token's subject is no longer active")]
    InactivePrincipal,
    /// A valid token of an external identity provider whose subject is not
    /// on the allow-list.
    #[error("the token's subject is not allowed to log in here")]
    SubjectNotAllowed,
    /// Opaque credentials that match nothing the store knows.
    #[error("the credentials are not valid")]
    Unknown,
}

impl TokenRejection {
    /// The reason's short name, as the metrics' `reason` label and the
    /// audit events' `reason` field give it (one of
    /// [`metrics::REJECTION_REASONS`](crate::metrics::REJECTION_REASONS)).
    ///
    /// ```
    /// use auth_core::TokenRejection;
    /// assert_eq!(TokenRejection::Expired.reason(), "expired");
    /// assert_eq!(TokenRejection::MissingClaim("sub").reason(), "missing_claim");
    /// ```
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::TooLong => "too_long",
            Self::Algorithm => "algorithm",
            Self::UnknownKey => "unknown_key",
            Self::ForbiddenHeader => "forbidden_header",
            Self::Type => "type",
            Self::Signature => "signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::Lifetime => "lifetime",
            Self::WrongUse => "wrong_use",
            Self::Revoked => "revoked",
            Self::Reused => "reused",
            Self::SessionExpired => "session_expired",
            Self::InactivePrincipal => "inactive_principal",
            Self::SubjectNotAllowed => "subject_not_allowed",
            Self::Unknown => "unknown",
        }
    }
}

/// Everything that can go wrong while authenticating a request or serving an
/// auth route. Each variant maps to one status, one challenge and one body.
///
/// ```
/// use auth_core::{AuthError, TokenRejection};
/// let err = AuthError::InvalidToken(TokenRejection::Expired);
/// assert_eq!(err.status(), 401);
/// assert_eq!(err.error_code(), Some("invalid_token"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials for an accepted scheme (401, challenge without error code).
    #[error("authentication is required")]
    MissingCredentials,
    /// A malformed request: bad header syntax, bad body, missing field (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// A required body field is missing or empty (400 `invalid_request`).
    #[error("missing field `{0}`")]
    MissingField(String),
    /// A token was presented and refused (401 `invalid_token`).
    #[error("{0}")]
    InvalidToken(TokenRejection),
    /// Username and password do not match a user (401). Never says which.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// A token endpoint's answer to wrong credentials where the wire format
    /// follows RFC 6749 section 5.2 (the standard dialect's login): 400
    /// `invalid_grant`, no challenge. Never says which of username and
    /// password was wrong. Protected routes answer
    /// [`InvalidCredentials`](Self::InvalidCredentials) (401) instead.
    #[error("invalid username or password")]
    InvalidGrant,
    /// Authenticated, but lacking a role or scope (403 `insufficient_scope`).
    #[error("the request requires higher privileges")]
    InsufficientScope {
        /// The role or scope that was required.
        required: String,
    },
    /// Authenticated, but not allowed to act on this resource (403).
    #[error("not allowed")]
    Forbidden,
    /// Too many failed logins; try again later (429).
    #[error("too many failed attempts, try again later")]
    TooManyAttempts {
        /// Seconds until the counter window ends.
        retry_after: u64,
    },
    /// No such route (404).
    #[error("not found")]
    NotFound,
    /// A known route with another method (405).
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The methods the route accepts, for the `Allow` header.
        allow: Vec<&'static str>,
    },
    /// The body is larger than the route set accepts (413).
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The body's content type is neither JSON nor form-urlencoded (415).
    #[error("unsupported content type")]
    UnsupportedMediaType,
    /// A backing service failed (503, with `Retry-After`). The detail is logged, not shown.
    #[error("the authentication service is unavailable")]
    Unavailable,
    /// Too much work in flight (the password-hashing queue is full): 503
    /// with `Retry-After`, answered without doing the work.
    #[error("the authentication service is busy, try again shortly")]
    Busy {
        /// Seconds to wait before retrying.
        retry_after: u64,
    },
    /// The application is wired wrongly (500 `server_error`): the message
    /// names the fix and is logged as an `error`; the client sees only
    /// that the server failed. A programming error, never a client's.
    #[error("the server is misconfigured")]
    Misconfigured(&'static str),
    /// A cookie-authenticated request that may be a cross-site request
    /// forgery (403 `access_denied`, no challenge): see
    /// [`CookieMode`](crate::CookieMode).
    #[error("{0}")]
    Csrf(crate::cookies::CsrfRejection),
}

impl AuthError {
    /// The HTTP status code.
    ///
    /// ```
    /// assert_eq!(auth_core::AuthError::PayloadTooLarge.status(), 413);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingCredentials | Self::InvalidToken(_) | Self::InvalidCredentials => 401,
            Self::InvalidRequest(_) | Self::MissingField(_) | Self::InvalidGrant => 400,
            Self::InsufficientScope { .. } | Self::Forbidden | Self::Csrf(_) => 403,
            Self::TooManyAttempts { .. } => 429,
            Self::NotFound => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Unavailable | Self::Busy { .. } => 503,
            Self::Misconfigured(_) => 500,
        }
    }

    /// What kind of refusal this is, as the metrics' `outcome` label and
    /// the audit events' `outcome` field name it (one of
    /// [`metrics::OUTCOMES`](crate::metrics::OUTCOMES); `ok` is a success's).
    ///
    /// ```
    /// use auth_core::AuthError;
    /// assert_eq!(AuthError::InvalidCredentials.outcome(), "bad_credentials");
    /// assert_eq!(AuthError::TooManyAttempts { retry_after: 5 }.outcome(), "throttled");
    /// ```
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidRequest(_) | Self::MissingField(_) => "bad_request",
            Self::InvalidCredentials | Self::InvalidGrant => "bad_credentials",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope { .. } | Self::Forbidden => "forbidden",
            Self::Csrf(_) => "csrf",
            Self::TooManyAttempts { .. } => "throttled",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PayloadTooLarge => "too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Busy { .. } => "busy",
            Self::Unavailable => "unavailable",
            Self::Misconfigured(_) => "misconfigured",
        }
    }

    /// The RFC 6750 / OAuth error code for the body and the challenge.
    ///
    /// ```
    /// assert_eq!(auth_core::AuthError::MissingCredentials.error_code(), None);
    /// ```
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Self::MissingCredentials => None,
            Self::InvalidRequest(_)
            | Self::MissingField(_)
            | Self::MethodNotAllowed { .. }
            | Self::PayloadTooLarge
            | Self::UnsupportedMediaType => Some("invalid_request"),
            Self::InvalidToken(_) => Some("invalid_token"),
            Self::InvalidCredentials | Self::InvalidGrant => Some("invalid_grant"),
            Self::InsufficientScope { .. } => Some("insufficient_scope"),
            Self::Forbidden | Self::Csrf(_) => Some("access_denied"),
            Self::TooManyAttempts { .. } => Some("slow_down"),
            Self::NotFound => Some("not_found"),
            Self::Unavailable | Self::Busy { .. } => Some("temporarily_unavailable"),
            Self::Misconfigured(_) => Some("server_error"),
        }
    }

    /// Whether the response carries a `WWW-Authenticate` challenge: every
    /// 401, plus 400 `invalid_request` and 403 `insufficient_scope` of a
    /// protected resource (RFC 6750 section 3).
    pub fn has_challenge(&self) -> bool {
        matches!(
            self,
            Self::MissingCredentials
                | Self::InvalidToken(_)
                | Self::InvalidCredentials
                | Self::InvalidRequest(_)
                | Self::MissingField(_)
                | Self::InsufficientScope { .. }
        )
    }

    /// The `WWW-Authenticate` value for `scheme` and `realm`, if this error has one.
    ///
    /// ```
    /// use auth_core::{AuthError, Scheme, TokenRejection};
    /// let err = AuthError::InvalidToken(TokenRejection::Expired);
    /// assert_eq!(
    ///     err.challenge(Scheme::Bearer, "api").as_deref(),
    ///     Some(r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#)
    /// );
    /// ```
    pub fn challenge(&self, scheme: Scheme, realm: &str) -> Option<String> {
        if !self.has_challenge() {
            return None;
        }
        let mut value = format!("{} realm=\"{}\"", scheme.as_str(), quote_safe(realm));
        if scheme == Scheme::Basic {
            // RFC 7617 defines no error parameters for Basic.
            value.push_str(", charset=\"UTF-8\"");
            return Some(value);
        }
        if let (Some(code), false) = (self.error_code(), matches!(self, Self::InvalidCredentials)) {
            value.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                quote_safe(&self.to_string())
            ));
        }
        if let Self::InsufficientScope { required } = self {
            value.push_str(&format!(", scope=\"{}\"", quote_safe(required)));
        }
        Some(value)
    }

    /// The default JSON body: `{"error", "error_description"}`.
    ///
    /// ```
    /// let body = auth_core::AuthError::NotFound.body();
    /// assert_eq!(body["error"], "not_found");
    /// ```
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": self.error_code().unwrap_or("unauthorized"),
            "error_description": self.to_string(),
        })
    }
}

impl AuthError {
    /// One error of every kind (and every token rejection): what the
    /// OpenAPI description renders through a dialect to learn which
    /// headers each status always carries, and what the tests hold each
    /// dialect's error shapes to.
    ///
    /// ```
    /// let samples = auth_core::AuthError::samples();
    /// assert!(samples.iter().any(|e| e.status() == 429));
    /// ```
    pub fn samples() -> Vec<AuthError> {
        use crate::cookies::CsrfRejection as C;
        use TokenRejection as T;
        let tokens = [
            T::Malformed,
            T::TooLong,
            T::Algorithm,
            T::UnknownKey,
            T::ForbiddenHeader,
            T::Type,
            T::Signature,
            T::Expired,
            T::NotYetValid,
            T::IssuedInFuture,
            T::Issuer,
            T::Audience,
            T::MissingClaim("sub"),
            T::InvalidClaim("exp"),
            T::Lifetime,
            T::WrongUse,
            T::Revoked,
            T::Reused,
            T::SessionExpired,
            T::InactivePrincipal,
            T::SubjectNotAllowed,
            T::Unknown,
        ];
        let csrf = [C::CrossSite, C::Origin, C::MissingToken, C::WrongToken];
        let mut samples = vec![
            Self::MissingCredentials,
            Self::InvalidRequest("the request body is not valid JSON".into()),
            Self::MissingField("password".into()),
            Self::InvalidCredentials,
            Self::InvalidGrant,
            Self::InsufficientScope { required: "admin".into() },
            Self::Forbidden,
            Self::TooManyAttempts { retry_after: 30 },
            Self::NotFound,
            Self::MethodNotAllowed { allow: vec!["POST"] },
            Self::PayloadTooLarge,
            Self::UnsupportedMediaType,
            Self::Unavailable,
            Self::Busy { retry_after: 1 },
            Self::Misconfigured("a sample"),
        ];
        samples.extend(tokens.into_iter().map(Self::InvalidToken));
        samples.extend(csrf.into_iter().map(Self::Csrf));
        samples
    }
}

/// Strips the two characters that would break a quoted-string.
fn quote_safe(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}

/// The `Retry-After` (seconds) of a 503 [`AuthError::Unavailable`]: a
/// store that reconnects by itself is usually back within a second or two.
pub const UNAVAILABLE_RETRY_AFTER: u64 = 1;

impl From<crate::store::StoreError> for AuthError {
    fn from(err: crate::store::StoreError) -> Self {
        // The store logs the outage once (`OutageLog`); a line per failed
        // request would flood the log for as long as the outage lasts.
        tracing::debug!(error = %err, "auth store failed; answering 503 (gRPC: 14)");
        Self::Unavailable
    }
}

impl From<UserStoreError> for AuthError {
    fn from(err: UserStoreError) -> Self {
        match err {
            UserStoreError::Busy => {
                // Once per refusal would flood the log in the very flood it
                // is refusing: debug level.
                tracing::debug!("password hashing queue full; login refused with 503");
                Self::Busy { retry_after: 1 }
            }
            other => {
                tracing::error!(error = %other, "user store failed");
                Self::Unavailable
            }
        }
    }
}

/// A user store could not answer (not: the password was wrong).
///
/// ```
/// let err = auth_core::UserStoreError::Failed("db down".into());
/// assert_eq!(err.to_string(), "user store failed: db down");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum UserStoreError {
    /// The backend failed (answered 503; the text is logged, not shown).
    Failed(String),
    /// The backend's own error, kept as this error's
    /// [`source`](std::error::Error::source) (answered 503; logged with its
    /// chain of causes, not shown). Made by
    /// [`UserStoreError::backend`](crate::UserStoreError::backend).
    Backend(Arc<dyn std::error::Error + Send + Sync>),
    /// Too many password checks are waiting already ([`HashingPool`](crate::HashingPool)'s
    /// queue is full, after a stay in its waiting room if it has one):
    /// answered with 503 and `Retry-After`, without hashing.
    Busy,
}

impl std::fmt::Display for UserStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Failed(text) => write!(f, "user store failed: {text}"),
            Self::Backend(err) => {
                write!(f, "user store failed: {err}")?;
                // the causes too, unless an error already prints its own
                let mut printed = err.to_string();
                let mut cause = err.source();
                while let Some(next) = cause {
                    let text = next.to_string();
                    if !printed.ends_with(&text) {
                        write!(f, ": {text}")?;
                        printed = text;
                    }
                    cause = next.source();
                }
                Ok(())
            }
            Self::Busy => f.write_str("too many password checks in flight"),
        }
    }
}

impl std::error::Error for UserStoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Backend(err) => Some(err.as_ref()),
            Self::Failed(_) | Self::Busy => None,
        }
    }
}

/// Two backend errors are equal when they are the same error (one clone of
/// the other) or print the same.
impl PartialEq for UserStoreError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Failed(a), Self::Failed(b)) => a == b,
            (Self::Backend(a), Self::Backend(b)) => Arc::ptr_eq(a, b) || a.to_string() == b.to_string(),
            (Self::Busy, Self::Busy) => true,
            _ => false,
        }
    }
}

impl Eq for UserStoreError {}
