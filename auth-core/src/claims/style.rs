//! [`ClaimStyle`]: how issued tokens spell the claims dialects name differently.

use super::Claims;

/// How issued tokens spell the claims that dialects name differently.
/// Verification reads only these spellings: a token that says
/// `token_type: access` is not an access token to a verifier configured
/// for `usefor` (it was minted by some other system sharing the key).
///
/// ```
/// let style = auth_core::ClaimStyle { token_use: "usefor", exi: true, ..Default::default() };
/// assert_eq!(style.auth_time, "auth_time");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimStyle {
    /// The name of the token-use claim: `token_use`, `token_type` or `usefor`.
    pub token_use: &'static str,
    /// The name of the original-login claim: `auth_time` or `orig_iat`.
    pub auth_time: &'static str,
    /// Adds `exi`: the token's lifetime in seconds.
    pub exi: bool,
    /// Adds `user_id`: the principal's id (a number when it is numeric).
    pub user_id: bool,
}

impl Default for ClaimStyle {
    fn default() -> Self {
        Self { token_use: "token_use", auth_time: "auth_time", exi: false, user_id: false }
    }
}

impl ClaimStyle {
    /// Renames and adds claims in a serialized token payload.
    pub(crate) fn apply(&self, claims: &Claims, map: &mut serde_json::Map<String, serde_json::Value>) {
        let rename = |map: &mut serde_json::Map<String, serde_json::Value>, from: &str, to: &str| {
            if from != to
                && let Some(v) = map.remove(from)
            {
                map.insert(to.to_owned(), v);
            }
        };
        rename(map, "token_use", self.token_use);
        rename(map, "auth_time", self.auth_time);
        if self.exi {
            let lifetime = claims.exp.saturating_sub(claims.iat.unwrap_or(claims.exp));
            map.insert("exi".into(), lifetime.into());
        }
        if self.user_id {
            let id =
                claims.sub.parse::<i64>().map_or_else(|_| claims.sub.clone().into(), serde_json::Value::from);
            map.insert("user_id".into(), id);
        }
    }
}
