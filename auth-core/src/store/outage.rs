//! One warning per outage of a store's backend, not one per request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::StoreError;

/// Tracks whether a store's backend is down, so that an outage is logged
/// once (`warn`, when the first call fails) and its end once (`info`, when
/// a call succeeds again), however many requests fail in between. Every
/// network store of this crate reports through one; a third-party backend
/// can too.
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
}

impl OutageLog {
    /// A log for `backend` (named in its messages), starting healthy.
    pub const fn new(backend: &'static str) -> Self {
        Self { backend, down: AtomicBool::new(false) }
    }

    /// Whether the last call failed.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// A call failed with `err`: warns if this starts an outage.
    pub fn failed(&self, err: &StoreError) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                backend = self.backend,
                error = %err,
                "auth store unreachable: requests that need it answer 503 (gRPC: 14 UNAVAILABLE) until it is back"
            );
        }
    }

    /// A call succeeded: says so once if this ends an outage. (A plain
    /// load first, so the healthy path never writes the shared flag.)
    pub fn succeeded(&self) {
        if self.down.load(Ordering::Relaxed) && self.down.swap(false, Ordering::Relaxed) {
            tracing::info!(backend = self.backend, "auth store reachable again");
        }
    }

    /// Runs one backend call bounded by `timeout` (past it:
    /// [`StoreError::Timeout`]) and reports its outcome here: the
    /// fail-closed path every network store of this crate shares.
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
        let result = tokio::time::timeout(timeout, call).await.unwrap_or(Err(StoreError::Timeout(timeout)));
        match &result {
            Ok(_) => self.succeeded(),
            Err(err) => self.failed(err),
        }
        result
    }
}
