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

mod error;
mod family;
mod jwk;
mod key;
mod set;

pub use jsonwebtoken::Algorithm;

pub use error::KeyError;
pub use key::JwtKey;
pub use set::KeySet;

/// The shortest HMAC secret accepted, in bytes.
pub const MIN_HMAC_SECRET_LEN: usize = 32;
