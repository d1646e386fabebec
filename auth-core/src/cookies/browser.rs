//! [`BrowserHeaders`]: what cookie mode reads of a request besides
//! `Authorization`.

/// The longest cookie value read (a token is far shorter); a longer one
/// counts as absent.
const MAX_COOKIE_VALUE: usize = 8 * 1024;

/// The headers a browser request carries that cookie mode judges: its
/// cookies, `Origin`, `Sec-Fetch-Site`, `Host` and `X-CSRF-Token`.
/// Adapters copy them out of their framework's request
/// ([`from_lookup`](Self::from_lookup)); bytes that are not UTF-8 are
/// read as U+FFFD (so such a value matches nothing, and is never read as
/// absent), and a header sent more than once (no browser does) is the
/// list of its values joined by `, `, as HTTP reads it: two `Origin`s
/// are no origin that can be allowed, two `X-CSRF-Token`s match nothing,
/// and `Sec-Fetch-Site` is cross-site if any of its values says so.
///
/// ```
/// use auth_core::BrowserHeaders;
/// let headers = [("cookie", "a=1; __Host-access_token=x.y.z"), ("origin", "https://app.example")];
/// let browser = BrowserHeaders::from_lookup(|name| {
///     let values: Vec<&[u8]> = headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| v.as_bytes()).collect();
///     values.into_iter()
/// });
/// assert_eq!(browser.cookie("__Host-access_token"), Some("x.y.z"));
/// assert_eq!(browser.origin.as_deref(), Some("https://app.example"));
/// assert_eq!(browser.cookie("missing"), None);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BrowserHeaders {
    /// Every `Cookie` header value.
    pub cookies: Vec<String>,
    /// The `Origin` header.
    pub origin: Option<String>,
    /// The `Sec-Fetch-Site` header (`same-origin`, `same-site`, `cross-site`, `none`).
    pub fetch_site: Option<String>,
    /// The `Host` header (or the URI's authority, for HTTP/2).
    pub host: Option<String>,
    /// The `X-CSRF-Token` header.
    pub csrf_token: Option<String>,
}

/// Never prints cookie values or the CSRF value.
impl std::fmt::Debug for BrowserHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserHeaders")
            .field("cookies", &self.cookies.len())
            .field("origin", &self.origin)
            .field("fetch_site", &self.fetch_site)
            .field("host", &self.host)
            .field("csrf_token", &self.csrf_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl BrowserHeaders {
    /// Reads the headers through `lookup`, which gives every value of a
    /// header by its lower-case name.
    pub fn from_lookup<'a, I>(lookup: impl Fn(&str) -> I) -> Self
    where
        I: Iterator<Item = &'a [u8]>,
    {
        let text = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
        let one = |name: &str| {
            let values: Vec<String> = lookup(name).map(text).collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        Self {
            cookies: lookup("cookie").map(text).collect(),
            origin: one("origin"),
            fetch_site: one("sec-fetch-site"),
            host: one("host"),
            csrf_token: one(super::CSRF_HEADER),
        }
    }

    /// The value of the cookie `name`: the first one of that exact name
    /// in the `Cookie` headers (parsed with the `cookie` crate), if any and
    /// not empty.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find_map(|line| {
            cookie::Cookie::split_parse(line.as_str()).filter_map(Result::ok).find_map(|c| {
                (c.name() == name && !c.value().is_empty() && c.value().len() <= MAX_COOKIE_VALUE)
                    .then(|| c.value_raw())
                    .flatten()
            })
        })
    }
}
