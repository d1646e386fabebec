//! The embedded, in-process [`Store`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::family::Family;
use super::{Attempt, AttemptRule, AttemptState};
use super::{OpaqueRecord, OpaqueRotation, Rotation, Store, StoreError, TokenRef};

/// Whether eviction spares a counter: it reached its rule's limit (it is
/// holding someone back: losing it would hand out fresh attempts), or it
/// is no failure counter at all (an address a user logged in from).
fn protects(rule: &AttemptRule, state: &AttemptState) -> bool {
    rule.free == u32::MAX || state.passed >= rule.free
}

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
#[derive(Clone)]
pub struct MemoryStore {
    state: Arc<RwLock<State>>,
    /// The most login-throttle counters kept.
    max_attempts: usize,
}

/// The most login-throttle counters a [`MemoryStore`] keeps by default
/// (about 15 MiB): see [`MemoryStore::with_max_attempt_counters`].
pub const DEFAULT_MAX_ATTEMPT_COUNTERS: usize = 100_000;

impl Default for MemoryStore {
    fn default() -> Self {
        Self { state: Arc::default(), max_attempts: DEFAULT_MAX_ATTEMPT_COUNTERS }
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

/// A map keyed by token ids, families, subjects: `ahash` (seeded at
/// random per map, so still resistant to chosen collisions) instead of
/// SipHash, which showed in the request path's profile (three lookups per
/// protected request).
type Map<V> = HashMap<String, V, ahash::RandomState>;

#[derive(Default)]
struct State {
    revoked: Map<i64>,
    subjects: Map<(i64, i64)>,
    families: Map<Family>,
    opaque: Map<OpaqueRecord>,
    /// Each counter, and whether eviction spares it ([`protects`]).
    attempts: Map<(AttemptState, bool)>,
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

impl State {
    fn sweep(&mut self, now: i64) {
        self.revoked.retain(|_, exp| *exp > now);
        self.subjects.retain(|_, (_, keep)| *keep > now);
        self.families.retain(|_, f| f.expires_at > now);
        self.opaque.retain(|_, r| r.refresh_expires_at > now);
        self.attempts.retain(|_, (a, _)| a.expires_at > now);
        self.queue.retain(|Reverse((exp, _, _))| *exp > now);
    }

    fn expiry(&self, kind: Kind, key: &str) -> Option<i64> {
        match kind {
            Kind::Revoked => self.revoked.get(key).copied(),
            Kind::Subject => self.subjects.get(key).map(|(_, keep)| *keep),
            Kind::Family => self.families.get(key).map(|f| f.expires_at),
            Kind::Opaque => self.opaque.get(key).map(|r| r.refresh_expires_at),
            Kind::Attempt => self.attempts.get(key).map(|(a, _)| a.expires_at),
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

    /// Removes `n` (at least one) attempt counters: the unprotected ones
    /// first ([`protects`]), soonest expiry first within each class; then
    /// drops the expiry queue's items of everything gone, so that the queue
    /// stays as bounded as the maps.
    fn evict_attempts(&mut self, n: usize) {
        let mut order: Vec<(bool, i64, &String)> =
            self.attempts.iter().map(|(k, (a, protected))| (*protected, a.expires_at, k)).collect();
        let n = n.clamp(1, order.len().max(1));
        if order.len() > n {
            order.select_nth_unstable(n - 1);
        }
        let doomed: Vec<String> = order.into_iter().take(n).map(|(_, _, k)| k.clone()).collect();
        for key in doomed {
            self.attempts.remove(&key);
        }
        let mut queue = std::mem::take(&mut self.queue);
        queue.retain(|Reverse((_, kind, key))| self.expiry(*kind, key).is_some());
        self.queue = queue;
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

    /// Keeps at most `max` login-throttle counters (default
    /// [`DEFAULT_MAX_ATTEMPT_COUNTERS`]). A new counter past the bound
    /// first evicts an eighth of them: counters still under their limit
    /// go first (the fresh ones a flood of made-up usernames or addresses
    /// creates), soonest expiry first; counters that reached their limit
    /// (a user under attack, a locked address) and the addresses users
    /// logged in from go only when nothing else is left.
    ///
    /// ```
    /// let store = auth_core::MemoryStore::new().with_max_attempt_counters(10_000);
    /// # let _ = store;
    /// ```
    pub fn with_max_attempt_counters(mut self, max: usize) -> Self {
        self.max_attempts = max.max(1);
        self
    }

    /// How many login-throttle counters the store holds.
    pub fn attempt_counters(&self) -> usize {
        self.read().attempts.len()
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

impl MemoryStore {
    /// Whether the token, its family or its subject was revoked: the one
    /// answer behind both `is_revoked` and `is_revoked_now`.
    fn revoked(&self, token: &TokenRef<'_>, now: i64) -> bool {
        let s = self.read();
        if token.jti.and_then(|j| s.revoked.get(j)).is_some_and(|exp| *exp > now) {
            return true;
        }
        if token.family.and_then(|f| s.families.get(f)).is_some_and(|f| f.revoked) {
            return true;
        }
        s.subjects.get(token.sub).is_some_and(|(cutoff, keep)| token.iat <= *cutoff && *keep > now)
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn revoke_token(&self, jti: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
        let mut s = self.write(now);
        let old = s.revoked.insert(jti.to_owned(), expires_at);
        s.track(Kind::Revoked, jti, old, expires_at);
        Ok(())
    }

    async fn revoke_subject(
        &self,
        sub: &str,
        cutoff: i64,
        keep_until: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut s = self.write(now);
        let old = s.subjects.get(sub).map(|(_, keep)| *keep);
        let entry = s.subjects.entry(sub.to_owned()).or_insert((cutoff, keep_until));
        entry.0 = entry.0.max(cutoff);
        entry.1 = entry.1.max(keep_until);
        let new = entry.1;
        s.track(Kind::Subject, sub, old, new);
        Ok(())
    }

    async fn is_revoked(&self, token: &TokenRef<'_>, now: i64) -> Result<bool, StoreError> {
        Ok(self.revoked(token, now))
    }

    fn is_revoked_now(&self, token: &TokenRef<'_>, now: i64) -> Option<Result<bool, StoreError>> {
        Some(Ok(self.revoked(token, now)))
    }

    async fn create_family(
        &self,
        family: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let fam = Family::new(jti, expires_at);
        let mut s = self.write(now);
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
        Ok(fam.rotate(presented, next, grace_secs, expires_at, now))
    }

    async fn family_is_current(&self, family: &str, jti: &str, now: i64) -> Result<bool, StoreError> {
        let s = self.read();
        Ok(s.families.get(family).is_some_and(|f| f.is_current(jti, now)))
    }

    async fn extend_family(&self, family: &str, expires_at: i64, now: i64) -> Result<bool, StoreError> {
        Ok(self.write(now).families.get_mut(family).is_some_and(|f| f.extend(expires_at, now)))
    }

    async fn revoke_family(&self, family: &str, now: i64) -> Result<(), StoreError> {
        if let Some(f) = self.write(now).families.get_mut(family) {
            f.revoked = true;
        }
        Ok(())
    }

    async fn put_opaque(&self, key: &str, record: OpaqueRecord, now: i64) -> Result<(), StoreError> {
        let mut s = self.write(now);
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
        grace_secs: i64,
        now: i64,
    ) -> Result<OpaqueRotation, StoreError> {
        let mut s = self.write(now);
        let Some(rec) = s.opaque.get_mut(key) else { return Ok(OpaqueRotation::Unknown) };
        if rec.refresh_expires_at <= now {
            return Ok(OpaqueRotation::Unknown);
        }
        if rec.is_current(refresh_hash) || rec.in_grace(refresh_hash, grace_secs, now) {
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

    async fn delete_opaque(&self, key: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self.write(now).opaque.remove(key).is_some())
    }

    async fn count_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<Attempt, StoreError> {
        let mut s = self.write(now);
        let old = s.attempts.get(key).map(|(a, _)| *a);
        if old.is_none() && s.attempts.len() >= self.max_attempts {
            s.evict_attempts(self.max_attempts / 8);
        }
        let (state, attempt) = rule.apply(old, now);
        s.attempts.insert(key.to_owned(), (state, protects(rule, &state)));
        s.track(Kind::Attempt, key, old.map(|o| o.expires_at), state.expires_at);
        Ok(attempt)
    }

    async fn take_back_attempt(&self, key: &str, rule: &AttemptRule, now: i64) -> Result<(), StoreError> {
        let mut s = self.write(now);
        if let Some((state, protected)) = s.attempts.get_mut(key) {
            *state = rule.take_back(*state);
            *protected = protects(rule, state);
        }
        Ok(())
    }

    async fn attempts(&self, key: &str, now: i64) -> Result<u32, StoreError> {
        Ok(self.read().attempts.get(key).filter(|(a, _)| a.expires_at > now).map_or(0, |(a, _)| a.count))
    }

    async fn clear_attempts(&self, key: &str, now: i64) -> Result<(), StoreError> {
        self.write(now).attempts.remove(key);
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
    fn passes_the_store_contract() {
        rt().block_on(crate::store::contract::run(MemoryStore::new()));
    }

    #[test]
    fn expired_entries_are_swept() {
        rt().block_on(async {
            let s = MemoryStore::new();
            s.revoke_token("j1", 100, 0).await.unwrap();
            s.create_family("f", "a", 100, 0).await.unwrap();
            assert_eq!(s.len(), 2);
            s.sweep(100);
            assert!(s.is_empty());
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
            s.create_family("f", "a", now - 1, now).await.unwrap();
            s.rotate_family("f", "a", "b", 0, now + 1000, now - 2).await.unwrap();
            // (the rotation's write sweeps by its own clock, two seconds back: nothing)
            assert_eq!(s.len(), 101 - SWEEP_BUDGET);
            // each write removes at most SWEEP_BUDGET expired entries
            s.revoke_token("new", now + 1000, now).await.unwrap();
            assert_eq!(s.len(), 102 - 2 * SWEEP_BUDGET);
            for i in 0..20 {
                s.revoke_token(&format!("new{i}"), now + 1000, now).await.unwrap();
            }
            // every expired revocation is gone; the family and the 21 live ones stay
            assert_eq!(s.len(), 1 + 21);
            assert!(s.family_is_current("f", "b", now).await.unwrap());
            let queued = s.state.read().unwrap().queue.len();
            assert!(queued <= 1 + 21 + SWEEP_BUDGET, "queue {queued}");
        });
    }
}
