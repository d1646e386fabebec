//! [`HashingPool`]: the threads password hashes run on, their queue and
//! waiting room, and the priority the OS grants them.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::error::UserStoreError;
use crate::metrics::record;
use crate::places::Place;

type Job = Box<dyn FnOnce() + Send>;

/// A pool of password-hashing threads with a bounded queue. Cheap to clone
/// (clones share the threads).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let pool = auth_core::HashingPool::new(1, 8);
/// assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
/// assert_eq!(pool.capacity(), (1, 8));
/// # })
/// ```
#[derive(Clone)]
pub struct HashingPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    jobs: SyncSender<Job>,
    priority: Arc<AtomicU8>,
    threads: usize,
    queue: usize,
    queued: AtomicUsize,
    dropped: AtomicU64,
    /// Waiting-room places and how long a job may wait in one.
    waiters: usize,
    max_wait: Duration,
    waiting: AtomicUsize,
    /// Signalled each time a thread takes a job (a queue slot frees).
    slot_freed: Arc<Notify>,
}

impl std::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingPool")
            .field("threads", &self.inner.threads)
            .field("queue", &self.inner.queue)
            .field("queued", &self.queued())
            .field("waiters", &self.inner.waiters)
            .field("max_wait", &self.inner.max_wait)
            .finish()
    }
}

impl HashingPool {
    /// `threads` hashing threads (at least 1) and room for `queue` waiting
    /// jobs (0: a job is taken only when a thread is free); no waiting
    /// room: a job that finds the queue full is refused at once.
    pub fn new(threads: usize, queue: usize) -> Self {
        Self::with_waiting_room(threads, queue, 0, Duration::ZERO)
    }

    /// Like [`new`](Self::new), plus a waiting room of `waiters` places: a
    /// job that finds the queue full waits (asynchronously, in arrival
    /// order) up to `max_wait` for a place in the queue, and is refused
    /// as [`UserStoreError::Busy`] when the time is up or the waiting room
    /// is full too. With a waiting room the queue holds at least one job
    /// (a waiter is woken when a thread takes one from the queue). Waiting
    /// needs the tokio timer (`#[tokio::main]`, and actix-web's runtime,
    /// have it).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// let pool = auth_core::HashingPool::with_waiting_room(1, 4, 64, Duration::from_secs(1));
    /// assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
    /// assert_eq!(pool.waiting_room(), (64, Duration::from_secs(1)));
    /// # })
    /// ```
    pub fn with_waiting_room(threads: usize, queue: usize, waiters: usize, max_wait: Duration) -> Self {
        let threads = threads.max(1);
        let waiters = if max_wait.is_zero() { 0 } else { waiters };
        let queue = if waiters > 0 { queue.max(1) } else { queue };
        let (jobs, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        let priority = Arc::new(AtomicU8::new(HashingPriority::Unknown as u8));
        let slot_freed = Arc::new(Notify::new());
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let granted = Arc::clone(&priority);
            let freed = Arc::clone(&slot_freed);
            let spawned = std::thread::Builder::new().name(format!("auth-hash-{i}")).spawn(move || {
                granted.store(lower_priority() as u8, Ordering::Relaxed);
                worker(&rx, &freed);
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        let inner = PoolInner {
            jobs,
            priority,
            threads,
            queue,
            queued: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            waiters,
            max_wait,
            waiting: AtomicUsize::new(0),
            slot_freed,
        };
        Self { inner: Arc::new(inner) }
    }

    /// The process-wide default: `max(1, cpus / 2)` threads, a queue of
    /// four jobs per thread, and a waiting room of 32 places per thread
    /// where a job waits at most [`GLOBAL_MAX_WAIT`](Self::GLOBAL_MAX_WAIT).
    pub fn global() -> &'static HashingPool {
        static POOL: OnceLock<HashingPool> = OnceLock::new();
        POOL.get_or_init(|| {
            let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
            let threads = (cpus / 2).max(1);
            HashingPool::with_waiting_room(threads, threads * 4, threads * 32, Self::GLOBAL_MAX_WAIT)
        })
    }

    /// How long a job may wait in the [global](Self::global) pool's waiting
    /// room: about the `Retry-After` (1 s) a refused login is told.
    pub const GLOBAL_MAX_WAIT: Duration = Duration::from_secs(1);

    /// The priority the OS granted the pool's threads (the last thread to
    /// start tells; they all ask for the same).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use auth_core::{HashingPool, HashingPriority};
    /// let pool = HashingPool::new(1, 1);
    /// pool.run(|| ()).await.unwrap();
    /// assert_ne!(pool.priority(), HashingPriority::Unknown);
    /// # })
    /// ```
    pub fn priority(&self) -> HashingPriority {
        HashingPriority::from_u8(self.inner.priority.load(Ordering::Relaxed))
    }

    /// `(threads, queue)`.
    pub fn capacity(&self) -> (usize, usize) {
        (self.inner.threads, self.inner.queue)
    }

    /// Jobs accepted and not yet started (at most the queue size, plus any
    /// a thread has just taken).
    pub fn queued(&self) -> usize {
        self.inner.queued.load(Ordering::Relaxed)
    }

    /// `(places, max_wait)` of the waiting room (`(0, 0)`: none).
    pub fn waiting_room(&self) -> (usize, Duration) {
        (self.inner.waiters, self.inner.max_wait)
    }

    /// Jobs in the waiting room now.
    pub fn waiting(&self) -> usize {
        self.inner.waiting.load(Ordering::Relaxed)
    }

    /// Whether the queue and the waiting room are full now, so that a job
    /// would be refused as [`UserStoreError::Busy`] at once: a hint (the
    /// answer can change at once), for callers that can skip work before a
    /// refusal.
    pub fn is_saturated(&self) -> bool {
        self.inner.queue > 0 && self.queued() >= self.inner.queue && self.waiting() >= self.inner.waiters
    }

    /// Jobs dropped unstarted because their caller had gone away.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Runs a CPU-heavy closure on the pool and awaits its result without
    /// blocking the async executor. [`UserStoreError::Busy`] when the queue
    /// is full (after a stay in the waiting room, if the pool has one); if
    /// the returned future is dropped before a thread takes the job, the
    /// closure never runs.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, UserStoreError> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let inner = Arc::clone(&self.inner);
        // From the submission (a stay in the waiting room included) until
        // a thread starts the job.
        let submitted = Instant::now();
        let job: Job = Box::new(move || {
            record::hashing_wait(submitted.elapsed());
            inner.queued.fetch_sub(1, Ordering::Relaxed);
            record::hashing_queued(false);
            if reply.is_closed() {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let _ = reply.send(f());
        });
        let queued = match self.submit(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) if self.inner.waiters > 0 => self.wait_for_a_slot(job).await,
            Err(refused) => Err(refusal(&refused)),
        };
        if let Err(err) = queued {
            if matches!(err, UserStoreError::Busy) {
                record::hashing_refused();
            }
            return Err(err);
        }
        result.await.map_err(|_| UserStoreError::Failed("password hashing failed".into()))
    }

    fn submit(&self, job: Job) -> Result<(), TrySendError<Job>> {
        self.inner.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self.inner.jobs.try_send(job);
        if sent.is_err() {
            self.inner.queued.fetch_sub(1, Ordering::Relaxed);
        } else {
            // (a refused job changes nothing: no gauge update)
            // by steps, not set: a thread's step down may come first
            record::hashing_queued(true);
        }
        sent
    }

    /// The waiting room: a place if one is free, then a queue slot within
    /// `max_wait`. `Notify` wakes waiters in arrival order, one per slot a
    /// thread frees.
    async fn wait_for_a_slot(&self, mut job: Job) -> Result<(), UserStoreError> {
        let inner = &self.inner;
        let Some(_place) = Place::take(&inner.waiting, inner.waiters) else {
            return Err(UserStoreError::Busy);
        };
        let waited = tokio::time::timeout(inner.max_wait, async {
            loop {
                let freed = inner.slot_freed.notified();
                tokio::pin!(freed);
                // Registered before the retry, so a slot freed in between
                // is not missed.
                freed.as_mut().enable();
                match self.submit(job) {
                    Ok(()) => return Ok(()),
                    Err(TrySendError::Full(back)) => job = back,
                    Err(refused) => return Err(refusal(&refused)),
                }
                freed.await;
            }
        })
        .await;
        waited.unwrap_or(Err(UserStoreError::Busy))
    }
}

fn refusal(refused: &TrySendError<Job>) -> UserStoreError {
    match refused {
        TrySendError::Full(_) => UserStoreError::Busy,
        TrySendError::Disconnected(_) => UserStoreError::Failed("the password hashing pool is gone".into()),
    }
}

/// How a [`HashingPool`]'s threads are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum HashingPriority {
    /// No thread has started yet.
    Unknown = 0,
    /// Linux `SCHED_IDLE`: a hash runs only on CPU time nothing else wants.
    Idle = 1,
    /// The lowest niceness (19): where `SCHED_IDLE` is not available.
    Lowest = 2,
    /// The OS refused both; the threads run at the default priority.
    Default = 3,
}

impl HashingPriority {
    fn from_u8(v: u8) -> Self {
        [Self::Idle, Self::Lowest, Self::Default].into_iter().find(|p| *p as u8 == v).unwrap_or(Self::Unknown)
    }
}

/// Lowers the calling thread's priority as far as the OS allows. Best
/// effort: where the OS refuses, the thread keeps the default priority.
fn lower_priority() -> HashingPriority {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle).is_ok() {
            return HashingPriority::Idle;
        }
    }
    match thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min) {
        Ok(()) => HashingPriority::Lowest,
        Err(_) => HashingPriority::Default,
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>, slot_freed: &Notify) {
    // This thread keeps the argon2 memory of its first hash for the next.
    super::argon::keep_memory_on_this_thread();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        slot_freed.notify_one();
        // A panicking job drops its reply channel (the caller sees an
        // error); the worker lives on.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
