//! Whether a login tells an unknown user from a wrong password by its time.
//!
//! A [`UserStore`] written the way the `UserStore` documentation shows
//! (a map of users, [`verify_password_hash_or_dummy`] on the global
//! hashing pool) answers, side by side in one run:
//!
//! - `login_timing/unknown_user`: a username it does not have;
//! - `login_timing/wrong_password`: a user it has, with a wrong password;
//! - `login_timing/right_password`: the same user, the right password
//!   (for reference).
//!
//! The first two must be the same within criterion's noise: the unknown
//! user is checked against a dummy hash with `hash_password`'s parameters.
//! Criterion measures one after the other, so a machine whose load changes
//! in between (the hashing threads run at the lowest priority: any other
//! work delays them) can tell them apart by 10-20%, in either order; at the
//! end, `login_timing/paired` measures the two in alternation and prints
//! their medians and ratio, the number to read.
//!
//! `cargo bench -p auth-core --bench login_timing` (add `-- --quick` for a
//! short run); results in BENCHMARKS.md.

#![allow(missing_docs)] // criterion_group! generates undocumented functions

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use auth_core::{Principal, UserStore, UserStoreError, hash_password, verify_password_hash_or_dummy};
use criterion::{Criterion, criterion_group, criterion_main};

/// Users by canonical username, with their hashes: the smallest store
/// written with the helpers.
struct MapUsers(HashMap<String, (Principal, String)>);

#[auth_core::async_trait]
impl UserStore for MapUsers {
    async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Principal>, UserStoreError> {
        let user = self.0.get(&self.canonical_username(username));
        let ok = verify_password_hash_or_dummy(user.map(|(_, phc)| phc.as_str()), password).await?;
        Ok(user.filter(|_| ok).map(|(principal, _)| principal.clone()))
    }

    async fn load(&self, id: &str) -> Result<Option<Principal>, UserStoreError> {
        Ok(self.0.values().map(|(principal, _)| principal).find(|p| p.id == id).cloned())
    }
}

/// The median of `n` answers of each of `a` and `b`, taken in alternation
/// (`a b b a a b...`), so that whatever else the machine does meanwhile
/// (the hashing threads run at the lowest priority) weighs on both alike.
fn paired(n: usize, a: impl Fn(), b: impl Fn()) -> (Duration, Duration) {
    let time = |f: &dyn Fn()| {
        let start = Instant::now();
        f();
        start.elapsed()
    };
    let (mut ta, mut tb) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        if i % 2 == 0 {
            ta.push(time(&a));
            tb.push(time(&b));
        } else {
            tb.push(time(&b));
            ta.push(time(&a));
        }
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    (median(ta), median(tb))
}

fn login_timing(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let phc = hash_password("s3cret").expect("hash");
    let users = MapUsers(HashMap::from([("alice".to_owned(), (Principal::new("1", "alice"), phc))]));
    let login = |username: &str, password: &str, logs_in: bool| {
        let answer = rt.block_on(users.verify_password(black_box(username), black_box(password)));
        assert_eq!(answer.expect("answers").is_some(), logs_in);
    };
    let unknown_user = || login("nobody", "s3cret", false);
    let wrong_password = || login("alice", "s3creT", false);
    let mut group = c.benchmark_group("login_timing");
    group.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    group.bench_function("unknown_user", |b| b.iter(unknown_user));
    group.bench_function("wrong_password", |b| b.iter(wrong_password));
    group.bench_function("right_password", |b| b.iter(|| login("alice", "s3cret", true)));
    group.finish();
    // (`cargo bench` passes `--bench`; `cargo test --benches` runs each benchmark once, without it)
    if std::env::args().any(|arg| arg == "--bench") {
        let pairs = 100;
        let (unknown, wrong) = paired(pairs, unknown_user, wrong_password);
        println!(
            "login_timing/paired: {pairs} alternating pairs, medians: unknown_user {:.2} ms, \
             wrong_password {:.2} ms, ratio unknown/wrong {:.3}",
            unknown.as_secs_f64() * 1e3,
            wrong.as_secs_f64() * 1e3,
            unknown.as_secs_f64() / wrong.as_secs_f64()
        );
    }
}

criterion_group!(benches, login_timing);
criterion_main!(benches);
