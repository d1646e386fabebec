//! The revocation mirror: a shared store's revocations, and the opaque
//! records this instance has seen, held in memory and kept fresh by the
//! store's own notification channel, so that a protected request does no
//! I/O (opt-in: [`RedisOptions::mirror`](crate::RedisOptions::mirror),
//! [`SqlOptions::mirror`](crate::SqlOptions::mirror)).
//!
//! **Writes still go to the store first**, exactly as without the mirror:
//! refresh rotation and reuse detection stay atomic in the store, and a
//! write that cannot reach the store fails (503). The script or statement
//! that commits a revocation also, in the same atomic step, takes the
//! next number of the store's event sequence and publishes the change;
//! the instance that wrote it applies it to its own mirror at once, every
//! other instance when the event arrives.
//!
//! **Correctness before speed.** An instance answers from its mirror only
//! while it *knows* the mirror is complete:
//! - it (re)subscribes first, then loads a snapshot of every live
//!   revocation with the sequence number it is current to; events up to
//!   that number are already in it, every later one must be exactly one
//!   more than the last;
//! - a missing number (a lost event), a number that went back, an unknown
//!   epoch (the store lost its counter: a flushed or restarted Redis), a
//!   dropped subscription or a line it cannot read stop the answers from
//!   memory at once; until the instance has resubscribed and reloaded,
//!   every check goes to the store (one round trip, 503 while the store is
//!   down), as without a mirror;
//! - a lease covers what a closed socket cannot tell: every 200 ms the
//!   instance asks the store to publish a *probe* carrying the number the
//!   store has reached, in order with the events, through the same path
//!   (on Redis Cluster, from the node that owns the store's slot). Only
//!   when its own probe comes back, with exactly the number the mirror
//!   has reached, is the mirror trusted for one more second
//!   ([`MIRROR_LEASE`]) from when the probe was sent. Every probe (any
//!   instance's) that carries another number makes the mirror resync. A
//!   subscription that goes silent, a path that drops messages, or a
//!   store that rolled back is distrusted within that second.
//!
//! So a revocation committed on one instance is refused on every other as
//! soon as its event arrives (milliseconds on a live channel: measured in
//! the repository's BENCHMARKS.md), and never later than the lease when
//! the channel fails silently; nothing revoked before an instance knew it
//! was behind is ever answered from memory.
//!
//! **Only protected requests read the mirror**
//! ([`Store::is_revoked_now`](crate::Store::is_revoked_now),
//! [`Store::get_opaque_for_request`](crate::Store::get_opaque_for_request)):
//! a refresh, an extension or an introspection asks the store
//! ([`Store::is_revoked`](crate::Store::is_revoked),
//! [`Store::get_opaque_checked`](crate::Store::get_opaque_checked)), so a
//! credential is never *issued* on the strength of a copy that might be a
//! moment behind.
//!
//! **Why these channels.** Redis: plain pub/sub (`PUBLISH` from the
//! writing script, one `SUBSCRIBE` per instance), not RESP3 client-side
//! caching: tracking invalidates keys an instance has *read*, but a
//! mirror has to learn about token ids it has never seen (a revocation is
//! news about a key nobody read), and tracking carries no sequence to
//! notice a loss. Pub/sub delivers every change, in order, on one
//! connection, and a probe published the same way proves it is current. PostgreSQL: `LISTEN` /
//! `NOTIFY` (sqlx's `PgListener`), sent by the writing statement in its
//! own transaction, so a notification exists only for a committed change
//! and arrives in commit order; the sequence is one row every writer
//! updates, so commit order and sequence order are the same.

// (a SQLite-only build uses only the event types)
#![cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code, unused_imports))]

mod event;
#[cfg(test)]
pub(crate) mod pair;
mod sync;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

pub(crate) use event::{Change, Event, Snapshot};
pub(crate) use sync::{Feed, Source, follow};

use super::{OpaqueRecord, TokenRef};

/// How long a mirror is trusted after its probe (the store's current
/// number, published in order with the events) came back: the bound on
/// staleness when a channel fails without closing.
pub const MIRROR_LEASE: Duration = Duration::from_secs(1);

/// How often the store is asked for a probe (renewing the lease).
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(200);

/// The most opaque records a mirror keeps (the least recently used go).
const OPAQUE_CAPACITY: usize = 100_000;

type Map<V> = HashMap<String, V, ahash::RandomState>;

/// One instance's copy of a shared store's revocations.
pub(crate) struct Mirror {
    state: RwLock<State>,
    opaque: quick_cache::sync::Cache<String, OpaqueRecord>,
    base: Instant,
    /// Nanoseconds after `base` until which the mirror may answer; 0: not trusted.
    trusted_until: AtomicU64,
    resyncs: AtomicU64,
}

#[derive(Default)]
struct State {
    epoch: String,
    seq: u64,
    /// The number the last snapshot was current to: events up to it are old news.
    snapshot_seq: u64,
    tokens: Map<i64>,
    families: Map<i64>,
    /// Subject: (cut-off, until).
    subjects: Map<(i64, i64)>,
    /// Bumped by every change: an opaque record read from the store while
    /// it moved is not cached.
    generation: u64,
    /// The changes this instance committed lately, with their numbers: a
    /// snapshot taken just before one of them committed must not erase it
    /// while its event is still on the way (the writer refuses at once).
    noted: std::collections::VecDeque<Event>,
}

/// How many of its own changes an instance replays over a snapshot.
const NOTED: usize = 256;

/// What the mirror made of an event from the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The next one: applied.
    Next,
    /// Already in the mirror (in the snapshot, or seen before).
    Old,
    /// Not the next one, or another epoch: the mirror must resync.
    Gap,
    /// A probe with the number the mirror has reached, sent by `nonce`.
    Probe(String),
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("trusted", &self.trusted()).finish_non_exhaustive()
    }
}

impl Mirror {
    pub(crate) fn new() -> Self {
        Self {
            state: RwLock::default(),
            opaque: quick_cache::sync::Cache::new(OPAQUE_CAPACITY),
            base: Instant::now(),
            trusted_until: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX).max(1)
    }

    /// Whether the mirror may answer now.
    pub(crate) fn trusted(&self) -> bool {
        let until = self.trusted_until.load(Ordering::Acquire);
        until != 0 && self.nanos(Instant::now()) < until
    }

    /// Stops answering from memory at once.
    pub(crate) fn distrust(&self) {
        self.trusted_until.store(0, Ordering::Release);
    }

    /// Answers from memory until `deadline` (unless distrusted before).
    pub(crate) fn trust_until(&self, deadline: Instant) {
        self.trusted_until.store(self.nanos(deadline), Ordering::Release);
    }

    /// How many times the mirror loaded a snapshot.
    #[cfg(test)]
    pub(crate) fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::Relaxed)
    }

    /// Exactly [`Store::is_revoked`](crate::Store::is_revoked) on the
    /// mirrored state.
    pub(crate) fn is_revoked(&self, token: &TokenRef<'_>, now: i64) -> bool {
        let s = self.read();
        if token.jti.and_then(|j| s.tokens.get(j)).is_some_and(|until| *until > now) {
            return true;
        }
        if token.family.and_then(|f| s.families.get(f)).is_some_and(|until| *until > now) {
            return true;
        }
        s.subject_revoked(token.sub, token.iat, now)
    }

    /// The cached opaque record under `hashed_key` if live, and whether a
    /// subject-wide revocation covers it; else the generation to pass to
    /// [`remember_opaque`](Self::remember_opaque) with what the store says.
    pub(crate) fn opaque(&self, hashed_key: &str, now: i64) -> Result<(OpaqueRecord, bool), u64> {
        let s = self.read();
        match self.opaque.get(hashed_key) {
            Some(record) if record.refresh_expires_at > now => {
                let revoked = s.subject_revoked(&record.sub, record.issued_at, now);
                Ok((record, revoked))
            }
            _ => Err(s.generation),
        }
    }

    /// Caches a record read from the store, unless anything changed since
    /// `generation` (the read may predate a change whose event is here).
    pub(crate) fn remember_opaque(&self, hashed_key: String, record: OpaqueRecord, generation: u64) {
        let s = self.read();
        if s.generation == generation {
            self.opaque.insert(hashed_key, record);
        }
    }

    /// [`Store::get_opaque_for_request`](crate::Store::get_opaque_for_request)
    /// for a store whose mirror is `mirror` (if it may answer now): the
    /// cached record under `key`, or what `read` (the store's
    /// `get_opaque_checked`) answers, cached unless anything changed while
    /// it was read.
    pub(crate) async fn opaque_or(
        mirror: Option<&Self>,
        key: &str,
        now: i64,
        read: impl Future<Output = Result<Option<(OpaqueRecord, bool)>, super::StoreError>>,
    ) -> Result<Option<(OpaqueRecord, bool)>, super::StoreError> {
        let Some(mirror) = mirror else { return read.await };
        let hashed_key = super::codec::hashed_key(key);
        let generation = match mirror.opaque(&hashed_key, now) {
            Ok(hit) => return Ok(Some(hit)),
            Err(generation) => generation,
        };
        let found = read.await?;
        if let Some((record, _)) = &found {
            mirror.remember_opaque(hashed_key, record.clone(), generation);
        }
        Ok(found)
    }

    /// Replaces everything with `snapshot` (the opaque cache is emptied:
    /// invalidations may have been missed).
    pub(crate) fn reset(&self, snapshot: Snapshot, now: i64) {
        let mut s = self.write();
        let generation = s.generation + 1;
        let noted = std::mem::take(&mut s.noted);
        *s = State {
            epoch: snapshot.epoch,
            seq: snapshot.seq,
            snapshot_seq: snapshot.seq,
            generation,
            ..State::default()
        };
        for change in snapshot.changes {
            s.apply(&change, now);
        }
        let (epoch, seq) = (s.epoch.clone(), s.seq);
        for event in noted.iter().filter(|e| e.epoch == epoch && e.seq > seq) {
            s.apply(&event.change, now);
        }
        s.noted = noted;
        self.opaque.clear();
        self.resyncs.fetch_add(1, Ordering::Relaxed);
    }

    /// An event from the channel, in sequence.
    pub(crate) fn apply(&self, event: &Event, now: i64) -> Applied {
        let mut s = self.write();
        if event.epoch != s.epoch {
            return Applied::Gap;
        }
        if let Change::Probe { nonce } = &event.change {
            return match event.seq {
                // (published before the snapshot was read: any instance's, on its way)
                seq if seq < s.snapshot_seq => Applied::Old,
                seq if seq == s.seq => Applied::Probe(nonce.clone()),
                _ => Applied::Gap,
            };
        }
        if event.seq <= s.snapshot_seq {
            return Applied::Old;
        }
        // (a number at or below the last one, past the snapshot, went back)
        if event.seq != s.seq + 1 {
            return Applied::Gap;
        }
        s.seq = event.seq;
        s.apply(&event.change, now);
        drop(s);
        self.forget(&event.change);
        Applied::Next
    }

    /// A change committed by the only process that writes the store (a
    /// mirrored SQLite file): applied, with no event to wait for.
    #[cfg(any(feature = "postgres", feature = "sqlite"))]
    pub(crate) fn note_change(&self, change: &Change, now: i64) {
        self.write().apply(change, now);
        self.forget(change);
    }

    /// Answers from memory for as long as it lives: for a store that no
    /// other process writes (every change comes through
    /// [`note_change`](Self::note_change)).
    #[cfg(feature = "sqlite")]
    pub(crate) fn trust_always(&self) {
        self.trust_until(Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600));
    }

    /// A change this instance just committed (its event comes later and
    /// finds it applied already: every change is idempotent).
    pub(crate) fn note(&self, line: &str, now: i64) {
        if let Some(event) = Event::parse(line) {
            let mut s = self.write();
            s.apply(&event.change, now);
            if s.noted.len() == NOTED {
                s.noted.pop_front();
            }
            s.noted.push_back(event.clone());
            drop(s);
            self.forget(&event.change);
        }
    }

    fn forget(&self, change: &Change) {
        if let Change::Opaque { hashed_key } = change {
            self.opaque.remove(hashed_key.as_str());
        }
    }

    /// Drops what has expired.
    pub(crate) fn sweep(&self, now: i64) {
        let mut s = self.write();
        s.tokens.retain(|_, until| *until > now);
        s.families.retain(|_, until| *until > now);
        s.subjects.retain(|_, (_, until)| *until > now);
    }
}

impl State {
    fn subject_revoked(&self, sub: &str, iat: i64, now: i64) -> bool {
        self.subjects.get(sub).is_some_and(|(cut, until)| iat <= *cut && *until > now)
    }

    /// Merges one change the way the stores merge it: a later end wins;
    /// a live subject mark keeps the later cut-off, an expired one is replaced.
    fn apply(&mut self, change: &Change, now: i64) {
        self.generation += 1;
        match change {
            Change::Token { jti, until } => {
                let slot = self.tokens.entry(jti.clone()).or_insert(*until);
                *slot = (*slot).max(*until);
            }
            Change::Family { family, until } => {
                let slot = self.families.entry(family.clone()).or_insert(*until);
                *slot = (*slot).max(*until);
            }
            Change::Subject { sub, cut, until } => {
                let slot = self.subjects.entry(sub.clone()).or_insert((*cut, *until));
                *slot = if slot.1 > now { (slot.0.max(*cut), slot.1.max(*until)) } else { (*cut, *until) };
            }
            Change::Opaque { .. } | Change::Probe { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests;
