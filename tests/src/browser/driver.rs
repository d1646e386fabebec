//! Starting and driving a real headless Chromium over WebDriver (chromedriver +
//! fantoccini), and serving the small pages the browser tests load.
//!
//! [`browser`] finds `chromedriver` (`CHROMEDRIVER`, else `PATH`) and Chromium
//! (`CHROME_BIN`, else `chromium` on `PATH`), starts chromedriver on a free
//! loopback port and opens one session with a fresh profile. Without them it
//! returns `None` after printing that the test skipped; under `CI=true` it
//! panics instead (`.ci/run` installs both).
//!
//! What this Chromium (Debian's, 156) was seen to do on plain-HTTP loopback,
//! which the browser tests rely on:
//! - `http://127.0.0.1:PORT` and `http://localhost:PORT` are both trustworthy
//!   origins: `Secure`, `__Host-` and `__Secure-` cookies set over plain HTTP
//!   are stored and sent back. `SameSite=None` without `Secure` is refused.
//! - `localhost` and `127.0.0.1` are different sites (`Sec-Fetch-Site:
//!   cross-site`); two ports of one host are the same site (`same-site`).
//! - A fresh profile blocks third-party cookies, so a cross-site `fetch` with
//!   `credentials: 'include'` would carry no cookie at all, even
//!   `SameSite=None` ones. Chrome as people run it allows them, so
//!   [`browser`] does too (the worst case for the server); [`browser_with`]
//!   with [`ThirdPartyCookies::Blocked`] gives the fresh-profile behaviour.
//! - WebDriver's cookie list ([`Browser::cookies`]) holds the cookies that
//!   would be sent to the current page's URL, `HttpOnly` ones included: a
//!   cookie with `Path=/auth/refresh` is listed only on a page under that path.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use fantoccini::cookies::Cookie;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// The flags Chromium is started with. `--no-sandbox`: the tests run as root,
/// and Chromium's sandbox refuses root (the browser exits at once without
/// it). The rest keep a headless run quiet on a machine with no network but
/// loopback: no first-run UI, no background fetches of components, sync or
/// QUIC, no keyring, no GPU, no `/dev/shm` (small in containers).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-extensions",
    "--password-store=basic",
    "--window-size=1280,800",
];

/// How long chromedriver may take to answer `/status`, and Chromium to open
/// a session (a start took 0.3 to 0.4 s here, about 0.65 s with two at once).
const DRIVER_READY: Duration = Duration::from_secs(15);
const SESSION_READY: Duration = Duration::from_secs(60);
/// How often the `wait_for_*` helpers look again.
const POLL: Duration = Duration::from_millis(25);

/// Whether the browser sends cookies on cross-site subresource requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThirdPartyCookies {
    /// As Chrome ships to people: `SameSite=None` cookies go along with a
    /// cross-site `fetch(…, {credentials: 'include'})`.
    Allowed,
    /// As a fresh Chromium profile under chromedriver: they do not.
    Blocked,
}

/// A headless Chromium session. Dropping it ends the session, stops
/// chromedriver and removes the profile directory.
pub(crate) struct Browser {
    /// The WebDriver client, for anything the helpers below do not cover.
    pub(crate) client: Client,
    driver: Child,
    driver_port: u16,
    session_id: Option<String>,
    profile: PathBuf,
    /// How long chromedriver and the session took to start.
    pub(crate) started_in: Duration,
}

/// A browser with third-party cookies allowed, or `None` (the test skips)
/// when chromedriver or Chromium is not installed and `CI` is not `true`.
pub(crate) async fn browser() -> Option<Browser> {
    browser_with(ThirdPartyCookies::Allowed).await
}

/// [`browser`] with a choice about third-party cookies.
pub(crate) async fn browser_with(third_party: ThirdPartyCookies) -> Option<Browser> {
    let (Some(chromedriver), Some(chromium)) = (
        find_program("CHROMEDRIVER", &["chromedriver"]),
        find_program("CHROME_BIN", &["chromium", "chromium-browser"]),
    ) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("chromium/chromedriver not installed: .ci/run installs them");
        }
        eprintln!("skipped: no chromium/chromedriver (apt-get install chromium chromium-driver)");
        return None;
    };
    Some(start(&chromedriver, &chromium, third_party).await)
}

/// `$env_var` if it names a file, else the first of `names` found on `PATH`.
fn find_program(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let dirs: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH")?).collect();
    names.iter().flat_map(|name| dirs.iter().map(move |dir| dir.join(name))).find(|p| p.is_file())
}

async fn start(chromedriver: &Path, chromium: &Path, third_party: ThirdPartyCookies) -> Browser {
    let began = Instant::now();
    let profile = fresh_dir();
    let log = profile.join("chromedriver.log");
    // A free port may be taken between probing and chromedriver's bind: retry.
    let mut attempt = 0;
    let (mut driver, driver_port) = loop {
        attempt += 1;
        let port = free_port();
        let mut child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run {}: {e}", chromedriver.display()));
        if wait_until_ready(&mut child, port).await {
            break (child, port);
        }
        let _ = child.kill();
        let _ = child.wait();
        if attempt == 3 {
            let _ = std::fs::remove_dir_all(&profile);
            panic!("chromedriver did not become ready on 127.0.0.1:{port}:\n{}", tail(&log));
        }
    };

    let user_data_dir = profile.join("user-data");
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
    args.push(format!("--user-data-dir={}", user_data_dir.display()));
    let mut options = json!({ "binary": chromium, "args": args });
    if third_party == ThirdPartyCookies::Allowed {
        // 0 = allow all cookies (1 = block third-party cookies in incognito,
        // 2 = block them everywhere, what a fresh profile here does).
        options["prefs"] = json!({ "profile.cookie_controls_mode": 0 });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), json!("chrome"));
    caps.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{driver_port}");
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(caps);
    let client = match tokio::time::timeout(SESSION_READY, builder.connect(&url)).await {
        Ok(Ok(client)) => client,
        failure => {
            let _ = driver.kill();
            let _ = driver.wait();
            let why = match failure {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no session after {SESSION_READY:?}"),
            };
            let log = tail(&log);
            kill_leftovers(&user_data_dir);
            let _ = std::fs::remove_dir_all(&profile);
            panic!("chromium did not start under chromedriver ({}): {why}\n{log}", chromium.display());
        }
    };
    let session_id = client.session_id().await.ok().flatten();
    Browser { client, driver, driver_port, session_id, profile, started_in: began.elapsed() }
}

/// A new empty directory of this process's own under the temporary directory.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!(
        "conformance-chromium-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("could not create {}: {e}", dir.display()));
    dir
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Polls chromedriver's `/status` until it says it is ready, it exits, or
/// [`DRIVER_READY`] passes.
async fn wait_until_ready(driver: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + DRIVER_READY;
    while Instant::now() < deadline {
        if !matches!(driver.try_wait(), Ok(None)) {
            return false;
        }
        if let Ok(mut stream) = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let request =
                format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
            let mut answer = Vec::new();
            let exchange = async {
                stream.write_all(request.as_bytes()).await?;
                let mut chunk = [0; 4096];
                while !answer_complete(&answer) {
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        break;
                    }
                    answer.extend_from_slice(&chunk[..n]);
                }
                std::io::Result::Ok(())
            };
            if tokio::time::timeout(Duration::from_secs(2), exchange).await.is_ok_and(|r| r.is_ok())
                && String::from_utf8_lossy(&answer).contains("\"ready\":true")
            {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Whether `answer` holds a whole HTTP response with a `Content-Length` body
/// (chromedriver keeps the connection open after answering, even when asked
/// to close it, so reading to the end would wait for the read timeout).
fn answer_complete(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= end + 4 + length
}

/// The last lines of chromedriver's log, for a failure message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Kills any process still running with our profile directory on its command
/// line (Chromium outlives a chromedriver that is killed without ending its
/// session). Only our own processes carry that directory.
fn kill_leftovers(user_data_dir: &Path) {
    let marker = format!("--user-data-dir={}", user_data_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    let pids: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmd| cmd.split(|b| *b == 0).any(|arg| arg == marker.as_bytes()))
        })
        .collect();
    if !pids.is_empty() {
        let _ = Command::new("kill").arg("-KILL").args(&pids).stderr(Stdio::null()).status();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session makes chromedriver quit Chromium and wait for it;
        // this is plain blocking I/O so that it works during a panic and
        // whatever the test's runtime is doing.
        if let Some(id) = &self.session_id {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.driver_port));
            if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
                let request = format!(
                    "DELETE /session/{id} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                if stream.write_all(request.as_bytes()).is_ok() {
                    let (mut answer, mut chunk) = (Vec::new(), [0; 4096]);
                    while !answer_complete(&answer) {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => answer.extend_from_slice(&chunk[..n]),
                        }
                    }
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        kill_leftovers(&self.profile.join("user-data"));
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Browser {
    /// Loads `url` and waits for its `load` event.
    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The address of the current page.
    pub(crate) async fn url(&self) -> String {
        self.client.current_url().await.expect("current url").to_string()
    }

    /// The first element matching `css`, waiting up to five seconds for it.
    pub(crate) async fn find(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => return element,
                Err(e) if Instant::now() >= deadline => {
                    panic!("no element {css:?} on {}: {e}", self.url().await)
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Clicks the first element matching `css`.
    pub(crate) async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css:?}: {e}"));
    }

    /// Replaces the value of the input matching `css` with `text`, typed.
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap_or_else(|e| panic!("clear {css:?}: {e}"));
        input.send_keys(text).await.unwrap_or_else(|e| panic!("type into {css:?}: {e}"));
    }

    /// The rendered text of the first element matching `css` (what a person
    /// sees: empty for a hidden element).
    pub(crate) async fn text_of(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap_or_else(|e| panic!("text of {css:?}: {e}"))
    }

    /// Waits until the text of the element matching `css` satisfies `ready`
    /// (the element may appear meanwhile) and returns it; panics with the last
    /// text seen after `timeout`.
    pub(crate) async fn wait_for_text(
        &self,
        css: &str,
        ready: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if ready(&text) {
                    return text;
                }
                last = Some(text);
            }
            if Instant::now() >= deadline {
                panic!("{css:?} on {} after {timeout:?}: last text {last:?}", self.url().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the current page's address satisfies `ready` (after a form
    /// submission or a redirect) and returns it.
    pub(crate) async fn wait_for_url(&self, ready: impl Fn(&str) -> bool, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let url = self.url().await;
            if ready(&url) {
                return url;
            }
            if Instant::now() >= deadline {
                panic!("still at {url} after {timeout:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `js` as a function body in the page and returns what it
    /// `return`s: `eval("return document.title")`.
    pub(crate) async fn eval(&self, js: &str) -> Value {
        self.client.execute(js, vec![]).await.unwrap_or_else(|e| panic!("script failed: {e}\n{js}"))
    }

    /// Runs `js` in the page with a callback `done` in scope, and returns the
    /// value it is called with: `eval_async("fetch('/x').then(r => done(r.status))")`.
    /// WebDriver's script timeout (30 s) bounds it.
    pub(crate) async fn eval_async(&self, js: &str) -> Value {
        let script = format!("const done = arguments[arguments.length - 1];\n{js}");
        self.client
            .execute_async(&script, vec![])
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{js}"))
    }

    /// Every cookie the browser would send to the current page's URL,
    /// `HttpOnly` ones included, with their attributes.
    pub(crate) async fn cookies(&self) -> Vec<Cookie<'static>> {
        self.client.get_all_cookies().await.expect("get all cookies")
    }

    /// The names of [`Browser::cookies`], sorted.
    pub(crate) async fn cookie_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.cookies().await.iter().map(|c| c.name().to_owned()).collect();
        names.sort();
        names
    }
}

/// Serves `html` at `/` (and nothing else) on a free port of 127.0.0.1, and
/// returns its address written with `host_for_url` — `"localhost"` puts the
/// page on another site than `127.0.0.1` — and the server's task (it ends with
/// the test's runtime, or when aborted).
pub(crate) async fn serve_static(host_for_url: &str, html: String) -> (String, tokio::task::JoinHandle<()>) {
    let listener =
        tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let page = axum::response::Html(html);
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { page }));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{host_for_url}:{port}"), server)
}

#[tokio::test]
async fn the_harness_drives_a_real_chromium() {
    let Some(b) = browser().await else { return };
    eprintln!("chromedriver + chromium started in {:?}", b.started_in);
    let html = r#"<!doctype html>
<html><head><title>served</title></head>
<body>
  <p id="out">static</p>
  <input id="name"> <button id="go">go</button> <p id="greeting"></p>
  <script>
    document.title = "set by script";
    document.getElementById("out").textContent = "written by script";
    document.getElementById("go").addEventListener("click", () => {
      setTimeout(() => {
        document.getElementById("greeting").textContent =
          "hello " + document.getElementById("name").value;
      }, 50);
    });
  </script>
</body></html>"#;
    let (url, _server) = serve_static("localhost", html.to_owned()).await;
    assert!(url.starts_with("http://localhost:"), "{url}");

    b.goto(&url).await;
    assert_eq!(b.text_of("#out").await, "written by script");
    assert_eq!(b.eval("return document.title").await, json!("set by script"));
    assert_eq!(b.client.title().await.expect("title"), "set by script");

    b.fill("#name", "ann").await;
    b.click("#go").await;
    let greeting = b.wait_for_text("#greeting", |t| !t.is_empty(), Duration::from_secs(5)).await;
    assert_eq!(greeting, "hello ann");

    let status = b.eval_async("fetch('/').then(r => done(r.status), e => done(String(e)))").await;
    assert_eq!(status, json!(200));

    b.eval("document.cookie = 'seen=1; Path=/; SameSite=Lax'; return null").await;
    assert_eq!(b.cookie_names().await, ["seen"]);
    let cookie = b.cookies().await.into_iter().next().expect("the cookie");
    assert_eq!((cookie.value(), cookie.http_only()), ("1", Some(false)));
}

/// What the cookie server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    cookie: String,
    origin: String,
    fetch_site: String,
}

/// A server on 127.0.0.1 that sets the cookies of the facts above on
/// `POST /set` and records every request.
async fn cookie_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>, tokio::task::JoinHandle<()>)
{
    use axum::http::{HeaderMap, Method, Uri, header};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Seen>::new()));
    let log = seen.clone();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap| {
        let log = log.clone();
        async move {
            let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let path = uri.path().to_owned();
            log.lock().expect("log").push(Seen {
                method: method.to_string(),
                path: path.clone(),
                cookie: get("cookie"),
                origin: get("origin"),
                fetch_site: get("sec-fetch-site"),
            });
            let mut set_cookies = Vec::new();
            if method == Method::POST && path == "/set" {
                set_cookies = vec![
                    "__Host-a=1; Path=/; HttpOnly; Secure; SameSite=Lax",
                    "__Secure-r=2; Path=/auth/refresh; HttpOnly; Secure; SameSite=Lax",
                    "__Host-c=3; Path=/; Secure; SameSite=Lax",
                    "__Host-n=4; Path=/; HttpOnly; Secure; SameSite=None",
                    "insecure-none=5; Path=/; SameSite=None",
                ];
            }
            let mut response = axum::response::IntoResponse::into_response(axum::response::Html(format!(
                "<!doctype html><title>{path}</title><p id=\"path\">{path}</p>"
            )));
            for c in set_cookies {
                response.headers_mut().append(header::SET_COOKIE, header::HeaderValue::from_static(c));
            }
            response
        }
    };
    let listener =
        tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("bind a loopback port");
    let port = listener.local_addr().expect("local address").port();
    let app = axum::Router::new().fallback(handler);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://127.0.0.1:{port}"), seen, server)
}

/// The facts in this module's doc, checked against the installed Chromium:
/// the browser tests' conclusions rest on them.
#[tokio::test]
async fn chromium_keeps_secure_cookies_on_plain_http_loopback_and_localhost_is_another_site() {
    for third_party in [ThirdPartyCookies::Allowed, ThirdPartyCookies::Blocked] {
        let Some(b) = browser_with(third_party).await else { return };
        let (target, seen, _server) = cookie_server().await;
        b.goto(&format!("{target}/")).await;
        assert_eq!(
            b.eval_async("fetch('/set', {method: 'POST'}).then(r => done(r.status))").await,
            json!(200)
        );
        // Secure and prefixed cookies are kept over http://127.0.0.1; SameSite=None without Secure is not.
        assert_eq!(b.cookie_names().await, ["__Host-a", "__Host-c", "__Host-n"]);
        assert_eq!(b.eval("return document.cookie").await, json!("__Host-c=3"));
        let host_a = b.cookies().await.into_iter().find(|c| c.name() == "__Host-a").expect("__Host-a");
        assert_eq!((host_a.http_only(), host_a.secure()), (Some(true), Some(true)));
        b.goto(&format!("{target}/auth/refresh")).await;
        assert!(b.cookie_names().await.contains(&"__Secure-r".to_owned()));

        // From http://localhost (another site): a form POST and a credentialed fetch.
        let attack = format!(
            r#"<!doctype html><p id="state">pending</p>
            <form id="f" method="post" action="{target}/form"><input name="k" value="v"></form>
            <script>
              fetch("{target}/fetch", {{method: "POST", credentials: "include", body: "k=v"}})
                .catch(() => null)
                .then(() => {{ document.getElementById("state").textContent = "fetched"; }});
            </script>"#
        );
        let (attacker, _page) = serve_static("localhost", attack).await;
        b.goto(&attacker).await;
        b.wait_for_text("#state", |t| t == "fetched", Duration::from_secs(10)).await;
        b.eval("document.getElementById('f').submit(); return null").await;
        b.wait_for_url(|u| u.ends_with("/form"), Duration::from_secs(10)).await;

        let seen = seen.lock().expect("log").clone();
        let request = |path: &str| seen.iter().find(|s| s.path == path).cloned().expect(path);
        let (form, fetch) = (request("/form"), request("/fetch"));
        let attacker_origin = attacker.trim_end_matches('/');
        for s in [&form, &fetch] {
            assert_eq!((s.method.as_str(), s.origin.as_str()), ("POST", attacker_origin), "{s:?}");
            assert_eq!(s.fetch_site, "cross-site", "{s:?}");
        }
        // SameSite=Lax stays home on a cross-site POST; SameSite=None goes along
        // with a top-level form, and with a fetch only when third-party cookies are allowed.
        assert_eq!(form.cookie, "__Host-n=4", "{third_party:?}");
        let expected_fetch = if third_party == ThirdPartyCookies::Allowed { "__Host-n=4" } else { "" };
        assert_eq!(fetch.cookie, expected_fetch, "{third_party:?}");
    }
}
