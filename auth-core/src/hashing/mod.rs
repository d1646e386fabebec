//! Where password hashing runs: a small pool of dedicated, lower-priority
//! threads with a bounded queue, never the async executor.
//!
//! At most `threads` hashes run at once and at most `queue` wait; a job
//! that finds the queue full is refused ([`UserStoreError::Busy`](crate::UserStoreError::Busy), which a
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
//! [`MAX_KEPT_BLOCKS`](argon::MAX_KEPT_BLOCKS); a hash that needs more, and hashing outside a pool
//! (setup code calling [`hash_password`](crate::hash_password)), allocate
//! for the one hash.
//!
//! In a debug build the first hashes are timed, and a warning says how to
//! optimise argon2 when they show it runs unoptimised (`speed`).
//!
//! Files: `pool` (the threads, the queue, the waiting room), `argon`
//! (hashing and verifying PHC strings on a thread's kept memory), `speed`
//! (the debug-build hint). The password helpers a
//! [`UserStore`](crate::UserStore) uses are in `users::password`.

mod argon;
mod pool;
mod speed;
#[cfg(test)]
pub(crate) mod test_support;

pub(crate) use argon::{DEFAULT_M_COST, DEFAULT_T_COST, HashSpec, Verdict, check_phc, differs_from};
pub use pool::{HashingPool, HashingPriority};
