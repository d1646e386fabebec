//! [`Credentials`]: what an `Authorization` header carries, and the value a
//! client sends to carry them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::Scheme;

/// Credentials read from an `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A bearer token.
    Bearer(String),
    /// A token sent with the `Token` scheme.
    Token(String),
    /// A user-id and password.
    Basic {
        /// The user-id (everything before the first colon).
        user: String,
        /// The password (everything after the first colon).
        password: String,
    },
}

impl Credentials {
    /// The scheme these credentials came with.
    ///
    /// ```
    /// use auth_core::{Credentials, Scheme};
    /// assert_eq!(Credentials::Token("t".into()).scheme(), Scheme::Token);
    /// ```
    pub fn scheme(&self) -> Scheme {
        match self {
            Self::Bearer(_) => Scheme::Bearer,
            Self::Token(_) => Scheme::Token,
            Self::Basic { .. } => Scheme::Basic,
        }
    }

    /// The token, for `Bearer` and `Token` credentials.
    pub fn token(&self) -> Option<&str> {
        match self {
            Self::Bearer(t) | Self::Token(t) => Some(t),
            Self::Basic { .. } => None,
        }
    }

    /// The `Authorization` value that carries these credentials (what a
    /// client sends; [`parse_authorization`](super::parse_authorization) reads it back).
    ///
    /// ```
    /// use auth_core::{Credentials, parse_authorization};
    /// let basic = Credentials::Basic { user: "key".into(), password: "secret".into() };
    /// assert_eq!(basic.header_value(), "Basic a2V5OnNlY3JldA==");
    /// assert_eq!(parse_authorization(Some(basic.header_value().as_bytes())).unwrap(), basic);
    /// ```
    pub fn header_value(&self) -> String {
        match self {
            Self::Bearer(t) | Self::Token(t) => format!("{} {t}", self.scheme().as_str()),
            Self::Basic { user, password } => {
                format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
            }
        }
    }
}

/// Never prints a token or a password.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::Token(_) => f.write_str("Token(<redacted>)"),
            Self::Basic { user, .. } => write!(f, "Basic {{ user: {user:?}, password: <redacted> }}"),
        }
    }
}
