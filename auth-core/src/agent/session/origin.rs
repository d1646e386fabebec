//! [`Origin`]: the scheme, host and port of the server, so that only its
//! requests get the credential.

/// Scheme, host and port of the base URL, to tell the server's requests
/// from others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    pub(super) https: bool,
    pub(super) host: String,
    pub(super) port: u16,
}

impl Origin {
    pub(super) fn parse(url: &str) -> Option<Self> {
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else {
            (false, url.strip_prefix("http://")?)
        };
        Self::from_parts(https, rest.split(['/', '?', '#']).next()?)
    }

    pub(super) fn from_parts(https: bool, authority: &str) -> Option<Self> {
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let default = if https { 443 } else { 80 };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
            _ => (authority, default),
        };
        (!host.is_empty()).then(|| Self { https, host: host.to_ascii_lowercase(), port })
    }
}
