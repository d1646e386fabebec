//! The demo's browser page (`--cookies` only): `GET /` serves
//! `page/index.html` and `GET /app.js` its script, with headers that keep
//! the page to its own script and origin.
//!
//! The page reads nothing but its own `<meta>` tags to learn the cookie
//! mode: `csrf-cookie` (the readable cookie's name, which
//! [`CookieMode::insecure_development`] changes), `refresh-path` (the
//! refresh route, where the refresh cookie is scoped) and `auth-mount`
//! (where login and logout are).
//!
//! ```
//! use auth_core::CookieMode;
//! use demo_app::page::Page;
//! let page = Page::new(&CookieMode::new(), "/auth");
//! assert!(page.html().contains(r#"<meta name="csrf-cookie" content="__Host-csrf_token">"#));
//! assert!(page.html().contains(r#"<meta name="refresh-path" content="/auth/refresh">"#));
//! let res = page.index();
//! assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
//! assert_eq!(res.header("content-security-policy"), Some(demo_app::page::CONTENT_SECURITY_POLICY));
//! ```

use std::sync::Arc;

use auth_core::{AuthResponse, CookieMode, SameSite};

/// Where the page is served.
pub const PAGE_PATH: &str = "/";

/// Where the page's script is served.
pub const SCRIPT_PATH: &str = "/app.js";

/// The page's template: `{{name}}` placeholders filled in by [`Page::new`].
pub const INDEX_TEMPLATE: &str = include_str!("page/index.html");

/// The page's script (no build step).
pub const APP_JS: &str = include_str!("page/app.js");

/// The page's `Content-Security-Policy`: its own script only (no inline
/// script, no `eval`), requests to its own origin only, inline styles, no
/// framing, no `<base>`, forms posting to its own origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// The rendered page for one cookie mode. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Page {
    html: Arc<str>,
}

/// `value` safe in HTML text and in a double-quoted attribute.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `SameSite=Lax`, as the page and the banner name the mode.
pub fn same_site_name(mode: &CookieMode) -> &'static str {
    match mode.same_site_value() {
        SameSite::Strict => "Strict",
        SameSite::Lax => "Lax",
        SameSite::None => "None",
    }
}

impl Page {
    /// The page for `mode` (as the route set uses it: its
    /// [`refresh_path`](CookieMode::refresh_path) is the refresh route),
    /// with login and logout under `mount`.
    pub fn new(mode: &CookieMode, mount: &str) -> Self {
        let secure = if mode.is_secure() { "Secure" } else { "NOT Secure (development only)" };
        let description = format!("SameSite={}, {secure}", same_site_name(mode));
        let html = INDEX_TEMPLATE
            .replace("{{csrf_cookie}}", &escape(mode.csrf_cookie()))
            .replace("{{refresh_path}}", &escape(&mode.refresh_path()))
            .replace("{{auth_mount}}", &escape(mount.trim_end_matches('/')))
            .replace("{{cookie_mode}}", &escape(&description));
        Self { html: html.into() }
    }

    /// The rendered HTML.
    pub fn html(&self) -> &str {
        &self.html
    }

    /// `GET /`: the page, not cached, with [`CONTENT_SECURITY_POLICY`],
    /// `nosniff` and no referrer.
    pub fn index(&self) -> AuthResponse {
        let mut res = static_file("text/html; charset=utf-8", self.html.as_bytes());
        res.headers.push(("content-security-policy", CONTENT_SECURITY_POLICY.to_owned()));
        res.headers.push(("referrer-policy", "no-referrer".to_owned()));
        res
    }

    /// `GET /app.js`: the script, not cached, `nosniff`.
    pub fn script(&self) -> AuthResponse {
        static_file("text/javascript; charset=utf-8", APP_JS.as_bytes())
    }
}

fn static_file(content_type: &str, body: &[u8]) -> AuthResponse {
    AuthResponse {
        status: 200,
        headers: vec![
            ("content-type", content_type.to_owned()),
            ("cache-control", "no-store".to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
        ],
        body: body.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_modes_cookie_and_routes() {
        let page = Page::new(&CookieMode::new().insecure_development().mounted_at("/x"), "/x/");
        let html = page.html();
        assert!(html.contains(r#"<meta name="csrf-cookie" content="csrf_token">"#), "{html}");
        assert!(html.contains(r#"<meta name="refresh-path" content="/x/refresh">"#));
        assert!(html.contains(r#"<meta name="auth-mount" content="/x">"#));
        assert!(!html.contains("{{"), "every placeholder filled");
        for id in
            ["username", "password", "login", "whoami", "refresh", "logout", "note", "add-note", "output"]
        {
            assert!(html.contains(&format!(r#"id="{id}""#)), "#{id}");
        }
        assert!(html.contains(r#"<script src="/app.js" defer></script>"#));
        assert!(!html.contains("<script>"), "no inline script: the CSP forbids it");
    }

    #[test]
    fn the_answers_are_hardened() {
        let page = Page::new(&CookieMode::new(), "/auth");
        let index = page.index();
        assert_eq!(index.status, 200);
        for (name, value) in [
            ("content-type", "text/html; charset=utf-8"),
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(index.header(name), Some(value), "{name}");
        }
        let script = page.script();
        assert_eq!(script.header("content-type"), Some("text/javascript; charset=utf-8"));
        assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(script.body, APP_JS.as_bytes());
    }

    #[test]
    fn values_are_escaped() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
