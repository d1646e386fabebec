//! Cookie mode's rows (`demo --cookies`), run in order on both frameworks:
//! the cookies' exact attributes, a header winning over the cookie, and
//! every CSRF refusal's status and body.

use serde_json::json;

use crate::table::{Case, Challenge, Keys, case};

const OWN: &str = "http://localhost";
const ACCESS: &str = "__Host-access_token";
const REFRESH: &str = "__Secure-refresh_token";
const CSRF: &str = "__Host-csrf_token";
const ACCESS_SET: &str = "HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=900";
const REFRESH_SET: &str = "HttpOnly; SameSite=Lax; Secure; Path=/auth/refresh; Max-Age=86400";
const CSRF_SET: &str = "SameSite=Lax; Secure; Path=/; Max-Age=86400";
const ACCESS_CLEARED: &str = "HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0*";
const REFRESH_CLEARED: &str = "HttpOnly; SameSite=Lax; Secure; Path=/auth/refresh; Max-Age=0*";
const CSRF_CLEARED: &str = "SameSite=Lax; Secure; Path=/; Max-Age=0*";
const ISSUED: &[&str] = &["csrf_token", "expires_in"];
const NOTE: &[&str] = &["count", "text"];

/// A browser request from the app's own page: `Host`, `Origin`, Fetch Metadata.
fn own(name: &'static str, method: &'static str, path: &'static str) -> Case {
    from_site(name, method, path, "same-origin")
}

/// A browser request with the app's own `Host` and `Origin` and this `Sec-Fetch-Site`.
fn from_site(name: &'static str, method: &'static str, path: &'static str, site: &'static str) -> Case {
    case(name, method, path).header("host", "localhost").header("origin", OWN).header("sec-fetch-site", site)
}

/// The 403 of a CSRF refusal, which touches no cookie.
fn refused(c: Case, why: &'static str) -> Case {
    c.error(403, Challenge::None, "access_denied")
        .field("error_description", json!(why))
        .sets_cookie(ACCESS, None)
        .sets_cookie(REFRESH, None)
        .sets_cookie(CSRF, None)
}

/// Every cookie cleared: logout, and a refresh that cannot renew.
fn clears(c: Case) -> Case {
    c.sets_cookie(ACCESS, Some(ACCESS_CLEARED))
        .sets_cookie(REFRESH, Some(REFRESH_CLEARED))
        .sets_cookie(CSRF, Some(CSRF_CLEARED))
}

const CROSS_SITE: &str = "cross-site request refused";
const BAD_ORIGIN: &str = "the request's origin is not allowed";
const NO_CSRF: &str = "the X-CSRF-Token header is missing";
const WRONG_CSRF: &str = "the X-CSRF-Token header does not match this session";

pub fn cases() -> Vec<Case> {
    let with_cookie = "__Host-access_token={acc}; __Host-csrf_token={csrf}";
    vec![
        own("login sets the three cookies", "POST", "/auth/login")
            .json(crate::table::ALICE)
            .ok(ISSUED)
            .field("expires_in", json!(900))
            .sets_cookie(ACCESS, Some(ACCESS_SET))
            .sets_cookie(REFRESH, Some(REFRESH_SET))
            .sets_cookie(CSRF, Some(CSRF_SET))
            .capture(&[
                ("acc", "cookie:__Host-access_token"),
                ("ref", "cookie:__Secure-refresh_token"),
                ("csrf", "cookie:__Host-csrf_token"),
            ]),
        own("the body's CSRF value is the cookie's", "POST", "/auth/login")
            .form("username=bob&password=bob-pw")
            .ok(ISSUED)
            .capture(&[("bob_acc", "cookie:__Host-access_token"), ("bob_csrf", "csrf_token")]),
        refused(
            from_site("login from another site", "POST", "/auth/login", "cross-site")
                .json(crate::table::ALICE),
            CROSS_SITE,
        ),
        refused(
            own("login with a second Sec-Fetch-Site header saying cross-site", "POST", "/auth/login")
                .header("sec-fetch-site", "cross-site")
                .json(crate::table::ALICE),
            CROSS_SITE,
        ),
        refused(
            case("login from a foreign origin", "POST", "/auth/login")
                .header("host", "localhost")
                .header("origin", "http://evil.example")
                .json(crate::table::ALICE),
            BAD_ORIGIN,
        ),
        refused(
            case("login from an opaque origin", "POST", "/auth/login")
                .header("host", "localhost")
                .header("origin", "null")
                .json(crate::table::ALICE),
            BAD_ORIGIN,
        ),
        own("whoami with the cookie, not cacheable", "GET", "/whoami")
            .header("cookie", with_cookie)
            .ok(crate::table::WHOAMI)
            .field("username", json!("alice"))
            .has_header("cache-control", Some("private, no-store"))
            .has_header("vary", Some("Cookie")),
        case("a safe method needs no CSRF check, even from another site", "GET", "/whoami")
            .header("cookie", "__Host-access_token={acc}")
            .header("sec-fetch-site", "cross-site")
            .ok(crate::table::WHOAMI),
        own("a note with the cookie and its CSRF value", "POST", "/notes")
            .header("cookie", with_cookie)
            .header("x-csrf-token", "{csrf}")
            .json(r#"{"text":"first"}"#)
            .answer(201, Challenge::None, NOTE)
            .field("count", json!(1)),
        refused(
            own("a note without the CSRF header", "POST", "/notes")
                .header("cookie", with_cookie)
                .json(r#"{"text":"x"}"#),
            NO_CSRF,
        ),
        refused(
            own("a note with a wrong CSRF value", "POST", "/notes")
                .header("cookie", with_cookie)
                .header("x-csrf-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
                .json(r#"{"text":"x"}"#),
            WRONG_CSRF,
        ),
        refused(
            own("a note with another session's CSRF value", "POST", "/notes")
                .header("cookie", "__Host-access_token={acc}; __Host-csrf_token={bob_csrf}")
                .header("x-csrf-token", "{bob_csrf}")
                .json(r#"{"text":"x"}"#),
            WRONG_CSRF,
        ),
        refused(
            from_site("a note from another site", "POST", "/notes", "cross-site")
                .header("cookie", with_cookie)
                .header("x-csrf-token", "{csrf}")
                .form("text=x"),
            CROSS_SITE,
        ),
        refused(
            case("a note from a foreign origin", "POST", "/notes")
                .header("host", "localhost")
                .header("origin", "http://localhost:9999")
                .header("cookie", with_cookie)
                .header("x-csrf-token", "{csrf}")
                .form("text=x"),
            BAD_ORIGIN,
        ),
        from_site(
            "a Bearer header wins over the cookie and needs no CSRF value",
            "POST",
            "/notes",
            "cross-site",
        )
        .header("cookie", with_cookie)
        .auth("Bearer {bob_acc}")
        .json(r#"{"text":"bob's"}"#)
        .answer(201, Challenge::None, NOTE)
        .field("count", json!(1)),
        own("a bad Bearer header is not rescued by a good cookie", "GET", "/whoami")
            .header("cookie", with_cookie)
            .auth("Bearer x.y.z")
            .error(401, Challenge::Error("Bearer", "invalid_token"), "invalid_token"),
        own("the notes are the caller's", "GET", "/notes")
            .header("cookie", with_cookie)
            .ok(&["notes"])
            .field("notes", json!(["first"])),
        refused(
            own("refresh without the CSRF header", "POST", "/auth/refresh")
                .header("cookie", "__Secure-refresh_token={ref}; __Host-csrf_token={csrf}"),
            NO_CSRF,
        ),
        clears(
            own("refresh without the refresh cookie", "POST", "/auth/refresh")
                .header("x-csrf-token", "{csrf}"),
        )
        .error(401, Challenge::Scheme("Bearer"), "unauthorized"),
        own("refresh with the refresh cookie", "POST", "/auth/refresh")
            .header("cookie", "__Secure-refresh_token={ref}; __Host-csrf_token={csrf}")
            .header("x-csrf-token", "{csrf}")
            .ok(ISSUED)
            .sets_cookie(ACCESS, Some(ACCESS_SET))
            .sets_cookie(REFRESH, Some(REFRESH_SET))
            .sets_cookie(CSRF, Some(CSRF_SET))
            .capture(&[("acc2", "cookie:__Host-access_token"), ("ref2", "cookie:__Secure-refresh_token")]),
        own("the new access cookie works with the same CSRF value", "POST", "/notes")
            .header("cookie", "__Host-access_token={acc2}; __Host-csrf_token={csrf}")
            .header("x-csrf-token", "{csrf}")
            .json(r#"{"text":"second"}"#)
            .answer(201, Challenge::None, NOTE)
            .field("count", json!(2)),
        refused(
            from_site("logout from another site", "POST", "/auth/logout", "cross-site")
                .header("cookie", "__Host-access_token={acc2}; __Host-csrf_token={csrf}")
                .header("x-csrf-token", "{csrf}"),
            CROSS_SITE,
        ),
        clears(
            own("logout clears the cookies", "POST", "/auth/logout")
                .header("cookie", "__Host-access_token={acc2}; __Host-csrf_token={csrf}")
                .header("x-csrf-token", "{csrf}"),
        )
        .expect(204, Challenge::None, Keys::Empty),
        own("the old access cookie replayed by hand", "GET", "/whoami")
            .header("cookie", "__Host-access_token={acc2}")
            .error(401, Challenge::Error("Bearer", "invalid_token"), "invalid_token"),
        clears(
            own("a refresh that lost the race with logout", "POST", "/auth/refresh")
                .header("cookie", "__Secure-refresh_token={ref2}; __Host-csrf_token={csrf}")
                .header("x-csrf-token", "{csrf}"),
        )
        .error(401, Challenge::Error("Bearer", "invalid_token"), "invalid_token"),
    ]
}

#[test]
fn cookie_mode_table_on_both_frameworks() {
    crate::harness::both("cookies", &cases());
}
