//! The demo's command line.

use std::path::PathBuf;
use std::time::Duration;

use auth_core::{CookieMode, SameSite};
use clap::{Parser, ValueEnum};

/// The web framework the demo serves with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Framework {
    /// axum 0.8 (tower).
    Axum,
    /// actix-web 4.
    Actix,
}

/// The wire format the demo speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DialectName {
    /// Our own OAuth 2-shaped default.
    Standard,
    /// ecHome (simplejwt).
    Echome,
    /// datarhei Core.
    Datarhei,
    /// Sachet (Flask + PyJWT).
    Sachet,
    /// Kent Hack Enough (opaque key/token).
    Keytoken,
    /// django-rest-framework-jwt.
    Drf,
}

/// Where the demo keeps its server-side state (`--store`). Its `Debug`
/// and `Display` name the kind (for Redis, the URL's scheme) only: the URL
/// may carry a password.
///
/// ```
/// use clap::Parser;
/// let config = demo_app::DemoConfig::try_parse_from(["demo", "--store", "rediss-cluster://:hunter2@10.0.0.1:7000,10.0.0.2:7000"]).unwrap();
/// assert_eq!(config.store.to_string(), "rediss-cluster");
/// assert!(!format!("{config:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// In this process only (`memory`, the default).
    Memory,
    /// On Redis, shared by every instance that uses it: one server
    /// (`redis://HOST:PORT/DB`, over TLS `rediss://HOST:PORT/DB`) or a
    /// Redis Cluster from its seed nodes
    /// (`redis-cluster://HOST:PORT,HOST:PORT,...`, over TLS
    /// `rediss-cluster://...`), each with an optional `USER:PASSWORD@`.
    Redis(String),
    /// In a SQLite file, created if missing (`sqlite://PATH`): kept
    /// across restarts on one machine.
    Sqlite(String),
    /// In a PostgreSQL database (`postgres://USER@HOST:PORT/DB`), shared
    /// by every instance that uses it.
    Postgres(String),
}

impl std::fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            // Not the URL: it may carry a password. The scheme says which
            // kind of Redis (one of the four `parse_store` accepts).
            Self::Redis(url) => f.write_str(url.split_once("://").map_or("redis", |(scheme, _)| scheme)),
            Self::Sqlite(_) => f.write_str("sqlite"),
            Self::Postgres(_) => f.write_str("postgres"),
        }
    }
}

impl std::fmt::Debug for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A secret from the command line: `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

const STORES: &str = "expected `memory`, `redis://HOST:PORT/DB`, `rediss://HOST:PORT/DB`, \
     `redis-cluster://HOST:PORT,HOST:PORT`, `rediss-cluster://HOST:PORT,HOST:PORT`, `sqlite://PATH` or \
     `postgres://USER@HOST:PORT/DB`";

fn parse_store(value: &str) -> Result<StoreSpec, String> {
    let has = |scheme: &str| value.strip_prefix(scheme).is_some_and(|rest| !rest.is_empty());
    if value == "memory" {
        Ok(StoreSpec::Memory)
    } else if ["redis://", "rediss://", "redis-cluster://", "rediss-cluster://"].into_iter().any(has) {
        Ok(StoreSpec::Redis(value.to_owned()))
    } else if has("sqlite://") {
        Ok(StoreSpec::Sqlite(value.to_owned()))
    } else if has("postgres://") || has("postgresql://") {
        Ok(StoreSpec::Postgres(value.to_owned()))
    } else {
        Err(STORES.into())
    }
}

fn parse_prefix(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 64 || value.contains(['{', '}']) {
        return Err("must be 1 to 64 characters without `{` or `}`".into());
    }
    Ok(value.to_owned())
}

/// A `--user NAME:PASSWORD[:ROLE]` value (`Debug` leaves the password out).
#[derive(Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// The username.
    pub name: String,
    /// The password.
    pub password: String,
    /// An optional role.
    pub role: Option<String>,
}

impl std::fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSpec").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}

fn parse_user(value: &str) -> Result<UserSpec, String> {
    let mut parts = value.splitn(3, ':');
    let name = parts.next().unwrap_or_default();
    let password = parts.next().ok_or("expected NAME:PASSWORD[:ROLE]")?;
    if name.is_empty() || password.is_empty() {
        return Err("expected NAME:PASSWORD[:ROLE] with a non-empty name and password".into());
    }
    let role = parts.next().filter(|r| !r.is_empty()).map(str::to_owned);
    Ok(UserSpec { name: name.to_owned(), password: password.to_owned(), role })
}

fn parse_ttl(value: &str) -> Result<Duration, String> {
    auth_core::parse_duration(value)
        .ok_or_else(|| format!("`{value}` is not a duration like 2s, 15m, 1h or 5d"))
}

fn parse_proxy(value: &str) -> Result<String, String> {
    auth_core::TrustedProxies::parse(value).map_err(|e| e.to_string())?;
    Ok(value.to_owned())
}

fn parse_same_site(value: &str) -> Result<SameSite, String> {
    value.parse()
}

fn parse_origin(value: &str) -> Result<String, String> {
    CookieMode::new().allow_origin(value).map_err(|e| e.to_string())?;
    Ok(value.to_owned())
}

fn parse_secret(value: &str) -> Result<Secret, String> {
    if value.len() < auth_core::MIN_HMAC_SECRET_LEN {
        return Err(format!("must be at least {} bytes", auth_core::MIN_HMAC_SECRET_LEN));
    }
    Ok(Secret(value.to_owned()))
}

/// Token authentication demo server. `Debug` prints no secret, password
/// or store URL.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "demo",
    about = "Token authentication demo server (in-memory store unless --store says otherwise)."
)]
pub struct DemoConfig {
    /// The web framework: axum or actix.
    #[arg(long, value_enum, default_value_t = Framework::Axum)]
    pub framework: Framework,
    /// The wire format.
    #[arg(long, value_enum, default_value_t = DialectName::Standard)]
    pub dialect: DialectName,
    /// Address to listen on (HOST:PORT).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: String,
    /// A user, `NAME:PASSWORD[:ROLE]`; repeatable. Default: `demo:demo-password:admin`.
    #[arg(long = "user", value_name = "NAME:PASSWORD[:ROLE]", value_parser = parse_user)]
    pub users: Vec<UserSpec>,
    /// A client id (keytoken dialect); repeatable. Default: demo.
    #[arg(long = "client", value_name = "ID")]
    pub clients: Vec<String>,
    /// HS256 secret, at least 32 bytes. Default: random at every start.
    #[arg(long, value_parser = parse_secret)]
    pub secret: Option<Secret>,
    /// Access token lifetime (2s, 15m, 1h, 5d). Default: the dialect's.
    #[arg(long, value_parser = parse_ttl)]
    pub access_ttl: Option<Duration>,
    /// Refresh token lifetime. Default: the dialect's.
    #[arg(long, value_parser = parse_ttl)]
    pub refresh_ttl: Option<Duration>,
    /// No refresh after the original login plus this. Default: the dialect's.
    #[arg(long, value_parser = parse_ttl)]
    pub refresh_window: Option<Duration>,
    /// Clock skew tolerated when checking `exp` and `nbf` (0s, 5s, ...).
    /// Default: the library's (5s).
    #[arg(long, value_parser = parse_ttl)]
    pub leeway: Option<Duration>,
    /// A proxy (address or CIDR network) whose `X-Forwarded-For` names the
    /// client for the login throttle; repeatable. Default: none (the TCP
    /// peer is the client).
    #[arg(long = "trusted-proxy", value_name = "ADDR|CIDR", value_parser = parse_proxy)]
    pub trusted_proxies: Vec<String>,
    /// Where revocations, refresh families, keytoken pairs and login
    /// counters live: `memory` (this process only), `redis://HOST:PORT/DB`
    /// (`rediss://` over TLS), `redis-cluster://HOST:PORT,HOST:PORT,...`
    /// (Redis Cluster; `rediss-cluster://` over TLS) or
    /// `postgres://USER@HOST:PORT/DB` (shared by every instance using
    /// it), or `sqlite://PATH` (one machine; the file is created if
    /// missing). All but memory keep their state across restarts.
    #[arg(long, value_name = "memory|redis[s]://...|redis[s]-cluster://...|sqlite://PATH|postgres://...", default_value = "memory", value_parser = parse_store)]
    pub store: StoreSpec,
    /// A PEM file of the CA that signed the store server's TLS
    /// certificate, trusted instead of the system's roots: for
    /// `rediss://` and `rediss-cluster://`, and for `postgres://` (then
    /// `sslmode=verify-full` unless the URL sets `sslmode`). An error with
    /// any other store.
    #[arg(long, value_name = "PATH")]
    pub store_ca: Option<PathBuf>,
    /// Keep the store's live revocations (and the key/token credentials
    /// this instance has seen) in memory, kept current by the store's
    /// notification channel (Redis pub/sub, PostgreSQL LISTEN/NOTIFY): a
    /// protected request then makes no round trip. A revocation on another
    /// instance is refused here a few milliseconds later; while the channel
    /// is down every check asks the store. With SQLite, write-through: this
    /// demo must then be the file's only user (it takes an exclusive lock).
    /// Not with memory.
    #[arg(long)]
    pub store_mirror: bool,
    /// Key prefix in a shared store (Redis keys `{PREFIX}:...`, SQL tables
    /// `PREFIX_...`): instances with the same prefix (and secret) act as
    /// one service.
    #[arg(long, default_value = auth_core::DEFAULT_REDIS_PREFIX, value_parser = parse_prefix)]
    pub store_prefix: String,
    /// How long one call to a shared store may take before the request
    /// gets 503 (250ms, 1s, ...).
    #[arg(long, value_parser = parse_ttl, default_value = "250ms")]
    pub store_timeout: Duration,
    /// How long a login refused before any password hashing (429 from the
    /// throttle, 503 from a full hashing queue) is held before it is
    /// answered (0s answers at once). Default: the library's (250ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub refusal_delay: Option<Duration>,
    /// Failed logins of one username from one client address before the
    /// login throttle refuses that pair (429 with `Retry-After`) for the
    /// rest of the failure window (15 minutes); a successful login clears
    /// the count, 0 turns this counter off. Default: the library's (5).
    #[arg(long, value_name = "N")]
    pub max_failed_logins: Option<u32>,
    /// How long a just-rotated refresh token may be presented once more
    /// (a client retrying after a lost answer) before it counts as reuse
    /// and revokes its session family (0s: every second presentation is
    /// reuse). Default: the library's (10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl)]
    pub reuse_grace: Option<Duration>,
    /// An external identity provider (an Auth0 tenant: `https://TENANT/`)
    /// whose access tokens log in at `POST /api/login` (with `--dialect
    /// datarhei`); repeatable. Its tokens must carry exactly this `iss`.
    #[arg(long = "idp-issuer", value_name = "URL", value_parser = parse_url)]
    pub idp_issuers: Vec<String>,
    /// The audience IdP tokens must name: once for every issuer, or once
    /// per `--idp-issuer`, in the same order.
    #[arg(long = "idp-audience", value_name = "AUD")]
    pub idp_audiences: Vec<String>,
    /// The JWKS URL of each `--idp-issuer`, in the same order. Default:
    /// the `jwks_uri` of the issuer's `/.well-known/openid-configuration`.
    #[arg(long = "idp-jwks", value_name = "URL", value_parser = parse_url)]
    pub idp_jwks: Vec<String>,
    /// A subject allowed to log in with an IdP token; repeatable
    /// (datarhei's allowed users). `SUB` allows it from every
    /// `--idp-issuer`; `ISSUER=SUB` (the issuer exactly as given to
    /// `--idp-issuer`) from that issuer only. Required with `--idp-issuer`.
    /// Each allowed subject is a user of its own per issuer: `sub` "1" of
    /// an IdP is never the local user whose id is 1.
    #[arg(long = "idp-user", value_name = "SUB|ISSUER=SUB")]
    pub idp_users: Vec<String>,
    /// An IdP token with an unknown `kid` fetches the issuer's keys again
    /// at most once per this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_ttl, default_value = "30s")]
    pub idp_kid_cooldown: Duration,
    /// A PEM private key (EC P-256/P-384, Ed25519, or RSA with the
    /// `aws_lc_rs` feature) to sign tokens with; repeatable, newest first:
    /// the first signs, the others still verify (rotation). The demo then
    /// serves its public keys at `GET /.well-known/jwks.json`.
    #[arg(long = "signing-key", value_name = "PATH")]
    pub signing_keys: Vec<std::path::PathBuf>,
    /// Browser mode: login and refresh answer with the tokens in hardened
    /// cookies (`__Host-access_token`, `__Secure-refresh_token` scoped to
    /// the refresh route, a readable `__Host-csrf_token`) instead of the
    /// JSON body; `/whoami`, `/admin`, `/maybe` accept the access cookie;
    /// unsafe requests authenticated by it need a same-origin `Origin` and
    /// `X-CSRF-Token`. Adds a demo page at `GET /` and notes at `/notes`.
    /// Only with `--dialect standard`.
    #[arg(long)]
    pub cookies: bool,
    /// The cookies' `SameSite` attribute (with --cookies): `strict` (not
    /// even sent on links from other sites), `lax` or `none` (sent
    /// everywhere; CSRF is then left to the Origin and X-CSRF-Token
    /// checks). Default: lax.
    #[arg(long, value_name = "strict|lax|none", value_parser = parse_same_site)]
    pub cookie_samesite: Option<SameSite>,
    /// An origin (`http(s)://HOST[:PORT]`, no path) whose pages may send
    /// unsafe requests with the cookies (with --cookies); repeatable. Once
    /// one is given, only the listed origins pass: list the demo's own too
    /// if its page is used. Default: only the request's own origin.
    #[arg(long = "allowed-origin", value_name = "URL", value_parser = parse_origin)]
    pub allowed_origins: Vec<String>,
    /// DEVELOPMENT ONLY (with --cookies): cookies without `Secure` (and so
    /// without the `__Host-`/`__Secure-` prefixes), for a browser reaching
    /// the demo over plain http on a name other than localhost or
    /// 127.0.0.1 (those two work without it). Tokens then travel in clear:
    /// logs a warning.
    #[arg(long)]
    pub insecure_cookies: bool,
    /// Also serve the gRPC service `tokenauth.demo.v1.Demo` (WhoAmI,
    /// Admin, Watch) over h2c on this address (HOST:PORT), behind the
    /// same guard as the HTTP routes: the dialect's credentials, the same
    /// store. Refusals are gRPC statuses (16 UNAUTHENTICATED, 7
    /// PERMISSION_DENIED, 14 UNAVAILABLE); a stream ends when its token
    /// expires. Default: no gRPC.
    #[arg(long, value_name = "HOST:PORT")]
    pub grpc: Option<String>,
    /// Serve metrics in Prometheus' text format at
    /// `http://HOST:PORT/metrics` (a listener of its own; port 0 is not
    /// supported): auth-core's counters, gauges and histograms (names
    /// prefixed `tokenauth_`; latencies, `*_seconds`, as histograms with
    /// buckets). Default: no metrics (nothing recorded).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<String>,
    /// Write auth-core's audit events (tracing target `tokenauth::audit`)
    /// as JSON lines, one object per event, to PATH (appended to, created
    /// if missing), or to stderr with `-`. They never appear in the
    /// human-readable log on stderr. A write that fails (a full disk) is
    /// said on stderr, once until the file takes an event again. Default:
    /// not written.
    #[arg(long, value_name = "PATH|-")]
    pub audit_log: Option<PathBuf>,
}

fn parse_url(value: &str) -> Result<String, String> {
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(value.to_owned()),
        _ => Err("expected an http:// or https:// URL".into()),
    }
}

/// One configured identity provider, from the `--idp-*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpSpec {
    /// `iss`.
    pub issuer: String,
    /// The accepted audience.
    pub audience: String,
    /// The JWKS URL, or `None` for discovery.
    pub jwks: Option<String>,
    /// The subjects this issuer may log in.
    pub subjects: Vec<String>,
}

impl DemoConfig {
    /// The configured users, or the one demo user.
    pub fn users_or_default(&self) -> Vec<UserSpec> {
        if self.users.is_empty() {
            vec![UserSpec {
                name: "demo".into(),
                password: "demo-password".into(),
                role: Some("admin".into()),
            }]
        } else {
            self.users.clone()
        }
    }

    /// The secret's bytes, or 32 fresh random bytes (hex encoded).
    pub fn secret_bytes(&self) -> Vec<u8> {
        match &self.secret {
            Some(Secret(s)) => s.as_bytes().to_vec(),
            None => {
                let bytes: [u8; 32] = rand::random();
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes()
            }
        }
    }

    /// The identity providers the `--idp-*` flags describe, checked for
    /// consistency.
    pub fn idps(&self) -> Result<Vec<IdpSpec>, String> {
        let n = self.idp_issuers.len();
        if n == 0 {
            if !(self.idp_audiences.is_empty() && self.idp_jwks.is_empty() && self.idp_users.is_empty()) {
                return Err("--idp-audience, --idp-jwks and --idp-user need an --idp-issuer".into());
            }
            return Ok(Vec::new());
        }
        if self.dialect != DialectName::Datarhei {
            return Err("--idp-issuer: IdP logins are served by --dialect datarhei".into());
        }
        let audience = |i: usize| match self.idp_audiences.len() {
            1 => Ok(self.idp_audiences[0].clone()),
            len if len == n => Ok(self.idp_audiences[i].clone()),
            _ => Err(format!("--idp-audience: give one for all issuers or one per --idp-issuer ({n})")),
        };
        if !(self.idp_jwks.is_empty() || self.idp_jwks.len() == n) {
            return Err(format!("--idp-jwks: give none (discovery) or one per --idp-issuer ({n})"));
        }
        if self.idp_users.is_empty() {
            return Err("--idp-issuer needs at least one --idp-user (the subjects allowed to log in)".into());
        }
        let mut specs = (0..n)
            .map(|i| {
                Ok(IdpSpec {
                    issuer: self.idp_issuers[i].clone(),
                    audience: audience(i)?,
                    jwks: self.idp_jwks.get(i).cloned(),
                    subjects: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        for value in &self.idp_users {
            // `ISSUER=SUB` names one of the configured issuers exactly;
            // anything else is a subject allowed from every issuer.
            let scoped = specs.iter().position(|spec| {
                value.strip_prefix(spec.issuer.as_str()).is_some_and(|rest| rest.starts_with('='))
            });
            match scoped {
                Some(i) => {
                    let sub = &value[specs[i].issuer.len() + 1..];
                    if sub.is_empty() {
                        return Err(format!("--idp-user {value}: no subject after `=`"));
                    }
                    specs[i].subjects.push(sub.to_owned());
                }
                None => specs.iter_mut().for_each(|spec| spec.subjects.push(value.clone())),
            }
        }
        for spec in &mut specs {
            spec.subjects.sort();
            spec.subjects.dedup();
        }
        if let Some(spec) = specs.iter().find(|spec| spec.subjects.is_empty()) {
            return Err(format!("--idp-issuer {}: no --idp-user allows a subject of it", spec.issuer));
        }
        Ok(specs)
    }

    /// Checks the `--cookies` flags without building anything: an error
    /// for a flag that needs `--cookies`, for `--cookies` with a dialect
    /// other than `standard`, or for an origin that is not one. A usage
    /// error: the demo exits with status 2.
    ///
    /// ```
    /// use clap::Parser;
    /// use demo_app::DemoConfig;
    /// let config = DemoConfig::try_parse_from(["demo", "--insecure-cookies"]).unwrap();
    /// assert_eq!(config.check_cookie_flags().unwrap_err(), "--insecure-cookies needs --cookies");
    /// ```
    pub fn check_cookie_flags(&self) -> Result<(), String> {
        if !self.cookies {
            let given = [
                ("--cookie-samesite", self.cookie_samesite.is_some()),
                ("--allowed-origin", !self.allowed_origins.is_empty()),
                ("--insecure-cookies", self.insecure_cookies),
            ];
            return match given.iter().find(|(_, given)| *given) {
                Some((flag, _)) => Err(format!("{flag} needs --cookies")),
                None => Ok(()),
            };
        }
        if self.dialect != DialectName::Standard {
            let name = self.dialect.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default();
            return Err(format!(
                "--cookies needs --dialect standard: `{name}` keeps the wire format of the API it reproduces"
            ));
        }
        for origin in &self.allowed_origins {
            CookieMode::new().allow_origin(origin).map_err(|e| format!("--allowed-origin: {e}"))?;
        }
        Ok(())
    }

    /// The cookie mode the `--cookies` flags describe: `None` without
    /// `--cookies`, or the error of [`check_cookie_flags`](Self::check_cookie_flags).
    /// With `--insecure-cookies` this logs a warning (call it once).
    ///
    /// ```
    /// use clap::Parser;
    /// use demo_app::DemoConfig;
    /// let config = DemoConfig::try_parse_from(["demo", "--cookies", "--cookie-samesite", "strict"]).unwrap();
    /// let mode = config.cookie_mode().unwrap().unwrap();
    /// assert_eq!(mode.same_site_value(), auth_core::SameSite::Strict);
    /// assert!(DemoConfig::try_parse_from(["demo"]).unwrap().cookie_mode().unwrap().is_none());
    /// ```
    pub fn cookie_mode(&self) -> Result<Option<CookieMode>, String> {
        self.check_cookie_flags()?;
        if !self.cookies {
            return Ok(None);
        }
        let mut mode = CookieMode::new().same_site(self.cookie_samesite.unwrap_or_default());
        for origin in &self.allowed_origins {
            mode = mode.allow_origin(origin).map_err(|e| format!("--allowed-origin: {e}"))?;
        }
        if self.insecure_cookies {
            mode = mode.insecure_development();
        }
        Ok(Some(mode))
    }

    /// The client ids, or `demo`.
    pub fn clients_or_default(&self) -> Vec<String> {
        if self.clients.is_empty() { vec!["demo".into()] } else { self.clients.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<DemoConfig, String> {
        DemoConfig::try_parse_from(std::iter::once("demo").chain(args.iter().copied()))
            .map_err(|e| e.to_string())
    }

    fn mode(args: &[&str]) -> Result<Option<CookieMode>, String> {
        parse(args)?.cookie_mode()
    }

    #[test]
    fn without_cookies_there_is_no_cookie_mode() {
        assert!(mode(&[]).unwrap().is_none());
        assert!(mode(&["--dialect", "drf"]).unwrap().is_none());
    }

    #[test]
    fn cookies_default_to_secure_lax_and_own_origin() {
        let mode = mode(&["--cookies"]).unwrap().unwrap();
        assert_eq!(mode.same_site_value(), SameSite::Lax);
        assert!(mode.is_secure());
        assert_eq!(mode.csrf_cookie(), "__Host-csrf_token");
        let mode = self::mode(&["--cookies", "--dialect", "standard", "--cookie-samesite", "None"]).unwrap();
        assert_eq!(mode.unwrap().same_site_value(), SameSite::None);
        let mode = self::mode(&["--cookies", "--insecure-cookies"]).unwrap().unwrap();
        assert!(!mode.is_secure());
        assert_eq!(mode.csrf_cookie(), "csrf_token");
        let origins =
            ["--cookies", "--allowed-origin", "https://a.example", "--allowed-origin", "http://b:8080/"];
        assert!(self::mode(&origins).unwrap().is_some());
    }

    #[test]
    fn cookie_flags_need_cookies() {
        for (args, flag) in [
            (&["--cookie-samesite", "lax"][..], "--cookie-samesite"),
            (&["--allowed-origin", "https://a.example"][..], "--allowed-origin"),
            (&["--insecure-cookies"][..], "--insecure-cookies"),
        ] {
            assert_eq!(mode(args).unwrap_err(), format!("{flag} needs --cookies"), "{args:?}");
        }
    }

    #[test]
    fn cookies_need_the_standard_dialect() {
        for dialect in ["drf", "echome", "datarhei", "sachet", "keytoken"] {
            let err = mode(&["--cookies", "--dialect", dialect]).unwrap_err();
            assert!(err.starts_with("--cookies needs --dialect standard"), "{err}");
            assert!(err.contains(&format!("`{dialect}`")), "{err}");
        }
    }

    #[test]
    fn store_urls_and_the_store_ca_are_parsed() {
        for (url, kind) in [
            ("memory", "memory"),
            ("redis://127.0.0.1:6379/0", "redis"),
            ("rediss://:hunter2@redis.internal:6380/0", "rediss"),
            ("redis-cluster://10.0.0.1:7000,10.0.0.2:7000", "redis-cluster"),
            ("rediss-cluster://user:hunter2@10.0.0.1:7000,10.0.0.2:7000", "rediss-cluster"),
            ("postgres://app:hunter2@db/auth", "postgres"),
            ("sqlite://auth.db", "sqlite"),
        ] {
            let config = parse(&["--store", url, "--store-ca", "/etc/ssl/store-ca.pem"]).unwrap();
            assert_eq!(config.store.to_string(), kind, "{url}");
            assert_eq!(config.store_ca.as_deref(), Some(std::path::Path::new("/etc/ssl/store-ca.pem")));
            assert!(!format!("{config:?}").contains("hunter2"), "{url}: no password in Debug");
        }
        assert_eq!(parse(&[]).unwrap().store_ca, None);
        for bad in ["redis-cluster://", "rediss://", "redis+sentinel://a:26379", "mongodb://localhost"] {
            let err = parse(&["--store", bad]).unwrap_err();
            assert!(err.contains("redis-cluster://HOST:PORT,HOST:PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_cookie_values_are_refused_when_parsed() {
        let err = parse(&["--cookies", "--cookie-samesite", "sometimes"]).unwrap_err();
        assert!(err.contains("`sometimes` is not a SameSite value"), "{err}");
        for bad in ["app.example", "https://app.example/path", "ftp://x", "null"] {
            let err = parse(&["--cookies", "--allowed-origin", bad]).unwrap_err();
            assert!(err.contains("--allowed-origin") && err.contains("is not an origin"), "{err}");
        }
    }
}
