//! [`JwtKey`] and JSON Web Keys: a verification key from a published JWK,
//! and a key's public half as one.

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};

use super::family::{Family, family};
use super::{Algorithm, JwtKey, KeyError};

impl JwtKey {
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
}
