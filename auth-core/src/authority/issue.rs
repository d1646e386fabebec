//! Issuing: signing new tokens and starting their families.

use super::{Authority, TokenPair, new_id, secs};
use crate::claims::{Audience, Claims, TokenUse};
use crate::error::AuthError;
use crate::jwt;
use crate::users::Principal;

impl Authority {
    /// Issues an access/refresh pair for `principal` and starts its refresh family.
    pub async fn issue(&self, principal: &Principal) -> Result<TokenPair, AuthError> {
        let now = crate::time::now();
        let family = new_id();
        let refresh_jti = new_id();
        let pair = self.sign_pair(principal, &family, &refresh_jti, now, now)?;
        self.inner.store.create_family(&family, &refresh_jti, self.family_keep(now, now), now).await?;
        crate::audit::note_session(&principal.id, Some(&family));
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
        crate::audit::note_session(&principal.id, Some(&family));
        Ok(TokenPair { access_token, access_claims: access, refresh_token: None, refresh_claims: None })
    }

    pub(super) fn base_claims(&self, principal: &Principal, use_: TokenUse, now: i64, ttl: i64) -> Claims {
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

    pub(super) fn sign(&self, claims: &Claims, principal: &Principal) -> Result<String, AuthError> {
        let cfg = &self.inner.config;
        jwt::sign(&self.inner.keys.load(), &cfg.validation, claims, &principal.extra, &cfg.claim_style)
            .map_err(|e| {
                tracing::error!(error = %e, "signing a token failed");
                AuthError::Unavailable
            })
    }

    /// How long a family's state must be kept once tokens are issued in it
    /// now: until its newest refresh token and the access token issued with
    /// it have expired, plus the leeway verification grants them (a
    /// revoked family forgotten earlier would bring them back).
    pub(super) fn family_keep(&self, auth_time: i64, now: i64) -> i64 {
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

    pub(super) fn sign_pair(
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
}
