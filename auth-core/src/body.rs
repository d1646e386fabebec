//! Reading request bodies as JSON or `application/x-www-form-urlencoded`.

use crate::error::AuthError;
use crate::strict_json::StrictValue;

/// Whether a body that is not JSON reads like `name=value&...`.
fn looks_like_form(bytes: &[u8]) -> bool {
    let first = bytes.trim_ascii_start().first();
    first.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') && bytes.contains(&b'=')
}

/// The top-level fields of a request body, whichever encoding it came in.
///
/// ```
/// use auth_core::Body;
/// let json = Body::parse(Some("application/json"), br#"{"username":"a","password":"b"}"#).unwrap();
/// let form = Body::parse(Some("application/x-www-form-urlencoded"), b"username=a&password=b").unwrap();
/// assert_eq!(json.require("username").unwrap(), form.require("username").unwrap());
/// assert_eq!(form.require("email").unwrap_err().status(), 400);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    fields: serde_json::Map<String, serde_json::Value>,
}

impl Body {
    /// Parses `bytes` by `content_type`: JSON for `application/json` (and
    /// `+json` types), a form for `application/x-www-form-urlencoded`.
    /// A body that contradicts its content type (JSON sent as a form, or a
    /// form sent as JSON) is a 400 that says so. Only without a content type
    /// is the body sniffed: starting with `{` it is JSON, else a form. A
    /// JSON body must be an object; a member name given twice (a form field
    /// too) is a 400 naming it; an empty body has no fields; other content
    /// types answer 415.
    ///
    /// ```
    /// use auth_core::Body;
    /// let err = Body::parse(Some("application/json"), br#"{"username":"a","username":"b"}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "duplicate field `username`");
    /// let err = Body::parse(Some("application/x-www-form-urlencoded"), br#"{"username":"a"}"#).unwrap_err();
    /// assert_eq!(err.status(), 400);
    /// ```
    pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Self, AuthError> {
        let mime = content_type
            .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty());
        let first = bytes.trim_ascii_start().first().copied();
        let is_json = match mime.as_deref() {
            Some("application/json") => true,
            Some(m) if m.starts_with("application/") && m.ends_with("+json") => true,
            Some("application/x-www-form-urlencoded") => false,
            Some(_) if bytes.is_empty() => return Ok(Self::default()),
            Some(_) => return Err(AuthError::UnsupportedMediaType),
            None => first == Some(b'{'),
        };
        if first.is_none() {
            return Ok(Self::default());
        }
        if is_json { Self::parse_json(bytes) } else { Self::parse_form(bytes, first) }
    }

    fn parse_json(bytes: &[u8]) -> Result<Self, AuthError> {
        let invalid = |m: &str| AuthError::InvalidRequest(m.to_owned());
        match serde_json::from_slice::<StrictValue>(bytes) {
            Ok(StrictValue(serde_json::Value::Object(fields))) => Ok(Self { fields }),
            Ok(_) => Err(invalid("the request body must be a JSON object")),
            // The only data error a StrictValue raises: a duplicate member.
            Err(e) if e.classify() == serde_json::error::Category::Data => {
                let text = e.to_string();
                let message = text.split(" at line ").next().unwrap_or(&text);
                Err(invalid(message))
            }
            Err(_) if looks_like_form(bytes) => {
                Err(invalid("the content type says JSON but the request body is a form"))
            }
            Err(_) => Err(invalid("the request body is not valid JSON")),
        }
    }

    fn parse_form(bytes: &[u8], first: Option<u8>) -> Result<Self, AuthError> {
        if matches!(first, Some(b'{' | b'[')) {
            return Err(AuthError::InvalidRequest(
                "the content type says form but the request body is JSON".into(),
            ));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
            .map_err(|_| AuthError::InvalidRequest("the request body is not a valid form".into()))?;
        let mut fields = serde_json::Map::new();
        for (name, value) in pairs {
            if fields.contains_key(&name) {
                return Err(AuthError::InvalidRequest(format!("duplicate field `{name}`")));
            }
            fields.insert(name, serde_json::Value::String(value));
        }
        Ok(Self { fields })
    }

    /// A string field; `Ok(None)` if absent or null, 400 if of another type.
    pub fn get(&self, name: &str) -> Result<Option<&str>, AuthError> {
        match self.fields.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(AuthError::InvalidRequest(format!("field `{name}` must be a string"))),
        }
    }

    /// A required, non-empty string field; 400 naming the field otherwise.
    pub fn require(&self, name: &str) -> Result<&str, AuthError> {
        match self.get(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(AuthError::MissingField(name.to_owned())),
        }
    }

    /// Whether the body has a field of this name (of any type).
    pub fn has(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_without_content_type() {
        assert_eq!(Body::parse(None, br#" {"a":"1"}"#).unwrap().require("a").unwrap(), "1");
        assert_eq!(Body::parse(None, b"a=1").unwrap().require("a").unwrap(), "1");
        assert_eq!(
            Body::parse(Some("application/json; charset=utf-8"), br#"{"a":"1"}"#).unwrap().get("a").unwrap(),
            Some("1")
        );
    }

    #[test]
    fn rejects_bad_bodies_with_exact_statuses() {
        let cases: &[(Option<&str>, &[u8], u16)] = &[
            (Some("application/json"), b"{not json", 400),
            (Some("application/json"), b"[1,2]", 400),
            (Some("text/plain"), b"username=a", 415),
            (Some("multipart/form-data; boundary=x"), b"--x", 415),
        ];
        for (ct, body, status) in cases {
            assert_eq!(Body::parse(*ct, body).unwrap_err().status(), *status, "{ct:?}");
        }
        let body = Body::parse(Some("application/json"), br#"{"a":1,"b":""}"#).unwrap();
        assert_eq!(body.get("a").unwrap_err().to_string(), "field `a` must be a string");
        assert_eq!(body.require("b").unwrap_err().to_string(), "missing field `b`");
    }

    #[test]
    fn duplicates_and_contradicted_content_types_are_refused() {
        let form = Some("application/x-www-form-urlencoded");
        let json = Some("application/json");
        let cases: &[(Option<&str>, &[u8], &str)] = &[
            (json, br#"{"username":"a","password":"x","username":"b"}"#, "duplicate field `username`"),
            (json, br#"{"a":{"b":1,"b":2}}"#, "duplicate field `b`"),
            (form, b"username=a&password=x&password=y", "duplicate field `password`"),
            (None, b"password=x&password=y", "duplicate field `password`"),
            (None, br#"{"password":"x","password":"y"}"#, "duplicate field `password`"),
            (
                form,
                br#"{"username":"a","password":"x"}"#,
                "the content type says form but the request body is JSON",
            ),
            (form, br#" [1]"#, "the content type says form but the request body is JSON"),
            (json, b"username=a&password=x", "the content type says JSON but the request body is a form"),
        ];
        for (ct, body, message) in cases {
            let err = Body::parse(*ct, body).expect_err(message);
            assert_eq!((err.status(), err.to_string().as_str()), (400, *message), "{ct:?}");
        }
    }

    #[test]
    fn form_decodes_percent_and_plus() {
        let body = Body::parse(Some("application/x-www-form-urlencoded"), b"p=a%26b+c").unwrap();
        assert_eq!(body.require("p").unwrap(), "a&b c");
    }
}
