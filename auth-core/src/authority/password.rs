//! Throttled logins: passwords, identity providers' tokens, device tokens.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use super::{Authority, TokenPair};
use crate::claims::{Claims, TokenUse};
use crate::client::{LoginClient, Peer};
use crate::error::{AuthError, TokenRejection, UserStoreError};
use crate::external::ExternalIdentity;
use crate::places::Place;
use crate::store::TokenRef;
use crate::throttle::{self, LoginRules, Standing};
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

    /// [`login`](Self::login) from `client`: its address (`Option<IpAddr>`
    /// converts) or a whole [`LoginClient`] with its device token (see
    /// [`login_client`](Self::login_client)).
    pub async fn login_from(
        &self,
        client: impl Into<LoginClient>,
        username: &str,
        password: &str,
    ) -> Result<TokenPair, AuthError> {
        let client = client.into();
        let csrf = client.csrf_claim.clone();
        let principal = self.check_password_from(client, username, password).await?;
        self.issue(&bind(principal, csrf)).await
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
        client: impl Into<LoginClient>,
        username: &str,
        password: &str,
    ) -> Result<TokenPair, AuthError> {
        let client = client.into();
        let csrf = client.csrf_claim.clone();
        let principal = self.check_password_from(client, username, password).await?;
        self.issue_access(&bind(principal, csrf)).await
    }

    /// [`check_password_from`](Self::check_password_from) with the client
    /// address unknown.
    pub async fn check_password(&self, username: &str, password: &str) -> Result<Principal, AuthError> {
        self.check_password_from(None, username, password).await
    }

    /// The throttled password check behind [`login_from`](Self::login_from),
    /// for dialects that issue something other than a JWT pair. The
    /// attempt is counted before the password is hashed, in one atomic
    /// store operation per counter (see [`AttemptRule`](crate::AttemptRule)
    /// and the rules in the README), so parallel guesses cannot slip past
    /// the limit. A success hands `client` a new device token (which a
    /// route set sends back in the `Device-Token` header and cookie).
    pub async fn check_password_from(
        &self,
        client: impl Into<LoginClient>,
        username: &str,
        password: &str,
    ) -> Result<Principal, AuthError> {
        let client = client.into();
        crate::audit::note(|t| t.username = Some(username.trim().to_owned()));
        if self.inner.users.saturated() {
            // The check would be refused unrun, and so not counted: refuse
            // it before the throttle hashes keys and writes counters.
            crate::metrics::record::hashing_refused();
            return self.refuse(UserStoreError::Busy.into()).await;
        }
        let now = crate::time::now();
        let rules = LoginRules::new(&self.inner.config);
        let name = self.inner.users.canonical_username(username);
        let device = match client.device_token.as_deref() {
            Some(token) => self.device_of(token, username, now).await?,
            None => None,
        };
        let standing = match &device {
            Some(device) => Standing::Device(&device.id),
            None => Standing::Address(client.addr),
        };
        let mut admitted =
            self.held(throttle::admit(self.store(), &rules, &name, standing, now).await).await?;
        match self.inner.users.verify_password(username, password).await {
            Ok(Some(principal)) => {
                if device.as_ref().is_some_and(|d| d.principal != principal.id) {
                    // Another account's device token: its failures stay counted.
                    admitted.keep_counts();
                }
                admitted.succeeded().await?;
                self.hand_device_token(&client, username, &principal, now);
                crate::audit::note_session(&principal.id, None);
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

    /// Logs in the principal an external identity provider's `token`
    /// stands for, through the provider of
    /// [`AuthorityBuilder::external_identity`](crate::AuthorityBuilder::external_identity),
    /// with the client address unknown; servers call
    /// [`login_external_from`](Self::login_external_from). Without a
    /// provider configured this is [`AuthError::MissingCredentials`].
    pub async fn login_external(&self, token: &str) -> Result<TokenPair, AuthError> {
        self.login_external_from(None, token).await
    }

    /// [`login_external`](Self::login_external) from `client`.
    pub async fn login_external_from(
        &self,
        client: impl Into<LoginClient>,
        token: &str,
    ) -> Result<TokenPair, AuthError> {
        let external = self.inner.external.clone().ok_or(AuthError::MissingCredentials)?;
        self.login_external_via(external.as_ref(), client, token).await
    }

    /// Logs in through `external` (a dialect's own provider): the token is
    /// verified, its issuer and subject looked up with
    /// [`UserStore::load_external`](crate::UserStore::load_external) (an
    /// identity the store does not know or has disabled is refused with
    /// [`TokenRejection::SubjectNotAllowed`]; the stored principal, with
    /// its roles, is what the tokens carry), and the login is throttled:
    /// a failure costs the client's address as a wrong password does, and
    /// every login of one principal counts
    /// ([`AuthorityConfig::max_external_logins`](crate::AuthorityConfig::max_external_logins)).
    pub async fn login_external_via(
        &self,
        external: &dyn ExternalIdentity,
        client: impl Into<LoginClient>,
        token: &str,
    ) -> Result<TokenPair, AuthError> {
        let client = client.into();
        crate::audit::note(|t| t.external = true);
        let now = crate::time::now();
        let rules = LoginRules::new(&self.inner.config);
        let mut admitted =
            self.held(throttle::admit_address(self.store(), &rules, client.addr, now).await).await?;
        let who = external.verify(token).await?;
        let principal = match self.inner.users.load_external(&who).await {
            Ok(Some(principal)) => principal,
            Ok(None) => return Err(AuthError::InvalidToken(TokenRejection::SubjectNotAllowed)),
            Err(err) => {
                admitted.release().await?;
                return Err(err.into());
            }
        };
        self.held(admitted.count_external(&rules, &principal.id).await).await?;
        admitted.succeeded().await?;
        self.issue(&bind(principal, client.csrf_claim)).await
    }

    /// `result`, with a throttle refusal (429) held as [`refuse`](Self::refuse) holds it.
    async fn held<T>(&self, result: Result<T, AuthError>) -> Result<T, AuthError> {
        match result {
            Err(refused @ AuthError::TooManyAttempts { .. }) => self.refuse(refused).await,
            other => other,
        }
    }

    /// Answers a refusal that cost no hash after
    /// [`refusal_delay`](crate::AuthorityConfig::refusal_delay), unless
    /// [`max_held_refusals`](crate::AuthorityConfig::max_held_refusals) are
    /// held already.
    async fn refuse<T>(&self, refusal: AuthError) -> Result<T, AuthError> {
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

    /// Who is logging in, for the login throttle: the
    /// [`client_address`](Self::client_address) of `peer` and its device
    /// token. Where the server knows no peer address (axum served without
    /// `into_make_service_with_connect_info::<SocketAddr>()`), the
    /// per-address limits cannot apply (they are skipped, never keyed by
    /// something every client would share, so one client's wrong
    /// passwords cannot lock out another): the first such login logs an
    /// `error` saying how to fix it.
    pub fn login_client(&self, peer: &Peer) -> LoginClient {
        let addr = self.client_address(peer);
        if addr.is_none() && !self.inner.warned_no_peer.swap(true, Ordering::Relaxed) {
            tracing::error!(
                "a login arrived with no client address, so the login throttle cannot count per address \
                 (only per user): serve axum with \
                 `axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())`"
            );
        }
        LoginClient::new(addr, peer.device_token.clone())
    }

    /// `token` if it is a live device token of ours for `username`:
    /// signed by us for device use, naming exactly that username as it was
    /// typed at the login that earned it (trimmed; not merely one that
    /// folds to the same name, so an account whose name only looks alike
    /// lends it nothing), its subject not revoked since it was issued (a
    /// password reset that revokes the subject ends its device tokens
    /// too). Anything else is no device token: the attempt is judged as
    /// any new client's.
    async fn device_of(&self, token: &str, username: &str, now: i64) -> Result<Option<Device>, AuthError> {
        if self.inner.config.device_ttl.is_none() {
            return Ok(None);
        }
        let Ok(identity) = self.verify(token, TokenUse::Device, now) else { return Ok(None) };
        let claims = &identity.claims;
        let (Some(id), Some(named)) = (claims.jti.as_deref(), claims.username.as_deref()) else {
            return Ok(None);
        };
        if named != username.trim() || self.store().is_revoked(&TokenRef::of(claims), now).await? {
            return Ok(None);
        }
        Ok(Some(Device { id: id.to_owned(), principal: claims.sub.clone() }))
    }

    /// Signs a new device token for `username` as typed (trimmed) and the
    /// principal that logged in, and leaves it where the route engine will
    /// send it back (nothing if nobody will, or device tokens are off).
    fn hand_device_token(&self, client: &LoginClient, username: &str, principal: &Principal, now: i64) {
        let (Some(slot), Some(ttl)) = (&client.issued, self.inner.config.device_ttl) else { return };
        let v = &self.inner.config.validation;
        let claims = Claims {
            sub: principal.id.clone(),
            username: Some(username.trim().to_owned()),
            iss: v.issuer.clone(),
            aud: v.audience.clone().map(crate::claims::Audience::One),
            exp: now.saturating_add(super::secs(ttl)),
            iat: Some(now),
            jti: Some(super::new_id()),
            token_use: Some(TokenUse::Device),
            ..Claims::default()
        };
        if let Ok(token) = self.sign(&claims, &Principal::default()) {
            let _ = slot.set(token);
        }
    }
}

/// `principal` with the cookie-mode session's `csrf` claim, if there is one.
/// The claim is ours alone: a user store's value of that name never reaches a token.
fn bind(mut principal: Principal, csrf_claim: Option<String>) -> Principal {
    principal.extra.remove(crate::cookies::CSRF_CLAIM);
    if let Some(claim) = csrf_claim {
        principal.extra.insert(crate::cookies::CSRF_CLAIM.to_owned(), claim.into());
    }
    principal
}

/// A device token that passed [`Authority::device_of`]: its id (its own
/// throttle counter) and the principal it was issued to.
struct Device {
    id: String,
    principal: String,
}
