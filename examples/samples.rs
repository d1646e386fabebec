//! The real APIs' sample resources, as the demo serves them.

use auth_core::{AuthError, AuthIdentity, require_self_or_role};
use serde_json::{Value, json};

/// ecHome's sample listing route.
pub const ECHOME_VMS: &str = "/api/v1/vm/vm/describe/all";

/// ecHome's resource envelope with no virtual machines.
pub fn echome_vms() -> Value {
    json!({"success": true, "details": "", "results": []})
}

/// Sachet's `GET /users/{username}`: the user themself or an admin.
pub fn sachet_user(identity: &AuthIdentity, username: &str) -> Result<Value, AuthError> {
    require_self_or_role(identity, username, "admin")?;
    Ok(json!({"status": "success", "username": username}))
}

/// The methods a demo `GET` route answers (`HEAD` is `GET` without a body).
pub const GET: &[&str] = &["GET", "HEAD"];

/// The methods a demo `POST` route answers.
pub const POST: &[&str] = &["POST"];

/// What a demo route answers to a method it does not serve: 405 with
/// `Allow`, before any authentication (a wrong method is not a missing
/// token), the same in both frameworks.
pub fn wrong_method(allow: &[&'static str]) -> AuthError {
    AuthError::MethodNotAllowed { allow: allow.to_vec() }
}

/// `POST /logout-everywhere`: revokes every token of the caller's subject
/// issued up to now, on every instance sharing the store ("log out
/// everywhere"); answers 204.
pub const LOGOUT_EVERYWHERE: &str = "/logout-everywhere";

/// What `POST /logout-everywhere` does for `identity` (the answer is 204).
pub async fn logout_everywhere(
    authority: &auth_core::Authority,
    identity: &AuthIdentity,
) -> Result<(), AuthError> {
    authority.revoke_subject(&identity.claims.sub).await
}
