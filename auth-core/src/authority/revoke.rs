//! Ending sessions: one token, a family, a subject, logout.
//!
//! Each revocation is counted (`tokenauth_revocations_total`); one the
//! application asks for outside a route request is also an audit event
//! (`revocation`, or one `logout` for the whole of
//! [`Authority::logout`]); inside one, the route's event covers it.

use super::{Authority, secs};
use crate::audit::Event;
use crate::claims::{AuthIdentity, Claims, TokenUse};
use crate::error::AuthError;

/// What a revocation ended, as the metrics and the audit trail name it.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Token,
    Family,
    Subject,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Family => "family",
            Self::Subject => "subject",
        }
    }
}

/// Counts a revocation that was done, and writes its audit event when no
/// route request's event covers it (or notes its session for that event).
pub(crate) fn revoked(kind: Kind, subject_id: Option<&str>, session_family: Option<&str>) {
    crate::metrics::record::revoked(kind.label());
    if crate::audit::in_route() {
        if let Some(sub) = subject_id {
            crate::audit::note_session(sub, session_family);
        }
        return;
    }
    revocation_event(kind, subject_id, session_family);
}

/// Writes a `revocation` audit event.
fn revocation_event(kind: Kind, subject_id: Option<&str>, session_family: Option<&str>) {
    Event {
        event: "revocation",
        outcome: "ok",
        kind: Some(kind.label()),
        subject_id,
        session_family,
        ..Event::default()
    }
    .emit();
}

impl Authority {
    /// Revokes one token (by its `jti`) until it would have expired, leeway included.
    pub async fn revoke(&self, claims: &Claims) -> Result<(), AuthError> {
        if self.revoke_token(claims).await? {
            revoked(Kind::Token, Some(&claims.sub), claims.fam.as_deref());
        }
        Ok(())
    }

    /// [`revoke`](Self::revoke) unrecorded: whether the token had an id to revoke.
    async fn revoke_token(&self, claims: &Claims) -> Result<bool, AuthError> {
        let Some(jti) = &claims.jti else { return Ok(false) };
        // Kept through the leeway: verification accepts until exp + leeway.
        let keep = claims.exp.saturating_add(self.inner.config.validation.leeway);
        self.inner.store.revoke_token(jti, keep, crate::time::now()).await?;
        Ok(true)
    }

    /// Revokes a refresh family: its refresh tokens and the access tokens
    /// issued with them stop working.
    pub async fn revoke_family(&self, family: &str) -> Result<(), AuthError> {
        self.inner.store.revoke_family(family, crate::time::now()).await?;
        revoked(Kind::Family, None, Some(family));
        Ok(())
    }

    /// Revokes every token of `sub` issued up to now ("log out everywhere").
    pub async fn revoke_subject(&self, sub: &str) -> Result<(), AuthError> {
        let cfg = &self.inner.config;
        let now = crate::time::now();
        let longest = secs(cfg.refresh_ttl.max(cfg.access_ttl).max(cfg.refresh_window.unwrap_or_default()));
        let keep = now.saturating_add(longest).saturating_add(cfg.validation.leeway);
        self.inner.store.revoke_subject(sub, now, keep, now).await?;
        revoked(Kind::Subject, Some(sub), None);
        Ok(())
    }

    /// Logs out: revokes the access token and its family, and the family of
    /// `refresh_token` when it is one of ours and belongs to the same
    /// subject. Any other `refresh_token` is ignored without an error
    /// (RFC 7009 section 2.2: an invalid token is no reason to fail, and an
    /// error would tell a caller which tokens are valid).
    ///
    /// Called outside a route request (an application's own logout
    /// endpoint), it is one `logout` audit event, not one `revocation`
    /// event per token and family it ends.
    pub async fn logout(
        &self,
        identity: &AuthIdentity,
        refresh_token: Option<&str>,
    ) -> Result<(), AuthError> {
        if crate::audit::in_route() {
            return self.end_session(identity, refresh_token).await;
        }
        let (result, trail) = crate::audit::traced(self.end_session(identity, refresh_token)).await;
        Event {
            event: "logout",
            outcome: result.as_ref().map_or_else(AuthError::outcome, |()| "ok"),
            subject_id: trail.subject_id.as_deref(),
            session_family: trail.session_family.as_deref(),
            ..Event::default()
        }
        .emit();
        result
    }

    /// [`logout`](Self::logout)'s revocations.
    async fn end_session(
        &self,
        identity: &AuthIdentity,
        refresh_token: Option<&str>,
    ) -> Result<(), AuthError> {
        let claims = &identity.claims;
        crate::audit::note_session(&claims.sub, claims.fam.as_deref());
        self.revoke(claims).await?;
        if let Some(family) = &claims.fam {
            self.revoke_family(family).await?;
        }
        let refresh = refresh_token.and_then(|t| self.verify_ignoring_expiry(t, TokenUse::Refresh).ok());
        if let Some(refresh) = refresh.filter(|r| r.claims.sub == claims.sub)
            && let Some(family) = refresh.claims.fam.as_deref().filter(|f| Some(*f) != claims.fam.as_deref())
        {
            self.inner.store.revoke_family(family, crate::time::now()).await?;
            crate::metrics::record::revoked(Kind::Family.label());
            match &claims.fam {
                // the only session this logout ends: its event names it
                None => crate::audit::note_session(&claims.sub, Some(family)),
                // a second session: an event of its own, beside the one
                // that names the access token's session
                Some(_) => revocation_event(Kind::Family, Some(&claims.sub), Some(family)),
            }
        }
        Ok(())
    }
}
