//! The client side's per-request cost: `Agent::authorization` when the
//! credential is fresh (a read lock, an expiry check and an `Arc` clone),
//! side by side with its floor, cloning an `Arc<str>` header through the
//! same `block_on`.
//!
//! `cargo bench -p auth-core --features agent --bench agent`; results in
//! BENCHMARKS.md.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::hint::black_box;
use std::sync::Arc;

use auth_core::agent::{Agent, BoxError, ClientDialect, Exchange, Reply, Transport};
use criterion::{Criterion, criterion_group, criterion_main};

/// Answers the one login with a token that lives an hour.
struct Login;

impl Transport for Login {
    async fn send(&self, _: Exchange) -> Result<Reply, BoxError> {
        let body = br#"{"access_token":"header.payload.signature","token_type":"Bearer","expires_in":3600,"refresh_token":"r"}"#;
        Ok(Reply::new(200, body.to_vec()))
    }
}

fn fast_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let agent =
        Agent::builder(ClientDialect::Standard, "http://api.example", "ann", "pw").build().expect("agent");
    rt.block_on(agent.authorization(&Login)).expect("login");
    let mut group = c.benchmark_group("agent");
    group.bench_function("authorization_fresh", |b| {
        b.iter(|| black_box(rt.block_on(agent.authorization(&Login)).expect("credential")))
    });
    let header: Arc<str> = Arc::from("Bearer header.payload.signature");
    group.bench_function("floor_arc_clone", |b| b.iter(|| black_box(rt.block_on(async { header.clone() }))));
    group.finish();
}

criterion_group!(benches, fast_path);
criterion_main!(benches);
