//! [`RouteContext`]: what a dialect's handler is given.

use crate::authority::Authority;
use crate::body::Body;
use crate::client::LoginClient;
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
    /// Where a successful login leaves its device token for the route
    /// engine to send back.
    pub(crate) issued: std::sync::Arc<std::sync::OnceLock<String>>,
    /// In cookie mode, the claim that binds the session's CSRF value into
    /// the tokens a login issues.
    pub(crate) csrf_claim: Option<String>,
}

impl RouteContext<'_> {
    /// Who is logging in, as the login throttle judges it: the client
    /// address ([`Authority::client_address`]) and the device token the
    /// request carries. A successful login through it hands out a new
    /// device token, which the route set adds to its answer.
    pub fn client(&self) -> LoginClient {
        let mut client = self.authority.login_client(&self.request.peer);
        client.issued = Some(self.issued.clone());
        client.csrf_claim.clone_from(&self.csrf_claim);
        client
    }
}
