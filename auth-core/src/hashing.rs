//! Where password hashing runs: a small pool of dedicated, lower-priority
//! threads with a bounded queue, never the async executor.
//!
//! At most `threads` hashes run at once and at most `queue` wait; a job
//! that finds the queue full is refused ([`UserStoreError::Busy`], which a
//! login answers with 503 and `Retry-After`), so a login flood costs
//! bounded memory and bounded latency instead of a queue that grows without
//! limit. A pool may also have a bounded *waiting room*
//! ([`HashingPool::with_waiting_room`]; the [global](HashingPool::global)
//! pool has one): a job that finds the queue full waits there, without a
//! thread and in arrival order, for at most a fixed time before it is
//! refused. A flood of real users is then served in turn instead of being
//! told to retry at once, and a client that retries on every refusal
//! (a closed loop) is slowed to the pool's pace instead of costing the
//! server a refused request per round trip. A job whose caller has gone away (the client disconnected, the
//! request timed out) is dropped before it is hashed. The pool's threads
//! run at the lowest priority the OS grants: `SCHED_IDLE` on Linux (they
//! run only when no other thread wants the CPU), else nice 19
//! ([`HashingPool::priority`] tells which): when the machine is busy, the
//! executors that serve other requests win the CPU. The pool is independent
//! of the async runtime, so it serves tokio and actix alike.
//!
//! Each of the pool's threads keeps one argon2 memory block (19 MiB with
//! the default parameters) and reuses it for every hash it computes,
//! instead of allocating one per hash: freed blocks of that size stay with
//! the allocator (glibc raises its mmap threshold past them), so a login
//! flood used to leave the process several blocks bigger for good. A
//! thread's block grows to what a stored hash asks for, up to
//! [`MAX_KEPT_BLOCKS`]; a hash that needs more, and hashing outside a pool
//! (setup code calling [`hash_password`](crate::hash_password)), allocate
//! for the one hash.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use crate::error::UserStoreError;
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
        let job: Job = Box::new(move || {
            inner.queued.fetch_sub(1, Ordering::Relaxed);
            if reply.is_closed() {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let _ = reply.send(f());
        });
        match self.submit(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) if self.inner.waiters > 0 => self.wait_for_a_slot(job).await?,
            Err(refused) => return Err(refusal(&refused)),
        }
        result.await.map_err(|_| UserStoreError::Failed("password hashing failed".into()))
    }

    fn submit(&self, job: Job) -> Result<(), TrySendError<Job>> {
        self.inner.queued.fetch_add(1, Ordering::Relaxed);
        let sent = self.inner.jobs.try_send(job);
        if sent.is_err() {
            self.inner.queued.fetch_sub(1, Ordering::Relaxed);
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
    KEPT.with(|kept| *kept.borrow_mut() = Some(Vec::new()));
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

/// The most argon2 memory, in 1 KiB blocks (32 MiB), a pool thread keeps
/// between hashes. A hash that needs more allocates its own block for the
/// call: glibc serves allocations above its largest mmap threshold
/// (32 MiB on 64-bit) with `mmap` and gives them back when freed, so
/// such a block costs nothing after its hash.
pub(crate) const MAX_KEPT_BLOCKS: usize = 32 * 1024;

thread_local! {
    /// The argon2 memory a pool thread keeps between hashes: `Some` on the
    /// pool's threads (empty until the first hash), `None` elsewhere.
    static KEPT: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// Runs `f` on `blocks` argon2 memory blocks: the calling pool thread's
/// kept block (grown to `blocks` first if smaller, when `blocks` is at
/// most [`MAX_KEPT_BLOCKS`]), else a block allocated for the call.
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    KEPT.with(|kept| {
        let kept = kept.try_borrow_mut().ok().filter(|k| k.is_some() && blocks <= MAX_KEPT_BLOCKS);
        match kept {
            Some(mut kept) => {
                let memory = kept.get_or_insert_with(Vec::new);
                if memory.len() < blocks {
                    // Exactly what is asked for: no doubling on growth.
                    memory.reserve_exact(blocks - memory.len());
                    memory.resize(blocks, Block::new());
                }
                f(&mut memory[..blocks])
            }
            None => f(&mut vec![Block::new(); blocks]),
        }
    })
}

/// How new password hashes are made: an argon2 algorithm, version and
/// parameters.
#[derive(Debug, Clone)]
pub(crate) struct HashSpec {
    pub(crate) algorithm: Algorithm,
    pub(crate) version: Version,
    pub(crate) params: Params,
}

impl HashSpec {
    /// Hashes `password` with a fresh random salt into a PHC string, the
    /// same string argon2's `PasswordHasher::hash_password` makes (on the
    /// pool's kept memory, see [`with_memory`]).
    pub(crate) fn hash(&self, password: &[u8]) -> argon2::password_hash::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_buf = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_buf)?;
        let len = self.params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut out_buf = [0u8; Output::MAX_LENGTH];
        let out = out_buf.get_mut(..len).ok_or(argon2::password_hash::Error::OutputSize {
            provided: std::cmp::Ordering::Greater,
            expected: Output::MAX_LENGTH,
        })?;
        let argon2 = Argon2::new(self.algorithm, self.version, self.params.clone());
        with_memory(self.params.block_count(), |memory| {
            argon2.hash_password_into_with_memory(password, salt_bytes, out, memory)
        })?;
        let hash = PasswordHash {
            algorithm: self.algorithm.ident(),
            version: Some(self.version.into()),
            params: ParamsString::try_from(&self.params)?,
            salt: Some(salt.as_salt()),
            hash: Some(Output::new(out)?),
        };
        Ok(hash.to_string())
    }
}

/// Whether `password` matches the argon2 PHC string `phc`, as argon2's
/// `PasswordVerifier` decides it: the algorithm, version, parameters,
/// salt and output length of the string, the outputs compared in
/// constant time. `false` for a string that is not an argon2 hash, or one
/// argon2 refuses. Computed on the pool's kept memory (see [`with_memory`]).
pub(crate) fn verify_phc(phc: &str, password: &[u8]) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else { return false };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    // `m`, `t`, `p`, `keyid`, `data` and the output length, checked
    // against argon2's bounds (an unknown parameter is an error).
    let Ok(params) = Params::try_from(&hash) else { return false };
    let mut salt_buf = [0u8; Salt::MAX_LENGTH];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else { return false };
    let mut out_buf = [0u8; Output::MAX_LENGTH];
    let Some(out) = out_buf.get_mut(..expected.len()) else { return false };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = with_memory(blocks, |memory| {
        argon2.hash_password_into_with_memory(password, salt_bytes, &mut *out, memory)
    });
    computed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc::channel;

    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
    }

    /// Occupies the pool's one thread until the returned sender is dropped.
    fn block(pool: &HashingPool) -> std::sync::mpsc::Sender<()> {
        let (release, gate) = channel::<()>();
        let (started, wait) = channel::<()>();
        let blocker = pool.clone();
        std::thread::spawn(move || {
            rt().block_on(blocker.run(move || {
                let _ = started.send(());
                let _ = gate.recv();
            }))
        });
        wait.recv().expect("the blocking job started");
        release
    }

    #[test]
    fn reports_the_priority_the_os_granted() {
        rt().block_on(async {
            let pool = HashingPool::new(1, 1);
            let policy = pool.run(thread_priority::thread_schedule_policy).await.expect("ran");
            let policy = policy.expect("the worker's scheduling policy");
            let idle = thread_priority::ThreadSchedulePolicy::Normal(
                thread_priority::NormalThreadSchedulePolicy::Idle,
            );
            assert_ne!(pool.priority(), HashingPriority::Unknown);
            assert_eq!(pool.priority() == HashingPriority::Idle, policy == idle, "{policy:?}");
            if cfg!(target_os = "linux") {
                // Any thread may lower itself to SCHED_IDLE on Linux.
                assert_eq!(pool.priority(), HashingPriority::Idle);
            }
        });
    }

    #[test]
    fn runs_jobs_and_survives_a_panic() {
        rt().block_on(async {
            let pool = HashingPool::new(1, 2);
            assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
            let panicked = pool.run(|| -> u8 { panic!("job panics") }).await;
            assert!(panicked.is_err());
            let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.expect("job runs");
            assert!(name.is_some_and(|n| n.starts_with("auth-hash-")));
        });
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let pool = HashingPool::new(1, 8);
        let release = block(&pool);
        rt().block_on(async {
            let mut waiting = Vec::new();
            let mut busy = 0;
            for _ in 0..200 {
                let mut job = Box::pin(pool.run(|| ()));
                // One poll submits the job: a full queue answers at once.
                match futures_poll_once(&mut job).await {
                    Some(Err(UserStoreError::Busy)) => busy += 1,
                    Some(other) => panic!("unexpected {other:?}"),
                    None => waiting.push(job),
                }
                assert!(pool.queued() <= 8, "the queue grew past its bound");
            }
            assert_eq!((waiting.len(), busy), (8, 192));
            drop(release);
            for job in waiting {
                assert_eq!(job.await, Ok(()));
            }
        });
    }

    #[test]
    fn a_job_whose_caller_is_gone_never_runs() {
        let pool = HashingPool::new(1, 4);
        let release = block(&pool);
        let ran = Arc::new(AtomicBool::new(false));
        rt().block_on(async {
            let flag = Arc::clone(&ran);
            let mut job = Box::pin(pool.run(move || flag.store(true, Ordering::SeqCst)));
            assert!(futures_poll_once(&mut job).await.is_none(), "queued behind the blocker");
            drop(job); // the client went away
        });
        drop(release);
        // A job after it proves the worker has passed the dropped one.
        assert_eq!(rt().block_on(pool.run(|| 1)), Ok(1));
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(pool.dropped(), 1);
    }

    #[test]
    fn the_waiting_room_serves_in_turn_and_refuses_past_its_places() {
        let pool = HashingPool::with_waiting_room(1, 1, 2, Duration::from_secs(30));
        let release = block(&pool);
        rt().block_on(async {
            let mut queued = Box::pin(pool.run(|| 1));
            assert!(futures_poll_once(&mut queued).await.is_none(), "queued");
            let mut first = Box::pin(pool.run(|| 2));
            let mut second = Box::pin(pool.run(|| 3));
            assert!(futures_poll_once(&mut first).await.is_none(), "waits");
            assert!(futures_poll_once(&mut second).await.is_none(), "waits");
            assert_eq!(pool.waiting(), 2);
            assert!(pool.is_saturated());
            // No place left: refused at once.
            let mut third = Box::pin(pool.run(|| 4));
            assert_eq!(futures_poll_once(&mut third).await, Some(Err(UserStoreError::Busy)));
            drop(release);
            assert_eq!(queued.await, Ok(1));
            assert_eq!(first.await, Ok(2));
            assert_eq!(second.await, Ok(3));
            assert_eq!(pool.waiting(), 0);
            assert!(!pool.is_saturated());
        });
    }

    #[test]
    fn a_wait_ends_in_busy_and_gives_its_place_back() {
        let pool = HashingPool::with_waiting_room(1, 0, 1, Duration::from_millis(50));
        assert_eq!(pool.capacity(), (1, 1), "a waiting room needs a queue");
        let release = block(&pool);
        rt().block_on(async {
            let mut queued = Box::pin(pool.run(|| 0));
            assert!(futures_poll_once(&mut queued).await.is_none(), "queued");
            assert_eq!(pool.run(|| 1).await, Err(UserStoreError::Busy), "the deadline");
            assert_eq!(pool.waiting(), 0);
            let mut gone = Box::pin(pool.run(|| 2));
            assert!(futures_poll_once(&mut gone).await.is_none(), "waits");
            assert_eq!(pool.waiting(), 1);
            drop(gone); // the client went away
            assert_eq!(pool.waiting(), 0);
            drop(release);
            assert_eq!(queued.await, Ok(0));
        });
        assert_eq!(rt().block_on(pool.run(|| 3)), Ok(3));
    }

    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// argon2's own verification of `phc`, the reference.
    fn plain_verify(phc: &str, password: &str) -> bool {
        PasswordHash::new(phc)
            .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    }

    /// argon2's own hash of `password` with these settings.
    fn plain_hash(algorithm: Algorithm, version: Version, params: Params, password: &str) -> String {
        let salt = SaltString::generate(&mut OsRng);
        let hasher = Argon2::new(algorithm, version, params);
        hasher.hash_password(password.as_bytes(), &salt).expect("argon2 hashes").to_string()
    }

    fn params(m_cost: u32, t_cost: u32, p_cost: u32, output_len: Option<usize>) -> Params {
        Params::new(m_cost, t_cost, p_cost, output_len).expect("valid argon2 parameters")
    }

    /// The kept block of the current thread: `(address, length)`.
    fn kept_block() -> Option<(usize, usize)> {
        KEPT.with(|kept| kept.borrow().as_ref().map(|m| (m.as_ptr() as usize, m.len())))
    }

    #[test]
    fn our_hashes_verify_with_argon2_and_argon2s_with_ours() {
        // The users module's own hash: argon2id, OWASP parameters.
        let ours = crate::users::hash_password("correct horse").expect("hashes");
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        assert!(plain_verify(&ours, "correct horse"));
        assert!(!plain_verify(&ours, "correct horse "));
        assert!(verify_phc(&ours, b"correct horse"));
        assert!(!verify_phc(&ours, b"Correct horse"));
        let theirs = plain_hash(Algorithm::Argon2id, Version::V0x13, Params::default(), "battery staple");
        assert!(verify_phc(&theirs, b"battery staple"));
        assert!(!verify_phc(&theirs, b"battery stapl"));
        assert!(!verify_phc(&theirs, b""));
    }

    #[test]
    fn stored_hashes_with_other_settings_verify_with_their_own() {
        let cases = [
            (Algorithm::Argon2id, Version::V0x13, params(8 * 1024, 3, 1, None)),
            (Algorithm::Argon2i, Version::V0x13, params(4 * 1024, 2, 2, Some(64))),
            (Algorithm::Argon2d, Version::V0x10, params(1024, 1, 1, Some(16))),
            (Algorithm::Argon2id, Version::V0x10, params(2 * 1024, 2, 4, None)),
        ];
        for (algorithm, version, params) in cases {
            let spec = HashSpec { algorithm, version, params: params.clone() };
            let ours = spec.hash(b"pw").expect("hashes");
            assert!(plain_verify(&ours, "pw"), "{ours}");
            assert!(!plain_verify(&ours, "pW"), "{ours}");
            let theirs = plain_hash(algorithm, version, params, "pw");
            assert!(verify_phc(&theirs, b"pw"), "{theirs}");
            assert!(!verify_phc(&theirs, b"pW"), "{theirs}");
        }
    }

    #[test]
    fn verification_agrees_with_argon2_on_odd_and_broken_strings() {
        let good = plain_hash(Algorithm::Argon2id, Version::V0x13, params(1024, 1, 1, None), "pw");
        let (head, output) = good.rsplit_once('$').expect("a PHC string");
        let salt_at = head.rfind('$').expect("a salt");
        let params_part = "$m=1024,t=1,p=1$";
        let cases = [
            good.clone(),
            String::new(),
            "plain text".to_owned(),
            "$argon2id$".to_owned(),
            head.to_owned(),                                       // no output
            format!("{head}$"),                                    // an empty output
            format!("{head}${}", &output[..output.len() - 4]),     // a shorter output
            format!("{head}${}A", &output[..output.len() - 1]),    // another output
            good.replacen("argon2id", "argon2i", 1),               // another algorithm
            good.replacen("argon2id", "scrypt", 1),                // not argon2
            good.replacen("v=19", "v=16", 1),                      // another version
            good.replacen("v=19", "v=20", 1),                      // no such version
            good.replacen("$v=19", "", 1),                         // no version: 0x13
            good.replacen(params_part, "$m=1024,t=1,p=1,x=1$", 1), // an unknown parameter
            good.replacen(params_part, "$m=1,t=1,p=1$", 1),        // m below argon2's bound
            good.replacen(params_part, "$m=1024,t=0,p=1$", 1),     // t below argon2's bound
            good.replacen(params_part, "$t=1$", 1),                // m and p defaulted
            format!("{}$c29tZXNhbHQ${output}", &head[..salt_at]),  // another salt
            format!("{}$YWI${output}", &head[..salt_at]),          // a salt too short for argon2
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(), // bcrypt
        ];
        for phc in &cases {
            assert_eq!(verify_phc(phc, b"pw"), plain_verify(phc, "pw"), "{phc:?}");
        }
        assert!(verify_phc(&good, b"pw"));
        assert!(verify_phc(&good.replacen("$v=19", "", 1), b"pw"), "no version means 0x13");
    }

    #[test]
    fn a_pool_thread_reuses_one_block_and_grows_it_only_within_the_bound() {
        rt().block_on(async {
            let pool = HashingPool::new(1, 4);
            let default = crate::users::hash_password("pw").expect("hashes");
            let blocks = Params::default().block_count();
            let check = |phc: String| {
                pool.run(move || {
                    let ok = verify_phc(&phc, b"pw") && !verify_phc(&phc, b"nope");
                    (ok, kept_block())
                })
            };
            let (ok, first) = check(default.clone()).await.expect("runs");
            assert!(ok);
            let first = first.expect("a pool thread keeps a block");
            assert_eq!(first.1, blocks);
            // A smaller stored hash uses the front of the same block.
            let small = plain_hash(Algorithm::Argon2id, Version::V0x13, params(1024, 1, 1, None), "pw");
            assert_eq!(check(small).await.expect("runs"), (true, Some(first)));
            // New hashes on the pool use it too.
            let made = pool.run(|| (crate::users::hash_password("pw"), kept_block())).await.expect("runs");
            assert_eq!(made.1, Some(first));
            assert!(plain_verify(&made.0.expect("hashes"), "pw"));
            // Above the bound: a block for the call, the kept one untouched.
            let m_cost = u32::try_from(MAX_KEPT_BLOCKS).expect("fits") + 1024;
            let huge = plain_hash(Algorithm::Argon2id, Version::V0x13, params(m_cost, 1, 1, None), "pw");
            assert_eq!(check(huge).await.expect("runs"), (true, Some(first)));
            // Within the bound but bigger: the kept block grows, once.
            let bigger = plain_hash(Algorithm::Argon2id, Version::V0x13, params(24 * 1024, 1, 1, None), "pw");
            let (ok, grown) = check(bigger.clone()).await.expect("runs");
            assert!(ok);
            let grown = grown.expect("kept");
            assert_eq!(grown.1, 24 * 1024);
            assert_eq!(check(bigger).await.expect("runs"), (true, Some(grown)));
            // The grown block still verifies the default hashes.
            assert_eq!(check(default).await.expect("runs"), (true, Some(grown)));
        });
    }

    #[test]
    fn other_threads_keep_no_block() {
        let phc = crate::users::hash_password("pw").expect("hashes");
        assert!(verify_phc(&phc, b"pw"));
        assert_eq!(kept_block(), None);
    }

    /// Polls a future once: `Some` if it finished.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut *f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
