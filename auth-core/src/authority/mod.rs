//! The engine: issue, authenticate, refresh, extend, verify and revoke.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use auth_core::{Authority, Credentials, JwtKey, KeySet, MemoryUsers, Principal};
//! let users = MemoryUsers::new();
//! users.add_user(Principal::new("1", "alice"), "s3cret").await.unwrap();
//! let authority = Authority::builder(KeySet::new(JwtKey::hs256("k1", &[7u8; 32]).unwrap()).unwrap())
//!     .users(users)
//!     .build();
//! let pair = authority.login("alice", "s3cret").await.unwrap();
//! let identity = authority.authenticate(&Credentials::Bearer(pair.access_token)).await.unwrap();
//! assert_eq!(identity.username(), "alice");
//! # })
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use arc_swap::ArcSwap;

use crate::cache::{TokenCache, TokenCacheStats};
use crate::claims::Claims;
use crate::external::ExternalIdentity;
pub(crate) use crate::id::new_id;
use crate::keys::KeySet;
use crate::store::{MemoryStore, Store};
pub(crate) use crate::time::secs;
use crate::users::{MemoryUsers, UserStore};

mod config;
mod issue;
mod password;
mod revoke;
mod session;
mod verify;

pub use config::{AuthorityConfig, BasicCredentials, DEFAULT_REUSE_GRACE, DEFAULT_SESSION_CAP};
pub(crate) use revoke::{Kind as RevocationKind, revoked};
pub(crate) use verify::Now;

/// A freshly issued access token, and a refresh token where there is one.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The signed access token.
    pub access_token: String,
    /// The access token's claims.
    pub access_claims: Claims,
    /// The signed refresh token, when one was issued.
    pub refresh_token: Option<String>,
    /// The refresh token's claims.
    pub refresh_claims: Option<Claims>,
}

impl TokenPair {
    /// Seconds until the access token expires, from its `iat`.
    pub fn expires_in(&self) -> i64 {
        self.access_claims.exp.saturating_sub(self.access_claims.iat.unwrap_or(self.access_claims.exp))
    }
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_claims", &self.access_claims)
            .field("refresh_claims", &self.refresh_claims)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Authority`].
pub struct AuthorityBuilder {
    keys: KeySet,
    store: Arc<dyn Store>,
    users: Arc<dyn UserStore>,
    config: AuthorityConfig,
    external: Option<Arc<dyn ExternalIdentity>>,
}

impl AuthorityBuilder {
    /// Accepts logins vouched for by an external identity provider (opt-in;
    /// for example `jwks::JwksVerifier`, feature `jwks`): the standard
    /// dialect's `POST /login` with the provider's token as `Bearer` and no
    /// username or password issues our own pair ([`Authority::login_external`]):
    /// the provider's issuer and subject are looked up with
    /// [`UserStore::load_external`](crate::UserStore::load_external).
    pub fn external_identity(mut self, external: impl ExternalIdentity) -> Self {
        self.external = Some(Arc::new(external));
        self
    }

    /// Uses `store` for server-side state (default: a new [`MemoryStore`]).
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Uses a store that is already shared (chosen at run time, say).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::{Authority, JwtKey, KeySet, MemoryStore, Store};
    /// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    /// let key = JwtKey::hs256("k1", &[7; 32]).unwrap();
    /// let authority = Authority::builder(KeySet::new(key).unwrap()).shared_store(store).build();
    /// # let _ = authority;
    /// ```
    pub fn shared_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// Uses `users` to check passwords (default: an empty [`MemoryUsers`]).
    pub fn users(mut self, users: impl UserStore) -> Self {
        self.users = Arc::new(users);
        self
    }

    /// Sets the configuration.
    pub fn config(mut self, config: AuthorityConfig) -> Self {
        self.config = config;
        self
    }

    /// Builds the authority.
    pub fn build(self) -> Authority {
        Authority {
            inner: Arc::new(Inner {
                cache: TokenCache::new(&self.config.token_cache),
                keys: ArcSwap::from_pointee(self.keys),
                store: self.store,
                users: self.users,
                config: self.config,
                held_refusals: AtomicUsize::new(0),
                warned_no_peer: AtomicBool::new(false),
                external: self.external,
            }),
        }
    }
}

struct Inner {
    keys: ArcSwap<KeySet>,
    cache: TokenCache,
    store: Arc<dyn Store>,
    users: Arc<dyn UserStore>,
    config: AuthorityConfig,
    /// Refusals being held now ([`AuthorityConfig::refusal_delay`]).
    held_refusals: AtomicUsize,
    /// Whether a login without a client address was warned about.
    warned_no_peer: AtomicBool,
    external: Option<Arc<dyn ExternalIdentity>>,
}

/// Issues and checks tokens. Cheap to clone; share one per application.
#[derive(Clone)]
pub struct Authority {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

impl Authority {
    /// The short path: an authority that signs and verifies HS256 tokens
    /// with `secret` (at least [`MIN_HMAC_SECRET_LEN`](crate::MIN_HMAC_SECRET_LEN)
    /// bytes, say 32 random bytes from your configuration; key id `main`),
    /// users and state in memory until you set them.
    ///
    /// ```
    /// use auth_core::{Authority, MemoryUsers};
    /// let secret = "a secret of at least 32 bytes, from config".to_owned();
    /// let authority = Authority::hs256(secret)?.users(MemoryUsers::new()).build();
    /// assert!(Authority::hs256("short").is_err(), "too short to be safe");
    /// # let _ = authority;
    /// # Ok::<(), auth_core::KeyError>(())
    /// ```
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<AuthorityBuilder, crate::KeyError> {
        Ok(Self::builder(KeySet::new(crate::JwtKey::hs256("main", secret.as_ref())?)?))
    }

    /// Starts building an authority that signs with `keys` (for asymmetric
    /// keys, several keys or rotation; [`hs256`](Self::hs256) for one secret).
    pub fn builder(keys: KeySet) -> AuthorityBuilder {
        AuthorityBuilder {
            keys,
            store: Arc::new(MemoryStore::new()),
            users: Arc::new(MemoryUsers::new()),
            config: AuthorityConfig::default(),
            external: None,
        }
    }

    /// The external identity provider of
    /// [`AuthorityBuilder::external_identity`], if any.
    pub fn external_identity(&self) -> Option<&dyn ExternalIdentity> {
        self.inner.external.as_deref()
    }

    /// The configuration.
    pub fn config(&self) -> &AuthorityConfig {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// The user store.
    pub fn users(&self) -> &dyn UserStore {
        self.inner.users.as_ref()
    }

    /// The key set now (a snapshot: [`set_keys`](Self::set_keys) may
    /// replace it at any time).
    pub fn keys(&self) -> Arc<KeySet> {
        self.inner.keys.load_full()
    }

    /// Replaces the key set (rotation: add the next key, later remove the
    /// old one). Tokens signed by a key no longer in the set are refused
    /// from the next request on: the verified-token cache is emptied.
    ///
    /// ```
    /// use auth_core::{Authority, JwtKey, KeySet};
    /// let old = JwtKey::hs256("2024-01", &[1u8; 32]).unwrap();
    /// let new = JwtKey::hs256("2024-06", &[2u8; 32]).unwrap();
    /// let authority = Authority::builder(KeySet::new(old.clone()).unwrap()).build();
    /// // sign with the new key, still accept the old one
    /// authority.set_keys(KeySet::new(new).unwrap().with_verification_key(old));
    /// // later: the old key is gone
    /// authority.set_keys(authority.keys().without_key("2024-01").unwrap());
    /// assert!(authority.keys().get("2024-01").is_none());
    /// ```
    ///
    /// Written to the audit trail (`key_rotation`, with the signing key's id).
    pub fn set_keys(&self, keys: KeySet) {
        crate::audit::Event {
            event: "key_rotation",
            outcome: "ok",
            key_id: Some(keys.signing_key().kid()),
            ..crate::audit::Event::default()
        }
        .emit();
        self.inner.keys.store(Arc::new(keys));
        // After the store: a miss that read the old generation may still
        // verify with the old set, and its entry is never used.
        self.inner.cache.invalidate();
    }

    /// The verified-token cache's counters (hits, misses, size), for metrics.
    pub fn token_cache_stats(&self) -> TokenCacheStats {
        self.inner.cache.stats()
    }
}
