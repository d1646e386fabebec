//! Reading an `Authorization` value: the scheme, then the credentials of an
//! accepted scheme (borrowed for a token, decoded for `Basic`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::grammar::{is_tchar, is_token68};
use super::{AuthorizationHeader, Credentials, HeaderError, MAX_HEADER_LEN, Scheme};
use crate::error::AuthError;

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

fn parse_basic(encoded: &[u8]) -> Result<Credentials, HeaderError> {
    let decoded = STANDARD.decode(encoded).map_err(|_| HeaderError::InvalidBase64)?;
    let decoded = String::from_utf8(decoded).map_err(|_| HeaderError::InvalidUtf8)?;
    let (user, password) = decoded.split_once(':').ok_or(HeaderError::MissingColon)?;
    if user.chars().any(char::is_control) || password.chars().any(char::is_control) {
        return Err(HeaderError::Malformed);
    }
    Ok(Credentials::Basic { user: user.to_owned(), password: password.to_owned() })
}
