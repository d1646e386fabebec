//! The one table: every case runs, in order, on both frameworks.
//! `{name}` in a path, header or body is a variable captured by an earlier
//! case (or a forged token the harness made: `{expired}`, `{other_key}`,
//! `{alg_none}`; `{access_tampered}` is `{access}` with its payload changed).

use std::collections::HashMap;

use serde_json::{Value, json};

/// How the body is made.
#[derive(Debug, Clone)]
pub enum BodySpec {
    None,
    Text(&'static str),
    /// A JSON login whose username is this many bytes long.
    Huge(usize),
}

impl BodySpec {
    pub fn make(&self, vars: &HashMap<String, String>) -> Vec<u8> {
        match self {
            Self::None => Vec::new(),
            Self::Text(t) => crate::harness::substitute(t, vars).into_bytes(),
            Self::Huge(n) => json!({"username": "a".repeat(*n), "password": "x"}).to_string().into_bytes(),
        }
    }
}

/// The `WWW-Authenticate` expected: none, a bare scheme, or a scheme with an error code.
#[derive(Debug, Clone)]
pub enum Challenge {
    None,
    Scheme(&'static str),
    Error(&'static str, &'static str),
}

/// The JSON keys expected at the top level (exactly), or an empty body.
#[derive(Debug, Clone)]
pub enum Keys {
    Empty,
    Exactly(&'static [&'static str]),
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub authorization: Option<&'static str>,
    /// More request headers (`{name}` substituted), after `Authorization`.
    pub headers: Vec<(&'static str, &'static str)>,
    pub content_type: Option<&'static str>,
    pub body: BodySpec,
    pub status: u16,
    pub challenge: Challenge,
    pub keys: Keys,
    pub fields: Vec<(&'static str, Value)>,
    /// Response headers that must have this value (`None`: be absent).
    pub response_headers: Vec<(&'static str, Option<&'static str>)>,
    /// Response headers that must be a whole number in this range.
    pub numeric_headers: Vec<(&'static str, std::ops::RangeInclusive<u64>)>,
    /// Cookies the answer must set: name, and its attributes after the
    /// value exactly (`None`: not set at all; a trailing `*` matches any
    /// rest, such as a removal's `Expires` date).
    pub cookies: Vec<(&'static str, Option<&'static str>)>,
    pub capture: &'static [(&'static str, &'static str)],
    pub tamper: Option<&'static str>,
    /// A captured token whose payload must carry these claims.
    pub claims: Option<(&'static str, &'static [&'static str])>,
    /// The client's address (`IP:PORT`): the TCP peer in process; over
    /// real TCP, what the loopback proxy the demo trusts says in
    /// `X-Forwarded-For`.
    pub peer: Option<&'static str>,
}

pub(crate) fn case(name: &'static str, method: &'static str, path: &'static str) -> Case {
    Case {
        name,
        method,
        path,
        authorization: None,
        headers: Vec::new(),
        content_type: None,
        body: BodySpec::None,
        status: 200,
        challenge: Challenge::None,
        keys: Keys::Empty,
        fields: Vec::new(),
        response_headers: Vec::new(),
        numeric_headers: Vec::new(),
        cookies: Vec::new(),
        capture: &[],
        tamper: None,
        claims: None,
        peer: None,
    }
}

impl Case {
    pub(crate) fn auth(mut self, value: &'static str) -> Self {
        self.authorization = Some(value);
        self
    }
    /// Adds a request header (repeatable: two `authorization` headers are two).
    pub(crate) fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
    /// The response must carry this header with this value (`None`: not at all).
    pub(crate) fn has_header(mut self, name: &'static str, value: Option<&'static str>) -> Self {
        self.response_headers.push((name, value));
        self
    }
    /// The answer must set cookie `name` with exactly `attributes` after its
    /// value (`None`: must not set it).
    pub(crate) fn sets_cookie(mut self, name: &'static str, attributes: Option<&'static str>) -> Self {
        self.cookies.push((name, attributes));
        self
    }
    /// Sent from this client address (`IP:PORT`).
    pub(crate) fn from(mut self, peer: &'static str) -> Self {
        self.peer = Some(peer);
        self
    }
    /// The response must carry this header as a number in `range`.
    pub(crate) fn has_number(mut self, name: &'static str, range: std::ops::RangeInclusive<u64>) -> Self {
        self.numeric_headers.push((name, range));
        self
    }
    pub(crate) fn json(mut self, body: &'static str) -> Self {
        self.content_type = Some("application/json");
        self.body = BodySpec::Text(body);
        self
    }
    pub(crate) fn form(mut self, body: &'static str) -> Self {
        self.content_type = Some("application/x-www-form-urlencoded");
        self.body = BodySpec::Text(body);
        self
    }
    pub(crate) fn raw(mut self, content_type: &'static str, body: BodySpec) -> Self {
        self.content_type = Some(content_type);
        self.body = body;
        self
    }
    pub(crate) fn ok(self, keys: &'static [&'static str]) -> Self {
        self.expect(200, Challenge::None, Keys::Exactly(keys))
    }
    pub(crate) fn expect(mut self, status: u16, challenge: Challenge, keys: Keys) -> Self {
        self.status = status;
        self.challenge = challenge;
        self.keys = keys;
        self
    }
    /// A standard error: status, challenge, `{error, error_description}` with this code.
    pub(crate) fn error(self, status: u16, challenge: Challenge, code: &'static str) -> Self {
        self.expect(status, challenge, Keys::Exactly(ERROR)).field("error", json!(code))
    }
    pub(crate) fn field(mut self, name: &'static str, value: Value) -> Self {
        self.fields.push((name, value));
        self
    }
    pub(crate) fn capture(mut self, vars: &'static [(&'static str, &'static str)]) -> Self {
        self.capture = vars;
        self
    }
    pub(crate) fn tamper(mut self, var: &'static str) -> Self {
        self.tamper = Some(var);
        self
    }
    /// The captured token `var` must carry these claims.
    pub(crate) fn claims(mut self, var: &'static str, names: &'static [&'static str]) -> Self {
        self.claims = Some((var, names));
        self
    }
    /// Expects a status, challenge and these exact keys.
    pub(crate) fn answer(self, status: u16, challenge: Challenge, keys: &'static [&'static str]) -> Self {
        self.expect(status, challenge, Keys::Exactly(keys))
    }
}

pub(crate) const TOKENS: &[&str] = &["access_token", "expires_in", "refresh_token", "token_type"];
const ERROR: &[&str] = &["error", "error_description"];
pub(crate) const WHOAMI: &[&str] = &["roles", "sub", "username"];
pub(crate) const ALICE: &str = r#"{"username":"alice","password":"alice-pw"}"#;

use Challenge::{Error as Err, None as NoChallenge, Scheme};

/// The standard dialect's flow, then its hostile rows (`hostile.rs`).
pub fn cases() -> Vec<Case> {
    let mut all = flow();
    all.extend(crate::hostile::cases());
    all
}

fn flow() -> Vec<Case> {
    let invalid_token = || Err("Bearer", "invalid_token");
    let invalid_request = || Err("Bearer", "invalid_request");
    vec![
        case("public route", "GET", "/public").ok(&["ok"]).field("ok", json!(true)),
        // login
        case("login good (JSON)", "POST", "/auth/login")
            .json(ALICE)
            .ok(TOKENS)
            .field("token_type", json!("Bearer"))
            .field("expires_in", json!(900))
            .capture(&[("access", "access_token"), ("refresh", "refresh_token")])
            .tamper("access"),
        case("login good (form)", "POST", "/auth/login")
            .form("username=bob&password=bob-pw")
            .ok(TOKENS)
            .capture(&[("bob", "access_token")]),
        case("login ignores a junk Authorization header", "POST", "/auth/login")
            .auth("Bearer %%%junk")
            .json(ALICE)
            .ok(TOKENS),
        case("login bad password", "POST", "/auth/login")
            .json(r#"{"username":"alice","password":"nope"}"#)
            .error(400, NoChallenge, "invalid_grant")
            .field("error_description", json!("invalid username or password")),
        case("login unknown user answers the same", "POST", "/auth/login")
            .json(r#"{"username":"nobody","password":"nope"}"#)
            .error(400, NoChallenge, "invalid_grant")
            .field("error_description", json!("invalid username or password")),
        case("login malformed JSON", "POST", "/auth/login").json(r#"{"username":"#).error(
            400,
            NoChallenge,
            "invalid_request",
        ),
        case("login missing field", "POST", "/auth/login")
            .json(r#"{"username":"alice"}"#)
            .error(400, NoChallenge, "invalid_request")
            .field("error_description", json!("missing field `password`")),
        case("login wrong type", "POST", "/auth/login")
            .json(r#"{"username":["alice"],"password":"x"}"#)
            .error(400, NoChallenge, "invalid_request"),
        case("login huge body", "POST", "/auth/login").raw("application/json", BodySpec::Huge(20_000)).error(
            413,
            NoChallenge,
            "invalid_request",
        ),
        case("login text/plain", "POST", "/auth/login").raw("text/plain", BodySpec::Text("hi")).error(
            415,
            NoChallenge,
            "invalid_request",
        ),
        case("login wrong method", "GET", "/auth/login").error(405, NoChallenge, "invalid_request"),
        case("unknown auth route", "POST", "/auth/nope").error(404, NoChallenge, "not_found"),
        // protected route
        case("whoami good", "GET", "/whoami")
            .auth("Bearer {access}")
            .ok(WHOAMI)
            .field("username", json!("alice"))
            .field("roles", json!(["admin"])),
        case("whoami lowercase scheme", "GET", "/whoami").auth("bearer {access}").ok(WHOAMI),
        case("whoami missing", "GET", "/whoami").error(401, Scheme("Bearer"), "unauthorized"),
        case("whoami other scheme", "GET", "/whoami").auth("Basic YWxpY2U6YWxpY2UtcHc=").error(
            401,
            Scheme("Bearer"),
            "unauthorized",
        ),
        case("whoami malformed (no token)", "GET", "/whoami").auth("Bearer").error(
            400,
            invalid_request(),
            "invalid_request",
        ),
        case("whoami malformed (two tokens)", "GET", "/whoami").auth("Bearer a b").error(
            400,
            invalid_request(),
            "invalid_request",
        ),
        case("whoami expired", "GET", "/whoami")
            .auth("Bearer {expired}")
            .error(401, invalid_token(), "invalid_token")
            .field("error_description", json!("the token has expired")),
        case("whoami tampered", "GET", "/whoami").auth("Bearer {access_tampered}").error(
            401,
            invalid_token(),
            "invalid_token",
        ),
        case("whoami alg none", "GET", "/whoami").auth("Bearer {alg_none}").error(
            401,
            invalid_token(),
            "invalid_token",
        ),
        case("whoami signed by another key", "GET", "/whoami").auth("Bearer {other_key}").error(
            401,
            invalid_token(),
            "invalid_token",
        ),
        case("whoami refresh token as access", "GET", "/whoami")
            .auth("Bearer {refresh}")
            .error(401, invalid_token(), "invalid_token")
            .field("error_description", json!("the token is not usable here")),
        // optional route
        case("maybe anonymous", "GET", "/maybe").ok(&["authenticated"]).field("authenticated", json!(false)),
        case("maybe with token", "GET", "/maybe").auth("Bearer {bob}").ok(&[
            "authenticated",
            "roles",
            "sub",
            "username",
        ]),
        case("maybe with a bad token", "GET", "/maybe").auth("Bearer {expired}").error(
            401,
            invalid_token(),
            "invalid_token",
        ),
        // role guard
        case("admin as admin", "GET", "/admin")
            .auth("Bearer {access}")
            .ok(&["admin"])
            .field("admin", json!("alice")),
        case("admin as non-admin", "GET", "/admin").auth("Bearer {bob}").error(
            403,
            Err("Bearer", "insufficient_scope"),
            "insufficient_scope",
        ),
        case("admin anonymous", "GET", "/admin").error(401, Scheme("Bearer"), "unauthorized"),
        // verify
        case("verify live token", "POST", "/auth/verify")
            .json(r#"{"token":"{access}"}"#)
            .ok(&["active", "exp", "iat", "roles", "sub", "token_use", "username"])
            .field("active", json!(true)),
        case("verify junk", "POST", "/auth/verify")
            .json(r#"{"token":"x.y.z"}"#)
            .ok(&["active"])
            .field("active", json!(false)),
        // refresh: rotation and reuse
        case("refresh rotates", "POST", "/auth/refresh")
            .form("refresh_token={refresh}")
            .ok(TOKENS)
            .capture(&[("access2", "access_token"), ("refresh2", "refresh_token")]),
        case("new access token works", "GET", "/whoami").auth("Bearer {access2}").ok(WHOAMI),
        case("access token as refresh token", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"{access2}"}"#)
            .error(401, invalid_token(), "invalid_token"),
        case("refresh missing field", "POST", "/auth/refresh").json("{}").error(
            400,
            NoChallenge,
            "invalid_request",
        ),
        // A client whose refresh answer was lost retries with the token it
        // had: within the grace (10 s), once, that is a fresh pair of the
        // current generation, not reuse.
        case("rotated refresh token retried once within the grace", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"{refresh}"}"#)
            .ok(TOKENS),
        case("rotated refresh token reused", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"{refresh}"}"#)
            .error(401, invalid_token(), "invalid_token")
            .field("error_description", json!("the refresh token was already used")),
        case("family revoked after reuse", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"{refresh2}"}"#)
            .error(401, invalid_token(), "invalid_token"),
        case("family's access token revoked too", "GET", "/whoami").auth("Bearer {access2}").error(
            401,
            invalid_token(),
            "invalid_token",
        ),
        // logout
        case("login for logout", "POST", "/auth/login")
            .json(ALICE)
            .ok(TOKENS)
            .capture(&[("access3", "access_token"), ("refresh3", "refresh_token")]),
        // Twice: the second answer comes from the verified-token cache.
        case("whoami before logout", "GET", "/whoami").auth("Bearer {access3}").ok(WHOAMI),
        case("whoami before logout, cached", "GET", "/whoami").auth("Bearer {access3}").ok(WHOAMI),
        case("logout", "POST", "/auth/logout").auth("Bearer {access3}").expect(204, NoChallenge, Keys::Empty),
        case("logged-out token refused", "GET", "/whoami").auth("Bearer {access3}").error(
            401,
            invalid_token(),
            "invalid_token",
        ),
        case("logout twice", "POST", "/auth/logout").auth("Bearer {access3}").error(
            401,
            invalid_token(),
            "invalid_token",
        ),
        case("logged-out refresh refused", "POST", "/auth/refresh")
            .json(r#"{"refresh_token":"{refresh3}"}"#)
            .error(401, invalid_token(), "invalid_token"),
        case("logout without token", "POST", "/auth/logout").error(401, Scheme("Bearer"), "unauthorized"),
        case("logout wrong method", "GET", "/auth/logout").error(405, NoChallenge, "invalid_request"),
    ]
}
