//! The pool: bounded queue, waiting room, priority, dropped callers.

use std::sync::atomic::AtomicBool;

use super::*;
use crate::hashing::test_support::{block, futures_poll_once, rt};

#[test]
fn reports_the_priority_the_os_granted() {
    rt().block_on(async {
        let pool = HashingPool::new(1, 1);
        let policy = pool.run(thread_priority::thread_schedule_policy).await.expect("ran");
        let policy = policy.expect("the worker's scheduling policy");
        let idle =
            thread_priority::ThreadSchedulePolicy::Normal(thread_priority::NormalThreadSchedulePolicy::Idle);
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

#[cfg(feature = "metrics")]
#[test]
fn metrics_count_a_refusal_and_the_queue() {
    use crate::metrics::{HASHING_QUEUE_DEPTH, HASHING_REFUSALS};
    let recorder = crate::store::test_recorder::TestRecorder::default();
    let pool = HashingPool::new(1, 1);
    let release = block(&pool);
    // (the local recorder sees what this thread records: the submissions;
    // the hashing thread records the wait and the dequeue)
    ::metrics::with_local_recorder(&recorder, || {
        rt().block_on(async {
            let mut queued = Box::pin(pool.run(|| ()));
            assert!(futures_poll_once(&mut queued).await.is_none(), "queued");
            assert_eq!(recorder.get(HASHING_QUEUE_DEPTH), Some(1.0));
            assert_eq!(pool.run(|| ()).await, Err(UserStoreError::Busy));
            assert_eq!(recorder.get(HASHING_REFUSALS), Some(1.0));
            assert_eq!(recorder.get(HASHING_QUEUE_DEPTH), Some(1.0), "a refused job leaves the gauge");
            drop(release);
            assert_eq!(queued.await, Ok(()));
        })
    });
}
