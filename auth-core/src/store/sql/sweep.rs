//! Deleting what has expired: the sweep of a [`SqlStore`], the trim of the
//! attempt counters to their bound, and the background task that runs them.

use std::sync::Weak;
use std::time::Duration;

use super::{Backend, Inner, SqlStore};
use crate::store::StoreError;

impl SqlStore {
    /// Deletes up to `batch` expired rows from each table; answers how
    /// many went. The background sweep calls this; so can a test.
    pub async fn sweep(&self, now: i64, batch: u32) -> Result<u64, StoreError> {
        let mut removed = 0;
        let mut failed = None;
        for query in &self.inner.sql.sweep {
            let swept = self
                .call("sweep", async {
                    on_pool!(self, pool => sqlx::query(self.q(query))
                        .bind(now)
                        .bind(i64::from(batch))
                        .execute(pool)
                        .await
                        .map(|r| r.rows_affected()))
                    .map_err(StoreError::from)
                })
                .await;
            match swept {
                Ok(n) => removed += n,
                // the other tables and the trim still run
                Err(err) => failed = Some(err),
            }
        }
        removed += self.trim_attempts(now, batch).await?;
        match failed {
            Some(err) => Err(err),
            None => Ok(removed),
        }
    }

    /// Deletes the attempt counters past the bound
    /// ([`SqlOptions::max_attempt_counters`](super::SqlOptions::max_attempt_counters)), in batches of `batch` rows:
    /// the short-lived ones before the addresses users logged in from
    /// (kept for weeks), those that let the fewest attempts through first
    /// (a flood's fresh counters before those holding an attacker back),
    /// soonest expiry first.
    async fn trim_attempts(&self, now: i64, batch: u32) -> Result<u64, StoreError> {
        let (sql, keep, batch) =
            (&self.inner.sql, i64::from(self.inner.max_attempts), i64::from(batch.max(1)));
        let mut removed = 0;
        // Each statement deletes (up to a batch of) the rows ranked past the
        // bound: a statement run twice at once, by two instances, deletes
        // the same rows, never twice as many.
        loop {
            let done = self
                .execute("sweep", &sql.trim_attempts, |b| {
                    b.int(now.saturating_add(86_400)).int(batch).int(keep)
                })
                .await?;
            removed += done;
            if done < batch.unsigned_abs() {
                return Ok(removed);
            }
        }
    }
}

pub(super) async fn sweep_loop(inner: Weak<Inner>, every: Duration, batch: u32) {
    // The first sweep comes one period after the start, not at it: a fleet
    // starting together does not sweep together, and a new store's first
    // requests do not queue behind a sweep.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let now = crate::time::now();
        // (a SQLite mirror has no follow loop to sweep it)
        if let Some(mirror) = &inner.mirror {
            mirror.sweep(now);
        }
        // A failed sweep is retried at the next tick; the outage log has it.
        let _ = SqlStore { inner }.sweep(now, batch).await;
    }
}
