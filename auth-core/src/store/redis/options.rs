//! [`RedisOptions`]: the key prefix, the timeout and the TLS trust of a
//! [`RedisStore`](super::RedisStore), and their defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::store::StoreError;

/// How long a call to Redis may take before it fails with
/// [`StoreError::Timeout`], unless [`RedisOptions::timeout`] says otherwise.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// The key prefix unless [`RedisOptions::prefix`] says otherwise.
pub const DEFAULT_REDIS_PREFIX: &str = "auth";

/// How a [`RedisStore`](super::RedisStore) names its keys, how long it
/// waits, and which certificate authority its TLS trusts.
///
/// ```
/// use std::time::Duration;
/// let options = auth_core::RedisOptions::default().prefix("shop-auth").timeout(Duration::from_millis(100));
/// assert_eq!(options.prefix_str(), "shop-auth");
/// ```
///
/// With a TLS URL (`rediss://`, `rediss-cluster://`) the server's
/// certificate is checked against the platform's trusted roots, unless a
/// CA is given: then against that CA only.
///
/// ```
/// let options = auth_core::RedisOptions::default().ca_file("/etc/redis/tls/ca.crt");
/// assert!(options.has_ca());
/// ```
#[derive(Clone)]
pub struct RedisOptions {
    pub(super) prefix: String,
    pub(super) timeout: Duration,
    ca_files: Vec<PathBuf>,
    ca_pems: Vec<Vec<u8>>,
    pub(super) mirror: bool,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            timeout: DEFAULT_REDIS_TIMEOUT,
            ca_files: Vec::new(),
            ca_pems: Vec::new(),
            mirror: false,
        }
    }
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("ca_files", &self.ca_files)
            .field("ca_pems", &self.ca_pems.len())
            .field("mirror", &self.mirror)
            .finish()
    }
}

impl RedisOptions {
    /// The key prefix (default `auth`): two services on one Redis with
    /// different prefixes never see each other's state; two instances of
    /// one service share a prefix. No braces (it becomes the hash tag, so
    /// on Redis Cluster one prefix is one hash slot, on one node).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one call may take (default [`DEFAULT_REDIS_TIMEOUT`]);
    /// connecting is bounded by the same time.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts the certificate authority (or authorities) in this PEM file
    /// for the server's TLS certificate, **instead of** the platform's
    /// roots. Needs a TLS URL (`rediss://` or `rediss-cluster://`): with
    /// a plaintext URL, connecting is a configuration error, never a
    /// silent plaintext connection. The file is read when the store is
    /// made ([`RedisStore::lazy`](super::RedisStore::lazy) or
    /// [`connect_with`](super::RedisStore::connect_with)). Repeatable;
    /// adds to [`ca_pem`](Self::ca_pem).
    ///
    /// ```
    /// let options = auth_core::RedisOptions::default().ca_file("ca.crt");
    /// assert!(options.has_ca());
    /// ```
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push(path.into());
        self
    }

    /// Like [`ca_file`](Self::ca_file), from the PEM text itself (one or
    /// more `-----BEGIN CERTIFICATE-----` blocks).
    ///
    /// ```
    /// let pem = b"-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
    /// let options = auth_core::RedisOptions::default().ca_pem(pem.to_vec());
    /// assert!(options.has_ca());
    /// ```
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }

    /// The revocation mirror (default off): this instance keeps the live
    /// revocations (token ids, refresh families, subjects), and the opaque
    /// key/token records it has seen, in memory, kept current through
    /// Redis pub/sub, so that a protected request of every dialect does no
    /// round trip. Writes still go to Redis first: refresh rotation and
    /// reuse detection stay atomic in their scripts, and each script that
    /// revokes also takes the next number of the store's event sequence
    /// and publishes the change, in the same atomic step. Every instance
    /// sharing the prefix must run a version that publishes (this one).
    ///
    /// The mirror answers only while it knows it is complete: after
    /// `SUBSCRIBE` and a snapshot, with every event numbered exactly one
    /// more than the last, and within [`MIRROR_LEASE`](crate::MIRROR_LEASE)
    /// of the last probe that came back with the number the mirror has
    /// reached (asked for every 200 ms; a script publishes it from the node
    /// that owns the store's slot, behind every event before it). A lost
    /// event, a number that went back, a new epoch (a flushed or restarted
    /// Redis), a closed subscription or a lapsed lease sends every check to Redis at once
    /// (one round trip; 503 while Redis is down) until the instance has
    /// resubscribed and reloaded, which it does by itself. A revocation
    /// made on one instance is refused on the others when its event
    /// arrives (a few milliseconds), on the instance that made it at once.
    ///
    /// Redis must not evict the store's keys (`maxmemory-policy
    /// noeviction`, or memory to spare): the mirror's snapshots read the
    /// indexes of live revocations (`{PREFIX}:ir`, `:if`, `:is`), and an
    /// evicted index would be missing from every later snapshot (Redis
    /// itself, asked directly, stays right). Each instance asks Redis for a
    /// probe five times a second, which every instance receives: tens of
    /// instances per prefix cost little; hundreds would want a longer
    /// interval.
    ///
    /// Memory: every live revocation (as in Redis) and at most 100,000
    /// opaque records, the least recently used going first. One more
    /// connection per instance (the subscription; on a cluster, to the
    /// first seed node that answers: `PUBLISH` reaches every node). A
    /// mirrored store is made inside a tokio runtime.
    ///
    /// ```
    /// let options = auth_core::RedisOptions::default().mirror(true);
    /// # let _ = options;
    /// ```
    pub fn mirror(mut self, on: bool) -> Self {
        self.mirror = on;
        self
    }

    /// The configured prefix.
    pub fn prefix_str(&self) -> &str {
        &self.prefix
    }

    /// Whether a CA was given ([`ca_file`](Self::ca_file) or
    /// [`ca_pem`](Self::ca_pem)): if not, TLS trusts the platform's roots.
    ///
    /// ```
    /// assert!(!auth_core::RedisOptions::default().has_ca());
    /// ```
    pub fn has_ca(&self) -> bool {
        !(self.ca_files.is_empty() && self.ca_pems.is_empty())
    }

    pub(super) fn check(&self) -> Result<(), StoreError> {
        if self.prefix.is_empty() || self.prefix.contains(['{', '}']) || self.prefix.len() > 64 {
            return Err(StoreError::Backend(
                "the Redis key prefix must be 1 to 64 characters without `{` or `}`".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(StoreError::Backend("the Redis timeout must be more than zero".into()));
        }
        Ok(())
    }

    /// The CA certificates to trust, as one PEM, or `None` for the
    /// platform's roots. Reads the files; a file that cannot be read, or
    /// holds no certificate, is an error.
    pub(super) fn ca_bundle(&self) -> Result<Option<Vec<u8>>, StoreError> {
        if !self.has_ca() {
            return Ok(None);
        }
        let mut bundle = Vec::new();
        for path in &self.ca_files {
            let pem = std::fs::read(path).map_err(|err| {
                StoreError::Backend(format!("cannot read the Redis CA file {}: {err}", path.display()))
            })?;
            check_pem(&pem, &format!("the Redis CA file {}", path.display()))?;
            bundle.extend_from_slice(&pem);
            bundle.push(b'\n');
        }
        for pem in &self.ca_pems {
            check_pem(pem, "the Redis CA PEM")?;
            bundle.extend_from_slice(pem);
            bundle.push(b'\n');
        }
        Ok(Some(bundle))
    }
}

/// A PEM with no certificate would leave TLS trusting nothing: every
/// connection would fail with a certificate error far from its cause.
fn check_pem(pem: &[u8], what: &str) -> Result<(), StoreError> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    if pem.windows(BEGIN.len()).any(|w| w == BEGIN) {
        Ok(())
    } else {
        Err(StoreError::Backend(format!("{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")))
    }
}
