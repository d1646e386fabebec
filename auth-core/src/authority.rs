//! The engine: issue, authenticate, refresh, extend, verify and revoke.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use auth_core::{Authority, Credentials, Key, KeySet, MemoryUsers, Principal};
//! let users = MemoryUsers::new();
//! users.add_user(Principal::new("1", "alice"), "s3cret").await.unwrap();
//! let authority = Authority::builder(KeySet::new(Key::hs256("k1", &[7u8; 32]).unwrap()).unwrap())
//!     .users(users)
//!     .build();
//! let pair = authority.login("alice", "s3cret").await.unwrap();
//! let identity = authority.authenticate(&Credentials::Bearer(pair.access_token)).await.unwrap();
//! assert_eq!(identity.username(), "alice");
//! # })
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::claims::{Audience, Claims, Identity, Spelling, TokenUse};
use crate::client::{Peer, TrustedProxies};
use crate::error::{AuthError, TokenRejection};
use crate::header::Credentials;
use crate::jwt::{self, Expect, Expiry, Validation};
use crate::keys::KeySet;
use crate::store::{MemoryStore, Rotation, Store, TokenRef};
use crate::throttle;
use crate::users::{MemoryUsers, Principal, UserStore};

/// Lifetimes, checks and policies of an [`Authority`]. Plain data with safe
/// defaults and builder-style setters.
///
/// ```
/// use std::time::Duration;
/// let config = auth_core::AuthorityConfig::default()
///     .access_ttl(Duration::from_secs(300))
///     .refresh_window(Some(Duration::from_secs(7 * 86_400)));
/// assert!(config.rotate_refresh);
/// ```
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    /// Lifetime of access tokens. Default 15 minutes.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens. Default 1 day.
    pub refresh_ttl: Duration,
    /// Absolute session cap: no refresh or extension after the original
    /// login plus this, whatever the tokens' own lifetimes (each dialect
    /// documents its own). Default 30 days; `None` lets a session that
    /// keeps refreshing live for ever.
    pub refresh_window: Option<Duration>,
    /// Whether a refresh returns a new refresh token and retires the old
    /// one (reuse then revokes the family). Default on.
    pub rotate_refresh: bool,
    /// How long a just-rotated refresh token may be presented once more
    /// (two tabs refreshing at once). Default zero.
    pub reuse_grace: Duration,
    /// Claims checks (leeway, issuer, audience, size cap). The issuer and
    /// audience set here are also written into issued tokens.
    pub validation: Validation,
    /// Login attempts for one username from one client address within
    /// `failure_window` before that address answers 429 for the rest of
    /// the window. Default 5; zero turns this counter off. See
    /// [`AttemptRule`](crate::AttemptRule) for all three counters.
    pub max_failed_logins: u32,
    /// Login attempts for one username from all addresses together before
    /// each further attempt must wait 1 s, 2 s, 4 s … (up to the window):
    /// a slow-down, not a lock-out, so that nobody can lock a user out.
    /// Default 20; zero turns it off.
    pub max_failed_logins_per_user: u32,
    /// Failed logins from one client address, whatever the username
    /// (password spraying), before each further attempt must wait 1 s,
    /// 2 s, 4 s … Successful logins do not count. Default 100; zero turns
    /// it off.
    pub max_failed_logins_per_address: u32,
    /// The window login attempts are counted in: a counter is forgotten
    /// after this long without attempts. Default 15 minutes.
    pub failure_window: Duration,
    /// The proxies whose `X-Forwarded-For` names the client address the
    /// login throttle counts. Default none: the TCP peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// How issued tokens spell their claims. Default: ours.
    pub claim_style: ClaimStyle,
    /// What `Basic` credentials are. Default: username and password.
    pub basic: BasicCredentials,
    /// Asks the [`UserStore`] on every authentication whether the token's
    /// subject still exists ([`UserStore::load`]), so that deleting or
    /// disabling a user cuts their tokens off at once rather than when they
    /// expire (simplejwt does this by default). Costs one user-store lookup
    /// per request (see BENCHMARKS.md). Default off.
    pub check_principal: bool,
}

/// The default absolute session cap ([`AuthorityConfig::refresh_window`]): 30 days.
pub const DEFAULT_SESSION_CAP: Duration = Duration::from_secs(30 * 86_400);

/// How issued tokens spell the claims that dialects name differently.
/// Verification reads only these spellings: a token that says
/// `token_type: access` is not an access token to a verifier configured
/// for `usefor` (it was minted by some other system sharing the key).
///
/// ```
/// let style = auth_core::ClaimStyle { token_use: "usefor", exi: true, ..Default::default() };
/// assert_eq!(style.auth_time, "auth_time");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimStyle {
    /// The name of the token-use claim: `token_use`, `token_type` or `usefor`.
    pub token_use: &'static str,
    /// The name of the original-login claim: `auth_time` or `orig_iat`.
    pub auth_time: &'static str,
    /// Adds `exi`: the token's lifetime in seconds.
    pub exi: bool,
    /// Adds `user_id`: the principal's id (a number when it is numeric).
    pub user_id: bool,
}

impl Default for ClaimStyle {
    fn default() -> Self {
        Self { token_use: "token_use", auth_time: "auth_time", exi: false, user_id: false }
    }
}

/// What the user-id and password of `Authorization: Basic` are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BasicCredentials {
    /// A username and password, checked by the user store.
    #[default]
    Password,
    /// An opaque key and token issued by [`Authority::issue_opaque`].
    KeyToken,
}

impl Default for AuthorityConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(86_400),
            refresh_window: Some(DEFAULT_SESSION_CAP),
            rotate_refresh: true,
            reuse_grace: Duration::ZERO,
            validation: Validation::default(),
            max_failed_logins: 5,
            max_failed_logins_per_user: 20,
            max_failed_logins_per_address: 100,
            trusted_proxies: TrustedProxies::none(),
            failure_window: Duration::from_secs(15 * 60),
            claim_style: ClaimStyle::default(),
            basic: BasicCredentials::default(),
            check_principal: false,
        }
    }
}

impl AuthorityConfig {
    /// Sets the access token lifetime.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Sets the refresh token lifetime.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Sets the absolute session cap.
    pub fn refresh_window(mut self, window: Option<Duration>) -> Self {
        self.refresh_window = window;
        self
    }

    /// Turns refresh token rotation on or off.
    pub fn rotate_refresh(mut self, rotate: bool) -> Self {
        self.rotate_refresh = rotate;
        self
    }

    /// Sets the reuse grace window.
    pub fn reuse_grace(mut self, grace: Duration) -> Self {
        self.reuse_grace = grace;
        self
    }

    /// Sets the claims checks.
    pub fn validation(mut self, validation: Validation) -> Self {
        self.validation = validation;
        self
    }

    /// Turns the per-request principal check on or off.
    ///
    /// ```
    /// assert!(auth_core::AuthorityConfig::default().check_principal(true).check_principal);
    /// ```
    pub fn check_principal(mut self, check: bool) -> Self {
        self.check_principal = check;
        self
    }

    /// The longest lifetime (`exp - iat`) this configuration issues tokens
    /// of `token_use` for; verification refuses longer ones.
    pub fn max_lifetime(&self, token_use: TokenUse) -> Duration {
        match token_use {
            TokenUse::Access => self.access_ttl,
            TokenUse::Refresh => self.refresh_ttl,
        }
    }

    /// Sets the per-username-and-address limit and the window.
    pub fn login_throttle(mut self, max_failures: u32, window: Duration) -> Self {
        self.max_failed_logins = max_failures;
        self.failure_window = window;
        self
    }

    /// Sets the per-username limit (past it, logins slow down) and the
    /// per-address limit (password spraying).
    ///
    /// ```
    /// let config = auth_core::AuthorityConfig::default().login_slowdown(50, 500);
    /// assert_eq!(config.max_failed_logins_per_user, 50);
    /// ```
    pub fn login_slowdown(mut self, per_user: u32, per_address: u32) -> Self {
        self.max_failed_logins_per_user = per_user;
        self.max_failed_logins_per_address = per_address;
        self
    }

    /// Believes `X-Forwarded-For` from these proxies.
    ///
    /// ```
    /// let proxies = auth_core::TrustedProxies::parse("10.0.0.0/8").unwrap();
    /// let config = auth_core::AuthorityConfig::default().trusted_proxies(proxies);
    /// assert!(!config.trusted_proxies.is_empty());
    /// ```
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }
}

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
}

impl AuthorityBuilder {
    /// Uses `store` for server-side state (default: a new [`MemoryStore`]).
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Uses a store that is already shared (chosen at run time, say).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::{Authority, Key, KeySet, MemoryStore, Store};
    /// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    /// let key = Key::hs256("k1", &[7; 32]).unwrap();
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
                keys: self.keys,
                store: self.store,
                users: self.users,
                config: self.config,
            }),
        }
    }
}

struct Inner {
    keys: KeySet,
    store: Arc<dyn Store>,
    users: Arc<dyn UserStore>,
    config: AuthorityConfig,
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

pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl Authority {
    /// Starts building an authority that signs with `keys`.
    pub fn builder(keys: KeySet) -> AuthorityBuilder {
        AuthorityBuilder {
            keys,
            store: Arc::new(MemoryStore::new()),
            users: Arc::new(MemoryUsers::new()),
            config: AuthorityConfig::default(),
        }
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

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.inner.keys
    }

    /// Checks a username and password and issues a pair. Unknown users and
    /// wrong passwords give the same error in the same time; too many
    /// attempts give 429 with `Retry-After`. The client address is unknown
    /// here, so only the per-username counters apply: servers call
    /// [`login_from`](Self::login_from).
    pub async fn login(&self, username: &str, password: &str) -> Result<TokenPair, AuthError> {
        self.login_from(None, username, password).await
    }

    /// [`login`](Self::login) from the client address `client` (see
    /// [`client_address`](Self::client_address)).
    pub async fn login_from(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<TokenPair, AuthError> {
        let principal = self.check_password_from(client, username, password).await?;
        self.issue(&principal).await
    }

    /// [`login_access_from`](Self::login_access_from) with the client
    /// address unknown.
    pub async fn login_access(&self, username: &str, password: &str) -> Result<TokenPair, AuthError> {
        self.login_access_from(None, username, password).await
    }

    /// Like [`login_from`](Self::login_from) for dialects with one token
    /// type: an access token only, no refresh token (see
    /// [`issue_access`](Self::issue_access)).
    pub async fn login_access_from(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<TokenPair, AuthError> {
        let principal = self.check_password_from(client, username, password).await?;
        self.issue_access(&principal).await
    }

    /// [`check_password_from`](Self::check_password_from) with the client
    /// address unknown.
    pub async fn check_password(&self, username: &str, password: &str) -> Result<Principal, AuthError> {
        self.check_password_from(None, username, password).await
    }

    /// The throttled password check behind [`login_from`](Self::login_from),
    /// for dialects that issue something other than a JWT pair. The
    /// attempt is counted before the password is hashed, in one atomic
    /// store operation per counter (see [`AttemptRule`](crate::AttemptRule)),
    /// so parallel guesses cannot slip past the limit.
    pub async fn check_password_from(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> Result<Principal, AuthError> {
        let now = crate::time::now();
        let store = self.inner.store.as_ref();
        let admitted = throttle::admit(store, &self.inner.config, username, client, now).await?;
        match self.inner.users.verify_password(username, password).await {
            Ok(Some(principal)) => {
                admitted.succeeded().await?;
                Ok(principal)
            }
            Ok(None) => Err(AuthError::InvalidCredentials),
            Err(err) => {
                // Never checked (queue full, store down): not a guess.
                admitted.release().await?;
                Err(err.into())
            }
        }
    }

    /// The client address the login throttle counts for a request from
    /// `peer`: the TCP peer, or what a trusted proxy says
    /// ([`AuthorityConfig::trusted_proxies`]).
    pub fn client_address(&self, peer: &Peer) -> Option<IpAddr> {
        self.inner.config.trusted_proxies.client_address(peer)
    }

    /// Issues an access/refresh pair for `principal` and starts its refresh family.
    pub async fn issue(&self, principal: &Principal) -> Result<TokenPair, AuthError> {
        let now = crate::time::now();
        let family = new_id();
        let refresh_jti = new_id();
        let pair = self.sign_pair(principal, &family, &refresh_jti, now, now)?;
        self.inner.store.create_family(&family, &refresh_jti, self.family_keep(now, now), now).await?;
        Ok(pair)
    }

    /// Issues an access token only (no refresh token), for dialects with
    /// one token type. It still starts a family: every extension of it
    /// joins that family ([`extend`](Self::extend)), so revoking the
    /// family ends them all.
    pub async fn issue_access(&self, principal: &Principal) -> Result<TokenPair, AuthError> {
        let now = crate::time::now();
        let cfg = &self.inner.config;
        let family = new_id();
        let mut access = self.base_claims(principal, TokenUse::Access, now, secs(cfg.access_ttl));
        access.auth_time = Some(now);
        access.fam = Some(family.clone());
        let access_token = self.sign(&access, principal)?;
        let keep = access.exp.saturating_add(cfg.validation.leeway);
        // The family's current token is the first one; it is never rotated.
        let jti = access.jti.as_deref().unwrap_or_default();
        self.inner.store.create_family(&family, jti, keep, now).await?;
        Ok(TokenPair { access_token, access_claims: access, refresh_token: None, refresh_claims: None })
    }

    fn base_claims(&self, principal: &Principal, use_: TokenUse, now: i64, ttl: i64) -> Claims {
        let v = &self.inner.config.validation;
        Claims {
            sub: principal.id.clone(),
            iss: v.issuer.clone(),
            aud: v.audience.clone().map(Audience::One),
            exp: now.saturating_add(ttl),
            nbf: None,
            iat: Some(now),
            jti: Some(new_id()),
            token_use: Some(use_),
            username: Some(principal.username.clone()),
            roles: principal.roles.clone(),
            scope: None,
            auth_time: None,
            fam: None,
        }
    }

    fn sign(&self, claims: &Claims, principal: &Principal) -> Result<String, AuthError> {
        let cfg = &self.inner.config;
        jwt::sign(&self.inner.keys, &cfg.validation, claims, &principal.extra, &cfg.claim_style).map_err(
            |e| {
                tracing::error!(error = %e, "signing a token failed");
                AuthError::Unavailable
            },
        )
    }

    /// Fails once the refresh window since `auth_time` is over.
    pub(crate) fn check_window(&self, auth_time: i64, now: i64) -> Result<(), AuthError> {
        match self.inner.config.refresh_window {
            Some(window) if now > auth_time.saturating_add(secs(window)) => {
                Err(AuthError::InvalidToken(TokenRejection::SessionExpired))
            }
            _ => Ok(()),
        }
    }

    /// How long a family's state must be kept once tokens are issued in it
    /// now: until its newest refresh token and the access token issued with
    /// it have expired, plus the leeway verification grants them (a
    /// revoked family forgotten earlier would bring them back).
    fn family_keep(&self, auth_time: i64, now: i64) -> i64 {
        let cfg = &self.inner.config;
        let access_exp = now.saturating_add(secs(cfg.access_ttl));
        self.refresh_expiry(auth_time, now).max(access_exp).saturating_add(cfg.validation.leeway)
    }

    /// When a refresh token issued now expires: its lifetime, capped by the
    /// session window counted from the original login.
    fn refresh_expiry(&self, auth_time: i64, now: i64) -> i64 {
        let cfg = &self.inner.config;
        let exp = now.saturating_add(secs(cfg.refresh_ttl));
        match cfg.refresh_window {
            Some(window) => exp.min(auth_time.saturating_add(secs(window))),
            None => exp,
        }
    }

    fn sign_pair(
        &self,
        principal: &Principal,
        family: &str,
        refresh_jti: &str,
        auth_time: i64,
        now: i64,
    ) -> Result<TokenPair, AuthError> {
        let cfg = &self.inner.config;
        let mut access = self.base_claims(principal, TokenUse::Access, now, secs(cfg.access_ttl));
        access.auth_time = Some(auth_time);
        access.fam = Some(family.to_owned());
        let mut refresh = self.base_claims(principal, TokenUse::Refresh, now, 0);
        refresh.exp = self.refresh_expiry(auth_time, now);
        refresh.jti = Some(refresh_jti.to_owned());
        refresh.auth_time = Some(auth_time);
        refresh.fam = Some(family.to_owned());
        Ok(TokenPair {
            access_token: self.sign(&access, principal)?,
            refresh_token: Some(self.sign(&refresh, principal)?),
            access_claims: access,
            refresh_claims: Some(refresh),
        })
    }

    fn expect(&self, token_use: TokenUse, expiry: Expiry) -> Expect {
        let cfg = &self.inner.config;
        let spelling =
            Spelling { token_use: cfg.claim_style.token_use, auth_time: cfg.claim_style.auth_time };
        Expect { token_use, spelling, max_lifetime: secs(cfg.max_lifetime(token_use)), expiry }
    }

    /// Verifies a token's signature and claims for `expected` use, without
    /// asking the store. `now` is seconds since the epoch.
    pub fn verify(&self, token: &str, expected: TokenUse, now: i64) -> Result<Identity, TokenRejection> {
        let cfg = &self.inner.config;
        let expect = self.expect(expected, Expiry::Enforce);
        let v = jwt::verify(&self.inner.keys, &cfg.validation, token, expect, now)?;
        Ok(Identity::new(v.claims, v.payload))
    }

    /// Verifies signature, issuer, audience and use but not expiry: for a
    /// just-expired access token that a dialect requires beside a refresh.
    pub fn verify_ignoring_expiry(
        &self,
        token: &str,
        expected: TokenUse,
    ) -> Result<Identity, TokenRejection> {
        let cfg = &self.inner.config;
        let expect = self.expect(expected, Expiry::Ignore);
        let v = jwt::verify(&self.inner.keys, &cfg.validation, token, expect, crate::time::now())?;
        Ok(Identity::new(v.claims, v.payload))
    }

    /// Fails with [`TokenRejection::Revoked`] if the store says the token,
    /// its family or its subject was revoked.
    pub async fn check_revocation(&self, claims: &Claims, now: i64) -> Result<(), AuthError> {
        let token = TokenRef {
            jti: claims.jti.as_deref(),
            family: claims.fam.as_deref(),
            sub: &claims.sub,
            iat: claims.iat.unwrap_or(i64::MIN),
        };
        self.check_revoked(&token, now).await
    }

    /// Fails with [`TokenRejection::Revoked`] if the store says so of `token`.
    pub(crate) async fn check_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<(), AuthError> {
        if self.inner.store.is_revoked(token, now).await? {
            return Err(AuthError::InvalidToken(TokenRejection::Revoked));
        }
        Ok(())
    }

    /// With [`AuthorityConfig::check_principal`] on, fails with
    /// [`TokenRejection::InactivePrincipal`] unless the user store still
    /// knows `sub`.
    pub async fn check_principal(&self, sub: &str) -> Result<(), AuthError> {
        if self.inner.config.check_principal {
            self.active_principal(sub).await?;
        }
        Ok(())
    }

    /// The principal `sub` names, as the user store knows it now;
    /// [`TokenRejection::InactivePrincipal`] if it is gone or disabled.
    pub(crate) async fn active_principal(&self, sub: &str) -> Result<Principal, AuthError> {
        self.inner.users.load(sub).await?.ok_or(AuthError::InvalidToken(TokenRejection::InactivePrincipal))
    }

    /// Authenticates an access token: signature, claims, use, revocation
    /// and (when configured) the principal.
    pub async fn authenticate_token(&self, token: &str) -> Result<Identity, AuthError> {
        let now = crate::time::now();
        let identity = self.verify(token, TokenUse::Access, now).map_err(AuthError::InvalidToken)?;
        self.check_revocation(&identity.claims, now).await?;
        self.check_principal(&identity.claims.sub).await?;
        Ok(identity)
    }

    /// Authenticates credentials from an `Authorization` header: a JWT
    /// access token for `Bearer` and `Token`, a username and password for
    /// `Basic` (the identity then has no token claims beyond the principal).
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<Identity, AuthError> {
        self.authenticate_from(credentials, None).await
    }

    /// [`authenticate`](Self::authenticate) for a request from `client`
    /// (it matters to the login throttle behind `Basic` passwords).
    pub async fn authenticate_from(
        &self,
        credentials: &Credentials,
        client: Option<IpAddr>,
    ) -> Result<Identity, AuthError> {
        match credentials {
            Credentials::Bearer(token) | Credentials::Token(token) => self.authenticate_token(token).await,
            Credentials::Basic { user, password }
                if self.inner.config.basic == BasicCredentials::KeyToken =>
            {
                self.authenticate_opaque(user, password).await
            }
            Credentials::Basic { user, password } => {
                let principal = self.check_password_from(client, user, password).await?;
                let now = crate::time::now();
                let claims = self.base_claims(&principal, TokenUse::Access, now, 0);
                let payload = serde_json::to_vec(&claims).unwrap_or_default();
                Ok(Identity::new(claims, payload))
            }
        }
    }

    /// Exchanges a refresh token for a new pair (rotation on) or a new
    /// access token (rotation off; `refresh_token` is then `None`).
    /// Presenting a rotated refresh token revokes its whole family.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        let now = crate::time::now();
        let cfg = &self.inner.config;
        let presented =
            self.verify(refresh_token, TokenUse::Refresh, now).map_err(AuthError::InvalidToken)?;
        let old = &presented.claims;
        self.check_revocation(old, now).await?;
        let auth_time = old.auth_time.or(old.iat).unwrap_or(now);
        self.check_window(auth_time, now)?;
        let (Some(family), Some(jti)) = (old.fam.as_deref(), old.jti.as_deref()) else {
            return Err(AuthError::InvalidToken(TokenRejection::Malformed));
        };
        let principal = self.reload(&presented).await?;
        if !cfg.rotate_refresh {
            let store = &self.inner.store;
            // The family must outlive the access token issued now.
            if !store.family_is_current(family, jti, now).await?
                || !store.extend_family(family, self.family_keep(auth_time, now), now).await?
            {
                return Err(AuthError::InvalidToken(TokenRejection::Revoked));
            }
            let mut pair = self.sign_pair(&principal, family, jti, auth_time, now)?;
            pair.refresh_token = None;
            pair.refresh_claims = None;
            return Ok(pair);
        }
        let next = new_id();
        let grace = secs(cfg.reuse_grace);
        let keep = self.family_keep(auth_time, now);
        let outcome = self.inner.store.rotate_family(family, jti, &next, grace, keep, now).await?;
        let current = match outcome {
            Rotation::Rotated => next,
            Rotation::Grace { current } => current,
            Rotation::Reused => {
                tracing::warn!(sub = %old.sub, "refresh token reuse detected; family revoked");
                return Err(AuthError::InvalidToken(TokenRejection::Reused));
            }
            Rotation::Dead => return Err(AuthError::InvalidToken(TokenRejection::Revoked)),
        };
        self.sign_pair(&principal, family, &current, auth_time, now)
    }

    /// The principal behind a session being renewed, as the user store
    /// knows it now (a deleted or disabled user is refused; changed roles
    /// and username show up), with the application's claims of the token
    /// it renews carried over where the store has none of that name.
    pub async fn reload(&self, identity: &Identity) -> Result<Principal, AuthError> {
        let mut principal = self.active_principal(identity.sub()).await?;
        for (name, value) in identity.app_claims() {
            principal.extra.entry(name).or_insert(value);
        }
        Ok(principal)
    }

    /// A fresh access token for a valid one: the same subject, login time,
    /// family and application claims, the principal reloaded from the user
    /// store, a new `jti` and expiry. The old one stays valid; revoking
    /// the family ends both. With a refresh window (the default), no
    /// extension after the original login plus it.
    pub async fn extend(&self, access_token: &str) -> Result<TokenPair, AuthError> {
        let now = crate::time::now();
        let identity = self.verify(access_token, TokenUse::Access, now).map_err(AuthError::InvalidToken)?;
        self.check_revocation(&identity.claims, now).await?;
        // Loaded once, here: it is also the principal check.
        let principal = self.reload(&identity).await?;
        let old = &identity.claims;
        self.check_window(old.auth_time.or(old.iat).unwrap_or(now), now)?;
        let cfg = &self.inner.config;
        let mut claims = self.base_claims(&principal, TokenUse::Access, now, secs(cfg.access_ttl));
        claims.auth_time = old.auth_time;
        claims.fam.clone_from(&old.fam);
        if let Some(family) = &old.fam {
            // The extension joins the family, which must now outlive it.
            let keep = claims.exp.saturating_add(cfg.validation.leeway);
            if !self.inner.store.extend_family(family, keep, now).await? {
                return Err(AuthError::InvalidToken(TokenRejection::Revoked));
            }
        }
        Ok(TokenPair {
            access_token: self.sign(&claims, &principal)?,
            access_claims: claims,
            refresh_token: None,
            refresh_claims: None,
        })
    }

    /// RFC 7662-style introspection: the claims of a live token of use
    /// `token_use`, `None` for anything else (a refresh token asked about
    /// as an access token included).
    pub async fn introspect(&self, token: &str, token_use: TokenUse) -> Result<Option<Claims>, AuthError> {
        let now = crate::time::now();
        let Ok(identity) = self.verify(token, token_use, now) else { return Ok(None) };
        let live = async {
            self.check_revocation(&identity.claims, now).await?;
            self.check_principal(&identity.claims.sub).await
        };
        match live.await {
            Ok(()) => Ok(Some(Claims::clone(&identity.claims))),
            Err(AuthError::InvalidToken(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Revokes one token (by its `jti`) until it would have expired, leeway included.
    pub async fn revoke(&self, claims: &Claims) -> Result<(), AuthError> {
        if let Some(jti) = &claims.jti {
            // Kept through the leeway: verification accepts until exp + leeway.
            let keep = claims.exp.saturating_add(self.inner.config.validation.leeway);
            self.inner.store.revoke_token(jti, keep, crate::time::now()).await?;
        }
        Ok(())
    }

    /// Revokes a refresh family: its refresh tokens and the access tokens
    /// issued with them stop working.
    pub async fn revoke_family(&self, family: &str) -> Result<(), AuthError> {
        Ok(self.inner.store.revoke_family(family, crate::time::now()).await?)
    }

    /// Revokes every token of `sub` issued up to now ("log out everywhere").
    pub async fn revoke_subject(&self, sub: &str) -> Result<(), AuthError> {
        let cfg = &self.inner.config;
        let now = crate::time::now();
        let longest = secs(cfg.refresh_ttl.max(cfg.access_ttl).max(cfg.refresh_window.unwrap_or_default()));
        let keep = now.saturating_add(longest).saturating_add(cfg.validation.leeway);
        Ok(self.inner.store.revoke_subject(sub, now, keep, now).await?)
    }

    /// Logs out: revokes the access token and its family, and the family of
    /// `refresh_token` when it is one of ours and belongs to the same
    /// subject. Any other `refresh_token` is ignored without an error
    /// (RFC 7009 section 2.2: an invalid token is no reason to fail, and an
    /// error would tell a caller which tokens are valid).
    pub async fn logout(&self, identity: &Identity, refresh_token: Option<&str>) -> Result<(), AuthError> {
        self.revoke(&identity.claims).await?;
        if let Some(family) = &identity.claims.fam {
            self.revoke_family(family).await?;
        }
        let refresh = refresh_token.and_then(|t| self.verify_ignoring_expiry(t, TokenUse::Refresh).ok());
        if let Some(refresh) = refresh.filter(|r| r.claims.sub == identity.claims.sub) {
            if let Some(family) = &refresh.claims.fam {
                self.revoke_family(family).await?;
            }
        }
        Ok(())
    }
}
