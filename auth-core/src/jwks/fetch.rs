//! Fetching a JWKS (or an OIDC discovery document) over HTTP, bounded in
//! time and size, and turning it into keys.

use std::collections::HashMap;
use std::time::Duration;

use super::config::JwksOptions;
use super::transport;
use crate::keys::{Algorithm, JwtKey};

/// Why a fetch failed (logged, never shown to clients).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request failed: {0}")]
    Http(String),
    /// A redirect the policy refused (to plain `http`, too many, ...).
    #[error("redirect refused: {0}")]
    Redirect(String),
    #[error("answered {0}")]
    Status(u16),
    #[error("document larger than {0} bytes")]
    TooLarge(usize),
    #[error("not a JWKS or discovery document: {0}")]
    Invalid(String),
}

impl From<reqwest::Error> for FetchError {
    fn from(err: reqwest::Error) -> Self {
        // reqwest's own message leaves out the cause (the refused
        // redirect, the refused connection): add the chain.
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        if err.is_redirect() { Self::Redirect(text) } else { Self::Http(text) }
    }
}

/// A fetched key set and how long it is fresh: per `kid`, one key per
/// algorithm it verifies with ([`JwtKey::from_jwk_for`]).
pub(crate) struct Fetched {
    pub(crate) keys: HashMap<String, Vec<JwtKey>>,
    pub(crate) max_age: Duration,
}

/// GETs `url` and reads at most `max` bytes of a 200 answer.
async fn get(
    client: &reqwest::Client,
    url: &str,
    max: usize,
) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
    let mut res = client.get(url).header("accept", "application/json").send().await?;
    if res.status() != reqwest::StatusCode::OK {
        return Err(FetchError::Status(res.status().as_u16()));
    }
    if res.content_length().is_some_and(|len| len > max as u64) {
        return Err(FetchError::TooLarge(max));
    }
    let max_age = res.headers().get("cache-control").and_then(|v| v.to_str().ok()).and_then(max_age);
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        if body.len().saturating_add(chunk.len()) > max {
            return Err(FetchError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, max_age))
}

/// `max-age` from a `Cache-Control` value; `no-cache`/`no-store` count as 0
/// (clamped up to the minimum by the caller).
fn max_age(value: &str) -> Option<Duration> {
    let mut age = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            age = secs.trim_matches('"').parse::<u64>().ok().map(Duration::from_secs);
        }
    }
    age
}

/// The discovery document's URL for `issuer`.
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// The `jwks_uri` of `issuer`'s discovery document, whose `issuer` must be
/// `issuer` exactly; the URL must pass the same transport rule as a
/// configured one.
pub(crate) async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    options: &JwksOptions,
) -> Result<String, FetchError> {
    let url = discovery_url(issuer);
    let (body, _) = get(client, &url, options.max_document).await?;
    let doc: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| FetchError::Invalid(e.to_string()))?;
    if doc["issuer"].as_str() != Some(issuer) {
        return Err(FetchError::Invalid("its `issuer` is not the configured issuer".into()));
    }
    let jwks_uri = doc["jwks_uri"].as_str().ok_or_else(|| FetchError::Invalid("no `jwks_uri`".into()))?;
    transport::check("the discovered jwks_uri", jwks_uri, options.allow_insecure_http)
        .map_err(FetchError::Invalid)?;
    Ok(jwks_uri.to_owned())
}

/// Fetches and parses the JWKS at `url`, for an issuer that allows
/// `allowed` algorithms. Keys that cannot verify signatures (`use: enc`,
/// `oct` secrets, unknown types, no `kid`, no allowed algorithm fitting a
/// key published without `alg`) are skipped, not fatal: providers publish
/// those too.
pub(crate) async fn jwks(
    client: &reqwest::Client,
    url: &str,
    allowed: &[Algorithm],
    options: &JwksOptions,
) -> Result<Fetched, FetchError> {
    let (body, age) = get(client, url, options.max_document).await?;
    let doc: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| FetchError::Invalid(e.to_string()))?;
    let entries = doc["keys"].as_array().ok_or_else(|| FetchError::Invalid("no `keys` array".into()))?;
    let mut keys: HashMap<String, Vec<JwtKey>> = HashMap::new();
    let mut kept = 0;
    for entry in entries {
        if kept >= options.max_keys {
            break;
        }
        if entry.get("use").is_some_and(|u| u != "sig") || entry.get("kid").and_then(|k| k.as_str()).is_none()
        {
            continue;
        }
        let Ok(jwk) = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(entry.clone()) else { continue };
        let Ok(usable) = JwtKey::from_jwk_for(&jwk, allowed) else { continue };
        kept += 1;
        for key in usable {
            let same_kid = keys.entry(key.kid().to_owned()).or_default();
            // Two JWKs with one kid: the first keeps each algorithm.
            if !same_kid.iter().any(|k| k.algorithm() == key.algorithm()) {
                same_kid.push(key);
            }
        }
    }
    // Not `clamp`, which panics when the bounds are crossed: the options
    // are checked when the verifier is built, and this never panics anyway.
    let max_age = age.unwrap_or(options.default_max_age).max(options.min_max_age).min(options.max_max_age);
    Ok(Fetched { keys, max_age })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(max_age("max-age=\"60\", must-revalidate"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
