//! The demo binary's resident memory under login floods, over real TCP on
//! 127.0.0.1: its `VmRSS` from `/proc/<pid>/status` (Linux only) before
//! and after a flood. The thresholds are memory sizes, never times.
//!
//! Each test starts its own demo process (it needs the process id, which
//! the servers of `tcp.rs` keep to themselves) and talks to it with a
//! minimal HTTP/1.1 client over keep-alive connections, so that the client
//! costs little next to the server on a small machine. Every answer is
//! checked: a server that answered nothing, or the wrong thing, cannot
//! pass by staying small.
//!
//! The demo trusts 127.0.0.1 as its reverse proxy (as `tcp.rs` starts it),
//! so a client names its address for the login throttle in
//! `X-Forwarded-For`.

#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::future::join_all;
use rand::Rng;
use rand::distributions::Alphanumeric;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::TcpStream;

use crate::tcp::{Server, start_with};

const MIB: u64 = 1024 * 1024;

/// The standard dialect's demo (users alice and bob) on `framework`, plus
/// `extra` flags, on a free port, behind the loopback "proxy" the tests
/// play (`--trusted-proxy 127.0.0.1`).
fn start(framework: &str, extra: &[&str]) -> Server {
    start_with("standard", framework, extra)
}

/// One answer to a login.
struct Answer {
    status: u16,
    /// `Retry-After` in seconds, if given.
    retry_after: Option<u64>,
    body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection to the demo (re-opened if the
/// server closes it).
struct Conn {
    addr: SocketAddr,
    io: Option<AsyncBufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Self {
        Self { addr, io: None }
    }

    /// `POST /auth/login` with a JSON body, as a proxy forwarding for `client`.
    async fn login(&mut self, client: &str, username: &str, password: &str) -> Answer {
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        let request = format!(
            "POST /auth/login HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             x-forwarded-for: {client}\r\ncontent-length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        // A connection the server closed while idle fails before any answer:
        // open a new one and send again.
        for _ in 0..2 {
            if let Some(answer) = self.exchange(request.as_bytes()).await {
                return answer;
            }
            self.io = None;
        }
        panic!("the demo closed two connections in a row without answering");
    }

    /// Sends `request` and reads the answer; `None` if the connection was
    /// closed before the answer began.
    async fn exchange(&mut self, request: &[u8]) -> Option<Answer> {
        if self.io.is_none() {
            let stream = TcpStream::connect(self.addr).await.expect("connect to the demo");
            stream.set_nodelay(true).expect("TCP_NODELAY");
            self.io = Some(AsyncBufReader::new(stream));
        }
        let io = self.io.as_mut()?;
        io.get_mut().write_all(request).await.ok()?;
        let mut line = String::new();
        if io.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let status = line.split(' ').nth(1).and_then(|s| s.parse().ok());
        let status = status.unwrap_or_else(|| panic!("an HTTP/1.1 status line, got {line:?}"));
        let (mut length, mut retry_after, mut close) = (None, None, false);
        loop {
            line.clear();
            io.read_line(&mut line).await.expect("a header line");
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').expect("a `name: value` header");
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = Some(value.parse::<usize>().expect("a Content-Length")),
                "retry-after" => retry_after = value.parse().ok(),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "transfer-encoding" => {
                    panic!("a chunked login answer ({value}): this client reads Content-Length only")
                }
                _ => {}
            }
        }
        let mut body = vec![0; length.expect("a Content-Length header")];
        io.read_exact(&mut body).await.expect("the body");
        if close {
            self.io = None;
        }
        Some(Answer { status, retry_after, body })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// Logs alice in as `client`, retrying after `Retry-After` (plus a random
/// part of a second, so that the retries spread) when the throttle (429)
/// or the full hashing queue (503) refuses, as a well-behaved client
/// does. The number of attempts it took.
async fn log_in_until_accepted(addr: SocketAddr, client: String) -> u32 {
    let mut conn = Conn::new(addr);
    for attempt in 1..=100 {
        let answer = conn.login(&client, "alice", "alice-pw").await;
        match answer.status {
            200 => {
                let body: serde_json::Value =
                    serde_json::from_slice(&answer.body).expect("a JSON login answer");
                assert!(body["access_token"].is_string(), "{client}: a 200 without a token: {body}");
                return attempt;
            }
            429 | 503 => {
                let wait = answer.retry_after.unwrap_or(1).min(5);
                let jitter = rand::thread_rng().gen_range(0..500);
                tokio::time::sleep(Duration::from_secs(wait) + Duration::from_millis(jitter)).await;
            }
            other => panic!("{client}: login answered {other}: {}", String::from_utf8_lossy(&answer.body)),
        }
    }
    panic!("{client}: no 200 in 100 attempts");
}

/// 300 concurrent clients log the same user in (the right password), each
/// from its own address so that only the per-user rule refuses some of
/// them for a moment (they retry after `Retry-After`): 300 argon2id
/// verifies (19 MiB each) must not leave the demo 300 × 19 MiB, or even a
/// few times 19 MiB, bigger.
///
/// The baseline is taken after a warm-up of a few rounds of logins, as
/// many at once as the machine has CPUs (more than the hashing pool has
/// threads): every hashing thread then holds the one argon2 memory block
/// it keeps and reuses for good, and the allocator and the runtime have
/// grown to their working size. What is measured is what the flood adds
/// on top of that fixed cost: growth that would scale with the number of
/// logins, or with how many run at once. The limit is under two blocks:
/// a hashing thread the warm-up missed would still fit with its one.
/// `--refusal-delay 0s` answers the refusals at once (the retries wait
/// for `Retry-After` anyway).
fn concurrent_logins_leave_memory_flat(framework: &str) {
    const LOGINS: usize = 300;
    const LIMIT: u64 = 32 * MIB;
    let demo = start(framework, &["--refusal-delay", "0s"]);
    let rt = runtime();
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    for round in 0..3 {
        let warm_up = (0..cpus).map(|i| log_in_until_accepted(demo.addr, format!("10.0.{round}.{}", i + 1)));
        rt.block_on(join_all(warm_up));
    }
    let before = demo.rss();
    let clients = (0..LOGINS).map(|i| format!("10.1.{}.{}", i / 200, i % 200 + 1));
    let attempts = rt.block_on(join_all(clients.map(|client| log_in_until_accepted(demo.addr, client))));
    let after = demo.rss();
    let refused: u32 = attempts.iter().map(|a| a - 1).sum();
    eprintln!(
        "memory/{framework}: {LOGINS} concurrent logins ({refused} refusals retried): \
         VmRSS {:.1} -> {:.1} MiB (+{:.1} MiB)",
        mib(before),
        mib(after),
        mib(after.saturating_sub(before))
    );
    assert_eq!(attempts.len(), LOGINS);
    assert!(
        after < before + LIMIT,
        "{framework}: {LOGINS} concurrent logins grew VmRSS from {:.1} to {:.1} MiB (limit +{} MiB)",
        mib(before),
        mib(after),
        LIMIT / MIB
    );
}

#[test]
fn concurrent_logins_of_one_user_leave_memory_flat_on_axum() {
    concurrent_logins_leave_memory_flat("axum");
}

#[test]
fn concurrent_logins_of_one_user_leave_memory_flat_on_actix() {
    concurrent_logins_leave_memory_flat("actix");
}

/// A random username, as a spraying client makes up.
fn random_username() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(16).map(char::from).collect()
}

/// 200,000 logins with made-up usernames from one address that the
/// throttle already refuses must not grow the demo by more than 20 MiB:
/// an attempt the per-address rule refuses must leave nothing behind (no
/// per-username or username + address counter for each made-up name).
///
/// The demo's default per-address rule lets 100 failed logins through per
/// window, then slows the address down (1 s, 2 s, 4 s … between the
/// attempts it lets through). The warm-up spends those 100 failures (each
/// costs a hash) until the first 429, so the flood is refused; the few the
/// slow-down lets through answer 400. `--refusal-delay 0s` answers each
/// refusal at once, so the flood takes seconds, not 200,000 × 250 ms.
/// The throttle is the framework-neutral core's, so one framework suffices.
#[test]
fn refused_logins_from_one_address_leave_memory_flat() {
    const FLOOD: usize = 200_000;
    const CONNECTIONS: usize = 8;
    const LIMIT: u64 = 20 * MIB;
    const CLIENT: &str = "198.51.100.7";
    let demo = start("axum", &["--refusal-delay", "0s"]);
    let rt = runtime();
    let failures = rt.block_on(async {
        let mut conn = Conn::new(demo.addr);
        let mut failures = 0;
        loop {
            let answer = conn.login(CLIENT, &random_username(), "wrong-password").await;
            match answer.status {
                400 => failures += 1,
                429 => break failures,
                // the hashing queue was full: not counted, try again
                503 => {}
                other => panic!("warm-up login answered {other}: {}", String::from_utf8_lossy(&answer.body)),
            }
            assert!(failures <= 200, "still no 429 after {failures} failed logins from one address");
        }
    });
    assert!(failures >= 100, "refused after {failures} failures, not the default 100");
    let before = demo.rss();
    let (addr, per_connection) = (demo.addr, FLOOD / CONNECTIONS);
    let counts = rt.block_on(join_all((0..CONNECTIONS).map(|_| async move {
        let mut conn = Conn::new(addr);
        let (mut refused, mut let_through) = (0usize, 0usize);
        for _ in 0..per_connection {
            let answer = conn.login(CLIENT, &random_username(), "wrong-password").await;
            match answer.status {
                429 => refused += 1,
                400 => let_through += 1,
                other => panic!("flood login answered {other}: {}", String::from_utf8_lossy(&answer.body)),
            }
        }
        (refused, let_through)
    })));
    let after = demo.rss();
    let refused: usize = counts.iter().map(|c| c.0).sum();
    let let_through: usize = counts.iter().map(|c| c.1).sum();
    eprintln!(
        "memory/refused: {failures} failures, then {refused} refused and {let_through} let through: \
         VmRSS {:.1} -> {:.1} MiB (+{:.1} MiB)",
        mib(before),
        mib(after),
        mib(after.saturating_sub(before))
    );
    assert_eq!(refused + let_through, FLOOD);
    // The slow-down doubles its delay each time: 20 let through would take
    // 2^20 s, so at most a handful get through in a test's lifetime.
    assert!(let_through <= 20, "{let_through} of the flood let through past the per-address limit");
    assert!(
        after < before + LIMIT,
        "{FLOOD} refused logins grew VmRSS from {:.1} to {:.1} MiB (limit +{} MiB)",
        mib(before),
        mib(after),
        LIMIT / MIB
    );
}
