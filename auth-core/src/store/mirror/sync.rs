//! Keeping a [`Mirror`] current: subscribe, load a snapshot, apply the
//! events in sequence and renew the lease with a ping down the
//! subscription; on any doubt, distrust at once and start again. The same
//! loop for every backend; a backend supplies a [`Source`].

use std::sync::Weak;
use std::time::{Duration, Instant};

use super::{Applied, Event, HEARTBEAT, MIRROR_LEASE, Mirror, Snapshot};
use crate::store::StoreError;

/// A live subscription to a store's events.
#[async_trait::async_trait]
pub(crate) trait Feed: Send {
    /// The next event line; an error when the subscription is lost.
    /// Must be cancel-safe (it races the heartbeat timer).
    async fn next(&mut self) -> Result<String, StoreError>;

    /// A round trip on the subscription itself: when it returns, every
    /// event published before it was sent has been received (and is
    /// waiting in [`buffered`](Feed::buffered) if not read yet).
    async fn heartbeat(&mut self) -> Result<(), StoreError>;

    /// An event already received, without waiting.
    fn buffered(&mut self) -> Option<String>;
}

/// Where a mirror's events and snapshots come from.
#[async_trait::async_trait]
pub(crate) trait Source: Send + Sync + 'static {
    /// Subscribes (before the snapshot, so nothing falls in between).
    async fn subscribe(&self) -> Result<Box<dyn Feed>, StoreError>;

    /// Every live revocation, with the sequence it is current to.
    async fn snapshot(&self, now: i64) -> Result<Snapshot, StoreError>;

    /// How long one step may take.
    fn timeout(&self) -> Duration;

    /// The backend's name, for the log.
    fn backend(&self) -> &'static str;
}

/// The shortest and longest wait before subscribing again.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(20), Duration::from_secs(1));

/// How often expired entries are dropped from the mirror.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Follows `source` into `mirror` until the mirror is dropped (spawn it).
pub(crate) async fn follow(source: impl Source, mirror: Weak<Mirror>) {
    let mut backoff = BACKOFF.0;
    let mut behind_logged = false;
    loop {
        if mirror.strong_count() == 0 {
            return;
        }
        let started = Instant::now();
        let err = match run(&source, &mirror, &mut behind_logged).await {
            Ok(()) => return,
            Err(err) => err,
        };
        if let Some(mirror) = mirror.upgrade() {
            mirror.distrust();
        }
        if !behind_logged {
            behind_logged = true;
            tracing::warn!(
                backend = source.backend(),
                error = %err,
                "revocation mirror behind: every check goes to the store until it has resynced"
            );
        }
        // A subscription that lived a while starts again at once.
        if started.elapsed() > BACKOFF.1 {
            backoff = BACKOFF.0;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

async fn within<T>(
    limit: Duration,
    step: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, step).await.unwrap_or(Err(StoreError::Timeout(limit)))
}

fn gap(what: &str) -> StoreError {
    StoreError::Backend(format!("revocation events: {what}"))
}

/// Applies one line; an error means the mirror must resync.
fn apply(mirror: &Mirror, line: &str) -> Result<(), StoreError> {
    let event = Event::parse(line).ok_or_else(|| gap("an unreadable event"))?;
    match mirror.apply(&event, crate::time::now()) {
        Applied::Next | Applied::Old => Ok(()),
        Applied::Gap => {
            mirror.distrust();
            Err(gap("an event is missing (or the store's sequence restarted)"))
        }
    }
}

/// One subscription's life: `Ok` only when the mirror is gone.
async fn run(source: &impl Source, weak: &Weak<Mirror>, behind_logged: &mut bool) -> Result<(), StoreError> {
    let limit = source.timeout();
    let mut feed = within(limit, source.subscribe()).await?;
    let sent = Instant::now();
    let snapshot = within(limit, source.snapshot(crate::time::now())).await?;
    {
        let Some(mirror) = weak.upgrade() else { return Ok(()) };
        mirror.reset(snapshot, crate::time::now());
        while let Some(line) = feed.buffered() {
            apply(&mirror, &line)?;
        }
        mirror.trust_until(sent + MIRROR_LEASE);
    }
    if std::mem::take(behind_logged) {
        tracing::info!(backend = source.backend(), "revocation mirror resynced: answering from memory again");
    }
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut swept = Instant::now();
    loop {
        tokio::select! {
            line = feed.next() => {
                let line = line?;
                let Some(mirror) = weak.upgrade() else { return Ok(()) };
                apply(&mirror, &line)?;
            }
            _ = heartbeat.tick() => {
                let sent = Instant::now();
                within(limit, feed.heartbeat()).await?;
                let Some(mirror) = weak.upgrade() else { return Ok(()) };
                while let Some(line) = feed.buffered() {
                    apply(&mirror, &line)?;
                }
                mirror.trust_until(sent + MIRROR_LEASE);
                if swept.elapsed() >= SWEEP_EVERY {
                    swept = Instant::now();
                    mirror.sweep(crate::time::now());
                }
            }
        }
    }
}
