//! One warning per outage of a store's backend, not one per request.

use std::sync::atomic::{AtomicBool, Ordering};

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
                "auth store unreachable: requests that need it answer 503 until it is back"
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
}
