//! The verified-token cache: an access token's signature and claims are
//! checked once; later requests with the same token bytes get the verified
//! [`AuthIdentity`] back from memory.
//!
//! What a hit skips is only what cannot change for the same bytes: base64,
//! the signature, the header allow-list and the claims rules that do not
//! depend on the clock. Everything that can change a verdict is still
//! checked on every request by the caller: `exp`, `nbf` and `iat` against
//! the clock, revocation in the store, the principal when configured.
//!
//! - Keyed by the whole token: a hit compares every byte (the map compares
//!   keys after hashing), so a token that differs in one byte misses. The
//!   hash reads only the token's length and its last [`HASHED_TAIL`] bytes:
//!   only tokens that verified are inserted, and a verified token's tail is
//!   its signature, which no client can choose, so the entries spread over
//!   the map as well as with a hash of every byte (a crafted token sharing
//!   a cached token's tail finds one entry and misses on the comparison).
//! - An entry is trusted until the earlier of the token's own expiry and
//!   [`TokenCacheConfig::max_age`] after it was verified; a change of the
//!   key set empties the cache (a generation number makes entries verified
//!   under an older key set unusable even while a clear is under way).
//! - Bounded: at most [`TokenCacheConfig::max_bytes`] of tokens and claims
//!   (each entry weighed by its token and payload sizes plus a fixed
//!   overhead), tokens over [`TokenCacheConfig::max_token_len`] are never
//!   cached, failures are never cached.
//!
//! The map is `quick_cache` (sharded, S3-FIFO eviction: a flood of tokens
//! seen once goes through a small probation queue and does not push out
//! the tokens that keep coming back). Measured against `moka` and a
//! hand-written sharded `RwLock<HashMap>` for a hit on a 300-byte token:
//! ~100 ns, ~320 ns and ~140 ns (BENCHMARKS.md §7).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

use crate::claims::{AuthIdentity, Claims};

/// Settings of the verified-token cache ([`AuthorityConfig::token_cache`](crate::AuthorityConfig::token_cache)).
///
/// ```
/// use std::time::Duration;
/// use auth_core::TokenCacheConfig;
/// let config = TokenCacheConfig::default().max_age(Duration::from_secs(60)).max_bytes(4 << 20);
/// assert!(config.enabled);
/// assert_eq!(config.max_token_len, 2048);
/// assert!(!TokenCacheConfig::disabled().enabled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheConfig {
    /// Whether verified access tokens are cached at all. Default on.
    pub enabled: bool,
    /// The longest an entry is used without verifying its token again,
    /// whatever the token's own `exp`. Counted in whole seconds; under one
    /// second turns the cache off. Default 5 minutes.
    pub max_age: Duration,
    /// The memory bound: bytes of cached tokens and claims, each entry
    /// counted as its token, twice its payload (the raw JSON and the
    /// parsed claims) and [`ENTRY_OVERHEAD`]. Default 16 MiB.
    pub max_bytes: usize,
    /// Tokens longer than this are verified on every request, never
    /// cached. Default 2048 bytes.
    pub max_token_len: usize,
}

/// What an entry is counted as beyond its token and payload bytes: the
/// claims structure, the entry and the map's own bookkeeping.
pub const ENTRY_OVERHEAD: usize = std::mem::size_of::<Claims>() + std::mem::size_of::<Entry>() + 64;

impl Default for TokenCacheConfig {
    fn default() -> Self {
        Self { enabled: true, max_age: Duration::from_secs(300), max_bytes: 16 << 20, max_token_len: 2048 }
    }
}

impl TokenCacheConfig {
    /// No cache: every request verifies its token.
    pub fn disabled() -> Self {
        Self { enabled: false, ..Self::default() }
    }

    /// Sets the longest an entry is used.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Sets the memory bound, in bytes.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Sets the longest token cached, in bytes.
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }
}

/// The cache's counters, for metrics ([`Authority::token_cache_stats`](crate::Authority::token_cache_stats)).
///
/// ```
/// # let authority = auth_core::Authority::builder(auth_core::KeySet::new(auth_core::JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
/// let stats = authority.token_cache_stats();
/// assert_eq!((stats.hits, stats.misses, stats.entries), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCacheStats {
    /// Requests answered from the cache.
    pub hits: u64,
    /// Requests whose token had to be verified (not cached yet, too long,
    /// or past its entry's time). Both counters stay zero with the cache off.
    pub misses: u64,
    /// Entries held now.
    pub entries: u64,
    /// Their weight in bytes (see [`TokenCacheConfig::max_bytes`]).
    pub bytes: u64,
    /// The bound on `bytes`.
    pub max_bytes: u64,
}

#[derive(Clone)]
struct Entry {
    identity: AuthIdentity,
    /// Not used after this time (seconds since the epoch).
    until: i64,
    /// The key set generation it was verified under.
    generation: u64,
}

/// How many of a token's last bytes its hash reads: 32 base64url
/// characters, 192 bits of its signature.
const HASHED_TAIL: usize = 32;

/// What the hash of a token reads: its length and its tail.
fn hash_token<H: Hasher>(token: &[u8], state: &mut H) {
    state.write_usize(token.len());
    state.write(&token[token.len().saturating_sub(HASHED_TAIL)..]);
}

/// A cached token's bytes: equal by every byte, hashed by
/// [`hash_token`].
#[derive(Clone, PartialEq, Eq)]
struct Key(Box<[u8]>);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(&self.0, state);
    }
}

/// A presented token, looked up without copying it into a [`Key`].
struct Probe<'a>(&'a [u8]);

impl Hash for Probe<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_token(self.0, state);
    }
}

impl Equivalent<Key> for Probe<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *self.0 == *key.0
    }
}

#[derive(Clone, Copy)]
struct ByBytes;

impl Weighter<Key, Entry> for ByBytes {
    fn weight(&self, token: &Key, entry: &Entry) -> u64 {
        (token.0.len() + 2 * entry.identity.payload_len() + ENTRY_OVERHEAD) as u64
    }
}

/// A counter every core increments on every request: striped over cache
/// lines, each thread on its own stripe, so that cores do not pass one
/// line back and forth; read by summing the stripes.
#[derive(Default)]
struct Counter([Stripe; STRIPES]);

const STRIPES: usize = 16;

#[repr(align(64))]
#[derive(Default)]
struct Stripe(AtomicU64);

impl Counter {
    fn add(&self) {
        thread_local! {
            static STRIPE: usize = {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                (NEXT.fetch_add(1, Ordering::Relaxed) as usize) % STRIPES
            };
        }
        let stripe = STRIPE.with(|s| *s);
        self.0[stripe].0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// The cache an [`Authority`](crate::Authority) keeps for access tokens.
pub(crate) struct TokenCache {
    map: Option<Cache<Key, Entry, ByBytes>>,
    max_age: i64,
    max_token_len: usize,
    max_bytes: u64,
    generation: AtomicU64,
    hits: Counter,
    misses: Counter,
    /// `tokenauth_token_cache_lookups_total`, registered once.
    lookups: crate::metrics::record::CacheLookups,
}

impl TokenCache {
    pub(crate) fn new(config: &TokenCacheConfig) -> Self {
        let max_age = crate::time::secs(config.max_age);
        let on = config.enabled && max_age > 0 && config.max_bytes > 0 && config.max_token_len > 0;
        // A guess at the number of entries, for the map's initial sizing.
        let typical = 512 + ENTRY_OVERHEAD;
        let map = on
            .then(|| Cache::with_weighter(config.max_bytes / typical + 1, config.max_bytes as u64, ByBytes));
        Self {
            map,
            max_age,
            max_token_len: config.max_token_len,
            max_bytes: config.max_bytes as u64,
            generation: AtomicU64::new(0),
            hits: Counter::default(),
            misses: Counter::default(),
            lookups: crate::metrics::record::CacheLookups::default(),
        }
    }

    /// The key set generation to verify a miss under: read *before* the
    /// key set is loaded, so that an entry verified with a key set that is
    /// being replaced is stored under the old number and never used.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The identity cached for exactly the bytes `token`, if it may still
    /// be used at `now`, counted as a hit (the caller still checks the
    /// clock claims and revocation). A byte-equal key was a valid token
    /// when it was cached, so the caller need not parse `token` first.
    pub(crate) fn hit(&self, token: &[u8], now: i64) -> Option<AuthIdentity> {
        let map = self.map.as_ref()?;
        if token.len() > self.max_token_len {
            return None;
        }
        let entry = map.get(&Probe(token)).filter(|e| e.generation == self.generation() && now < e.until)?;
        self.hits.add();
        self.lookups.record(true);
        Some(entry.identity)
    }

    /// Counts a token that had to be verified.
    pub(crate) fn miss(&self) {
        if self.map.is_some() {
            self.misses.add();
            self.lookups.record(false);
        }
    }

    /// Caches a token verified at `now` under key set `generation`.
    pub(crate) fn insert(&self, token: &str, identity: &AuthIdentity, now: i64, generation: u64) {
        let Some(map) = &self.map else { return };
        if token.len() > self.max_token_len {
            return;
        }
        let until = now.saturating_add(self.max_age).min(identity.claims.exp);
        if until > now {
            map.insert(Key(token.as_bytes().into()), Entry { identity: identity.clone(), until, generation });
        }
    }

    /// Drops `token`'s entry (it failed a clock check).
    pub(crate) fn remove(&self, token: &[u8]) {
        if let Some(map) = &self.map {
            map.remove(&Probe(token));
        }
    }

    /// Makes every entry unusable and drops them: the key set changed.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(map) = &self.map {
            map.clear();
        }
    }

    pub(crate) fn stats(&self) -> TokenCacheStats {
        let (entries, bytes) = self.map.as_ref().map_or((0, 0), |m| (m.len() as u64, m.weight()));
        TokenCacheStats {
            hits: self.hits.get(),
            misses: self.misses.get(),
            entries,
            bytes,
            max_bytes: self.max_bytes,
        }
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").field("stats", &self.stats()).finish_non_exhaustive()
    }
}
