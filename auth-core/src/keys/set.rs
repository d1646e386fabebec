//! [`KeySet`]: the signing key and the verification keys, by `kid`, and
//! their rotation.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::JwkSet;

use super::{JwtKey, KeyError};

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
