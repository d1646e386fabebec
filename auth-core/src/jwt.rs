//! Strict JWT encoding and verification.
//!
//! jsonwebtoken's own `decode` is loose by default (60 s leeway, `nbf` and
//! `iat` unchecked, wrong-typed `iss`/`aud` treated as absent, `crit` and
//! key-carrying headers ignored, no size cap). We use its crypto to check
//! the signature once, parse header and claims once into strict types, and
//! check every rule ourselves.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::authority::ClaimStyle;
use crate::claims::{Claims, TokenUse};
use crate::error::TokenRejection;
use crate::keys::KeySet;

/// The rules a token must pass, besides its signature.
///
/// ```
/// use auth_core::Validation;
/// let v = Validation::default().with_issuer("https://auth.example").with_audience("api");
/// assert_eq!(v.leeway, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`. Default 5.
    pub leeway: i64,
    /// When set, `iss` must be this string.
    pub issuer: Option<String>,
    /// When set, `aud` must be or contain this string.
    pub audience: Option<String>,
    /// Tokens longer than this are refused before decoding. Default 8 KiB.
    pub max_token_len: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Self { leeway: 5, issuer: None, audience: None, max_token_len: crate::header::MAX_HEADER_LEN }
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
}

/// The header fields we read. The key-carrying and critical parameters are
/// only noticed, so that their presence can be refused.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow, default)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
    #[serde(default)]
    jku: Option<IgnoredAny>,
    #[serde(default)]
    x5u: Option<IgnoredAny>,
    #[serde(default)]
    x5c: Option<IgnoredAny>,
    #[serde(default)]
    jwk: Option<IgnoredAny>,
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

/// Verifies signature and claims. `expected` is the use the caller accepts.
pub(crate) fn verify(
    keys: &KeySet,
    validation: &Validation,
    token: &str,
    expected: TokenUse,
    expiry: Expiry,
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
    let header_json = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| TokenRejection::Malformed)?;
    let header: RawHeader<'_> =
        serde_json::from_slice(&header_json).map_err(|_| TokenRejection::Malformed)?;
    if header.crit.is_some()
        || header.jku.is_some()
        || header.x5u.is_some()
        || header.x5c.is_some()
        || header.jwk.is_some()
    {
        return Err(TokenRejection::ForbiddenHeader);
    }
    let key = keys.for_token(header.kid.as_deref()).ok_or(TokenRejection::UnknownKey)?;
    if header.alg != key.algorithm_name() {
        return Err(TokenRejection::Algorithm);
    }
    match jsonwebtoken::crypto::verify(signature, message.as_bytes(), key.decoding(), key.algorithm()) {
        Ok(true) => {}
        _ => return Err(TokenRejection::Signature),
    }
    let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| TokenRejection::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenRejection::Malformed)?;
    check_claims(&claims, validation, expected, expiry, now)?;
    Ok(Verified { claims, payload })
}

fn check_claims(
    claims: &Claims,
    v: &Validation,
    expected: TokenUse,
    expiry: Expiry,
    now: i64,
) -> Result<(), TokenRejection> {
    if expiry == Expiry::Enforce && now >= claims.exp.saturating_add(v.leeway) {
        return Err(TokenRejection::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(v.leeway)) {
        return Err(TokenRejection::NotYetValid);
    }
    if claims.iat.is_some_and(|iat| iat > now.saturating_add(v.leeway)) {
        return Err(TokenRejection::IssuedInFuture);
    }
    if let Some(issuer) = &v.issuer {
        if claims.iss.as_deref() != Some(issuer.as_str()) {
            return Err(TokenRejection::Issuer);
        }
    }
    if let Some(audience) = &v.audience {
        if !claims.aud.as_ref().is_some_and(|aud| aud.contains(audience)) {
            return Err(TokenRejection::Audience);
        }
    }
    if claims.token_use != Some(expected) {
        return Err(TokenRejection::WrongUse);
    }
    Ok(())
}

/// Signs `claims` (plus the application's `extra` claims, which never
/// override a registered one) with the key set's signing key.
pub(crate) fn sign(
    keys: &KeySet,
    claims: &Claims,
    extra: &serde_json::Map<String, serde_json::Value>,
    style: &ClaimStyle,
) -> Result<String, jsonwebtoken::errors::Error> {
    let key = keys.signing_key();
    let mut header = jsonwebtoken::Header::new(key.algorithm());
    header.kid = Some(key.kid().to_owned());
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

impl ClaimStyle {
    /// Renames and adds claims in a serialized token payload.
    fn apply(&self, claims: &Claims, map: &mut serde_json::Map<String, serde_json::Value>) {
        let rename = |map: &mut serde_json::Map<String, serde_json::Value>, from: &str, to: &str| {
            if from != to {
                if let Some(v) = map.remove(from) {
                    map.insert(to.to_owned(), v);
                }
            }
        };
        rename(map, "token_use", self.token_use);
        rename(map, "auth_time", self.auth_time);
        if self.exi {
            let lifetime = claims.exp - claims.iat.unwrap_or(claims.exp);
            map.insert("exi".into(), lifetime.into());
        }
        if self.user_id {
            let id =
                claims.sub.parse::<i64>().map_or_else(|_| claims.sub.clone().into(), serde_json::Value::from);
            map.insert("user_id".into(), id);
        }
    }
}
