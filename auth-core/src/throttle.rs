//! Login throttling: attempts are counted *before* the password is hashed,
//! each count one atomic store operation ([`Store::count_attempt`]) that
//! answers whether this attempt may go on.
//!
//! The counters a password login goes through, in this order (the first
//! refusal answers 429 and writes nothing further):
//!
//! | counter | key | default | past the limit |
//! |---|---|---|---|
//! | one address, any username (spraying) | address | 100 failures per window | 1 s, 2 s, 4 s … between attempts |
//! | one username from one address | username + address | 5 per window | that address waits out the window |
//! | one username, any address, for clients it does not trust | username | 20 per window | 1 s, 2 s, 4 s … between attempts |
//!
//! A client that logged in as the user before is *trusted* for that user
//! ([`AuthorityConfig::device_ttl`](crate::AuthorityConfig::device_ttl),
//! 30 days by default): one that sends back the device token of a
//! successful login is judged by that token's own counter alone (5
//! failures, then it waits out the window), and one from an address that
//! logged in as the user is not held back by the per-user rule. So an
//! attacker's guesses slow down the user's logins from new clients only,
//! never from the devices and networks the user already logged in from.
//!
//! Refusals are not free: an attempt refused by a later counter still
//! counts on the earlier ones (an attacker polling for the moment the
//! per-user delay ends uses up its own address), and the `Retry-After` of
//! the per-user rule is the remaining delay plus a random part of it, so
//! it tells a client when to come back without telling an attacker the
//! second the next attempt opens. An attempt the address counter refuses
//! creates no other entry, so a flood from one address costs one counter.
//!
//! Where the client address is unknown (no peer address, see
//! [`Authority::login_client`](crate::Authority::login_client)), the
//! address and username + address counters are skipped rather than keyed
//! by something every client would share, and a success takes back only
//! its own attempt on the per-user counter instead of clearing it. What is
//! left is weaker, and the first such login logs an `error`: spraying many
//! usernames is not slowed down, and a user's logins from clients without
//! a device token share the per-user slow-down with whoever guesses.
//!
//! A successful login clears the username counters (where the address is
//! unknown it only takes its own attempt back from the per-user counter),
//! takes its own attempt back from the address counter and remembers the
//! address for the user. Keys are SHA-256 of the normalised username (trimmed, lower
//! case) and the address (IPv6 by its /64), so their size is fixed
//! whatever a client sends.
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

use crate::authority::AuthorityConfig;
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
    key_user(&normalise(username))
}

/// The per-user key of a canonical username ([`UserStore::canonical_username`](crate::UserStore::canonical_username)).
fn key_user(canonical: &str) -> String {
    key(&[b"user", canonical.as_bytes()])
}

/// The throttle key of a username from one address (`None`: unknown).
pub fn throttle_key_pair(username: &str, addr: Option<IpAddr>) -> String {
    key_pair(&normalise(username), addr)
}

fn key_pair(canonical: &str, addr: Option<IpAddr>) -> String {
    key(&[b"pair", canonical.as_bytes(), address_bytes(addr).as_bytes()])
}

/// The throttle key of an address, whatever the username.
pub fn throttle_key_address(addr: IpAddr) -> String {
    key(&[b"addr", address_bytes(Some(addr)).as_bytes()])
}

fn normalise(username: &str) -> String {
    crate::users::canonical(username)
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

/// The throttle key of an address a user logged in from (remembered for
/// [`AuthorityConfig::device_ttl`](crate::AuthorityConfig::device_ttl)).
pub(crate) fn throttle_key_known(canonical: &str, addr: IpAddr) -> String {
    key(&[b"known", canonical.as_bytes(), address_bytes(Some(addr)).as_bytes()])
}

/// The throttle key of one device token (by its id).
pub(crate) fn throttle_key_device(device_id: &str) -> String {
    key(&[b"device", device_id.as_bytes()])
}

/// The throttle key of the logins of one external principal.
pub(crate) fn throttle_key_external(principal_id: &str) -> String {
    key(&[b"external", principal_id.as_bytes()])
}

/// The failures a device token's own counter allows when the
/// username + address limit is turned off.
const DEVICE_FAILURES: u32 = 5;

/// The rules a configuration asks for.
pub(crate) struct LoginRules {
    pair: AttemptRule,
    address: AttemptRule,
    user: AttemptRule,
    device: AttemptRule,
    external: AttemptRule,
    /// Remembers the addresses users logged in from (`None`: off).
    known: Option<AttemptRule>,
}

impl LoginRules {
    /// The rules of `cfg` (a limit of zero turns one counter off).
    pub(crate) fn new(cfg: &AuthorityConfig) -> Self {
        let window = secs(cfg.failure_window).max(1);
        let rule =
            |free, first_delay| AttemptRule { free, window_secs: window, first_delay, max_delay: window };
        let device_failures = if cfg.max_failed_logins > 0 { cfg.max_failed_logins } else { DEVICE_FAILURES };
        Self {
            pair: rule(cfg.max_failed_logins, window),
            address: rule(cfg.max_failed_logins_per_address, 1),
            user: rule(cfg.max_failed_logins_per_user, 1),
            device: rule(device_failures, window),
            external: rule(cfg.max_external_logins, 1),
            known: cfg.device_ttl.map(|ttl| AttemptRule {
                free: u32::MAX,
                window_secs: secs(ttl).max(1),
                first_delay: 0,
                max_delay: 0,
            }),
        }
    }
}

/// The counters one login attempt went through, to settle once the
/// password check is done.
pub(crate) struct Admitted<'a> {
    store: &'a dyn Store,
    now: i64,
    counted: Vec<(String, AttemptRule, Settle)>,
    /// The key that remembers this address for this user, set on success.
    remember: Option<(String, AttemptRule)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Settle {
    /// Cleared after a success.
    Clear,
    /// The success takes only its own attempt back.
    TakeBack,
    /// A success changes nothing (every login counts).
    Keep,
}

/// Who the per-user rule sees.
pub(crate) enum Standing<'a> {
    /// A client with a valid device token for this user (its id).
    Device(&'a str),
    /// Any other client, at this address (`None`: unknown).
    Address(Option<IpAddr>),
}

/// Counts one password attempt for the canonical `username`
/// ([`UserStore::canonical_username`](crate::UserStore::canonical_username);
/// see the module doc for the
/// order and the rules). The first refusal answers 429; what was counted
/// before it stays counted.
pub(crate) async fn admit<'a>(
    store: &'a dyn Store,
    rules: &LoginRules,
    username: &str,
    standing: Standing<'_>,
    now: i64,
) -> Result<Admitted<'a>, AuthError> {
    let addr = match standing {
        Standing::Device(id) => {
            let mut admitted = Admitted { store, now, counted: Vec::with_capacity(1), remember: None };
            admitted.count("device", throttle_key_device(id), rules.device, Settle::Clear, false).await?;
            return Ok(admitted);
        }
        Standing::Address(addr) => addr,
    };
    let mut admitted = admit_address(store, rules, addr, now).await?;
    if let Some(addr) = addr {
        if rules.pair.free > 0 {
            admitted
                .count("user_address", key_pair(username, Some(addr)), rules.pair, Settle::Clear, false)
                .await?;
        }
        if let Some(known) = rules.known {
            let key = throttle_key_known(username, addr);
            let trusted = store.attempts(&key, now).await? > 0;
            admitted.remember = Some((key, known));
            if trusted {
                return Ok(admitted);
            }
        }
    }
    if rules.user.free > 0 {
        // Where the address is unknown, a success only takes its own
        // attempt back: clearing the counter would hand a guesser, whose
        // requests look the same as the owner's, a fresh budget at every
        // login of the owner. With an address, a success clears it: a
        // burst of right passwords from many new addresses (a fleet
        // restarting with one account) must not queue behind the slow-down,
        // each refusal costing its own address's counter.
        let settle = if addr.is_some() { Settle::Clear } else { Settle::TakeBack };
        admitted.count("user", key_user(username), rules.user, settle, true).await?;
    }
    Ok(admitted)
}

/// Counts an attempt on its address's counter (nothing when the address is
/// unknown): the first counter of a password login, and of an external
/// (identity provider) login before its token is verified, so that its
/// failures cost the address as failed passwords do.
pub(crate) async fn admit_address<'a>(
    store: &'a dyn Store,
    rules: &LoginRules,
    addr: Option<IpAddr>,
    now: i64,
) -> Result<Admitted<'a>, AuthError> {
    let mut admitted = Admitted { store, now, counted: Vec::with_capacity(3), remember: None };
    if let Some(addr) = addr.filter(|_| rules.address.free > 0) {
        admitted.count("address", throttle_key_address(addr), rules.address, Settle::TakeBack, false).await?;
    }
    Ok(admitted)
}

impl Admitted<'_> {
    /// Counts one attempt on `key`, the counter of `rule` (one of
    /// [`metrics::THROTTLE_RULES`](crate::metrics::THROTTLE_RULES)); a
    /// refusal is 429 (its `Retry-After` blurred when `blur`), counted and
    /// noted for the audit trail.
    async fn count(
        &mut self,
        rule_name: &'static str,
        key: String,
        rule: AttemptRule,
        settle: Settle,
        blur: bool,
    ) -> Result<(), AuthError> {
        let attempt = self.store.count_attempt(&key, &rule, self.now).await?;
        if !attempt.allowed {
            crate::metrics::record::throttled(rule_name);
            crate::audit::note(|t| t.rule = Some(rule_name));
            let wait = attempt.retry_after.max(1);
            let wait = if blur {
                wait.saturating_add(rand::Rng::gen_range(&mut rand::thread_rng(), 0..=wait))
            } else {
                wait
            };
            return Err(AuthError::TooManyAttempts { retry_after: wait.unsigned_abs() });
        }
        self.counted.push((key, rule, settle));
        Ok(())
    }

    /// Counts one login of the external principal `principal_id`: every
    /// one counts, success or not, so a valid token replayed in a loop is
    /// slowed down like guesses are.
    pub(crate) async fn count_external(
        &mut self,
        rules: &LoginRules,
        principal_id: &str,
    ) -> Result<(), AuthError> {
        if rules.external.free == 0 {
            return Ok(());
        }
        self.count("idp_subject", throttle_key_external(principal_id), rules.external, Settle::Keep, true)
            .await
    }

    /// The success settles nothing: the counts stay as they are (a device
    /// token of another account than the one that logged in).
    pub(crate) fn keep_counts(&mut self) {
        self.counted.iter_mut().for_each(|(_, _, settle)| *settle = Settle::Keep);
    }

    /// The password was right: clear the username counters, take this
    /// attempt back from the address counter, remember the address.
    pub(crate) async fn succeeded(self) -> Result<(), StoreError> {
        let now = self.now;
        for (key, rule, settle) in &self.counted {
            match settle {
                Settle::Clear => self.store.clear_attempts(key, now).await?,
                Settle::TakeBack => self.store.take_back_attempt(key, rule, now).await?,
                Settle::Keep => {}
            }
        }
        if let Some((key, rule)) = &self.remember {
            self.store.count_attempt(key, rule, now).await?;
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
