//! The standard dialect's login, refresh and logout in cookie mode: the
//! same authority calls, with cookies in and out and both CSRF layers.
//! `verify` (a token in the body, no cookie) is the dialect's own.

use serde_json::json;

use super::{CookieMode, check_bound};
use crate::describe::{Credential, HeaderDoc, Prop, Reply, RouteDoc, Shape};
use crate::dialect::RouteContext;
use crate::dialect::util::bearer;
use crate::error::{AuthError, TokenRejection};
use crate::response::AuthResponse;

// The descriptions below are read by the `openapi` feature only.

/// Cookie mode's answer to a login or refresh.
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
const ISSUED: Shape =
    Shape::Object(&[Prop::required("expires_in", Shape::Int), Prop::required("csrf_token", Shape::Str)]);

/// The cookies a login, refresh or logout in cookie mode sets (a logout: clears).
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
const SETS_COOKIES: &[HeaderDoc] = &[HeaderDoc::new(
    "Set-Cookie",
    true,
    "The access, refresh and CSRF cookies (a logout sets them expired)",
)];

/// The login route in cookie mode.
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) const LOGIN_DOC: RouteDoc = RouteDoc::new("Logs in; the tokens are set as HttpOnly cookies", Credential::None)
    .description(
        "Refused with 403 when `Sec-Fetch-Site` says cross-site or `Origin` is foreign. The answer carries the \
         access token's lifetime and the session's CSRF value, which unsafe requests send back as `X-CSRF-Token`; \
         no token is in the body.",
    )
    .body(crate::dialect::standard::LOGIN_FIELDS)
    .external_login()
    .replies(&[Reply::json(200, "Logged in: the cookies are set", ISSUED).headers(SETS_COOKIES)])
    .errors(&[403, 429, 503]);

/// The refresh route in cookie mode.
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) const REFRESH_DOC: RouteDoc =
    RouteDoc::new("Renews the tokens from the refresh cookie", Credential::RefreshCookie)
        .description(
            "Reads only the refresh cookie (sent to this path only) and needs the session's `X-CSRF-Token`. \
             A refresh token that does not renew ends the session: 401 with the cookies cleared.",
        )
        .replies(&[Reply::json(200, "Renewed: new cookies are set", ISSUED).headers(SETS_COOKIES)])
        .errors(&[403, 503]);

/// The logout route in cookie mode.
#[cfg_attr(not(feature = "openapi"), allow(dead_code))]
pub(crate) const LOGOUT_DOC: RouteDoc =
    RouteDoc::new("Ends the session and clears the cookies", Credential::HeaderOrAccessCookie)
        .description(
            "With `Authorization: Bearer` no CSRF check applies; with the access cookie the session's \
             `X-CSRF-Token` is required. Without a live access cookie the answer is 401 and the cookies \
             stay, so a page refreshes once and logs out again.",
        )
        .replies(&[Reply::empty(204, "Logged out: the tokens are revoked and the cookies cleared")
            .headers(SETS_COOKIES)])
        .errors(&[403, 503]);

/// The answer to a login or refresh: the expiry of the access token and
/// the CSRF value (for a page on another origin, which cannot read the
/// cookie), never a token.
/// `session_end` is when the session's refresh token expires (the one
/// just issued, or, with rotation off, the one presented): the CSRF
/// cookie lives as long.
fn issued(mode: &CookieMode, pair: &crate::TokenPair, csrf: &str, session_end: i64) -> AuthResponse {
    let mut res = AuthResponse::json(200, &json!({"expires_in": pair.expires_in(), "csrf_token": csrf}));
    mode.set_pair(&mut res, pair, csrf, session_end, crate::time::now());
    res
}

/// When the session of `pair` ends: its refresh token's expiry, else `fallback`.
fn session_end(pair: &crate::TokenPair, fallback: i64) -> i64 {
    pair.refresh_claims.as_ref().map_or(fallback, |claims| claims.exp)
}

/// `err` as the dialect renders it, with the cookies cleared: the session
/// is over (a refresh that failed, a logout without a live token).
fn cleared(mode: &CookieMode, err: AuthError, dialect: &dyn crate::Dialect) -> AuthResponse {
    let mut res = dialect.render_error(&err);
    // an answer, but a refusal: counted and written down as one
    crate::audit::note(|t| t.refused = Some(err));
    mode.clear(&mut res);
    res
}

/// Login: layer 1 (login CSRF), then the dialect's password or IdP login
/// with the new session's CSRF claim in its tokens.
pub(crate) async fn login(mode: &CookieMode, mut ctx: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
    mode.check_site(&ctx.request.method, &ctx.request.browser).map_err(AuthError::Csrf)?;
    let (csrf, claim) = super::bound_csrf();
    ctx.csrf_claim = Some(claim);
    let pair = crate::dialect::standard::login(&ctx).await?;
    let end = session_end(&pair, pair.access_claims.exp);
    Ok(issued(mode, &pair, &csrf, end))
}

/// Refresh: layer 1, the refresh cookie (nothing else), its session's
/// CSRF value, then the rotation. A refresh token that does not renew
/// (expired, revoked by a logout that won the race, reused) answers 401
/// with the cookies cleared.
pub(crate) async fn refresh(
    mode: &CookieMode,
    ctx: RouteContext<'_>,
    dialect: &dyn crate::Dialect,
) -> Result<AuthResponse, AuthError> {
    let browser = &ctx.request.browser;
    mode.check_site(&ctx.request.method, browser).map_err(AuthError::Csrf)?;
    let authority = ctx.authority;
    let Some(token) = browser.cookie(mode.refresh_cookie()) else {
        return Ok(cleared(mode, AuthError::MissingCredentials, dialect));
    };
    let presented = match authority.verify(token, crate::TokenUse::Refresh, crate::time::now()) {
        Ok(presented) => presented,
        Err(rejection) => return Ok(cleared(mode, AuthError::InvalidToken(rejection), dialect)),
    };
    let csrf = check_bound(&presented, browser).map_err(AuthError::Csrf)?;
    match authority.refresh(token).await {
        Ok(pair) => {
            let end = session_end(&pair, presented.claims.exp);
            Ok(issued(mode, &pair, &csrf, end))
        }
        Err(err @ AuthError::InvalidToken(_)) => Ok(cleared(mode, err, dialect)),
        Err(other) => Err(other),
    }
}

/// Logout: a `Bearer` header wins (no CSRF check: a browser never adds
/// one by itself); else layer 1, the access cookie and its session's CSRF
/// value. The login's tokens are revoked and the cookies cleared.
///
/// Without an access cookie (the browser dropped it when the token
/// expired) the answer is a plain 401 that keeps the cookies: the refresh
/// token is still live, and only a refresh (its cookie goes to the refresh
/// route only) and a second logout can end it. A page does that on its
/// own: a 401, one refresh, one retry. The same for an access cookie that
/// expired or does not verify; one that was revoked (the session is over)
/// is 401 with the cookies cleared.
pub(crate) async fn logout(
    mode: &CookieMode,
    ctx: RouteContext<'_>,
    dialect: &dyn crate::Dialect,
) -> Result<AuthResponse, AuthError> {
    let authority = ctx.authority;
    let browser = &ctx.request.browser;
    let identity = if ctx.request.authorization.is_present() {
        authority.authenticate_token(&bearer(ctx.request)?).await?
    } else {
        mode.check_site(&ctx.request.method, browser).map_err(AuthError::Csrf)?;
        let token = browser.cookie(mode.access_cookie()).ok_or(AuthError::MissingCredentials)?;
        let identity = match authority.authenticate_token(token).await {
            Ok(identity) => identity,
            // Revoked: the session is over already.
            Err(err @ AuthError::InvalidToken(TokenRejection::Revoked)) => {
                return Ok(cleared(mode, err, dialect));
            }
            // Expired (a clock that disagrees with the cookie's Max-Age) or
            // broken: a plain 401 that keeps the refresh cookie, as without one.
            Err(other) => return Err(other),
        };
        check_bound(&identity, browser).map_err(AuthError::Csrf)?;
        identity
    };
    authority.logout(&identity, None).await?;
    let mut res = AuthResponse::empty(204);
    mode.clear(&mut res);
    Ok(res)
}
