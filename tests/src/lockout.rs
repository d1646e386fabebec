//! The targeted lock-out of the security review, over HTTP on both
//! frameworks: 20 wrong passwords for bob from four addresses reach the
//! per-user limit, then two more addresses keep guessing to hold it. The
//! owner logs in at the first try from a device that kept the device
//! token of an earlier login (as a header, or as the browser's cookie)
//! and from an address that logged in before; the pollers pay for their
//! polling with their own addresses.

use crate::harness::{Client, Req, Res, actix_client, axum_client, demo};

const HOME: &str = "198.51.100.20:40000";
const ATTACKERS: [&str; 4] = ["203.0.113.21:1", "203.0.113.22:1", "203.0.113.23:1", "203.0.113.24:1"];
const POLLERS: [&str; 2] = ["203.0.113.25:1", "203.0.113.26:1"];
const BOB: &str = r#"{"username":"bob","password":"bob-pw"}"#;
const GUESS: &str = r#"{"username":"bob","password":"a-guess"}"#;

async fn login(client: &Client, from: &str, body: &str, headers: &[(&'static str, &str)]) -> Res {
    let mut all = vec![("content-type", "application/json".to_owned())];
    all.extend(headers.iter().map(|(n, v)| (*n, (*v).to_owned())));
    let req = Req {
        method: "POST",
        path: "/auth/login".into(),
        headers: all,
        body: body.as_bytes().to_vec(),
        peer: Some(from.parse().expect("test peer")),
    };
    client(req).await
}

fn retry_after(res: &Res) -> u64 {
    res.header("retry-after").and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The scenario on one app; every broken promise is a line.
async fn scenario(framework: &str, client: Client) -> Vec<String> {
    let mut failures = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            failures.push(format!("[{framework}] {what}"));
        }
    };
    let home = login(&client, HOME, BOB, &[]).await;
    check(home.status == 200, format!("the owner's first login: {}", home.status));
    let device = home.header("device-token").unwrap_or_default().to_owned();
    let cookie = home.header("set-cookie").unwrap_or_default();
    check(
        cookie
            == format!("device_token={device}; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=2592000"),
        format!("the device cookie: {cookie:?}"),
    );
    for i in 0..20 {
        let res = login(&client, ATTACKERS[i % 4], GUESS, &[]).await;
        check(res.status == 400, format!("guess {i}: {}", res.status));
    }
    // The pollers guess on: each attempt is refused by the per-user slow-down
    // or, when a slot opened, counted as a failure; either way it counts on
    // the poller's own username + address counter, so the sixth is refused
    // for the rest of the window.
    for poller in POLLERS {
        for i in 0..5 {
            let res = login(&client, poller, GUESS, &[]).await;
            check(matches!(res.status, 400 | 429), format!("poll {i} from {poller}: {}", res.status));
        }
        let res = login(&client, poller, BOB, &[]).await;
        check(
            res.status == 429 && retry_after(&res) >= 800,
            format!(
                "the sixth poll from {poller}: {} Retry-After {:?}",
                res.status,
                res.header("retry-after")
            ),
        );
    }
    // the owner: first try, from the device (header), the browser (cookie), home
    let res = login(&client, "192.0.2.30:1", BOB, &[("device-token", &device)]).await;
    check(res.status == 200, format!("the owner's device token (header): {}", res.status));
    let cookie_header = format!("theme=dark; device_token={device}");
    let res = login(&client, "192.0.2.31:1", BOB, &[("cookie", &cookie_header)]).await;
    check(res.status == 200, format!("the owner's device cookie: {}", res.status));
    let res = login(&client, HOME, BOB, &[]).await;
    check(res.status == 200, format!("the owner at home: {}", res.status));
    // a device token is no access token
    let res = client(Req {
        method: "GET",
        path: "/whoami".into(),
        headers: vec![("authorization", format!("Bearer {device}"))],
        body: Vec::new(),
        peer: None,
    })
    .await;
    check(res.status == 401, format!("the device token as a Bearer token: {}", res.status));
    failures
}

#[test]
fn the_owner_logs_in_through_a_targeted_lock_out_on_both_frameworks() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut failures = rt.block_on(async {
        let demo = demo("standard").await;
        scenario("axum", axum_client(&demo)).await
    });
    failures.extend(actix_rt::System::new().block_on(async {
        let demo = demo("standard").await;
        let client = actix_client(&demo).await;
        scenario("actix", client).await
    }));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What a scoped `tracing` subscriber wrote.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// axum served without `into_make_service_with_connect_info` knows no
/// client address: the login throttle says so (once), rather than
/// silently keying every client the same.
#[test]
fn an_axum_server_without_peer_addresses_says_so_once() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let demo = demo("standard").await;
            let client = axum_client(&demo);
            for _ in 0..3 {
                let req = Req {
                    method: "POST",
                    path: "/auth/login".into(),
                    headers: vec![("content-type", "application/json".into())],
                    body: BOB.as_bytes().to_vec(),
                    peer: None,
                };
                assert_eq!(client(req).await.status, 200);
            }
        })
    });
    let text = String::from_utf8(captured.0.lock().expect("captured").clone()).expect("utf-8");
    let warnings = text.matches("no client address").count();
    assert_eq!(warnings, 1, "{text}");
    assert!(text.contains("into_make_service_with_connect_info"), "{text}");
}
