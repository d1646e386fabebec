//! Parsing the `Authorization` header into [`Credentials`].
//!
//! Scheme names are case-insensitive (RFC 7235) and separated from the
//! credentials by one or more spaces (a tab is malformed); the credentials
//! of `Bearer` and `Token` must match the token68 grammar; `Basic` is strict
//! base64 of UTF-8 `user:password`, split at the first colon. The whole
//! value is capped at [`MAX_HEADER_LEN`] bytes, and a request with more than
//! one `Authorization` header is malformed ([`AuthorizationHeader`]). Every
//! failure is a [`HeaderError`], never a panic.
//!
//! ```
//! use auth_core::{parse_authorization, Credentials};
//! let creds = parse_authorization(Some(b"bearer abc.def.ghi")).unwrap();
//! assert_eq!(creds, Credentials::Bearer("abc.def.ghi".into()));
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::AuthError;
pub use crate::scheme::Scheme;

/// The largest `Authorization` value accepted, in bytes.
pub const MAX_HEADER_LEN: usize = 8 * 1024;

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

    /// The `Authorization` value that carries these credentials (what a
    /// client sends; [`parse_authorization`] reads it back).
    ///
    /// ```
    /// use auth_core::{Credentials, parse_authorization};
    /// let basic = Credentials::Basic { user: "key".into(), password: "secret".into() };
    /// assert_eq!(basic.header_value(), "Basic a2V5OnNlY3JldA==");
    /// assert_eq!(parse_authorization(Some(basic.header_value().as_bytes())).unwrap(), basic);
    /// ```
    pub fn header_value(&self) -> String {
        match self {
            Self::Bearer(t) | Self::Token(t) => format!("{} {t}", self.scheme().as_str()),
            Self::Basic { user, password } => {
                format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
            }
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
    /// More than one `Authorization` header: which one counts would be a
    /// guess, and two parsers guessing differently is an attack.
    #[error("more than one authorization header")]
    Repeated,
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
/// assert_eq!(parse_authorization(Some(b"Bearer\tabc")), Err(HeaderError::Malformed));
/// ```
pub fn parse_authorization(value: Option<&[u8]>) -> Result<Credentials, HeaderError> {
    let (scheme, rest) = split_scheme(value)?;
    parse_credentials(scheme, rest)
}

/// The scheme of a header value and the bytes after the separating spaces.
/// A well-formed scheme this crate does not handle is
/// [`HeaderError::UnsupportedScheme`]; the credentials are not looked at.
fn split_scheme(value: Option<&[u8]>) -> Result<(Scheme, &[u8]), HeaderError> {
    let value = value.ok_or(HeaderError::Missing)?;
    if value.len() > MAX_HEADER_LEN {
        return Err(HeaderError::TooLong);
    }
    // What HTTP calls optional whitespace around a field value.
    let value = trim_ows(value);
    if value.is_empty() {
        return Err(HeaderError::Missing);
    }
    let (name, rest) = match value.iter().position(|b| *b == b' ') {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, &value[value.len()..]),
    };
    if !name.iter().all(|b| is_tchar(*b)) {
        return Err(HeaderError::Malformed);
    }
    let scheme = Scheme::from_name(name).ok_or(HeaderError::UnsupportedScheme)?;
    let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
    Ok((scheme, &rest[start..]))
}

fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !is_ows(b)).map_or(start, |i| i + 1);
    &value[start..end]
}

fn parse_credentials(scheme: Scheme, rest: &[u8]) -> Result<Credentials, HeaderError> {
    parse_presented(scheme, rest).map(Presented::into_owned)
}

/// Credentials as the header presents them: a token borrowed from the
/// header (nothing copied on the hot path), or decoded `Basic` credentials.
pub(crate) enum Presented<'a> {
    /// A `Bearer` or `Token` token.
    Token(Scheme, &'a str),
    /// `Basic` credentials.
    Basic(Credentials),
}

impl Presented<'_> {
    pub(crate) fn into_owned(self) -> Credentials {
        match self {
            Self::Token(Scheme::Token, token) => Credentials::Token(token.to_owned()),
            Self::Token(_, token) => Credentials::Bearer(token.to_owned()),
            Self::Basic(credentials) => credentials,
        }
    }
}

pub(crate) fn parse_presented(scheme: Scheme, rest: &[u8]) -> Result<Presented<'_>, HeaderError> {
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
        Scheme::Bearer | Scheme::Token => Ok(Presented::Token(scheme, text)),
        Scheme::Basic => parse_basic(rest).map(Presented::Basic),
    }
}

/// Credentials of one of `accepted` schemes, `Ok(None)` when there are
/// none: no header, or a scheme not accepted, whatever follows it (RFC 6750
/// section 3.1: a client that used another scheme gets a bare challenge,
/// not an error about credentials this route never reads). Repeated,
/// over-long or malformed headers of an accepted scheme are errors.
///
/// ```
/// use auth_core::{credentials_among, AuthorizationHeader, Credentials, HeaderError, Scheme};
/// let junk = AuthorizationHeader::from(&b"Basic !!not-base64!!"[..]);
/// assert_eq!(credentials_among(&junk, &[Scheme::Bearer]), Ok(None));
/// assert_eq!(credentials_among(&junk, &[Scheme::Basic]), Err(HeaderError::InvalidToken68));
/// let two = AuthorizationHeader::from_values([&b"Bearer a"[..], b"Bearer b"]);
/// assert_eq!(credentials_among(&two, &[Scheme::Bearer]), Err(HeaderError::Repeated));
/// ```
pub fn credentials_among(
    header: &AuthorizationHeader,
    accepted: &[Scheme],
) -> Result<Option<Credentials>, HeaderError> {
    credentials_in(header.value()?, accepted)
}

/// [`credentials_among`] for one raw header value.
pub(crate) fn credentials_in(
    value: Option<&[u8]>,
    accepted: &[Scheme],
) -> Result<Option<Credentials>, HeaderError> {
    Ok(presented_in(value, accepted)?.map(Presented::into_owned))
}

/// [`credentials_in`], borrowing a token from the header.
pub(crate) fn presented_in<'a>(
    value: Option<&'a [u8]>,
    accepted: &[Scheme],
) -> Result<Option<Presented<'a>>, HeaderError> {
    accepted_in(value, accepted)?.map(|(scheme, rest)| parse_presented(scheme, rest)).transpose()
}

/// The scheme of a header value, when `accepted`, and the bytes after it,
/// not yet read as credentials (`Ok(None)`: no credentials, or another
/// scheme). [`parse_presented`] reads them; the verified-token cache may
/// first look them up as exact bytes that were a valid token before.
pub(crate) fn accepted_in<'a>(
    value: Option<&'a [u8]>,
    accepted: &[Scheme],
) -> Result<Option<(Scheme, &'a [u8])>, HeaderError> {
    match split_scheme(value) {
        Ok((scheme, rest)) if accepted.contains(&scheme) => Ok(Some((scheme, rest))),
        Ok(_) | Err(HeaderError::Missing | HeaderError::UnsupportedScheme) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Credentials of exactly `scheme`: another scheme or none is
/// [`AuthError::MissingCredentials`] (401), a malformed or repeated header 400.
///
/// ```
/// use auth_core::{credentials_of, AuthError, AuthorizationHeader, Credentials, Scheme};
/// let header = AuthorizationHeader::from(&b"Token abc"[..]);
/// assert_eq!(credentials_of(&header, Scheme::Token), Ok(Credentials::Token("abc".into())));
/// assert_eq!(credentials_of(&header, Scheme::Bearer), Err(AuthError::MissingCredentials));
/// ```
pub fn credentials_of(header: &AuthorizationHeader, scheme: Scheme) -> Result<Credentials, AuthError> {
    credentials_among(header, &[scheme])?.ok_or(AuthError::MissingCredentials)
}

/// A request's `Authorization` header as an adapter found it: absent, one
/// value, or repeated (which is malformed, whatever the values).
///
/// ```
/// use auth_core::{AuthorizationHeader, HeaderError};
/// let values: [&[u8]; 1] = [b"Bearer abc"];
/// let one = AuthorizationHeader::from_values(values);
/// assert_eq!(one.value(), Ok(Some(&b"Bearer abc"[..])));
/// assert_eq!(AuthorizationHeader::from_values(Vec::<&[u8]>::new()).value(), Ok(None));
/// let two = AuthorizationHeader::from_values([&b"Bearer a"[..], b"Basic Og=="]);
/// assert_eq!(two.value(), Err(HeaderError::Repeated));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub enum AuthorizationHeader {
    /// No `Authorization` header.
    #[default]
    Absent,
    /// Exactly one, with this raw value.
    One(Vec<u8>),
    /// Two or more.
    Repeated,
}

impl AuthorizationHeader {
    /// From every value of the header, in any order.
    pub fn from_values<'a, I: IntoIterator<Item = &'a [u8]>>(values: I) -> Self {
        AuthorizationRef::from_values(values).into_owned()
    }

    /// The one value, `None` without a header, an error when repeated.
    pub fn value(&self) -> Result<Option<&[u8]>, HeaderError> {
        self.as_ref().value()
    }

    /// The header borrowed, as [`AuthGuard::begin`](crate::AuthGuard::begin) takes it.
    pub fn as_ref(&self) -> AuthorizationRef<'_> {
        match self {
            Self::Absent => AuthorizationRef::Absent,
            Self::One(v) => AuthorizationRef::One(v),
            Self::Repeated => AuthorizationRef::Repeated,
        }
    }

    /// Whether the request had any `Authorization` header.
    pub fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// A request's `Authorization` header borrowed from the request, as an
/// adapter's middleware finds it: nothing is copied.
///
/// ```
/// use auth_core::{AuthorizationRef, HeaderError};
/// let values: [&[u8]; 1] = [b"Bearer abc"];
/// assert_eq!(AuthorizationRef::from_values(values).value(), Ok(Some(&b"Bearer abc"[..])));
/// assert_eq!(AuthorizationRef::from_values([&b"a"[..], b"b"]).value(), Err(HeaderError::Repeated));
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthorizationRef<'a> {
    /// No `Authorization` header.
    #[default]
    Absent,
    /// Exactly one, with this raw value.
    One(&'a [u8]),
    /// Two or more.
    Repeated,
}

impl<'a> AuthorizationRef<'a> {
    /// From every value of the header, in any order.
    pub fn from_values<I: IntoIterator<Item = &'a [u8]>>(values: I) -> Self {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (None, _) => Self::Absent,
            (Some(one), None) => Self::One(one),
            (Some(_), Some(_)) => Self::Repeated,
        }
    }

    /// The one value, `None` without a header, an error when repeated.
    pub fn value(self) -> Result<Option<&'a [u8]>, HeaderError> {
        match self {
            Self::Absent => Ok(None),
            Self::One(v) => Ok(Some(v)),
            Self::Repeated => Err(HeaderError::Repeated),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> AuthorizationHeader {
        match self {
            Self::Absent => AuthorizationHeader::Absent,
            Self::One(v) => AuthorizationHeader::One(v.to_vec()),
            Self::Repeated => AuthorizationHeader::Repeated,
        }
    }
}

/// Never prints the value (it holds a token or a password).
impl std::fmt::Debug for AuthorizationRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.into_owned().fmt(f)
    }
}

impl From<&[u8]> for AuthorizationHeader {
    fn from(value: &[u8]) -> Self {
        Self::One(value.to_vec())
    }
}

impl From<Option<&[u8]>> for AuthorizationHeader {
    fn from(value: Option<&[u8]>) -> Self {
        value.map_or(Self::Absent, Self::from)
    }
}

/// Never prints the value (it holds a token or a password).
impl std::fmt::Debug for AuthorizationHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Absent => f.write_str("Absent"),
            Self::One(v) => write!(f, "One(<{} bytes redacted>)", v.len()),
            Self::Repeated => f.write_str("Repeated"),
        }
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

/// The characters of an RFC 9110 `token` (a scheme name).
const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    table
};

/// Whether `b` may appear in an RFC 9110 `token` (a scheme or header name).
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Whether `b` is a token68 character before the `=` padding.
const fn is_token68_char(b: u8) -> bool {
    // `b | 0x20` folds A-Z onto a-z and maps nothing else into a-z.
    let lower = b | 0x20;
    (lower.wrapping_sub(b'a') < 26)
        | (b.wrapping_sub(b'0') < 10)
        | (b == b'-')
        | (b == b'.')
        | (b == b'_')
        | (b == b'~')
        | (b == b'+')
        | (b == b'/')
}

/// `token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 7235).
/// It runs over every byte of every token: branch-free, so that it
/// compiles to vector compares (one pass, no early exit: a valid token is
/// read to the end anyway).
fn is_token68(s: &[u8]) -> bool {
    let body_len = s.len() - s.iter().rev().take_while(|b| **b == b'=').count();
    body_len > 0 && s[..body_len].iter().fold(true, |ok, b| ok & is_token68_char(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[u8]) -> Result<Credentials, HeaderError> {
        parse_authorization(Some(v))
    }

    #[test]
    fn token68_characters_are_exactly_the_grammar() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_token68_char(b), expected, "byte {b:#04x}");
        }
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
    fn only_spaces_separate_scheme_and_credentials() {
        assert_eq!(parse(b"Bearer\tabc"), Err(HeaderError::Malformed));
        assert_eq!(parse(b"Bearer \tabc"), Err(HeaderError::Malformed));
        assert_eq!(parse(b"Bearer\x0babc"), Err(HeaderError::Malformed));
        assert_eq!(parse(b"Bea@rer abc"), Err(HeaderError::Malformed));
        assert_eq!(parse(b"\tBearer   abc\t"), Ok(Credentials::Bearer("abc".into())));
        assert_eq!(parse(b"Digest\tx"), Err(HeaderError::Malformed));
        assert_eq!(AuthError::from(HeaderError::Repeated).status(), 400);
    }

    #[test]
    fn foreign_schemes_are_no_credentials_whatever_follows() {
        let among = |v: &[u8], s: &[Scheme]| credentials_among(&AuthorizationHeader::from(v), s);
        for junk in [&b"Basic !!!"[..], b"Basic", b"Basic YWJj", b"Token a b", b"Digest x=y, z"] {
            assert_eq!(among(junk, &[Scheme::Bearer]), Ok(None), "{:?}", String::from_utf8_lossy(junk));
        }
        assert_eq!(among(b"Basic YWJj", &[Scheme::Basic]), Err(HeaderError::MissingColon));
        assert_eq!(among(b"bearer", &[Scheme::Bearer]), Err(HeaderError::Malformed));
        assert_eq!(among(b"Bearer\tx", &[Scheme::Token]), Err(HeaderError::Malformed));
        let repeated = AuthorizationHeader::from_values([&b"Basic Og=="[..], b"Basic Og=="]);
        assert_eq!(credentials_among(&repeated, &[Scheme::Bearer]), Err(HeaderError::Repeated));
        assert_eq!(
            credentials_of(&repeated, Scheme::Bearer),
            Err(AuthError::InvalidRequest("more than one authorization header".into()))
        );
        assert!(!format!("{:?}", AuthorizationHeader::from(&b"Bearer secret"[..])).contains("secret"));
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
