//! Where keys may be fetched from: `https`, or plain `http` from a
//! loopback host (or anywhere, when the options opt in), and redirects
//! that never step down to plain `http`.

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// The most redirects one fetch follows.
const MAX_REDIRECTS: usize = 3;

/// The rule, as configuration errors and refused fetches state it.
pub(super) const RULE: &str = "keys are fetched over https; plain http only from a loopback host \
     (127.0.0.0/8, ::1, localhost) or with JwksOptions::allow_insecure_http";

/// Whether `url`'s host is a loopback address or `localhost`.
pub(super) fn is_loopback(url: &Url) -> bool {
    // The host as the URL parser normalised it: IPv4 in dotted form (so
    // `http://2130706433/` is 127.0.0.1), IPv6 in brackets.
    let Some(host) = url.host_str() else { return false };
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.strip_suffix('.').unwrap_or(host).eq_ignore_ascii_case("localhost"),
    }
}

/// How a URL may be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    /// `https`.
    Https,
    /// Plain `http` to a loopback host.
    LoopbackHttp,
    /// Plain `http` elsewhere, allowed by `allow_insecure_http`.
    InsecureHttp,
}

/// Checks a JWKS or discovery URL against the rule; `what` names it in
/// the error ("JWKS URL", "discovery URL", ...).
pub(super) fn check(what: &str, url: &str, allow_insecure_http: bool) -> Result<Transport, String> {
    let parsed = Url::parse(url).map_err(|e| format!("{what} `{url}` is not a URL ({e})"))?;
    if parsed.host().is_none() {
        return Err(format!("{what} `{url}` has no host"));
    }
    match parsed.scheme() {
        "https" => Ok(Transport::Https),
        "http" if is_loopback(&parsed) => Ok(Transport::LoopbackHttp),
        "http" if allow_insecure_http => Ok(Transport::InsecureHttp),
        _ => Err(format!("{what} `{url}` is refused: {RULE}")),
    }
}

/// Whether a redirect from `from` to `to` may be followed: to `https`
/// always; to `http` only from `http` (never a step down from `https`),
/// and then only loopback to loopback unless `allow_insecure_http`.
pub(super) fn may_redirect(from: Option<&Url>, to: &Url, allow_insecure_http: bool) -> bool {
    match to.scheme() {
        "https" => true,
        "http" => from.is_some_and(|from| {
            from.scheme() == "http" && (allow_insecure_http || (is_loopback(from) && is_loopback(to)))
        }),
        _ => false,
    }
}

/// A redirect the policy refused (the fetch fails with it; it is logged).
#[derive(Debug, thiserror::Error)]
#[error("refused a redirect to {0}: {RULE}")]
struct RefusedRedirect(String);

/// The redirect policy of the verifier's HTTP client.
pub(super) fn redirect_policy(allow_insecure_http: bool) -> Policy {
    Policy::custom(move |attempt: Attempt<'_>| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        if may_redirect(attempt.previous().last(), attempt.url(), allow_insecure_http) {
            attempt.follow()
        } else {
            let to = attempt.url().to_string();
            attempt.error(RefusedRedirect(to))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("a URL")
    }

    #[test]
    fn loopback_hosts() {
        for u in [
            "http://127.0.0.1:8080/jwks.json",
            "http://127.1.2.3/",
            "http://[::1]:9/x",
            "http://localhost/x",
            "http://LOCALHOST./x",
            "http://2130706433/",
        ] {
            assert!(is_loopback(&url(u)), "{u}");
        }
        for u in [
            "http://idp.invalid/",
            "http://localhost.invalid/",
            "http://128.0.0.1/",
            "http://[::2]/",
            "http://[::ffff:8.8.8.8]/",
        ] {
            assert!(!is_loopback(&url(u)), "{u}");
        }
    }

    #[test]
    fn urls_need_https_unless_loopback_or_opted_in() {
        assert_eq!(check("JWKS URL", "https://idp.invalid/jwks.json", false), Ok(Transport::Https));
        assert_eq!(check("JWKS URL", "http://127.0.0.1:1/jwks.json", false), Ok(Transport::LoopbackHttp));
        assert_eq!(check("JWKS URL", "http://[::1]:1/jwks.json", false), Ok(Transport::LoopbackHttp));
        assert_eq!(check("JWKS URL", "http://localhost/jwks.json", false), Ok(Transport::LoopbackHttp));
        let refused = check("JWKS URL", "http://idp.invalid/jwks.json", false).expect_err("plain http");
        assert!(refused.contains("`http://idp.invalid/jwks.json`") && refused.contains("https"), "{refused}");
        assert_eq!(check("JWKS URL", "http://idp.invalid/jwks.json", true), Ok(Transport::InsecureHttp));
        for bad in ["ftp://idp.invalid/jwks.json", "file:///etc/jwks.json", "idp.invalid/jwks.json", ""] {
            assert!(check("JWKS URL", bad, true).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirects_never_step_down_to_http() {
        let https = url("https://idp.invalid/a");
        let loopback = url("http://127.0.0.1:1/a");
        let remote_http = url("http://idp.invalid/b");
        // to https: always
        assert!(may_redirect(Some(&loopback), &url("https://idp.invalid/b"), false));
        assert!(may_redirect(Some(&https), &url("https://other.invalid/b"), false));
        // loopback http to loopback http: yes; to anything else over http: no
        assert!(may_redirect(Some(&loopback), &url("http://localhost:2/b"), false));
        assert!(!may_redirect(Some(&loopback), &remote_http, false));
        // https to http: never, not even to loopback, not even opted in
        assert!(!may_redirect(Some(&https), &url("http://127.0.0.1:1/b"), false));
        assert!(!may_redirect(Some(&https), &remote_http, true));
        // opted in: http to http
        assert!(may_redirect(Some(&loopback), &remote_http, true));
        assert!(may_redirect(Some(&remote_http), &url("http://idp.invalid/c"), true));
        assert!(!may_redirect(Some(&remote_http), &url("http://idp.invalid/c"), false));
        // other schemes: never
        assert!(!may_redirect(Some(&https), &url("file:///etc/passwd"), true));
        assert!(!may_redirect(None, &remote_http, false));
    }
}
