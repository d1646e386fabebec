//! Hostile tokens and odd-but-well-formed HTTP, as an attacker who holds
//! the demo's secret (a leak, a sibling service, a buggy issuer) would send
//! them. Every token here is correctly signed; `{forged_ok}` is the control
//! that passes, so each refusal is for the one thing its token breaks.
//! The rows run as part of the standard table: on both frameworks, in
//! process and against the demo binary over TCP.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::harness::SECRET;
use crate::table::Challenge::{Error as Err, None as NoChallenge, Scheme};
use crate::table::{ALICE, Case, Keys, WHOAMI, case};

/// A JWS over exactly these header and payload bytes, HS256 with `secret`.
fn sign_raw(header: &[u8], payload: &[u8], secret: &[u8]) -> String {
    let message = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let sig =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).expect("sign");
    format!("{message}.{sig}")
}

fn sign(header: &Value, claims: &Value) -> String {
    sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes(), SECRET.as_bytes())
}

/// `claims` with `patch` applied: a `null` in the patch removes the claim.
fn patched(claims: &Value, patch: Value) -> Value {
    let mut out = claims.clone();
    for (k, v) in patch.as_object().expect("a patch object") {
        match v {
            Value::Null => {
                out.as_object_mut().expect("object").remove(k);
            }
            v => out[k] = v.clone(),
        }
    }
    out
}

/// Forged and hostile tokens, made with the demo's own secret, as variables
/// for every table.
pub fn tokens(vars: &mut HashMap<String, String>) {
    let now = auth_core::now();
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": demo_app::DEMO_KID});
    let claims = json!({"sub": "1", "username": "alice", "roles": ["admin"], "exp": now + 60, "iat": now - 10, "jti": "forged", "token_use": "access"});
    let mut put = |name: &str, token: String| {
        vars.insert(name.to_owned(), token);
    };
    put("forged_ok", sign(&header, &claims));
    put("expired", sign(&header, &patched(&claims, json!({"exp": now - 60}))));
    // the same, spelled as simplejwt (ecHome) spells the token's use
    let mut simplejwt = patched(&claims, json!({"exp": now - 60, "token_type": "access"}));
    simplejwt.as_object_mut().map(|c| c.remove("token_use"));
    put("expired_simplejwt", sign(&header, &simplejwt));
    put("other_key", {
        let raw = |v: &Value| v.to_string().into_bytes();
        sign_raw(&raw(&header), &raw(&claims), b"some-other-secret-that-is-long-enough")
    });
    put(
        "alg_none",
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": demo_app::DEMO_KID}).to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        ),
    );
    // user 1's session that began 11 days ago, with a live token
    put(
        "old_session",
        sign(&header, &patched(&claims, json!({"exp": now + 3600, "orig_iat": now - 11 * 86_400}))),
    );

    // the JOSE header: an allow-list of alg, kid and typ
    put("hdr_array", sign(&json!(["HS256", demo_app::DEMO_KID]), &claims));
    put("typ_number", sign(&patched(&header, json!({"typ": 1})), &claims));
    put("typ_other", sign(&patched(&header, json!({"typ": "secevent+jwt"})), &claims));
    put("hdr_zip", sign(&patched(&header, json!({"zip": "DEF"})), &claims));
    put("hdr_enc", sign(&patched(&header, json!({"enc": "A128GCM"})), &claims));
    put("hdr_unknown", sign(&patched(&header, json!({"x-trace": "1"})), &claims));
    put(
        "hdr_dup",
        sign_raw(
            format!(r#"{{"alg":"HS256","kid":"{0}","kid":"{0}"}}"#, demo_app::DEMO_KID).as_bytes(),
            claims.to_string().as_bytes(),
            SECRET.as_bytes(),
        ),
    );
    // the payload: UTF-8, one object, unique member names
    let text = claims.to_string();
    let mut bad_utf8 = text.replacen(r#""alice""#, "\"ali\u{1}ce\"", 1).into_bytes();
    let at = bad_utf8.iter().position(|b| *b == 1).expect("marker");
    bad_utf8[at] = 0xff;
    put("bad_utf8", sign_raw(header.to_string().as_bytes(), &bad_utf8, SECRET.as_bytes()));
    let dup = |extra: &str| {
        let payload = format!("{},{extra}}}", text.trim_end_matches('}'));
        sign_raw(header.to_string().as_bytes(), payload.as_bytes(), SECRET.as_bytes())
    };
    put("dup_roles", dup(r#""roles":["root"]"#));
    put("dup_sub", dup(r#""sub":"2""#));
    put("two_uses", dup(r#""usefor":"access""#));
    put("payload_array", sign_raw(header.to_string().as_bytes(), b"[1]", SECRET.as_bytes()));
    // the claims: required, typed, bounded
    put(
        "long_exp",
        sign(&header, &patched(&claims, json!({"iat": now - 10, "exp": now + 10 * 365 * 86_400}))),
    );
    put("no_iat", sign(&header, &patched(&claims, json!({"iat": null}))));
    put("neg_iat", sign(&header, &patched(&claims, json!({"iat": -1, "exp": now + 60}))));
    put("aud_api", sign(&header, &patched(&claims, json!({"aud": "api"}))));
    put("aud_evil", sign(&header, &patched(&claims, json!({"aud": ["evil"]}))));
    put("aud_empty", sign(&header, &patched(&claims, json!({"aud": []}))));
    put("aud_sibling", sign(&header, &patched(&claims, json!({"aud": "billing-service"}))));
    let with_null = |name: &str| {
        let mut c = claims.clone();
        c[name] = Value::Null;
        sign(&header, &c)
    };
    put("aud_null", with_null("aud"));
    put("iss_null", with_null("iss"));
    put("no_sub", sign(&header, &patched(&claims, json!({"sub": null}))));
    put("empty_sub", sign(&header, &patched(&claims, json!({"sub": ""}))));
    put("no_jti", sign(&header, &patched(&claims, json!({"jti": null}))));
    put("long_jti", sign(&header, &patched(&claims, json!({"jti": "j".repeat(200)}))));
    // a subject the demo's user store does not know (principal check)
    put("ghost", sign(&header, &patched(&claims, json!({"sub": "99", "username": "ghost"}))));
    // dialect spellings obey the same rules
    let echome = patched(&claims, json!({"token_use": null, "token_type": "access", "user_id": 1}));
    put("echome_ok", sign(&header, &echome));
    put("echome_no_jti", sign(&header, &patched(&echome, json!({"jti": null}))));
    let datarhei =
        patched(&claims, json!({"token_use": null, "usefor": "access", "iss": "datarhei-core", "exi": 70}));
    put("datarhei_ok", sign(&header, &datarhei));
    put("datarhei_aud", sign(&header, &patched(&datarhei, json!({"aud": "api"}))));
}

/// Rows for a token the standard demo must refuse on a protected route.
fn refused(name: &'static str, auth: &'static str, description: &'static str) -> Case {
    case(name, "GET", "/whoami")
        .auth(auth)
        .error(401, Err("Bearer", "invalid_token"), "invalid_token")
        .field("error_description", json!(description))
}

const TOKENS: &[&str] = &["access_token", "expires_in", "refresh_token", "token_type"];

/// The standard dialect's hostile rows (run after `table::cases()`).
pub(crate) const GUESSER: &str = "198.51.100.7:40000";
const OTHER: &str = "198.51.100.8:40000";
pub(crate) const BOB: &str = r#"{"username":"bob","password":"bob-pw"}"#;
pub(crate) const BOB_WRONG: &str = r#"{"username":"bob","password":"guess"}"#;

/// A wrong password for bob from the guessing address.
pub(crate) fn guess(name: &'static str) -> Case {
    case(name, "POST", "/auth/login").from(GUESSER).json(BOB_WRONG).error(400, NoChallenge, "invalid_grant")
}

pub fn cases() -> Vec<Case> {
    let malformed = "the token is malformed";
    let forbidden_header = "the token's header has a forbidden parameter";
    let audience = "the token's audience is not accepted";
    let bare = || Scheme("Bearer");
    let invalid_request = || Err("Bearer", "invalid_request");
    vec![
        case("forged control token passes", "GET", "/whoami").auth("Bearer {forged_ok}").ok(WHOAMI),
        // JOSE header
        refused("header is an array", "Bearer {hdr_array}", malformed),
        refused("typ is a number", "Bearer {typ_number}", malformed),
        refused("typ is not JWT", "Bearer {typ_other}", "the token's type is not accepted"),
        refused("zip header (JWE marker)", "Bearer {hdr_zip}", forbidden_header),
        refused("enc header (JWE marker)", "Bearer {hdr_enc}", forbidden_header),
        refused("unknown header parameter", "Bearer {hdr_unknown}", forbidden_header),
        refused("duplicate header member", "Bearer {hdr_dup}", malformed),
        // payload
        refused("invalid UTF-8 in a claim", "Bearer {bad_utf8}", malformed),
        refused("duplicate roles", "Bearer {dup_roles}", malformed),
        refused("duplicate sub", "Bearer {dup_sub}", malformed),
        refused("token_use and usefor both", "Bearer {two_uses}", malformed),
        refused("payload is an array", "Bearer {payload_array}", malformed),
        // claims
        refused(
            "exp ten years after iat",
            "Bearer {long_exp}",
            "the token's lifetime is longer than allowed",
        ),
        refused("iat missing", "Bearer {no_iat}", "the token lacks the `iat` claim"),
        refused("iat negative", "Bearer {neg_iat}", "the token's `iat` claim is invalid"),
        refused("aud while none is configured", "Bearer {aud_api}", audience),
        refused("aud [evil]", "Bearer {aud_evil}", audience),
        refused("aud []", "Bearer {aud_empty}", audience),
        refused("aud of a sibling service", "Bearer {aud_sibling}", audience),
        refused("aud null", "Bearer {aud_null}", malformed),
        refused("iss null", "Bearer {iss_null}", malformed),
        refused("sub missing", "Bearer {no_sub}", "the token lacks the `sub` claim"),
        refused("sub empty", "Bearer {empty_sub}", "the token lacks the `sub` claim"),
        refused("jti missing", "Bearer {no_jti}", "the token lacks the `jti` claim"),
        refused("jti too long", "Bearer {long_jti}", "the token's `jti` claim is invalid"),
        refused(
            "subject unknown to the user store",
            "Bearer {ghost}",
            "the token's subject is no longer active",
        ),
        // the Authorization header
        case("fresh login", "POST", "/auth/login")
            .json(ALICE)
            .ok(TOKENS)
            .has_header("cache-control", Some("no-store"))
            .has_header("pragma", Some("no-cache"))
            .capture(&[("h_access", "access_token"), ("h_refresh", "refresh_token")]),
        case("two Authorization headers", "GET", "/whoami")
            .auth("Bearer {h_access}")
            .header("authorization", "Bearer {h_access}")
            .error(400, invalid_request(), "invalid_request")
            .field("error_description", json!("more than one authorization header")),
        case("a second, foreign Authorization header", "GET", "/whoami")
            .auth("Bearer {h_access}")
            .header("authorization", "Basic YWxpY2U6YWxpY2UtcHc=")
            .error(400, invalid_request(), "invalid_request"),
        case("a tab between scheme and token", "GET", "/whoami").auth("Bearer\t{h_access}").error(
            400,
            invalid_request(),
            "invalid_request",
        ),
        case("several spaces are fine", "GET", "/whoami").auth("Bearer   {h_access}").ok(WHOAMI),
        case("Basic junk on a Bearer route is no credentials", "GET", "/whoami")
            .auth("Basic !!!not-base64!!!")
            .error(401, bare(), "unauthorized"),
        case("Basic without credentials on a Bearer route", "GET", "/whoami").auth("Basic").error(
            401,
            bare(),
            "unauthorized",
        ),
        case("a valid token under the Token scheme", "GET", "/whoami").auth("Token {h_access}").error(
            401,
            bare(),
            "unauthorized",
        ),
        case("logout with two Authorization headers", "POST", "/auth/logout")
            .auth("Bearer {h_access}")
            .header("authorization", "Bearer {h_access}")
            .error(400, NoChallenge, "invalid_request"),
        case("login ignores a repeated Authorization header", "POST", "/auth/login")
            .auth("Bearer x")
            .header("authorization", "Basic Og==")
            .json(ALICE)
            .ok(TOKENS),
        // bodies
        case("login with a duplicate username", "POST", "/auth/login")
            .json(r#"{"username":"bob","password":"alice-pw","username":"alice"}"#)
            .error(400, NoChallenge, "invalid_request")
            .field("error_description", json!("duplicate field `username`")),
        case("login form with a duplicate password", "POST", "/auth/login")
            .form("username=alice&password=x&password=alice-pw")
            .error(400, NoChallenge, "invalid_request")
            .field("error_description", json!("duplicate field `password`"))
            .has_header("pragma", Some("no-cache")),
        case("refresh with a duplicate refresh_token", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"x","refresh_token":"{h_refresh}"}"#)
            .error(400, NoChallenge, "invalid_request")
            .field("error_description", json!("duplicate field `refresh_token`")),
        case("JSON sent as a form", "POST", "/auth/login")
            .raw("application/x-www-form-urlencoded", crate::table::BodySpec::Text(ALICE))
            .error(400, NoChallenge, "invalid_request")
            .field("error_description", json!("the content type says form but the request body is JSON")),
        case("a form sent as JSON", "POST", "/auth/login")
            .raw("application/json", crate::table::BodySpec::Text("username=alice&password=alice-pw"))
            .error(400, NoChallenge, "invalid_request")
            .field("error_description", json!("the content type says JSON but the request body is a form")),
        // verify and logout (RFC 7662, RFC 7009)
        case("verify: a refresh token is not an active access token", "POST", "/auth/verify")
            .json(r#"{"token":"{h_refresh}"}"#)
            .ok(&["active"])
            .field("active", json!(false))
            .has_header("pragma", Some("no-cache")),
        case("verify: with token_type_hint=refresh_token", "POST", "/auth/verify")
            .form("token={h_refresh}&token_type_hint=refresh_token")
            .ok(&["active", "exp", "iat", "roles", "sub", "token_use", "username"])
            .field("active", json!(true))
            .field("token_use", json!("refresh")),
        case("bob logs in", "POST", "/auth/login")
            .json(r#"{"username":"bob","password":"bob-pw"}"#)
            .ok(TOKENS)
            .capture(&[("bob_refresh", "refresh_token")]),
        case("logout with someone else's refresh token", "POST", "/auth/logout")
            .auth("Bearer {h_access}")
            .json(r#"{"refresh_token":"{bob_refresh}"}"#)
            .expect(204, NoChallenge, Keys::Empty)
            .has_header("cache-control", Some("no-store")),
        case("their session is untouched", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"{bob_refresh}"}"#)
            .ok(TOKENS),
        case("login again", "POST", "/auth/login")
            .json(ALICE)
            .ok(TOKENS)
            .capture(&[("h_access2", "access_token")]),
        case("logout with a garbage refresh token", "POST", "/auth/logout")
            .auth("Bearer {h_access2}")
            .json(r#"{"refresh_token":"garbage"}"#)
            .expect(204, NoChallenge, Keys::Empty),
        // login throttle: counted per username and client address before
        // the hash; one address locks only itself out, and an
        // X-Forwarded-For the server has no reason to believe changes nothing
        guess("guess 1 from one address"),
        guess("guess 2 from one address"),
        guess("guess 3 from one address"),
        guess("guess 4 from one address"),
        guess("guess 5 from one address"),
        case("guess 6 from that address is throttled", "POST", "/auth/login")
            .from(GUESSER)
            .json(BOB_WRONG)
            .error(429, NoChallenge, "slow_down")
            .has_number("retry-after", 890..=900),
        case("the right password from that address waits too", "POST", "/auth/login")
            .from(GUESSER)
            .json(BOB)
            .error(429, NoChallenge, "slow_down"),
        case("a made-up X-Forwarded-For does not get round it", "POST", "/auth/login")
            .from(GUESSER)
            .header("x-forwarded-for", "203.0.113.99")
            .json(BOB)
            .error(429, NoChallenge, "slow_down"),
        case("another address still logs in", "POST", "/auth/login").from(OTHER).json(BOB).ok(TOKENS),
        case("which does not unlock the guessing address", "POST", "/auth/login")
            .from(GUESSER)
            .json(BOB)
            .error(429, NoChallenge, "slow_down"),
        // wrong methods: 405 with Allow, before any authentication
        case("POST on a GET-only protected route", "POST", "/whoami")
            .error(405, NoChallenge, "invalid_request")
            .has_header("allow", Some("GET, HEAD")),
        case("POST on it with a valid token", "POST", "/whoami")
            .auth("Bearer {forged_ok}")
            .error(405, NoChallenge, "invalid_request")
            .has_header("allow", Some("GET, HEAD")),
        case("DELETE on the admin route", "DELETE", "/admin").error(405, NoChallenge, "invalid_request"),
        case("PUT on the optional route", "PUT", "/maybe").error(405, NoChallenge, "invalid_request"),
        case("POST on the public route", "POST", "/public").error(405, NoChallenge, "invalid_request"),
    ]
}

/// Rows for the other dialects: their spellings obey the same rules.
pub fn echome_cases() -> Vec<Case> {
    let vms = "/api/v1/vm/vm/describe/all";
    let bad_token = &["code", "detail"];
    vec![
        case("forged echome token passes", "GET", vms)
            .auth("Bearer {echome_ok}")
            .ok(&["details", "results", "success"]),
        case("echome token without jti", "GET", vms).auth("Bearer {echome_no_jti}").answer(
            401,
            Err("Bearer", "invalid_token"),
            bad_token,
        ),
        case("echome token with aud", "GET", vms).auth("Bearer {aud_api}").answer(
            401,
            Err("Bearer", "invalid_token"),
            bad_token,
        ),
        case("two Authorization headers", "GET", vms)
            .auth("Bearer {echome_ok}")
            .header("authorization", "Bearer {echome_ok}")
            .answer(400, Err("Bearer", "invalid_request"), &["detail"]),
        case("POST on the sample route", "POST", vms)
            .answer(405, NoChallenge, &["detail"])
            .has_header("allow", Some("GET, HEAD")),
    ]
}

/// datarhei rows.
pub fn datarhei_cases() -> Vec<Case> {
    let envelope = &["code", "details", "message"];
    vec![
        case("forged datarhei token passes", "GET", "/whoami").auth("Bearer {datarhei_ok}").ok(WHOAMI),
        case("datarhei token with aud", "GET", "/whoami").auth("Bearer {datarhei_aud}").answer(
            401,
            Err("Bearer", "invalid_token"),
            envelope,
        ),
        case("datarhei token lacking its issuer", "GET", "/whoami").auth("Bearer {forged_ok}").answer(
            401,
            Err("Bearer", "invalid_token"),
            envelope,
        ),
    ]
}

/// drf rows.
pub fn drf_cases() -> Vec<Case> {
    vec![
        case("drf token living ten years", "POST", "/protected-url/").auth("Token {long_exp}").answer(
            401,
            Err("Token", "invalid_token"),
            &["detail"],
        ),
        case("verify a token with aud", "POST", "/auth/verify_token/")
            .json(r#"{"token": "{aud_api}"}"#)
            .answer(400, NoChallenge, &["non_field_errors"])
            .field("non_field_errors", json!(["Error decoding signature."])),
        case("GET on the protected url", "GET", "/protected-url/")
            .answer(405, NoChallenge, &["detail"])
            .has_header("allow", Some("POST")),
    ]
}

/// keytoken rows.
pub fn keytoken_cases() -> Vec<Case> {
    let errors = &["errors"];
    vec![
        case("a Bearer token on a Basic route", "PATCH", "/users").auth("Bearer {forged_ok}").answer(
            401,
            Scheme("Basic"),
            errors,
        ),
        case("two Basic headers", "PATCH", "/users")
            .auth("Basic Og==")
            .header("authorization", "Basic Og==")
            .answer(400, Scheme("Basic"), errors),
    ]
}

/// sachet rows.
pub fn sachet_cases() -> Vec<Case> {
    let fail = &["message", "status"];
    vec![
        case("sachet token living ten years", "GET", "/users/alice").auth("Bearer {long_exp}").answer(
            401,
            Err("Bearer", "invalid_token"),
            fail,
        ),
        case("sachet token without jti", "GET", "/users/alice").auth("Bearer {no_jti}").answer(
            401,
            Err("Bearer", "invalid_token"),
            fail,
        ),
    ]
}
