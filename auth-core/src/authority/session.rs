//! Keeping a session going: refresh, extension and the session cap.

use super::{Authority, TokenPair, new_id, secs};
use crate::claims::{AuthIdentity, TokenUse};
use crate::error::{AuthError, TokenRejection};
use crate::store::Rotation;
use crate::users::Principal;

impl Authority {
    /// Fails once the refresh window since `auth_time` is over.
    pub(crate) fn check_window(&self, auth_time: i64, now: i64) -> Result<(), AuthError> {
        match self.inner.config.refresh_window {
            Some(window) if now > auth_time.saturating_add(secs(window)) => {
                Err(AuthError::InvalidToken(TokenRejection::SessionExpired))
            }
            _ => Ok(()),
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
        crate::audit::note_session(&old.sub, old.fam.as_deref());
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
                crate::metrics::record::refresh_reuse();
                crate::metrics::record::revoked("family");
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
    pub async fn reload(&self, identity: &AuthIdentity) -> Result<Principal, AuthError> {
        let mut principal = self.active_principal(identity.sub()).await?;
        for (name, value) in identity.app_claims() {
            principal.extra.entry(name).or_insert(value);
        }
        // A cookie-mode session keeps its CSRF binding, whatever the store says.
        principal.extra.remove(crate::cookies::CSRF_CLAIM);
        if let Some(claim) = identity
            .custom::<serde_json::Map<String, serde_json::Value>>()
            .ok()
            .and_then(|mut all| all.remove(crate::cookies::CSRF_CLAIM).filter(serde_json::Value::is_string))
        {
            principal.extra.insert(crate::cookies::CSRF_CLAIM.to_owned(), claim);
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
        crate::audit::note_session(&identity.claims.sub, identity.claims.fam.as_deref());
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
}
