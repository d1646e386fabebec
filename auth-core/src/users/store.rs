//! [`UserStore`]: what the authority asks the application's users, and
//! [`UserStoreError::backend`] for the errors of the store's backend.

use std::error::Error;

use super::{Principal, UserStoreError, canonical};
use crate::external::ExternalSubject;

/// The application's users.
///
/// A store answers [`verify_password`](Self::verify_password) and
/// [`load`](Self::load); the crate's helpers do the security-sensitive part,
/// so a store needs no `argon2` or `async-trait` dependency of its own:
///
/// - [`verify_password_hash_or_dummy`](crate::verify_password_hash_or_dummy)
///   checks the password against the stored hash *or*, for a user that
///   does not exist, against a dummy hash of the same cost, on the
///   [`HashingPool`](crate::HashingPool) (never on the executor): one call,
///   and an unknown user and a wrong password take the same time;
/// - [`hash_password_async`](crate::hash_password_async) (on the pool) or
///   [`hash_password`](crate::hash_password) (blocking setup code) make
///   the hash to store;
/// - [`UserStoreError::backend`] wraps the backend's error (a 503 for the
///   client, the error in the log).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::collections::HashMap;
/// use auth_core::{Principal, UserStore, UserStoreError, hash_password, verify_password_hash_or_dummy};
///
/// /// Users by canonical username, with their argon2id hashes (a real store reads a database,
/// /// and maps its errors with `.map_err(UserStoreError::backend)?`).
/// struct MyUsers(HashMap<String, (Principal, String)>);
///
/// #[auth_core::async_trait]
/// impl UserStore for MyUsers {
///     async fn verify_password(&self, username: &str, password: &str) -> Result<Option<Principal>, UserStoreError> {
///         let user = self.0.get(&self.canonical_username(username));
///         // The stored hash if the user exists, else a dummy one: same answer, same time.
///         let ok = verify_password_hash_or_dummy(user.map(|(_, phc)| phc.as_str()), password).await?;
///         Ok(user.filter(|_| ok).map(|(principal, _)| principal.clone()))
///     }
///
///     async fn load(&self, id: &str) -> Result<Option<Principal>, UserStoreError> {
///         Ok(self.0.values().map(|(principal, _)| principal).find(|p| p.id == id).cloned())
///     }
/// }
///
/// let phc = hash_password("s3cret")?; // setup code; on the executor, hash_password_async
/// let alice = Principal::new("1", "alice").with_roles(["admin"]);
/// let users = MyUsers(HashMap::from([("alice".to_owned(), (alice, phc))]));
/// assert!(users.verify_password(" Alice", "s3cret").await?.is_some());
/// assert!(users.verify_password("alice", "wrong").await?.is_none());
/// assert!(users.verify_password("bob", "s3cret").await?.is_none());
/// # Ok::<(), UserStoreError>(())
/// # }).unwrap();
/// ```
#[async_trait::async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// The principal if `password` is right for `username`, `None` if the
    /// user is unknown or the password wrong (the two must be
    /// indistinguishable, in answer and in time).
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Principal>, UserStoreError>;

    /// The principal with this id, if it (still) exists.
    async fn load(&self, id: &str) -> Result<Option<Principal>, UserStoreError>;

    /// The principal an external identity provider's subject logs in as
    /// ([`Authority::login_external`](crate::Authority::login_external)),
    /// `None` if this store does not know it or has disabled it (the
    /// login is then refused). The default looks up
    /// [`ExternalSubject::principal_id`] with [`load`](Self::load), so an
    /// external subject is never a local user by accident.
    ///
    /// This is the one place to map an external identity onto a local
    /// user on purpose (say, the IdP's verified e-mail to an account):
    /// override it and answer that user's principal. Whatever id the
    /// answer carries becomes the token's `sub`, and
    /// [`load`](Self::load) must find it again on refresh.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use auth_core::{ExternalSubject, MemoryUsers, Principal, UserStore};
    /// let users = MemoryUsers::new().with_user(Principal::new("1", "admin").with_role("admin"), "pw").unwrap();
    /// let who = ExternalSubject::new("https://idp.example/", "1");
    /// // the IdP's subject "1" is not the local user "1"
    /// assert_eq!(users.load_external(&who).await.unwrap(), None);
    /// users.add_external(Principal::new(who.principal_id(), "1").with_role("viewer"));
    /// assert_eq!(users.load_external(&who).await.unwrap().unwrap().roles, ["viewer"]);
    /// # })
    /// ```
    async fn load_external(&self, who: &ExternalSubject) -> Result<Option<Principal>, UserStoreError> {
        self.load(&who.principal_id()).await
    }

    /// The name the login throttle and device tokens know `username` by:
    /// two usernames with the same canonical name must be the same
    /// account (or no account). The default (Unicode NFKC, lower case,
    /// trimmed, runs of whitespace as one space: `José` composed or
    /// decomposed, `ａnn` fullwidth and `ann  lee` are `josé`, `ann`, `ann
    /// lee`) is what [`MemoryUsers`](super::MemoryUsers) looks names up by,
    /// and what a store should keep its names in. A store that tells `Ann` from
    /// `ann` must return `username` unchanged; one that folds more (a
    /// case-insensitive collation, Unicode normalisation) must fold the
    /// same way here, or a look-alike account could clear the throttle's
    /// counters of the real one, or guess under its device token.
    ///
    /// ```
    /// use auth_core::{MemoryUsers, UserStore};
    /// let users = MemoryUsers::new();
    /// assert_eq!(users.canonical_username(" Ann@Example.com "), "ann@example.com");
    /// assert_eq!(users.canonical_username("Jose\u{301}"), users.canonical_username("Jos\u{e9}"));
    /// assert_eq!(users.canonical_username("\u{ff41}nn  Lee"), "ann lee");
    /// ```
    fn canonical_username(&self, username: &str) -> String {
        canonical(username)
    }

    /// Whether a password check would be refused as
    /// [`UserStoreError::Busy`] right now (a full hashing queue): a hint
    /// that lets a login flood be answered 503 before the login throttle
    /// does any work, since a check that never runs is not counted anyway.
    /// Default: whether the global [`HashingPool`](crate::HashingPool), the
    /// one the password helpers use, is saturated (override it only for a
    /// store that checks passwords elsewhere).
    fn saturated(&self) -> bool {
        crate::HashingPool::global().is_saturated()
    }

    /// Creates a user (for dialects with a sign-up route). By default
    /// sign-up is not offered.
    async fn register(&self, username: &str, password: &str) -> Result<Registration, UserStoreError> {
        let _ = (username, password);
        Ok(Registration::Unsupported)
    }
}

/// The outcome of [`UserStore::register`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// The user was created.
    Created(Principal),
    /// The username is taken.
    Taken,
    /// The username is not acceptable
    /// ([`is_acceptable_username`](crate::is_acceptable_username)).
    Refused,
    /// This store does not create users.
    Unsupported,
}

impl UserStoreError {
    /// The error of a store's backend (a database, a directory), for the
    /// `?` of a [`UserStore`] method: `.map_err(UserStoreError::backend)?`.
    /// The login answers 503 and logs the error; the client sees nothing
    /// of it.
    ///
    /// The error is kept: it is this error's
    /// [`source`](Error::source) (downcast it to your backend's type), and
    /// the log line shows it with its chain of causes.
    ///
    /// ```
    /// use std::error::Error as _;
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "db down");
    /// let err = auth_core::UserStoreError::backend(io);
    /// assert_eq!(err.to_string(), "user store failed: db down");
    /// let source = err.source().and_then(|s| s.downcast_ref::<std::io::Error>()).unwrap();
    /// assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
    /// ```
    pub fn backend<E>(err: E) -> Self
    where
        E: Error + Send + Sync + 'static,
    {
        Self::Backend(std::sync::Arc::new(err))
    }
}
