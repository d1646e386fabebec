//! Renewing an [`Agent`]'s credential: restoring saved tokens, refreshing,
//! logging in, and reading the server's answer. Always called with the
//! renewal lock held.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::credential::Held;
use super::{Agent, AgentEvent, Credential, Transport, now_ms};
use crate::agent::error::AgentError;
use crate::agent::tokens::Tokens;
use crate::agent::wire::{Exchange, Step};
use crate::metrics::record;

impl Agent {
    pub(super) async fn restore(&self) {
        match self.inner.store.load(&self.inner.account).await {
            Ok(Some(tokens)) => {
                let expires_in = tokens.expires_in(now_ms());
                self.install(tokens);
                tracing::debug!(
                    dialect = self.dialect().name(),
                    ?expires_in,
                    "tokens restored from the store"
                );
                self.emit(&AgentEvent::Restored { expires_in });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the token store could not be read; logging in"),
        }
    }

    /// Refresh if the held tokens allow it, else log in. Called with the
    /// renewal lock held.
    pub(super) async fn renew<T: Transport>(&self, transport: &T) -> Result<Credential, AgentError> {
        let now = now_ms();
        let Some(held) = self.held() else { return self.login(transport).await };
        let dialect = self.dialect();
        let live = !held.dead && !held.tokens.access_expired(now);
        let refreshable =
            if dialect.renews_live_access_only() { live } else { !held.tokens.refresh_expired(now) };
        let exchange = refreshable.then(|| self.inner.wire.renew(&held.tokens)).flatten();
        let Some(exchange) = exchange else { return self.login(transport).await };
        let refreshed = self.exchange(transport, Step::Refresh, exchange, Some(&held.tokens)).await;
        record::client_refresh(dialect.name(), outcome(&refreshed));
        match refreshed {
            Ok(tokens) => {
                self.inner.refreshes.fetch_add(1, Ordering::Relaxed);
                let expires_in = tokens.expires_in(now_ms());
                let credential = self.install_and_save(tokens).await;
                tracing::debug!(dialect = dialect.name(), ?expires_in, "access token refreshed");
                self.emit(&AgentEvent::Refreshed { expires_in });
                Ok(credential)
            }
            Err(AgentError::Refused { status, .. }) => {
                tracing::debug!(dialect = dialect.name(), status, "refresh refused; logging in");
                self.emit(&AgentEvent::RefreshRefused { status });
                self.login(transport).await
            }
            // The server is unreachable or failing: a token that still
            // lives is better than none.
            Err(e) if live => {
                tracing::debug!(dialect = dialect.name(), error = %e, "refresh failed; the current token still lives");
                Ok(held.credential)
            }
            Err(e) => Err(e),
        }
    }

    async fn login<T: Transport>(&self, transport: &T) -> Result<Credential, AgentError> {
        let mut exchange = self.inner.wire.login(&self.inner.username, &self.inner.password);
        exchange.device_token = self.inner.device.lock().ok().and_then(|d| d.clone());
        let answer = self.exchange(transport, Step::Login, exchange, None).await;
        record::client_login(self.dialect().name(), outcome(&answer));
        let tokens = answer?;
        self.inner.logins.fetch_add(1, Ordering::Relaxed);
        let expires_in = tokens.expires_in(now_ms());
        let credential = self.install_and_save(tokens).await;
        tracing::debug!(dialect = self.dialect().name(), ?expires_in, "logged in");
        self.emit(&AgentEvent::LoggedIn { expires_in });
        Ok(credential)
    }

    /// Sends a login or refresh and reads its answer. A 4xx other than 429
    /// is a refusal ([`AgentError::Refused`]); a 3xx is never followed
    /// ([`AgentError::Redirected`]), whatever the transport does with
    /// other requests.
    async fn exchange<T: Transport>(
        &self,
        transport: &T,
        step: Step,
        exchange: Exchange,
        previous: Option<&Tokens>,
    ) -> Result<Tokens, AgentError> {
        let reply = transport
            .send(exchange)
            .await
            .map_err(|source| AgentError::Transport { step: step.as_str(), source })?;
        match reply.status {
            200 => {
                if let (Some(token), Ok(mut device)) = (reply.device_token, self.inner.device.lock()) {
                    *device = Some(token);
                }
                self.inner.wire.read(step, &reply.body, previous, now_ms())
            }
            status @ 300..=399 => {
                tracing::warn!(
                    step = step.as_str(),
                    status,
                    "a login or refresh answered a redirect; not followed"
                );
                Err(AgentError::Redirected { step: step.as_str(), status })
            }
            status @ 400..=499 if status != 429 => Err(AgentError::Refused { step: step.as_str(), status }),
            status => Err(AgentError::Unavailable { step: step.as_str(), status }),
        }
    }

    fn install(&self, tokens: Tokens) -> Credential {
        let generation = self.inner.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let credential = Credential { header: self.inner.wire.authorization(&tokens).into(), generation };
        let held = Held { tokens: Arc::new(tokens), credential: credential.clone(), dead: false };
        if let Ok(mut current) = self.inner.current.write() {
            *current = Some(held);
        }
        credential
    }

    async fn install_and_save(&self, tokens: Tokens) -> Credential {
        if let Err(e) = self.inner.store.save(&self.inner.account, &tokens).await {
            tracing::warn!(error = %e, "the token store could not save the tokens; keeping them in memory");
        }
        self.install(tokens)
    }

    fn emit(&self, event: &AgentEvent) {
        if let Some(observer) = &self.inner.observer {
            observer(event);
        }
    }
}

/// The `outcome` label of a login or refresh: `ok`; `refused` when the
/// server answered a 4xx refusal (wrong credentials, a refresh token it
/// no longer honours); `error` for anything else (the transport, a 429 or
/// 5xx, a redirect, an answer that is not the dialect's).
fn outcome<T>(answer: &Result<T, AgentError>) -> &'static str {
    match answer {
        Ok(_) => "ok",
        Err(AgentError::Refused { .. }) => "refused",
        Err(_) => "error",
    }
}
