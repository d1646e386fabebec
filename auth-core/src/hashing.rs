//! Where password hashing runs: a small pool of dedicated, lower-priority
//! threads, never the async executor.
//!
//! At most `max(1, cpus / 2)` hashes run at once (more wait in line), and
//! the pool's threads run at the lowest priority (nice 19): when the machine is busy, the
//! executors that serve other requests win the CPU and a login storm cannot
//! stall them; when it is idle, hashing gets all the spare CPU. The pool is
//! independent of the async runtime, so it serves tokio and actix alike.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use crate::users::UserStoreError;

type Job = Box<dyn FnOnce() + Send>;

fn pool() -> &'static Sender<Job> {
    static POOL: OnceLock<Sender<Job>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        for i in 0..(cpus / 2).max(1) {
            let rx = Arc::clone(&rx);
            let spawned =
                std::thread::Builder::new().name(format!("auth-hash-{i}")).spawn(move || worker(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        tx
    })
}

fn worker(jobs: &Mutex<Receiver<Job>>) {
    // Nice 19 for normal threads. Best effort: where the OS refuses, the
    // thread keeps the default priority.
    let _ = thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        // A panicking job drops its reply channel (the caller sees an
        // error); the worker lives on.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

/// Runs a CPU-heavy closure on the hashing pool and awaits its result
/// without blocking the async executor.
pub(crate) async fn off_executor<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, UserStoreError> {
    let (reply, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = reply.send(f());
    });
    pool().send(job).map_err(|_| UserStoreError("the password hashing pool is gone".into()))?;
    result.await.map_err(|_| UserStoreError("password hashing failed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_jobs_and_survives_a_panic() {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        rt.block_on(async {
            assert_eq!(off_executor(|| 6 * 7).await, Ok(42));
            let panicked = off_executor(|| -> u8 { panic!("job panics") }).await;
            assert!(panicked.is_err());
            let name =
                off_executor(|| std::thread::current().name().map(str::to_owned)).await.expect("job runs");
            assert!(name.is_some_and(|n| n.starts_with("auth-hash-")));
        });
    }
}
