//! gRPC answers: the same refusals as HTTP, rendered the way a gRPC client
//! understands them.
//!
//! A gRPC client reads a call's outcome from `grpc-status` and
//! `grpc-message`, not from the HTTP status: an HTTP 401 reaches it as
//! "grpc-status header missing, mapped from HTTP status code 401", the
//! reason lost. So a request whose `content-type` is `application/grpc`
//! (or `application/grpc+proto`...) is refused with a *trailers-only*
//! answer: HTTP 200, `content-type: application/grpc`, and the status in
//! the headers, no body.
//!
//! | refusal | gRPC status |
//! |---|---|
//! | no credentials, a malformed header, a bad, expired, revoked or wrong-kind token, a wrong password | 16 `UNAUTHENTICATED` |
//! | a missing role or scope, a CSRF refusal | 7 `PERMISSION_DENIED` |
//! | too many failed logins, a body too large | 8 `RESOURCE_EXHAUSTED` |
//! | the store or a key source down, the password queue full | 14 `UNAVAILABLE` |
//! | an unknown route or method | 12 `UNIMPLEMENTED` |
//! | a content type a route does not take | 3 `INVALID_ARGUMENT` |
//! | a wiring mistake of the application | 13 `INTERNAL` |
//!
//! `grpc-message` is the error's description (never a token), percent
//! encoded as the gRPC spec asks; `retry-after` travels as metadata where
//! the HTTP answer has it.
//!
//! ```
//! use auth_core::{AuthError, TokenRejection, grpc};
//! assert!(grpc::is_grpc(Some(b"application/grpc+proto")));
//! assert!(!grpc::is_grpc(Some(b"application/grpcfoo")));
//! let res = grpc::refusal(&AuthError::InvalidToken(TokenRejection::Expired));
//! assert_eq!(res.status, 200);
//! assert_eq!(res.header("content-type"), Some("application/grpc"));
//! assert_eq!(res.header("grpc-status"), Some("16"));
//! assert_eq!(res.header("grpc-message"), Some("the token has expired"));
//! ```

use crate::error::{AuthError, UNAVAILABLE_RETRY_AFTER};
use crate::response::AuthResponse;

/// 3: the request's content cannot be processed.
pub const INVALID_ARGUMENT: u8 = 3;
/// 7: authenticated, but not allowed.
pub const PERMISSION_DENIED: u8 = 7;
/// 8: throttled.
pub const RESOURCE_EXHAUSTED: u8 = 8;
/// 12: no such method.
pub const UNIMPLEMENTED: u8 = 12;
/// 13: the server is misconfigured.
pub const INTERNAL: u8 = 13;
/// 14: a backing service is down; retry.
pub const UNAVAILABLE: u8 = 14;
/// 16: no valid credentials.
pub const UNAUTHENTICATED: u8 = 16;

/// Whether a request with this `content-type` value is a gRPC call:
/// `application/grpc`, alone or followed by `+format` or `;parameters`.
pub fn is_grpc(content_type: Option<&[u8]>) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    content_type.is_some_and(|v| {
        v.len() >= GRPC.len()
            && v[..GRPC.len()].eq_ignore_ascii_case(GRPC)
            && matches!(v.get(GRPC.len()), None | Some(b'+' | b';'))
    })
}

impl AuthError {
    /// The gRPC status code this refusal is (see the [`grpc`](crate::grpc) table).
    ///
    /// ```
    /// use auth_core::{AuthError, grpc};
    /// assert_eq!(AuthError::MissingCredentials.grpc_code(), grpc::UNAUTHENTICATED);
    /// let no_role = AuthError::InsufficientScope { required: "admin".into() };
    /// assert_eq!(no_role.grpc_code(), grpc::PERMISSION_DENIED);
    /// assert_eq!(AuthError::Unavailable.grpc_code(), grpc::UNAVAILABLE);
    /// ```
    pub fn grpc_code(&self) -> u8 {
        match self {
            Self::MissingCredentials
            | Self::InvalidToken(_)
            | Self::InvalidCredentials
            | Self::InvalidGrant
            | Self::InvalidRequest(_)
            | Self::MissingField(_) => UNAUTHENTICATED,
            Self::InsufficientScope { .. } | Self::Forbidden | Self::Csrf(_) => PERMISSION_DENIED,
            Self::TooManyAttempts { .. } | Self::PayloadTooLarge => RESOURCE_EXHAUSTED,
            Self::Unavailable | Self::Busy { .. } => UNAVAILABLE,
            Self::NotFound | Self::MethodNotAllowed { .. } => UNIMPLEMENTED,
            Self::UnsupportedMediaType => INVALID_ARGUMENT,
            Self::Misconfigured(_) => INTERNAL,
        }
    }
}

/// The trailers-only answer refusing a gRPC call with `err`.
pub fn refusal(err: &AuthError) -> AuthResponse {
    // no-store: an HTTP cache must not keep a refusal it sees as a 200
    let mut res = AuthResponse::empty(200).no_store();
    res.headers.push(("content-type", "application/grpc".to_owned()));
    res.headers.push(("grpc-status", err.grpc_code().to_string()));
    res.headers.push(("grpc-message", percent_encode(&err.to_string())));
    match err {
        AuthError::TooManyAttempts { retry_after } | AuthError::Busy { retry_after } => {
            res.headers.push(("retry-after", retry_after.to_string()))
        }
        AuthError::Unavailable => res.headers.push(("retry-after", UNAVAILABLE_RETRY_AFTER.to_string())),
        _ => {}
    }
    res
}

/// The trailers that end a gRPC stream whose token expired while it was
/// open: `grpc-status: 16` and the reason.
///
/// ```
/// let trailers = auth_core::grpc::expired_trailers();
/// assert_eq!(trailers[0], ("grpc-status", "16".to_owned()));
/// ```
pub fn expired_trailers() -> [(&'static str, String); 2] {
    let err = AuthError::InvalidToken(crate::TokenRejection::Expired);
    [("grpc-status", err.grpc_code().to_string()), ("grpc-message", percent_encode(&err.to_string()))]
}

/// The gRPC spec's `grpc-message` encoding: bytes outside printable ASCII,
/// and `%`, as `%XX`.
///
/// ```
/// assert_eq!(auth_core::grpc::percent_encode("50% naïve"), "50%25 na%C3%AFve");
/// ```
pub fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CsrfRejection, TokenRejection};

    #[test]
    fn every_refusal_has_its_code() {
        let cases = [
            (AuthError::MissingCredentials, 16),
            (AuthError::InvalidToken(TokenRejection::Revoked), 16),
            (AuthError::InvalidToken(TokenRejection::WrongUse), 16),
            (AuthError::InvalidRequest("two Authorization headers".into()), 16),
            (AuthError::InvalidCredentials, 16),
            (AuthError::InsufficientScope { required: "admin".into() }, 7),
            (AuthError::Csrf(CsrfRejection::CrossSite), 7),
            (AuthError::TooManyAttempts { retry_after: 3 }, 8),
            (AuthError::Busy { retry_after: 1 }, 14),
            (AuthError::Unavailable, 14),
            (AuthError::NotFound, 12),
            (AuthError::Misconfigured("x"), 13),
        ];
        for (err, code) in cases {
            assert_eq!(err.grpc_code(), code, "{err:?}");
            let res = refusal(&err);
            assert_eq!((res.status, res.body.len()), (200, 0));
            assert_eq!(res.header("grpc-status"), Some(code.to_string().as_str()));
        }
        assert_eq!(refusal(&AuthError::TooManyAttempts { retry_after: 3 }).header("retry-after"), Some("3"));
    }

    #[test]
    fn content_types() {
        for yes in [&b"application/grpc"[..], b"application/grpc+proto", b"Application/GRPC;charset=x"] {
            assert!(is_grpc(Some(yes)));
        }
        for no in [&b"application/json"[..], b"application/grpc-web", b"application/grpcx", b""] {
            assert!(!is_grpc(Some(no)), "{}", String::from_utf8_lossy(no));
        }
        assert!(!is_grpc(None));
    }
}
