//! The wire format of every dialect but `standard` (echome, datarhei,
//! sachet, keytoken, drf), replayed on both frameworks: the requests a
//! client of the real API sends, in order (log in, use the token on the
//! demo's sample route, refresh, extend or log out), each answer's exact
//! status, challenge, top-level keys and key fields, and the refusals the
//! real server answers in its own envelope (wrong password, missing
//! field, foreign or rotated tokens, wrong method); then the dialect's
//! hostile-token rows from `hostile.rs`. Forged tokens come from the
//! harness: `{expired}` (user 1, expired a minute ago), `{old_session}`
//! (user 1, live, but logged in 11 days ago), `{expired_simplejwt}` (the
//! same as `{expired}` in simplejwt's claim names) and `{other_key}`
//! (signed with another secret).

use serde_json::json;

use crate::harness::both;
use crate::hostile;
use crate::table::Challenge::{Error as Err, None as NoChallenge, Scheme};
use crate::table::{Case, Keys, WHOAMI, case};

const JSON_LOGIN: &str = r#"{"username": "alice", "password": "alice-pw"}"#;

fn echome() -> Vec<Case> {
    let detail = &["detail"];
    let bad_token = &["code", "detail"];
    let vms = "/api/v1/vm/vm/describe/all";
    let bearer = || Scheme("Bearer");
    let invalid_token = || Err("Bearer", "invalid_token");
    vec![
        case("1. retrieve access token", "POST", "/api/v1/identity/token")
            .json(JSON_LOGIN)
            .ok(&["access", "refresh"])
            .capture(&[("access", "access"), ("refresh", "refresh")])
            .claims("access", &["token_type", "user_id", "jti", "iat", "exp"])
            .has_header("cache-control", Some("no-store"))
            .has_header("pragma", Some("no-cache")),
        case("login as a form", "POST", "/api/v1/identity/token")
            .form("username=bob&password=bob-pw")
            .ok(&["access", "refresh"])
            .capture(&[("bob", "access")]),
        case("login ignores junk Authorization", "POST", "/api/v1/identity/token")
            .auth("Bearer junk!")
            .json(JSON_LOGIN)
            .ok(&["access", "refresh"]),
        case("bad credentials", "POST", "/api/v1/identity/token")
            .json(r#"{"username": "alice", "password": "no"}"#)
            .answer(401, bearer(), detail)
            .field("detail", json!("No active account found with the given credentials")),
        case("unknown user, same answer", "POST", "/api/v1/identity/token")
            .json(r#"{"username": "zed", "password": "no"}"#)
            .answer(401, bearer(), detail)
            .field("detail", json!("No active account found with the given credentials")),
        case("missing field", "POST", "/api/v1/identity/token")
            .json(r#"{"username": "alice"}"#)
            .answer(400, NoChallenge, &["password"])
            .field("password", json!(["This field is required."])),
        case("2. request with the access token", "GET", vms)
            .auth("Bearer {access}")
            .ok(&["details", "results", "success"])
            .field("success", json!(true))
            .field("details", json!(""))
            .field("results", json!([])),
        case("no token", "GET", vms).answer(401, bearer(), detail),
        case("refresh token as access", "GET", vms)
            .auth("Bearer {refresh}")
            .answer(401, invalid_token(), bad_token)
            .field("code", json!("token_not_valid")),
        case("3. refresh with the access token as Bearer", "POST", "/api/v1/identity/token/refresh")
            .auth("Bearer {access}")
            .form("refresh={refresh}")
            .ok(&["access"])
            .capture(&[("access2", "access")]),
        case("refresh again: not rotated", "POST", "/api/v1/identity/token/refresh")
            .auth("Bearer {access}")
            .json(r#"{"refresh": "{refresh}"}"#)
            .ok(&["access"]),
        case("refresh with a just-expired access token", "POST", "/api/v1/identity/token/refresh")
            .auth("Bearer {expired_simplejwt}")
            .form("refresh={refresh}")
            .ok(&["access"]),
        case("refresh without the access token", "POST", "/api/v1/identity/token/refresh")
            .form("refresh={refresh}")
            .answer(401, bearer(), detail),
        case("refresh with another user's access token", "POST", "/api/v1/identity/token/refresh")
            .auth("Bearer {bob}")
            .form("refresh={refresh}")
            .answer(401, NoChallenge, bad_token),
        case("refresh with a forged access token", "POST", "/api/v1/identity/token/refresh")
            .auth("Bearer {other_key}")
            .form("refresh={refresh}")
            .answer(401, invalid_token(), bad_token),
        case("refresh without refresh", "POST", "/api/v1/identity/token/refresh")
            .auth("Bearer {access}")
            .form("")
            .answer(400, NoChallenge, &["refresh"]),
        case("new access token works", "GET", "/whoami").auth("Bearer {access2}").ok(WHOAMI),
        case("wrong method", "GET", "/api/v1/identity/token").answer(405, NoChallenge, detail),
    ]
}

fn datarhei() -> Vec<Case> {
    let envelope = &["code", "details", "message"];
    vec![
        case("username/password login", "POST", "/api/login")
            .json(JSON_LOGIN)
            .ok(&["access_token", "refresh_token"])
            .capture(&[("access", "access_token"), ("refresh", "refresh_token")])
            .has_header("pragma", Some("no-cache"))
            .claims("access", &["exi", "exp", "iat", "iss", "jti", "sub", "usefor"])
            .claims("refresh", &["exi", "exp", "iat", "iss", "jti", "sub", "usefor"]),
        case("login as a form", "POST", "/api/login")
            .form("username=alice&password=alice-pw")
            .ok(&["access_token", "refresh_token"]),
        case("login ignores junk Authorization", "POST", "/api/login")
            .auth("Bearer x")
            .json(JSON_LOGIN)
            .ok(&["access_token", "refresh_token"]),
        case("bad credentials", "POST", "/api/login")
            .json(r#"{"username": "alice", "password": "no"}"#)
            .answer(401, Scheme("Bearer"), envelope)
            .field("code", json!(401))
            .field("message", json!("Unauthorized")),
        case("missing credentials", "POST", "/api/login")
            .json("{}")
            .answer(400, NoChallenge, envelope)
            .field("code", json!(400))
            .field("message", json!("Bad Request")),
        case("use the access token", "GET", "/whoami").auth("Bearer {access}").ok(WHOAMI),
        case("JWT refresh (GET, refresh token as Bearer)", "GET", "/api/login/refresh")
            .auth("Bearer {refresh}")
            .ok(&["access_token"])
            .capture(&[("access2", "access_token")]),
        case("refresh with an access token", "GET", "/api/login/refresh")
            .auth("Bearer {access}")
            .answer(401, Err("Bearer", "invalid_token"), envelope)
            .field("details", json!(["the token is not usable here"])),
        case("refresh without a token", "GET", "/api/login/refresh").answer(401, Scheme("Bearer"), envelope),
        case("refresh by POST", "POST", "/api/login/refresh").answer(405, NoChallenge, envelope),
        case("refreshed access token works", "GET", "/whoami").auth("Bearer {access2}").ok(WHOAMI),
        case("refresh token as access", "GET", "/whoami").auth("Bearer {refresh}").answer(
            401,
            Err("Bearer", "invalid_token"),
            envelope,
        ),
    ]
}

fn sachet() -> Vec<Case> {
    let ok = &["auth_token", "message", "status", "username"];
    let fail = &["message", "status"];
    let bearer = || Scheme("Bearer");
    vec![
        case("signing in", "POST", "/users/login")
            .json(JSON_LOGIN)
            .ok(ok)
            .field("status", json!("success"))
            .field("message", json!("Logged in."))
            .field("username", json!("alice"))
            .capture(&[("token", "auth_token")])
            .claims("token", &["jti", "exp", "iat", "sub"])
            .has_header("pragma", Some("no-cache")),
        case("bad credentials", "POST", "/users/login")
            .json(r#"{"username": "alice", "password": "x"}"#)
            .answer(401, bearer(), fail)
            .field("status", json!("fail")),
        case("GET /users/login is not a login", "GET", "/users/login").answer(401, bearer(), fail),
        case("using the token", "GET", "/users/alice").auth("Bearer {token}").ok(&["status", "username"]),
        case("another user's record", "GET", "/users/bob").auth("Bearer {token}").answer(
            403,
            NoChallenge,
            fail,
        ),
        case("renewal", "POST", "/users/extend")
            .auth("Bearer {token}")
            .ok(ok)
            .field("message", json!("Renewed token."))
            .capture(&[("token2", "auth_token")]),
        case("GET /users/extend is not an extend", "GET", "/users/extend").auth("Bearer {token}").answer(
            403,
            NoChallenge,
            fail,
        ),
        case("the old token stays valid", "GET", "/whoami").auth("Bearer {token}").ok(WHOAMI),
        case("bob signs in", "POST", "/users/login")
            .form("username=bob&password=bob-pw")
            .ok(ok)
            .capture(&[("bob", "auth_token")]),
        case("revoking someone else's token", "POST", "/users/logout")
            .auth("Bearer {token}")
            .json(r#"{"token": "{bob}"}"#)
            .answer(403, NoChallenge, fail),
        case("logout without a token", "POST", "/users/logout").auth("Bearer {token}").json("{}").answer(
            400,
            NoChallenge,
            fail,
        ),
        case("admin signs in", "POST", "/users/login")
            .json(r#"{"username": "root", "password": "root-pw"}"#)
            .ok(ok)
            .capture(&[("root", "auth_token")]),
        case("admin revokes bob's token", "POST", "/users/logout")
            .auth("Bearer {root}")
            .json(r#"{"token": "{bob}"}"#)
            .ok(&["message", "status"])
            .field("message", json!("Token revoked.")),
        case("bob's token is dead", "GET", "/whoami").auth("Bearer {bob}").answer(
            401,
            Err("Bearer", "invalid_token"),
            fail,
        ),
        case("signing out", "POST", "/users/logout")
            .auth("Bearer {token}")
            .json(r#"{"token": "{token2}"}"#)
            .ok(&["message", "status"]),
        // the extension and the token it extended share a family: both end
        case("the token it extended ended with it", "GET", "/whoami").auth("Bearer {token}").answer(
            401,
            Err("Bearer", "invalid_token"),
            fail,
        ),
        case("signing in again", "POST", "/users/login")
            .json(r#"{"username": "alice", "password": "alice-pw"}"#)
            .ok(ok)
            .capture(&[("token3", "auth_token")]),
        case("revoking it again", "POST", "/users/logout")
            .auth("Bearer {token3}")
            .json(r#"{"token": "{token2}"}"#)
            .answer(400, NoChallenge, fail),
        case("revoking an expired token", "POST", "/users/logout")
            .auth("Bearer {token3}")
            .json(r#"{"token": "{expired}"}"#)
            .answer(400, NoChallenge, fail),
        case("anonymous on an optional route", "GET", "/maybe").ok(&["authenticated"]),
    ]
}

fn keytoken() -> Vec<Case> {
    let creds = &["expires", "key", "refresh", "role", "token"];
    let errors = &["errors"];
    let basic = || Scheme("Basic");
    let login = r#"{"client": "demo", "email": "ann@example.com", "password": "ann-pw"}"#;
    vec![
        case("log in", "POST", "/users/token")
            .json(login)
            .ok(creds)
            .field("role", json!("attendee"))
            .capture(&[("key", "key"), ("token", "token"), ("refresh", "refresh")])
            .has_header("pragma", Some("no-cache")),
        case("log in as a form", "POST", "/users/token")
            .form("client=ios&email=bob%40example.com&password=bob-pw")
            .ok(creds),
        case("bad credentials are 400", "POST", "/users/token")
            .json(r#"{"client": "demo", "email": "ann@example.com", "password": "no"}"#)
            .answer(400, NoChallenge, errors),
        case("unknown client", "POST", "/users/token")
            .json(r#"{"client": "evil", "email": "ann@example.com", "password": "ann-pw"}"#)
            .answer(400, NoChallenge, errors),
        case("authorized request", "PATCH", "/users")
            .auth("Basic {b64:key:token}")
            .json(r#"{"email": "ann@example.com"}"#)
            .ok(WHOAMI),
        case("no credentials", "PATCH", "/users")
            .answer(401, basic(), errors)
            .field("errors", json!(["You must be logged in to access this area"])),
        case("wrong token", "PATCH", "/users")
            .auth("Basic {b64:key:refresh}")
            .answer(401, basic(), errors)
            .field("errors", json!(["You must be logged in to access this area"])),
        case("refresh", "POST", "/users/token/refresh")
            .json(r#"{"client": "demo", "key": "{key}", "refresh": "{refresh}"}"#)
            .ok(creds)
            .field("role", json!("attendee"))
            .capture(&[("token2", "token"), ("refresh2", "refresh")]),
        case("the old token is dead", "PATCH", "/users").auth("Basic {b64:key:token}").answer(
            401,
            basic(),
            errors,
        ),
        case("the new token works", "PATCH", "/users").auth("Basic {b64:key:token2}").ok(WHOAMI),
        // the rotated-away refresh secret retried within the grace (its
        // answer was lost): once, a fresh pair; again, reuse: the pair dies
        case("the old refresh retried once within the grace", "POST", "/users/token/refresh")
            .json(r#"{"client": "demo", "key": "{key}", "refresh": "{refresh}"}"#)
            .ok(creds),
        case("the old refresh again is reuse", "POST", "/users/token/refresh")
            .json(r#"{"client": "demo", "key": "{key}", "refresh": "{refresh}"}"#)
            .answer(401, basic(), errors),
        case("which killed the new token", "PATCH", "/users").auth("Basic {b64:key:token2}").answer(
            401,
            basic(),
            errors,
        ),
        case("and the new refresh", "POST", "/users/token/refresh")
            .json(r#"{"client": "demo", "key": "{key}", "refresh": "{refresh2}"}"#)
            .answer(401, basic(), errors),
        case("log in again", "POST", "/users/token")
            .json(login)
            .ok(creds)
            .capture(&[("key3", "key"), ("token3", "token")]),
        case("log out", "DELETE", "/users/token")
            .auth("Basic {b64:key3:token3}")
            .json(r#"{"client": "demo"}"#)
            .ok(&[])
            .has_header("pragma", Some("no-cache")),
        case("dead at once", "PATCH", "/users").auth("Basic {b64:key3:token3}").answer(401, basic(), errors),
        case("sign up", "POST", "/users")
            .json(r#"{"client": "demo", "email": "new@example.com", "password": "pw"}"#)
            .ok(creds),
        case("sign up twice", "POST", "/users")
            .json(r#"{"client": "demo", "email": "new@example.com", "password": "pw"}"#)
            .answer(400, NoChallenge, errors),
        case("GET on the token route", "GET", "/users/token").answer(405, NoChallenge, errors),
    ]
}

fn drf() -> Vec<Case> {
    let token = &["expires_in", "token", "user"];
    let non_field = &["non_field_errors"];
    let detail = &["detail"];
    vec![
        case("get access token", "POST", "/auth/access_token/")
            .json(r#"{"username":"alice","password":"alice-pw"}"#)
            .ok(&["access_token", "expires_in", "user"])
            .field("user", json!("alice"))
            .capture(&[("token", "access_token")])
            .claims("token", &["user_id", "username", "exp", "orig_iat"])
            .has_header("pragma", Some("no-cache")),
        case("as a form", "POST", "/auth/access_token/").form("username=alice&password=alice-pw").ok(&[
            "access_token",
            "expires_in",
            "user",
        ]),
        case("bad credentials are 400", "POST", "/auth/access_token/")
            .json(r#"{"username":"alice","password":"x"}"#)
            .answer(400, NoChallenge, non_field)
            .field("non_field_errors", json!(["Unable to log in with provided credentials."])),
        case("missing field", "POST", "/auth/access_token/").json(r#"{"username":"alice"}"#).answer(
            400,
            NoChallenge,
            &["password"],
        ),
        case("protected url with Token", "POST", "/protected-url/").auth("Token {token}").ok(WHOAMI),
        case("protected url without", "POST", "/protected-url/").answer(401, Scheme("Token"), detail),
        case("protected url with an expired token", "POST", "/protected-url/")
            .auth("Token {expired}")
            .answer(401, Err("Token", "invalid_token"), detail)
            .field("detail", json!("Signature has expired.")),
        case("refresh access token", "POST", "/auth/refresh_token/")
            .json(r#"{ "token": "{token}" }"#)
            .ok(token)
            .field("user", json!({"username": "alice", "id": 1}))
            .capture(&[("token2", "token")])
            .claims("token2", &["user_id", "username", "exp", "orig_iat"]),
        case("refresh an expired token", "POST", "/auth/refresh_token/")
            .json(r#"{"token": "{expired}"}"#)
            .answer(400, NoChallenge, non_field)
            .field("non_field_errors", json!(["Signature has expired."])),
        case("refresh past the window", "POST", "/auth/refresh_token/")
            .json(r#"{"token": "{old_session}"}"#)
            .answer(400, NoChallenge, non_field)
            .field("non_field_errors", json!(["Refresh has expired."])),
        case("verify access token", "POST", "/auth/verify_token/").json(r#"{"token": "{token2}"}"#).ok(token),
        case("verify junk", "POST", "/auth/verify_token/")
            .json(r#"{"token": "x.y.z"}"#)
            .answer(400, NoChallenge, non_field)
            .field("non_field_errors", json!(["Error decoding signature."])),
        case("verify expired", "POST", "/auth/verify_token/")
            .json(r#"{"token": "{expired}"}"#)
            .answer(400, NoChallenge, non_field)
            .field("non_field_errors", json!(["Signature has expired."])),
        case("wrong method", "GET", "/auth/access_token/").expect(405, NoChallenge, Keys::Exactly(detail)),
    ]
}

/// One dialect's seed flow followed by its hostile rows.
fn with_hostile(mut flow: Vec<Case>, hostile: Vec<Case>) -> Vec<Case> {
    flow.extend(hostile);
    flow
}

/// Every dialect's table, by name.
pub fn all() -> Vec<(&'static str, Vec<Case>)> {
    vec![
        ("echome", with_hostile(echome(), hostile::echome_cases())),
        ("datarhei", with_hostile(datarhei(), hostile::datarhei_cases())),
        ("sachet", with_hostile(sachet(), hostile::sachet_cases())),
        ("keytoken", with_hostile(keytoken(), hostile::keytoken_cases())),
        ("drf", with_hostile(drf(), hostile::drf_cases())),
    ]
}

fn table(dialect: &str) -> Vec<Case> {
    all().into_iter().find(|(name, _)| *name == dialect).map(|(_, cases)| cases).unwrap_or_default()
}

#[test]
fn echome_on_both_frameworks() {
    both("echome", &table("echome"));
}

#[test]
fn datarhei_on_both_frameworks() {
    both("datarhei", &table("datarhei"));
}

#[test]
fn sachet_on_both_frameworks() {
    both("sachet", &table("sachet"));
}

#[test]
fn keytoken_on_both_frameworks() {
    both("keytoken", &table("keytoken"));
}

#[test]
fn drf_on_both_frameworks() {
    both("drf", &table("drf"));
}
