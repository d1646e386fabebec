//! The two CSRF layers: Fetch Metadata with `Origin`, and the double-submit
//! value bound to the session by a claim of its tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::BrowserHeaders;
use super::origin::Origin;
use crate::claims::AuthIdentity;

/// The claim holding the SHA-256 (base64url) of the session's CSRF value.
pub(crate) const CSRF_CLAIM: &str = "csrf";

/// The longest `X-CSRF-Token` value looked at (ours are 43 characters).
const MAX_CSRF_LEN: usize = 256;

/// Why a cookie-authenticated request was refused as a possible cross-site
/// request forgery (403 `access_denied`).
///
/// ```
/// use auth_core::{AuthError, CsrfRejection};
/// let err = AuthError::Csrf(CsrfRejection::MissingToken);
/// assert_eq!(err.status(), 403);
/// assert_eq!(err.body()["error"], "access_denied");
/// assert_eq!(err.body()["error_description"], "the X-CSRF-Token header is missing");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsrfRejection {
    /// `Sec-Fetch-Site: cross-site` on an unsafe request.
    #[error("cross-site request refused")]
    CrossSite,
    /// An `Origin` that is neither the request's own nor configured.
    #[error("the request's origin is not allowed")]
    Origin,
    /// No `X-CSRF-Token` header on an unsafe request.
    #[error("the X-CSRF-Token header is missing")]
    MissingToken,
    /// An `X-CSRF-Token` that is not this session's.
    #[error("the X-CSRF-Token header does not match this session")]
    WrongToken,
}

/// Whether `method` may change state (everything but `GET`, `HEAD`, `OPTIONS`).
pub(crate) fn is_unsafe_method(method: &str) -> bool {
    !["GET", "HEAD", "OPTIONS"].iter().any(|safe| method.eq_ignore_ascii_case(safe))
}

/// Layer 1: an unsafe request sent by another site's page, by Fetch
/// Metadata or by its `Origin`, is refused. Requests without either
/// header (not a browser, or a very old one) pass to layer 2.
pub(crate) fn check_site(
    method: &str,
    browser: &BrowserHeaders,
    allowed: &[Origin],
    secure: bool,
) -> Result<(), CsrfRejection> {
    if !is_unsafe_method(method) {
        return Ok(());
    }
    let sites = browser.fetch_site.as_deref().into_iter().flat_map(|list| list.split(','));
    if sites.into_iter().any(|site| site.trim().eq_ignore_ascii_case("cross-site")) {
        return Err(CsrfRejection::CrossSite);
    }
    let Some(origin) = browser.origin.as_deref() else { return Ok(()) };
    // `null` (sandboxed frames, some redirects) and anything unparsable are refused.
    let origin = Origin::parse(origin).map_err(|_| CsrfRejection::Origin)?;
    let ok = if allowed.is_empty() {
        browser.host.as_deref().is_some_and(|host| origin.is_own(host, secure))
    } else {
        allowed.contains(&origin)
    };
    if ok { Ok(()) } else { Err(CsrfRejection::Origin) }
}

/// A new CSRF value and the claim that binds it: 32 random bytes,
/// base64url, and their SHA-256, base64url.
pub(crate) fn bound_csrf() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let value = URL_SAFE_NO_PAD.encode(bytes);
    let claim = hash(&value);
    (value, claim)
}

fn hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

#[derive(serde::Deserialize)]
struct Bound {
    csrf: Option<String>,
}

/// Layer 2: the `X-CSRF-Token` of `browser` hashes to the `csrf` claim of
/// the token that authenticated the request. A token without the claim
/// (issued outside cookie mode) has no value that can match.
pub(crate) fn check_bound(
    identity: &AuthIdentity,
    browser: &BrowserHeaders,
) -> Result<String, CsrfRejection> {
    let sent = browser.csrf_token.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let sent = sent.ok_or(CsrfRejection::MissingToken)?;
    if sent.len() > MAX_CSRF_LEN {
        return Err(CsrfRejection::WrongToken);
    }
    let claim = identity.custom::<Bound>().ok().and_then(|b| b.csrf).ok_or(CsrfRejection::WrongToken)?;
    if bool::from(hash(sent).as_bytes().ct_eq(claim.as_bytes())) {
        Ok(sent.to_owned())
    } else {
        Err(CsrfRejection::WrongToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Claims;

    fn browser(f: impl FnOnce(&mut BrowserHeaders)) -> BrowserHeaders {
        let mut b = BrowserHeaders { host: Some("app.example".into()), ..BrowserHeaders::default() };
        f(&mut b);
        b
    }

    #[test]
    fn layer_one_judges_unsafe_methods_only() {
        let cross = browser(|b| b.fetch_site = Some("cross-site".into()));
        assert_eq!(check_site("POST", &cross, &[], true), Err(CsrfRejection::CrossSite));
        assert_eq!(check_site("delete", &cross, &[], true), Err(CsrfRejection::CrossSite));
        assert_eq!(check_site("GET", &cross, &[], true), Ok(()));
        let evil = browser(|b| b.origin = Some("https://evil.example".into()));
        assert_eq!(check_site("POST", &evil, &[], true), Err(CsrfRejection::Origin));
        let null = browser(|b| b.origin = Some("null".into()));
        assert_eq!(check_site("POST", &null, &[], true), Err(CsrfRejection::Origin));
        let own = browser(|b| {
            b.origin = Some("https://app.example".into());
            b.fetch_site = Some("same-origin".into());
        });
        assert_eq!(check_site("POST", &own, &[], true), Ok(()));
        // once origins are configured, only they pass
        let other = [Origin::parse("https://ui.example").unwrap()];
        assert_eq!(check_site("POST", &own, &other, true), Err(CsrfRejection::Origin));
        let ui = browser(|b| b.origin = Some("https://ui.example".into()));
        assert_eq!(check_site("POST", &ui, &other, true), Ok(()));
        // a header sent twice is its list: any cross-site value, two origins
        let twice = browser(|b| b.fetch_site = Some("same-origin, cross-site".into()));
        assert_eq!(check_site("POST", &twice, &[], true), Err(CsrfRejection::CrossSite));
        let two = browser(|b| b.origin = Some("https://app.example, https://evil.example".into()));
        assert_eq!(check_site("POST", &two, &[], true), Err(CsrfRejection::Origin));
        // no Origin and no Fetch Metadata: left to layer 2
        assert_eq!(check_site("POST", &browser(|_| {}), &[], true), Ok(()));
    }

    #[test]
    fn layer_two_wants_this_sessions_value() {
        let (value, claim) = bound_csrf();
        let payload = serde_json::json!({"sub": "1", "csrf": claim}).to_string().into_bytes();
        let identity = AuthIdentity::new(Claims::default(), payload);
        let with = |v: Option<&str>| browser(|b| b.csrf_token = v.map(str::to_owned));
        assert_eq!(check_bound(&identity, &with(Some(&value))), Ok(value.clone()));
        assert_eq!(check_bound(&identity, &with(None)), Err(CsrfRejection::MissingToken));
        assert_eq!(check_bound(&identity, &with(Some(""))), Err(CsrfRejection::MissingToken));
        let (other, _) = bound_csrf();
        assert_eq!(check_bound(&identity, &with(Some(&other))), Err(CsrfRejection::WrongToken));
        // the claim itself is not the value
        let claim_sent = identity.custom::<Bound>().unwrap().csrf.unwrap();
        assert_eq!(check_bound(&identity, &with(Some(&claim_sent))), Err(CsrfRejection::WrongToken));
        // a token without the claim matches nothing
        let unbound = AuthIdentity::new(Claims::default(), br#"{"sub":"1"}"#.to_vec());
        assert_eq!(check_bound(&unbound, &with(Some(&value))), Err(CsrfRejection::WrongToken));
    }
}
