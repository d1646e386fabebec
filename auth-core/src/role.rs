//! Roles: the one [`Role`] trait both adapters' `RequireRole<R>` use, the
//! [`role!`](crate::role) macro that declares one, and the checks behind it.

use crate::{AuthError, AuthIdentity};

/// A role (or scope) name, as a type: what `RequireRole<R>` in `auth-tower`
/// and `auth-actix` requires. One type serves both frameworks. Declare one
/// with [`role!`](crate::role), or by hand:
///
/// ```
/// struct Admin;
/// impl auth_core::Role for Admin {
///     const NAME: &'static str = "admin";
/// }
/// assert_eq!(<Admin as auth_core::Role>::NAME, "admin");
/// ```
pub trait Role: Send + Sync + 'static {
    /// The role or scope required.
    const NAME: &'static str;
}

/// Declares a [`Role`] type: `role!(Admin = "admin");` is a unit struct
/// `Admin` whose `NAME` is `"admin"` (add `pub` before the name to export it).
///
/// ```
/// auth_core::role!(pub Admin = "admin");
/// auth_core::role!(Editor = "editor");
/// use auth_core::Role;
/// assert_eq!((Admin::NAME, Editor::NAME), ("admin", "editor"));
/// ```
#[macro_export]
macro_rules! role {
    ($(#[$doc:meta])* $vis:vis $name:ident = $value:literal) => {
        #[doc = concat!("The role `", $value, "`.")]
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $name;
        impl $crate::Role for $name {
            const NAME: &'static str = $value;
        }
    };
}

/// Fails with 403 unless `identity` is the user named `username` or has
/// `role` (a user reading their own record, or an admin).
///
/// ```
/// use auth_core::{require_self_or_role, Claims, AuthIdentity};
/// let id = AuthIdentity::new(Claims { username: Some("ann".into()), ..Default::default() }, Vec::new());
/// assert!(require_self_or_role(&id, "ann", "admin").is_ok());
/// assert_eq!(require_self_or_role(&id, "bob", "admin").unwrap_err().status(), 403);
/// ```
pub fn require_self_or_role(identity: &AuthIdentity, username: &str, role: &str) -> Result<(), AuthError> {
    if identity.username() == username || identity.claims.has_role(role) {
        Ok(())
    } else {
        Err(AuthError::Forbidden)
    }
}

/// Fails with 403 `insufficient_scope` unless `identity` has `role` as a
/// role or a scope.
///
/// ```
/// use auth_core::{require_role, Claims, AuthIdentity};
/// let id = AuthIdentity::new(Claims { roles: vec!["admin".into()], ..Default::default() }, Vec::new());
/// assert!(require_role(&id, "admin").is_ok());
/// assert_eq!(require_role(&id, "root").unwrap_err().status(), 403);
/// ```
pub fn require_role(identity: &AuthIdentity, role: &str) -> Result<(), AuthError> {
    if identity.has_role_or_scope(role) {
        Ok(())
    } else {
        Err(AuthError::InsufficientScope { required: role.to_owned() })
    }
}
