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

use crate::error::AuthError;
use crate::store::{AttemptRule, Store, StoreError};
use crate::time::secs;

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
    /// The rules for limits `pair` (username + address), `address` and
    /// `user` (zero turns one off), counted in `window`.
    pub(crate) fn new(window: std::time::Duration, pair: u32, address: u32, user: u32) -> Self {
        let window = secs(window).max(1);
        let rule =
            |free, first_delay| AttemptRule { free, window_secs: window, first_delay, max_delay: window };
        Self { pair: rule(pair, window), address: rule(address, 1), user: rule(user, 1) }
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
    rules: &LoginRules,
    username: &str,
    addr: Option<IpAddr>,
    now: i64,
) -> Result<Admitted<'a>, AuthError> {
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
