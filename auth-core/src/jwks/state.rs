//! One issuer's keys: cached, refreshed ahead of expiry, refetched
//! (rate-limited) on an unknown `kid`, kept while the provider is down.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwapOption;

use super::config::{IssuerConfig, JwksOptions, KeySource};
use super::fetch;
use crate::error::{AuthError, TokenRejection};
use crate::keys::JwtKey;

/// A key set as fetched: per `kid`, a key per algorithm it verifies with.
pub(super) struct Snapshot {
    pub(super) keys: HashMap<String, Vec<JwtKey>>,
    pub(super) fetched_at: Instant,
    pub(super) max_age: std::time::Duration,
}

pub(super) struct IssuerState {
    pub(super) config: IssuerConfig,
    options: Arc<JwksOptions>,
    client: reqwest::Client,
    current: ArcSwapOption<Snapshot>,
    /// The discovered (or configured) JWKS URL.
    jwks_url: Mutex<Option<String>>,
    /// Single flight: one fetch at a time; waiters see its result.
    fetching: tokio::sync::Mutex<()>,
    /// When the last fetch (good or bad) started, and whether it failed.
    last_attempt: Mutex<Option<(Instant, bool)>>,
    refreshing: AtomicBool,
}

impl IssuerState {
    pub(super) fn new(config: IssuerConfig, client: reqwest::Client, options: Arc<JwksOptions>) -> Self {
        let jwks_url = match &config.source {
            KeySource::JwksUrl(url) => Some(url.clone()),
            KeySource::Discovery => None,
        };
        Self {
            config,
            options,
            client,
            current: ArcSwapOption::empty(),
            jwks_url: Mutex::new(jwks_url),
            fetching: tokio::sync::Mutex::new(()),
            last_attempt: Mutex::new(None),
            refreshing: AtomicBool::new(false),
        }
    }

    /// The keys `kid` names (one per algorithm it verifies with): from the
    /// cache, or after one (rate-limited) fetch when the cache does not
    /// know it.
    pub(super) async fn key(self: &Arc<Self>, kid: &str) -> Result<Vec<JwtKey>, AuthError> {
        let now = Instant::now();
        let keys = self.keys(now).await?;
        if let Some(key) = keys.keys.get(kid) {
            return Ok(key.clone());
        }
        // Unknown kid: the provider may have rotated. Fetch again, unless
        // a fetch started within the cooldown (made-up kids cost nothing).
        if !self.may_fetch(now, self.options.unknown_kid_cooldown) {
            return Err(AuthError::InvalidToken(TokenRejection::UnknownKey));
        }
        let seen = Arc::as_ptr(&keys) as usize;
        let _flight = self.fetching.lock().await;
        let latest = self.current.load_full();
        let fresh = match latest {
            // Someone else fetched while we waited: use theirs.
            Some(latest) if Arc::as_ptr(&latest) as usize != seen => Some(latest),
            _ if self.may_fetch(now, self.options.unknown_kid_cooldown) => self.fetch_now().await.ok(),
            _ => None,
        };
        fresh
            .and_then(|s| s.keys.get(kid).cloned())
            .ok_or(AuthError::InvalidToken(TokenRejection::UnknownKey))
    }

    /// The usable key set at `now`: fresh, refreshed in the background
    /// when 80 % of its max-age has passed, fetched now when too old, or
    /// the stale one while the provider is down (up to `max_stale`).
    pub(super) async fn keys(self: &Arc<Self>, now: Instant) -> Result<Arc<Snapshot>, AuthError> {
        if let Some(snap) = self.current.load_full() {
            let age = now.saturating_duration_since(snap.fetched_at);
            if age < snap.max_age {
                // 80 % of the max-age, in integer arithmetic: no option
                // value (up to `Duration::MAX`) can make it panic.
                if age >= snap.max_age.saturating_sub(snap.max_age / 5) {
                    self.refresh_in_background();
                }
                return Ok(snap);
            }
        }
        // Expired or never fetched: fetch now (single flight).
        let _flight = self.fetching.lock().await;
        if let Some(snap) = self.current.load_full()
            && now.saturating_duration_since(snap.fetched_at) < snap.max_age
        {
            return Ok(snap); // fetched while we waited
        }
        if self.may_fetch(Instant::now(), std::time::Duration::ZERO)
            && let Ok(snap) = self.fetch_now().await
        {
            return Ok(snap);
        }
        match self.current.load_full() {
            Some(stale)
                if now.saturating_duration_since(stale.fetched_at)
                    < stale.max_age.saturating_add(self.options.max_stale) =>
            {
                Ok(stale)
            }
            Some(_) => {
                // Too stale to trust: drop it.
                self.current.store(None);
                Err(AuthError::Unavailable)
            }
            None => Err(AuthError::Unavailable),
        }
    }

    fn refresh_in_background(self: &Arc<Self>) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refreshing.store(false, Ordering::Release);
            return;
        };
        let this = Arc::clone(self);
        runtime.spawn(async move {
            {
                let _flight = this.fetching.lock().await;
                if this.may_fetch(Instant::now(), std::time::Duration::ZERO) {
                    let _ = this.fetch_now().await;
                }
            }
            this.refreshing.store(false, Ordering::Release);
        });
    }

    /// Whether a fetch may start at `now`: none started within `cooldown`,
    /// and none failed within `retry_after_failure`.
    fn may_fetch(&self, now: Instant, cooldown: std::time::Duration) -> bool {
        let last = *self.last_attempt.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match last {
            None => true,
            Some((at, failed)) => {
                let since = now.saturating_duration_since(at);
                since >= cooldown && (!failed || since >= self.options.retry_after_failure)
            }
        }
    }

    /// Fetches the key set (discovering the URL first if needed). Call
    /// with `fetching` held.
    async fn fetch_now(&self) -> Result<Arc<Snapshot>, ()> {
        let started = Instant::now();
        let result = self.fetch().await;
        let failed = result.is_err();
        crate::metrics::record::jwks_fetch(&self.config.issuer, !failed);
        *self.last_attempt.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((started, failed));
        match result {
            Ok(fetched) => {
                let snap =
                    Arc::new(Snapshot { keys: fetched.keys, fetched_at: started, max_age: fetched.max_age });
                self.current.store(Some(snap.clone()));
                Ok(snap)
            }
            Err(e) => {
                tracing::warn!(issuer = %self.config.issuer, error = %e, "fetching the issuer's keys failed; keeping the last good set");
                Err(())
            }
        }
    }

    async fn fetch(&self) -> Result<fetch::Fetched, fetch::FetchError> {
        let known = self.jwks_url.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let url = match known {
            Some(url) => url,
            None => {
                let url = fetch::discover(&self.client, &self.config.issuer, &self.options).await?;
                *self.jwks_url.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(url.clone());
                url
            }
        };
        fetch::jwks(&self.client, &url, &self.config.algorithms, &self.options).await
    }
}
