//! Device tokens: a client that logged in as a user gets a signed value
//! naming that user (the OWASP "device cookie"), and the login throttle's
//! per-user rule never refuses a client that sends it back (it is judged
//! by its own failures only). An attacker guessing a user's password from
//! elsewhere can slow down that user's logins from new clients, never
//! those of the devices the user already logged in from.
//!
//! A successful password login answers the token twice: in the
//! `Device-Token` response header (for API clients, which send it back in
//! the same request header) and as an `HttpOnly`, `Secure`,
//! `SameSite=Strict` cookie named `device_token` (browsers send it back
//! by themselves). It is a JWT signed with the authority's keys whose
//! token-use claim says `device`, so it is never accepted as an access or
//! a refresh token, and it carries no right but this one.
//!
//! ```
//! use auth_core::{DEVICE_TOKEN_COOKIE, DEVICE_TOKEN_HEADER, device_token_in};
//! assert_eq!(DEVICE_TOKEN_HEADER, "device-token");
//! let cookie = format!("theme=dark; {DEVICE_TOKEN_COOKIE}=eyJh.eyJz.c2ln");
//! assert_eq!(device_token_in(None, [cookie.as_bytes()]).as_deref(), Some("eyJh.eyJz.c2ln"));
//! // the header wins over the cookie
//! assert_eq!(device_token_in(Some(b"a.b.c"), [cookie.as_bytes()]).as_deref(), Some("a.b.c"));
//! ```

use std::time::Duration;

/// The request and response header that carries a device token (lower case).
pub const DEVICE_TOKEN_HEADER: &str = "device-token";

/// The cookie that carries a device token.
pub const DEVICE_TOKEN_COOKIE: &str = "device_token";

/// How long a device token, and an address a user logged in from, are
/// trusted by default: 30 days.
pub const DEFAULT_DEVICE_TTL: Duration = Duration::from_secs(30 * 86_400);

/// The longest device token read; anything longer is ignored.
const MAX_DEVICE_TOKEN_LEN: usize = 2048;

/// The device token of a request: the `Device-Token` header's value if it
/// has one, else the `device_token` cookie of its `Cookie` header(s).
/// A value that could not be a token (too long, not base64url and dots)
/// counts as none. What adapters call when they build a [`Peer`](crate::Peer).
pub fn device_token_in<'a>(
    header: Option<&'a [u8]>,
    cookie_headers: impl IntoIterator<Item = &'a [u8]>,
) -> Option<String> {
    if let Some(value) = header.and_then(plausible) {
        return Some(value);
    }
    cookie_headers.into_iter().find_map(|line| {
        let line = std::str::from_utf8(line).ok()?;
        cookie::Cookie::split_parse(line).filter_map(Result::ok).find_map(|c| {
            (c.name() == DEVICE_TOKEN_COOKIE).then(|| plausible(c.value().as_bytes())).flatten()
        })
    })
}

/// The value as a token, if it can be one.
fn plausible(value: &[u8]) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_DEVICE_TOKEN_LEN
        && value.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| String::from_utf8_lossy(value).into_owned())
}

/// The `Set-Cookie` value that hands a device token to a browser.
pub(crate) fn set_cookie(token: &str, ttl: Duration) -> String {
    let max_age = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    cookie::Cookie::build((DEVICE_TOKEN_COOKIE, token))
        .max_age(cookie::time::Duration::seconds(max_age))
        .path("/")
        .http_only(true)
        .secure(true)
        .same_site(cookie::SameSite::Strict)
        .build()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_header_then_the_cookie_and_ignores_junk() {
        assert_eq!(device_token_in(None, []), None);
        assert_eq!(
            device_token_in(Some(b"bad token"), [b"device_token=x.y.z".as_slice()]).as_deref(),
            Some("x.y.z")
        );
        assert_eq!(
            device_token_in(None, [b"a=1".as_slice(), b"b=2; device_token=q.r.s".as_slice()]).as_deref(),
            Some("q.r.s")
        );
        assert_eq!(device_token_in(None, [b"device_token=<script>".as_slice()]), None);
        let long = "a".repeat(MAX_DEVICE_TOKEN_LEN + 1);
        assert_eq!(device_token_in(Some(long.as_bytes()), []), None);
        assert_eq!(device_token_in(None, [b"xdevice_token=a.b.c".as_slice()]), None);
    }

    #[test]
    fn the_cookie_is_hardened() {
        let cookie = set_cookie("a.b.c", DEFAULT_DEVICE_TTL);
        assert_eq!(cookie, "device_token=a.b.c; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=2592000");
    }
}
