//! Reading request bodies as JSON or `application/x-www-form-urlencoded`.

use crate::error::AuthError;

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
    /// Parses `bytes` by `content_type`. Without a content type, a body
    /// starting with `{` is JSON and anything else a form. A JSON body must be
    /// an object; an empty body has no fields; other types answer 415.
    pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Self, AuthError> {
        let mime = content_type
            .map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty());
        let is_json = match mime.as_deref() {
            Some("application/json") => true,
            Some(m) if m.starts_with("application/") && m.ends_with("+json") => true,
            Some("application/x-www-form-urlencoded") => false,
            Some(_) if bytes.is_empty() => return Ok(Self::default()),
            Some(_) => return Err(AuthError::UnsupportedMediaType),
            None => bytes.trim_ascii_start().first() == Some(&b'{'),
        };
        if bytes.trim_ascii().is_empty() {
            return Ok(Self::default());
        }
        if is_json {
            match serde_json::from_slice(bytes) {
                Ok(serde_json::Value::Object(fields)) => Ok(Self { fields }),
                Ok(_) => Err(AuthError::InvalidRequest("the request body must be a JSON object".into())),
                Err(_) => Err(AuthError::InvalidRequest("the request body is not valid JSON".into())),
            }
        } else {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes)
                .map_err(|_| AuthError::InvalidRequest("the request body is not a valid form".into()))?;
            let fields = pairs.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
            Ok(Self { fields })
        }
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
    fn form_decodes_percent_and_plus() {
        let body = Body::parse(Some("application/x-www-form-urlencoded"), b"p=a%26b+c").unwrap();
        assert_eq!(body.require("p").unwrap(), "a&b c");
    }
}
