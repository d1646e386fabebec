//! [`AuthorityConfig`]: lifetimes, checks and policies, plain data.

use std::time::Duration;

use crate::cache::TokenCacheConfig;
use crate::claims::{ClaimStyle, TokenUse};
use crate::client::TrustedProxies;
use crate::jwt::Validation;

/// Lifetimes, checks and policies of an [`Authority`](crate::Authority). Plain data with safe
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
    /// without counting as reuse: the answer is a fresh pair of the
    /// family's current generation, and the family goes on. This covers a
    /// client whose refresh answer was lost (a timeout after the rotation
    /// committed) and retries with the token it had, and two tabs
    /// refreshing at once. Past it, presenting a rotated token revokes the
    /// family. The trade-off: a thief who presents a token rotated less
    /// than this long ago gets the one grace answer instead of killing the
    /// family (the owner's next refresh then does). Default 10 s; zero
    /// makes every second presentation reuse.
    pub reuse_grace: Duration,
    /// Claims checks (leeway, issuer, audience, size cap). The issuer and
    /// audience set here are also written into issued tokens.
    pub validation: Validation,
    /// How long a client that logged in as a user stays trusted by that
    /// user's login throttle: the lifetime of the device token a successful
    /// password login hands out (see [`device_token_in`](crate::device_token_in)),
    /// and how long the address it logged in from is remembered. A trusted
    /// client is never refused by the per-user rule: a device token is
    /// judged by its own failures alone, and a remembered address by its
    /// own address counters. So an attacker elsewhere cannot lock the user
    /// out of a device or an address they used before (an attacker behind
    /// the *same* address shares its counters: there only the device
    /// token tells the user apart). Default 30 days; `None` turns device
    /// tokens and remembered addresses off.
    pub device_ttl: Option<Duration>,
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
    /// Logins of one external principal (an identity provider's subject,
    /// [`Authority::login_external`](crate::Authority::login_external))
    /// within `failure_window`, successful or not, before each further one
    /// must wait 1 s, 2 s, 4 s … (up to the window). Every IdP login
    /// starts a session the store keeps, so a valid IdP token replayed in
    /// a loop is slowed down and costs bounded state. Default 20; zero
    /// turns it off.
    pub max_external_logins: u32,
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
    /// Asks the [`UserStore`](crate::UserStore) on every authentication whether the token's
    /// subject still exists ([`UserStore::load`](crate::UserStore::load)), so that deleting or
    /// disabling a user cuts their tokens off at once rather than when they
    /// expire (simplejwt does this by default). Costs one user-store lookup
    /// per request (see BENCHMARKS.md). Default off.
    pub check_principal: bool,
    /// The verified-token cache in front of access-token verification
    /// (on by default; see [`TokenCacheConfig`]).
    pub token_cache: TokenCacheConfig,
    /// How long a password check refused before any hashing (429 from the
    /// throttle, 503 from a full hashing queue and waiting room) is held
    /// before it is answered. A refusal costs the server almost nothing,
    /// so a client that retries on every refusal would otherwise send
    /// them as fast as the server answers, at the expense of every other
    /// route; held, it is slowed to a few attempts a second. Default
    /// 250 ms; zero answers at once.
    pub refusal_delay: Duration,
    /// How many refusals may be held at once (each holds only its request
    /// and a timer); past this, refusals are answered at once, so the
    /// delay never holds more memory than this many requests. Default 1024.
    pub max_held_refusals: usize,
}

/// The default [`AuthorityConfig::reuse_grace`]: 10 seconds.
pub const DEFAULT_REUSE_GRACE: Duration = Duration::from_secs(10);

/// The default absolute session cap ([`AuthorityConfig::refresh_window`]): 30 days.
pub const DEFAULT_SESSION_CAP: Duration = Duration::from_secs(30 * 86_400);

/// What the user-id and password of `Authorization: Basic` are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BasicCredentials {
    /// A username and password, checked by the user store.
    #[default]
    Password,
    /// An opaque key and token issued by [`Authority::issue_opaque`](crate::Authority::issue_opaque).
    KeyToken,
}

impl Default for AuthorityConfig {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(86_400),
            refresh_window: Some(DEFAULT_SESSION_CAP),
            rotate_refresh: true,
            reuse_grace: DEFAULT_REUSE_GRACE,
            validation: Validation::default(),
            device_ttl: Some(crate::device::DEFAULT_DEVICE_TTL),
            max_failed_logins: 5,
            max_failed_logins_per_user: 20,
            max_failed_logins_per_address: 100,
            max_external_logins: 20,
            trusted_proxies: TrustedProxies::none(),
            failure_window: Duration::from_secs(15 * 60),
            claim_style: ClaimStyle::default(),
            basic: BasicCredentials::default(),
            check_principal: false,
            token_cache: TokenCacheConfig::default(),
            refusal_delay: Duration::from_millis(250),
            max_held_refusals: 1024,
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

    /// Sets the clock skew tolerated on `exp` and `nbf` (whole seconds;
    /// default 5 s; `Duration::ZERO` refuses a token the second it
    /// expires): the same as `validation.with_leeway(seconds)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = auth_core::AuthorityConfig::default().leeway(Duration::ZERO);
    /// assert_eq!(config.validation.leeway, 0);
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation = self.validation.with_leeway(i64::try_from(leeway.as_secs()).unwrap_or(i64::MAX));
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

    /// Sets how long a client stays trusted by the login throttle after
    /// logging in ([`device_ttl`](Self::device_ttl); `None`: never).
    ///
    /// ```
    /// let config = auth_core::AuthorityConfig::default().device_ttl(None);
    /// assert!(config.device_ttl.is_none());
    /// ```
    pub fn device_ttl(mut self, ttl: Option<Duration>) -> Self {
        self.device_ttl = ttl;
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

    /// Sets the verified-token cache's settings.
    ///
    /// ```
    /// use auth_core::{AuthorityConfig, TokenCacheConfig};
    /// let config = AuthorityConfig::default().token_cache(TokenCacheConfig::disabled());
    /// assert!(!config.token_cache.enabled);
    /// ```
    pub fn token_cache(mut self, cache: TokenCacheConfig) -> Self {
        self.token_cache = cache;
        self
    }

    /// The longest lifetime (`exp - iat`) this configuration issues tokens
    /// of `token_use` for; verification refuses longer ones.
    pub fn max_lifetime(&self, token_use: TokenUse) -> Duration {
        match token_use {
            TokenUse::Access => self.access_ttl,
            TokenUse::Refresh => self.refresh_ttl,
            TokenUse::Device => self.device_ttl.unwrap_or_default(),
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

    /// Sets how long a refused password check is held and how many may be
    /// held at once ([`refusal_delay`](Self::refusal_delay)).
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = auth_core::AuthorityConfig::default().hold_refusals(Duration::ZERO, 0);
    /// assert!(config.refusal_delay.is_zero());
    /// ```
    pub fn hold_refusals(mut self, delay: Duration, max_held: usize) -> Self {
        self.refusal_delay = delay;
        self.max_held_refusals = max_held;
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
