//! [`RouteContext`]: what a dialect's handler is given.

use crate::authority::Authority;
use crate::body::Body;
use crate::response::AuthRequest;

/// What a dialect's handler gets: the authority, the request and its parsed body.
#[derive(Debug)]
pub struct RouteContext<'a> {
    /// The authority to call.
    pub authority: &'a Authority,
    /// The request (path relative to the mount point).
    pub request: &'a AuthRequest,
    /// The request body's fields.
    pub body: Body,
}

impl RouteContext<'_> {
    /// The client address the login throttle counts this request under
    /// ([`Authority::client_address`]).
    pub fn client(&self) -> Option<std::net::IpAddr> {
        self.authority.client_address(&self.request.peer)
    }
}
