//! [`AgentBuilder`]: an [`Agent`]'s account, mount, renewal margin, token
//! store and observer.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::origin::Origin;
use super::{Agent, AgentEvent, Inner, Observer};
use crate::agent::error::AgentError;
use crate::agent::persist::{MemoryTokenStore, TokenStore};
use crate::agent::wire::{ClientDialect, Wire};

/// Configures an [`Agent`] ([`Agent::builder`]).
pub struct AgentBuilder {
    dialect: ClientDialect,
    base: String,
    username: String,
    password: String,
    mount: Option<String>,
    margin: Option<Duration>,
    store: Option<Arc<dyn TokenStore>>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for AgentBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentBuilder")
            .field("dialect", &self.dialect)
            .field("base", &self.base)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The default [`AgentBuilder::refresh_margin`]: renew 30 s before expiry
/// (at most half way through a token's life).
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(30);

impl AgentBuilder {
    /// Where the dialect's routes are mounted below the base URL (default:
    /// the real API's, e.g. `/auth` for standard, `/api` for datarhei).
    pub fn mount(mut self, mount: impl Into<String>) -> Self {
        self.mount = Some(mount.into());
        self
    }

    /// Renew this long before the access token expires (never earlier than
    /// half way through its life); `None` renews only after the server
    /// answers 401, as the ecHome SDK does. Default
    /// [`DEFAULT_REFRESH_MARGIN`].
    pub fn refresh_margin(mut self, margin: Option<Duration>) -> Self {
        self.margin = margin;
        self
    }

    /// Where tokens are kept between runs (default: memory).
    pub fn store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Called after every login, refresh, restore and refused refresh.
    pub fn on_event(mut self, observer: impl Fn(&AgentEvent) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// The agent; an error if the base URL is not `http://` or `https://`
    /// with a host.
    pub fn build(self) -> Result<Agent, AgentError> {
        let base = self.base.trim_end_matches('/').to_owned();
        let origin = Origin::parse(&base).ok_or_else(|| {
            AgentError::Config(format!("`{base}` is not an http:// or https:// URL with a host"))
        })?;
        let account = format!("{} {base} {}", self.dialect.name(), self.username);
        let wire = Wire::new(self.dialect, &base, self.mount.as_deref());
        Ok(Agent {
            inner: Arc::new(Inner {
                wire,
                username: self.username,
                password: self.password,
                account,
                origin,
                margin: self.margin,
                store: self.store.unwrap_or_else(|| Arc::new(MemoryTokenStore::default())),
                observer: self.observer,
                current: RwLock::new(None),
                renewing: tokio::sync::Mutex::new(false),
                attempts: AtomicU64::new(0),
                failure: std::sync::Mutex::new(None),
                generations: AtomicU64::new(0),
                logins: AtomicU64::new(0),
                refreshes: AtomicU64::new(0),
                device: std::sync::Mutex::new(None),
            }),
        })
    }
}

impl Agent {
    /// An agent for `username` on the server at `base` (`http://host:port`,
    /// without the dialect's mount), speaking `dialect`.
    pub fn builder(
        dialect: ClientDialect,
        base: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> AgentBuilder {
        AgentBuilder {
            dialect,
            base: base.into(),
            username: username.into(),
            password: password.into(),
            mount: None,
            margin: Some(DEFAULT_REFRESH_MARGIN),
            store: None,
            observer: None,
        }
    }
}
