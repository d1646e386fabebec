//! `authenticate` of a Bearer HS256 access token (memory store, revocation
//! check included) against the floors: a bare `jsonwebtoken::decode` of the
//! same token and the HMAC-SHA256 over its signing input.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;

use auth_core::{Authority, Credentials, Key, KeySet, Principal, parse_authorization};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

const SECRET: &[u8] = b"benchmark-secret-of-at-least-32-bytes";

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let authority = Authority::builder(KeySet::new(Key::hs256("k1", SECRET).expect("key"))).build();
    let principal = Principal::new("42", "alice").with_role("admin");
    let pair = rt.block_on(authority.issue(&principal)).expect("issue");
    let token = pair.access_token.clone();
    let header = format!("Bearer {token}");
    let credentials = Credentials::Bearer(token.clone());

    let mut group = c.benchmark_group("verify_hs256");
    group.bench_function("auth_core_authenticate", |b| {
        b.iter(|| rt.block_on(authority.authenticate(black_box(&credentials))).expect("valid"))
    });
    let decoding = DecodingKey::from_secret(SECRET);
    let validation = Validation::new(Algorithm::HS256);
    group.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &decoding, &validation)
                .expect("valid")
        })
    });
    let (message, signature) = token.rsplit_once('.').expect("three parts");
    group.bench_function("hmac_sha256_only", |b| {
        b.iter(|| {
            jsonwebtoken::crypto::verify(
                black_box(signature),
                black_box(message.as_bytes()),
                &decoding,
                Algorithm::HS256,
            )
            .expect("verifies")
        })
    });
    group.finish();

    c.bench_function("header_parse_bearer", |b| {
        b.iter(|| parse_authorization(Some(black_box(header.as_bytes()))))
    });
    c.bench_function("issue_pair", |b| {
        b.iter(|| rt.block_on(authority.issue(black_box(&principal))).expect("issue"))
    });
}

criterion_group!(authenticate, benches);
criterion_main!(authenticate);
