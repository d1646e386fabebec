//! Helpers the hashing and users tests share: a runtime, a pool held busy,
//! a future polled once.

use std::sync::mpsc::channel;

use super::HashingPool;

/// A current-thread runtime with time and I/O.
pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Occupies the pool's one thread until the returned sender is dropped.
pub(crate) fn block(pool: &HashingPool) -> std::sync::mpsc::Sender<()> {
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

/// Polls a future once: `Some` if it finished.
pub(crate) async fn futures_poll_once<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut *f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}
