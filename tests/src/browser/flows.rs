//! The demo's page (`--cookies`) in a real Chromium, on both frameworks:
//! logging in, the cookies a script can and cannot see, the automatic
//! refresh, logout; and pages on another site that try to forge requests.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::app::{App, start};
use super::driver::{Browser, browser, serve_static};

const SETTLE: Duration = Duration::from_secs(10);

/// Clicks `button` on the demo's page and waits for the answer it shows:
/// `#output`'s `data-status` and its JSON.
async fn act(b: &Browser, button: &str) -> (u16, Value) {
    b.eval("document.querySelector('#output').dataset.status = ''; return null").await;
    b.click(button).await;
    let deadline = Instant::now() + SETTLE;
    loop {
        let state = b
            .eval(
                "const o = document.querySelector('#output'); \
                 return [o.dataset.status || '', !!(window.demo && window.demo.busy), o.textContent]",
            )
            .await;
        let status = state[0].as_str().unwrap_or_default();
        if !status.is_empty() && state[1] == json!(false) {
            let text = state[2].as_str().unwrap_or_default();
            let body = serde_json::from_str(text).unwrap_or_else(|_| panic!("#output is not JSON: {text}"));
            return (status.parse().expect("a status"), body);
        }
        assert!(Instant::now() < deadline, "{button}: no answer shown after {SETTLE:?}: {state}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn log_in(b: &Browser, app: &App, user: &str, password: &str) {
    b.goto(&format!("{}/", app.base)).await;
    b.fill("#username", user).await;
    b.fill("#password", password).await;
    let (status, body) = act(b, "#login").await;
    assert_eq!(status, 200, "login: {body}");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none(), "{body}");
}

/// The value of the cookie `name` the browser holds for the current page.
async fn cookie(b: &Browser, name: &str) -> Option<String> {
    b.cookies().await.into_iter().find(|c| c.name() == name).map(|c| c.value().to_owned())
}

async fn page_flow(framework: &str) {
    let app = start(framework, &["--access-ttl", "2s"]).await;
    let Some(b) = browser().await else { return };
    log_in(&b, &app, "alice", "alice-pw").await;
    let (status, me) = act(&b, "#whoami").await;
    assert_eq!((status, me["username"].clone()), (200, json!("alice")));

    // a script sees the CSRF value and no token
    let visible = b.eval("return document.cookie").await;
    let visible = visible.as_str().unwrap_or_default();
    assert!(visible.contains("__Host-csrf_token="), "{visible}");
    assert!(
        !visible.contains("access_token") && !visible.contains("refresh_token") && !visible.contains("eyJ")
    );
    let cookies = b.cookies().await;
    let access = cookies.iter().find(|c| c.name() == "__Host-access_token").expect("the access cookie");
    assert_eq!((access.http_only(), access.secure(), access.path()), (Some(true), Some(true), Some("/")));
    assert_eq!(access.same_site().map(|s| s.to_string()).as_deref(), Some("Lax"));

    // the access token (2 s) expires: the page refreshes once, by itself, and retries
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, me) = act(&b, "#whoami").await;
    assert_eq!((status, me["username"].clone()), (200, json!("alice")));
    assert_eq!(b.eval("return window.demo.refreshes").await, json!(1));
    let refreshes = app.log.of("POST", "/auth/refresh");
    assert_eq!(refreshes.iter().map(|s| s.status).collect::<Vec<_>>(), [200], "exactly one refresh");
    let whoami: Vec<u16> = app.log.of("GET", "/whoami").iter().map(|s| s.status).collect();
    assert_eq!(whoami, [200, 401, 200]);

    // the refresh cookie went to the refresh route and nowhere else
    let all = app.log.all();
    assert!(all.len() >= 6, "{all:?}");
    for seen in &all {
        let carried = seen.cookies.iter().any(|c| c == "__Secure-refresh_token");
        assert_eq!(carried, seen.path == "/auth/refresh", "{seen:?}");
    }

    b.fill("#note", "from the page").await;
    let (status, note) = act(&b, "#add-note").await;
    assert_eq!((status, note), (201, json!({"text": "from the page", "count": 1})));

    // logout clears the cookies; the old access cookie replayed by hand is refused
    let old = cookie(&b, "__Host-access_token").await.expect("the access cookie");
    let (status, _) = act(&b, "#logout").await;
    assert_eq!(status, 204);
    let left = b.cookie_names().await;
    assert!(!left.iter().any(|n| n.starts_with("__Host-")), "{left:?}");
    b.goto(&format!("{}/auth/refresh", app.base)).await;
    assert_eq!(cookie(&b, "__Secure-refresh_token").await, None);
    let replay = reqwest::Client::new()
        .get(format!("{}/whoami", app.base))
        .header("cookie", format!("__Host-access_token={old}"))
        .send()
        .await
        .expect("replay");
    assert_eq!(replay.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_logs_in_refreshes_once_and_logs_out_on_axum() {
    page_flow("axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_logs_in_refreshes_once_and_logs_out_on_actix() {
    page_flow("actix").await;
}

/// Loads a page of another site (`localhost`, the demo being on
/// `127.0.0.1`) that runs `script` against `target`, and waits until it
/// wrote something into `#r` or navigated away.
async fn attack(b: &Browser, html: String) {
    let (page, server) = serve_static("localhost", html).await;
    b.goto(&page).await;
    let deadline = Instant::now() + SETTLE;
    loop {
        let url = b.url().await;
        let done = !url.starts_with(&page) || {
            let r = b.eval("const r = document.getElementById('r'); return r ? r.textContent : ''").await;
            r.as_str().is_some_and(|t| !t.is_empty())
        };
        if done {
            break;
        }
        assert!(Instant::now() < deadline, "the attack page did nothing");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.abort();
}

fn auto_form(action: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String =
        fields.iter().map(|(n, v)| format!(r#"<input type="hidden" name="{n}" value="{v}">"#)).collect();
    format!(
        r#"<!doctype html><form method="POST" action="{action}">{inputs}</form>
<script>document.forms[0].submit()</script>"#
    )
}

async fn forged_requests(framework: &str, same_site: &str) {
    let app = start(framework, &["--cookie-samesite", same_site]).await;
    let Some(b) = browser().await else { return };
    log_in(&b, &app, "alice", "alice-pw").await;
    b.fill("#note", "mine").await;
    assert_eq!(act(&b, "#add-note").await.0, 201);
    let before = app.log.all().len();
    let target = &app.base;

    attack(&b, auto_form(&format!("{target}/notes"), &[("text", "forged by a form")])).await;
    let fetch = format!(
        r#"<!doctype html><p id="r"></p><script>
fetch("{target}/notes", {{method: "POST", credentials: "include", body: new URLSearchParams({{text: "forged by fetch"}})}})
  .then(() => document.getElementById("r").textContent = "answered", e => document.getElementById("r").textContent = "blocked: " + e);
</script>"#
    );
    attack(&b, fetch).await;
    attack(&b, auto_form(&format!("{target}/auth/login"), &[("username", "bob"), ("password", "bob-pw")]))
        .await;

    // on the server: both forged notes arrived and were refused; under
    // SameSite=None they carried the access cookie, so the CSRF layers alone refused them
    let forged: Vec<_> = app.log.all().into_iter().skip(before).filter(|s| s.method == "POST").collect();
    let notes: Vec<_> = forged.iter().filter(|s| s.path == "/notes").collect();
    assert_eq!(notes.len(), 2, "{forged:?}");
    for seen in &notes {
        let with_cookie = seen.cookies.iter().any(|c| c == "__Host-access_token");
        match same_site {
            "none" => assert_eq!((with_cookie, seen.status), (true, 403), "{seen:?}"),
            _ => assert_eq!((with_cookie, seen.status), (false, 401), "{seen:?}"),
        }
    }
    let logins: Vec<u16> = forged.iter().filter(|s| s.path == "/auth/login").map(|s| s.status).collect();
    assert_eq!(logins, [403], "login CSRF refused");

    // back on the app: still alice, and only her own note
    b.goto(&format!("{target}/")).await;
    let listed = b.eval_async("fetch('/notes').then(r => r.json()).then(done, e => done(String(e)))").await;
    assert_eq!(listed, json!({"notes": ["mine"]}));
    assert_eq!(act(&b, "#whoami").await.1["username"], json!("alice"));

    // a valid CSRF value with another session's cookie is refused
    let alice_csrf = cookie(&b, "__Host-csrf_token").await.expect("alice's CSRF value");
    let http = reqwest::Client::new();
    let bob = http
        .post(format!("{target}/auth/login"))
        .header("origin", target.as_str())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=bob&password=bob-pw")
        .send()
        .await
        .expect("bob's login");
    let bob_access = bob
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("__Host-access_token=")?.split(';').next().map(str::to_owned))
        .expect("bob's access cookie");
    let mixed = http
        .post(format!("{target}/notes"))
        .header("origin", target.as_str())
        .header("cookie", format!("__Host-access_token={bob_access}; __Host-csrf_token={alice_csrf}"))
        .header("x-csrf-token", alice_csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("text=mixed")
        .send()
        .await
        .expect("mixed request");
    assert_eq!(mixed.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_requests_from_another_site_add_no_note_on_axum_lax() {
    forged_requests("axum", "lax").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_requests_from_another_site_add_no_note_on_axum_none() {
    forged_requests("axum", "none").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_requests_from_another_site_add_no_note_on_actix_lax() {
    forged_requests("actix", "lax").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_requests_from_another_site_add_no_note_on_actix_none() {
    forged_requests("actix", "none").await;
}
