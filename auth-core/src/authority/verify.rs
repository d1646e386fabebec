//! Verification: signature and claims, revocation, the principal.

use super::{Authority, BasicCredentials, secs};
use crate::claims::Spelling;
use crate::claims::{AuthIdentity, Claims, TokenUse};
use crate::error::{AuthError, TokenRejection};
use crate::header::Credentials;
use crate::jwt::{self, Expect, Expiry};
use crate::store::TokenRef;
use crate::users::Principal;

impl Authority {
    pub(super) fn expect(&self, token_use: TokenUse, expiry: Expiry) -> Expect {
        let cfg = &self.inner.config;
        let spelling =
            Spelling { token_use: cfg.claim_style.token_use, auth_time: cfg.claim_style.auth_time };
        Expect { token_use, spelling, max_lifetime: secs(cfg.max_lifetime(token_use)), expiry }
    }

    /// Verifies a token's signature and claims for `expected` use, without
    /// asking the store and without the cache. `now` is seconds since the epoch.
    pub fn verify(&self, token: &str, expected: TokenUse, now: i64) -> Result<AuthIdentity, TokenRejection> {
        let cfg = &self.inner.config;
        let expect = self.expect(expected, Expiry::Enforce);
        let v = jwt::verify(&self.inner.keys.load(), &cfg.validation, token, expect, now)?;
        Ok(AuthIdentity::new(v.claims, v.payload))
    }

    /// [`verify`](Self::verify) of an access token through the
    /// verified-token cache: a hit skips the signature and the claims that
    /// cannot change for the same bytes, and still checks the clock
    /// (`exp`, `nbf`, `iat` with leeway). Not the store: callers check
    /// revocation next, on every request.
    pub fn verify_access(&self, token: &str, now: i64) -> Result<AuthIdentity, TokenRejection> {
        match self.cached_access(token.as_bytes(), now) {
            Some(outcome) => outcome,
            None => self.verify_access_uncached(token, now),
        }
    }

    /// A cache hit for exactly the bytes `token`, with the clock checked;
    /// `None` for a miss.
    fn cached_access(&self, token: &[u8], now: i64) -> Option<Result<AuthIdentity, TokenRejection>> {
        let identity = self.inner.cache.hit(token, now)?;
        let claims = &identity.claims;
        let iat = claims.iat.unwrap_or(i64::MIN);
        Some(match jwt::check_times(claims, iat, &self.inner.config.validation, Expiry::Enforce, now) {
            Ok(()) => Ok(identity),
            Err(rejection) => {
                self.inner.cache.remove(token);
                Err(rejection)
            }
        })
    }

    /// Verifies an access token in full and caches it when it passes.
    fn verify_access_uncached(&self, token: &str, now: i64) -> Result<AuthIdentity, TokenRejection> {
        let cache = &self.inner.cache;
        cache.miss();
        let generation = cache.generation();
        let identity = self.verify(token, TokenUse::Access, now)?;
        cache.insert(token, &identity, now, generation);
        Ok(identity)
    }

    /// Verifies signature, issuer, audience and use but not expiry: for a
    /// just-expired access token that a dialect requires beside a refresh.
    pub fn verify_ignoring_expiry(
        &self,
        token: &str,
        expected: TokenUse,
    ) -> Result<AuthIdentity, TokenRejection> {
        let cfg = &self.inner.config;
        let expect = self.expect(expected, Expiry::Ignore);
        let v = jwt::verify(&self.inner.keys.load(), &cfg.validation, token, expect, crate::time::now())?;
        Ok(AuthIdentity::new(v.claims, v.payload))
    }

    /// Fails with [`TokenRejection::Revoked`] if the store says the token,
    /// its family or its subject was revoked.
    pub async fn check_revocation(&self, claims: &Claims, now: i64) -> Result<(), AuthError> {
        self.check_revoked(&TokenRef::of(claims), now).await
    }

    /// Fails with [`TokenRejection::Revoked`] if the store says so of `token`.
    pub(crate) async fn check_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<(), AuthError> {
        if self.inner.store.is_revoked(token, now).await? {
            return Err(AuthError::InvalidToken(TokenRejection::Revoked));
        }
        Ok(())
    }

    /// With [`AuthorityConfig::check_principal`](crate::AuthorityConfig::check_principal) on, fails with
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
    pub async fn authenticate_token(&self, token: &str) -> Result<AuthIdentity, AuthError> {
        let now = crate::time::now();
        let identity = self.verify_access(token, now).map_err(AuthError::InvalidToken)?;
        self.check_live(identity, now, None).await
    }

    /// What follows verification on every request: revocation, and the
    /// principal when configured. `peer`: who presented it, for the audit
    /// trail of a revoked token.
    pub(crate) async fn check_live(
        &self,
        identity: AuthIdentity,
        now: i64,
        peer: Option<&crate::client::Peer>,
    ) -> Result<AuthIdentity, AuthError> {
        // a protected request: a store's revocation mirror may answer
        let token = TokenRef::of(&identity.claims);
        let revoked = match self.inner.store.is_revoked_now(&token, now) {
            Some(answer) => answer?,
            None => self.inner.store.is_revoked(&token, now).await?,
        };
        if revoked {
            return Err(self.revoked_token(&identity, peer));
        }
        self.check_principal(&identity.claims.sub).await?;
        Ok(identity)
    }

    /// [`authenticate_token`](Self::authenticate_token) without waiting,
    /// for a token found in the verified-token cache by its exact header
    /// bytes (no parsing needed: they were a valid token when cached);
    /// `None` when they are not cached. See [`Now`].
    pub(crate) fn authenticate_cached_now(&self, token: &[u8]) -> Option<Now> {
        let now = crate::time::now();
        Some(match self.cached_access(token, now)? {
            Ok(identity) => self.live_now(identity, now),
            Err(rejection) => Now::Done(Err(AuthError::InvalidToken(rejection))),
        })
    }

    /// [`authenticate_token`](Self::authenticate_token) without waiting,
    /// for a token not in the cache (it is verified, and cached if valid).
    pub(crate) fn authenticate_uncached_now(&self, token: &str) -> Now {
        let now = crate::time::now();
        match self.verify_access_uncached(token, now) {
            Ok(identity) => self.live_now(identity, now),
            Err(rejection) => Now::Done(Err(AuthError::InvalidToken(rejection))),
        }
    }

    /// The liveness of a verified identity decided at once when nothing
    /// needs I/O: the store answers in memory ([`Store::is_revoked_now`])
    /// and the principal check is off. Otherwise handed back for
    /// [`check_live`](Self::check_live).
    fn live_now(&self, identity: AuthIdentity, now: i64) -> Now {
        if self.inner.config.check_principal {
            return Now::Later(identity, now);
        }
        match self.inner.store.is_revoked_now(&TokenRef::of(&identity.claims), now) {
            Some(Ok(false)) => Now::Done(Ok(identity)),
            Some(Ok(true)) => Now::Revoked(identity),
            Some(Err(e)) => Now::Done(Err(e.into())),
            None => Now::Later(identity, now),
        }
    }

    /// Authenticates credentials from an `Authorization` header: a JWT
    /// access token for `Bearer` and `Token`, a username and password for
    /// `Basic` (the identity then has no token claims beyond the principal).
    pub async fn authenticate(&self, credentials: &Credentials) -> Result<AuthIdentity, AuthError> {
        self.authenticate_from(credentials, None).await
    }

    /// [`authenticate`](Self::authenticate) for a request from `client`
    /// (its address, or a whole [`LoginClient`](crate::LoginClient) with a
    /// device token: it matters to the login throttle behind `Basic`
    /// passwords).
    pub async fn authenticate_from(
        &self,
        credentials: &Credentials,
        client: impl Into<crate::client::LoginClient>,
    ) -> Result<AuthIdentity, AuthError> {
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
                Ok(AuthIdentity::new(claims, payload))
            }
        }
    }

    /// RFC 7662-style introspection: the claims of a live token of use
    /// `token_use`, `None` for anything else (a refresh token asked about
    /// as an access token included).
    pub async fn introspect(&self, token: &str, token_use: TokenUse) -> Result<Option<Claims>, AuthError> {
        Ok(self.introspect_why(token, token_use).await?.ok())
    }

    /// [`introspect`](Self::introspect), saying why a token is not live
    /// (for the operator's metrics: the answer itself says only `false`).
    pub(crate) async fn introspect_why(
        &self,
        token: &str,
        token_use: TokenUse,
    ) -> Result<Result<Claims, TokenRejection>, AuthError> {
        let now = crate::time::now();
        let identity = match self.verify(token, token_use, now) {
            Ok(identity) => identity,
            Err(rejection) => return Ok(Err(rejection)),
        };
        let live = async {
            self.check_revocation(&identity.claims, now).await?;
            self.check_principal(&identity.claims.sub).await
        };
        match live.await {
            Ok(()) => Ok(Ok(Claims::clone(&identity.claims))),
            Err(AuthError::InvalidToken(rejection)) => Ok(Err(rejection)),
            Err(other) => Err(other),
        }
    }
}

impl Authority {
    /// The refusal of a revoked access token presented by `peer` to a
    /// protected route, written to the audit trail (`revoked_token`: a
    /// session that was ended is still in use somewhere).
    pub(crate) fn revoked_token(
        &self,
        identity: &AuthIdentity,
        peer: Option<&crate::client::Peer>,
    ) -> AuthError {
        if crate::audit::in_route() {
            // the route's own event tells it, naming the session
            crate::audit::note_session(&identity.claims.sub, identity.claims.fam.as_deref());
            return AuthError::InvalidToken(TokenRejection::Revoked);
        }
        crate::audit::Event {
            event: "revoked_token",
            outcome: "invalid_token",
            reason: Some("revoked"),
            subject_id: Some(&identity.claims.sub),
            session_family: identity.claims.fam.as_deref(),
            client_address: peer.and_then(|p| self.client_address(p)),
            user_agent: peer.and_then(|p| p.user_agent.as_deref()),
            ..crate::audit::Event::default()
        }
        .emit();
        AuthError::InvalidToken(TokenRejection::Revoked)
    }
}

/// What [`Authority::authenticate_cached_now`] and
/// [`Authority::authenticate_uncached_now`] could decide at once.
pub(crate) enum Now {
    /// The verdict.
    Done(Result<AuthIdentity, AuthError>),
    /// A verified identity whose liveness needs I/O (the store, the user
    /// store), checked at `now`.
    Later(AuthIdentity, i64),
    /// A verified identity whose token was revoked: refused, once the
    /// refusal is written to the audit trail with who presented it.
    Revoked(AuthIdentity),
}
