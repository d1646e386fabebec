//! What a route looks like on the wire, as data: the request fields it
//! reads, the answers it gives and their JSON shapes.
//!
//! Each dialect's route table carries one [`RouteDoc`] per route
//! ([`Route::doc`](crate::Route::doc)), beside the method and path the
//! engine routes by, and each dialect says what its error envelope looks
//! like ([`Dialect::error_shape`](crate::Dialect::error_shape)). The
//! `openapi` feature turns these into an OpenAPI document
//! ([`RouteSet::openapi`](crate::RouteSet::openapi)); the crate's own tests
//! hold every dialect's real answers to them with [`Shape::admits`].
//!
//! ```
//! use auth_core::describe::{Prop, Shape};
//! const TOKEN: Shape = Shape::Object(&[Prop::required("token", Shape::Str), Prop::optional("exp", Shape::Int)]);
//! assert!(TOKEN.admits(&serde_json::json!({"token": "abc"})).is_ok());
//! assert_eq!(
//!     TOKEN.admits(&serde_json::json!({"token": 1})).unwrap_err(),
//!     "$.token: expected a string, found 1"
//! );
//! ```

use serde_json::Value;

/// The JSON shape of a body or of one of its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Shape {
    /// Any string.
    Str,
    /// A string in RFC 3339 date-time form (`2015-04-29T13:29:25.000Z`).
    DateTime,
    /// A whole number.
    Int,
    /// `true` or `false`.
    Bool,
    /// Exactly this string.
    Const(&'static str),
    /// Exactly this boolean.
    ConstBool(bool),
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// A user id: a whole number when it is numeric, else a string.
    Id,
    /// An array of this.
    Array(&'static Shape),
    /// An object with exactly these members (the required ones always, the
    /// optional ones sometimes, no others).
    Object(&'static [Prop]),
    /// An object whose member names vary (a form's field names), each
    /// member of this shape.
    Map(&'static Shape),
    /// Any one of these.
    AnyOf(&'static [Shape]),
    /// This, or `null`.
    Nullable(&'static Shape),
    /// Any JSON value.
    Any,
}

/// One member of an [`Shape::Object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prop {
    /// The member's name.
    pub name: &'static str,
    /// Its shape.
    pub shape: Shape,
    /// Whether every answer has it.
    pub required: bool,
}

impl Prop {
    /// A member every answer has.
    pub const fn required(name: &'static str, shape: Shape) -> Self {
        Self { name, shape, required: true }
    }

    /// A member some answers have.
    pub const fn optional(name: &'static str, shape: Shape) -> Self {
        Self { name, shape, required: false }
    }
}

impl Shape {
    /// Whether `value` has this shape; the error names the first place
    /// where it does not (`$.user.id: ...`).
    ///
    /// ```
    /// use auth_core::describe::Shape;
    /// assert!(Shape::Id.admits(&serde_json::json!(7)).is_ok());
    /// assert!(Shape::Id.admits(&serde_json::json!("a7")).is_ok());
    /// assert!(Shape::Id.admits(&serde_json::json!(true)).is_err());
    /// ```
    pub fn admits(&self, value: &Value) -> Result<(), String> {
        self.check("$", value)
    }

    fn check(&self, at: &str, value: &Value) -> Result<(), String> {
        let fail = |expected: &str| Err(format!("{at}: expected {expected}, found {value}"));
        match (self, value) {
            (Self::Any, _)
            | (Self::Str, Value::String(_))
            | (Self::Bool, Value::Bool(_))
            | (Self::Id, Value::String(_))
            | (Self::Nullable(_), Value::Null) => Ok(()),
            (Self::Int | Self::Id, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(()),
            (Self::DateTime, Value::String(s)) if humantime::parse_rfc3339(s).is_ok() => Ok(()),
            (Self::Const(c), Value::String(s)) if s == c => Ok(()),
            (Self::ConstBool(b), Value::Bool(v)) if b == v => Ok(()),
            (Self::Enum(values), Value::String(s)) if values.contains(&s.as_str()) => Ok(()),
            (Self::Nullable(inner), _) => inner.check(at, value),
            (Self::Array(item), Value::Array(items)) => {
                items.iter().enumerate().try_for_each(|(i, v)| item.check(&format!("{at}[{i}]"), v))
            }
            (Self::Map(item), Value::Object(members)) => {
                members.iter().try_for_each(|(k, v)| item.check(&format!("{at}.{k}"), v))
            }
            (Self::Object(props), Value::Object(members)) => {
                for prop in *props {
                    match members.get(prop.name) {
                        Some(v) => prop.shape.check(&format!("{at}.{}", prop.name), v)?,
                        None if prop.required => return Err(format!("{at}: missing member `{}`", prop.name)),
                        None => {}
                    }
                }
                match members.keys().find(|k| !props.iter().any(|p| p.name == k.as_str())) {
                    Some(extra) => Err(format!("{at}: undocumented member `{extra}`")),
                    None => Ok(()),
                }
            }
            (Self::AnyOf(shapes), _) => {
                if shapes.iter().any(|s| s.check(at, value).is_ok()) {
                    Ok(())
                } else {
                    fail("one of the documented shapes")
                }
            }
            (Self::Str, _) => fail("a string"),
            (Self::DateTime, _) => fail("an RFC 3339 date-time"),
            (Self::Int, _) => fail("a whole number"),
            (Self::Bool, _) => fail("a boolean"),
            (Self::Const(c), _) => fail(&format!("\"{c}\"")),
            (Self::ConstBool(b), _) => fail(&b.to_string()),
            (Self::Enum(values), _) => fail(&format!("one of {values:?}")),
            (Self::Id, _) => fail("a number or a string"),
            (Self::Array(_), _) => fail("an array"),
            (Self::Map(_) | Self::Object(_), _) => fail("an object"),
        }
    }
}

/// The error envelope most APIs use and the core renders by default:
/// `{"error": string, "error_description": string}`.
pub const OAUTH_ERROR: Shape =
    Shape::Object(&[Prop::required("error", Shape::Str), Prop::required("error_description", Shape::Str)]);

/// Where a route takes its credential from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// No credential (an `Authorization` header is ignored).
    None,
    /// `Authorization` in the dialect's scheme, required.
    Required,
    /// `Authorization` in the dialect's scheme, if present (a present but
    /// refused one is still refused).
    Optional,
    /// Cookie mode's refresh cookie, and its session's `X-CSRF-Token`.
    RefreshCookie,
    /// `Authorization` in the dialect's scheme, or else cookie mode's
    /// access cookie and its session's `X-CSRF-Token`.
    HeaderOrAccessCookie,
}

/// One field of a request body. Every field is a string, in a JSON object
/// or a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: &'static str,
    /// Whether a request without it (or with it empty) is refused.
    pub required: bool,
    /// What it carries.
    pub about: &'static str,
}

impl Field {
    /// A field the route refuses to do without (absent or empty: 400).
    pub const fn required(name: &'static str, about: &'static str) -> Self {
        Self { name, required: true, about }
    }

    /// A field the route reads if present.
    pub const fn optional(name: &'static str, about: &'static str) -> Self {
        Self { name, required: false, about }
    }
}

/// One response header a route documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderDoc {
    /// Its name.
    pub name: &'static str,
    /// Whether every such answer carries it.
    pub required: bool,
    /// What it carries.
    pub about: &'static str,
}

impl HeaderDoc {
    /// A header.
    pub const fn new(name: &'static str, required: bool, about: &'static str) -> Self {
        Self { name, required, about }
    }
}

/// A successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Its status.
    pub status: u16,
    /// What it means.
    pub about: &'static str,
    /// Its JSON body (`None`: no body).
    pub body: Option<Shape>,
    /// Headers beyond the ones every answer of a route set carries.
    pub headers: &'static [HeaderDoc],
}

impl Reply {
    /// A JSON answer.
    pub const fn json(status: u16, about: &'static str, body: Shape) -> Self {
        Self { status, about, body: Some(body), headers: &[] }
    }

    /// An answer without a body.
    pub const fn empty(status: u16, about: &'static str) -> Self {
        Self { status, about, body: None, headers: &[] }
    }

    /// With these headers.
    pub const fn headers(mut self, headers: &'static [HeaderDoc]) -> Self {
        self.headers = headers;
        self
    }
}

/// What one route does on the wire.
///
/// ```
/// use auth_core::describe::{Credential, Field, Reply, RouteDoc, Shape};
/// const PING: RouteDoc = RouteDoc::new("Checks a token", Credential::Required)
///     .body(&[Field::optional("note", "anything")])
///     .replies(&[Reply::json(200, "the token is live", Shape::Object(&[]))])
///     .errors(&[503]);
/// assert_eq!(PING.error_statuses(), vec![400, 401, 413, 415, 503]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteDoc {
    /// One line: what the route is for.
    pub summary: &'static str,
    /// More, if there is more to say.
    pub description: &'static str,
    /// Where its credential comes from.
    pub credential: Credential,
    /// The body's fields (`None`: it reads no body).
    pub body: Option<&'static [Field]>,
    /// Its successful answers.
    pub replies: &'static [Reply],
    /// The error statuses the route's own logic answers (a refused
    /// password, a revoked token, a throttle, a store outage...), in the
    /// dialect's envelope. The ones the engine adds are implied: 400, 413
    /// and 415 for any route (the engine reads whatever body a request
    /// brings, before the route), 400 and 401 for one that takes a
    /// credential ([`error_statuses`](Self::error_statuses)).
    pub errors: &'static [u16],
    /// Whether the route also logs in with an identity provider's token as
    /// `Authorization: Bearer` (and then no body fields) when the authority
    /// has one ([`AuthorityBuilder::external_identity`](crate::AuthorityBuilder::external_identity)).
    pub external_login: bool,
}

impl RouteDoc {
    /// A route with a summary and a credential; no body, no answers yet.
    pub const fn new(summary: &'static str, credential: Credential) -> Self {
        Self {
            summary,
            description: "",
            credential,
            body: None,
            replies: &[],
            errors: &[],
            external_login: false,
        }
    }

    /// Also taking an identity provider's token, when the authority has one.
    pub const fn external_login(mut self) -> Self {
        self.external_login = true;
        self
    }

    /// With a longer description.
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// Reading these body fields.
    pub const fn body(mut self, fields: &'static [Field]) -> Self {
        self.body = Some(fields);
        self
    }

    /// Answering these on success.
    pub const fn replies(mut self, replies: &'static [Reply]) -> Self {
        self.replies = replies;
        self
    }

    /// And these errors of its own.
    pub const fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }

    /// Every error status the route can answer, sorted: its own and the
    /// engine's.
    pub fn error_statuses(&self) -> Vec<u16> {
        let mut statuses = self.errors.to_vec();
        // Any request may bring a body, and the engine reads it before the
        // route does: malformed 400, too large 413, of another type 415.
        statuses.extend([400, 413, 415]);
        match self.credential {
            Credential::None => {}
            Credential::RefreshCookie => statuses.push(401),
            Credential::Required | Credential::Optional | Credential::HeaderOrAccessCookie => {
                statuses.extend([400, 401]);
            }
        }
        statuses.sort_unstable();
        statuses.dedup();
        statuses
    }
}

/// The headers every answer of a route set carries.
pub const NO_STORE_HEADERS: &[HeaderDoc] = &[
    HeaderDoc::new("Cache-Control", true, "`no-store`: tokens and errors are never cached"),
    HeaderDoc::new("Pragma", true, "`no-cache`, for HTTP/1.0 caches"),
];

/// The header of a `429` or `503`.
pub const RETRY_AFTER: HeaderDoc = HeaderDoc::new("Retry-After", true, "Seconds to wait before trying again");

/// The header of a `401`.
pub const WWW_AUTHENTICATE: HeaderDoc = HeaderDoc::new(
    "WWW-Authenticate",
    true,
    "The challenge: the scheme expected, and why the credential was refused",
);

/// The extra headers an error status carries.
pub fn error_headers(status: u16) -> &'static [HeaderDoc] {
    match status {
        401 => std::slice::from_ref(&WWW_AUTHENTICATE),
        429 | 503 => std::slice::from_ref(&RETRY_AFTER),
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_are_exact() {
        const S: Shape = Shape::Object(&[Prop::required("a", Shape::Int), Prop::optional("b", Shape::Bool)]);
        assert!(S.admits(&json!({"a": 1})).is_ok());
        assert!(S.admits(&json!({"a": 1, "b": true})).is_ok());
        assert_eq!(S.admits(&json!({"b": true})).unwrap_err(), "$: missing member `a`");
        assert_eq!(S.admits(&json!({"a": 1, "c": 2})).unwrap_err(), "$: undocumented member `c`");
        assert_eq!(S.admits(&json!({"a": 1.5})).unwrap_err(), "$.a: expected a whole number, found 1.5");
    }

    #[test]
    fn the_other_shapes() {
        assert!(Shape::DateTime.admits(&json!("2015-04-29T13:29:25.000Z")).is_ok());
        assert!(Shape::DateTime.admits(&json!("yesterday")).is_err());
        assert!(Shape::Const("Bearer").admits(&json!("Bearer")).is_ok());
        assert!(Shape::Const("Bearer").admits(&json!("bearer")).is_err());
        assert!(Shape::ConstBool(false).admits(&json!(true)).is_err());
        assert!(Shape::Enum(&["a", "b"]).admits(&json!("b")).is_ok());
        assert!(Shape::Enum(&["a", "b"]).admits(&json!("c")).is_err());
        assert!(Shape::Array(&Shape::Str).admits(&json!(["x", "y"])).is_ok());
        assert_eq!(
            Shape::Array(&Shape::Str).admits(&json!(["x", 1])).unwrap_err(),
            "$[1]: expected a string, found 1"
        );
        assert!(Shape::Map(&Shape::Array(&Shape::Str)).admits(&json!({"f": ["required"]})).is_ok());
        assert!(Shape::Nullable(&Shape::Str).admits(&json!(null)).is_ok());
        assert!(Shape::AnyOf(&[Shape::Int, Shape::Str]).admits(&json!(true)).is_err());
        assert!(OAUTH_ERROR.admits(&crate::AuthError::NotFound.body()).is_ok());
    }

    #[test]
    fn the_engine_adds_its_statuses() {
        let doc = RouteDoc::new("x", Credential::None);
        assert_eq!(doc.error_statuses(), vec![400, 413, 415], "whatever body a request brings");
        assert_eq!(doc.body(&[]).errors(&[429, 503]).error_statuses(), vec![400, 413, 415, 429, 503]);
        assert_eq!(RouteDoc::new("x", Credential::Optional).error_statuses(), vec![400, 401, 413, 415]);
    }
}
