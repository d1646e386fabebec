//! Keeping a [`Mirror`] current: subscribe, load a snapshot, apply the
//! events in sequence, and renew the lease when the store's probe comes
//! back with the number the mirror has reached; on any doubt, distrust at
//! once and start again. The same loop for every backend; a backend
//! supplies a [`Source`].

use std::collections::VecDeque;
use std::sync::Weak;
use std::time::{Duration, Instant};

use super::{Applied, Event, HEARTBEAT, MIRROR_LEASE, Mirror, Snapshot};
use crate::store::StoreError;

/// A live subscription to a store's events.
#[async_trait::async_trait]
pub(crate) trait Feed: Send {
    /// The next line; an error when the subscription is lost. Must be
    /// cancel-safe (it races the probe timer).
    async fn next(&mut self) -> Result<String, StoreError>;
}

/// Where a mirror's events and snapshots come from.
#[async_trait::async_trait]
pub(crate) trait Source: Send + Sync + 'static {
    /// Subscribes (before the snapshot, so nothing falls in between).
    async fn subscribe(&self) -> Result<Box<dyn Feed>, StoreError>;

    /// Every live revocation, with the sequence it is current to.
    async fn snapshot(&self, now: i64) -> Result<Snapshot, StoreError>;

    /// Has the store publish `EPOCH SEQ h 0 0 NONCE` with the number it
    /// has reached, in order with the events (serialised with the writes
    /// that take numbers) and through the same path.
    async fn probe(&self, nonce: &str) -> Result<(), StoreError>;

    /// How long one step may take.
    fn timeout(&self) -> Duration;

    /// The backend's name, for the log.
    fn backend(&self) -> &'static str;
}

/// The shortest and longest wait before subscribing again.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(20), Duration::from_secs(1));

/// How often expired entries are dropped from the mirror.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Probes awaiting their answer (older ones are forgotten).
const PENDING: usize = 16;

/// Follows `source` into `mirror` until the mirror is dropped (spawn it).
pub(crate) async fn follow(source: impl Source, mirror: Weak<Mirror>) {
    let mut backoff = BACKOFF.0;
    let mut log = Log::default();
    loop {
        if mirror.strong_count() == 0 {
            return;
        }
        let started = Instant::now();
        let err = match run(&source, &mirror, &mut log).await {
            Ok(()) => return,
            Err(err) => err,
        };
        if let Some(mirror) = mirror.upgrade() {
            mirror.distrust();
        }
        if !log.behind {
            log.behind = true;
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
        // (jittered: instances that lost the same server do not all come back at once)
        let jitter = Duration::from_millis(u64::from(rand::random::<u8>()) % 20);
        tokio::time::sleep(backoff + jitter).await;
        backoff = (backoff * 2).min(BACKOFF.1);
    }
}

/// What the log has been told: said once each, not per attempt.
#[derive(Default)]
struct Log {
    /// That the mirror is behind (until it is current again).
    behind: bool,
    /// That it became current the first time.
    started: bool,
}

impl Log {
    fn current(&mut self, backend: &'static str) {
        if std::mem::take(&mut self.behind) {
            tracing::info!(backend, "revocation mirror resynced: answering from memory again");
        } else if !std::mem::replace(&mut self.started, true) {
            tracing::info!(backend, "revocation mirror current: protected requests are answered from memory");
        }
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

/// The probes this instance sent and has not heard back.
struct Probes(VecDeque<(String, Instant)>);

impl Probes {
    async fn send(&mut self, source: &impl Source, limit: Duration) -> Result<(), StoreError> {
        let nonce = format!("{:016x}", rand::random::<u64>());
        let sent = Instant::now();
        within(limit, source.probe(&nonce)).await?;
        if self.0.len() == PENDING {
            self.0.pop_front();
        }
        self.0.push_back((nonce, sent));
        Ok(())
    }

    /// When the probe `nonce` was sent, if it is this instance's (it and
    /// every older one are then answered).
    fn answered(&mut self, nonce: &str) -> Option<Instant> {
        let at = self.0.iter().position(|(n, _)| n == nonce)?;
        self.0.drain(..=at).next_back().map(|(_, sent)| sent)
    }

    /// Whether the oldest unanswered probe has waited past the lease.
    fn overdue(&self) -> bool {
        self.0.front().is_some_and(|(_, sent)| sent.elapsed() > MIRROR_LEASE * 2)
    }
}

/// One line: applied, or the lease renewed; an error means resync.
fn take(mirror: &Mirror, probes: &mut Probes, line: &str) -> Result<(), StoreError> {
    let event = Event::parse(line).ok_or_else(|| gap("an unreadable event"))?;
    match mirror.apply(&event, crate::time::now()) {
        Applied::Next | Applied::Old => Ok(()),
        Applied::Probe(nonce) => {
            if let Some(sent) = probes.answered(&nonce) {
                mirror.trust_until(sent + MIRROR_LEASE);
            }
            Ok(())
        }
        Applied::Gap => {
            mirror.distrust();
            Err(gap("a number is missing or went back (or the store's sequence restarted)"))
        }
    }
}

/// One subscription's life: `Ok` only when the mirror is gone.
async fn run(source: &impl Source, weak: &Weak<Mirror>, log: &mut Log) -> Result<(), StoreError> {
    let limit = source.timeout();
    let mut feed = within(limit, source.subscribe()).await?;
    let snapshot = within(limit, source.snapshot(crate::time::now())).await?;
    match weak.upgrade() {
        Some(mirror) => mirror.reset(snapshot, crate::time::now()),
        None => return Ok(()),
    }
    // trusted only once a probe sent after the snapshot comes back
    let mut probes = Probes(VecDeque::with_capacity(PENDING));
    probes.send(source, limit).await?;
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut swept = Instant::now();
    loop {
        tokio::select! {
            line = feed.next() => {
                let line = line?;
                let Some(mirror) = weak.upgrade() else { return Ok(()) };
                let was_trusted = mirror.trusted();
                take(&mirror, &mut probes, &line)?;
                if !was_trusted && mirror.trusted() {
                    log.current(source.backend());
                }
            }
            _ = heartbeat.tick() => {
                let Some(mirror) = weak.upgrade() else { return Ok(()) };
                if probes.overdue() {
                    mirror.distrust();
                    return Err(gap("the store's probes stopped coming back"));
                }
                probes.send(source, limit).await?;
                if swept.elapsed() >= SWEEP_EVERY {
                    swept = Instant::now();
                    mirror.sweep(crate::time::now());
                }
            }
        }
    }
}
