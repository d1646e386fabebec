//! The demo's OpenAPI document against the tables: every case replayed on
//! either framework is held to the document the same app serves at
//! `GET /openapi.json`. A documented path answers only documented
//! methods (any other: 405); a documented operation answers only the
//! statuses it lists, with the documented content type, every header the
//! document marks required, and a JSON body its schema admits. A route,
//! status, header or member added without its description fails here.

use serde_json::Value;

use crate::harness::{Client, Req, Res};

/// The document an app serves, and its operations.
pub(crate) struct Documented {
    doc: Value,
}

/// The paths of `doc` that `path` matches: itself first, then the
/// templates (`/users/{username}`) whose parameters each take one segment.
fn templates<'d>(doc: &'d Value, path: &str) -> Vec<(&'d str, &'d Value)> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let Some(paths) = doc["paths"].as_object() else { return Vec::new() };
    let mut found: Vec<(&str, &Value)> =
        paths.get_key_value(path).map(|(n, i)| (n.as_str(), i)).into_iter().collect();
    found.extend(paths.iter().filter_map(|(name, item)| {
        let parts: Vec<&str> = name.split('/').collect();
        let matches = name.contains('{')
            && parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s);
        matches.then_some((name.as_str(), item))
    }));
    found
}

/// The operation documented for `method` on `path`: the path itself, or a
/// template it matches, that documents the method. `Err` is the first
/// matching path, when none documents it; `Ok(None)` when nothing matches.
fn operation<'d>(doc: &'d Value, method: &str, path: &str) -> Result<Option<(&'d str, &'d Value)>, &'d str> {
    let method = method.to_ascii_lowercase();
    let found = templates(doc, path);
    if let Some((name, op)) = found.iter().find_map(|(name, item)| Some((*name, item.get(&method)?))) {
        return Ok(Some((name, op)));
    }
    found.first().map_or(Ok(None), |(name, _)| Err(*name))
}

impl Documented {
    /// `GET /openapi.json` of the app behind `client`.
    pub(crate) async fn fetch(client: &Client) -> Result<Self, String> {
        let req = Req {
            method: "GET",
            path: "/openapi.json".into(),
            headers: Vec::new(),
            body: Vec::new(),
            peer: None,
        };
        let res = client(req).await;
        if res.status != 200 {
            return Err(format!("GET /openapi.json answered {}", res.status));
        }
        let doc: Value =
            serde_json::from_slice(&res.body).map_err(|e| format!("/openapi.json is not JSON: {e}"))?;
        if !doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")) {
            return Err(format!("/openapi.json is not OpenAPI 3.1: {}", doc["openapi"]));
        }
        // What this check cannot hold an answer to: a `default` answer
        // (any status) and references (it reads schemas inline).
        let text = doc.to_string();
        for loose in ["\"default\":", "\"$ref\":"] {
            if text.contains(loose) {
                return Err(format!("/openapi.json has a {loose} this check cannot hold answers to"));
            }
        }
        Ok(Self { doc })
    }

    /// What is wrong with `res` as the answer to `method path`, by the document.
    pub(crate) fn check(&self, method: &str, path: &str, res: &Res) -> Result<(), String> {
        let (name, op) = match operation(&self.doc, method, path) {
            Ok(Some(found)) => found,
            // not described: only the app's 404s
            Ok(None) if res.status == 404 => return Ok(()),
            Ok(None) => return Err(format!("{path} is not in the document, yet answered {}", res.status)),
            Err(_) if res.status == 405 => return Ok(()),
            Err(name) => {
                return Err(format!(
                    "{method} is not documented on {name}, yet answered {} (not 405)",
                    res.status
                ));
            }
        };
        let responses = &op["responses"];
        let Some(documented) = responses.get(res.status.to_string()).or_else(|| responses.get("default"))
        else {
            let listed: Vec<&String> = responses.as_object().map(|m| m.keys().collect()).unwrap_or_default();
            return Err(format!(
                "{method} {name} answered {}, which it does not document (it lists {listed:?})",
                res.status
            ));
        };
        let headers = documented["headers"].as_object().cloned().unwrap_or_default();
        for (header, spec) in &headers {
            if spec["required"] == true && res.header(&header.to_ascii_lowercase()).is_none() {
                return Err(format!(
                    "{method} {name} {}: the required header {header} is missing",
                    res.status
                ));
            }
        }
        let Some(content) = documented.get("content").and_then(Value::as_object) else {
            return match res.body.is_empty() {
                true => Ok(()),
                false => Err(format!("{method} {name} {}: a body where none is documented", res.status)),
            };
        };
        let content_type = res.header("content-type").unwrap_or_default();
        let media = content_type.split(';').next().unwrap_or_default().trim();
        let Some(spec) = content.get(media) else {
            let listed: Vec<&String> = content.keys().collect();
            return Err(format!(
                "{method} {name} {}: content type {content_type:?}, documented {listed:?}",
                res.status
            ));
        };
        if media != "application/json" {
            return Ok(());
        }
        let body: Value = serde_json::from_slice(&res.body)
            .map_err(|e| format!("{method} {name} {}: the body is not JSON: {e}", res.status))?;
        let validator =
            jsonschema::draft202012::options().should_validate_formats(true).build(&spec["schema"]).map_err(
                |e| format!("{method} {name} {}: the documented schema does not compile: {e}", res.status),
            )?;
        let errors: Vec<String> =
            validator.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        match errors.is_empty() {
            true => Ok(()),
            false => Err(format!(
                "{method} {name} {}: {body} does not match its schema: {}",
                res.status,
                errors.join("; ")
            )),
        }
    }
}

#[test]
fn a_template_matches_one_segment_and_an_exact_path_wins() {
    let doc = serde_json::json!({"paths": {"/users/{username}": {"get": {"x": 1}}, "/users/login": {"post": {"x": 2}}}});
    let found =
        |method, path| operation(&doc, method, path).map(|o| o.map(|(name, op)| (name, op["x"].clone())));
    assert_eq!(found("GET", "/users/alice"), Ok(Some(("/users/{username}", serde_json::json!(1)))));
    assert_eq!(found("POST", "/users/login"), Ok(Some(("/users/login", serde_json::json!(2)))));
    assert_eq!(
        found("GET", "/users/login"),
        Ok(Some(("/users/{username}", serde_json::json!(1)))),
        "the template serves it"
    );
    assert_eq!(found("DELETE", "/users/login"), Err("/users/login"));
    assert_eq!(found("GET", "/users/"), Ok(None));
    assert_eq!(found("GET", "/users/a/b"), Ok(None));
}
