//! [`MemoryUsers`]: users in memory, for examples, tests and small
//! deployments.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{HashingPool, Principal, Registration, UserStore, UserStoreError, canonical, hash_password};

#[derive(Clone)]
struct UserEntry {
    /// `None` for a user who logs in elsewhere (an identity provider): no
    /// password opens this account.
    phc: Option<Arc<str>>,
    principal: Principal,
    active: bool,
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
    /// No users yet. An unknown user's password is checked against a
    /// dummy hash ([`verify_password_hash_or_dummy`](crate::verify_password_hash_or_dummy)).
    pub fn new() -> Self {
        Self { users: Arc::default(), pool: HashingPool::global().clone() }
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
        let phc = self.pool.hash_password(password).await?;
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
        self.write().insert(UserEntry { phc: Some(phc.into()), principal, active: true });
    }

    /// Adds (or replaces) a user who has no password here: one an external
    /// identity provider vouches for. Its id is normally
    /// [`ExternalSubject::principal_id`](crate::ExternalSubject::principal_id); it is kept apart from the
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
    /// assert!(users.verify_password("alice", "any password").await.unwrap().is_none());
    /// assert!(users.set_active(&who.principal_id(), false));
    /// assert!(users.load_external(&who).await.unwrap().is_none());
    /// # })
    /// ```
    pub fn add_external(&self, principal: Principal) {
        let id = principal.id.clone();
        self.write().external.insert(id, UserEntry { phc: None, principal, active: true });
    }

    /// Deletes a user (by username, or an external user by id); `false` if
    /// there was none. With
    /// [`AuthorityConfig::check_principal`](crate::AuthorityConfig::check_principal)
    /// on, their tokens stop working at once. Also call
    /// [`Authority::revoke_subject`](crate::Authority::revoke_subject) for
    /// the removed principal: it ends their sessions without the principal
    /// check, and their device tokens, which would otherwise still stand
    /// for the username if someone registers it again.
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
        // One check whether or not the user exists (the same helper an
        // application's store uses).
        let stored = entry.as_ref().and_then(|e| e.phc.as_deref());
        let ok = self.pool.verify_password_hash_or_dummy(stored, password).await?;
        Ok(entry.filter(|e| ok && e.active).map(|e| e.principal))
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
        if !super::is_acceptable_username(username) {
            return Ok(Registration::Refused);
        }
        if self.lookup(username).is_some() {
            return Ok(Registration::Taken);
        }
        let phc = self.pool.hash_password(password).await?;
        let mut users = self.write();
        if users.by_name.contains_key(&canonical(username)) {
            return Ok(Registration::Taken);
        }
        let principal = Principal::new(format!("u-{}", crate::id::new_id()), username);
        users.insert(UserEntry { phc: Some(phc.into()), principal: principal.clone(), active: true });
        Ok(Registration::Created(principal))
    }
}
