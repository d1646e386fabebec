//! The audit trail: one structured `tracing` event per security decision,
//! on the target [`TARGET`] (`tokenauth::audit`), always on.
//!
//! The events and their field names are a stable interface: a security
//! team's queries and alerts may rely on them. Route events come from a
//! [`RouteSet`](crate::RouteSet): one per answer of a login, sign-up,
//! refresh, extend or logout route, whatever the dialect. The others come
//! from the [`Authority`](crate::Authority) and the
//! [`AuthGuard`](crate::AuthGuard).
//!
//! | `event` | level | when |
//! |---|---|---|
//! | `login` | info | a password login route answered (`outcome` `ok`, `bad_credentials`, `throttled`...) |
//! | `idp_login` | info | a login with an identity provider's token answered |
//! | `signup` | info | a sign-up route answered |
//! | `refresh` | info | a refresh route answered, except a reuse |
//! | `refresh_reuse` | warn | a rotated refresh token came back: refused, its session family revoked |
//! | `extend` | info | an extend route answered |
//! | `logout` | info | a logout route answered, or the application called [`Authority::logout`](crate::Authority::logout) outside a route (one event for the token and the families it ends) |
//! | `revocation` | info | the application revoked a token, family or subject ([`Authority::revoke`](crate::Authority::revoke), [`revoke_family`](crate::Authority::revoke_family), [`revoke_subject`](crate::Authority::revoke_subject)) outside a route; or a logout also ended a second session of the same subject (its refresh token's), which the `logout` event does not name |
//! | `basic_auth` | info | a guard refused `Basic` credentials (a wrong password, a throttled one: `reason` is the rule; keytoken's key and token: `reason` as a token's) |
//! | `revoked_token` | info | a protected route was called with a revoked access token (a tab left open after a logout, or a copy of the token) |
//! | `key_rotation` | info | the signing keys were replaced ([`Authority::set_keys`](crate::Authority::set_keys)) |
//!
//! Fields (absent when unknown or not applicable):
//!
//! | field | value |
//! |---|---|
//! | `event` | the event name above |
//! | `outcome` | `ok`, or the refusal as [`AuthError::outcome`](crate::AuthError::outcome) names it (see [`metrics::OUTCOMES`](crate::metrics::OUTCOMES)) |
//! | `reason` | a refused token's [`TokenRejection::reason`](crate::TokenRejection::reason); the throttle rule that refused (see [`metrics::THROTTLE_RULES`](crate::metrics::THROTTLE_RULES)) |
//! | `dialect` | the route set's dialect |
//! | `subject_id` | the subject (`sub`) of the session concerned |
//! | `session_family` | the session (refresh-token family) concerned |
//! | `actor_id` | who asked, when it is not the session's own subject: an administrator logging out another user's token (sachet's `logout`), or someone refused for trying |
//! | `username` | the username a login or sign-up named, as typed (at most 64 characters) |
//! | `client_address` | the client's address (through trusted proxies only) |
//! | `user_agent` | the client's `User-Agent` (at most 256 characters) |
//! | `kind` | `revocation`: `token`, `family` or `subject` |
//! | `key_id` | `key_rotation`: the new signing key's id |
//!
//! No event ever carries a password, a token, a secret, a device token or
//! a CSRF value. A failed login has no `subject_id`: whether the user
//! exists is not written down.
//!
//! A program routes the events where it wants with `tracing-subscriber`:
//! a layer filtered to the target, for example JSON lines on their own
//! (the demo's `--audit-log`; the README shows the code).
//!
//! ```
//! assert_eq!(auth_core::audit::TARGET, "tokenauth::audit");
//! assert!(auth_core::audit::EVENTS.contains(&"refresh_reuse"));
//! ```

use std::cell::RefCell;
use std::net::IpAddr;

/// The `tracing` target of every audit event.
pub const TARGET: &str = "tokenauth::audit";

/// The names of the events (the `event` field).
pub const EVENTS: &[&str] = &[
    "login",
    "idp_login",
    "signup",
    "refresh",
    "refresh_reuse",
    "extend",
    "logout",
    "revocation",
    "basic_auth",
    "revoked_token",
    "key_rotation",
];

/// The longest `username` written.
const MAX_USERNAME: usize = 64;
/// The longest `user_agent` written.
const MAX_USER_AGENT: usize = 256;

/// One audit event's fields.
#[derive(Default)]
pub(crate) struct Event<'a> {
    pub(crate) event: &'static str,
    pub(crate) outcome: &'static str,
    pub(crate) reason: Option<&'static str>,
    pub(crate) dialect: Option<&'static str>,
    pub(crate) subject_id: Option<&'a str>,
    pub(crate) session_family: Option<&'a str>,
    pub(crate) actor_id: Option<&'a str>,
    pub(crate) username: Option<&'a str>,
    pub(crate) client_address: Option<IpAddr>,
    pub(crate) user_agent: Option<&'a str>,
    pub(crate) kind: Option<&'static str>,
    pub(crate) key_id: Option<&'a str>,
}

/// `s` cut to at most `max` characters.
fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Whether `c` could split a line or disguise the text around it in a
/// reader that is not a JSON parser: control characters, line and
/// paragraph separators, and the invisible format characters (bidi
/// overrides and isolates, zero-width marks, the byte-order mark).
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{180e}' | '\u{feff}')
        || ('\u{200b}'..='\u{200f}').contains(&c)
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2060}'..='\u{2069}').contains(&c)
}

/// A value a client chose, as the trail writes it: at most `max`
/// characters, each deceptive one replaced by U+FFFD.
fn client_text(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let s = cut(s, max);
    if s.chars().any(is_deceptive) {
        s.chars().map(|c| if is_deceptive(c) { '\u{fffd}' } else { c }).collect::<String>().into()
    } else {
        s.into()
    }
}

macro_rules! emit_at {
    ($level:ident, $e:expr) => {{
        let e = $e;
        tracing::$level!(
            target: TARGET,
            event = e.event,
            outcome = e.outcome,
            reason = e.reason,
            dialect = e.dialect,
            subject_id = e.subject_id,
            session_family = e.session_family,
            actor_id = e.actor_id,
            username = e.username.map(|u| client_text(u, MAX_USERNAME)).as_deref(),
            client_address = e.client_address.map(tracing::field::display),
            user_agent = e.user_agent.map(|u| client_text(u, MAX_USER_AGENT)).as_deref(),
            kind = e.kind,
            key_id = e.key_id,
        )
    }};
}

impl Event<'_> {
    /// Writes the event: `warn` for a refresh-token reuse (a stolen
    /// session, cut off), `info` otherwise.
    pub(crate) fn emit(&self) {
        if self.event == "refresh_reuse" {
            emit_at!(warn, self);
        } else {
            emit_at!(info, self);
        }
    }
}

/// What the authority learned while serving one route request, for the
/// route set's event: who, which session, which throttle rule.
#[derive(Default, Debug)]
pub(crate) struct Trail {
    pub(crate) subject_id: Option<String>,
    pub(crate) session_family: Option<String>,
    /// The subject who asked for the route's action, when that is not
    /// necessarily the session's own (sachet's logout of a named token).
    pub(crate) actor_id: Option<String>,
    pub(crate) username: Option<String>,
    pub(crate) rule: Option<&'static str>,
    /// The login was an identity provider's.
    pub(crate) external: bool,
    /// A refusal as the route decided it: cookie mode's 401 that clears
    /// the cookies (a response, no error), drf's 400 for a refused token
    /// (an error in drf's terms). The request's outcome and reason.
    pub(crate) refused: Option<crate::error::AuthError>,
    /// `refused` was answered as a success in the wire format's terms (an
    /// introspection's `{"active": false}`): it counts all the same.
    pub(crate) inactive: bool,
}

tokio::task_local! {
    static TRAIL: RefCell<Trail>;
}

/// Runs `request` with a trail the authority notes into; returns its
/// output and the trail.
pub(crate) async fn traced<T>(request: impl Future<Output = T>) -> (T, Trail) {
    TRAIL
        .scope(RefCell::new(Trail::default()), async move {
            let out = request.await;
            let trail = TRAIL.with(|t| std::mem::take(&mut *t.borrow_mut()));
            (out, trail)
        })
        .await
}

/// Notes into the current request's trail; nothing outside a route request.
pub(crate) fn note(f: impl FnOnce(&mut Trail)) {
    let _ = TRAIL.try_with(|t| f(&mut t.borrow_mut()));
}

/// Notes the session a request concerns: its subject and family.
pub(crate) fn note_session(subject_id: &str, session_family: Option<&str>) {
    note(|t| {
        t.subject_id = Some(subject_id.to_owned());
        if let Some(family) = session_family {
            t.session_family = Some(family.to_owned());
        }
    });
}

/// Notes a token's refusal that the route answers in other terms (drf's
/// and sachet's 400s): the request's outcome and reason all the same.
pub(crate) fn note_refused_token(err: &crate::error::AuthError) {
    if let crate::error::AuthError::InvalidToken(_) = err {
        note(|t| t.refused = Some(err.clone()));
    }
}

/// Notes a token an introspection answered as not live (the standard
/// dialect's 200 `{"active": false}`): a success in the wire format's
/// terms, the token's refusal in the operator's.
pub(crate) fn note_inactive(rejection: crate::error::TokenRejection) {
    note(|t| {
        t.refused = Some(crate::error::AuthError::InvalidToken(rejection));
        t.inactive = true;
    });
}

/// Whether a route request is being served (its event covers what the
/// authority does for it).
pub(crate) fn in_route() -> bool {
    TRAIL.try_with(|_| ()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_could_split_or_disguise_a_line_is_replaced() {
        let typed = "ab\u{2028}{\"event\":\"login\"}\u{202e}gnp.exe\u{85}z\n\u{1b}[31m";
        let written = client_text(typed, 64);
        assert_eq!(written, "ab\u{fffd}{\"event\":\"login\"}\u{fffd}gnp.exe\u{fffd}z\u{fffd}\u{fffd}[31m");
        assert!(matches!(client_text("Mozilla/5.0 (X11; Linux)", 256), std::borrow::Cow::Borrowed(_)));
        assert_eq!(client_text("élan", 2), "él");
    }

    #[test]
    fn long_values_are_cut_on_character_boundaries() {
        assert_eq!(cut("abc", 2), "ab");
        assert_eq!(cut("ééé", 2), "éé");
        assert_eq!(cut("ab", 5), "ab");
    }

    #[tokio::test]
    async fn notes_reach_the_trail_only_inside_a_request() {
        note_session("outside", None);
        assert!(!in_route());
        let ((), trail) = traced(async {
            assert!(in_route());
            note_session("42", Some("fam"));
            note(|t| t.rule = Some("user"));
        })
        .await;
        assert_eq!(trail.subject_id.as_deref(), Some("42"));
        assert_eq!(trail.session_family.as_deref(), Some("fam"));
        assert_eq!(trail.rule, Some("user"));
    }
}
