//! Throttled password checks: login and the check behind it.

use std::net::IpAddr;

use super::{Authority, TokenPair};
use crate::client::Peer;
use crate::error::{AuthError, UserStoreError};
use crate::places::Place;
use crate::throttle::{self, LoginRules};
use crate::users::Principal;

impl Authority {
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
        if self.inner.users.saturated() {
            // The check would be refused unrun, and so not counted: refuse
            // it before the throttle hashes keys and writes counters.
            return self.refuse(UserStoreError::Busy.into()).await;
        }
        let now = crate::time::now();
        let store = self.inner.store.as_ref();
        let cfg = &self.inner.config;
        let rules = LoginRules::new(
            cfg.failure_window,
            cfg.max_failed_logins,
            cfg.max_failed_logins_per_address,
            cfg.max_failed_logins_per_user,
        );
        let admitted = match throttle::admit(store, &rules, username, client, now).await {
            Ok(admitted) => admitted,
            Err(refused @ AuthError::TooManyAttempts { .. }) => return self.refuse(refused).await,
            Err(other) => return Err(other),
        };
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

    /// Answers a refusal that cost no hash after
    /// [`refusal_delay`](crate::AuthorityConfig::refusal_delay), unless
    /// [`max_held_refusals`](crate::AuthorityConfig::max_held_refusals) are
    /// held already.
    async fn refuse(&self, refusal: AuthError) -> Result<Principal, AuthError> {
        let (delay, max) = (self.inner.config.refusal_delay, self.inner.config.max_held_refusals);
        if delay.is_zero() {
            return Err(refusal);
        }
        if let Some(_held) = Place::take(&self.inner.held_refusals, max) {
            tokio::time::sleep(delay).await;
        }
        Err(refusal)
    }

    /// The client address the login throttle counts for a request from
    /// `peer`: the TCP peer, or what a trusted proxy says
    /// ([`AuthorityConfig::trusted_proxies`](crate::AuthorityConfig::trusted_proxies)).
    pub fn client_address(&self, peer: &Peer) -> Option<IpAddr> {
        self.inner.config.trusted_proxies.client_address(peer)
    }
}
