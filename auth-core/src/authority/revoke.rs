//! Ending sessions: one token, a family, a subject, logout.

use super::{Authority, secs};
use crate::claims::{AuthIdentity, Claims, TokenUse};
use crate::error::AuthError;

impl Authority {
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
    pub async fn logout(
        &self,
        identity: &AuthIdentity,
        refresh_token: Option<&str>,
    ) -> Result<(), AuthError> {
        self.revoke(&identity.claims).await?;
        if let Some(family) = &identity.claims.fam {
            self.revoke_family(family).await?;
        }
        let refresh = refresh_token.and_then(|t| self.verify_ignoring_expiry(t, TokenUse::Refresh).ok());
        if let Some(refresh) = refresh.filter(|r| r.claims.sub == identity.claims.sub)
            && let Some(family) = &refresh.claims.fam
        {
            self.revoke_family(family).await?;
        }
        Ok(())
    }
}
