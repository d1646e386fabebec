//! [`MaybeIdentity`]: what the adapters' `MaybeAuthenticated` extractors share.

use crate::AuthIdentity;

/// An identity that may be absent: `MaybeAuthenticated` in `auth-tower`
/// and `auth-actix` (both preludes bring this trait into scope).
///
/// ```
/// use auth_core::{AuthIdentity, MaybeIdentity};
/// struct Anonymous;
/// impl MaybeIdentity for Anonymous {
///     fn identity(&self) -> Option<&AuthIdentity> {
///         None
///     }
/// }
/// assert_eq!(Anonymous.username().unwrap_or("guest"), "guest");
/// ```
pub trait MaybeIdentity {
    /// The verified identity, `None` for an anonymous request.
    fn identity(&self) -> Option<&AuthIdentity>;

    /// The identity's username, `None` for an anonymous request.
    fn username(&self) -> Option<&str> {
        self.identity().map(AuthIdentity::username)
    }

    /// Whether the request carried a valid credential.
    fn is_authenticated(&self) -> bool {
        self.identity().is_some()
    }
}
