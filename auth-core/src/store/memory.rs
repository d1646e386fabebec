//! The embedded, in-process [`Store`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{OpaqueRecord, OpaqueRotation, Rotation, Store, StoreError, TokenRef};
use crate::throttle::{Attempt, AttemptRule, AttemptState};

/// Expired entries removed (at most) per write: the sweep is spread over
/// writes, so no write holds the lock for long whatever the map's size.
const SWEEP_BUDGET: usize = 8;

/// An in-memory [`Store`]: one process, nothing persisted. Expired entries
/// are swept a few at a time on every write (from a queue ordered by
/// expiry), so memory does not grow without bound and no write ever walks
/// the whole map under the lock. Cheap to clone (the state is shared).
///
/// ```
/// let store = auth_core::MemoryStore::new();
/// let shared = store.clone();
/// # let _ = shared;
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<RwLock<State>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    revoked: HashMap<String, i64>,
    subjects: HashMap<String, (i64, i64)>,
    families: HashMap<String, Family>,
    opaque: HashMap<String, OpaqueRecord>,
    attempts: HashMap<String, AttemptState>,
    /// Every live entry has an item here no later than its expiry.
    queue: BinaryHeap<Reverse<(i64, Kind, String)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Revoked,
    Subject,
    Family,
    Opaque,
    Attempt,
}

struct Family {
    current: String,
    previous: Option<(String, i64, bool)>,
    revoked: bool,
    expires_at: i64,
}

impl State {
    fn sweep(&mut self, now: i64) {
        self.revoked.retain(|_, exp| *exp > now);
        self.subjects.retain(|_, (_, keep)| *keep > now);
        self.families.retain(|_, f| f.expires_at > now);
        self.opaque.retain(|_, r| r.refresh_expires_at > now);
        self.attempts.retain(|_, a| a.expires_at > now);
        self.queue.retain(|Reverse((exp, _, _))| *exp > now);
    }

    fn expiry(&self, kind: Kind, key: &str) -> Option<i64> {
        match kind {
            Kind::Revoked => self.revoked.get(key).copied(),
            Kind::Subject => self.subjects.get(key).map(|(_, keep)| *keep),
            Kind::Family => self.families.get(key).map(|f| f.expires_at),
            Kind::Opaque => self.opaque.get(key).map(|r| r.refresh_expires_at),
            Kind::Attempt => self.attempts.get(key).map(|a| a.expires_at),
        }
    }

    fn remove(&mut self, kind: Kind, key: &str) {
        match kind {
            Kind::Revoked => drop(self.revoked.remove(key)),
            Kind::Subject => drop(self.subjects.remove(key)),
            Kind::Family => drop(self.families.remove(key)),
            Kind::Opaque => drop(self.opaque.remove(key)),
            Kind::Attempt => drop(self.attempts.remove(key)),
        }
    }

    /// Keeps the queue's promise after an entry's expiry went from `old`
    /// (`None`: it is new) to `new`: a later expiry needs nothing (the old
    /// item will find it and queue it again), an earlier one a new item.
    fn track(&mut self, kind: Kind, key: &str, old: Option<i64>, new: i64) {
        if old.is_none_or(|old| new < old) {
            self.queue.push(Reverse((new, kind, key.to_owned())));
        }
    }

    /// Removes up to `budget` expired entries, oldest first.
    fn sweep_some(&mut self, now: i64, budget: usize) {
        for _ in 0..budget {
            match self.queue.peek() {
                Some(Reverse((exp, _, _))) if *exp <= now => {}
                _ => return,
            }
            let Some(Reverse((_, kind, key))) = self.queue.pop() else { return };
            match self.expiry(kind, &key) {
                Some(exp) if exp <= now => self.remove(kind, &key),
                Some(exp) => self.queue.push(Reverse((exp, kind, key))),
                None => {}
            }
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries of all kinds the store holds (for tests and metrics).
    pub fn len(&self) -> usize {
        let s = self.read();
        s.revoked.len() + s.subjects.len() + s.families.len() + s.opaque.len() + s.attempts.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every expired entry now, in one pass (writes already sweep
    /// a few at a time; this is for tests and shutdown).
    pub fn sweep(&self, now: i64) {
        self.state.write().unwrap_or_else(|p| p.into_inner()).sweep(now);
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written entry
        // (each write is one map operation), so a poisoned lock is usable.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self, now: i64) -> RwLockWriteGuard<'_, State> {
        let mut guard = self.state.write().unwrap_or_else(|p| p.into_inner());
        guard.sweep_some(now, SWEEP_BUDGET);
        guard
    }
}

fn unix_now() -> i64 {
    crate::time::now()
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        let mut s = self.write(unix_now());
        let old = s.revoked.insert(jti.to_owned(), expires_at);
        s.track(Kind::Revoked, jti, old, expires_at);
        Ok(())
    }

    async fn revoke_subject(&self, sub: &str, cutoff: i64, keep_until: i64) -> Result<(), StoreError> {
        let mut s = self.write(unix_now());
        let old = s.subjects.get(sub).map(|(_, keep)| *keep);
        let entry = s.subjects.entry(sub.to_owned()).or_insert((cutoff, keep_until));
        entry.0 = entry.0.max(cutoff);
        entry.1 = entry.1.max(keep_until);
        let new = entry.1;
        s.track(Kind::Subject, sub, old, new);
        Ok(())
    }

    async fn is_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<bool, StoreError> {
        let s = self.read();
        if token.jti.and_then(|j| s.revoked.get(j)).is_some_and(|exp| *exp > now) {
            return Ok(true);
        }
        if token.family.and_then(|f| s.families.get(f)).is_some_and(|f| f.revoked) {
            return Ok(true);
        }
        Ok(s.subjects.get(token.sub).is_some_and(|(cutoff, keep)| token.iat <= *cutoff && *keep > now))
    }

    async fn create_family(&self, family: &str, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        let fam = Family { current: jti.to_owned(), previous: None, revoked: false, expires_at };
        let mut s = self.write(unix_now());
        let old = s.families.insert(family.to_owned(), fam).map(|f| f.expires_at);
        s.track(Kind::Family, family, old, expires_at);
        Ok(())
    }

    async fn rotate_family(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        grace_secs: i64,
        expires_at: i64,
        now: i64,
    ) -> Result<Rotation, StoreError> {
        let mut s = self.write(now);
        let Some(fam) = s.families.get_mut(family) else { return Ok(Rotation::Dead) };
        if fam.revoked || fam.expires_at <= now {
            return Ok(Rotation::Dead);
        }
        if fam.current == presented {
            let old = std::mem::replace(&mut fam.current, next.to_owned());
            fam.previous = Some((old, now, false));
            fam.expires_at = fam.expires_at.max(expires_at);
            return Ok(Rotation::Rotated);
        }
        if let Some((prev, at, used)) = &mut fam.previous {
            if prev == presented && !*used && grace_secs > 0 && now.saturating_sub(*at) <= grace_secs {
                *used = true;
                return Ok(Rotation::Grace { current: fam.current.clone() });
            }
        }
        fam.revoked = true;
        Ok(Rotation::Reused)
    }

    async fn family_is_current(&self, family: &str, jti: &str, now: i64) -> Result<bool, StoreError> {
        let s = self.read();
        Ok(s.families.get(family).is_some_and(|f| !f.revoked && f.expires_at > now && f.current == jti))
    }

    async fn extend_family(&self, family: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        let mut s = self.write(now);
        let Some(fam) = s.families.get_mut(family) else { return Ok(false) };
        if fam.revoked || fam.expires_at <= now {
            return Ok(false);
        }
        fam.expires_at = fam.expires_at.max(expires_at);
        Ok(true)
    }

    async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        if let Some(f) = self.write(unix_now()).families.get_mut(family) {
            f.revoked = true;
        }
        Ok(())
    }

    async fn put_opaque(&self, key: &str, record: OpaqueRecord) -> Result<(), StoreError> {
        let mut s = self.write(unix_now());
        let new = record.refresh_expires_at;
        let old = s.opaque.insert(key.to_owned(), record).map(|r| r.refresh_expires_at);
        s.track(Kind::Opaque, key, old, new);
        Ok(())
    }

    async fn get_opaque(&self, key: &str, now: i64) -> Result<Option<OpaqueRecord>, StoreError> {
        Ok(self.read().opaque.get(key).filter(|r| r.refresh_expires_at > now).cloned())
    }

    async fn rotate_opaque(
        &self,
        key: &str,
        refresh_hash: &[u8; 32],
        next: OpaqueRecord,
        now: i64,
    ) -> Result<OpaqueRotation, StoreError> {
        let mut s = self.write(now);
        let Some(rec) = s.opaque.get_mut(key) else { return Ok(OpaqueRotation::Unknown) };
        if rec.refresh_expires_at <= now {
            return Ok(OpaqueRotation::Unknown);
        }
        if rec.is_current(refresh_hash) {
            let (old, new) = (rec.refresh_expires_at, next.refresh_expires_at);
            *rec = rec.succeeded_by(next);
            s.track(Kind::Opaque, key, Some(old), new);
            return Ok(OpaqueRotation::Rotated);
        }
        if rec.is_retired(refresh_hash) {
            s.opaque.remove(key);
            return Ok(OpaqueRotation::Reused);
        }
        Ok(OpaqueRotation::Unknown)
    }

    async fn delete_opaque(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.write(unix_now()).opaque.remove(key).is_some())
    }

    async fn count_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<Attempt, StoreError> {
        let mut s = self.write(now);
        let old = s.attempts.get(key).copied();
        let (state, attempt) = rule.apply(old, now);
        s.attempts.insert(key.to_owned(), state);
        s.track(Kind::Attempt, key, old.map(|o| o.expires_at), state.expires_at);
        Ok(attempt)
    }

    async fn take_back_attempt(&self, key: &str, rule: &AttemptRule) -> Result<(), StoreError> {
        let mut s = self.write(unix_now());
        if let Some(state) = s.attempts.get_mut(key) {
            *state = rule.take_back(*state);
        }
        Ok(())
    }

    async fn attempts(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        Ok(self.read().attempts.get(key).filter(|a| a.expires_at > now).map_or(0, |a| a.count))
    }

    async fn clear_attempts(&self, key: &str) -> Result<(), StoreError> {
        self.write(unix_now()).attempts.remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
    }

    #[test]
    fn revocations_expire_and_are_swept() {
        rt().block_on(async {
            let s = MemoryStore::new();
            s.revoke_token("j1", 100).await.unwrap();
            let t = TokenRef { jti: Some("j1"), family: None, sub: "u", iat: 0 };
            assert!(s.is_revoked(&t, 99).await.unwrap());
            assert!(!s.is_revoked(&t, 100).await.unwrap());
            s.sweep(100);
            assert!(s.is_empty());
        });
    }

    #[test]
    fn subject_cutoff_covers_earlier_tokens_only() {
        rt().block_on(async {
            let s = MemoryStore::new();
            s.revoke_subject("u", 50, 1000).await.unwrap();
            let old = TokenRef { jti: None, family: None, sub: "u", iat: 50 };
            let new = TokenRef { iat: 51, ..old };
            let other = TokenRef { sub: "v", ..old };
            assert!(s.is_revoked(&old, 60).await.unwrap());
            assert!(!s.is_revoked(&new, 60).await.unwrap());
            assert!(!s.is_revoked(&other, 60).await.unwrap());
        });
    }

    #[test]
    fn rotation_grace_and_reuse() {
        rt().block_on(async {
            let s = MemoryStore::new();
            s.create_family("f", "a", 1000).await.unwrap();
            assert_eq!(s.rotate_family("f", "a", "b", 10, 1000, 100).await.unwrap(), Rotation::Rotated);
            assert_eq!(
                s.rotate_family("f", "a", "x", 10, 1000, 105).await.unwrap(),
                Rotation::Grace { current: "b".into() }
            );
            // the grace is spent: a third presentation is reuse and kills the family
            assert_eq!(s.rotate_family("f", "a", "x", 10, 1000, 106).await.unwrap(), Rotation::Reused);
            assert_eq!(s.rotate_family("f", "b", "c", 10, 1000, 107).await.unwrap(), Rotation::Dead);
            let t = TokenRef { jti: None, family: Some("f"), sub: "u", iat: 0 };
            assert!(s.is_revoked(&t, 107).await.unwrap());
        });
    }

    #[test]
    fn rotation_outside_grace_is_reuse() {
        rt().block_on(async {
            let s = MemoryStore::new();
            s.create_family("f", "a", 1000).await.unwrap();
            s.rotate_family("f", "a", "b", 0, 1000, 100).await.unwrap();
            assert_eq!(s.rotate_family("f", "a", "x", 0, 1000, 101).await.unwrap(), Rotation::Reused);
            assert!(!s.family_is_current("f", "b", 101).await.unwrap());
        });
    }

    #[test]
    fn fifty_concurrent_rotations_exactly_one_wins() {
        rt().block_on(async {
            let s = MemoryStore::new();
            s.create_family("f", "a", i64::MAX).await.unwrap();
            let tasks: Vec<_> = (0..50)
                .map(|i| {
                    let s = s.clone();
                    tokio::spawn(
                        async move { s.rotate_family("f", "a", &format!("n{i}"), 0, 1000, 10).await },
                    )
                })
                .collect();
            let mut wins = 0;
            for t in tasks {
                if t.await.unwrap().unwrap() == Rotation::Rotated {
                    wins += 1;
                }
            }
            assert_eq!(wins, 1);
        });
    }

    #[test]
    fn opaque_rotation_is_compare_and_swap() {
        rt().block_on(async {
            let s = MemoryStore::new();
            // writes sweep by the real clock: keep the record alive by it
            let t = crate::time::now();
            let rec = OpaqueRecord {
                sub: "u".into(),
                username: "user".into(),
                roles: Vec::new(),
                token_hash: [1; 32],
                refresh_hash: [2; 32],
                expires_at: t + 500,
                refresh_expires_at: t + 1000,
                auth_time: t,
                issued_at: t,
                retired: Vec::new(),
            };
            s.put_opaque("k", rec.clone()).await.unwrap();
            let next = OpaqueRecord { token_hash: [3; 32], refresh_hash: [4; 32], ..rec.clone() };
            let rotate = |hash: [u8; 32]| {
                let (s, next) = (s.clone(), next.clone());
                async move { s.rotate_opaque("k", &hash, next, t + 10).await.unwrap() }
            };
            assert_eq!(rotate([9; 32]).await, OpaqueRotation::Unknown);
            assert_eq!(rotate([2; 32]).await, OpaqueRotation::Rotated);
            assert_eq!(s.get_opaque("k", t + 10).await.unwrap().map(|r| r.token_hash), Some([3; 32]));
            assert!(s.get_opaque("k", t + 1000).await.unwrap().is_none());
            assert!(s.delete_opaque("k").await.unwrap());
            assert!(s.get_opaque("k", t + 10).await.unwrap().is_none());
            // a rotated-away secret presented again kills the record
            s.put_opaque("k", rec.clone()).await.unwrap();
            assert_eq!(rotate([2; 32]).await, OpaqueRotation::Rotated);
            assert_eq!(rotate([2; 32]).await, OpaqueRotation::Reused);
            assert!(s.get_opaque("k", t + 10).await.unwrap().is_none());
        });
    }

    #[test]
    fn attempt_counter_follows_its_rule_and_clears() {
        rt().block_on(async {
            let s = MemoryStore::new();
            let rule = AttemptRule { free: 2, window_secs: 60, first_delay: 60, max_delay: 60 };
            assert!(s.count_attempt("u", &rule, 0).await.unwrap().allowed);
            assert!(s.count_attempt("u", &rule, 1).await.unwrap().allowed);
            let third = s.count_attempt("u", &rule, 2).await.unwrap();
            assert_eq!((third.allowed, third.count, third.retry_after), (false, 3, 59));
            assert_eq!(s.attempts("u", 2).await.unwrap(), 3);
            s.clear_attempts("u").await.unwrap();
            assert_eq!(s.attempts("u", 2).await.unwrap(), 0);
            assert!(s.count_attempt("u", &rule, 3).await.unwrap().allowed);
        });
    }

    #[test]
    fn writes_sweep_expired_entries_a_few_at_a_time() {
        rt().block_on(async {
            let s = MemoryStore::new();
            let now = crate::time::now();
            {
                let mut state = s.state.write().unwrap();
                for i in 0..100 {
                    let key = format!("old{i}");
                    state.revoked.insert(key.clone(), now - 1);
                    state.track(Kind::Revoked, &key, None, now - 1);
                }
            }
            // a family whose queue item is early but whose expiry moved out is kept
            s.create_family("f", "a", now - 1).await.unwrap();
            s.rotate_family("f", "a", "b", 0, now + 1000, now - 2).await.unwrap();
            // (the rotation's write sweeps by its own clock, two seconds back: nothing)
            assert_eq!(s.len(), 101 - SWEEP_BUDGET);
            // each write removes at most SWEEP_BUDGET expired entries
            s.revoke_token("new", now + 1000).await.unwrap();
            assert_eq!(s.len(), 102 - 2 * SWEEP_BUDGET);
            for i in 0..20 {
                s.revoke_token(&format!("new{i}"), now + 1000).await.unwrap();
            }
            // every expired revocation is gone; the family and the 21 live ones stay
            assert_eq!(s.len(), 1 + 21);
            assert!(s.family_is_current("f", "b", now).await.unwrap());
            let queued = s.state.read().unwrap().queue.len();
            assert!(queued <= 1 + 21 + SWEEP_BUDGET, "queue {queued}");
        });
    }
}
