//! [`JwtKey`]: one key, its algorithm and its halves, built from an HMAC
//! secret or from PEM.

use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey};

use super::family::{Family, alg_name, family, private_key};
use super::{Algorithm, KeyError, MIN_HMAC_SECRET_LEN};

/// One key: a `kid`, exactly one algorithm, a verification half and, for
/// the signing key, a signing half.
#[derive(Clone)]
pub struct JwtKey {
    pub(super) kid: Arc<str>,
    pub(super) alg: Algorithm,
    alg_name: &'static str,
    encoding: Option<Arc<EncodingKey>>,
    pub(super) decoding: Arc<DecodingKey>,
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

    pub(super) fn build(
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
