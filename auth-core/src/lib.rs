//! Framework-neutral token authentication.
//!
//! `auth-core` decides everything about authenticating HTTP requests with
//! JSON Web Tokens and serving login, refresh, verify, extend and logout,
//! without depending on any web framework: the `auth-tower` and
//! `auth-actix` crates only translate between their framework and the plain
//! [`AuthRequest`] / [`AuthResponse`] types here.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use auth_core::{AuthRequest, Authority, AuthGuard, MemoryUsers, Principal, RouteSet, Standard};
//!
//! let users = MemoryUsers::new();
//! users.add_user(Principal::new("1", "alice").with_role("admin"), "s3cret").await.unwrap();
//! let authority = Authority::hs256([42u8; 32]).unwrap().users(users).build();
//!
//! // the login route, as an adapter would call it
//! let routes = RouteSet::new(authority.clone(), Standard);
//! let res = routes
//!     .handle(AuthRequest::new("POST", "/login").with_body(r#"{"username":"alice","password":"s3cret"}"#))
//!     .await;
//! assert_eq!(res.status, 200);
//! let token = res.json_body().unwrap()["access_token"].as_str().unwrap().to_owned();
//!
//! // a protected resource, as a middleware would check it
//! let guard = AuthGuard::new(authority);
//! let identity = guard.check(Some(format!("Bearer {token}").as_bytes())).await.unwrap().unwrap();
//! assert_eq!(identity.username(), "alice");
//! # })
//! ```
//!
//! Most applications use it through an adapter, `auth-tower` (axum) or
//! `auth-actix`, whose `prelude` re-exports what a quickstart needs:
//! [`Authority::hs256`], [`MemoryUsers`], [`Principal`], [`UserStore`] and
//! its password helpers, [`role!`].
//!
//! Features:
//!
//! | feature | what it adds |
//! |---|---|
//! | `rust_crypto` (default) | JWT crypto from the RustCrypto crates (pure Rust) |
//! | `aws_lc_rs` | JWT crypto from aws-lc-rs (needed to sign with RSA keys) |
//! | `redis` | `RedisStore`: state shared by many instances |
//! | `postgres`, `sqlite` | `SqlStore` on the application's sqlx pool |
//! | `jwks` | `jwks::JwksVerifier`: logins with an identity provider's tokens |
//! | `agent` | `agent`: the client side (log in, attach, refresh single-flight) |
//! | `store-tests` | `store_tests::run`: the contract suite a [`Store`] backend runs in its own tests |
//! | `openapi` | [`RouteSet::openapi`] and [`AuthGuard::openapi`]: OpenAPI 3.1 descriptions of the routes, on `utoipa` |
//! | `metrics` | counters, gauges and histograms through the `metrics` facade ([`metrics`] lists them) |
//!
//! Audit events (logins, refreshes, reuse detections, logouts, revocations,
//! throttle refusals, key rotations) are `tracing` events on the target
//! `tokenauth::audit`, always on: [`audit`] lists them.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(not(any(feature = "rust_crypto", feature = "aws_lc_rs")))]
compile_error!("auth-core needs a JWT crypto backend: enable `rust_crypto` (default) or `aws_lc_rs`");

#[cfg(feature = "agent")]
pub mod agent;
pub mod audit;
mod authority;
mod body;
mod cache;
mod check;
mod claims;
mod client;
mod cookies;
mod crypto;
pub mod describe;
mod device;
mod dialect;
mod error;
mod external;
pub mod grpc;
mod guard;
mod hashing;
mod header;
mod id;
#[cfg(feature = "jwks")]
pub mod jwks;
mod jwt;
mod keys;
mod maybe;
pub mod metrics;
mod observe;
mod opaque;
#[cfg(feature = "openapi")]
pub mod openapi;
mod places;
mod response;
mod role;
mod routes;
mod scheme;
mod store;
mod strict_json;
mod throttle;
mod time;
mod users;

#[cfg(test)]
mod tests;

/// The attribute [`UserStore`] and [`Store`] implementations carry
/// (`#[auth_core::async_trait]`), re-exported so an application needs no
/// `async-trait` dependency of its own.
pub use async_trait::async_trait;
pub use authority::{
    Authority, AuthorityBuilder, AuthorityConfig, BasicCredentials, DEFAULT_REUSE_GRACE, DEFAULT_SESSION_CAP,
    TokenPair,
};
pub use body::Body;
pub use cache::{ENTRY_OVERHEAD, TokenCacheConfig, TokenCacheStats};
pub use check::{Check, CheckResult, PendingCheck};
pub use claims::{Audience, AuthIdentity, ClaimStyle, Claims, IdentityData, TokenUse};
pub use client::{LoginClient, Peer, ProxyListError, TrustedProxies};
pub use cookies::{
    BrowserHeaders, CSRF_HEADER, CookieMode, CsrfRejection, DEFAULT_COOKIE_MOUNT, OriginError, SameSite,
};
pub use device::{DEFAULT_DEVICE_TTL, DEVICE_TOKEN_COOKIE, DEVICE_TOKEN_HEADER, device_token_in};
pub use dialect::{Action, Dialect, Route, RouteContext, Standard};
pub use external::{EXTERNAL_ID_PREFIX, ExternalIdentity, ExternalSubject};
pub use opaque::OpaqueCredentials;

/// The wire formats this crate ships: pick one and mount it with a [`RouteSet`].
pub mod dialects {
    pub use crate::dialect::{
        DATARHEI_APP, DATARHEI_VERSION, Datarhei, Drf, Echome, ExternalIdentity, JWKS_MAX_AGE, Jwks,
        KEYTOKEN_SESSION_CAP, Keytoken, Sachet, Standard,
    };
}
pub use error::{AuthError, TokenRejection, UNAVAILABLE_RETRY_AFTER};
pub use guard::{AuthGuard, DialectErrors, ErrorRenderer, Rejection};
pub use header::{
    AuthorizationHeader, AuthorizationRef, Credentials, HeaderError, MAX_HEADER_LEN, Scheme,
    credentials_among, credentials_of, parse_authorization,
};
pub use jwt::{FORBIDDEN_HEADER_PARAMS, MAX_JTI_LEN, Validation};
pub use keys::{Algorithm, JwtKey, KeyError, KeySet, MIN_HMAC_SECRET_LEN};
pub use maybe::MaybeIdentity;
pub use role::{Role, require_role, require_self_or_role};
/// JSON Web Keys, as `jsonwebtoken` models them ([`JwtKey::public_jwk`],
/// [`KeySet::public_jwks`], [`JwtKey::from_jwk`]).
pub mod jwk {
    pub use jsonwebtoken::jwk::{Jwk, JwkSet};
}
pub use response::{AuthRequest, AuthResponse};
pub use routes::{CookieModeError, DEFAULT_BODY_LIMIT, RouteSet};
#[cfg(any(feature = "redis", feature = "postgres"))]
pub use store::MIRROR_LEASE;
pub use store::{Attempt, AttemptRule, AttemptState};
pub use store::{
    DEFAULT_MAX_ATTEMPT_COUNTERS, MAX_RETIRED_SECRETS, MemoryStore, OpaqueRecord, OpaqueRotation, OutageLog,
    Rotation, Store, StoreError, TokenRef,
};
#[cfg(feature = "redis")]
pub use store::{DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisOptions, RedisStore};
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub use store::{DEFAULT_SQL_PREFIX, DEFAULT_SQL_TIMEOUT, SqlOptions, SqlStore};
pub use throttle::{throttle_key_address, throttle_key_pair, throttle_key_user};
pub use time::{now, parse_duration};

/// The contract every [`Store`] must pass (feature `store-tests`).
#[cfg(feature = "store-tests")]
pub mod store_tests {
    pub use crate::store::contract::run;
    pub use crate::store::test_services::{RedisCluster, RedisServer, RedisTlsServer, postgres_url};
}
pub use users::{
    HashingPool, HashingPriority, MemoryUsers, Principal, Registration, UserStore, UserStoreError,
    hash_password, hash_password_async, is_acceptable_username, password_hash_needs_rehash,
    verify_password_hash, verify_password_hash_or_dummy,
};
