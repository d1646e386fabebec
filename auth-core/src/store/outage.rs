//! One warning per outage of a store's backend, not one per request; and
//! the store metrics (`tokenauth_store_*`, feature `metrics`) of every call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::StoreError;
use crate::metrics::record;

/// Tracks whether a store's backend is down, so that an outage is logged
/// once (`warn`, when the first call fails) and its end once (`info`, when
/// a call succeeds again), however many requests fail in between. Every
/// network store of this crate reports through one; a third-party backend
/// can too.
///
/// With the feature `metrics` it also keeps the gauge
/// `tokenauth_store_up{store}` (1 from the first call that succeeds, 0
/// during an outage; `store` is the backend's name) and counts outages
/// (`tokenauth_store_outages_total`); [`run_op`](Self::run_op) records
/// each call's latency and failures too (see [`crate::metrics`]).
///
/// ```
/// let log = auth_core::OutageLog::new("redis");
/// log.failed(&auth_core::StoreError::Backend("connection refused".into())); // warns
/// log.failed(&auth_core::StoreError::Backend("connection refused".into())); // quiet
/// assert!(log.is_down());
/// log.succeeded(); // "back"
/// assert!(!log.is_down());
/// ```
#[derive(Debug)]
pub struct OutageLog {
    backend: &'static str,
    down: AtomicBool,
    /// Whether the gauge has been set (by a failure, or by the first
    /// success): it is set once while the store stays healthy.
    reported: AtomicBool,
}

impl OutageLog {
    /// A log for `backend` (named in its messages, and the `store` label
    /// of its metrics), starting healthy.
    pub const fn new(backend: &'static str) -> Self {
        Self { backend, down: AtomicBool::new(false), reported: AtomicBool::new(false) }
    }

    /// Whether the last call failed.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// A call failed with `err`: warns if this starts an outage.
    pub fn failed(&self, err: &StoreError) {
        if !self.down.swap(true, Ordering::Relaxed) {
            self.reported.store(true, Ordering::Relaxed);
            record::store_up(self.backend, false);
            tracing::warn!(
                backend = self.backend,
                error = %err,
                "auth store unreachable: requests that need it answer 503 (gRPC: 14 UNAVAILABLE) until it is back"
            );
        }
    }

    /// A call succeeded: says so once if this ends an outage. (Plain
    /// loads first, so the healthy path never writes a shared flag.)
    pub fn succeeded(&self) {
        if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
            record::store_up(self.backend, true);
            tracing::info!(backend = self.backend, "auth store reachable again");
        } else if !self.reported.load(Ordering::Relaxed) && !self.reported.swap(true, Ordering::Relaxed) {
            // The first call that succeeded: the gauge starts at 1.
            record::store_up(self.backend, true);
        }
    }

    /// Runs one backend call bounded by `timeout` (past it:
    /// [`StoreError::Timeout`]) and reports its outcome here: the
    /// fail-closed path every network store of this crate shares. Records
    /// no latency: [`run_op`](Self::run_op) does.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// let log = auth_core::OutageLog::new("example");
    /// let slow = async {
    ///     tokio::time::sleep(Duration::from_secs(5)).await;
    ///     Ok::<_, auth_core::StoreError>(())
    /// };
    /// let err = log.run(Duration::from_millis(10), slow).await.unwrap_err();
    /// assert!(matches!(err, auth_core::StoreError::Timeout(_)) && log.is_down());
    /// # })
    /// ```
    pub async fn run<T>(
        &self,
        timeout: Duration,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = bounded(timeout, call).await;
        self.report(&result);
        result
    }

    /// [`run`](Self::run), and records the call (feature `metrics`): its
    /// latency in `tokenauth_store_operation_seconds{store, operation}`,
    /// and a failure or timeout in `tokenauth_store_errors_total`.
    /// `operation` names the [`Store`](crate::Store) method served, one of
    /// [`STORE_OPERATIONS`](crate::metrics::STORE_OPERATIONS) (never a key
    /// or any other value: each name is a series).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// let log = auth_core::OutageLog::new("example");
    /// let answer = log.run_op("is_revoked", Duration::from_secs(1), async { Ok::<_, auth_core::StoreError>(false) }).await;
    /// assert_eq!(answer.ok(), Some(false));
    /// # })
    /// ```
    pub async fn run_op<T>(
        &self,
        operation: &'static str,
        timeout: Duration,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = timed(self.backend, operation, bounded(timeout, call)).await;
        self.report(&result);
        result
    }

    fn report<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) => self.succeeded(),
            Err(err) => self.failed(err),
        }
    }
}

/// `call`, failed with [`StoreError::Timeout`] past `timeout`.
async fn bounded<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(timeout, call).await.unwrap_or(Err(StoreError::Timeout(timeout)))
}

/// Runs `call`, recording its latency and outcome as an `operation` of
/// `store` (no outage tracking: a store's own connections aside, such as
/// a mirror's, use this directly).
pub(crate) async fn timed<T>(
    store: &'static str,
    operation: &'static str,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let started = Instant::now();
    let result = call.await;
    record::store_call(store, operation, started.elapsed(), result.is_ok());
    result
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use super::*;
    use crate::store::test_recorder::TestRecorder;

    #[test]
    fn metrics_count_calls_and_one_outage() {
        let recorder = TestRecorder::default();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let log = OutageLog::new("redis");
        let limit = Duration::from_secs(1);
        ::metrics::with_local_recorder(&recorder, || {
            rt.block_on(async {
                let up = "tokenauth_store_up{store=redis}";
                log.run_op("is_revoked", limit, async { Ok::<_, StoreError>(false) }).await.expect("answers");
                assert_eq!(recorder.get(up), Some(1.0), "the first success sets the gauge");
                for _ in 0..3 {
                    let down = async { Err::<(), _>(StoreError::Backend("refused".into())) };
                    assert!(log.run_op("rotate_family", limit, down).await.is_err());
                }
                assert_eq!(recorder.get(up), Some(0.0));
                log.run_op("ping", limit, async { Ok::<_, StoreError>(()) }).await.expect("answers");
                assert_eq!(recorder.get(up), Some(1.0));
            })
        });
        let get = |key: &str| recorder.get(key);
        assert_eq!(get("tokenauth_store_outages_total{store=redis}"), Some(1.0), "one outage, not three");
        assert_eq!(get("tokenauth_store_errors_total{store=redis,operation=rotate_family}"), Some(3.0));
        assert_eq!(get("tokenauth_store_errors_total{store=redis,operation=is_revoked}"), None);
        assert_eq!(get("tokenauth_store_operation_seconds{store=redis,operation=is_revoked}"), Some(1.0));
        assert_eq!(get("tokenauth_store_operation_seconds{store=redis,operation=rotate_family}"), Some(3.0));
        assert_eq!(get("tokenauth_store_operation_seconds{store=redis,operation=ping}"), Some(1.0));
    }
}
