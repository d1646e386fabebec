//! [`Check`]: a guard's verdict on a request, now or later.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::claims::AuthIdentity;
use crate::error::AuthError;

/// The outcome a guard reaches for a request: `Ok(Some(identity))`,
/// `Ok(None)` (no credentials, where that is allowed) or the error.
pub type CheckResult = Result<Option<AuthIdentity>, AuthError>;

/// What [`AuthGuard::begin`](crate::AuthGuard::begin) answers: the verdict at once
/// when it needed no I/O (the common case: a cached token and an in-memory
/// store), or a future that reaches it. Adapters act on `Ready` in the
/// same call, without allocating a future.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use auth_core::{AuthError, Check};
/// let check = Check::Ready(Err(AuthError::MissingCredentials));
/// assert_eq!(check.outcome().await.unwrap_err().status(), 401);
/// # })
/// ```
#[must_use = "a check does nothing until its outcome is used"]
pub enum Check {
    /// The verdict.
    Ready(CheckResult),
    /// The verdict needs I/O (a remote store, a password hash, the user
    /// store): await it.
    Pending(PendingCheck),
}

impl Check {
    pub(crate) fn later(future: impl Future<Output = CheckResult> + Send + 'static) -> Self {
        Self::Pending(PendingCheck { future: Box::pin(future), observed: false })
    }

    /// This check is a guard's whole verdict: a refusal it reaches is
    /// counted (`tokenauth_token_rejections_total`), now or when it is
    /// reached. Checks inside it are not, so nothing counts twice.
    pub(crate) fn observed(self) -> Self {
        match self {
            Self::Ready(Err(err)) => {
                crate::observe::guard_refused(&err);
                Self::Ready(Err(err))
            }
            Self::Pending(pending) => Self::Pending(PendingCheck { observed: true, ..pending }),
            ready => ready,
        }
    }

    /// The verdict, awaiting it if need be.
    pub async fn outcome(self) -> CheckResult {
        match self {
            Self::Ready(outcome) => outcome,
            Self::Pending(pending) => pending.await,
        }
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(outcome) => f.debug_tuple("Ready").field(outcome).finish(),
            Self::Pending(_) => f.write_str("Pending"),
        }
    }
}

/// A verdict still being reached: a `Send` future an adapter can keep in
/// its own response future.
pub struct PendingCheck {
    future: Pin<Box<dyn Future<Output = CheckResult> + Send>>,
    /// A guard's whole verdict: its refusal is counted.
    observed: bool,
}

impl Future for PendingCheck {
    type Output = CheckResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CheckResult> {
        let polled = self.future.as_mut().poll(cx);
        if let (true, Poll::Ready(Err(err))) = (self.observed, &polled) {
            crate::observe::guard_refused(err);
        }
        polled
    }
}

impl std::fmt::Debug for PendingCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PendingCheck")
    }
}
