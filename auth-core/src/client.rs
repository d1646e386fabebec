//! Who sent a request: the TCP peer, and `X-Forwarded-For` when (and only
//! when) the peer is a proxy the configuration trusts.
//!
//! Login throttling counts attempts per client address; an address taken
//! from a header anybody can write would let an attacker pick a fresh one
//! for every guess, so `X-Forwarded-For` is ignored unless the peer is in
//! [`TrustedProxies`].
//!
//! ```
//! use auth_core::{Peer, TrustedProxies};
//! let peer = Peer::new(Some("10.0.0.2".parse().unwrap())).with_forwarded_for("203.0.113.7, 10.0.0.9");
//! // by default the header is not believed
//! assert_eq!(TrustedProxies::none().client_address(&peer), Some("10.0.0.2".parse().unwrap()));
//! // behind a trusted proxy network, the right-most untrusted hop is the client
//! let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
//! assert_eq!(trusted.client_address(&peer), Some("203.0.113.7".parse().unwrap()));
//! ```

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// The most `X-Forwarded-For` hops looked at; a longer chain is cut off
/// there (the client is then the last address reached).
const MAX_HOPS: usize = 32;

/// What an adapter knows of a request's sender, for the core to judge.
///
/// ```
/// let peer = auth_core::Peer::new(Some("192.0.2.1".parse().unwrap()));
/// assert!(peer.forwarded_for.is_empty());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// The address of the TCP peer, when the server knows it (axum needs
    /// `into_make_service_with_connect_info::<SocketAddr>()` for that).
    pub addr: Option<IpAddr>,
    /// Every `X-Forwarded-For` value, in the order they came.
    pub forwarded_for: Vec<String>,
    /// The device token the client sent (the `Device-Token` header or the
    /// `device_token` cookie, see [`device_token_in`](crate::device_token_in)):
    /// proof that this client logged in as some user before, which the
    /// login throttle honours for that user.
    pub device_token: Option<String>,
    /// The `User-Agent` header, for the audit trail only (never for a
    /// decision).
    pub user_agent: Option<String>,
}

/// Never prints the device token.
impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("addr", &self.addr)
            .field("forwarded_for", &self.forwarded_for)
            .field("device_token", &self.device_token.as_ref().map(|_| "<redacted>"))
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl Peer {
    /// A peer at `addr` and no forwarding header.
    pub fn new(addr: Option<IpAddr>) -> Self {
        Self { addr, ..Self::default() }
    }

    /// Adds one `X-Forwarded-For` value.
    pub fn with_forwarded_for(mut self, value: impl Into<String>) -> Self {
        self.forwarded_for.push(value.into());
        self
    }

    /// Sets the device token the client presented.
    ///
    /// ```
    /// let peer = auth_core::Peer::default().with_device_token("eyJ...");
    /// assert!(peer.device_token.is_some());
    /// assert!(!format!("{peer:?}").contains("eyJ"));
    /// ```
    pub fn with_device_token(mut self, token: impl Into<String>) -> Self {
        self.device_token = Some(token.into());
        self
    }

    /// Sets the `User-Agent` the client sent (written to the audit trail).
    ///
    /// ```
    /// let peer = auth_core::Peer::default().with_user_agent("curl/8.5.0");
    /// assert_eq!(peer.user_agent.as_deref(), Some("curl/8.5.0"));
    /// ```
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }
}

/// Who is attempting a login, as the login throttle judges it: the client
/// address (`None`: unknown) and the device token it presented, if any.
/// Built by [`Authority::login_client`](crate::Authority::login_client)
/// from a [`Peer`], or from an address alone:
///
/// ```
/// use auth_core::LoginClient;
/// let client: LoginClient = Some("192.0.2.1".parse::<std::net::IpAddr>().unwrap()).into();
/// assert!(client.addr.is_some() && client.device_token.is_none());
/// let unknown = LoginClient::default();
/// assert!(unknown.addr.is_none());
/// ```
#[derive(Clone, Default)]
pub struct LoginClient {
    /// The client's address, as the throttle counts it.
    pub addr: Option<IpAddr>,
    /// The device token it presented.
    pub device_token: Option<String>,
    /// Where a successful login leaves the device token it issues, for the
    /// route engine to send back (`None`: nobody will send it).
    pub(crate) issued: Option<std::sync::Arc<std::sync::OnceLock<String>>>,
    /// In cookie mode, the `csrf` claim the issued tokens carry.
    pub(crate) csrf_claim: Option<String>,
}

/// Never prints the device token.
impl std::fmt::Debug for LoginClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginClient")
            .field("addr", &self.addr)
            .field("device_token", &self.device_token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl LoginClient {
    /// A client at `addr` (`None`: unknown) with a device token, or none.
    pub fn new(addr: Option<IpAddr>, device_token: Option<String>) -> Self {
        Self { addr, device_token, issued: None, csrf_claim: None }
    }
}

impl From<Option<IpAddr>> for LoginClient {
    fn from(addr: Option<IpAddr>) -> Self {
        Self::new(addr, None)
    }
}

impl From<IpAddr> for LoginClient {
    fn from(addr: IpAddr) -> Self {
        Self::new(Some(addr), None)
    }
}

/// The proxies whose `X-Forwarded-For` is believed. Default: none, so the
/// client is always the TCP peer.
///
/// ```
/// let proxies = auth_core::TrustedProxies::parse("127.0.0.1, 10.0.0.0/8, fd00::/8").unwrap();
/// assert!(proxies.contains("10.1.2.3".parse().unwrap()));
/// assert!(!proxies.contains("192.0.2.1".parse().unwrap()));
/// assert!(auth_core::TrustedProxies::parse("10.0.0.0/33").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// A trusted-proxy list that is not a comma-separated list of addresses
/// and CIDR networks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an IP address or a CIDR network")]
pub struct ProxyListError(pub String);

impl TrustedProxies {
    /// Trusts no proxy.
    pub fn none() -> Self {
        Self::default()
    }

    /// Trusts these networks.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self { nets: nets.into_iter().collect() }
    }

    /// Parses a comma-separated list of addresses and CIDR networks.
    pub fn parse(list: &str) -> Result<Self, ProxyListError> {
        let nets = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| ProxyListError(s.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { nets })
    }

    /// Whether `addr` is a trusted proxy.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.nets.iter().any(|net| net.contains(&addr))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The client's address: the peer, unless the peer is trusted; then
    /// `X-Forwarded-For` is read from the right, skipping trusted hops, and
    /// the first untrusted one is the client. A hop that is not an address
    /// stops the walk at the last good one. `None` when the peer is unknown.
    pub fn client_address(&self, peer: &Peer) -> Option<IpAddr> {
        let mut client = peer.addr?.to_canonical();
        if !self.contains(client) {
            return Some(client);
        }
        let hops = peer.forwarded_for.iter().rev().flat_map(|value| value.rsplit(',')).take(MAX_HOPS);
        for hop in hops {
            let Some(addr) = parse_hop(hop.trim()) else { break };
            client = addr.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`[v6]:port`
/// or `v4:port`, as some proxies write them).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_the_header_says() {
        let peer = Peer::new(Some(ip("198.51.100.4"))).with_forwarded_for("1.2.3.4");
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("list");
        assert_eq!(proxies.client_address(&peer), Some(ip("198.51.100.4")));
    }

    #[test]
    fn walks_from_the_right_over_trusted_hops_and_several_headers() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, ::1").expect("list");
        let peer = Peer::new(Some(ip("::1")))
            .with_forwarded_for("6.6.6.6, 203.0.113.9")
            .with_forwarded_for("10.0.0.7:8080, 10.0.0.8");
        // 6.6.6.6 was written by the client itself: only the first untrusted hop counts
        assert_eq!(proxies.client_address(&peer), Some(ip("203.0.113.9")));
    }

    #[test]
    fn garbage_hop_stops_at_the_last_good_address() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").expect("list");
        let peer = Peer::new(Some(ip("10.0.0.1"))).with_forwarded_for("203.0.113.9, junk, 10.0.0.2");
        assert_eq!(proxies.client_address(&peer), Some(ip("10.0.0.2")));
        let no_header = Peer::new(Some(ip("10.0.0.1")));
        assert_eq!(proxies.client_address(&no_header), Some(ip("10.0.0.1")));
    }

    #[test]
    fn mapped_v4_is_canonical_and_unknown_peer_is_none() {
        let proxies = TrustedProxies::parse("127.0.0.1").expect("list");
        let peer = Peer::new(Some(ip("::ffff:127.0.0.1"))).with_forwarded_for("[2001:db8::1]:443");
        assert_eq!(proxies.client_address(&peer), Some(ip("2001:db8::1")));
        assert_eq!(proxies.client_address(&Peer::default()), None);
    }

    #[test]
    fn bad_lists_are_refused() {
        assert_eq!(TrustedProxies::parse("10.0.0.0/8, nope"), Err(ProxyListError("nope".into())));
        assert!(TrustedProxies::parse("").expect("empty list").is_empty());
    }
}
