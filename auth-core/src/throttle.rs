//! Login throttling: attempts are counted *before* the password is hashed,
//! each count one atomic store operation ([`Store::count_attempt`]) that
//! answers whether this attempt may go on.
//!
//! Three counters stand between a guess and the hash:
//!
//! | counter | key | default | past the limit |
//! |---|---|---|---|
//! | one username from one address | username + address | 5 per window | that address waits out the window |
//! | one address, any username (spraying) | address | 100 failures per window | 1 s, 2 s, 4 s … between attempts |
//! | one username, any address | username | 20 per window | 1 s, 2 s, 4 s … between attempts |
//!
//! So one address cannot lock a user out everywhere: it locks only itself,
//! and many addresses together only slow the user's logins down. A
//! successful login clears the username counters and takes its own attempt
//! back from the address counter. Keys are SHA-256 of the normalised
//! username (trimmed, lower case) and the address (IPv6 by its /64), so
//! their size is fixed whatever a client sends.
//!
//! ```
//! use auth_core::AttemptRule;
//! let rule = AttemptRule { free: 2, window_secs: 60, first_delay: 1, max_delay: 60 };
//! let (s1, a1) = rule.apply(None, 0);
//! let (s2, a2) = rule.apply(Some(s1), 0);
//! let (_, a3) = rule.apply(Some(s2), 0);
//! assert!(a1.allowed && a2.allowed && !a3.allowed);
//! assert_eq!((a3.count, a3.retry_after), (3, 1));
//! ```

use std::net::IpAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::authority::{AuthorityConfig, secs};
use crate::error::AuthError;
use crate::store::{Store, StoreError};

/// How a counter lets attempts through: `free` at once, then each further
/// one only `first_delay`, `2 × first_delay`, `4 × first_delay` … seconds
/// (at most `max_delay`) after the last one let through. The counter is
/// forgotten `window_secs` after the last attempt (or when its delay ends,
/// if later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRule {
    /// Attempts let through before any delay.
    pub free: u32,
    /// Seconds of quiet after which the counter is forgotten.
    pub window_secs: i64,
    /// The first delay, in seconds.
    pub first_delay: i64,
    /// The longest delay, in seconds.
    pub max_delay: i64,
}

/// A counter's state, as a store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptState {
    /// Attempts counted (let through or not).
    pub count: u32,
    /// Attempts let through.
    pub passed: u32,
    /// No attempt is let through before this time (seconds since the epoch).
    pub next_at: i64,
    /// When the counter is forgotten.
    pub expires_at: i64,
}

/// What [`Store::count_attempt`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Whether this attempt may go on to the password check.
    pub allowed: bool,
    /// Attempts counted in the current window, this one included.
    pub count: u32,
    /// When refused: seconds until an attempt is let through again.
    pub retry_after: i64,
}

impl AttemptRule {
    /// The delay after the `passed`-th attempt let through (zero while
    /// attempts are free).
    pub fn delay_after(&self, passed: u32) -> i64 {
        if passed < self.free {
            return 0;
        }
        let doublings = (passed - self.free).min(62);
        self.first_delay.saturating_mul(1_i64 << doublings).min(self.max_delay).max(0)
    }

    /// One attempt at `now` against the stored state (`None`, or a state
    /// past its `expires_at`, is a fresh counter): the new state to store
    /// and the answer. Every store applies exactly this, atomically.
    pub fn apply(&self, state: Option<AttemptState>, now: i64) -> (AttemptState, Attempt) {
        let mut s = state.filter(|s| s.expires_at > now).unwrap_or_default();
        s.count = s.count.saturating_add(1);
        let allowed = s.passed < self.free || now >= s.next_at;
        if allowed {
            s.passed = s.passed.saturating_add(1);
            let delay = self.delay_after(s.passed);
            if delay > 0 {
                s.next_at = now.saturating_add(delay);
            }
        }
        s.expires_at = now.saturating_add(self.window_secs).max(s.next_at);
        let retry_after = if allowed { 0 } else { s.next_at.saturating_sub(now).max(1) };
        (s, Attempt { allowed, count: s.count, retry_after })
    }

    /// Takes one attempt that was let through back (it succeeded, or was
    /// never checked): the state to store.
    pub fn take_back(&self, mut state: AttemptState) -> AttemptState {
        state.count = state.count.saturating_sub(1);
        state.passed = state.passed.saturating_sub(1);
        state
    }
}

/// The throttle key of a username from any address.
///
/// ```
/// assert_eq!(auth_core::throttle_key_user(" Alice "), auth_core::throttle_key_user("alice"));
/// assert_eq!(auth_core::throttle_key_user(&"x".repeat(10_000)).len(), 43);
/// ```
pub fn throttle_key_user(username: &str) -> String {
    key(&[b"user", normalise(username).as_bytes()])
}

/// The throttle key of a username from one address (`None`: unknown).
pub fn throttle_key_pair(username: &str, addr: Option<IpAddr>) -> String {
    key(&[b"pair", normalise(username).as_bytes(), address_bytes(addr).as_bytes()])
}

/// The throttle key of an address, whatever the username.
pub fn throttle_key_address(addr: IpAddr) -> String {
    key(&[b"addr", address_bytes(Some(addr)).as_bytes()])
}

fn normalise(username: &str) -> String {
    username.trim().to_lowercase()
}

/// An address as counted: IPv4 whole, IPv6 by its /64 (one subscriber
/// usually holds a whole /64, and could otherwise take a new address for
/// every guess).
fn address_bytes(addr: Option<IpAddr>) -> String {
    match addr.map(|a| a.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        None => "-".to_owned(),
    }
}

fn key(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        // length-prefixed, so that no two different part lists hash alike
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

/// The three rules a configuration asks for.
pub(crate) struct LoginRules {
    pair: AttemptRule,
    address: AttemptRule,
    user: AttemptRule,
}

impl LoginRules {
    pub(crate) fn of(cfg: &AuthorityConfig) -> Self {
        let window = secs(cfg.failure_window).max(1);
        Self {
            pair: AttemptRule {
                free: cfg.max_failed_logins,
                window_secs: window,
                first_delay: window,
                max_delay: window,
            },
            address: AttemptRule {
                free: cfg.max_failed_logins_per_address,
                window_secs: window,
                first_delay: 1,
                max_delay: window,
            },
            user: AttemptRule {
                free: cfg.max_failed_logins_per_user,
                window_secs: window,
                first_delay: 1,
                max_delay: window,
            },
        }
    }
}

/// The counters one login attempt went through, to settle once the
/// password check is done.
pub(crate) struct Admitted<'a> {
    store: &'a dyn Store,
    now: i64,
    counted: Vec<(String, AttemptRule, Settle)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// Cleared after a success.
    Clear,
    /// The success takes only its own attempt back.
    TakeBack,
}

/// Counts one login attempt for `username` from `addr` on every counter
/// the configuration turns on (a limit of zero turns one off), in order:
/// username + address, address, username. The first refusal answers 429;
/// the attempts already counted for it are taken back from the counters
/// that let it through, so that a refusal by the username counter does not
/// also use up the address's own allowance.
pub(crate) async fn admit<'a>(
    store: &'a dyn Store,
    cfg: &AuthorityConfig,
    username: &str,
    addr: Option<IpAddr>,
    now: i64,
) -> Result<Admitted<'a>, AuthError> {
    let rules = LoginRules::of(cfg);
    let mut plan = Vec::with_capacity(3);
    if rules.pair.free > 0 {
        plan.push((throttle_key_pair(username, addr), rules.pair, Settle::Clear));
    }
    if let Some(addr) = addr.filter(|_| rules.address.free > 0) {
        plan.push((throttle_key_address(addr), rules.address, Settle::TakeBack));
    }
    if rules.user.free > 0 {
        plan.push((throttle_key_user(username), rules.user, Settle::Clear));
    }
    let mut admitted = Admitted { store, now, counted: Vec::with_capacity(plan.len()) };
    for (key, rule, settle) in plan {
        let attempt = store.count_attempt(&key, &rule, now).await?;
        if !attempt.allowed {
            admitted.release().await?;
            return Err(AuthError::TooManyAttempts {
                retry_after: attempt.retry_after.max(1).unsigned_abs(),
            });
        }
        admitted.counted.push((key, rule, settle));
    }
    Ok(admitted)
}

impl Admitted<'_> {
    /// The password was right: clear the username counters, take this
    /// attempt back from the address counter.
    pub(crate) async fn succeeded(self) -> Result<(), StoreError> {
        let now = self.now;
        for (key, rule, settle) in &self.counted {
            match settle {
                Settle::Clear => self.store.clear_attempts(key, now).await?,
                Settle::TakeBack => self.store.take_back_attempt(key, rule, now).await?,
            }
        }
        Ok(())
    }

    /// The password was never checked (the hashing queue was full, the
    /// user store failed): take the attempt back everywhere.
    pub(crate) async fn release(&self) -> Result<(), StoreError> {
        let now = self.now;
        for (key, rule, _) in &self.counted {
            self.store.take_back_attempt(key, rule, now).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: AttemptRule = AttemptRule { free: 3, window_secs: 100, first_delay: 100, max_delay: 100 };
    const SLOW: AttemptRule = AttemptRule { free: 2, window_secs: 100, first_delay: 1, max_delay: 8 };

    fn run(rule: AttemptRule, times: &[i64]) -> Vec<Attempt> {
        let mut state = None;
        times
            .iter()
            .map(|&now| {
                let (s, a) = rule.apply(state, now);
                state = Some(s);
                a
            })
            .collect()
    }

    #[test]
    fn lock_rule_refuses_past_the_limit_until_the_window_ends() {
        let got = run(LOCK, &[0, 0, 0, 0, 50, 100]);
        let allowed: Vec<bool> = got.iter().map(|a| a.allowed).collect();
        assert_eq!(allowed, [true, true, true, false, false, true]);
        assert_eq!(got[3].retry_after, 100);
        assert_eq!(got[4].retry_after, 50);
        assert_eq!(got[5].count, 6);
    }

    #[test]
    fn slow_rule_doubles_its_delay_up_to_the_cap() {
        // free twice, then waits of 1, 2, 4, 8, 8 seconds between let-throughs
        let got = run(SLOW, &[0, 0, 0, 1, 2, 3, 5, 7, 11, 19, 27]);
        let allowed: Vec<bool> = got.iter().map(|a| a.allowed).collect();
        assert_eq!(allowed, [true, true, false, true, false, true, false, true, false, true, true]);
        assert_eq!(got[2].retry_after, 1);
        assert_eq!(got[4].retry_after, 1);
    }

    #[test]
    fn refused_attempts_do_not_push_the_delay_out() {
        // hammering during a delay does not lengthen it
        let got = run(SLOW, &[0, 0, 0, 0, 0, 0, 1]);
        assert!(got[6].allowed);
        assert_eq!(got[6].count, 7);
    }

    #[test]
    fn counters_are_forgotten_after_a_quiet_window() {
        let got = run(LOCK, &[0, 0, 0, 0, 200]);
        assert!(got[4].allowed);
        assert_eq!(got[4].count, 1);
    }

    #[test]
    fn take_back_reopens_a_free_slot() {
        let (s, _) = LOCK.apply(None, 0);
        let (s, _) = LOCK.apply(Some(s), 0);
        let (s, _) = LOCK.apply(Some(s), 0);
        let s = LOCK.take_back(s);
        assert!(LOCK.apply(Some(s), 0).1.allowed);
    }

    #[test]
    fn keys_have_a_fixed_size_and_separate_kinds_and_addresses() {
        let a = Some("192.0.2.1".parse().expect("addr"));
        let b = Some("192.0.2.2".parse().expect("addr"));
        assert_ne!(throttle_key_pair("bob", a), throttle_key_pair("bob", b));
        assert_ne!(throttle_key_pair("bob", None), throttle_key_user("bob"));
        assert_eq!(throttle_key_pair("BOB", a), throttle_key_pair("bob ", a));
        let v6a = "2001:db8:1:2::1".parse().expect("addr");
        let v6b = "2001:db8:1:2:ffff::9".parse().expect("addr");
        assert_eq!(throttle_key_address(v6a), throttle_key_address(v6b));
        assert_eq!(throttle_key_user(&"é".repeat(5000)).len(), 43);
    }
}
