//! Unit tests across modules: hostile tokens, the authority's flows and the
//! route engine. Shared fixtures live here, once.

mod flows;
mod props;
mod routes;
mod tokens;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;

use crate::{Algorithm, Authority, AuthorityConfig, Key, KeySet, MemoryUsers, Principal};

pub(crate) const SECRET: &[u8] = b"unit-test-secret-of-at-least-32-bytes";

pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("test runtime")
}

pub(crate) fn users() -> MemoryUsers {
    MemoryUsers::new()
        .with_user(Principal::new("u-alice", "alice").with_role("admin"), "alice-pw")
        .and_then(|u| u.with_user(Principal::new("u-bob", "bob"), "bob-pw"))
        .expect("hashing test users")
}

pub(crate) fn keys() -> KeySet {
    KeySet::new(Key::hs256("k1", SECRET).expect("valid test key")).expect("a signing key")
}

pub(crate) fn authority(config: AuthorityConfig) -> Authority {
    Authority::builder(keys()).users(users()).config(config).build()
}

pub(crate) fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("test fixture {path}: {e}"))
}

pub(crate) fn b64(json: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).expect("json"))
}

/// A token with any header and claims, HMAC-signed with `secret` under `alg`.
pub(crate) fn craft_hmac(
    header: serde_json::Value,
    claims: serde_json::Value,
    secret: &[u8],
    alg: Algorithm,
) -> String {
    let message = format!("{}.{}", b64(&header), b64(&claims));
    let sig =
        jsonwebtoken::crypto::sign(message.as_bytes(), &EncodingKey::from_secret(secret), alg).expect("sign");
    format!("{message}.{sig}")
}

/// Claims of a valid access token at time `now`.
pub(crate) fn access_claims(now: i64) -> serde_json::Value {
    serde_json::json!({"sub": "u-alice", "exp": now + 60, "iat": now, "jti": "j-1", "token_use": "access"})
}

pub(crate) fn header(alg: &str) -> serde_json::Value {
    serde_json::json!({"alg": alg, "typ": "JWT", "kid": "k1"})
}
