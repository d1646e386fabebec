//! Telling a developer that argon2 runs unoptimised.
//!
//! `auth-core` is compiled with the application's profile: in a debug
//! build whose profile does not optimise the `argon2` and `blake2` crates
//! every password hash is 10-50x slower (hundreds of milliseconds instead
//! of ~20), which looks like a bug of ours. In debug builds the first few
//! hashes of the process are timed, scaled to the default parameters'
//! work, and when even the fastest of them is slower than
//! [`UNOPTIMISED_BOUND`] one warning says how to fix the profile. Release
//! builds time nothing.

#![cfg_attr(not(debug_assertions), allow(dead_code))]

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// What a measured time is scaled to: the work of one default hash.
use super::argon::REFERENCE_COST;

/// A hash cheaper than this is not timed: scaled up, its time is noise.
const MIN_TIMED_COST: u64 = REFERENCE_COST / 4;

/// How many hashes are timed; the fastest decides (one slow hash on a
/// loaded machine is not a diagnosis).
const SAMPLES: u32 = 3;

/// A hash with the default parameters slower than this means argon2 runs
/// unoptimised: optimised, it takes about 20 ms on a current core;
/// unoptimised, 200 ms to over a second. Generous: it decides a log line.
pub(crate) const UNOPTIMISED_BOUND: Duration = Duration::from_millis(250);

/// The warning, with the fix.
const HINT: &str = "password hashing runs unoptimised: this is a debug build whose profile does not \
optimise argon2, so every hash (each login, each new password) takes 10-50x longer than in a release \
build. Add these lines to the Cargo.toml at the root of your workspace (release builds are not \
affected):

[profile.dev.package.argon2]
opt-level = 3
[profile.dev.package.blake2]
opt-level = 3
";

/// The warning to log when a hash with the default parameters took
/// `elapsed`: `Some` when that is slower than [`UNOPTIMISED_BOUND`].
pub(crate) fn unoptimised_hint(elapsed: Duration) -> Option<&'static str> {
    (elapsed > UNOPTIMISED_BOUND).then_some(HINT)
}

/// `elapsed`, measured for a hash of `cost` block passes, scaled to
/// [`REFERENCE_COST`]; `None` for a hash too cheap to tell
/// ([`MIN_TIMED_COST`]).
fn scaled(elapsed: Duration, cost: u64) -> Option<Duration> {
    if cost < MIN_TIMED_COST {
        return None;
    }
    let nanos = elapsed.as_nanos().saturating_mul(u128::from(REFERENCE_COST)) / u128::from(cost);
    Some(Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)))
}

/// The first [`SAMPLES`] timings of the process.
struct Sampler {
    seen: AtomicU32,
    fastest_nanos: AtomicU64,
}

impl Sampler {
    const fn new() -> Self {
        Self { seen: AtomicU32::new(0), fastest_nanos: AtomicU64::new(u64::MAX) }
    }

    /// Whether every sample is in (nothing more to time).
    fn is_done(&self) -> bool {
        self.seen.load(Ordering::Acquire) >= SAMPLES
    }

    /// Records one timing; answers the fastest of the first [`SAMPLES`]
    /// once, to the caller that records the last of them.
    fn record(&self, elapsed: Duration) -> Option<Duration> {
        if self.is_done() {
            return None;
        }
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.fastest_nanos.fetch_min(nanos, Ordering::AcqRel);
        // After the minimum: whoever counts the last sample sees them all.
        let seen = self.seen.fetch_add(1, Ordering::AcqRel) + 1;
        (seen == SAMPLES).then(|| Duration::from_nanos(self.fastest_nanos.load(Ordering::Acquire)))
    }
}

/// Runs one argon2 computation of `cost` block passes; in a debug build,
/// one of the first few is timed and the process warns once if argon2
/// turns out to run unoptimised.
#[cfg(debug_assertions)]
pub(super) fn timed<T>(cost: u64, f: impl FnOnce() -> T) -> T {
    static SAMPLER: Sampler = Sampler::new();
    if cost < MIN_TIMED_COST || SAMPLER.is_done() {
        return f();
    }
    let start = std::time::Instant::now();
    let out = f();
    let fastest = scaled(start.elapsed(), cost).and_then(|t| SAMPLER.record(t));
    if let Some((fastest, hint)) = fastest.and_then(|t| unoptimised_hint(t).map(|hint| (t, hint))) {
        tracing::warn!(fastest_ms = u64::try_from(fastest.as_millis()).unwrap_or(u64::MAX), "{hint}");
    }
    out
}

/// Runs one argon2 computation (release build: untimed).
#[cfg(not(debug_assertions))]
#[inline(always)]
pub(super) fn timed<T>(_cost: u64, f: impl FnOnce() -> T) -> T {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_hash_gets_the_hint_with_the_fix_and_a_fast_one_none() {
        assert_eq!(unoptimised_hint(Duration::from_millis(20)), None);
        assert_eq!(unoptimised_hint(UNOPTIMISED_BOUND), None);
        let hint = unoptimised_hint(Duration::from_millis(900)).expect("a hint");
        assert!(hint.contains("[profile.dev.package.argon2]\nopt-level = 3\n"), "{hint}");
        assert!(hint.contains("[profile.dev.package.blake2]\nopt-level = 3\n"), "{hint}");
    }

    #[test]
    fn timings_are_scaled_to_the_default_parameters() {
        let ms = Duration::from_millis;
        assert_eq!(scaled(ms(100), REFERENCE_COST), Some(ms(100)));
        // a hash twice as costly is half as slow per unit of work
        assert_eq!(scaled(ms(100), REFERENCE_COST * 2), Some(ms(50)));
        assert_eq!(scaled(ms(100), REFERENCE_COST / 2), Some(ms(200)));
        assert_eq!(scaled(ms(100), MIN_TIMED_COST - 1), None, "too cheap to tell");
    }

    #[test]
    fn the_fastest_of_the_first_samples_decides_once() {
        let sampler = Sampler::new();
        let ms = Duration::from_millis;
        assert_eq!(sampler.record(ms(900)), None);
        assert_eq!(sampler.record(ms(30)), None);
        assert_eq!(sampler.record(ms(400)), Some(ms(30)));
        assert!(sampler.is_done());
        assert_eq!(sampler.record(ms(1)), None, "decided once");
        assert_eq!(unoptimised_hint(ms(30)), None, "one slow hash of three is no diagnosis");
    }
}
