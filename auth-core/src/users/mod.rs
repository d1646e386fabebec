//! Checking passwords and loading principals.
//!
//! The application implements [`UserStore`]; [`MemoryUsers`] is an
//! in-memory implementation with argon2id hashes for examples and tests.
//! Hashing never runs on the async executor, and
//! an unknown user costs one hash too, so timing does not tell whether a
//! user exists. Hashing runs on a bounded [`HashingPool`]: when its queue
//! (and its waiting room, if it has one) is full a login is refused (503,
//! `Retry-After`) without hashing.
//!
//! Files: `store` (the [`UserStore`] trait, [`Registration`],
//! [`UserStoreError::backend`]), `password` (the hashing helpers a store
//! uses: [`hash_password`], [`hash_password_async`],
//! [`verify_password_hash`], [`verify_password_hash_or_dummy`]), `memory`
//! ([`MemoryUsers`]).

use serde::{Deserialize, Serialize};

mod memory;
mod password;
mod store;
#[cfg(test)]
mod tests;

pub use crate::error::UserStoreError;
pub use crate::hashing::{HashingPool, HashingPriority};
pub use memory::MemoryUsers;
pub use password::{
    hash_password, hash_password_async, password_hash_needs_rehash, verify_password_hash,
    verify_password_hash_or_dummy,
};
pub use store::{Registration, UserStore};

/// Who a token is issued to.
///
/// ```
/// let p = auth_core::Principal::new("42", "alice").with_role("admin");
/// assert_eq!(p.roles, vec!["admin".to_string()]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Principal {
    /// Stable id; becomes the `sub` claim.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Roles, copied into the `roles` claim.
    pub roles: Vec<String>,
    /// Free-form data the application wants in its tokens.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Principal {
    /// A principal with no roles and no extra data.
    pub fn new(id: impl Into<String>, username: impl Into<String>) -> Self {
        Self { id: id.into(), username: username.into(), ..Self::default() }
    }

    /// Adds a role.
    pub fn with_role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Adds roles, in order (after any it has): the roles column or table
    /// a store reads, in one call.
    ///
    /// ```
    /// let p = auth_core::Principal::new("42", "alice").with_role("user").with_roles(["admin", "audit"]);
    /// assert_eq!(p.roles, ["user", "admin", "audit"]);
    /// let from_db: Vec<String> = vec!["viewer".into()];
    /// assert_eq!(auth_core::Principal::new("7", "bob").with_roles(from_db).roles, ["viewer"]);
    /// ```
    pub fn with_roles<I>(mut self, roles: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }
}

/// The default canonical username: Unicode NFKC (so `é` composed and
/// decomposed, or a fullwidth `ａ`, are one name), lower case, trimmed,
/// runs of whitespace as one space.
pub(crate) fn canonical(username: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    let folded: String = username.nfkc().collect::<String>().to_lowercase().nfkc().collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `username` may name an account: once trimmed, 1 to 256 bytes,
/// and no control character, no whitespace but the plain space, no
/// invisible formatting character (zero-width spaces and joiners,
/// direction marks, soft hyphens, variation selectors, tags...). Such
/// characters let two names that print alike name two accounts, and some
/// databases refuse them outright (PostgreSQL and `\0`). Sign-ups should
/// refuse what this refuses, and a login with such a name is a login of
/// nobody ([`MemoryUsers`] and the SQL store example do both). Names that
/// only look alike in another script (Cyrillic `а`) pass: fold them in your
/// [`UserStore::canonical_username`] if your users need that.
///
/// ```
/// use auth_core::is_acceptable_username;
/// assert!(is_acceptable_username("ann@example.com"));
/// assert!(is_acceptable_username(" José Núñez "));
/// for bad in ["", "   ", "ann\0", "an\u{200B}n", "ann\u{00A0}x", "ann\nx", "\u{202E}nna"] {
///     assert!(!is_acceptable_username(bad), "{bad:?}");
/// }
/// ```
pub fn is_acceptable_username(username: &str) -> bool {
    let name = username.trim();
    !name.is_empty()
        && name.len() <= 256
        && name.chars().all(|c| c == ' ' || !(c.is_whitespace() || c.is_control() || invisible(c)))
}

/// Characters that print as nothing (Unicode's default-ignorable code
/// points), as inclusive ranges.
#[rustfmt::skip]
const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'), ('\u{034F}', '\u{034F}'), ('\u{061C}', '\u{061C}'), ('\u{115F}', '\u{1160}'),
    ('\u{17B4}', '\u{17B5}'), ('\u{180B}', '\u{180F}'), ('\u{200B}', '\u{200F}'), ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{206F}'), ('\u{3164}', '\u{3164}'), ('\u{FE00}', '\u{FE0F}'), ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFA0}', '\u{FFA0}'), ('\u{FFF0}', '\u{FFF8}'), ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'), ('\u{E0000}', '\u{E0FFF}'), ('\u{2800}', '\u{2800}'),
];

fn invisible(c: char) -> bool {
    INVISIBLE.iter().any(|&(first, last)| (first..=last).contains(&c))
}
