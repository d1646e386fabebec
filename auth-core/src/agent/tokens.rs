//! [`Tokens`]: what a login left the client with, and when to renew it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The credentials a login or refresh answered, with the client's idea of
/// when they expire. Kept by a [`TokenStore`](super::TokenStore) between
/// runs.
///
/// Its `Debug` shows which parts are present and the expiry, never a
/// token.
///
/// ```
/// use auth_core::agent::Tokens;
/// let tokens = Tokens::received("a.b.c".into(), Some("r".into()), None, Some(60_000), 0);
/// assert!(!format!("{tokens:?}").contains("a.b.c"));
/// // renewed half way at the latest: 30 s margin on a 60 s token
/// assert!(!tokens.renewal_due(29_000, Some(std::time::Duration::from_secs(30))));
/// assert!(tokens.renewal_due(30_000, Some(std::time::Duration::from_secs(30))));
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    /// The access token (keytoken: the `token` secret).
    pub access: String,
    /// The refresh token, in the dialects that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    /// Keytoken's `key` (the Basic user-id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// When the access token expires (Unix milliseconds), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// How long the access token lived when issued, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime_ms: Option<u64>,
    /// When the refresh token expires (Unix milliseconds), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at_ms: Option<u64>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access", &"<redacted>")
            .field("refresh", &self.refresh.as_ref().map(|_| "<redacted>"))
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("expires_at_ms", &self.expires_at_ms)
            .field("lifetime_ms", &self.lifetime_ms)
            .field("refresh_expires_at_ms", &self.refresh_expires_at_ms)
            .finish()
    }
}

/// `exp` and `iat` of a JWT, read without verifying it: a client cannot
/// verify the server's tokens and only uses this to schedule renewals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct JwtTimes {
    pub(crate) exp_ms: Option<u64>,
    pub(crate) iat_ms: Option<u64>,
}

/// The times of `token` if it is a JWT (`None` for opaque tokens).
pub(crate) fn jwt_times(token: &str) -> Option<JwtTimes> {
    #[derive(Deserialize)]
    struct Times {
        exp: Option<f64>,
        iat: Option<f64>,
    }
    let mut parts = token.split('.');
    let payload = parts.nth(1)?;
    if parts.count() != 1 || payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let times: Times = serde_json::from_slice(&bytes).ok()?;
    let ms = |secs: Option<f64>| secs.filter(|s| s.is_finite() && *s >= 0.0).map(|s| (s * 1000.0) as u64);
    Some(JwtTimes { exp_ms: ms(times.exp), iat_ms: ms(times.iat) })
}

impl Tokens {
    /// Tokens received at `now_ms` (Unix milliseconds). `expires_at_ms` is
    /// what the answer said (`expires_in`, `expires`), else the access
    /// token's `exp` if it is a JWT; the refresh token's expiry is its
    /// `exp`. A token that looks due the moment it arrives (the client's
    /// clock is ahead of the server's) is scheduled from its arrival
    /// instead, so a skewed clock cannot cause a renewal storm.
    pub fn received(
        access: String,
        refresh: Option<String>,
        key: Option<String>,
        expires_at_ms: Option<u64>,
        now_ms: u64,
    ) -> Self {
        let jwt = jwt_times(&access).unwrap_or_default();
        let refresh_expires_at_ms = refresh.as_deref().and_then(jwt_times).and_then(|t| t.exp_ms);
        let expires_at = expires_at_ms.or(jwt.exp_ms);
        let lifetime = match (jwt.exp_ms, jwt.iat_ms) {
            (Some(exp), Some(iat)) if expires_at_ms.is_none() => Some(exp.saturating_sub(iat)),
            _ => expires_at.map(|e| e.saturating_sub(now_ms)),
        };
        let expires_at = match (expires_at, lifetime) {
            (Some(at), Some(life)) if life > 0 && at.saturating_sub(life / 2) <= now_ms => {
                Some(now_ms + life)
            }
            (at, _) => at,
        };
        Self { access, refresh, key, expires_at_ms: expires_at, lifetime_ms: lifetime, refresh_expires_at_ms }
    }

    /// How long the access token has left at `now_ms`, if known.
    pub fn expires_in(&self, now_ms: u64) -> Option<Duration> {
        self.expires_at_ms.map(|at| Duration::from_millis(at.saturating_sub(now_ms)))
    }

    /// Whether the access token has expired by `now_ms`.
    pub fn access_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// Whether the refresh token has expired by `now_ms` (unknown: no).
    pub fn refresh_expired(&self, now_ms: u64) -> bool {
        self.refresh_expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// Whether to renew before using the token at `now_ms`: `margin`
    /// before expiry, but never earlier than half way through the token's
    /// life (a 2 s token is renewed after 1 s, not at once). `None`: never
    /// ahead of time (the server's 401 says when, as in the ecHome SDK).
    pub fn renewal_due(&self, now_ms: u64, margin: Option<Duration>) -> bool {
        let (Some(at), Some(margin)) = (self.expires_at_ms, margin) else { return false };
        let margin_ms = u64::try_from(margin.as_millis()).unwrap_or(u64::MAX);
        let margin_ms = match self.lifetime_ms {
            Some(life) => margin_ms.min(life / 2),
            None => margin_ms,
        };
        at.saturating_sub(margin_ms) <= now_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn jwt_times_are_read_and_opaque_tokens_have_none() {
        let t = jwt_times(&jwt(r#"{"exp":12,"iat":10,"sub":"1"}"#)).unwrap();
        assert_eq!((t.exp_ms, t.iat_ms), (Some(12_000), Some(10_000)));
        assert_eq!(jwt_times("abcdef"), None);
        assert_eq!(jwt_times("a.b.c.d"), None);
        assert_eq!(jwt_times(&jwt("not json")), None);
    }

    #[test]
    fn a_two_second_jwt_is_renewed_after_one_second() {
        // issued at 10.9 s with iat 10 and exp 12 (whole seconds)
        let token = jwt(r#"{"exp":12,"iat":10}"#);
        let t = Tokens::received(token, None, None, None, 10_900);
        assert_eq!(t.lifetime_ms, Some(2000));
        let margin = Some(Duration::from_secs(30));
        assert!(!t.renewal_due(10_999, margin));
        assert!(t.renewal_due(11_000, margin));
        assert!(!t.access_expired(11_999));
        assert!(t.access_expired(12_000));
    }

    #[test]
    fn a_clock_ahead_of_the_server_does_not_make_every_token_due() {
        // the client's clock says 20 s; the server issued exp 12
        let token = jwt(r#"{"exp":12,"iat":10}"#);
        let t = Tokens::received(token, None, None, None, 20_000);
        assert_eq!(t.expires_at_ms, Some(22_000));
        assert!(!t.renewal_due(20_500, Some(Duration::from_secs(30))));
    }

    #[test]
    fn a_zero_margin_renews_at_expiry_and_none_never_ahead_of_time() {
        let t = Tokens::received("x".into(), None, None, Some(5000), 1000);
        assert!(!t.renewal_due(4999, Some(Duration::ZERO)));
        assert!(t.renewal_due(5000, Some(Duration::ZERO)));
        assert!(!t.renewal_due(60_000, None));
        let unknown = Tokens::received("x".into(), None, None, None, 1000);
        assert!(!unknown.renewal_due(u64::MAX, Some(Duration::from_secs(1))));
    }
}
