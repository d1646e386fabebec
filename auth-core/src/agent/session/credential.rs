//! What an [`Agent`](super::Agent) hands out and reports: the
//! [`Credential`] to send, the one held with its tokens, and the
//! [`AgentEvent`]s an observer sees.

use std::sync::Arc;
use std::time::Duration;

use crate::agent::tokens::Tokens;

/// What happened to the credentials, for [`AgentBuilder::on_event`](super::AgentBuilder::on_event). Never
/// carries a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgentEvent {
    /// A login succeeded.
    LoggedIn {
        /// How long the new access token lives, if known.
        expires_in: Option<Duration>,
    },
    /// A refresh (or extend) succeeded.
    Refreshed {
        /// How long the new access token lives, if known.
        expires_in: Option<Duration>,
    },
    /// Tokens were found in the [`TokenStore`](crate::agent::TokenStore) and are used without a login.
    Restored {
        /// How long the access token has left, if known.
        expires_in: Option<Duration>,
    },
    /// The server refused a refresh; a login follows.
    RefreshRefused {
        /// The status it answered.
        status: u16,
    },
}

/// The `Authorization` value to send, and which credential it is (to hand
/// back to [`Agent::rejected`](super::Agent::rejected) after a 401). `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub(super) header: Arc<str>,
    pub(super) generation: u64,
}

impl Credential {
    /// The `Authorization` header value.
    pub fn header_value(&self) -> &str {
        &self.header
    }

    /// Which credential this is: it changes at every login and refresh.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential {{ generation: {}, header: <redacted> }}", self.generation)
    }
}

/// The credential in use.
#[derive(Clone)]
pub(super) struct Held {
    pub(super) tokens: Arc<Tokens>,
    pub(super) credential: Credential,
    /// The server refused it (a 401): renew before using it again.
    pub(super) dead: bool,
}
