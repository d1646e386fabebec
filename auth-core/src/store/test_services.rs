//! Real servers for tests (feature `store-tests`): a `redis-server` (the
//! one CI started, `AUTH_TEST_REDIS_URL`, or one of the test's own) and
//! the PostgreSQL CI started (`AUTH_TEST_POSTGRES_URL`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A Redis server a test can use: the shared one CI exports in
/// `AUTH_TEST_REDIS_URL`, or a `redis-server` from `PATH` started for the
/// test on a free loopback port with no persistence (stopped on drop).
/// Without either, [`RedisServer::shared`] and [`RedisServer::own`] print
/// that the test is skipped and answer `None`, unless `CI=true`: then a
/// missing Redis fails the test.
///
/// ```no_run
/// let Some(redis) = auth_core::store_tests::RedisServer::shared() else { return };
/// println!("testing against {}", redis.url());
/// ```
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// CI's server if there is one, else a server of this test's own.
    pub fn shared() -> Option<Self> {
        match std::env::var("AUTH_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(Self { url, port: 0, child: None }),
            _ => Self::own(),
        }
    }

    /// A server of this test's own (needed to stop and restart it).
    pub fn own() -> Option<Self> {
        let Some(port) = free_port() else {
            skip_or_fail("no free loopback port for redis-server");
            return None;
        };
        let mut server = Self { url: format!("redis://127.0.0.1:{port}/0"), port, child: None };
        match server.start() {
            Ok(()) => Some(server),
            Err(why) => {
                skip_or_fail(&why);
                None
            }
        }
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills this test's own server (SIGKILL: no goodbye to clients).
    ///
    /// # Panics
    /// On CI's shared server, which a test must not stop.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("only a test's own Redis can be stopped");
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts this test's own server again on the same port.
    ///
    /// # Panics
    /// If it cannot start.
    pub fn restart(&mut self) {
        assert!(self.port != 0, "only a test's own Redis can be restarted");
        self.start().expect("restart redis-server");
    }

    fn start(&mut self) -> Result<(), String> {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server ({e}); install it or set AUTH_TEST_REDIS_URL"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!("redis-server on port {} did not answer PING", self.port))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The PostgreSQL server CI started (`AUTH_TEST_POSTGRES_URL`, a
/// `postgres://` URL of a throw-away database). Without it, prints that
/// the test is skipped and answers `None`, unless `CI=true`: then the
/// test fails.
///
/// ```no_run
/// let Some(url) = auth_core::store_tests::postgres_url() else { return };
/// println!("testing against {url}");
/// ```
pub fn postgres_url() -> Option<String> {
    match std::env::var("AUTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            skip_or_fail("AUTH_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL and sets it)");
            None
        }
    }
}

pub(crate) fn free_port() -> Option<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").ok()?;
    listener.local_addr().ok().map(|a| a.port())
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("+PONG")
}

pub(crate) fn skip_or_fail(why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and a service this test needs is missing: {why}");
    }
    eprintln!("SKIPPED (service missing): {why}");
}
