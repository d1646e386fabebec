//! Every dialect's table against the demo binary over real TCP, on both
//! frameworks: the binary `cargo run --example demo` runs, started with
//! the same flags the in-process tables use.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;

use crate::harness::{Client, Req, Res, demo_args, http1_request, read_http1, replay};

/// The demo binary next to this test binary (`target/<profile>/examples/demo`),
/// built by `cargo test --workspace` with everything else.
fn demo_binary() -> PathBuf {
    example_binary("demo")
}

/// An example binary of the workspace (`target/<profile>/examples/NAME`).
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path = profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run the README's test command (cargo test --workspace), which builds it",
        path.display()
    );
    path
}

/// A running demo server, killed (SIGKILL) when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    /// What the demo wrote to stderr so far (also echoed to the test's).
    stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// The demo's stderr lines that contain `text`.
    pub(crate) fn logged(&self, text: &str) -> usize {
        self.stderr.lock().expect("stderr lines").iter().filter(|l| l.contains(text)).count()
    }

    /// The demo process's resident set size in bytes (`VmRSS` of
    /// `/proc/PID/status`; Linux).
    pub(crate) fn rss(&self) -> u64 {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no VmRSS line in kB in {path}"));
        kib * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dialect: &str, framework: &str) -> Server {
    start_with(dialect, framework, &[])
}

/// The demo for `dialect` on `framework` with the tables' users and
/// secret, plus `extra` flags, on a free port.
pub(crate) fn start_with(dialect: &str, framework: &str, extra: &[&str]) -> Server {
    let mut args = demo_args(dialect);
    args.remove(0); // the program name
    start_args(args, framework, extra)
}

/// The demo with `args` (no program name) on `framework`, plus `extra`
/// flags, on a free port.
pub(crate) fn start_args(mut args: Vec<String>, framework: &str, extra: &[&str]) -> Server {
    args.extend(["--framework".into(), framework.into(), "--addr".into(), "127.0.0.1:0".into()]);
    // The test client plays a reverse proxy on loopback: it names a case's
    // client address in X-Forwarded-For, as nginx would.
    args.extend(["--trusted-proxy".into(), "127.0.0.1".into()]);
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let mut child = Command::new(demo_binary())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = stderr.clone();
    let err_pipe = child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
            eprintln!("demo: {line}");
            sink.lock().expect("stderr lines").push(line);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("listening on http://") {
                let _ = tx.send(addr.to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("demo prints `listening on http://ADDR`");
    Server { child, addr: addr.parse().expect("a socket address"), stderr }
}

/// Sends `req` to the demo at `addr` over a new TCP connection.
pub(crate) async fn send(addr: SocketAddr, mut req: Req) -> Res {
    if let Some(peer) = req.peer {
        // a proxy appends the address it saw to whatever the client sent
        match req.headers.iter_mut().rev().find(|(n, _)| *n == "x-forwarded-for") {
            Some((_, value)) => *value = format!("{value}, {}", peer.ip()),
            None => req.headers.push(("x-forwarded-for", peer.ip().to_string())),
        }
    }
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect to the demo");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    let request = http1_request(&req)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from(req.body)))
        .expect("request");
    read_http1(sender.send_request(request).await.expect("response")).await
}

fn run_over_tcp(dialect: &str, cases: &[crate::table::Case]) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut failures = Vec::new();
    for framework in ["axum", "actix"] {
        let server = start(dialect, framework);
        let addr = server.addr;
        let client: Client = Rc::new(move |req| Box::pin(send(addr, req)));
        failures.extend(rt.block_on(replay(&format!("tcp/{framework}/{dialect}"), client, cases)));
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_dialect_over_tcp_on_both_frameworks() {
    run_over_tcp("standard", &crate::table::cases());
    for (dialect, cases) in crate::dialects::all() {
        run_over_tcp(dialect, &cases);
    }
}

#[test]
fn the_demo_configuration_prints_no_secret_password_or_store_url() {
    use clap::Parser as _;
    let secret = "a-secret-of-at-least-thirty-two-bytes-long";
    let config = demo_app::DemoConfig::try_parse_from([
        "demo",
        "--secret",
        secret,
        "--user",
        "ann:hunter2-password:admin",
        "--store",
        "redis://:store-password@127.0.0.1:6379/0",
    ])
    .expect("valid flags");
    let printed = format!("{config:?}");
    for leaked in [secret, "hunter2-password", "store-password"] {
        assert!(!printed.contains(leaked), "{leaked} in {printed}");
    }
    // what is not secret is still there
    assert!(printed.contains("ann") && printed.contains("redis"), "{printed}");
}

#[test]
fn demo_cli_refuses_bad_options_in_one_line_and_lists_them_in_help() {
    for bad in [
        &["--framework", "rocket"][..],
        &["--dialect", "oauth1"],
        &["--secret", "too-short"],
        &["--user", "no-password"],
        &["--access-ttl", "soon"],
        &["--addr", "not-an-address"],
        &["--trusted-proxy", "10.0.0.0/99"],
        &["--store", "mongodb://localhost"],
        &["--store-prefix", "{braces}"],
        &["--store-timeout", "soon"],
        &["--leeway", "soon"],
        &["--no-such-flag"],
    ] {
        let out = Command::new(demo_binary()).args(bad).output().expect("demo runs");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{bad:?}: {stderr}");
        assert!(stderr.starts_with("demo: "), "{bad:?}: {stderr}");
    }
    let help = Command::new(demo_binary()).arg("--help").output().expect("demo runs");
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--framework",
        "--dialect",
        "--addr",
        "--user",
        "--client",
        "--secret",
        "--access-ttl",
        "--refresh-ttl",
        "--refresh-window",
        "--trusted-proxy",
        "--store",
        "--store-prefix",
        "--store-timeout",
        "--leeway",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}:\n{text}");
    }
}
