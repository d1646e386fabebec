//! Parsing the `Authorization` header into [`Credentials`].
//!
//! Scheme names are case-insensitive (RFC 7235) and separated from the
//! credentials by one or more spaces (a tab is malformed); the credentials
//! of `Bearer` and `Token` must match the token68 grammar; `Basic` is strict
//! base64 of UTF-8 `user:password`, split at the first colon. The whole
//! value is capped at [`MAX_HEADER_LEN`] bytes, and a request with more than
//! one `Authorization` header is malformed ([`AuthorizationHeader`]). Every
//! failure is a [`HeaderError`], never a panic.
//!
//! ```
//! use auth_core::{parse_authorization, Credentials};
//! let creds = parse_authorization(Some(b"bearer abc.def.ghi")).unwrap();
//! assert_eq!(creds, Credentials::Bearer("abc.def.ghi".into()));
//! ```

mod credentials;
mod error;
mod field;
mod grammar;
mod parse;
#[cfg(test)]
mod tests;

pub use credentials::Credentials;
pub use error::HeaderError;
pub use field::{AuthorizationHeader, AuthorizationRef};
pub(crate) use grammar::is_tchar;
pub(crate) use parse::{Presented, accepted_in, credentials_in, parse_presented};
pub use parse::{credentials_among, credentials_of, parse_authorization};

pub use crate::scheme::Scheme;

/// The largest `Authorization` value accepted, in bytes.
pub const MAX_HEADER_LEN: usize = 8 * 1024;
