//! [`HeaderError`]: why an `Authorization` header could not be read, and the
//! [`AuthError`] each reason answers with.

use crate::error::AuthError;

/// Why an `Authorization` header could not be read.
///
/// ```
/// use auth_core::{parse_authorization, HeaderError};
/// assert_eq!(parse_authorization(None), Err(HeaderError::Missing));
/// assert_eq!(parse_authorization(Some(b"Bearer")), Err(HeaderError::Malformed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// No `Authorization` header at all.
    #[error("no credentials")]
    Missing,
    /// More than one `Authorization` header: which one counts would be a
    /// guess, and two parsers guessing differently is an attack.
    #[error("more than one authorization header")]
    Repeated,
    /// A scheme this crate does not handle (treated like missing credentials).
    #[error("unsupported authentication scheme")]
    UnsupportedScheme,
    /// Longer than [`MAX_HEADER_LEN`](super::MAX_HEADER_LEN).
    #[error("the authorization header is too long")]
    TooLong,
    /// No credentials after the scheme, bad separators or characters.
    #[error("the authorization header is malformed")]
    Malformed,
    /// The token does not match the token68 grammar.
    #[error("the token has invalid characters")]
    InvalidToken68,
    /// Basic credentials that are not strict base64.
    #[error("the basic credentials are not valid base64")]
    InvalidBase64,
    /// Basic credentials without a colon.
    #[error("the basic credentials have no colon")]
    MissingColon,
    /// Basic credentials that are not UTF-8.
    #[error("the basic credentials are not valid UTF-8")]
    InvalidUtf8,
}

impl From<HeaderError> for AuthError {
    /// Missing or foreign-scheme credentials are a 401 without error code;
    /// everything else is a malformed request (400 `invalid_request`).
    fn from(err: HeaderError) -> Self {
        match err {
            HeaderError::Missing | HeaderError::UnsupportedScheme => AuthError::MissingCredentials,
            other => AuthError::InvalidRequest(other.to_string()),
        }
    }
}
