//! Signing and verification keys.
//!
//! A [`KeySet`] holds one signing key and any number of verification keys,
//! each named by a `kid` and bound to exactly one [`Algorithm`]. A token's
//! algorithm is never taken from the token: the `kid` in its header picks a
//! key, and the token's `alg` must equal that key's algorithm.
//!
//! ```
//! use auth_core::{Key, KeySet};
//! let current = Key::hs256("2024-06", b"a-secret-of-at-least-32-bytes!!!").unwrap();
//! let previous = Key::hs256("2024-01", b"the-old-secret-of-32-bytes-or-so").unwrap();
//! let keys = KeySet::new(current).unwrap().with_verification_key(previous);
//! assert_eq!(keys.signing_key().kid(), "2024-06");
//! assert!(keys.get("2024-01").is_some());
//! ```

use std::collections::HashMap;
use std::sync::Arc;

pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{DecodingKey, EncodingKey};

/// The shortest HMAC secret accepted, in bytes.
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// Why a key could not be built.
///
/// ```
/// use auth_core::{Key, KeyError};
/// assert!(matches!(Key::hs256("k", b"short"), Err(KeyError::SecretTooShort { .. })));
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
    /// The PEM could not be read.
    #[error("invalid key material: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

/// One key: a `kid`, exactly one algorithm, a verification half and, for
/// the signing key, a signing half.
#[derive(Clone)]
pub struct Key {
    kid: Arc<str>,
    alg: Algorithm,
    alg_name: &'static str,
    encoding: Option<Arc<EncodingKey>>,
    decoding: Arc<DecodingKey>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HMAC key (`HS256`, `HS384` or `HS512`). Secrets under 32 bytes are refused.
    ///
    /// ```
    /// use auth_core::{Algorithm, Key};
    /// let key = Key::hmac("main", Algorithm::HS512, &[7u8; 64]).unwrap();
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
    /// assert!(auth_core::Key::hs256("k", &[1u8; 32]).is_ok());
    /// ```
    pub fn hs256(kid: &str, secret: &[u8]) -> Result<Self, KeyError> {
        Self::hmac(kid, Algorithm::HS256, secret)
    }

    /// An asymmetric key pair from PEM: `private_pem` signs, `public_pem`
    /// verifies. `alg` is one of RS256/384/512, PS256/384/512, ES256/384, EdDSA.
    ///
    /// ```no_run
    /// use auth_core::{Algorithm, Key};
    /// let key = Key::pem_pair("rsa-1", Algorithm::RS256, b"-----BEGIN PRIVATE KEY-----...", b"-----BEGIN PUBLIC KEY-----...");
    /// ```
    pub fn pem_pair(
        kid: &str,
        alg: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, KeyError> {
        let encoding = match family(alg)? {
            Family::Rsa => EncodingKey::from_rsa_pem(private_pem)?,
            Family::Ec => EncodingKey::from_ec_pem(private_pem)?,
            Family::Ed => EncodingKey::from_ed_pem(private_pem)?,
        };
        let mut key = Self::public_pem(kid, alg, public_pem)?;
        key.encoding = Some(Arc::new(encoding));
        Ok(key)
    }

    /// A verification-only asymmetric key from a public PEM (a key another
    /// service signs with, or a retired key of ours).
    ///
    /// ```no_run
    /// use auth_core::{Algorithm, Key};
    /// let key = Key::public_pem("idp", Algorithm::ES256, b"-----BEGIN PUBLIC KEY-----...");
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
    signing: Key,
    by_kid: Arc<HashMap<Arc<str>, Key>>,
}

impl KeySet {
    /// A key set that signs with `signing` and verifies with it. A key
    /// without private material is refused here, at start-up, rather than
    /// failing every login later.
    ///
    /// ```
    /// use auth_core::{Algorithm, Key, KeyError, KeySet};
    /// let keys = KeySet::new(Key::hs256("k1", &[9u8; 32]).unwrap()).unwrap();
    /// assert_eq!(keys.signing_key().kid(), "k1");
    /// let pem = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/ec_public.pem")).unwrap();
    /// let public_only = Key::public_pem("idp", Algorithm::ES256, &pem).unwrap();
    /// assert!(matches!(KeySet::new(public_only), Err(KeyError::CannotSign(_))));
    /// ```
    pub fn new(signing: Key) -> Result<Self, KeyError> {
        if !signing.can_sign() {
            return Err(KeyError::CannotSign(signing.kid().to_owned()));
        }
        let mut by_kid = HashMap::new();
        by_kid.insert(signing.kid.clone(), signing.clone());
        Ok(Self { signing, by_kid: Arc::new(by_kid) })
    }

    /// Adds a key that verifies but does not sign (rotation: tokens signed
    /// by a previous key stay valid until they expire).
    pub fn with_verification_key(mut self, key: Key) -> Self {
        Arc::make_mut(&mut self.by_kid).insert(key.kid.clone(), key);
        self
    }

    /// This set without the key `kid` (rotation: a retired key's tokens
    /// stop verifying). The signing key cannot be removed: make another
    /// key the signing key first.
    ///
    /// ```
    /// use auth_core::{Key, KeyError, KeySet};
    /// let keys = KeySet::new(Key::hs256("new", &[1u8; 32]).unwrap()).unwrap()
    ///     .with_verification_key(Key::hs256("old", &[2u8; 32]).unwrap());
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
    pub fn signing_key(&self) -> &Key {
        &self.signing
    }

    /// The key a `kid` names. A token without `kid` is checked against the
    /// signing key.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.by_kid.get(kid)
    }

    pub(crate) fn for_token(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => self.get(kid),
            None => Some(&self.signing),
        }
    }
}
