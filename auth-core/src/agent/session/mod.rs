//! [`Agent`]: one account's credentials, logged in lazily and renewed
//! single-flight.
//!
//! Every request asks [`Agent::authorization`] for the header to send. The
//! fast path reads the current credential under a short read lock. When
//! there is none, or it is due for renewal, callers queue on one async
//! mutex: the first renews (refresh, or log in), the others find the fresh
//! credential when their turn comes and return it. After a 401,
//! [`Agent::rejected`] does the same keyed by the credential's generation,
//! so N requests refused with one token cause one renewal.

mod builder;
mod credential;
mod origin;
mod renew;
mod request;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use builder::{AgentBuilder, DEFAULT_REFRESH_MARGIN};
pub use credential::{AgentEvent, Credential};

use super::error::{AgentError, BoxError};
use super::persist::TokenStore;
use super::wire::{Exchange, Reply, Wire};
use credential::Held;
use origin::Origin;

/// Sends the client's own requests (logins and refreshes). Each adapter
/// implements it over its HTTP client; it reads at most
/// [`MAX_REPLY_LEN`](super::MAX_REPLY_LEN) bytes of an answer.
pub trait Transport: Send + Sync {
    /// Sends `exchange` and reads the answer.
    fn send(&self, exchange: Exchange) -> impl Future<Output = Result<Reply, BoxError>> + Send;
}

type Observer = Arc<dyn Fn(&AgentEvent) + Send + Sync>;

struct Inner {
    wire: Wire,
    username: String,
    password: String,
    account: String,
    origin: Origin,
    margin: Option<Duration>,
    store: Arc<dyn TokenStore>,
    observer: Option<Observer>,
    current: RwLock<Option<Held>>,
    /// Held by whoever renews; `true` once the store has been read.
    renewing: tokio::sync::Mutex<bool>,
    /// Renewals finished, and the last one's error if it failed.
    attempts: AtomicU64,
    failure: std::sync::Mutex<Option<(u64, AgentError)>>,
    generations: AtomicU64,
    logins: AtomicU64,
    refreshes: AtomicU64,
    /// The device token of the last login that answered one (in memory).
    device: std::sync::Mutex<Option<String>>,
}

/// One account on one server, in one dialect: logs in when first needed,
/// attaches the dialect's credential, renews it before it expires and after
/// a 401, one renewal at a time. Cheap to clone (one `Arc`); clones share
/// the credentials.
///
/// Adapters drive it: `auth_tower::client` (a tower layer for any HTTP
/// client service, and a `reqwest-middleware` middleware).
///
/// ```
/// use auth_core::agent::{Agent, ClientDialect};
/// let agent = Agent::builder(ClientDialect::Standard, "http://127.0.0.1:3000", "demo", "demo-password")
///     .refresh_margin(Some(std::time::Duration::from_secs(30)))
///     .build()
///     .unwrap();
/// assert_eq!(agent.account(), "standard http://127.0.0.1:3000 demo");
/// assert!(format!("{agent:?}").contains("<redacted>"));
/// assert!(!format!("{agent:?}").contains("demo-password"));
/// ```
#[derive(Clone)]
pub struct Agent {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("account", &self.inner.account)
            .field("password", &"<redacted>")
            .field("margin", &self.inner.margin)
            .field("logins", &self.logins())
            .field("refreshes", &self.refreshes())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
