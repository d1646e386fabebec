//! What each dialect's clients send and read: the login and refresh
//! requests, the token answers, the scheme protected requests carry.
//!
//! Paths come from the server side's own route tables
//! ([`Dialect::routes`](crate::Dialect::routes) and its default mount), so
//! the client and the server of one dialect cannot drift apart.

use serde_json::{Value, json};

use super::error::AgentError;
use super::tokens::Tokens;
use crate::dialect::{Action, Dialect};
use crate::dialects::{Datarhei, Drf, Echome, Keytoken, Sachet, Standard};
use crate::header::{Credentials, Scheme};

/// The wire format a client speaks: one of the dialects this crate serves.
///
/// ```
/// use auth_core::agent::ClientDialect;
/// assert_eq!(ClientDialect::parse("drf", None).unwrap(), ClientDialect::Drf);
/// assert_eq!(
///     ClientDialect::parse("keytoken", Some("web")).unwrap(),
///     ClientDialect::Keytoken { client: "web".into() }
/// );
/// assert!(ClientDialect::parse("keytoken", None).is_err()); // needs a client id
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientDialect {
    /// Ours: `POST /auth/login`, `POST /auth/refresh` (rotated), `Bearer`.
    Standard,
    /// ecHome: form login, refresh with the (maybe expired) access token as
    /// `Bearer` and `refresh=` in the body, as the ecHome SDK does.
    Echome,
    /// datarhei Core: JSON login, `GET /api/login/refresh` with the refresh
    /// token as `Bearer`.
    Datarhei,
    /// Sachet: one token, renewed by `POST /users/extend` while it lives.
    Sachet,
    /// Kent Hack Enough: opaque `key`/`token`/`refresh`, sent as `Basic
    /// key:token`, for one configured client id.
    Keytoken {
        /// The `client` id every request names.
        client: String,
    },
    /// django-rest-framework-jwt: `Token` scheme, `refresh_token/` while the
    /// token lives.
    Drf,
}

/// The dialect names [`ClientDialect::parse`] knows.
pub const CLIENT_DIALECTS: &[&str] = &["standard", "echome", "datarhei", "sachet", "keytoken", "drf"];

impl ClientDialect {
    /// The dialect called `name` ([`CLIENT_DIALECTS`]); keytoken needs its
    /// client id.
    pub fn parse(name: &str, client: Option<&str>) -> Result<Self, AgentError> {
        Ok(match name {
            "standard" => Self::Standard,
            "echome" => Self::Echome,
            "datarhei" => Self::Datarhei,
            "sachet" => Self::Sachet,
            "drf" => Self::Drf,
            "keytoken" => match client {
                Some(c) if !c.is_empty() => Self::Keytoken { client: c.to_owned() },
                _ => return Err(AgentError::Config("the keytoken dialect needs a client id".into())),
            },
            other => {
                return Err(AgentError::Config(format!(
                    "unknown dialect `{other}` (expected one of {})",
                    CLIENT_DIALECTS.join(", ")
                )));
            }
        })
    }

    /// The dialect's name (`"standard"`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Echome => "echome",
            Self::Datarhei => "datarhei",
            Self::Sachet => "sachet",
            Self::Keytoken { .. } => "keytoken",
            Self::Drf => "drf",
        }
    }

    /// The server side of this dialect, whose routes the client calls.
    fn server(&self) -> Box<dyn Dialect> {
        match self {
            Self::Standard => Box::new(Standard),
            Self::Echome => Box::new(Echome),
            Self::Datarhei => Box::new(Datarhei::default()),
            Self::Sachet => Box::new(Sachet),
            Self::Keytoken { client } => Box::new(Keytoken::new([client.clone()])),
            Self::Drf => Box::new(Drf),
        }
    }

    /// Renewing needs an access token the server still accepts (Sachet's
    /// extend, drf's refresh): once it is dead, only a login helps.
    pub(crate) fn renews_live_access_only(&self) -> bool {
        matches!(self, Self::Sachet | Self::Drf)
    }

    /// Renewing needs a refresh token (every dialect but Sachet and drf).
    pub(crate) fn renews_with_refresh_token(&self) -> bool {
        !self.renews_live_access_only()
    }
}

/// One request the client sends on its own (a login or a refresh), in
/// plain terms an adapter turns into its HTTP library's request.
///
/// Its `Debug` never shows the body or the `Authorization` value.
#[derive(Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The method, upper case.
    pub method: &'static str,
    /// The absolute URL.
    pub url: String,
    /// The `Authorization` value, when the request carries one.
    pub authorization: Option<String>,
    /// The body's `Content-Type`, when there is a body.
    pub content_type: Option<&'static str>,
    /// The body (empty for none).
    pub body: Vec<u8>,
    /// The device token of an earlier login, for a login to send in the
    /// `Device-Token` header: the server's login throttle then knows this
    /// client logged in as this user before (an attacker guessing the
    /// password elsewhere cannot slow it down).
    pub device_token: Option<String>,
}

impl std::fmt::Debug for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("authorization", &self.authorization.as_ref().map(|_| "<redacted>"))
            .field("content_type", &self.content_type)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("device_token", &self.device_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The server's answer to an [`Exchange`]: the status, the body (an
/// adapter reads at most [`MAX_REPLY_LEN`] bytes of it) and the
/// `Device-Token` header a successful login carries.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// The `Device-Token` response header, if any.
    pub device_token: Option<String>,
}

impl Reply {
    /// An answer with this status and body and no device token.
    ///
    /// ```
    /// let reply = auth_core::agent::Reply::new(200, b"{}".to_vec());
    /// assert!(reply.device_token.is_none());
    /// ```
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Self { status, body, device_token: None }
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Reply {{ status: {}, body: <{} bytes>, device_token: {} }}",
            self.status,
            self.body.len(),
            if self.device_token.is_some() { "<redacted>" } else { "None" }
        )
    }
}

/// The most bytes of a login or refresh answer an adapter reads.
pub const MAX_REPLY_LEN: usize = 64 * 1024;

/// Which answer is being read (for error messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Login,
    Refresh,
}

impl Step {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Refresh => "refresh",
        }
    }
}

/// How a dialect's answer says when the access token expires.
enum Expiry {
    /// Seconds from now (`expires_in: 3600`).
    Seconds(&'static str),
    /// An ISO-8601 time (`expires: "2026-...Z"`).
    Iso8601(&'static str),
    /// Only the JWT's own `exp`.
    Jwt,
}

/// A dialect's routes resolved against one base URL.
#[derive(Debug, Clone)]
pub(crate) struct Wire {
    pub(crate) dialect: ClientDialect,
    scheme: Scheme,
    login: (&'static str, String),
    renew: Option<(&'static str, String)>,
}

impl Wire {
    /// `base` is the server's URL up to where the dialect's routes are
    /// mounted minus the mount (`http://host:port` or `http://host/prefix`);
    /// `mount` overrides the dialect's default mount point.
    pub(crate) fn new(dialect: ClientDialect, base: &str, mount: Option<&str>) -> Self {
        let server = dialect.server();
        let mount = mount.unwrap_or_else(|| server.default_mount()).trim_end_matches('/').to_owned();
        let at = |action: Action| {
            server
                .routes()
                .iter()
                .find(|r| r.action == action)
                .map(|r| (r.method, format!("{base}{mount}{}", r.path)))
        };
        let login = at(Action::Login).unwrap_or(("POST", format!("{base}{mount}/login")));
        let renew = at(Action::Refresh).or_else(|| at(Action::Extend));
        Self { scheme: server.scheme(), dialect, login, renew }
    }

    /// The `Authorization` value protected requests carry.
    pub(crate) fn authorization(&self, tokens: &Tokens) -> String {
        let creds = match (self.scheme, &tokens.key) {
            (Scheme::Basic, Some(key)) => {
                Credentials::Basic { user: key.clone(), password: tokens.access.clone() }
            }
            (Scheme::Token, _) => Credentials::Token(tokens.access.clone()),
            _ => Credentials::Bearer(tokens.access.clone()),
        };
        creds.header_value()
    }

    /// The login request.
    pub(crate) fn login(&self, username: &str, password: &str) -> Exchange {
        let (method, url) = self.login.clone();
        let body = match &self.dialect {
            // The ecHome SDK posts a form (`requests.post(data=...)`).
            ClientDialect::Echome => {
                return form(method, url, None, &[("username", username), ("password", password)]);
            }
            ClientDialect::Keytoken { client } => {
                json!({"client": client, "email": username, "password": password})
            }
            _ => json!({"username": username, "password": password}),
        };
        json_exchange(method, url, None, &body)
    }

    /// The request that renews `tokens`, if this dialect has one and the
    /// tokens carry what it needs.
    pub(crate) fn renew(&self, tokens: &Tokens) -> Option<Exchange> {
        let (method, url) = self.renew.clone()?;
        let bearer = |t: &str| Some(Credentials::Bearer(t.to_owned()).header_value());
        let refresh = tokens.refresh.as_deref();
        Some(match &self.dialect {
            ClientDialect::Standard => json_exchange(method, url, None, &json!({"refresh_token": refresh?})),
            // The real API and its SDK: the access token (expired or not) as
            // Bearer, the refresh token as a form field.
            ClientDialect::Echome => form(method, url, bearer(&tokens.access), &[("refresh", refresh?)]),
            ClientDialect::Datarhei => Exchange {
                method,
                url,
                authorization: bearer(refresh?),
                content_type: None,
                body: Vec::new(),
                device_token: None,
            },
            ClientDialect::Sachet => Exchange {
                method,
                url,
                authorization: bearer(&tokens.access),
                content_type: None,
                body: Vec::new(),
                device_token: None,
            },
            ClientDialect::Keytoken { client } => json_exchange(
                method,
                url,
                None,
                &json!({"client": client, "key": tokens.key.as_deref()?, "refresh": refresh?}),
            ),
            ClientDialect::Drf => json_exchange(method, url, None, &json!({"token": tokens.access})),
        })
    }

    /// Reads a 200 answer of a login (`previous` is `None`) or a renewal.
    pub(crate) fn read(
        &self,
        step: Step,
        body: &[u8],
        previous: Option<&Tokens>,
        now_ms: u64,
    ) -> Result<Tokens, AgentError> {
        let bad = |why: &str| AgentError::BadReply {
            step: step.as_str(),
            dialect: self.dialect.name(),
            why: why.into(),
        };
        let value: Value = serde_json::from_slice(body).map_err(|_| bad("not a JSON object"))?;
        let field =
            |name: &str| value.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        let (access_fields, refresh_field, expiry): (&[&str], Option<&str>, Expiry) = match self.dialect {
            ClientDialect::Standard => {
                (&["access_token"], Some("refresh_token"), Expiry::Seconds("expires_in"))
            }
            ClientDialect::Echome => (&["access"], Some("refresh"), Expiry::Jwt),
            ClientDialect::Datarhei => (&["access_token"], Some("refresh_token"), Expiry::Jwt),
            ClientDialect::Sachet => (&["auth_token"], None, Expiry::Jwt),
            ClientDialect::Keytoken { .. } => (&["token"], Some("refresh"), Expiry::Iso8601("expires")),
            ClientDialect::Drf => (&["access_token", "token"], None, Expiry::Iso8601("expires_in")),
        };
        let access = access_fields.iter().find_map(|f| field(f)).ok_or_else(|| bad("no access token"))?;
        // A refresh that does not rotate keeps the refresh token (and the
        // key) it was given.
        let refresh = refresh_field.and_then(field).or_else(|| previous.and_then(|p| p.refresh.clone()));
        if self.dialect.renews_with_refresh_token() && refresh.is_none() {
            return Err(bad("no refresh token"));
        }
        let key = match self.dialect {
            ClientDialect::Keytoken { .. } => Some(field("key").ok_or_else(|| bad("no key"))?),
            _ => None,
        };
        let expires_at_ms = match expiry {
            Expiry::Seconds(name) => value
                .get(name)
                .and_then(Value::as_f64)
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| now_ms.saturating_add((s * 1000.0) as u64)),
            Expiry::Iso8601(name) => field(name).and_then(|t| iso8601_ms(&t)),
            Expiry::Jwt => None,
        };
        Ok(Tokens::received(access, refresh, key, expires_at_ms, now_ms))
    }
}

fn json_exchange(method: &'static str, url: String, authorization: Option<String>, body: &Value) -> Exchange {
    Exchange {
        method,
        url,
        authorization,
        content_type: Some("application/json"),
        body: body.to_string().into_bytes(),
        device_token: None,
    }
}

fn form(
    method: &'static str,
    url: String,
    authorization: Option<String>,
    fields: &[(&str, &str)],
) -> Exchange {
    let body = serde_urlencoded::to_string(fields).unwrap_or_default().into_bytes();
    Exchange {
        method,
        url,
        authorization,
        content_type: Some("application/x-www-form-urlencoded"),
        body,
        device_token: None,
    }
}

/// An RFC 3339 time (`2026-11-25T10:00:00.000Z`, with or without the `Z`
/// and fractions) as Unix milliseconds.
fn iso8601_ms(text: &str) -> Option<u64> {
    let time = humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()?;
    time.duration_since(std::time::UNIX_EPOCH).ok().and_then(|d| u64::try_from(d.as_millis()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_times_are_read_with_or_without_fractions() {
        assert_eq!(iso8601_ms("1970-01-01T00:00:02.500Z"), Some(2500));
        assert_eq!(iso8601_ms("1970-01-01T00:00:02Z"), Some(2000));
        assert_eq!(iso8601_ms("yesterday"), None);
    }

    #[test]
    fn paths_come_from_the_server_route_tables() {
        let wire = Wire::new(ClientDialect::Datarhei, "http://h:1", None);
        assert_eq!(wire.login, ("POST", "http://h:1/api/login".to_owned()));
        assert_eq!(wire.renew, Some(("GET", "http://h:1/api/login/refresh".to_owned())));
        let wire = Wire::new(ClientDialect::Sachet, "http://h:1", Some("/v2/users/"));
        assert_eq!(wire.renew, Some(("POST", "http://h:1/v2/users/extend".to_owned())));
    }

    #[test]
    fn a_reply_without_tokens_is_a_bad_reply_that_names_no_secret() {
        let wire = Wire::new(ClientDialect::Standard, "http://h", None);
        let err = wire.read(Step::Login, br#"{"access_token":"sekrit-token"}"#, None, 0).unwrap_err();
        assert!(matches!(err, AgentError::BadReply { .. }), "{err}");
        assert!(!err.to_string().contains("sekrit"));
        assert!(wire.read(Step::Login, b"<html>", None, 0).is_err());
    }
}
