//! What a request asks of an [`Agent`]: the credential to send, a renewal
//! after a 401, and the account's identity and counters.

use std::sync::atomic::Ordering;

use super::credential::Held;
use super::origin::Origin;
use super::{Agent, Credential, Transport, now_ms};
use crate::agent::error::AgentError;
use crate::agent::wire::ClientDialect;

impl Agent {
    /// `"<dialect> <base URL> <username>"`: the key of this account's
    /// tokens in the [`TokenStore`](crate::agent::TokenStore).
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The dialect spoken.
    pub fn dialect(&self) -> &ClientDialect {
        &self.inner.wire.dialect
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u64 {
        self.inner.logins.load(Ordering::Relaxed)
    }

    /// Successful refreshes (or extends) so far.
    pub fn refreshes(&self) -> u64 {
        self.inner.refreshes.load(Ordering::Relaxed)
    }

    /// Whether a request to `scheme://authority` goes to this agent's
    /// server (only those get the credential: a token is never sent to
    /// another host). Default ports count as given.
    ///
    /// ```
    /// # use auth_core::agent::{Agent, ClientDialect};
    /// let agent = Agent::builder(ClientDialect::Standard, "http://API.example:80/", "u", "p").build().unwrap();
    /// assert!(agent.is_own_origin("http", "api.example"));
    /// assert!(!agent.is_own_origin("https", "api.example"));
    /// assert!(!agent.is_own_origin("http", "api.example.evil"));
    /// ```
    pub fn is_own_origin(&self, scheme: &str, authority: &str) -> bool {
        let https = match scheme {
            s if s.eq_ignore_ascii_case("https") => true,
            s if s.eq_ignore_ascii_case("http") => false,
            _ => return false,
        };
        Origin::from_parts(https, authority).is_some_and(|o| o == self.inner.origin)
    }

    /// The credential to send now: the current one, or a renewed one if it
    /// is due (a login when there is none). Concurrent callers share one
    /// renewal.
    pub async fn authorization<T: Transport>(&self, transport: &T) -> Result<Credential, AgentError> {
        if let Some(c) = self.usable(now_ms()) {
            return Ok(c);
        }
        let seen = self.inner.attempts.load(Ordering::Acquire);
        let mut loaded = self.inner.renewing.lock().await;
        if !*loaded {
            *loaded = true;
            self.restore().await;
        }
        if let Some(c) = self.usable(now_ms()) {
            return Ok(c);
        }
        self.renew_once(transport, seen).await
    }

    /// The server answered 401 to a request sent with `refused`: renew,
    /// unless another caller already has, and return the credential to
    /// retry with.
    pub async fn rejected<T: Transport>(
        &self,
        transport: &T,
        refused: &Credential,
    ) -> Result<Credential, AgentError> {
        let seen = self.inner.attempts.load(Ordering::Acquire);
        let _turn = self.inner.renewing.lock().await;
        if let Some(held) = self.held().filter(|h| !h.dead && h.credential.generation != refused.generation) {
            return Ok(held.credential);
        }
        self.invalidate(refused);
        self.renew_once(transport, seen).await
    }

    /// Renews (the caller holds the renewal lock), unless a renewal failed
    /// while the caller waited for its turn: then that failure is the
    /// answer, so N callers behind a refused login cause one login, not N.
    async fn renew_once<T: Transport>(&self, transport: &T, seen: u64) -> Result<Credential, AgentError> {
        let attempts = self.inner.attempts.load(Ordering::Acquire);
        if attempts != seen
            && let Ok(failure) = self.inner.failure.lock()
            && let Some((attempt, err)) = failure.as_ref()
            && *attempt == attempts
        {
            return Err(err.shared());
        }
        let result = self.renew(transport).await;
        let attempt = self.inner.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        if let Ok(mut failure) = self.inner.failure.lock() {
            *failure = result.as_ref().err().map(|e| (attempt, e.shared()));
        }
        result
    }

    /// Marks `refused` dead without renewing now (a request that cannot be
    /// retried got a 401): the next request renews.
    pub fn invalidate(&self, refused: &Credential) {
        if let Ok(mut current) = self.inner.current.write()
            && let Some(held) = current.as_mut().filter(|h| h.credential.generation == refused.generation)
        {
            held.dead = true;
        }
    }

    /// Forgets the credentials here and in the store: the next request
    /// logs in.
    pub async fn forget(&self) {
        let _turn = self.inner.renewing.lock().await;
        if let Ok(mut current) = self.inner.current.write() {
            *current = None;
        }
        if let Err(e) = self.inner.store.clear(&self.inner.account).await {
            tracing::warn!(error = %e, "the token store could not forget the tokens");
        }
    }

    pub(super) fn held(&self) -> Option<Held> {
        self.inner.current.read().ok().and_then(|c| c.clone())
    }

    /// The current credential if it needs no renewal (the per-request
    /// path: checked under the read lock, only the credential cloned).
    fn usable(&self, now: u64) -> Option<Credential> {
        let current = self.inner.current.read().ok()?;
        let held = current.as_ref().filter(|h| !h.dead && !h.tokens.renewal_due(now, self.inner.margin))?;
        Some(held.credential.clone())
    }
}
