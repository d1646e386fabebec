//! Origins (`scheme://host[:port]`) as the `Origin` header and the
//! configuration name them, compared after normalising case and default
//! ports.

/// A configured origin that is not `http(s)://host[:port]`.
///
/// ```
/// let err = auth_core::CookieMode::new().allow_origin("ftp://x").unwrap_err();
/// assert!(err.to_string().contains("ftp://x"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an origin: expected http(s)://host[:port], with no path")]
pub struct OriginError(String);

/// An `http` or `https` origin: scheme, lower-case host, port (the
/// scheme's default when not written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `http(s)://host[:port]` (a trailing `/` is allowed in
    /// configuration).
    pub(crate) fn parse(text: &str) -> Result<Self, OriginError> {
        let fail = || OriginError(text.to_owned());
        let trimmed = text.trim().trim_end_matches('/');
        let (https, rest) = if let Some(rest) = trimmed.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = trimmed.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(fail());
        };
        let (host, port) = split_authority(rest, if https { 443 } else { 80 }).ok_or_else(fail)?;
        Ok(Self { https, host, port })
    }

    /// Whether this origin is the one a request to `host` (the `Host`
    /// header) came from: the same host and port, over `https`, or over
    /// `http` where the cookies are not `Secure` or the host is a loopback
    /// name (which browsers treat as secure).
    pub(crate) fn is_own(&self, host: &str, secure: bool) -> bool {
        let Some((name, port)) = split_authority(host, if self.https { 443 } else { 80 }) else {
            return false;
        };
        name == self.host && port == self.port && (self.https || !secure || is_loopback(&self.host))
    }
}

/// `host[:port]` (IPv6 in brackets) as a lower-case host and a port.
fn split_authority(text: &str, default_port: u16) -> Option<(String, u16)> {
    if text.is_empty() || text.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{inside}]"), port)
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (text.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok()?,
        None => default_port,
    };
    (!host.is_empty() && host != "[]").then(|| (host.to_ascii_lowercase(), port))
}

/// `localhost`, `*.localhost`, 127.0.0.0/8 and `[::1]`.
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        let o = Origin::parse("https://App.Example").unwrap();
        assert!(o.is_own("app.example", true));
        assert!(o.is_own("app.example:443", true));
        assert!(!o.is_own("app.example:8443", true));
        assert!(!o.is_own("evil.example", true));
        // plain http: only on loopback names while cookies are Secure
        let h = Origin::parse("http://app.example:8080").unwrap();
        assert!(!h.is_own("app.example:8080", true));
        assert!(h.is_own("app.example:8080", false));
        assert!(Origin::parse("http://127.0.0.1:3000").unwrap().is_own("127.0.0.1:3000", true));
        assert!(Origin::parse("http://localhost:3000").unwrap().is_own("localhost:3000", true));
        assert!(!Origin::parse("http://localhost:3000").unwrap().is_own("127.0.0.1:3000", true));
        assert!(Origin::parse("http://[::1]:3000").unwrap().is_own("[::1]:3000", true));
    }

    #[test]
    fn malformed_origins_are_refused() {
        for bad in [
            "",
            "null",
            "app.example",
            "ftp://a",
            "https://",
            "https://a/b",
            "https://a:99999",
            "https://u@a",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Origin::parse("https://a.example/").unwrap(),
            Origin::parse("https://a.example:443").unwrap()
        );
    }
}
