//! [`KeyError`]: why a key or a key set could not be built.

use super::Algorithm;

/// Why a key could not be built.
///
/// ```
/// use auth_core::{JwtKey, KeyError};
/// assert!(matches!(JwtKey::hs256("k", b"short"), Err(KeyError::SecretTooShort { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An HMAC secret shorter than [`MIN_HMAC_SECRET_LEN`](super::MIN_HMAC_SECRET_LEN).
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
    /// The signing key of a [`KeySet`](super::KeySet) holds no private material.
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
