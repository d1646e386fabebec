//! The embedded, in-process [`Store`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use subtle::ConstantTimeEq;

use super::{OpaqueRecord, Rotation, Store, StoreError, TokenRef};

/// Writes between two sweeps of expired entries.
const SWEEP_EVERY: u32 = 1024;

/// An in-memory [`Store`]: one process, nothing persisted. Expired entries
/// are swept as writes come in, so memory does not grow without bound.
/// Cheap to clone (the state is shared).
///
/// ```
/// let store = auth_core::MemoryStore::new();
/// let shared = store.clone();
/// # let _ = shared;
/// ```
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<RwLock<State>>,
    writes: Arc<AtomicU32>,
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
    failures: HashMap<String, (u32, i64)>,
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
        self.failures.retain(|_, (_, end)| *end > now);
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
        s.revoked.len() + s.subjects.len() + s.families.len() + s.opaque.len() + s.failures.len()
    }

    /// Whether the store holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every expired entry now.
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
        if self.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            guard.sweep(now);
        }
        guard
    }
}

fn unix_now() -> i64 {
    crate::time::now()
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn revoke_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        self.write(unix_now()).revoked.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn revoke_subject(&self, sub: &str, cutoff: i64, keep_until: i64) -> Result<(), StoreError> {
        let mut s = self.write(unix_now());
        let entry = s.subjects.entry(sub.to_owned()).or_insert((cutoff, keep_until));
        entry.0 = entry.0.max(cutoff);
        entry.1 = entry.1.max(keep_until);
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
        self.write(unix_now()).families.insert(family.to_owned(), fam);
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
            if prev == presented && !*used && grace_secs > 0 && now - *at <= grace_secs {
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

    async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        if let Some(f) = self.write(unix_now()).families.get_mut(family) {
            f.revoked = true;
        }
        Ok(())
    }

    async fn put_opaque(&self, key: &str, record: OpaqueRecord) -> Result<(), StoreError> {
        self.write(unix_now()).opaque.insert(key.to_owned(), record);
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
    ) -> Result<bool, StoreError> {
        let mut s = self.write(now);
        let Some(rec) = s.opaque.get_mut(key) else { return Ok(false) };
        if rec.refresh_expires_at <= now || !bool::from(rec.refresh_hash.ct_eq(refresh_hash)) {
            return Ok(false);
        }
        *rec = next;
        Ok(true)
    }

    async fn delete_opaque(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.write(unix_now()).opaque.remove(key).is_some())
    }

    async fn record_failure(&self, key: &str, window_secs: i64, now: i64) -> Result<u32, StoreError> {
        let mut s = self.write(now);
        let entry = s.failures.entry(key.to_owned()).or_insert((0, now + window_secs));
        if entry.1 <= now {
            *entry = (0, now + window_secs);
        }
        entry.0 = entry.0.saturating_add(1);
        Ok(entry.0)
    }

    async fn failures(&self, key: &str, now: i64) -> Result<(u32, i64), StoreError> {
        Ok(match self.read().failures.get(key) {
            Some((count, end)) if *end > now => (*count, end - now),
            _ => (0, 0),
        })
    }

    async fn clear_failures(&self, key: &str) -> Result<(), StoreError> {
        self.write(unix_now()).failures.remove(key);
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
            let rec = OpaqueRecord {
                sub: "u".into(),
                username: "user".into(),
                roles: Vec::new(),
                token_hash: [1; 32],
                refresh_hash: [2; 32],
                expires_at: 500,
                refresh_expires_at: 1000,
            };
            s.put_opaque("k", rec.clone()).await.unwrap();
            let next = OpaqueRecord { token_hash: [3; 32], refresh_hash: [4; 32], ..rec.clone() };
            assert!(!s.rotate_opaque("k", &[9; 32], next.clone(), 10).await.unwrap());
            assert!(s.rotate_opaque("k", &[2; 32], next.clone(), 10).await.unwrap());
            assert!(!s.rotate_opaque("k", &[2; 32], next, 10).await.unwrap());
            assert_eq!(s.get_opaque("k", 10).await.unwrap().map(|r| r.token_hash), Some([3; 32]));
            assert!(s.get_opaque("k", 1000).await.unwrap().is_none());
            assert!(s.delete_opaque("k").await.unwrap());
            assert!(s.get_opaque("k", 10).await.unwrap().is_none());
        });
    }

    #[test]
    fn failure_counter_windows() {
        rt().block_on(async {
            let s = MemoryStore::new();
            assert_eq!(s.record_failure("u", 60, 0).await.unwrap(), 1);
            assert_eq!(s.record_failure("u", 60, 30).await.unwrap(), 2);
            assert_eq!(s.failures("u", 30).await.unwrap(), (2, 30));
            assert_eq!(s.record_failure("u", 60, 60).await.unwrap(), 1);
            s.clear_failures("u").await.unwrap();
            assert_eq!(s.failures("u", 61).await.unwrap(), (0, 0));
        });
    }
}
