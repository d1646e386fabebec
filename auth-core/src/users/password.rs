//! The password helpers a [`UserStore`](crate::UserStore) is written with:
//! hashing a new password, and checking one against a stored hash (or,
//! for a user that does not exist, against a dummy hash of the same cost),
//! on a [`HashingPool`] and never on the async executor.
//!
//! The free functions use [`HashingPool::global`]; the methods of the same
//! names on [`HashingPool`] use that pool ([`MemoryUsers`](crate::MemoryUsers)
//! calls them on its own).

use std::sync::OnceLock;

use argon2::{Algorithm, Params, Version};

use super::UserStoreError;
use crate::hashing::{
    DEFAULT_M_COST, DEFAULT_T_COST, HashSpec, HashingPool, Verdict, check_phc, differs_from,
};

/// argon2id with the OWASP parameters: 19 MiB, 2 passes, 1 lane.
fn hasher() -> HashSpec {
    // The parameters are constants within argon2's documented bounds.
    let params = Params::new(DEFAULT_M_COST, DEFAULT_T_COST, 1, None)
        .expect("OWASP argon2 parameters are within bounds");
    HashSpec { algorithm: Algorithm::Argon2id, version: Version::V0x13, params }
}

/// The hash an unknown user's password is checked against: [`hasher`]'s
/// algorithm, version and parameters (so the same cost as a real check),
/// made once, without hashing, on first use.
pub(super) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    // Built from constants (the parameters above, a fixed salt).
    DUMMY.get_or_init(|| hasher().placeholder().expect("the dummy hash is made of valid constants"))
}

/// Hashes a password with argon2id into a PHC string. CPU-heavy and
/// blocking: for setup code outside an async context. On the executor use
/// [`hash_password_async`], which runs the hash on the [`HashingPool`]. On
/// a pool thread it reuses the thread's argon2 memory; elsewhere it
/// allocates it (19 MiB) for the call.
///
/// ```
/// let phc = auth_core::hash_password("correct horse").unwrap();
/// assert!(phc.starts_with("$argon2id$"));
/// ```
pub fn hash_password(password: &str) -> Result<String, UserStoreError> {
    hasher().hash(password.as_bytes()).map_err(|e| UserStoreError::Failed(format!("hashing failed: {e}")))
}

/// [`hash_password`] on the [global](HashingPool::global) hashing pool:
/// the way to hash a new password (registration, a password change) from
/// async code. [`UserStoreError::Busy`] when the pool's queue is full.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let phc = auth_core::hash_password_async("correct horse").await?;
/// assert!(auth_core::verify_password_hash(&phc, "correct horse").await?);
/// # Ok::<(), auth_core::UserStoreError>(())
/// # }).unwrap();
/// ```
pub async fn hash_password_async(password: &str) -> Result<String, UserStoreError> {
    HashingPool::global().hash_password(password).await
}

/// Whether `password` matches the stored argon2 PHC string `phc`, checked
/// on the [global](HashingPool::global) hashing pool with the string's own
/// algorithm, parameters and salt, the outputs compared in constant time.
///
/// Not to be confused with [`UserStore::verify_password`](crate::UserStore::verify_password)
/// (a username and a password, answered with a principal), which a store
/// implements with this function, or better with
/// [`verify_password_hash_or_dummy`], which also covers a user that does
/// not exist.
///
/// A `phc` that is not an argon2 hash argon2 accepts (a corrupt row, a
/// bcrypt hash) is `Ok(false)`, after a dummy check of the normal cost,
/// and logs a warning (`tracing`, naming neither the hash nor the
/// password). [`UserStoreError::Busy`] when the pool's queue is full (the
/// login answers 503 with `Retry-After`).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use auth_core::{hash_password, verify_password_hash};
/// let phc = hash_password("s3cret")?;
/// assert!(verify_password_hash(&phc, "s3cret").await?);
/// assert!(!verify_password_hash(&phc, "S3cret").await?);
/// assert!(!verify_password_hash("not a hash", "s3cret").await?);
/// # Ok::<(), auth_core::UserStoreError>(())
/// # }).unwrap();
/// ```
pub async fn verify_password_hash(phc: &str, password: &str) -> Result<bool, UserStoreError> {
    HashingPool::global().verify_password_hash(phc, password).await
}

/// [`verify_password_hash`] for a user who may not exist: `stored` is the
/// user's hash if there is such a user, `None` if not. For `None` the
/// password is checked against a dummy hash with [`hash_password`]'s
/// parameters and the answer is `false`, so an unknown user costs the
/// same time as a wrong password: call it once, for both cases, before
/// looking at anything else about the user (disabled, locked...).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use auth_core::{hash_password, verify_password_hash_or_dummy};
/// let stored = Some(hash_password("s3cret")?); // e.g. a row's column, if the row exists
/// assert!(verify_password_hash_or_dummy(stored.as_deref(), "s3cret").await?);
/// assert!(!verify_password_hash_or_dummy(stored.as_deref(), "wrong").await?);
/// assert!(!verify_password_hash_or_dummy(None, "s3cret").await?); // no such user, same cost
/// # Ok::<(), auth_core::UserStoreError>(())
/// # }).unwrap();
/// ```
pub async fn verify_password_hash_or_dummy(
    stored: Option<&str>,
    password: &str,
) -> Result<bool, UserStoreError> {
    HashingPool::global().verify_password_hash_or_dummy(stored, password).await
}

/// Whether the stored hash `phc` was made otherwise than
/// [`hash_password`] makes hashes now (other parameters, another argon2
/// variant, or no argon2 hash at all). Hash the password again after a
/// successful login when it says so ([`hash_password_async`]): equal
/// timing for unknown users and wrong passwords holds for hashes made with
/// the current parameters, and an older, cheaper or costlier hash answers
/// in its own time.
///
/// ```
/// use auth_core::{hash_password, password_hash_needs_rehash};
/// assert!(!password_hash_needs_rehash(&hash_password("s3cret")?));
/// let legacy = "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$q3XrLEE2A3ZtA8Qn1+xOxmW1hHjw2mF3f8m0bhI7V9k";
/// assert!(password_hash_needs_rehash(legacy));
/// assert!(password_hash_needs_rehash("$2b$12$bcrypt..."));
/// # Ok::<(), auth_core::UserStoreError>(())
/// ```
pub fn password_hash_needs_rehash(phc: &str) -> bool {
    differs_from(phc, &hasher())
}

impl HashingPool {
    /// [`hash_password`](crate::hash_password) on this pool (see
    /// [`hash_password_async`](crate::hash_password_async)).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let pool = auth_core::HashingPool::new(1, 4);
    /// let phc = pool.hash_password("s3cret").await?;
    /// assert!(pool.verify_password_hash(&phc, "s3cret").await?);
    /// # Ok::<(), auth_core::UserStoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn hash_password(&self, password: &str) -> Result<String, UserStoreError> {
        let password = password.to_owned();
        self.run(move || hash_password(&password)).await?
    }

    /// [`verify_password_hash`](crate::verify_password_hash) on this pool.
    pub async fn verify_password_hash(&self, phc: &str, password: &str) -> Result<bool, UserStoreError> {
        self.verify_password_hash_or_dummy(Some(phc), password).await
    }

    /// [`verify_password_hash_or_dummy`](crate::verify_password_hash_or_dummy) on this pool.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let pool = auth_core::HashingPool::new(1, 4);
    /// assert!(!pool.verify_password_hash_or_dummy(None, "s3cret").await?);
    /// # Ok::<(), auth_core::UserStoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn verify_password_hash_or_dummy(
        &self,
        stored: Option<&str>,
        password: &str,
    ) -> Result<bool, UserStoreError> {
        let stored = stored.map(str::to_owned);
        let password = password.to_owned();
        let verdict = self.run(move || check_or_dummy(stored.as_deref(), password.as_bytes())).await?;
        // Neither the hash nor the password: the operator finds the row by
        // the login that fails.
        match verdict {
            Verdict::Malformed => tracing::warn!(
                "a stored password hash is not an argon2 PHC string argon2 accepts; login refused"
            ),
            Verdict::OutOfBounds => tracing::warn!(
                "a stored password hash asks for more than a login spends (over 16 times the default \
                 work, 64 MiB or 16 lanes); login refused: rehash it with smaller parameters"
            ),
            Verdict::Match | Verdict::Mismatch => {}
        }
        Ok(verdict == Verdict::Match)
    }
}

/// The check behind every password login, on a pool thread: `stored`
/// against `password`, or the dummy hash when there is no user (answered
/// [`Verdict::Mismatch`]) or the stored hash is malformed (answered
/// [`Verdict::Malformed`], or [`Verdict::OutOfBounds`] for a hash asking
/// for more than a login spends), so each of these costs one check of the
/// normal cost.
fn check_or_dummy(stored: Option<&str>, password: &[u8]) -> Verdict {
    let verdict = stored.map_or(Verdict::Malformed, |phc| check_phc(phc, password));
    if matches!(verdict, Verdict::Malformed | Verdict::OutOfBounds) {
        // The outcome is ignored: it only spends the time a check takes.
        let _ = check_phc(dummy_hash(), password);
        if stored.is_none() {
            return Verdict::Mismatch;
        }
    }
    verdict
}
