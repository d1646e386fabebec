//! The demo's notes (`--cookies` only): a small protected resource that
//! changes state, so the browser page has an unsafe request to make.
//!
//! `POST /notes` takes `{"text": "..."}` as JSON, or `text=...` as
//! `application/x-www-form-urlencoded` (a plain HTML form post), and
//! appends it to the caller's notes (keyed by the token's `sub`):
//! `201 {"text", "count"}`. `GET /notes` lists them, oldest first:
//! `200 {"notes": [...]}`. Everything here is framework-neutral: the
//! adapters only copy the request in and the [`AuthResponse`] out.
//!
//! ```
//! use demo_app::notes::{Notes, parse_note};
//! let notes = Notes::new();
//! let text = parse_note(Some("application/x-www-form-urlencoded"), b"text=buy+milk").unwrap();
//! assert_eq!(notes.add("1", text), 1);
//! assert_eq!(notes.list("1"), ["buy milk"]);
//! assert!(notes.list("2").is_empty());
//! assert_eq!(parse_note(Some("application/json"), br#"{"text": ""}"#).unwrap_err().status(), 400);
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use auth_core::{AuthError, AuthIdentity, AuthResponse, Body};
use serde_json::json;

/// Where the notes are served.
pub const NOTES_PATH: &str = "/notes";

/// The methods `/notes` answers (others get 405 with this `Allow`).
pub const NOTES_METHODS: &[&str] = &["GET", "HEAD", "POST"];

/// The longest note, in characters (Unicode scalar values).
pub const MAX_NOTE_CHARS: usize = 1000;

/// How many notes a user keeps: adding one more drops the oldest.
pub const MAX_NOTES_PER_USER: usize = 100;

/// The largest `POST /notes` body, in bytes (larger answers 413).
pub const MAX_NOTES_BODY: usize = 16 * 1024;

/// The notes of every user, in memory, at most [`MAX_NOTES_PER_USER`]
/// each. Users are the `sub` of authenticated identities, so their number
/// is bounded by the demo's configured users. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Notes(Arc<Mutex<HashMap<String, VecDeque<String>>>>);

/// Prints how many users have notes, never a note.
impl std::fmt::Debug for Notes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notes").field("users", &self.lock().len()).finish()
    }
}

impl Notes {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<String>>> {
        // A panic while holding the lock cannot leave a map half-updated.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `text` to the notes of `sub`, dropping the oldest beyond
    /// [`MAX_NOTES_PER_USER`]; the number of notes `sub` now has.
    pub fn add(&self, sub: &str, text: String) -> usize {
        let mut all = self.lock();
        let notes = all.entry(sub.to_owned()).or_default();
        notes.push_back(text);
        while notes.len() > MAX_NOTES_PER_USER {
            notes.pop_front();
        }
        notes.len()
    }

    /// The notes of `sub`, oldest first.
    pub fn list(&self, sub: &str) -> Vec<String> {
        self.lock().get(sub).map(|notes| notes.iter().cloned().collect()).unwrap_or_default()
    }

    /// `POST /notes` for `identity` once the body is read:
    /// `201 {"text", "count"}`, or the error [`parse_note`] found.
    pub fn post(&self, identity: &AuthIdentity, content_type: Option<&str>, body: &[u8]) -> AuthResponse {
        match parse_note(content_type, body) {
            Ok(text) => {
                let count = self.add(identity.sub(), text.clone());
                AuthResponse::json(201, &json!({"text": text, "count": count}))
            }
            Err(err) => error_response(&err),
        }
    }

    /// `GET /notes` for `identity`: `200 {"notes": [...]}`, oldest first.
    pub fn get(&self, identity: &AuthIdentity) -> AuthResponse {
        AuthResponse::json(200, &json!({"notes": self.list(identity.sub())}))
    }
}

/// The note in a `POST /notes` body: the string field `text` of a JSON
/// object or a form, not empty, at most [`MAX_NOTE_CHARS`] characters.
/// Errors: 413 for a body over [`MAX_NOTES_BODY`], 415 for a content type
/// other than JSON or a form, 400 `invalid_request` for anything else
/// (the body is not valid JSON or form, `text` is missing, not a string,
/// empty or too long), with the same messages as the auth routes.
pub fn parse_note(content_type: Option<&str>, body: &[u8]) -> Result<String, AuthError> {
    if body.len() > MAX_NOTES_BODY {
        return Err(AuthError::PayloadTooLarge);
    }
    let mime = content_type.map(|ct| ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let supported = |mime: &str| {
        mime.is_empty()
            || mime == "application/json"
            || mime == "application/x-www-form-urlencoded"
            || (mime.starts_with("application/") && mime.ends_with("+json"))
    };
    if mime.as_deref().is_some_and(|m| !supported(m)) {
        // Body::parse lets an empty body of any type through: not here.
        return Err(AuthError::UnsupportedMediaType);
    }
    let fields = Body::parse(content_type, body)?;
    match fields.get("text")? {
        None => Err(AuthError::MissingField("text".into())),
        Some("") => Err(AuthError::InvalidRequest("field `text` must not be empty".into())),
        Some(text) if text.chars().count() > MAX_NOTE_CHARS => Err(AuthError::InvalidRequest(format!(
            "field `text` must be at most {MAX_NOTE_CHARS} characters"
        ))),
        Some(text) => Ok(text.to_owned()),
    }
}

/// What a `/notes` request whose declared `Content-Length` (raw header
/// value) is over [`MAX_NOTES_BODY`] answers at once, before any body is read.
pub fn declared_too_large(content_length: Option<&[u8]>) -> Option<AuthResponse> {
    let declared = content_length.and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok());
    declared
        .is_some_and(|len| len > MAX_NOTES_BODY as u64)
        .then(|| error_response(&AuthError::PayloadTooLarge))
}

/// The answer to a body that could not be read: 413 when it was over the
/// limit, 400 otherwise.
pub fn unreadable_body(too_large: bool) -> AuthResponse {
    error_response(&if too_large {
        AuthError::PayloadTooLarge
    } else {
        AuthError::InvalidRequest("the request body could not be read".into())
    })
}

/// `err` as the notes routes answer it: its status and
/// `{"error", "error_description"}` (the standard dialect's envelope; a
/// bad note is not a credential problem, so no `WWW-Authenticate`).
pub fn error_response(err: &AuthError) -> AuthResponse {
    AuthResponse::json(err.status(), &err.body())
}

#[cfg(test)]
mod tests {
    use super::*;

    const JSON: Option<&str> = Some("application/json");
    const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

    fn refused(content_type: Option<&str>, body: &[u8]) -> (u16, String) {
        let err = parse_note(content_type, body).expect_err("refused");
        let res = error_response(&err);
        let body = res.json_body().expect("a JSON error");
        if res.status != 413 && res.status != 415 {
            assert_eq!(body["error"], "invalid_request");
        }
        (res.status, body["error_description"].as_str().unwrap_or_default().to_owned())
    }

    #[test]
    fn json_and_form_bodies_carry_the_text() {
        assert_eq!(parse_note(JSON, br#"{"text": "hello"}"#).unwrap(), "hello");
        assert_eq!(
            parse_note(Some("application/json; charset=utf-8"), br#"{"text":"h\u00e9"}"#).unwrap(),
            "hé"
        );
        assert_eq!(parse_note(FORM, b"text=a%26b+c").unwrap(), "a&b c");
        assert_eq!(parse_note(None, br#"{"text":"sniffed"}"#).unwrap(), "sniffed");
        assert_eq!(parse_note(None, b"text=sniffed").unwrap(), "sniffed");
        // other fields are ignored
        assert_eq!(parse_note(JSON, br#"{"text":"x","extra":1}"#).unwrap(), "x");
    }

    #[test]
    fn missing_empty_or_mistyped_text_is_a_400() {
        assert_eq!(refused(JSON, br#"{}"#), (400, "missing field `text`".into()));
        assert_eq!(refused(JSON, br#"{"text": null}"#), (400, "missing field `text`".into()));
        assert_eq!(refused(JSON, b""), (400, "missing field `text`".into()));
        assert_eq!(refused(FORM, b"other=1"), (400, "missing field `text`".into()));
        assert_eq!(refused(JSON, br#"{"text": ""}"#), (400, "field `text` must not be empty".into()));
        assert_eq!(refused(FORM, b"text="), (400, "field `text` must not be empty".into()));
        assert_eq!(refused(JSON, br#"{"text": 5}"#), (400, "field `text` must be a string".into()));
        assert_eq!(refused(JSON, br#"{"text": ["a"]}"#), (400, "field `text` must be a string".into()));
        assert_eq!(refused(JSON, br#"{"text": "a", "text": "b"}"#), (400, "duplicate field `text`".into()));
    }

    #[test]
    fn bodies_that_are_not_json_or_a_form_are_refused() {
        assert_eq!(refused(JSON, b"{not json"), (400, "the request body is not valid JSON".into()));
        assert_eq!(refused(JSON, b"[1]"), (400, "the request body must be a JSON object".into()));
        assert_eq!(
            refused(FORM, br#"{"text":"x"}"#),
            (400, "the content type says form but the request body is JSON".into())
        );
        assert_eq!(refused(Some("text/plain"), b"text=x").0, 415);
        assert_eq!(refused(Some("text/plain"), b"").0, 415);
        assert_eq!(refused(Some("multipart/form-data; boundary=x"), b"--x").0, 415);
    }

    #[test]
    fn text_and_body_lengths_are_capped() {
        let longest = "é".repeat(MAX_NOTE_CHARS);
        let body = serde_json::to_vec(&json!({"text": longest})).unwrap();
        assert_eq!(parse_note(JSON, &body).unwrap().chars().count(), MAX_NOTE_CHARS);
        let too_long = "a".repeat(MAX_NOTE_CHARS + 1);
        let (status, description) = refused(FORM, format!("text={too_long}").as_bytes());
        assert_eq!((status, description.as_str()), (400, "field `text` must be at most 1000 characters"));
        let huge = format!(r#"{{"text":"a","pad":"{}"}}"#, "x".repeat(MAX_NOTES_BODY));
        assert_eq!(refused(JSON, huge.as_bytes()).0, 413);
        assert_eq!(declared_too_large(Some(b"16385")).map(|r| r.status), Some(413));
        assert!(declared_too_large(Some(b"16384")).is_none());
        assert!(declared_too_large(None).is_none());
        assert_eq!(unreadable_body(true).status, 413);
        assert_eq!(unreadable_body(false).status, 400);
    }

    #[test]
    fn each_user_keeps_the_newest_hundred() {
        let notes = Notes::new();
        for i in 0..MAX_NOTES_PER_USER {
            assert_eq!(notes.add("1", format!("n{i}")), i + 1);
        }
        assert_eq!(notes.add("1", "newest".into()), MAX_NOTES_PER_USER);
        let list = notes.list("1");
        assert_eq!(list.len(), MAX_NOTES_PER_USER);
        assert_eq!(list.first().map(String::as_str), Some("n1"), "the oldest was dropped");
        assert_eq!(list.last().map(String::as_str), Some("newest"));
        assert_eq!(notes.add("2", "other user".into()), 1);
        assert_eq!(notes.list("2"), ["other user"]);
    }

    #[test]
    fn the_answers_are_json() {
        let claims = auth_core::Claims { sub: "7".into(), ..auth_core::Claims::default() };
        let identity = AuthIdentity::new(claims, br#"{"sub":"7"}"#.to_vec());
        let notes = Notes::new();
        let res = notes.post(&identity, JSON, br#"{"text":"first"}"#);
        assert_eq!(res.status, 201);
        assert_eq!(res.json_body().unwrap(), json!({"text": "first", "count": 1}));
        assert_eq!(res.header("cache-control"), Some("no-store"));
        assert_eq!(notes.post(&identity, JSON, b"{}").status, 400);
        let res = notes.get(&identity);
        assert_eq!((res.status, res.json_body().unwrap()), (200, json!({"notes": ["first"]})));
    }
}
