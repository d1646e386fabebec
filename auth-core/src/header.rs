//! Parsing the `Authorization` header into [`Credentials`].
//!
//! Scheme names are case-insensitive (RFC 7235); the credentials of `Bearer`
//! and `Token` must match the token68 grammar; `Basic` is strict base64 of
//! UTF-8 `user:password`, split at the first colon. The whole value is capped
//! at [`MAX_HEADER_LEN`] bytes. Every failure is a [`HeaderError`], never a panic.
//!
//! ```
//! use auth_core::{parse_authorization, Credentials};
//! let creds = parse_authorization(Some(b"bearer abc.def.ghi")).unwrap();
//! assert_eq!(creds, Credentials::Bearer("abc.def.ghi".into()));
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::AuthError;

/// The largest `Authorization` value accepted, in bytes.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

/// An authentication scheme this crate understands.
///
/// ```
/// use auth_core::Scheme;
/// assert_eq!(Scheme::Token.as_str(), "Token");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Authorization: Bearer <jwt>` (RFC 6750).
    Bearer,
    /// `Authorization: Token <jwt>` (Django REST framework style).
    Token,
    /// `Authorization: Basic base64(user:password)` (RFC 7617).
    Basic,
}

impl Scheme {
    /// The canonical spelling, as used in challenges.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Token => "Token",
            Self::Basic => "Basic",
        }
    }

    fn from_name(name: &[u8]) -> Option<Self> {
        [Self::Bearer, Self::Token, Self::Basic]
            .into_iter()
            .find(|s| s.as_str().as_bytes().eq_ignore_ascii_case(name))
    }
}

/// Credentials read from an `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A bearer token.
    Bearer(String),
    /// A token sent with the `Token` scheme.
    Token(String),
    /// A user-id and password.
    Basic {
        /// The user-id (everything before the first colon).
        user: String,
        /// The password (everything after the first colon).
        password: String,
    },
}

impl Credentials {
    /// The scheme these credentials came with.
    ///
    /// ```
    /// use auth_core::{Credentials, Scheme};
    /// assert_eq!(Credentials::Token("t".into()).scheme(), Scheme::Token);
    /// ```
    pub fn scheme(&self) -> Scheme {
        match self {
            Self::Bearer(_) => Scheme::Bearer,
            Self::Token(_) => Scheme::Token,
            Self::Basic { .. } => Scheme::Basic,
        }
    }

    /// The token, for `Bearer` and `Token` credentials.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::Bearer(t) | Self::Token(t) => Some(t),
            Self::Basic { .. } => None,
        }
    }
}

/// Never prints a token or a password.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::Token(_) => f.write_str("Token(<redacted>)"),
            Self::Basic { user, .. } => write!(f, "Basic {{ user: {user:?}, password: <redacted> }}"),
        }
    }
}

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
    /// A scheme this crate does not handle (treated like missing credentials).
    #[error("unsupported authentication scheme")]
    UnsupportedScheme,
    /// Longer than [`MAX_HEADER_LEN`].
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

/// Parses an `Authorization` header value.
///
/// ```
/// use auth_core::{parse_authorization, Credentials, HeaderError};
/// let creds = parse_authorization(Some(b"Basic YWxpY2U6czNjcjN0OnghIQ==")).unwrap();
/// assert_eq!(creds, Credentials::Basic { user: "alice".into(), password: "s3cr3t:x!!".into() });
/// assert_eq!(parse_authorization(Some(b"Basic abcde")), Err(HeaderError::InvalidBase64));
/// ```
pub fn parse_authorization(value: Option<&[u8]>) -> Result<Credentials, HeaderError> {
    let value = value.ok_or(HeaderError::Missing)?;
    if value.len() > MAX_HEADER_LEN {
        return Err(HeaderError::TooLong);
    }
    let value = value.trim_ascii();
    if value.is_empty() {
        return Err(HeaderError::Missing);
    }
    let split = value.iter().position(|b| *b == b' ' || *b == b'\t');
    let (name, rest) = match split {
        Some(i) => (&value[..i], value[i..].trim_ascii_start()),
        None => (value, &value[value.len()..]),
    };
    let Some(scheme) = Scheme::from_name(name) else {
        return Err(HeaderError::UnsupportedScheme);
    };
    if rest.is_empty() {
        return Err(HeaderError::Malformed);
    }
    if !is_token68(rest) {
        // Only on the error path: tell junk (spaces, controls, non-ASCII)
        // from a token with a character token68 does not allow.
        let junk = rest.iter().any(|b| !b.is_ascii_graphic());
        return Err(if junk { HeaderError::Malformed } else { HeaderError::InvalidToken68 });
    }
    // token68 is ASCII, so this cannot fail; map the impossible case anyway.
    let text = std::str::from_utf8(rest).map_err(|_| HeaderError::Malformed)?;
    match scheme {
        Scheme::Bearer => Ok(Credentials::Bearer(text.to_owned())),
        Scheme::Token => Ok(Credentials::Token(text.to_owned())),
        Scheme::Basic => parse_basic(rest),
    }
}

/// Credentials of exactly `scheme`: another scheme or none is
/// [`AuthError::MissingCredentials`] (401), a malformed header 400.
///
/// ```
/// use auth_core::{credentials_of, AuthError, Credentials, Scheme};
/// assert_eq!(credentials_of(Some(b"Token abc"), Scheme::Token), Ok(Credentials::Token("abc".into())));
/// assert_eq!(credentials_of(Some(b"Token abc"), Scheme::Bearer), Err(AuthError::MissingCredentials));
/// ```
pub fn credentials_of(value: Option<&[u8]>, scheme: Scheme) -> Result<Credentials, AuthError> {
    match parse_authorization(value) {
        Ok(c) if c.scheme() == scheme => Ok(c),
        Ok(_) => Err(AuthError::MissingCredentials),
        Err(e) => Err(e.into()),
    }
}

fn parse_basic(encoded: &[u8]) -> Result<Credentials, HeaderError> {
    let decoded = STANDARD.decode(encoded).map_err(|_| HeaderError::InvalidBase64)?;
    let decoded = String::from_utf8(decoded).map_err(|_| HeaderError::InvalidUtf8)?;
    let (user, password) = decoded.split_once(':').ok_or(HeaderError::MissingColon)?;
    if user.chars().any(char::is_control) || password.chars().any(char::is_control) {
        return Err(HeaderError::Malformed);
    }
    Ok(Credentials::Basic { user: user.to_owned(), password: password.to_owned() })
}

/// The characters of token68 before its `=` padding, as a lookup table
/// (the check runs over every byte of every token).
const TOKEN68: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        i += 1;
    }
    table
};

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 7235).
fn is_token68(s: &[u8]) -> bool {
    let body_len = s.len() - s.iter().rev().take_while(|b| **b == b'=').count();
    body_len > 0 && s[..body_len].iter().all(|b| TOKEN68[usize::from(*b)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[u8]) -> Result<Credentials, HeaderError> {
        parse_authorization(Some(v))
    }

    #[test]
    fn schemes_are_case_insensitive() {
        for v in [&b"Bearer abc"[..], b"bearer abc", b"BEARER abc", b"bEaReR   abc"] {
            assert_eq!(parse(v), Ok(Credentials::Bearer("abc".into())));
        }
        assert_eq!(parse(b"token a.b.c"), Ok(Credentials::Token("a.b.c".into())));
        assert_eq!(parse(b"basic YTpi"), Ok(Credentials::Basic { user: "a".into(), password: "b".into() }));
    }

    #[test]
    fn missing_and_foreign_schemes_are_not_malformed() {
        assert_eq!(parse_authorization(None), Err(HeaderError::Missing));
        assert_eq!(parse(b""), Err(HeaderError::Missing));
        assert_eq!(parse(b"   "), Err(HeaderError::Missing));
        assert_eq!(parse(b"Digest foo=bar"), Err(HeaderError::UnsupportedScheme));
        assert_eq!(AuthError::from(HeaderError::UnsupportedScheme).status(), 401);
    }

    #[test]
    fn junk_is_rejected_with_400() {
        let cases: &[(&[u8], HeaderError)] = &[
            (b"Bearer", HeaderError::Malformed),
            (b"Bearer ", HeaderError::Malformed),
            (b"Bearer a b", HeaderError::Malformed),
            (b"Bearer ab=c", HeaderError::InvalidToken68),
            (b"Bearer ===", HeaderError::InvalidToken68),
            (b"Bearer a,b", HeaderError::InvalidToken68),
            ("Bearer caf\u{e9}".as_bytes(), HeaderError::Malformed),
            (b"Bearer a\x00b", HeaderError::Malformed),
            (b"Basic abcde", HeaderError::InvalidBase64),
            (b"Basic !!!!", HeaderError::InvalidToken68),
            (b"Basic YWJj", HeaderError::MissingColon),
            (b"Basic YTpi=", HeaderError::InvalidBase64),
            (b"Basic /w==", HeaderError::InvalidUtf8),
            (b"Basic YQpiOmM=", HeaderError::Malformed),
        ];
        for (value, expected) in cases {
            let got = parse(value);
            assert_eq!(got.as_ref().err(), Some(expected), "{:?}", String::from_utf8_lossy(value));
            let err = AuthError::from(*expected);
            assert_eq!(err.status(), 400);
            assert_eq!(err.error_code(), Some("invalid_request"));
        }
    }

    #[test]
    fn length_cap_is_exact() {
        let mut ok = b"Bearer ".to_vec();
        ok.resize(MAX_HEADER_LEN, b'a');
        assert!(parse(&ok).is_ok());
        ok.push(b'a');
        assert_eq!(parse(&ok), Err(HeaderError::TooLong));
        let huge = vec![b'a'; 64 * 1024];
        assert_eq!(parse(&huge), Err(HeaderError::TooLong));
    }

    #[test]
    fn basic_splits_at_first_colon_and_allows_empty_parts() {
        // "user:pa:ss"
        assert_eq!(
            parse(b"Basic dXNlcjpwYTpzcw=="),
            Ok(Credentials::Basic { user: "user".into(), password: "pa:ss".into() })
        );
        // ":"
        assert_eq!(
            parse(b"Basic Og=="),
            Ok(Credentials::Basic { user: String::new(), password: String::new() })
        );
        // "jos\u{e9}:pw" in UTF-8
        assert_eq!(
            parse(b"Basic am9zw6k6cHc="),
            Ok(Credentials::Basic { user: "jos\u{e9}".into(), password: "pw".into() })
        );
    }

    #[test]
    fn debug_never_shows_secrets() {
        let shown = format!("{:?}", Credentials::Basic { user: "u".into(), password: "hunter2".into() });
        assert!(!shown.contains("hunter2"));
        assert!(!format!("{:?}", Credentials::Bearer("secret.jwt".into())).contains("secret"));
    }
}
