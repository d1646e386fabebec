//! Strict JWT encoding and verification.
//!
//! jsonwebtoken's own `decode` is loose by default (60 s leeway, `nbf` and
//! `iat` unchecked, wrong-typed `iss`/`aud` treated as absent, `crit` and
//! key-carrying headers ignored, no size cap). We use its crypto to check
//! the signature once, parse header and claims once into strict types, and
//! check every rule ourselves.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use crate::claims::{ClaimStyle, Claims, Spelling, TokenUse};
use crate::error::TokenRejection;
use crate::keys::KeySet;
use crate::strict_json::{Checked, Key, Seen, duplicate};

/// The longest `jti` accepted, in bytes.
pub const MAX_JTI_LEN: usize = 128;

/// JOSE header parameters that are never accepted, even when configured:
/// the key-carrying ones (`jku`, `jwk`, `x5u`, `x5c`), `crit` (we implement
/// no extension), and the JWE markers `zip` and `enc` (we verify JWS only).
pub const FORBIDDEN_HEADER_PARAMS: &[&str] = &["crit", "jku", "jwk", "x5u", "x5c", "zip", "enc"];

/// The rules a token must pass, besides its signature.
///
/// The JOSE header is an allow-list: `alg` (equal to the key's), optional
/// `kid` and `typ` (one of [`token_types`](Self::token_types)), and only the
/// extra parameters named in [`header_params`](Self::header_params).
///
/// ```
/// use auth_core::Validation;
/// let v = Validation::default().with_issuer("https://auth.example").with_audience("api").with_token_type("at+jwt");
/// assert_eq!(v.leeway, 5);
/// assert_eq!(v.token_types, ["JWT", "at+jwt"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Seconds of clock skew tolerated on `exp`, `nbf`, `iat` and on a
    /// token's lifetime. Default 5.
    pub leeway: i64,
    /// When set, `iss` must be this string.
    pub issuer: Option<String>,
    /// When set, `aud` must be or contain this string. When not set, a
    /// token that carries `aud` at all is refused (RFC 7519 section 4.1.3:
    /// it was meant for someone else).
    pub audience: Option<String>,
    /// Tokens longer than this are refused before decoding. Default 8 KiB.
    pub max_token_len: usize,
    /// The `typ` header values accepted (compared as media types: case
    /// insensitive, `application/` optional). Tokens without `typ` pass.
    /// Issued tokens carry the first. Default `["JWT"]`.
    pub token_types: Vec<String>,
    /// JOSE header parameters accepted besides `alg`, `kid` and `typ`
    /// (their values are not read). Default none. Names in
    /// [`FORBIDDEN_HEADER_PARAMS`] are refused whatever this says.
    pub header_params: Vec<String>,
}

impl Default for Validation {
    fn default() -> Self {
        Self {
            leeway: 5,
            issuer: None,
            audience: None,
            max_token_len: crate::header::MAX_HEADER_LEN,
            token_types: vec!["JWT".to_owned()],
            header_params: Vec::new(),
        }
    }
}

impl Validation {
    /// Requires `iss` to equal `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Requires `aud` to contain `audience`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets the leeway in seconds.
    pub fn with_leeway(mut self, seconds: i64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Also accepts `typ` (such as `at+jwt`, RFC 9068).
    pub fn with_token_type(mut self, typ: impl Into<String>) -> Self {
        self.token_types.push(typ.into());
        self
    }

    /// Also accepts the header parameter `name` (unless it is one of
    /// [`FORBIDDEN_HEADER_PARAMS`]).
    ///
    /// ```
    /// let v = auth_core::Validation::default().with_header_param("cty");
    /// assert_eq!(v.header_params, ["cty"]);
    /// ```
    pub fn with_header_param(mut self, name: impl Into<String>) -> Self {
        self.header_params.push(name.into());
        self
    }

    fn accepts_type(&self, typ: &str) -> bool {
        // A media type without its optional `application/` (RFC 7515 4.1.9).
        fn bare(t: &str) -> &str {
            match t.get(..12) {
                Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &t[12..],
                _ => t,
            }
        }
        let typ = bare(typ);
        self.token_types.iter().any(|t| bare(t).eq_ignore_ascii_case(typ))
    }

    fn accepts_param(&self, name: &str) -> bool {
        !FORBIDDEN_HEADER_PARAMS.contains(&name) && self.header_params.iter().any(|p| p == name)
    }
}

/// The JOSE header, read through the allow-list.
struct RawHeader<'a> {
    alg: Option<Cow<'a, str>>,
    kid: Option<Cow<'a, str>>,
    typ: Option<Cow<'a, str>>,
    /// A parameter outside the allow-list was present.
    forbidden: bool,
}

/// Parses the header in one pass, noting parameters the validation does
/// not allow (their values are only checked for duplicates).
struct HeaderSeed<'v>(&'v Validation);

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_> {
    type Value = RawHeader<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_> {
    type Value = RawHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JOSE header object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut header = RawHeader { alg: None, kid: None, typ: None, forbidden: false };
        let mut others = Seen::default();
        while let Some(Key(name)) = map.next_key()? {
            let slot = match name.as_ref() {
                "alg" => &mut header.alg,
                "kid" => &mut header.kid,
                "typ" => &mut header.typ,
                other => {
                    header.forbidden |= !self.0.accepts_param(other);
                    map.next_value::<Checked>()?;
                    if !others.insert(name.clone()) {
                        return Err(duplicate(&name));
                    }
                    continue;
                }
            };
            if slot.is_some() {
                return Err(duplicate(&name));
            }
            *slot = Some(map.next_value::<Key<'de>>()?.0);
        }
        Ok(header)
    }
}

/// Decodes one base64url segment that must hold UTF-8 JSON text.
fn decode_json_segment(segment: &str) -> Result<String, TokenRejection> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).map_err(|_| TokenRejection::Malformed)?;
    String::from_utf8(bytes).map_err(|_| TokenRejection::Malformed)
}

fn parse_header<'a>(json: &'a str, validation: &Validation) -> Result<RawHeader<'a>, TokenRejection> {
    let mut de = serde_json::Deserializer::from_str(json);
    let header = HeaderSeed(validation).deserialize(&mut de).map_err(|_| TokenRejection::Malformed)?;
    de.end().map_err(|_| TokenRejection::Malformed)?;
    Ok(header)
}

/// A verified token: its claims and its raw JSON payload.
pub(crate) struct Verified {
    pub claims: Claims,
    pub payload: Vec<u8>,
}

/// What to check of the token's time claims.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// `exp` must be in the future (with leeway).
    Enforce,
    /// `exp` is not checked (a just-expired access token presented to refresh).
    Ignore,
}

/// What a caller expects of a token: its use, and the longest lifetime
/// (`exp - iat`, seconds) a token of that use may have.
#[derive(Clone, Copy)]
pub(crate) struct Expect {
    pub token_use: TokenUse,
    /// The claim names this verifier reads (the configured dialect's).
    pub spelling: Spelling,
    pub max_lifetime: i64,
    pub expiry: Expiry,
}

/// Verifies signature and claims.
pub(crate) fn verify(
    keys: &KeySet,
    validation: &Validation,
    token: &str,
    expect: Expect,
    now: i64,
) -> Result<Verified, TokenRejection> {
    if token.len() > validation.max_token_len {
        return Err(TokenRejection::TooLong);
    }
    let (message, signature) = token.rsplit_once('.').ok_or(TokenRejection::Malformed)?;
    let (header_b64, payload_b64) = message.split_once('.').ok_or(TokenRejection::Malformed)?;
    if payload_b64.contains('.') {
        return Err(TokenRejection::Malformed);
    }
    let header_json = decode_json_segment(header_b64)?;
    let header = parse_header(&header_json, validation)?;
    if header.forbidden {
        return Err(TokenRejection::ForbiddenHeader);
    }
    if header.typ.as_deref().is_some_and(|typ| !validation.accepts_type(typ)) {
        return Err(TokenRejection::Type);
    }
    let key = keys.for_token(header.kid.as_deref()).ok_or(TokenRejection::UnknownKey)?;
    if header.alg.as_deref() != Some(key.algorithm_name()) {
        return Err(TokenRejection::Algorithm);
    }
    match jsonwebtoken::crypto::verify(signature, message.as_bytes(), key.decoding(), key.algorithm()) {
        Ok(true) => {}
        _ => return Err(TokenRejection::Signature),
    }
    let payload = decode_json_segment(payload_b64)?;
    let claims = read_claims(&payload, expect.spelling).map_err(|_| TokenRejection::Malformed)?;
    check_claims(&claims, validation, expect, now)?;
    Ok(Verified { claims, payload: payload.into_bytes() })
}

/// The payload's claims, read with the configured spelling only: a token
/// that says what it is for under another dialect's claim name says
/// nothing (and fails the use check), however it was signed.
fn read_claims(payload: &str, spelling: Spelling) -> Result<Claims, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(payload);
    let claims = spelling.deserialize(&mut de)?;
    de.end()?;
    Ok(claims)
}

/// The rules every token of ours obeys, whatever the dialect spells.
fn check_claims(claims: &Claims, v: &Validation, expect: Expect, now: i64) -> Result<(), TokenRejection> {
    // First: the other rules (the lifetime) depend on the use.
    if claims.token_use != Some(expect.token_use) {
        return Err(TokenRejection::WrongUse);
    }
    if claims.sub.is_empty() {
        return Err(TokenRejection::MissingClaim("sub"));
    }
    match claims.jti.as_deref() {
        None => return Err(TokenRejection::MissingClaim("jti")),
        Some(jti) if jti.is_empty() || jti.len() > MAX_JTI_LEN => {
            return Err(TokenRejection::InvalidClaim("jti"));
        }
        Some(_) => {}
    }
    let iat = claims.iat.ok_or(TokenRejection::MissingClaim("iat"))?;
    if iat < 0 {
        return Err(TokenRejection::InvalidClaim("iat"));
    }
    if claims.auth_time.is_some_and(|t| t < 0 || t > iat) {
        return Err(TokenRejection::InvalidClaim("auth_time"));
    }
    check_times(claims, iat, v, expect.expiry, now)?;
    if claims.exp.saturating_sub(iat) > expect.max_lifetime.saturating_add(v.leeway) {
        return Err(TokenRejection::Lifetime);
    }
    if let Some(issuer) = &v.issuer
        && claims.iss.as_deref() != Some(issuer.as_str())
    {
        return Err(TokenRejection::Issuer);
    }
    match (&v.audience, &claims.aud) {
        (Some(audience), Some(aud)) if aud.contains(audience) => {}
        (None, None) => {}
        _ => return Err(TokenRejection::Audience),
    }
    Ok(())
}

/// The rules that depend on the clock: `exp`, `nbf` and `iat` against
/// `now`, with leeway. What a verified-token cache hit still checks on
/// every request.
pub(crate) fn check_times(
    claims: &Claims,
    iat: i64,
    v: &Validation,
    expiry: Expiry,
    now: i64,
) -> Result<(), TokenRejection> {
    if expiry == Expiry::Enforce && now >= claims.exp.saturating_add(v.leeway) {
        return Err(TokenRejection::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(v.leeway)) {
        return Err(TokenRejection::NotYetValid);
    }
    if iat > now.saturating_add(v.leeway) {
        return Err(TokenRejection::IssuedInFuture);
    }
    Ok(())
}

/// Signs `claims` (plus the application's `extra` claims, which never
/// override a registered one) with the key set's signing key.
pub(crate) fn sign(
    keys: &KeySet,
    validation: &Validation,
    claims: &Claims,
    extra: &serde_json::Map<String, serde_json::Value>,
    style: &ClaimStyle,
) -> Result<String, jsonwebtoken::errors::Error> {
    let key = keys.signing_key();
    let mut header = jsonwebtoken::Header::new(key.algorithm());
    header.kid = Some(key.kid().to_owned());
    if let Some(typ) = validation.token_types.first() {
        header.typ = Some(typ.clone());
    }
    let encoding = key.encoding().ok_or_else(|| {
        jsonwebtoken::errors::Error::from(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat)
    })?;
    if extra.is_empty() && *style == ClaimStyle::default() {
        return jsonwebtoken::encode(&header, claims, encoding);
    }
    let mut value = serde_json::to_value(claims)?;
    if let Some(map) = value.as_object_mut() {
        style.apply(claims, map);
        for (k, v) in extra {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    jsonwebtoken::encode(&header, &value, encoding)
}
