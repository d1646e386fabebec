//! What a route set's answer and a guard's refusal tell the operator:
//! the metrics' labels and the audit event, decided here once for every
//! dialect.

use crate::audit::{Event, Trail};
use crate::dialect::Action;
use crate::error::{AuthError, TokenRejection};
use crate::metrics::record;
use crate::response::{AuthRequest, AuthResponse};
use crate::routes::RouteSet;

/// The `action` label of a routed request.
fn action_label(action: Action, trail: &Trail) -> &'static str {
    match action {
        Action::Login if trail.external => "idp_login",
        other => action_name(other),
    }
}

/// The `action` label of a route's action (a login before it is known
/// whether it is an identity provider's: `login`).
pub(crate) fn action_name(action: Action) -> &'static str {
    match action {
        Action::Login => "login",
        Action::Refresh => "refresh",
        Action::Verify => "verify",
        Action::Extend => "extend",
        Action::Logout => "logout",
        Action::Signup => "signup",
        Action::About => "about",
        Action::Jwks => "jwks",
    }
}

/// The audit event of a route's answer, if the route makes one.
fn event_name(label: &'static str, refusal: Option<&AuthError>) -> Option<&'static str> {
    match (label, refusal) {
        ("refresh", Some(AuthError::InvalidToken(TokenRejection::Reused))) => Some("refresh_reuse"),
        ("login" | "idp_login" | "signup" | "refresh" | "extend" | "logout", _) => Some(label),
        _ => None,
    }
}

/// The `reason` of a refusal: a token's rejection, or the throttle rule
/// that refused.
fn reason(err: &AuthError, trail: &Trail) -> Option<&'static str> {
    match err {
        AuthError::InvalidToken(rejection) => Some(rejection.reason()),
        AuthError::TooManyAttempts { .. } => trail.rule,
        _ => None,
    }
}

/// Records a routed request's answer: its token rejection and audit
/// event. Returns its `action` and `outcome` labels for the route counter
/// (which the route set records for unrouted requests too).
pub(crate) fn route(
    routes: &RouteSet,
    action: Action,
    request: &AuthRequest,
    result: &Result<AuthResponse, AuthError>,
    trail: Trail,
) -> (&'static str, &'static str) {
    let label = action_label(action, &trail);
    // the refusal the route noted (answered as a response, or in its
    // wire format's terms), else its error; a success is a success, but
    // for an introspection's "not active"
    let refusal = match result {
        Err(err) => trail.refused.as_ref().or(Some(err)),
        Ok(res) if !(200..300).contains(&res.status) || trail.inactive => trail.refused.as_ref(),
        Ok(_) => None,
    };
    let outcome = refusal.map_or("ok", AuthError::outcome);
    if let Some(AuthError::InvalidToken(rejection)) = refusal {
        record::token_rejected("route", rejection.reason());
    }
    let reason = refusal.and_then(|err| reason(err, &trail));
    let Some(event) = event_name(label, refusal) else { return (label, outcome) };
    Event {
        event,
        outcome,
        reason,
        dialect: Some(routes.dialect().name()),
        // a refused login names nobody: whether the user exists stays unsaid
        subject_id: trail
            .subject_id
            .as_deref()
            .filter(|_| refusal.is_none() || !matches!(label, "login" | "signup")),
        session_family: trail.session_family.as_deref(),
        // someone else's session, or an attempt on one
        actor_id: trail.actor_id.as_deref().filter(|actor| Some(*actor) != trail.subject_id.as_deref()),
        username: trail.username.as_deref(),
        client_address: routes.authority().client_address(&request.peer),
        user_agent: request.peer.user_agent.as_deref(),
        ..Event::default()
    }
    .emit();
    (label, outcome)
}

/// Records a guard's check of `Basic` credentials (a password, or
/// keytoken's key and token): counted by outcome, and a refusal written to
/// the audit trail (`basic_auth`) with the throttle rule that refused.
pub(crate) fn basic_checked(
    result: &Result<crate::claims::AuthIdentity, AuthError>,
    trail: &Trail,
    client_address: Option<std::net::IpAddr>,
    user_agent: Option<&str>,
) {
    let outcome = result.as_ref().map_or_else(AuthError::outcome, |_| "ok");
    record::basic_check(outcome);
    let Err(err) = result else { return };
    Event {
        event: "basic_auth",
        outcome,
        reason: reason(err, trail),
        username: trail.username.as_deref(),
        client_address,
        user_agent,
        ..Event::default()
    }
    .emit();
}

/// Records a guard's refusal of a token.
pub(crate) fn guard_refused(err: &AuthError) {
    if let AuthError::InvalidToken(rejection) = err {
        record::token_rejected("guard", rejection.reason());
    }
}
