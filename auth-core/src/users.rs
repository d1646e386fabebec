//! Checking passwords and loading principals.
//!
//! The application implements [`UserStore`]; [`MemoryUsers`] is an
//! in-memory implementation with argon2id hashes for examples and tests.
//! Hashing never runs on the async executor, and
//! an unknown user costs one hash too, so timing does not tell whether a
//! user exists. Hashing runs on a bounded [`HashingPool`]: when its queue
//! (and its waiting room, if it has one) is full a login is refused (503,
//! `Retry-After`) without hashing.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use argon2::{Algorithm, Params, Version};
use serde::{Deserialize, Serialize};

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
}

/// The application's users.
///
/// ```
/// use auth_core::{Principal, UserStore, UserStoreError};
/// struct OneUser;
/// #[async_trait::async_trait]
/// impl UserStore for OneUser {
///     async fn verify_password(&self, username: &str, password: &str) -> Result<Option<Principal>, UserStoreError> {
///         // a real store checks a hash off the executor; see MemoryUsers
///         Ok((username == "demo" && password == "demo").then(|| Principal::new("1", "demo")))
///     }
///     async fn load(&self, id: &str) -> Result<Option<Principal>, UserStoreError> {
///         Ok((id == "1").then(|| Principal::new("1", "demo")))
///     }
/// }
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
    /// account (or no account). The default, trimmed and lower-cased, is
    /// what [`MemoryUsers`] looks names up by. A store that tells `Ann` from
    /// `ann` must return `username` unchanged; one that folds more (a
    /// case-insensitive collation, Unicode normalisation) must fold the
    /// same way here, or a look-alike account could clear the throttle's
    /// counters of the real one, or guess under its device token.
    ///
    /// ```
    /// use auth_core::{MemoryUsers, UserStore};
    /// assert_eq!(MemoryUsers::new().canonical_username(" Ann@Example.com "), "ann@example.com");
    /// ```
    fn canonical_username(&self, username: &str) -> String {
        canonical(username)
    }

    /// Whether a password check would be refused as
    /// [`UserStoreError::Busy`] right now (a full hashing queue): a hint
    /// that lets a login flood be answered 503 before the login throttle
    /// does any work, since a check that never runs is not counted anyway.
    /// Default `false`.
    fn saturated(&self) -> bool {
        false
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
    /// This store does not create users.
    Unsupported,
}

/// The default canonical username: trimmed, lower case.
pub(crate) fn canonical(username: &str) -> String {
    username.trim().to_lowercase()
}

/// argon2id with the OWASP parameters: 19 MiB, 2 passes, 1 lane.
fn hasher() -> crate::hashing::HashSpec {
    // The parameters are constants within argon2's documented bounds.
    let params = Params::new(19 * 1024, 2, 1, None).expect("OWASP argon2 parameters are within bounds");
    crate::hashing::HashSpec { algorithm: Algorithm::Argon2id, version: Version::V0x13, params }
}

/// Hashes a password with argon2id into a PHC string. CPU-heavy: call it
/// from a blocking context (or through [`MemoryUsers::add_user`]). On a
/// [`HashingPool`] thread it reuses the thread's argon2 memory; elsewhere
/// it allocates it (19 MiB) for the call.
///
/// ```
/// let phc = auth_core::hash_password("correct horse").unwrap();
/// assert!(phc.starts_with("$argon2id$"));
/// ```
pub fn hash_password(password: &str) -> Result<String, UserStoreError> {
    hasher().hash(password.as_bytes()).map_err(|e| UserStoreError::Failed(format!("hashing failed: {e}")))
}

/// Whether `password` matches the stored PHC string, with the string's own
/// algorithm, parameters and salt (not [`hasher`]'s), on the hashing
/// thread's argon2 memory.
fn verify_hash(phc: &str, password: &str) -> bool {
    crate::hashing::verify_phc(phc, password.as_bytes())
}

pub use crate::error::UserStoreError;
use crate::external::ExternalSubject;
pub use crate::hashing::{HashingPool, HashingPriority};

#[derive(Clone)]
struct UserEntry {
    phc: Arc<str>,
    principal: Principal,
    active: bool,
    /// `false` for a user who logs in elsewhere (an identity provider):
    /// no password opens this account.
    password_login: bool,
}

/// Users by username, usernames by principal id, and external users
/// (who have no username here) by principal id.
#[derive(Default)]
struct Tables {
    by_name: HashMap<String, UserEntry>,
    name_of_id: HashMap<String, String>,
    external: HashMap<String, UserEntry>,
}

impl Tables {
    fn insert(&mut self, entry: UserEntry) {
        let name = canonical(&entry.principal.username);
        if let Some(old) = self.by_name.remove(&name) {
            self.name_of_id.remove(&old.principal.id);
        }
        self.name_of_id.insert(entry.principal.id.clone(), name.clone());
        self.by_name.insert(name, entry);
    }
}

/// In-memory users with argon2id hashes. Cheap to clone (shared state).
/// Usernames are case-insensitive and trimmed
/// ([`UserStore::canonical_username`]): `Ann` and `ann` are one account,
/// and [`register`](UserStore::register) refuses the second.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use auth_core::{MemoryUsers, Principal, UserStore};
/// let users = MemoryUsers::new();
/// users.add_user(Principal::new("1", "alice").with_role("admin"), "s3cret").await.unwrap();
/// assert!(users.verify_password("alice", "s3cret").await.unwrap().is_some());
/// assert!(users.verify_password("alice", "wrong").await.unwrap().is_none());
/// assert!(users.verify_password("nobody", "s3cret").await.unwrap().is_none());
/// # })
/// ```
#[derive(Clone)]
pub struct MemoryUsers {
    users: Arc<RwLock<Tables>>,
    dummy: Arc<str>,
    pool: HashingPool,
}

impl std::fmt::Debug for MemoryUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryUsers").finish_non_exhaustive()
    }
}

impl Default for MemoryUsers {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryUsers {
    /// No users yet. Computes one dummy hash (used for unknown users).
    pub fn new() -> Self {
        let dummy = hash_password("dummy password for unknown users").unwrap_or_default();
        Self { users: Arc::default(), dummy: dummy.into(), pool: HashingPool::global().clone() }
    }

    /// Hashes on `pool` instead of the process-wide [`HashingPool::global`]
    /// (its own threads and queue bound).
    ///
    /// ```
    /// let users = auth_core::MemoryUsers::new().with_pool(auth_core::HashingPool::new(2, 16));
    /// # let _ = users;
    /// ```
    pub fn with_pool(mut self, pool: HashingPool) -> Self {
        self.pool = pool;
        self
    }

    /// Adds or replaces a user, hashing the password on the blocking pool.
    pub async fn add_user(&self, principal: Principal, password: &str) -> Result<(), UserStoreError> {
        let password = password.to_owned();
        let phc = self.pool.run(move || hash_password(&password)).await??;
        self.insert_hashed(principal, phc);
        Ok(())
    }

    /// Adds a user synchronously (setup code outside an async context).
    pub fn with_user(self, principal: Principal, password: &str) -> Result<Self, UserStoreError> {
        let phc = hash_password(password)?;
        self.insert_hashed(principal, phc);
        Ok(self)
    }

    /// Adds a user whose password is already an argon2 PHC string.
    pub fn insert_hashed(&self, principal: Principal, phc: String) {
        self.write().insert(UserEntry { phc: phc.into(), principal, active: true, password_login: true });
    }

    /// Adds (or replaces) a user who has no password here: one an external
    /// identity provider vouches for. Its id is normally
    /// [`ExternalSubject::principal_id`]; it is kept apart from the
    /// password users (whatever its username, it never replaces one, and no
    /// password logs it in). It exists for [`UserStore::load`] and
    /// [`UserStore::load_external`], and can be disabled or removed by its
    /// id ([`set_active`](Self::set_active), [`remove_user`](Self::remove_user)).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use auth_core::{ExternalSubject, MemoryUsers, Principal, UserStore};
    /// let users = MemoryUsers::new();
    /// let who = ExternalSubject::new("https://tenant.eu.auth0.com/", "auth0|alice");
    /// users.add_external(Principal::new(who.principal_id(), "alice"));
    /// assert!(users.load_external(&who).await.unwrap().is_some());
    /// assert!(users.verify_password("alice", "dummy password for unknown users").await.unwrap().is_none());
    /// assert!(users.set_active(&who.principal_id(), false));
    /// assert!(users.load_external(&who).await.unwrap().is_none());
    /// # })
    /// ```
    pub fn add_external(&self, principal: Principal) {
        let phc = self.dummy.clone();
        let id = principal.id.clone();
        self.write().external.insert(id, UserEntry { phc, principal, active: true, password_login: false });
    }

    /// Deletes a user (by username, or an external user by id); `false` if
    /// there was none. With
    /// [`AuthorityConfig::check_principal`](crate::AuthorityConfig::check_principal)
    /// on, their tokens stop working at once.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use auth_core::{MemoryUsers, Principal, UserStore};
    /// let users = MemoryUsers::new().with_user(Principal::new("7", "ann"), "pw").unwrap();
    /// assert!(users.remove_user("ann"));
    /// assert_eq!(users.load("7").await.unwrap(), None);
    /// # })
    /// ```
    pub fn remove_user(&self, username: &str) -> bool {
        let mut users = self.write();
        let removed = users.by_name.remove(&canonical(username));
        if let Some(entry) = &removed {
            users.name_of_id.remove(&entry.principal.id);
            return true;
        }
        users.external.remove(username).is_some()
    }

    /// Replaces the principal (roles, extra claims...) of the user with
    /// this username, keeping the password; `false` if there is none. The
    /// next refresh or extension carries the change.
    ///
    /// ```
    /// use auth_core::{MemoryUsers, Principal};
    /// let users = MemoryUsers::new().with_user(Principal::new("7", "ann"), "pw").unwrap();
    /// assert!(users.update_principal(Principal::new("7", "ann").with_role("admin")));
    /// ```
    pub fn update_principal(&self, principal: Principal) -> bool {
        let mut users = self.write();
        let Some(entry) = users.by_name.get(&canonical(&principal.username)) else { return false };
        let entry = UserEntry { principal, ..entry.clone() };
        users.insert(entry);
        true
    }

    /// Disables (`false`) or re-enables a user (by username, or an
    /// external user by id); `false` if there is none. A disabled user
    /// cannot log in and [`UserStore::load`] does not find them.
    pub fn set_active(&self, username: &str, active: bool) -> bool {
        let mut users = self.write();
        let tables = &mut *users;
        let entry = match tables.by_name.get_mut(&canonical(username)) {
            Some(entry) => Some(entry),
            None => tables.external.get_mut(username),
        };
        entry.map(|e| e.active = active).is_some()
    }

    fn lookup(&self, username: &str) -> Option<UserEntry> {
        self.read().by_name.get(&canonical(username)).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.users.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        self.users.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl UserStore for MemoryUsers {
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Principal>, UserStoreError> {
        let entry = self.lookup(username);
        let phc = entry.as_ref().map_or_else(|| self.dummy.clone(), |e| e.phc.clone());
        let password = password.to_owned();
        let ok = self.pool.run(move || verify_hash(&phc, &password)).await?;
        Ok(entry.filter(|e| ok && e.active && e.password_login).map(|e| e.principal))
    }

    fn saturated(&self) -> bool {
        self.pool.is_saturated()
    }

    async fn load(&self, id: &str) -> Result<Option<Principal>, UserStoreError> {
        let users = self.read();
        let entry = match users.name_of_id.get(id) {
            Some(name) => users.by_name.get(name),
            None => users.external.get(id),
        };
        Ok(entry.filter(|e| e.active).map(|e| e.principal.clone()))
    }

    async fn register(&self, username: &str, password: &str) -> Result<Registration, UserStoreError> {
        if self.lookup(username).is_some() {
            return Ok(Registration::Taken);
        }
        let owned = password.to_owned();
        let phc = self.pool.run(move || hash_password(&owned)).await??;
        let mut users = self.write();
        if users.by_name.contains_key(&canonical(username)) {
            return Ok(Registration::Taken);
        }
        let principal = Principal::new(format!("u-{}", crate::id::new_id()), username);
        users.insert(UserEntry {
            phc: phc.into(),
            principal: principal.clone(),
            active: true,
            password_login: true,
        });
        Ok(Registration::Created(principal))
    }
}
