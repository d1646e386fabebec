//! [`Scheme`]: the authentication schemes this crate understands.

/// An authentication scheme this crate understands.
///
/// ```
/// use auth_core::Scheme;
/// assert_eq!(Scheme::Token.as_str(), "Token");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Authorization: Bearer <jwt>` (RFC 6750).
    Bearer,
    /// `Authorization: Token <jwt>` (Django REST framework style).
    Token,
    /// `Authorization: Basic base64(user:password)` (RFC 7617).
    Basic,
}

impl Scheme {
    /// The canonical spelling, as used in challenges.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Token => "Token",
            Self::Basic => "Basic",
        }
    }

    pub(crate) fn from_name(name: &[u8]) -> Option<Self> {
        [Self::Bearer, Self::Token, Self::Basic]
            .into_iter()
            .find(|s| s.as_str().as_bytes().eq_ignore_ascii_case(name))
    }
}
