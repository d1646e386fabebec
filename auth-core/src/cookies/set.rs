//! The `Set-Cookie` values cookie mode answers with, written by the
//! `cookie` crate.

use cookie::Cookie;
use cookie::time::Duration;

use super::CookieMode;
use crate::authority::TokenPair;
use crate::response::AuthResponse;

/// Which cookie: the attributes follow from it.
#[derive(Clone, Copy)]
enum Kind {
    Access,
    Refresh,
    Csrf,
}

impl CookieMode {
    fn cookie(&self, kind: Kind, value: String) -> Cookie<'static> {
        let (name, path, http_only) = match kind {
            Kind::Access => (self.access_cookie(), "/".to_owned(), true),
            Kind::Refresh => (self.refresh_cookie(), self.refresh_path(), true),
            Kind::Csrf => (self.csrf_cookie(), "/".to_owned(), false),
        };
        Cookie::build((name, value))
            .path(path)
            .http_only(http_only)
            .secure(self.secure)
            .same_site(self.same_site.to_cookie())
            .build()
    }

    fn set(&self, res: &mut AuthResponse, kind: Kind, value: String, lifetime: i64) {
        let mut cookie = self.cookie(kind, value);
        cookie.set_max_age(Duration::seconds(lifetime.max(0)));
        res.headers.push(("set-cookie", cookie.to_string()));
    }

    /// Sets the cookies of a login or refresh: the access token, the
    /// refresh token when one was issued, and the CSRF value, each living
    /// as long as what it belongs to (the CSRF value until `session_end`,
    /// when the session's refresh token expires).
    pub(crate) fn set_pair(
        &self,
        res: &mut AuthResponse,
        pair: &TokenPair,
        csrf: &str,
        session_end: i64,
        now: i64,
    ) {
        self.set(res, Kind::Access, pair.access_token.clone(), pair.access_claims.exp.saturating_sub(now));
        if let (Some(token), Some(claims)) = (&pair.refresh_token, &pair.refresh_claims) {
            self.set(res, Kind::Refresh, token.clone(), claims.exp.saturating_sub(now));
        }
        self.set(res, Kind::Csrf, csrf.to_owned(), session_end.saturating_sub(now));
    }

    /// Clears the three cookies (same name, path and attributes, empty
    /// value, expired), as logout and a failed refresh answer.
    pub(crate) fn clear(&self, res: &mut AuthResponse) {
        for kind in [Kind::Access, Kind::Refresh, Kind::Csrf] {
            let mut cookie = self.cookie(kind, String::new());
            cookie.make_removal();
            res.headers.push(("set-cookie", cookie.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::Claims;

    fn pair() -> TokenPair {
        TokenPair {
            access_token: "a.b.c".into(),
            access_claims: Claims { exp: 1_900, iat: Some(1_000), ..Claims::default() },
            refresh_token: Some("d.e.f".into()),
            refresh_claims: Some(Claims { exp: 87_400, ..Claims::default() }),
        }
    }

    fn set_cookies(res: &AuthResponse) -> Vec<&str> {
        res.headers.iter().filter(|(n, _)| *n == "set-cookie").map(|(_, v)| v.as_str()).collect()
    }

    #[test]
    fn the_cookies_are_hardened_and_live_as_long_as_their_tokens() {
        let mut res = AuthResponse::empty(200);
        CookieMode::new().set_pair(&mut res, &pair(), "v", 87_400, 1_000);
        assert_eq!(
            set_cookies(&res),
            [
                "__Host-access_token=a.b.c; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900",
                "__Secure-refresh_token=d.e.f; HttpOnly; SameSite=Lax; Secure; Path=/auth/refresh; Max-Age=86400",
                "__Host-csrf_token=v; SameSite=Lax; Secure; Path=/; Max-Age=86400",
            ]
        );
    }

    #[test]
    fn clearing_names_the_same_cookies() {
        let mut res = AuthResponse::empty(204);
        CookieMode::new().same_site(super::super::SameSite::Strict).clear(&mut res);
        let set = set_cookies(&res);
        assert_eq!(set.len(), 3);
        assert!(
            set[0].starts_with("__Host-access_token=; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=0")
        );
        assert!(
            set[1].starts_with(
                "__Secure-refresh_token=; HttpOnly; SameSite=Strict; Secure; Path=/auth/refresh"
            )
        );
        assert!(set[2].starts_with("__Host-csrf_token=; SameSite=Strict; Secure; Path=/; Max-Age=0"));
    }

    #[test]
    fn the_development_variant_drops_secure_and_the_prefixes() {
        let mut res = AuthResponse::empty(200);
        CookieMode::new().insecure_development().set_pair(&mut res, &pair(), "v", 87_400, 1_000);
        for c in set_cookies(&res) {
            assert!(!c.contains("Secure") && !c.starts_with("__"), "{c}");
        }
    }
}
