//! The verify path against its floors, measured side by side:
//!
//! - `verify_hs256/*`: `Authority::authenticate` of a Bearer HS256 access
//!   token (memory store, revocation check included) vs a bare
//!   `jsonwebtoken::decode` of the same token vs the HMAC-SHA256 alone;
//!   the same with the principal check on (one `MemoryUsers` lookup), and
//!   for a token carrying four application claims (each checked for
//!   duplicate member names) against `jsonwebtoken::decode` of that token;
//!   `auth_core_authenticate` hits the verified-token cache (the default),
//!   `auth_core_authenticate_uncached` runs with the cache off;
//! - `verify_rust_crypto/*` (or `verify_aws_lc_rs/*` with `--features
//!   aws_lc_rs`): HS256, ES256 and EdDSA, each verified in full, as a
//!   cache hit, and as a middleware's whole per-request check on a hit;
//! - `header_parse_bearer`, `issue_pair`;
//! - `login_argon2id/*`: the route engine's login vs the argon2id hash alone
//!   (the cost of a login is the hash);
//! - `store/*`: `Authority::authenticate` of the same token on every store
//!   the build has: `MemoryStore`; with `redis,store-tests` a `RedisStore`
//!   on a local `redis-server` (`AUTH_TEST_REDIS_URL`, else one started
//!   for the run) and the Redis round trip alone (`PING`); with `sqlite` a
//!   `SqlStore` on a temporary file; with `postgres` and
//!   `AUTH_TEST_POSTGRES_URL` a `SqlStore` on that server.
//!
//! `cargo bench -p auth-core` (add `--features redis,sqlite,postgres,store-tests
//! -- store` for every store); results in BENCHMARKS.md.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use auth_core::{
    AuthGuard, AuthRequest, Authority, AuthorityConfig, AuthorizationRef, BrowserHeaders, Check, CookieMode,
    Credentials, JwtKey, KeySet, MemoryUsers, Peer, Principal, RouteSet, Standard, TokenCacheConfig,
    TokenUse, hash_password, parse_authorization,
};
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use sha2::Sha256;

const SECRET: &[u8] = b"benchmark-secret-of-at-least-32-bytes";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn verify_hs256(c: &mut Criterion) {
    let rt = runtime();
    let authority =
        Authority::builder(KeySet::new(JwtKey::hs256("k1", SECRET).expect("key")).expect("a signing key"))
            .build();
    let principal = Principal::new("42", "alice").with_role("admin");
    let token = rt.block_on(authority.issue(&principal)).expect("issue").access_token;
    let credentials = Credentials::Bearer(token.clone());
    let decoding = DecodingKey::from_secret(SECRET);
    let validation = Validation::new(Algorithm::HS256);
    let (message, signature) = token.rsplit_once('.').expect("three parts");
    let signature = base64_decode(signature);

    let uncached =
        Authority::builder(KeySet::new(JwtKey::hs256("k1", SECRET).expect("key")).expect("a signing key"))
            .config(AuthorityConfig::default().token_cache(TokenCacheConfig::disabled()))
            .build();
    let users = MemoryUsers::new().with_user(principal.clone(), "pw").expect("user");
    let checking =
        Authority::builder(KeySet::new(JwtKey::hs256("k1", SECRET).expect("key")).expect("a signing key"))
            .users(users)
            .config(AuthorityConfig::default().check_principal(true))
            .build();
    let mut rich = principal.clone();
    rich.extra.insert("tenant".into(), "acme-corporation".into());
    rich.extra.insert("plan".into(), "enterprise".into());
    rich.extra.insert("region".into(), "eu-west-1".into());
    rich.extra.insert("features".into(), serde_json::json!(["sso", "audit", "export"]));
    let rich_token = rt.block_on(authority.issue(&rich)).expect("issue").access_token;
    let rich_credentials = Credentials::Bearer(rich_token.clone());

    let mut group = c.benchmark_group("verify_hs256");
    group.bench_function("auth_core_authenticate", |b| {
        b.iter(|| rt.block_on(authority.authenticate(black_box(&credentials))).expect("valid"))
    });
    group.bench_function("auth_core_authenticate_uncached", |b| {
        b.iter(|| rt.block_on(uncached.authenticate(black_box(&credentials))).expect("valid"))
    });
    group.bench_function("auth_core_authenticate_principal_check", |b| {
        b.iter(|| rt.block_on(checking.authenticate(black_box(&credentials))).expect("valid"))
    });
    group.bench_function("auth_core_authenticate_app_claims", |b| {
        b.iter(|| rt.block_on(authority.authenticate(black_box(&rich_credentials))).expect("valid"))
    });
    group.bench_function("jsonwebtoken_decode_app_claims", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&rich_token), &decoding, &validation)
                .expect("valid")
        })
    });
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &decoding, &validation)
                .expect("valid")
        })
    });
    group.bench_function("hmac_sha256_only", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key length");
            mac.update(black_box(message.as_bytes()));
            mac.verify_slice(black_box(&signature)).expect("verifies")
        })
    });
    group.finish();

    let header = format!("Bearer {token}");
    c.bench_function("header_parse_bearer", |b| {
        b.iter(|| parse_authorization(Some(black_box(header.as_bytes()))))
    });
    c.bench_function("issue_pair", |b| {
        b.iter(|| rt.block_on(authority.issue(black_box(&principal))).expect("issue"))
    });
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// Every algorithm's verify path, on the crypto backend this build has:
/// the full verification (no cache), a verified-token cache hit
/// (`verify_access`: lookup and clock checks), and what a middleware runs
/// per request on a hit (`AuthGuard::begin`: header parse, cache, memory-store
/// revocation check), all in one group so the ratios are side by side.
fn verify_cached(c: &mut Criterion) {
    let rt = runtime();
    let backend = if cfg!(feature = "aws_lc_rs") { "aws_lc_rs" } else { "rust_crypto" };
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/");
    let read = |name: &str| std::fs::read(format!("{dir}{name}")).expect("test key fixture");
    let mut group = c.benchmark_group(format!("verify_{backend}"));
    let keys = [
        ("hs256", JwtKey::hs256("k", SECRET).expect("key")),
        (
            "es256",
            JwtKey::pem_pair("k", Algorithm::ES256, &read("ec_private.pem"), &read("ec_public.pem"))
                .expect("fixture key"),
        ),
        (
            "eddsa",
            JwtKey::pem_pair("k", Algorithm::EdDSA, &read("ed_private.pem"), &read("ed_public.pem"))
                .expect("fixture key"),
        ),
    ];
    for (name, key) in keys {
        let authority = Authority::builder(KeySet::new(key).expect("a signing key")).build();
        let principal = Principal::new("42", "alice").with_role("admin");
        let token = rt.block_on(authority.issue(&principal)).expect("issue").access_token;
        let header = format!("Bearer {token}");
        let guard = AuthGuard::new(authority.clone());
        let now = auth_core::now();
        group.bench_function(format!("{name}_uncached"), |b| {
            b.iter(|| authority.verify(black_box(&token), TokenUse::Access, now).expect("valid"))
        });
        group.bench_function(format!("{name}_cache_hit"), |b| {
            b.iter(|| authority.verify_access(black_box(&token), now).expect("valid"))
        });
        group.bench_function(format!("{name}_guard_begin_cached"), |b| {
            b.iter(|| match guard.begin(AuthorizationRef::One(black_box(header.as_bytes())), Peer::default) {
                Check::Ready(Ok(Some(identity))) => identity,
                other => panic!("expected a ready identity: {other:?}"),
            })
        });
    }
    group.finish();
}

/// Cookie mode's cost per request, beside the Bearer path it leaves alone:
/// what the layers call now (`begin_browser`) on a guard without cookie
/// mode, and on one with it, for a `GET` with the access cookie and a
/// `POST` with the cookie, `Origin` and `X-CSRF-Token` (the double-submit
/// check: the payload's `csrf` claim read, the header hashed and compared).
fn cookie_mode(c: &mut Criterion) {
    let rt = runtime();
    let users = MemoryUsers::new();
    rt.block_on(users.add_user(Principal::new("42", "alice").with_role("admin"), "pw")).expect("user");
    let authority = Authority::builder(KeySet::new(JwtKey::hs256("k", SECRET).expect("key")).expect("keys"))
        .users(users)
        .build();
    let mode = CookieMode::new();
    let routes = RouteSet::new(authority.clone(), Standard).cookies(mode.clone()).expect("standard");
    let mut login = AuthRequest::new("POST", "/login").with_body(r#"{"username":"alice","password":"pw"}"#);
    login.browser.origin = Some("https://app.example".into());
    login.browser.host = Some("app.example".into());
    let res = rt.block_on(routes.handle(login));
    let cookie = |name: &str| {
        res.headers.iter().find_map(|(n, v)| {
            (*n == "set-cookie").then(|| v.strip_prefix(&format!("{name}="))?.split(';').next()).flatten()
        })
    };
    let (access, csrf) =
        (cookie(mode.access_cookie()).expect("access"), cookie(mode.csrf_cookie()).expect("csrf"));
    let header = format!("Bearer {access}");
    let plain = AuthGuard::new(authority.clone());
    let cookies = AuthGuard::new(authority).cookies(mode.clone());
    let jar = format!("{}={access}; {}={csrf}", mode.access_cookie(), mode.csrf_cookie());
    let browser = |method: &str| BrowserHeaders {
        cookies: vec![jar.clone()],
        origin: Some("https://app.example".into()),
        fetch_site: Some("same-origin".into()),
        host: Some("app.example".into()),
        csrf_token: (method == "POST").then(|| csrf.to_owned()),
    };
    let ready = |check: Check| match check {
        Check::Ready(Ok(Some(identity))) => identity,
        other => panic!("expected a ready identity: {other:?}"),
    };
    let mut group = c.benchmark_group("cookie_mode");
    group.bench_function("bearer_begin", |b| {
        b.iter(|| ready(plain.begin(AuthorizationRef::One(black_box(header.as_bytes())), Peer::default)))
    });
    group.bench_function("bearer_begin_browser_without_cookie_mode", |b| {
        let bearer = AuthorizationRef::One(header.as_bytes());
        b.iter(|| ready(plain.begin_browser(black_box(bearer), "GET", || browser("GET"), Peer::default)))
    });
    group.bench_function("cookie_get", |b| {
        b.iter(|| {
            ready(cookies.begin_browser(AuthorizationRef::Absent, "GET", || browser("GET"), Peer::default))
        })
    });
    group.bench_function("cookie_post_with_csrf", |b| {
        b.iter(|| {
            ready(cookies.begin_browser(AuthorizationRef::Absent, "POST", || browser("POST"), Peer::default))
        })
    });
    group.finish();
}

fn login(c: &mut Criterion) {
    let rt = runtime();
    let users = MemoryUsers::new().with_user(Principal::new("1", "alice"), "s3cret").expect("user");
    let authority =
        Authority::builder(KeySet::new(JwtKey::hs256("k1", SECRET).expect("key")).expect("a signing key"))
            .users(users)
            .config(AuthorityConfig::default().login_throttle(0, std::time::Duration::from_secs(1)))
            .build();
    let routes = RouteSet::new(authority, Standard);
    let request = AuthRequest::new("POST", "/login")
        .with_content_type("application/json")
        .with_body(r#"{"username":"alice","password":"s3cret"}"#);
    let mut group = c.benchmark_group("login_argon2id");
    group.sample_size(10);
    group.bench_function("route_engine_login", |b| {
        b.iter(|| {
            let res = rt.block_on(routes.handle(black_box(request.clone())));
            assert_eq!(res.status, 200);
        })
    });
    group.bench_function("argon2id_hash_only", |b| {
        b.iter(|| hash_password(black_box("s3cret")).expect("hash"))
    });
    group.finish();
}

/// `authenticate` of one token on every store this build has, side by
/// side; and, for the SQL stores, the statements each check sends.
fn stores(c: &mut Criterion) {
    let rt = runtime();
    let keys = || KeySet::new(JwtKey::hs256("k1", SECRET).expect("key")).expect("a signing key");
    let memory = Authority::builder(keys()).build();
    let principal = Principal::new("42", "alice");
    // One token for all: same keys, and a fresh token is revoked in none.
    let credentials = Credentials::Bearer(rt.block_on(memory.issue(&principal)).expect("issue").access_token);
    #[allow(unused_mut)] // pushed to only when a store feature is on
    let mut on: Vec<(&str, Authority)> = vec![("memory", memory)];
    #[cfg(all(feature = "redis", feature = "store-tests"))]
    let redis = auth_core::store_tests::RedisServer::shared();
    #[cfg(all(feature = "redis", feature = "store-tests"))]
    if let Some(redis) = &redis {
        let options = auth_core::RedisOptions::default().prefix("bench");
        let store = rt.block_on(auth_core::RedisStore::connect_with(redis.url(), options)).expect("redis");
        on.push(("redis", Authority::builder(keys()).store(store).build()));
    }
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    let mut sql: Vec<(&str, auth_core::SqlStore)> = Vec::new();
    #[cfg(feature = "sqlite")]
    let db = std::env::temp_dir().join(format!("tokenauth-bench-{}.db", std::process::id()));
    #[cfg(feature = "sqlite")]
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = rt.block_on(sqlx::SqlitePool::connect_with(options)).expect("sqlite");
        let store = rt.block_on(auth_core::SqlStore::sqlite(pool, Default::default())).expect("store");
        sql.push(("sqlite", store));
    }
    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("AUTH_TEST_POSTGRES_URL") {
        let connect = sqlx::postgres::PgPoolOptions::new().test_before_acquire(false).connect(&url);
        let pool = rt.block_on(connect).expect("postgres");
        let options = auth_core::SqlOptions::default().prefix("bench_");
        sql.push(("postgres", rt.block_on(auth_core::SqlStore::postgres(pool, options)).expect("store")));
    }
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    for (name, store) in &sql {
        let authority = Authority::builder(keys()).store(store.clone()).build();
        let before = store.queries();
        for _ in 0..1000 {
            rt.block_on(authority.authenticate(&credentials)).expect("valid");
        }
        println!("store/{name}: {} statements per authenticate", (store.queries() - before) as f64 / 1000.0);
        on.push((name, authority));
    }
    let mut group = c.benchmark_group("store");
    for (name, authority) in &on {
        group.bench_function(format!("authenticate_{name}"), |b| {
            b.iter(|| rt.block_on(authority.authenticate(black_box(&credentials))).expect("valid"))
        });
    }
    #[cfg(all(feature = "redis", feature = "store-tests"))]
    if let Some(redis) = &redis {
        let client = redis::Client::open(redis.url()).expect("url");
        let mut conn = rt.block_on(client.get_multiplexed_async_connection()).expect("connect");
        group.bench_function("redis_ping_only", |b| {
            b.iter(|| rt.block_on(redis::cmd("PING").query_async::<String>(&mut conn)).expect("pong"))
        });
    }
    group.finish();
    #[cfg(feature = "sqlite")]
    for suffix in ["", "-wal", "-shm", ".tokenauth.lock"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

criterion_group!(benches, verify_hs256, verify_cached, cookie_mode, login, stores);
criterion_main!(benches);
