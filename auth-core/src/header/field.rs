//! [`AuthorizationHeader`] and [`AuthorizationRef`]: the `Authorization`
//! header as a request has it (absent, one value, or repeated), owned or
//! borrowed.

use super::HeaderError;

/// A request's `Authorization` header as an adapter found it: absent, one
/// value, or repeated (which is malformed, whatever the values).
///
/// ```
/// use auth_core::{AuthorizationHeader, HeaderError};
/// let values: [&[u8]; 1] = [b"Bearer abc"];
/// let one = AuthorizationHeader::from_values(values);
/// assert_eq!(one.value(), Ok(Some(&b"Bearer abc"[..])));
/// assert_eq!(AuthorizationHeader::from_values(Vec::<&[u8]>::new()).value(), Ok(None));
/// let two = AuthorizationHeader::from_values([&b"Bearer a"[..], b"Basic Og=="]);
/// assert_eq!(two.value(), Err(HeaderError::Repeated));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub enum AuthorizationHeader {
    /// No `Authorization` header.
    #[default]
    Absent,
    /// Exactly one, with this raw value.
    One(Vec<u8>),
    /// Two or more.
    Repeated,
}

impl AuthorizationHeader {
    /// From every value of the header, in any order.
    pub fn from_values<'a, I: IntoIterator<Item = &'a [u8]>>(values: I) -> Self {
        AuthorizationRef::from_values(values).into_owned()
    }

    /// The one value, `None` without a header, an error when repeated.
    pub fn value(&self) -> Result<Option<&[u8]>, HeaderError> {
        self.as_ref().value()
    }

    /// The header borrowed, as [`AuthGuard::begin`](crate::AuthGuard::begin) takes it.
    pub fn as_ref(&self) -> AuthorizationRef<'_> {
        match self {
            Self::Absent => AuthorizationRef::Absent,
            Self::One(v) => AuthorizationRef::One(v),
            Self::Repeated => AuthorizationRef::Repeated,
        }
    }

    /// Whether the request had any `Authorization` header.
    pub fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// A request's `Authorization` header borrowed from the request, as an
/// adapter's middleware finds it: nothing is copied.
///
/// ```
/// use auth_core::{AuthorizationRef, HeaderError};
/// let values: [&[u8]; 1] = [b"Bearer abc"];
/// assert_eq!(AuthorizationRef::from_values(values).value(), Ok(Some(&b"Bearer abc"[..])));
/// assert_eq!(AuthorizationRef::from_values([&b"a"[..], b"b"]).value(), Err(HeaderError::Repeated));
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub enum AuthorizationRef<'a> {
    /// No `Authorization` header.
    #[default]
    Absent,
    /// Exactly one, with this raw value.
    One(&'a [u8]),
    /// Two or more.
    Repeated,
}

impl<'a> AuthorizationRef<'a> {
    /// From every value of the header, in any order.
    pub fn from_values<I: IntoIterator<Item = &'a [u8]>>(values: I) -> Self {
        let mut values = values.into_iter();
        match (values.next(), values.next()) {
            (None, _) => Self::Absent,
            (Some(one), None) => Self::One(one),
            (Some(_), Some(_)) => Self::Repeated,
        }
    }

    /// The one value, `None` without a header, an error when repeated.
    pub fn value(self) -> Result<Option<&'a [u8]>, HeaderError> {
        match self {
            Self::Absent => Ok(None),
            Self::One(v) => Ok(Some(v)),
            Self::Repeated => Err(HeaderError::Repeated),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> AuthorizationHeader {
        match self {
            Self::Absent => AuthorizationHeader::Absent,
            Self::One(v) => AuthorizationHeader::One(v.to_vec()),
            Self::Repeated => AuthorizationHeader::Repeated,
        }
    }
}

/// Never prints the value (it holds a token or a password).
impl std::fmt::Debug for AuthorizationRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.into_owned().fmt(f)
    }
}

impl From<&[u8]> for AuthorizationHeader {
    fn from(value: &[u8]) -> Self {
        Self::One(value.to_vec())
    }
}

impl From<Option<&[u8]>> for AuthorizationHeader {
    fn from(value: Option<&[u8]>) -> Self {
        value.map_or(Self::Absent, Self::from)
    }
}

/// Never prints the value (it holds a token or a password).
impl std::fmt::Debug for AuthorizationHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Absent => f.write_str("Absent"),
            Self::One(v) => write!(f, "One(<{} bytes redacted>)", v.len()),
            Self::Repeated => f.write_str("Repeated"),
        }
    }
}
