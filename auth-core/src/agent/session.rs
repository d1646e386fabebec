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

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::error::{AgentError, BoxError};
use super::persist::{MemoryTokenStore, TokenStore};
use super::tokens::Tokens;
use super::wire::{ClientDialect, Exchange, Reply, Step, Wire};

/// Sends the client's own requests (logins and refreshes). Each adapter
/// implements it over its HTTP client; it reads at most
/// [`MAX_REPLY_LEN`](super::MAX_REPLY_LEN) bytes of an answer.
pub trait Transport: Send + Sync {
    /// Sends `exchange` and reads the answer.
    fn send(&self, exchange: Exchange) -> impl Future<Output = Result<Reply, BoxError>> + Send;
}

/// What happened to the credentials, for [`AgentBuilder::on_event`]. Never
/// carries a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentEvent {
    /// A login succeeded.
    LoggedIn {
        /// How long the new access token lives, if known.
        expires_in: Option<Duration>,
    },
    /// A refresh (or extend) succeeded.
    Refreshed {
        /// How long the new access token lives, if known.
        expires_in: Option<Duration>,
    },
    /// Tokens were found in the [`TokenStore`] and are used without a login.
    Restored {
        /// How long the access token has left, if known.
        expires_in: Option<Duration>,
    },
    /// The server refused a refresh; a login follows.
    RefreshRefused {
        /// The status it answered.
        status: u16,
    },
}

/// The `Authorization` value to send, and which credential it is (to hand
/// back to [`Agent::rejected`] after a 401). `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    header: Arc<str>,
    generation: u64,
}

impl Credential {
    /// The `Authorization` header value.
    pub fn header_value(&self) -> &str {
        &self.header
    }

    /// Which credential this is: it changes at every login and refresh.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential {{ generation: {}, header: <redacted> }}", self.generation)
    }
}

/// The credential in use.
#[derive(Clone)]
struct Held {
    tokens: Arc<Tokens>,
    credential: Credential,
    /// The server refused it (a 401): renew before using it again.
    dead: bool,
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
    /// the seed API's, e.g. `/auth` for standard, `/api` for datarhei).
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

/// Scheme, host and port of the base URL, to tell the server's requests
/// from others.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    fn parse(url: &str) -> Option<Self> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, url.strip_prefix("http://")?)
        };
        Self::from_parts(https, rest.split(['/', '?', '#']).next()?)
    }

    fn from_parts(https: bool, authority: &str) -> Option<Self> {
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let default = if https { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
            _ => (authority, default),
        };
        (!host.is_empty()).then(|| Self { https, host: host.to_ascii_lowercase(), port })
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
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

    /// `"<dialect> <base URL> <username>"`: the key of this account's
    /// tokens in the [`TokenStore`].
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The dialect spoken.
    pub fn dialect(&self) -> &ClientDialect {
        &self.inner.wire.dialect
    }

    /// Successful logins so far.
    pub fn logins(&self) -> u64 {
        self.inner.logins.load(Ordering::Relaxed)
    }

    /// Successful refreshes (or extends) so far.
    pub fn refreshes(&self) -> u64 {
        self.inner.refreshes.load(Ordering::Relaxed)
    }

    /// Whether a request to `scheme://authority` goes to this agent's
    /// server (only those get the credential: a token is never sent to
    /// another host). Default ports count as given.
    ///
    /// ```
    /// # use auth_core::agent::{Agent, ClientDialect};
    /// let agent = Agent::builder(ClientDialect::Standard, "http://API.example:80/", "u", "p").build().unwrap();
    /// assert!(agent.is_own_origin("http", "api.example"));
    /// assert!(!agent.is_own_origin("https", "api.example"));
    /// assert!(!agent.is_own_origin("http", "api.example.evil"));
    /// ```
    pub fn is_own_origin(&self, scheme: &str, authority: &str) -> bool {
        let https = match scheme {
            s if s.eq_ignore_ascii_case("https") => true,
            s if s.eq_ignore_ascii_case("http") => false,
            _ => return false,
        };
        Origin::from_parts(https, authority).is_some_and(|o| o == self.inner.origin)
    }

    /// The credential to send now: the current one, or a renewed one if it
    /// is due (a login when there is none). Concurrent callers share one
    /// renewal.
    pub async fn authorization<T: Transport>(&self, transport: &T) -> Result<Credential, AgentError> {
        if let Some(c) = self.usable(now_ms()) {
            return Ok(c);
        }
        let seen = self.inner.attempts.load(Ordering::Acquire);
        let mut loaded = self.inner.renewing.lock().await;
        if !*loaded {
            *loaded = true;
            self.restore().await;
        }
        if let Some(c) = self.usable(now_ms()) {
            return Ok(c);
        }
        self.renew_once(transport, seen).await
    }

    /// The server answered 401 to a request sent with `refused`: renew,
    /// unless another caller already has, and return the credential to
    /// retry with.
    pub async fn rejected<T: Transport>(
        &self,
        transport: &T,
        refused: &Credential,
    ) -> Result<Credential, AgentError> {
        let seen = self.inner.attempts.load(Ordering::Acquire);
        let _turn = self.inner.renewing.lock().await;
        if let Some(held) = self.held().filter(|h| !h.dead && h.credential.generation != refused.generation) {
            return Ok(held.credential);
        }
        self.invalidate(refused);
        self.renew_once(transport, seen).await
    }

    /// Renews (the caller holds the renewal lock), unless a renewal failed
    /// while the caller waited for its turn: then that failure is the
    /// answer, so N callers behind a refused login cause one login, not N.
    async fn renew_once<T: Transport>(&self, transport: &T, seen: u64) -> Result<Credential, AgentError> {
        let attempts = self.inner.attempts.load(Ordering::Acquire);
        if attempts != seen
            && let Ok(failure) = self.inner.failure.lock()
            && let Some((attempt, err)) = failure.as_ref()
            && *attempt == attempts
        {
            return Err(err.shared());
        }
        let result = self.renew(transport).await;
        let attempt = self.inner.attempts.fetch_add(1, Ordering::AcqRel) + 1;
        if let Ok(mut failure) = self.inner.failure.lock() {
            *failure = result.as_ref().err().map(|e| (attempt, e.shared()));
        }
        result
    }

    /// Marks `refused` dead without renewing now (a request that cannot be
    /// retried got a 401): the next request renews.
    pub fn invalidate(&self, refused: &Credential) {
        if let Ok(mut current) = self.inner.current.write()
            && let Some(held) = current.as_mut().filter(|h| h.credential.generation == refused.generation)
        {
            held.dead = true;
        }
    }

    /// Forgets the credentials here and in the store: the next request
    /// logs in.
    pub async fn forget(&self) {
        let _turn = self.inner.renewing.lock().await;
        if let Ok(mut current) = self.inner.current.write() {
            *current = None;
        }
        if let Err(e) = self.inner.store.clear(&self.inner.account).await {
            tracing::warn!(error = %e, "the token store could not forget the tokens");
        }
    }

    fn held(&self) -> Option<Held> {
        self.inner.current.read().ok().and_then(|c| c.clone())
    }

    /// The current credential if it needs no renewal (the per-request
    /// path: checked under the read lock, only the credential cloned).
    fn usable(&self, now: u64) -> Option<Credential> {
        let current = self.inner.current.read().ok()?;
        let held = current.as_ref().filter(|h| !h.dead && !h.tokens.renewal_due(now, self.inner.margin))?;
        Some(held.credential.clone())
    }

    async fn restore(&self) {
        match self.inner.store.load(&self.inner.account).await {
            Ok(Some(tokens)) => {
                let expires_in = tokens.expires_in(now_ms());
                self.install(tokens);
                tracing::debug!(
                    dialect = self.dialect().name(),
                    ?expires_in,
                    "tokens restored from the store"
                );
                self.emit(&AgentEvent::Restored { expires_in });
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the token store could not be read; logging in"),
        }
    }

    /// Refresh if the held tokens allow it, else log in. Called with the
    /// renewal lock held.
    async fn renew<T: Transport>(&self, transport: &T) -> Result<Credential, AgentError> {
        let now = now_ms();
        let Some(held) = self.held() else { return self.login(transport).await };
        let dialect = self.dialect();
        let live = !held.dead && !held.tokens.access_expired(now);
        let refreshable =
            if dialect.renews_live_access_only() { live } else { !held.tokens.refresh_expired(now) };
        let exchange = refreshable.then(|| self.inner.wire.renew(&held.tokens)).flatten();
        let Some(exchange) = exchange else { return self.login(transport).await };
        match self.exchange(transport, Step::Refresh, exchange, Some(&held.tokens)).await {
            Ok(tokens) => {
                self.inner.refreshes.fetch_add(1, Ordering::Relaxed);
                let expires_in = tokens.expires_in(now_ms());
                let credential = self.install_and_save(tokens).await;
                tracing::debug!(dialect = dialect.name(), ?expires_in, "access token refreshed");
                self.emit(&AgentEvent::Refreshed { expires_in });
                Ok(credential)
            }
            Err(AgentError::Refused { status, .. }) => {
                tracing::debug!(dialect = dialect.name(), status, "refresh refused; logging in");
                self.emit(&AgentEvent::RefreshRefused { status });
                self.login(transport).await
            }
            // The server is unreachable or failing: a token that still
            // lives is better than none.
            Err(e) if live => {
                tracing::debug!(dialect = dialect.name(), error = %e, "refresh failed; the current token still lives");
                Ok(held.credential)
            }
            Err(e) => Err(e),
        }
    }

    async fn login<T: Transport>(&self, transport: &T) -> Result<Credential, AgentError> {
        let mut exchange = self.inner.wire.login(&self.inner.username, &self.inner.password);
        exchange.device_token = self.inner.device.lock().ok().and_then(|d| d.clone());
        let tokens = self.exchange(transport, Step::Login, exchange, None).await?;
        self.inner.logins.fetch_add(1, Ordering::Relaxed);
        let expires_in = tokens.expires_in(now_ms());
        let credential = self.install_and_save(tokens).await;
        tracing::debug!(dialect = self.dialect().name(), ?expires_in, "logged in");
        self.emit(&AgentEvent::LoggedIn { expires_in });
        Ok(credential)
    }

    /// Sends a login or refresh and reads its answer. A 4xx other than 429
    /// is a refusal ([`AgentError::Refused`]); a 3xx is never followed
    /// ([`AgentError::Redirected`]), whatever the transport does with
    /// other requests.
    async fn exchange<T: Transport>(
        &self,
        transport: &T,
        step: Step,
        exchange: Exchange,
        previous: Option<&Tokens>,
    ) -> Result<Tokens, AgentError> {
        let reply = transport
            .send(exchange)
            .await
            .map_err(|source| AgentError::Transport { step: step.as_str(), source })?;
        match reply.status {
            200 => {
                if let (Some(token), Ok(mut device)) = (reply.device_token, self.inner.device.lock()) {
                    *device = Some(token);
                }
                self.inner.wire.read(step, &reply.body, previous, now_ms())
            }
            status @ 300..=399 => {
                tracing::warn!(
                    step = step.as_str(),
                    status,
                    "a login or refresh answered a redirect; not followed"
                );
                Err(AgentError::Redirected { step: step.as_str(), status })
            }
            status @ 400..=499 if status != 429 => Err(AgentError::Refused { step: step.as_str(), status }),
            status => Err(AgentError::Unavailable { step: step.as_str(), status }),
        }
    }

    fn install(&self, tokens: Tokens) -> Credential {
        let generation = self.inner.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let credential = Credential { header: self.inner.wire.authorization(&tokens).into(), generation };
        let held = Held { tokens: Arc::new(tokens), credential: credential.clone(), dead: false };
        if let Ok(mut current) = self.inner.current.write() {
            *current = Some(held);
        }
        credential
    }

    async fn install_and_save(&self, tokens: Tokens) -> Credential {
        if let Err(e) = self.inner.store.save(&self.inner.account, &tokens).await {
            tracing::warn!(error = %e, "the token store could not save the tokens; keeping them in memory");
        }
        self.install(tokens)
    }

    fn emit(&self, event: &AgentEvent) {
        if let Some(observer) = &self.inner.observer {
            observer(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Answers the agent's requests from a script, counting them by path
    /// and taking a little time, as a server would.
    #[derive(Default)]
    struct Scripted {
        answers: Mutex<VecDeque<Result<Reply, &'static str>>>,
        sent: Mutex<Vec<String>>,
    }

    impl Scripted {
        fn new(answers: impl IntoIterator<Item = Result<(u16, &'static str), &'static str>>) -> Self {
            let answers =
                answers.into_iter().map(|a| a.map(|(status, body)| Reply::new(status, body.into())));
            Self { answers: Mutex::new(answers.collect()), sent: Mutex::default() }
        }

        fn sent(&self) -> Vec<String> {
            self.sent.lock().unwrap().clone()
        }
    }

    impl Transport for Scripted {
        async fn send(&self, exchange: Exchange) -> Result<Reply, BoxError> {
            self.sent.lock().unwrap().push(exchange.url.rsplit('/').next().unwrap_or_default().to_owned());
            tokio::time::sleep(Duration::from_millis(20)).await;
            let next = self.answers.lock().unwrap().pop_front();
            match next {
                Some(Ok(reply)) => Ok(reply),
                Some(Err(e)) => Err(e.into()),
                None => Err("nothing scripted".into()),
            }
        }
    }

    /// A standard token answer: `expires_in` seconds.
    const DUE: &str = r#"{"access_token":"a1","token_type":"Bearer","expires_in":0,"refresh_token":"r1"}"#;
    const FRESH: &str =
        r#"{"access_token":"a2","token_type":"Bearer","expires_in":3600,"refresh_token":"r2"}"#;
    const FRESH3: &str =
        r#"{"access_token":"a3","token_type":"Bearer","expires_in":3600,"refresh_token":"r3"}"#;

    fn agent() -> Agent {
        Agent::builder(ClientDialect::Standard, "http://h", "ann", "pw").build().unwrap()
    }

    /// Records each exchange's path and device token; answers a login with
    /// a token pair and the device token `d1`, a refresh with 401.
    #[derive(Default)]
    struct Devices(Mutex<Vec<(String, Option<String>)>>);

    impl Transport for Devices {
        async fn send(&self, exchange: Exchange) -> Result<Reply, BoxError> {
            let path = exchange.url.rsplit('/').next().unwrap_or_default().to_owned();
            self.0.lock().unwrap().push((path.clone(), exchange.device_token.clone()));
            if path == "refresh" {
                return Ok(Reply::new(401, b"{}".to_vec()));
            }
            let mut reply = Reply::new(200, FRESH.into());
            reply.device_token = Some("d1".into());
            Ok(reply)
        }
    }

    #[tokio::test]
    async fn a_login_sends_back_the_device_token_of_the_last_one() {
        let (transport, agent) = (Devices::default(), agent());
        let first = agent.authorization(&transport).await.unwrap();
        // the server refuses the credential, then the refresh: a second login
        agent.rejected(&transport, &first).await.unwrap();
        let sent = transport.0.lock().unwrap().clone();
        let d1 = Some("d1".to_owned());
        assert_eq!(
            sent,
            [("login".to_owned(), None), ("refresh".to_owned(), None), ("login".to_owned(), d1)]
        );
        // and no Debug output shows it
        let exchange = Exchange { device_token: Some("d1".into()), ..agent.inner.wire.login("ann", "pw") };
        assert!(!format!("{exchange:?}").contains("d1"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_callers_needing_a_refresh_cause_exactly_one() {
        let transport = Arc::new(Scripted::new([Ok((200, DUE)), Ok((200, FRESH))]));
        let agent = agent();
        assert_eq!(agent.authorization(&*transport).await.unwrap().header_value(), "Bearer a1");
        let callers = (0..50).map(|_| {
            let (agent, transport) = (agent.clone(), transport.clone());
            tokio::spawn(async move { agent.authorization(&*transport).await.unwrap() })
        });
        for caller in callers.collect::<Vec<_>>() {
            assert_eq!(caller.await.unwrap().header_value(), "Bearer a2");
        }
        assert_eq!(transport.sent(), ["login", "refresh"]);
        assert_eq!((agent.logins(), agent.refreshes()), (1, 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_requests_refused_with_one_credential_cause_one_renewal() {
        let transport = Arc::new(Scripted::new([Ok((200, FRESH)), Ok((200, FRESH3))]));
        let agent = agent();
        let refused = agent.authorization(&*transport).await.unwrap();
        let callers = (0..50).map(|_| {
            let (agent, transport, refused) = (agent.clone(), transport.clone(), refused.clone());
            tokio::spawn(async move { agent.rejected(&*transport, &refused).await.unwrap() })
        });
        for caller in callers.collect::<Vec<_>>() {
            let fresh = caller.await.unwrap();
            assert_eq!(fresh.header_value(), "Bearer a3");
            assert_ne!(fresh.generation(), refused.generation());
        }
        assert_eq!(transport.sent(), ["login", "refresh"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_queued_behind_a_refused_login_share_its_refusal() {
        let transport =
            Arc::new(Scripted::new([Ok((401, r#"{"error":"invalid_grant"}"#)), Ok((200, FRESH))]));
        let agent = agent();
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let (agent, transport) = (agent.clone(), transport.clone());
                tokio::spawn(async move { agent.authorization(&*transport).await })
            })
            .collect();
        for caller in callers {
            let err = caller.await.unwrap().unwrap_err();
            assert!(matches!(err, AgentError::Refused { step: "login", status: 401 }), "{err}");
        }
        assert_eq!(transport.sent(), ["login"], "one login for twenty waiting callers");
        // a later request tries again
        assert_eq!(agent.authorization(&*transport).await.unwrap().header_value(), "Bearer a2");
    }

    #[tokio::test]
    async fn a_refused_refresh_falls_back_to_one_login() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let agent = Agent::builder(ClientDialect::Standard, "http://h", "ann", "pw")
            .on_event(move |e| seen.lock().unwrap().push(e.clone()))
            .build()
            .unwrap();
        let transport =
            Scripted::new([Ok((200, DUE)), Ok((401, r#"{"error":"invalid_grant"}"#)), Ok((200, FRESH))]);
        agent.authorization(&transport).await.unwrap();
        assert_eq!(agent.authorization(&transport).await.unwrap().header_value(), "Bearer a2");
        assert_eq!(transport.sent(), ["login", "refresh", "login"]);
        let events = events.lock().unwrap().clone();
        assert!(
            matches!(
                events[..],
                [
                    AgentEvent::LoggedIn { .. },
                    AgentEvent::RefreshRefused { status: 401 },
                    AgentEvent::LoggedIn { .. }
                ]
            ),
            "{events:?}"
        );
        assert_eq!((agent.logins(), agent.refreshes()), (2, 0));
    }

    #[tokio::test]
    async fn a_live_token_outlasts_a_failed_refresh_and_a_refused_login_is_an_error() {
        // a 1 s token: due half way, alive to the end
        let half = r#"{"access_token":"a1","token_type":"Bearer","expires_in":1,"refresh_token":"r1"}"#;
        let transport = Scripted::new([Ok((200, half)), Err("connection refused"), Ok((503, "{}"))]);
        let agent = Agent::builder(ClientDialect::Standard, "http://h", "ann", "pw")
            .refresh_margin(Some(Duration::from_secs(30)))
            .build()
            .unwrap();
        let first = agent.authorization(&transport).await.unwrap();
        tokio::time::sleep(Duration::from_millis(550)).await;
        assert_eq!(agent.authorization(&transport).await.unwrap(), first, "transport error: keep the token");
        assert_eq!(agent.authorization(&transport).await.unwrap(), first, "503: keep the token");
        assert_eq!(transport.sent(), ["login", "refresh", "refresh"]);

        let refused = Scripted::new([Ok((401, r#"{"error":"invalid_grant"}"#))]);
        let err = super::tests::agent().authorization(&refused).await.unwrap_err();
        assert!(matches!(err, AgentError::Refused { step: "login", status: 401 }), "{err}");
    }

    #[tokio::test]
    async fn a_redirected_login_or_refresh_is_an_error_and_not_a_login() {
        let transport = Scripted::new([Ok((307, ""))]);
        let err = agent().authorization(&transport).await.unwrap_err();
        assert!(matches!(err, AgentError::Redirected { step: "login", status: 307 }), "{err}");
        assert!(err.to_string().contains("redirect (307)"), "{err}");

        // a refused credential, then a refresh answered 308: no login follows
        let transport = Scripted::new([Ok((200, FRESH)), Ok((308, ""))]);
        let agent = agent();
        let refused = agent.authorization(&transport).await.unwrap();
        let err = agent.rejected(&transport, &refused).await.unwrap_err();
        assert!(matches!(err, AgentError::Redirected { step: "refresh", status: 308 }), "{err}");
        assert_eq!(transport.sent(), ["login", "refresh"]);
        assert_eq!(agent.logins(), 1);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let o = Origin::parse("https://Example.com/api").unwrap();
        assert_eq!(o, Origin { https: true, host: "example.com".into(), port: 443 });
        assert_eq!(Origin::parse("http://127.0.0.1:3000").unwrap().port, 3000);
        assert_eq!(Origin::parse("http://[::1]:8080/x").unwrap().host, "[::1]");
        assert_eq!(Origin::parse("http://[::1]/x").unwrap().port, 80);
        assert!(Origin::parse("ftp://h").is_none());
        assert!(Origin::parse("http://").is_none());
        assert!(Origin::parse("http://user:pw@h").is_none());
        assert!(Origin::parse("http://h:port").is_none());
    }
}
