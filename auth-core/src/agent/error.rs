//! [`AgentError`]: why a client could not get credentials.

/// A boxed error from a transport (an HTTP client's own error).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why the client could not obtain or renew credentials. No variant
/// carries a token, a password or a server's body.
///
/// ```
/// use auth_core::agent::AgentError;
/// let err = AgentError::Refused { step: "login", status: 401 };
/// assert_eq!(err.to_string(), "the server refused the login (401)");
/// let err = AgentError::Redirected { step: "login", status: 307 };
/// assert_eq!(err.to_string(), "the login answered a redirect (307) to another URL; not followed");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The client's configuration is unusable (bad base URL, unknown
    /// dialect, keytoken without a client id).
    #[error("invalid client configuration: {0}")]
    Config(String),
    /// The server answered a login or refresh with a 4xx status other
    /// than 429 (wrong credentials, unknown client id, a revoked or expired
    /// refresh token). A refused refresh is followed by a login.
    #[error("the server refused the {step} ({status})")]
    Refused {
        /// `login` or `refresh`.
        step: &'static str,
        /// The status the server answered.
        status: u16,
    },
    /// The server answered a login or refresh with a redirect (3xx). It is
    /// never followed: the password or refresh token would go to whatever
    /// URL the answer names.
    #[error("the {step} answered a redirect ({status}) to another URL; not followed")]
    Redirected {
        /// `login` or `refresh`.
        step: &'static str,
        /// The status the server answered.
        status: u16,
    },
    /// The server answered a login or refresh with another status (429,
    /// 5xx, ...).
    #[error("the server answered the {step} with {status}")]
    Unavailable {
        /// `login` or `refresh`.
        step: &'static str,
        /// The status the server answered.
        status: u16,
    },
    /// A 200 answer that is not what the dialect sends.
    #[error("the server's {step} answer is not a {dialect} token answer: {why}")]
    BadReply {
        /// `login` or `refresh`.
        step: &'static str,
        /// The dialect expected.
        dialect: &'static str,
        /// What was wrong (never the body itself).
        why: String,
    },
    /// The request could not be sent or its answer not read.
    #[error("the {step} request failed: {source}")]
    Transport {
        /// `login` or `refresh`.
        step: &'static str,
        /// The transport's error.
        #[source]
        source: BoxError,
    },
}

impl AgentError {
    /// The same error for another caller that waited on the renewal that
    /// failed (a transport error's source becomes its message).
    pub(crate) fn shared(&self) -> Self {
        match self {
            Self::Config(why) => Self::Config(why.clone()),
            Self::Refused { step, status } => Self::Refused { step, status: *status },
            Self::Redirected { step, status } => Self::Redirected { step, status: *status },
            Self::Unavailable { step, status } => Self::Unavailable { step, status: *status },
            Self::BadReply { step, dialect, why } => Self::BadReply { step, dialect, why: why.clone() },
            Self::Transport { step, source } => Self::Transport { step, source: source.to_string().into() },
        }
    }
}
