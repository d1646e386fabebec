//! Opaque key/token credentials (the `keytoken` dialect): a random key that
//! names the session, a random access secret and a random refresh secret.
//! The store keeps only SHA-256 hashes of the secrets, compared in
//! constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::authority::Authority;
use crate::claims::{AuthIdentity, Claims, TokenUse};
use crate::error::{AuthError, TokenRejection};
use crate::store::{OpaqueRecord, OpaqueRotation};
use crate::time::secs;
use crate::users::Principal;

/// Freshly issued opaque credentials. Only here are the secrets in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueCredentials {
    /// Names the session; sent as the Basic user-id.
    pub key: String,
    /// The access secret; sent as the Basic password.
    pub token: String,
    /// The refresh secret.
    pub refresh: String,
    /// When `token` stops working (seconds since the epoch).
    pub expires_at: i64,
    /// The principal's roles.
    pub roles: Vec<String>,
}

impl std::fmt::Debug for OpaqueCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueCredentials")
            .field("key", &self.key)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn secret() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub(crate) fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

impl Authority {
    /// A record for new secrets of a session that began at `auth_time`:
    /// neither secret outlives the session cap.
    fn opaque_record(
        &self,
        principal: &Principal,
        auth_time: i64,
        now: i64,
    ) -> (OpaqueRecord, String, String) {
        let cfg = self.config();
        let (token, refresh) = (secret(), secret());
        let session_end = match cfg.refresh_window {
            Some(window) => auth_time.saturating_add(secs(window)),
            None => i64::MAX,
        };
        let refresh_expires_at =
            now.saturating_add(secs(cfg.refresh_ttl.max(cfg.access_ttl))).min(session_end);
        let record = OpaqueRecord {
            sub: principal.id.clone(),
            username: principal.username.clone(),
            roles: principal.roles.clone(),
            token_hash: hash(&token),
            refresh_hash: hash(&refresh),
            expires_at: now.saturating_add(secs(cfg.access_ttl)).min(refresh_expires_at),
            refresh_expires_at,
            auth_time,
            issued_at: now,
            retired: Vec::new(),
        };
        (record, token, refresh)
    }

    /// Issues opaque credentials for `principal` under a new key.
    pub async fn issue_opaque(&self, principal: &Principal) -> Result<OpaqueCredentials, AuthError> {
        let key = crate::id::new_id().replace('-', "");
        let now = crate::time::now();
        let (record, token, refresh) = self.opaque_record(principal, now, now);
        let expires_at = record.expires_at;
        self.store().put_opaque(&key, record, now).await?;
        crate::audit::note_session(&principal.id, None);
        Ok(OpaqueCredentials { key, token, refresh, expires_at, roles: principal.roles.clone() })
    }

    /// The live record under `key` and whether its subject was revoked
    /// ("log out everywhere") after its secrets were issued: one store call.
    async fn live_opaque(&self, key: &str, now: i64) -> Result<(OpaqueRecord, bool), AuthError> {
        self.store()
            .get_opaque_checked(key, now)
            .await?
            .ok_or(AuthError::InvalidToken(TokenRejection::Unknown))
    }

    /// Checks a key and access secret (a store's revocation mirror may
    /// answer: [`Store::get_opaque_for_request`](crate::Store::get_opaque_for_request)).
    pub async fn authenticate_opaque(&self, key: &str, token: &str) -> Result<AuthIdentity, AuthError> {
        let now = crate::time::now();
        let (record, revoked) = self
            .store()
            .get_opaque_for_request(key, now)
            .await?
            .ok_or(AuthError::InvalidToken(TokenRejection::Unknown))?;
        // the secret first: without it, nothing about the pair is told
        if !bool::from(record.token_hash.ct_eq(&hash(token))) {
            return Err(AuthError::InvalidToken(TokenRejection::Unknown));
        }
        crate::audit::note_session(&record.sub, None);
        if record.expires_at <= now {
            return Err(AuthError::InvalidToken(TokenRejection::Expired));
        }
        if revoked {
            return Err(AuthError::InvalidToken(TokenRejection::Revoked));
        }
        self.check_principal(&record.sub).await?;
        let claims = Claims {
            sub: record.sub,
            exp: record.expires_at,
            iat: Some(record.issued_at),
            auth_time: Some(record.auth_time),
            token_use: Some(TokenUse::Access),
            username: Some(record.username),
            roles: record.roles,
            ..Claims::default()
        };
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        Ok(AuthIdentity::new(claims, payload))
    }

    /// Replaces both secrets of `key` if `refresh` is its refresh secret;
    /// the old pair is dead at once. Of concurrent refreshes one wins. A
    /// refresh secret that was rotated away before is reuse: the session
    /// is deleted. Refused after a subject-wide revocation, past the
    /// session cap, and for a deleted or disabled user.
    pub async fn refresh_opaque(&self, key: &str, refresh: &str) -> Result<OpaqueCredentials, AuthError> {
        let now = crate::time::now();
        let unknown = AuthError::InvalidToken(TokenRejection::Unknown);
        let (old, revoked) = self.live_opaque(key, now).await?;
        crate::audit::note_session(&old.sub, None);
        if revoked {
            return Err(AuthError::InvalidToken(TokenRejection::Revoked));
        }
        self.check_window(old.auth_time, now)?;
        // The principal as the user store knows it now: a deleted or
        // disabled user cannot refresh, new roles show up.
        let principal = self.active_principal(&old.sub).await?;
        let (record, token, new_refresh) = self.opaque_record(&principal, old.auth_time, now);
        let expires_at = record.expires_at;
        let grace = crate::time::secs(self.config().reuse_grace);
        match self.store().rotate_opaque(key, &hash(refresh), record, grace, now).await? {
            OpaqueRotation::Rotated => {}
            OpaqueRotation::Reused => {
                crate::metrics::record::refresh_reuse();
                crate::metrics::record::revoked("family");
                tracing::warn!(sub = %old.sub, "opaque refresh secret reuse detected; session deleted");
                return Err(AuthError::InvalidToken(TokenRejection::Reused));
            }
            OpaqueRotation::Unknown => return Err(unknown),
        }
        Ok(OpaqueCredentials {
            key: key.to_owned(),
            token,
            refresh: new_refresh,
            expires_at,
            roles: principal.roles,
        })
    }

    /// Kills the credentials under `key`; answers whether there were any.
    pub async fn revoke_opaque(&self, key: &str) -> Result<bool, AuthError> {
        let existed = self.store().delete_opaque(key, crate::time::now()).await?;
        if existed {
            // a key and token pair is a session, as a family is
            crate::authority::revoked(crate::authority::RevocationKind::Family, None, None);
        }
        Ok(existed)
    }
}
