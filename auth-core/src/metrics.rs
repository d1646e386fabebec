//! Every metric this crate records: one table of names, types and labels
//! that a dashboard can be built from.
//!
//! With the feature `metrics`, `auth-core` records through the
//! [`metrics`](https://docs.rs/metrics) facade; the application installs
//! the recorder (`metrics-exporter-prometheus`, StatsD, OpenTelemetry...)
//! and calls [`describe`] once after it, for the help texts. Without the
//! feature, or without a recorder, recording costs nothing.
//!
//! Every label value comes from a closed set named below: never a
//! username, token, address, user agent or raw path, so no input can
//! create new series. (`issuer` is the issuer URL the application
//! configured; `dialect` is a dialect's [`name`](crate::Dialect::name).)
//!
//! | name | type | labels | what it counts |
//! |---|---|---|---|
//! | `tokenauth_route_requests_total` | counter | `dialect`, `action`, `outcome` | answers of a [`RouteSet`](crate::RouteSet): `action` is one of [`ACTIONS`], `outcome` one of [`OUTCOMES`] |
//! | `tokenauth_token_rejections_total` | counter | `source`, `reason` | tokens refused: `source` is `guard` (a protected route) or `route` (refresh, extend, logout...), `reason` one of [`REJECTION_REASONS`] |
//! | `tokenauth_basic_checks_total` | counter | `outcome` | `Basic` credentials a guard checked (a password, or keytoken's key and token): `ok` or one of [`OUTCOMES`] |
//! | `tokenauth_refresh_reuse_detections_total` | counter | | rotated refresh tokens presented again (their session family revoked) |
//! | `tokenauth_revocations_total` | counter | `kind` | revocations: `kind` is `token`, `family` or `subject` |
//! | `tokenauth_throttle_refusals_total` | counter | `rule` | logins refused by the login throttle: `rule` one of [`THROTTLE_RULES`] |
//! | `tokenauth_hashing_queue_depth` | gauge | | password checks waiting for a hashing thread |
//! | `tokenauth_hashing_wait_seconds` | histogram | | how long a password check waited for a hashing thread |
//! | `tokenauth_hashing_refusals_total` | counter | | password checks refused because the hashing queue was full (503 `Retry-After`) |
//! | `tokenauth_token_cache_lookups_total` | counter | `result` | verified-token cache lookups: `result` is `hit` or `miss` |
//! | `tokenauth_store_operation_seconds` | histogram | `store`, `operation` | calls to a shared store: `store` is `redis` or `sql`, `operation` one of [`STORE_OPERATIONS`] |
//! | `tokenauth_store_errors_total` | counter | `store`, `operation` | failed or timed-out store calls |
//! | `tokenauth_store_outages_total` | counter | `store` | outages begun (a call failed after the last one succeeded) |
//! | `tokenauth_store_up` | gauge | `store` | 1 while the store answers, 0 during an outage |
//! | `tokenauth_jwks_fetches_total` | counter | `issuer`, `outcome` | fetches of an identity provider's keys: `outcome` is `ok` or `error` |
//! | `tokenauth_client_logins_total` | counter | `dialect`, `outcome` | the client agent's logins: `outcome` is `ok`, `refused` or `error` |
//! | `tokenauth_client_refreshes_total` | counter | `dialect`, `outcome` | the client agent's refreshes: `ok`, `refused` (it logs in again) or `error` |
//!
//! Histograms are in seconds; [`LATENCY_BUCKETS`] suits both (Prometheus
//! exporters take buckets per metric name or suffix).
//!
//! ```
//! use auth_core::metrics;
//! assert_eq!(metrics::ROUTE_REQUESTS, "tokenauth_route_requests_total");
//! assert!(metrics::OUTCOMES.contains(&"throttled"));
//! // with the `metrics` feature, after installing a recorder:
//! metrics::describe();
//! ```

/// `tokenauth_route_requests_total`: answers of a route set, by `dialect`, `action` and `outcome`.
pub const ROUTE_REQUESTS: &str = "tokenauth_route_requests_total";
/// `tokenauth_token_rejections_total`: tokens refused, by `source` and `reason`.
pub const TOKEN_REJECTIONS: &str = "tokenauth_token_rejections_total";
/// `tokenauth_basic_checks_total`: `Basic` credentials checked by a guard, by `outcome`.
pub const BASIC_CHECKS: &str = "tokenauth_basic_checks_total";
/// `tokenauth_refresh_reuse_detections_total`: rotated refresh tokens presented again.
pub const REFRESH_REUSE: &str = "tokenauth_refresh_reuse_detections_total";
/// `tokenauth_revocations_total`: revocations, by `kind`.
pub const REVOCATIONS: &str = "tokenauth_revocations_total";
/// `tokenauth_throttle_refusals_total`: throttle refusals, by `rule`.
pub const THROTTLE_REFUSALS: &str = "tokenauth_throttle_refusals_total";
/// `tokenauth_hashing_queue_depth`: password checks in the hashing queue (not yet on a thread).
pub const HASHING_QUEUE_DEPTH: &str = "tokenauth_hashing_queue_depth";
/// `tokenauth_hashing_wait_seconds`: time a password check waited for a thread.
pub const HASHING_WAIT: &str = "tokenauth_hashing_wait_seconds";
/// `tokenauth_hashing_refusals_total`: password checks refused, the queue full.
pub const HASHING_REFUSALS: &str = "tokenauth_hashing_refusals_total";
/// `tokenauth_token_cache_lookups_total`: verified-token cache lookups, by `result`.
pub const TOKEN_CACHE: &str = "tokenauth_token_cache_lookups_total";
/// `tokenauth_store_operation_seconds`: shared-store call latency, by `store` and `operation`.
pub const STORE_OPERATION: &str = "tokenauth_store_operation_seconds";
/// `tokenauth_store_errors_total`: failed store calls, by `store` and `operation`.
pub const STORE_ERRORS: &str = "tokenauth_store_errors_total";
/// `tokenauth_store_outages_total`: store outages begun, by `store`.
pub const STORE_OUTAGES: &str = "tokenauth_store_outages_total";
/// `tokenauth_store_up`: 1 while a store answers, 0 during an outage, by `store`.
pub const STORE_UP: &str = "tokenauth_store_up";
/// `tokenauth_jwks_fetches_total`: identity providers' key fetches, by `issuer` and `outcome`.
pub const JWKS_FETCHES: &str = "tokenauth_jwks_fetches_total";
/// `tokenauth_client_logins_total`: the client agent's logins, by `dialect` and `outcome`.
pub const CLIENT_LOGINS: &str = "tokenauth_client_logins_total";
/// `tokenauth_client_refreshes_total`: the client agent's refreshes, by `dialect` and `outcome`.
pub const CLIENT_REFRESHES: &str = "tokenauth_client_refreshes_total";

/// The values of the `action` label: a route's [`Action`](crate::Action),
/// `idp_login` for a login with an identity provider's token, and
/// `unmatched` for a path or method the set does not serve.
pub const ACTIONS: &[&str] =
    &["login", "idp_login", "refresh", "verify", "extend", "logout", "signup", "about", "jwks", "unmatched"];

/// The values of the `outcome` label of the route counter (and of the
/// audit events' `outcome` field): `ok`, or what
/// [`AuthError::outcome`](crate::AuthError::outcome) names.
pub const OUTCOMES: &[&str] = &[
    "ok",
    "missing_credentials",
    "bad_request",
    "bad_credentials",
    "invalid_token",
    "forbidden",
    "csrf",
    "throttled",
    "not_found",
    "method_not_allowed",
    "too_large",
    "unsupported_media_type",
    "busy",
    "unavailable",
    "misconfigured",
];

/// The values of the `reason` label: what
/// [`TokenRejection::reason`](crate::TokenRejection::reason) names.
pub const REJECTION_REASONS: &[&str] = &[
    "malformed",
    "too_long",
    "algorithm",
    "unknown_key",
    "forbidden_header",
    "type",
    "signature",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "issuer",
    "audience",
    "missing_claim",
    "invalid_claim",
    "lifetime",
    "wrong_use",
    "revoked",
    "reused",
    "session_expired",
    "inactive_principal",
    "subject_not_allowed",
    "unknown",
];

/// The values of the `rule` label: which counter of the login throttle
/// refused (see the README's throttle rules): failures from one `address`;
/// failures of one `user` from anywhere; failures of one user from one
/// address (`user_address`); failures with one `device` token; logins of
/// one identity-provider subject (`idp_subject`).
pub const THROTTLE_RULES: &[&str] = &["address", "user", "user_address", "device", "idp_subject"];

/// The values of the `operation` label: the [`Store`](crate::Store)
/// method a call served, `opaque` for any of the opaque-credential
/// methods, `mirror` for the revocation mirror's snapshots and probes,
/// `ping` for the health check a store makes when it connects, and, on
/// SQL, `migrate` (the schema, at start) and `sweep` (deleting what
/// expired, in the background).
pub const STORE_OPERATIONS: &[&str] = &[
    "count_attempt",
    "take_back_attempt",
    "clear_attempts",
    "attempts",
    "revoke_token",
    "revoke_family",
    "revoke_subject",
    "is_revoked",
    "create_family",
    "rotate_family",
    "family_is_current",
    "extend_family",
    "opaque",
    "mirror",
    "ping",
    "migrate",
    "sweep",
];

/// Bucket bounds, in seconds, for the two histograms: from half a
/// millisecond (a store on loopback) to 2.5 seconds (a hashing queue
/// that is far behind).
pub const LATENCY_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Registers the help text and unit of every metric with the installed
/// recorder (Prometheus' `# HELP` lines). Call it once, after installing
/// the recorder; without the feature `metrics` it does nothing.
pub fn describe() {
    #[cfg(feature = "metrics")]
    {
        use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
        describe_counter!(ROUTE_REQUESTS, "Answers of the auth routes, by dialect, action and outcome");
        describe_counter!(TOKEN_REJECTIONS, "Tokens refused, by where (guard or route) and why");
        describe_counter!(BASIC_CHECKS, "Basic credentials checked by a guard, by outcome");
        describe_counter!(REFRESH_REUSE, "Rotated refresh tokens presented again (session family revoked)");
        describe_counter!(REVOCATIONS, "Revocations, by kind (token, family, subject)");
        describe_counter!(THROTTLE_REFUSALS, "Logins refused by the login throttle, by rule");
        describe_gauge!(HASHING_QUEUE_DEPTH, "Password checks waiting for a hashing thread");
        describe_histogram!(HASHING_WAIT, Unit::Seconds, "Time a password check waited for a hashing thread");
        describe_counter!(HASHING_REFUSALS, "Password checks refused because the hashing queue was full");
        describe_counter!(TOKEN_CACHE, "Verified-token cache lookups, by result (hit, miss)");
        describe_histogram!(
            STORE_OPERATION,
            Unit::Seconds,
            "Shared store call latency, by store and operation"
        );
        describe_counter!(STORE_ERRORS, "Failed or timed-out shared store calls, by store and operation");
        describe_counter!(STORE_OUTAGES, "Shared store outages begun, by store");
        describe_gauge!(STORE_UP, "1 while the shared store answers, 0 during an outage");
        describe_counter!(JWKS_FETCHES, "Fetches of identity providers' key sets, by issuer and outcome");
        describe_counter!(CLIENT_LOGINS, "The client agent's logins, by dialect and outcome");
        describe_counter!(CLIENT_REFRESHES, "The client agent's refreshes, by dialect and outcome");
    }
}

/// The recording calls the rest of the crate makes: each compiles to
/// nothing without the feature `metrics`.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) mod record {
    #[cfg(feature = "metrics")]
    use super::*;

    /// A route set answered.
    #[inline]
    pub(crate) fn route(dialect: &'static str, action: &'static str, outcome: &'static str) {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(ROUTE_REQUESTS, "dialect" => dialect, "action" => action, "outcome" => outcome)
            .increment(1);
    }

    /// A guard checked `Basic` credentials: `ok` or the refusal's outcome.
    #[inline]
    pub(crate) fn basic_check(outcome: &'static str) {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(BASIC_CHECKS, "outcome" => outcome).increment(1);
    }

    /// A token was refused by the guard (`guard`) or a route (`route`).
    #[inline]
    pub(crate) fn token_rejected(source: &'static str, reason: &'static str) {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(TOKEN_REJECTIONS, "source" => source, "reason" => reason).increment(1);
    }

    /// A rotated refresh token came back.
    #[inline]
    pub(crate) fn refresh_reuse() {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(REFRESH_REUSE).increment(1);
    }

    /// Something was revoked: `token`, `family` or `subject`.
    #[inline]
    pub(crate) fn revoked(kind: &'static str) {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(REVOCATIONS, "kind" => kind).increment(1);
    }

    /// The login throttle refused by `rule` (one of [`THROTTLE_RULES`]).
    #[inline]
    pub(crate) fn throttled(rule: &'static str) {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(THROTTLE_REFUSALS, "rule" => rule).increment(1);
    }

    /// A job entered the hashing queue (`true`) or left it for a thread.
    #[inline]
    pub(crate) fn hashing_queued(entered: bool) {
        #[cfg(feature = "metrics")]
        {
            let gauge = ::metrics::gauge!(HASHING_QUEUE_DEPTH);
            if entered { gauge.increment(1.0) } else { gauge.decrement(1.0) }
        }
    }

    /// A password check waited `waited` for a hashing thread.
    #[inline]
    pub(crate) fn hashing_wait(waited: std::time::Duration) {
        #[cfg(feature = "metrics")]
        ::metrics::histogram!(HASHING_WAIT).record(waited.as_secs_f64());
    }

    /// A password check was refused, the hashing queue full.
    #[inline]
    pub(crate) fn hashing_refused() {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(HASHING_REFUSALS).increment(1);
    }

    /// The verified-token cache's lookup counters: the one metric of
    /// every protected request, so its two handles are registered with
    /// the recorder at the first lookup and kept, not looked up by name
    /// each time. (A recorder installed after a cache's first lookup is
    /// not told of that cache's lookups: install it at start-up.)
    #[derive(Default)]
    pub(crate) struct CacheLookups {
        #[cfg(feature = "metrics")]
        handles: std::sync::OnceLock<[::metrics::Counter; 2]>,
    }

    impl CacheLookups {
        /// A lookup: a hit or a miss.
        #[inline]
        pub(crate) fn record(&self, hit: bool) {
            #[cfg(feature = "metrics")]
            {
                let [hits, misses] = self.handles.get_or_init(|| {
                    [
                        ::metrics::counter!(TOKEN_CACHE, "result" => "hit"),
                        ::metrics::counter!(TOKEN_CACHE, "result" => "miss"),
                    ]
                });
                if hit { hits } else { misses }.increment(1);
            }
        }
    }

    /// A shared-store call took `took`, and failed or not.
    #[inline]
    pub(crate) fn store_call(
        store: &'static str,
        operation: &'static str,
        took: std::time::Duration,
        ok: bool,
    ) {
        #[cfg(feature = "metrics")]
        {
            ::metrics::histogram!(STORE_OPERATION, "store" => store, "operation" => operation)
                .record(took.as_secs_f64());
            if !ok {
                ::metrics::counter!(STORE_ERRORS, "store" => store, "operation" => operation).increment(1);
            }
        }
    }

    /// A store's outage began (`up == false`) or ended.
    #[inline]
    pub(crate) fn store_up(store: &'static str, up: bool) {
        #[cfg(feature = "metrics")]
        {
            ::metrics::gauge!(STORE_UP, "store" => store).set(if up { 1.0 } else { 0.0 });
            if !up {
                ::metrics::counter!(STORE_OUTAGES, "store" => store).increment(1);
            }
        }
    }

    /// An identity provider's keys were fetched (`ok`) or not.
    #[inline]
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(crate) fn jwks_fetch(issuer: &str, ok: bool) {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(JWKS_FETCHES, "issuer" => issuer.to_owned(), "outcome" => if ok { "ok" } else { "error" })
            .increment(1);
    }

    /// The client agent logged in: `ok`, `refused` or `error`.
    #[inline]
    #[cfg_attr(not(feature = "agent"), allow(dead_code))]
    pub(crate) fn client_login(dialect: &'static str, outcome: &'static str) {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(CLIENT_LOGINS, "dialect" => dialect, "outcome" => outcome).increment(1);
    }

    /// The client agent refreshed: `ok`, `refused` or `error`.
    #[inline]
    #[cfg_attr(not(feature = "agent"), allow(dead_code))]
    pub(crate) fn client_refresh(dialect: &'static str, outcome: &'static str) {
        #[cfg(feature = "metrics")]
        ::metrics::counter!(CLIENT_REFRESHES, "dialect" => dialect, "outcome" => outcome).increment(1);
    }
}
