//! Signing and verification keys.
//!
//! A [`KeySet`] holds one signing key and any number of verification keys,
//! each named by a `kid` and bound to exactly one [`Algorithm`]. A token's
//! algorithm is never taken from the token: the `kid` in its header picks a
//! key, and the token's `alg` must equal that key's algorithm.
//!
//! ```
//! use auth_core::{JwtKey, KeySet};
//! let current = JwtKey::hs256("2024-06", b"a-secret-of-at-least-32-bytes!!!").unwrap();
//! let previous = JwtKey::hs256("2024-01", b"the-old-secret-of-32-bytes-or-so").unwrap();
//! let keys = KeySet::new(current).unwrap().with_verification_key(previous);
//! assert_eq!(keys.signing_key().kid(), "2024-06");
//! assert!(keys.get("2024-01").is_some());
//! ```

use std::collections::HashMap;
use std::sync::Arc;

pub use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey};

/// The shortest HMAC secret accepted, in bytes.
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// Why a key could not be built.
///
/// ```
/// use auth_core::{JwtKey, KeyError};
/// assert!(matches!(JwtKey::hs256("k", b"short"), Err(KeyError::SecretTooShort { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An HMAC secret shorter than [`MIN_HMAC_SECRET_LEN`].
    #[error("HMAC secrets must be at least {min} bytes, got {len}")]
    SecretTooShort {
        /// The required minimum.
        min: usize,
        /// The length given.
        len: usize,
    },
    /// The algorithm does not fit the key material (e.g. HS256 with an RSA key).
    #[error("algorithm {0:?} does not fit this kind of key")]
    WrongAlgorithm(Algorithm),
    /// The signing key of a [`KeySet`] holds no private material.
    #[error("key `{0}` cannot sign: a key set's signing key needs its private half")]
    CannotSign(String),
    /// The signing key was asked to be removed from its own key set.
    #[error("key `{0}` signs new tokens: it cannot be removed from its key set")]
    SigningKey(String),
    /// An RSA private key with the RustCrypto backend: its `rsa` crate has
    /// a timing side channel on private-key operations (RUSTSEC-2023-0071,
    /// "Marvin"), so RSA signing keys need the `aws_lc_rs` feature.
    /// Verification-only RSA keys are fine on either backend.
    #[error("RSA signing keys need the `aws_lc_rs` feature (RustCrypto's RSA has a timing side channel)")]
    RsaNeedsAwsLc,
    /// The PEM could not be read.
    #[error("invalid key material: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

/// One key: a `kid`, exactly one algorithm, a verification half and, for
/// the signing key, a signing half.
#[derive(Clone)]
pub struct JwtKey {
    kid: Arc<str>,
    alg: Algorithm,
    alg_name: &'static str,
    encoding: Option<Arc<EncodingKey>>,
    decoding: Arc<DecodingKey>,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

impl JwtKey {
    /// An HMAC key (`HS256`, `HS384` or `HS512`). Secrets under 32 bytes are refused.
    ///
    /// ```
    /// use auth_core::{Algorithm, JwtKey};
    /// let key = JwtKey::hmac("main", Algorithm::HS512, &[7u8; 64]).unwrap();
    /// assert_eq!(key.algorithm(), Algorithm::HS512);
    /// ```
    pub fn hmac(kid: &str, alg: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        if !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return Err(KeyError::WrongAlgorithm(alg));
        }
        if secret.len() < MIN_HMAC_SECRET_LEN {
            return Err(KeyError::SecretTooShort { min: MIN_HMAC_SECRET_LEN, len: secret.len() });
        }
        Self::build(kid, alg, Some(EncodingKey::from_secret(secret)), DecodingKey::from_secret(secret))
    }

    /// Shorthand for an `HS256` key.
    ///
    /// ```
    /// assert!(auth_core::JwtKey::hs256("k", &[1u8; 32]).is_ok());
    /// ```
    pub fn hs256(kid: &str, secret: &[u8]) -> Result<Self, KeyError> {
        Self::hmac(kid, Algorithm::HS256, secret)
    }

    /// An asymmetric key pair from PEM: `private_pem` signs, `public_pem`
    /// verifies. `alg` is one of RS256/384/512, PS256/384/512, ES256/384, EdDSA.
    ///
    /// ```no_run
    /// use auth_core::{Algorithm, JwtKey};
    /// let key = JwtKey::pem_pair("rsa-1", Algorithm::RS256, b"-----BEGIN PRIVATE KEY-----...", b"-----BEGIN PUBLIC KEY-----...");
    /// ```
    pub fn pem_pair(
        kid: &str,
        alg: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, KeyError> {
        let encoding = private_key(alg, private_pem)?;
        let mut key = Self::public_pem(kid, alg, public_pem)?;
        key.encoding = Some(Arc::new(encoding));
        Ok(key)
    }

    /// A signing key from its private PEM alone (PKCS#8, or SEC1 for EC):
    /// the public half is derived from it, and the `kid` is the RFC 7638
    /// thumbprint of the public key (SHA-256), so the same PEM always gets
    /// the same `kid`. `alg` is ES256, ES384, EdDSA, or (with the
    /// `aws_lc_rs` feature) RS256/384/512 and PS256/384/512.
    ///
    /// ```
    /// use auth_core::{Algorithm, JwtKey};
    /// let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/ec_private.pem")).unwrap();
    /// let key = JwtKey::private_pem(Algorithm::ES256, &pem).unwrap();
    /// assert!(key.can_sign());
    /// assert_eq!(key.kid(), JwtKey::private_pem(Algorithm::ES256, &pem).unwrap().kid());
    /// ```
    pub fn private_pem(alg: Algorithm, private_pem: &[u8]) -> Result<Self, KeyError> {
        crate::crypto::ensure_provider();
        let encoding = private_key(alg, private_pem)?;
        let mut public = Jwk::from_encoding_key(&encoding, alg)?;
        public.common = Default::default();
        let kid = public.thumbprint(ThumbprintHash::SHA256)?;
        let decoding = DecodingKey::from_jwk(&public)?;
        Self::build(&kid, alg, Some(encoding), decoding)
    }

    /// A verification-only key from a JWK (another issuer's published key).
    /// The algorithm is the JWK's `alg`, or `fallback` when the JWK has
    /// none; either way it must fit the key type, and HMAC (`oct`) keys
    /// are refused: a published key is never a shared secret.
    ///
    /// ```
    /// use auth_core::{Algorithm, JwtKey};
    /// let json = r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed-1","alg":"EdDSA"}"#;
    /// let jwk = serde_json::from_str(json).unwrap();
    /// let key = JwtKey::from_jwk(&jwk, None).unwrap();
    /// assert_eq!((key.kid(), key.algorithm()), ("ed-1", Algorithm::EdDSA));
    /// ```
    pub fn from_jwk(jwk: &Jwk, fallback: Option<Algorithm>) -> Result<Self, KeyError> {
        use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
        let declared = match jwk.common.key_algorithm {
            Some(alg) => Some(alg.to_string().parse::<Algorithm>()?),
            None => None,
        };
        // The key type decides the family; `alg` (declared, or the
        // fallback) must belong to it.
        let fits = |alg: Algorithm| match (&jwk.algorithm, family(alg)) {
            (AlgorithmParameters::RSA(_), Ok(Family::Rsa)) => true,
            (AlgorithmParameters::EllipticCurve(p), Ok(Family::Ec)) => matches!(
                (p.curve.clone(), alg),
                (EllipticCurve::P256, Algorithm::ES256) | (EllipticCurve::P384, Algorithm::ES384)
            ),
            (AlgorithmParameters::OctetKeyPair(p), Ok(Family::Ed)) => p.curve == EllipticCurve::Ed25519,
            _ => false,
        };
        let alg = declared.or(fallback).or_else(|| match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Some(Algorithm::ES256),
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P384 => Some(Algorithm::ES384),
            AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
            _ => None,
        });
        let alg = alg.ok_or(KeyError::WrongAlgorithm(Algorithm::HS256))?;
        if !fits(alg) {
            return Err(KeyError::WrongAlgorithm(alg));
        }
        crate::crypto::ensure_provider();
        let kid = jwk.common.key_id.as_deref().unwrap_or_default();
        Self::build(kid, alg, None, DecodingKey::from_jwk(jwk)?)
    }

    /// The verification keys a published JWK stands for, for an issuer that
    /// allows `allowed`: one [`JwtKey`] per algorithm the JWK may verify with.
    ///
    /// - A JWK with `alg`: that algorithm alone (it must fit the key type;
    ///   whether the issuer allows it is checked per token).
    /// - A JWK without `alg` (Microsoft Entra ID publishes its RSA keys
    ///   so): each algorithm of `allowed` that fits the key type: RS256,
    ///   RS384, RS512, PS256, PS384, PS512 for an RSA key; the curve's one
    ///   for EC (ES256 for P-256, ES384 for P-384); EdDSA for Ed25519.
    ///
    /// Never HMAC: an `oct` JWK is refused, and an HMAC algorithm in
    /// `allowed` is ignored. No fitting algorithm is
    /// [`KeyError::WrongAlgorithm`].
    ///
    /// ```
    /// use auth_core::{Algorithm, JwtKey};
    /// let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/rsa_public.pem")).unwrap();
    /// let mut jwk = JwtKey::public_pem("rsa-1", Algorithm::RS256, &pem).unwrap().public_jwk().unwrap();
    /// jwk.common.key_algorithm = None; // as Entra ID publishes it
    /// let allowed = [Algorithm::RS256, Algorithm::PS256, Algorithm::ES256, Algorithm::HS256];
    /// let keys = JwtKey::from_jwk_for(&jwk, &allowed).unwrap();
    /// let algs: Vec<Algorithm> = keys.iter().map(JwtKey::algorithm).collect();
    /// assert_eq!(algs, [Algorithm::RS256, Algorithm::PS256]);
    /// assert!(JwtKey::from_jwk_for(&jwk, &[Algorithm::ES256, Algorithm::HS256]).is_err());
    /// ```
    pub fn from_jwk_for(jwk: &Jwk, allowed: &[Algorithm]) -> Result<Vec<Self>, KeyError> {
        if jwk.common.key_algorithm.is_some() {
            return Ok(vec![Self::from_jwk(jwk, None)?]);
        }
        if matches!(jwk.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)) {
            return Err(KeyError::WrongAlgorithm(Algorithm::HS256));
        }
        let mut keys: Vec<Self> = Vec::new();
        for &alg in allowed {
            if family(alg).is_err() || keys.iter().any(|k| k.alg == alg) {
                continue; // HMAC, or listed twice
            }
            if let Ok(key) = Self::from_jwk(jwk, Some(alg)) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            let first = allowed.first().copied().unwrap_or(Algorithm::HS256);
            return Err(KeyError::WrongAlgorithm(first));
        }
        Ok(keys)
    }

    /// The public half as a JWK (`kid`, `alg`, `use: sig`), for publishing;
    /// `None` for HMAC keys, whose secret must never be published.
    ///
    /// ```
    /// use auth_core::{Algorithm, JwtKey};
    /// let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/ec_private.pem")).unwrap();
    /// let jwk = JwtKey::private_pem(Algorithm::ES256, &pem).unwrap().public_jwk().unwrap();
    /// assert_eq!(serde_json::to_value(&jwk).unwrap()["kty"], "EC");
    /// assert!(JwtKey::hs256("k", &[1u8; 32]).unwrap().public_jwk().is_none());
    /// ```
    pub fn public_jwk(&self) -> Option<Jwk> {
        if family(self.alg).is_err() {
            return None;
        }
        let mut jwk = Jwk::from_decoding_key(&self.decoding, Some(self.alg)).ok()?;
        jwk.common.key_id = Some(self.kid.to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Some(jwk)
    }

    /// A verification-only asymmetric key from a public PEM (a key another
    /// service signs with, or a retired key of ours).
    ///
    /// ```no_run
    /// use auth_core::{Algorithm, JwtKey};
    /// let key = JwtKey::public_pem("idp", Algorithm::ES256, b"-----BEGIN PUBLIC KEY-----...");
    /// ```
    pub fn public_pem(kid: &str, alg: Algorithm, public_pem: &[u8]) -> Result<Self, KeyError> {
        let decoding = match family(alg)? {
            Family::Rsa => DecodingKey::from_rsa_pem(public_pem)?,
            Family::Ec => DecodingKey::from_ec_pem(public_pem)?,
            Family::Ed => DecodingKey::from_ed_pem(public_pem)?,
        };
        Self::build(kid, alg, None, decoding)
    }

    fn build(
        kid: &str,
        alg: Algorithm,
        encoding: Option<EncodingKey>,
        decoding: DecodingKey,
    ) -> Result<Self, KeyError> {
        crate::crypto::ensure_provider();
        Ok(Self {
            kid: kid.into(),
            alg,
            alg_name: alg_name(alg).ok_or(KeyError::WrongAlgorithm(alg))?,
            encoding: encoding.map(Arc::new),
            decoding: Arc::new(decoding),
        })
    }

    /// The key id, written into the `kid` header of tokens it signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key is used with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The JOSE name of the algorithm (`"HS256"`).
    pub fn algorithm_name(&self) -> &'static str {
        self.alg_name
    }

    /// Whether this key can sign (it holds private material).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_deref()
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }
}

fn private_key(alg: Algorithm, pem: &[u8]) -> Result<EncodingKey, KeyError> {
    Ok(match family(alg)? {
        Family::Rsa if cfg!(not(feature = "aws_lc_rs")) => return Err(KeyError::RsaNeedsAwsLc),
        Family::Rsa => EncodingKey::from_rsa_pem(pem)?,
        Family::Ec => EncodingKey::from_ec_pem(pem)?,
        Family::Ed => EncodingKey::from_ed_pem(pem)?,
    })
}

enum Family {
    Rsa,
    Ec,
    Ed,
}

fn family(alg: Algorithm) -> Result<Family, KeyError> {
    use Algorithm::*;
    match alg {
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => Ok(Family::Rsa),
        ES256 | ES384 => Ok(Family::Ec),
        EdDSA => Ok(Family::Ed),
        _ => Err(KeyError::WrongAlgorithm(alg)),
    }
}

fn alg_name(alg: Algorithm) -> Option<&'static str> {
    use Algorithm::*;
    Some(match alg {
        HS256 => "HS256",
        HS384 => "HS384",
        HS512 => "HS512",
        RS256 => "RS256",
        RS384 => "RS384",
        RS512 => "RS512",
        PS256 => "PS256",
        PS384 => "PS384",
        PS512 => "PS512",
        ES256 => "ES256",
        ES384 => "ES384",
        EdDSA => "EdDSA",
        _ => return None,
    })
}

/// The keys an authority signs and verifies with. Cheap to clone.
#[derive(Clone, Debug)]
pub struct KeySet {
    signing: JwtKey,
    by_kid: Arc<HashMap<Arc<str>, JwtKey>>,
}

impl KeySet {
    /// A key set that signs with `signing` and verifies with it. A key
    /// without private material is refused here, at start-up, rather than
    /// failing every login later.
    ///
    /// ```
    /// use auth_core::{Algorithm, JwtKey, KeyError, KeySet};
    /// let keys = KeySet::new(JwtKey::hs256("k1", &[9u8; 32]).unwrap()).unwrap();
    /// assert_eq!(keys.signing_key().kid(), "k1");
    /// let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/ec_public.pem")).unwrap();
    /// let public_only = JwtKey::public_pem("idp", Algorithm::ES256, &pem).unwrap();
    /// assert!(matches!(KeySet::new(public_only), Err(KeyError::CannotSign(_))));
    /// ```
    pub fn new(signing: JwtKey) -> Result<Self, KeyError> {
        if !signing.can_sign() {
            return Err(KeyError::CannotSign(signing.kid().to_owned()));
        }
        let mut by_kid = HashMap::new();
        by_kid.insert(signing.kid.clone(), signing.clone());
        Ok(Self { signing, by_kid: Arc::new(by_kid) })
    }

    /// A key set from keys listed newest first: the first signs new
    /// tokens, the others (retired, still trusted) only verify, until they
    /// are removed.
    ///
    /// ```
    /// use auth_core::{JwtKey, KeySet};
    /// let keys = KeySet::newest_first(vec![
    ///     JwtKey::hs256("2024-06", &[1u8; 32]).unwrap(),
    ///     JwtKey::hs256("2024-01", &[2u8; 32]).unwrap(),
    /// ]).unwrap();
    /// assert_eq!(keys.signing_key().kid(), "2024-06");
    /// assert!(keys.get("2024-01").is_some());
    /// ```
    pub fn newest_first(keys: Vec<JwtKey>) -> Result<Self, KeyError> {
        let mut keys = keys.into_iter();
        let newest = keys.next().ok_or_else(|| KeyError::CannotSign(String::new()))?;
        Ok(keys.fold(Self::new(newest)?, Self::with_verification_key))
    }

    /// Rotation: `newest` signs from now on; the previous signing key stays
    /// in the set and keeps verifying the tokens it signed until it is
    /// removed ([`without_key`](Self::without_key)).
    ///
    /// ```
    /// use auth_core::{JwtKey, KeySet};
    /// let keys = KeySet::new(JwtKey::hs256("old", &[1u8; 32]).unwrap()).unwrap();
    /// let keys = keys.rotated(JwtKey::hs256("new", &[2u8; 32]).unwrap()).unwrap();
    /// assert_eq!(keys.signing_key().kid(), "new");
    /// assert!(keys.get("old").is_some());
    /// ```
    pub fn rotated(&self, newest: JwtKey) -> Result<Self, KeyError> {
        if !newest.can_sign() {
            return Err(KeyError::CannotSign(newest.kid().to_owned()));
        }
        let mut keys = self.clone();
        Arc::make_mut(&mut keys.by_kid).insert(newest.kid.clone(), newest.clone());
        keys.signing = newest;
        Ok(keys)
    }

    /// The public keys as a JWK Set (`{"keys": [...]}`), for
    /// `/.well-known/jwks.json`: asymmetric keys only, newest (the signing
    /// key) first; HMAC secrets are never included.
    ///
    /// ```
    /// use auth_core::{JwtKey, KeySet};
    /// let keys = KeySet::new(JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap();
    /// assert!(keys.public_jwks().keys.is_empty());
    /// ```
    pub fn public_jwks(&self) -> JwkSet {
        let mut rest: Vec<&JwtKey> = self.by_kid.values().filter(|k| k.kid != self.signing.kid).collect();
        rest.sort_by(|a, b| a.kid.cmp(&b.kid));
        let keys = std::iter::once(&self.signing).chain(rest).filter_map(JwtKey::public_jwk).collect();
        JwkSet { keys }
    }

    /// Adds a key that verifies but does not sign (rotation: tokens signed
    /// by a previous key stay valid until they expire).
    pub fn with_verification_key(mut self, key: JwtKey) -> Self {
        Arc::make_mut(&mut self.by_kid).insert(key.kid.clone(), key);
        self
    }

    /// This set without the key `kid` (rotation: a retired key's tokens
    /// stop verifying). The signing key cannot be removed: make another
    /// key the signing key first.
    ///
    /// ```
    /// use auth_core::{JwtKey, KeyError, KeySet};
    /// let keys = KeySet::new(JwtKey::hs256("new", &[1u8; 32]).unwrap()).unwrap()
    ///     .with_verification_key(JwtKey::hs256("old", &[2u8; 32]).unwrap());
    /// let keys = keys.without_key("old").unwrap();
    /// assert!(keys.get("old").is_none());
    /// assert!(matches!(keys.without_key("new"), Err(KeyError::SigningKey(_))));
    /// ```
    pub fn without_key(&self, kid: &str) -> Result<Self, KeyError> {
        if kid == self.signing.kid() {
            return Err(KeyError::SigningKey(kid.to_owned()));
        }
        let mut keys = self.clone();
        Arc::make_mut(&mut keys.by_kid).remove(kid);
        Ok(keys)
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> &JwtKey {
        &self.signing
    }

    /// The key a `kid` names. A token without `kid` is checked against the
    /// signing key.
    pub fn get(&self, kid: &str) -> Option<&JwtKey> {
        self.by_kid.get(kid)
    }

    pub(crate) fn for_token(&self, kid: Option<&str>) -> Option<&JwtKey> {
        match kid {
            Some(kid) => self.get(kid),
            None => Some(&self.signing),
        }
    }
}
