//! Unit tests across modules: hostile tokens, the authority's flows and the
//! route engine. Shared fixtures live here, once.

mod cache;
mod flows;
#[cfg(feature = "metrics")]
mod operations;
mod props;
mod routes;
mod throttle;
mod tokens;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;

use crate::{Algorithm, Authority, AuthorityConfig, JwtKey, KeySet, MemoryUsers, Principal};

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
    KeySet::new(JwtKey::hs256("k1", SECRET).expect("valid test key")).expect("a signing key")
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

/// A [`MemoryStore`](crate::MemoryStore) that can be switched off: every
/// call then fails as a backend that cannot be reached.
#[derive(Clone)]
pub(crate) struct Outage {
    pub(crate) inner: crate::MemoryStore,
    /// Calls left before the store goes down (`usize::MAX`: never).
    calls_left: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Default for Outage {
    fn default() -> Self {
        Self { inner: crate::MemoryStore::new(), calls_left: std::sync::Arc::new(usize::MAX.into()) }
    }
}

impl Outage {
    /// Answers `calls` more calls, then fails every one.
    pub(crate) fn down_after(&self, calls: usize) {
        self.calls_left.store(calls, std::sync::atomic::Ordering::SeqCst);
    }

    fn up(&self) -> Result<&crate::MemoryStore, crate::StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let left = self.calls_left.fetch_update(SeqCst, SeqCst, |n| Some(n.saturating_sub(1)));
        if left == Ok(0) {
            Err(crate::StoreError::Backend("connection refused".into()))
        } else {
            Ok(&self.inner)
        }
    }
}

#[async_trait::async_trait]
impl crate::Store for Outage {
    async fn revoke_token(&self, jti: &str, expires_at: i64, now: i64) -> Result<(), crate::StoreError> {
        self.up()?.revoke_token(jti, expires_at, now).await
    }
    async fn revoke_subject(
        &self,
        sub: &str,
        cutoff: i64,
        keep: i64,
        now: i64,
    ) -> Result<(), crate::StoreError> {
        self.up()?.revoke_subject(sub, cutoff, keep, now).await
    }
    async fn is_revoked(&self, token: &crate::TokenRef<'_>, now: i64) -> Result<bool, crate::StoreError> {
        self.up()?.is_revoked(token, now).await
    }
    async fn create_family(
        &self,
        family: &str,
        jti: &str,
        exp: i64,
        now: i64,
    ) -> Result<(), crate::StoreError> {
        self.up()?.create_family(family, jti, exp, now).await
    }
    async fn rotate_family(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        grace: i64,
        exp: i64,
        now: i64,
    ) -> Result<crate::Rotation, crate::StoreError> {
        self.up()?.rotate_family(family, presented, next, grace, exp, now).await
    }
    async fn family_is_current(&self, family: &str, jti: &str, now: i64) -> Result<bool, crate::StoreError> {
        self.up()?.family_is_current(family, jti, now).await
    }
    async fn extend_family(&self, family: &str, exp: i64, now: i64) -> Result<bool, crate::StoreError> {
        self.up()?.extend_family(family, exp, now).await
    }
    async fn revoke_family(&self, family: &str, now: i64) -> Result<(), crate::StoreError> {
        self.up()?.revoke_family(family, now).await
    }
    async fn put_opaque(
        &self,
        key: &str,
        record: crate::OpaqueRecord,
        now: i64,
    ) -> Result<(), crate::StoreError> {
        self.up()?.put_opaque(key, record, now).await
    }
    async fn get_opaque(
        &self,
        key: &str,
        now: i64,
    ) -> Result<Option<crate::OpaqueRecord>, crate::StoreError> {
        self.up()?.get_opaque(key, now).await
    }
    async fn rotate_opaque(
        &self,
        key: &str,
        hash: &[u8; 32],
        next: crate::OpaqueRecord,
        grace: i64,
        now: i64,
    ) -> Result<crate::OpaqueRotation, crate::StoreError> {
        self.up()?.rotate_opaque(key, hash, next, grace, now).await
    }
    async fn delete_opaque(&self, key: &str, now: i64) -> Result<bool, crate::StoreError> {
        self.up()?.delete_opaque(key, now).await
    }
    async fn count_attempt(
        &self,
        key: &str,
        rule: &crate::AttemptRule,
        now: i64,
    ) -> Result<crate::Attempt, crate::StoreError> {
        self.up()?.count_attempt(key, rule, now).await
    }
    async fn take_back_attempt(
        &self,
        key: &str,
        rule: &crate::AttemptRule,
        now: i64,
    ) -> Result<(), crate::StoreError> {
        self.up()?.take_back_attempt(key, rule, now).await
    }
    async fn attempts(&self, key: &str, now: i64) -> Result<u32, crate::StoreError> {
        self.up()?.attempts(key, now).await
    }
    async fn clear_attempts(&self, key: &str, now: i64) -> Result<(), crate::StoreError> {
        self.up()?.clear_attempts(key, now).await
    }
}

/// Counts `WARN` events and keeps their fields' text.
#[derive(Clone, Default)]
pub(crate) struct Warnings(pub(crate) std::sync::Arc<std::sync::Mutex<Vec<String>>>);

struct FieldText(String);

impl tracing::field::Visit for FieldText {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={value:?} ", field.name()));
    }
}

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = FieldText(String::new());
            event.record(&mut text);
            self.0.lock().expect("warnings").push(text.0);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
