//! Real servers for tests (feature `store-tests`): a `redis-server` (the
//! one CI started, `AUTH_TEST_REDIS_URL`, or one of the test's own), a
//! `redis-server` over TLS and a three-master Redis Cluster (plaintext or
//! TLS) of the test's own, and the PostgreSQL CI started
//! (`AUTH_TEST_POSTGRES_URL`).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
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

/// A `redis-server` of this test's own that speaks TLS only (`--port 0
/// --tls-port PORT`), with certificates made for it with the `openssl`
/// CLI in a temporary directory: a CA, a server certificate it signed
/// (`IP:127.0.0.1` and `DNS:localhost`), and a second, unrelated CA that
/// must be refused. The server is killed and the files removed on drop.
/// Without `redis-server` or `openssl`, [`RedisTlsServer::own`] prints
/// that the test is skipped and answers `None`, unless `CI=true`: then
/// the test fails.
///
/// ```no_run
/// let Some(redis) = auth_core::store_tests::RedisTlsServer::own() else { return };
/// let options = auth_core::RedisOptions::default().ca_file(redis.ca_file());
/// println!("testing against {} trusting {}", redis.url(), redis.ca_file().display());
/// ```
#[derive(Debug)]
pub struct RedisTlsServer {
    url: String,
    port: u16,
    certs: TestCerts,
    child: Child,
}

impl RedisTlsServer {
    /// A TLS server of this test's own on a free loopback port.
    ///
    /// # Panics
    /// If `redis-server` and `openssl` are there but the server does not
    /// come up.
    pub fn own() -> Option<Self> {
        ready(Self::start())
    }

    fn start() -> Result<Self, Setup> {
        let certs = TestCerts::make("tls")?;
        let port = free_port().ok_or_else(|| Setup::Missing("no free loopback port".into()))?;
        let mut args = vec!["--port".to_owned(), "0".to_owned(), "--tls-port".to_owned(), port.to_string()];
        args.extend(certs.server_args());
        let child = spawn_redis(&args, &certs.dir.0)?;
        let server = Self { url: format!("rediss://127.0.0.1:{port}/0"), port, certs, child };
        wait_listening(port)?;
        Ok(server)
    }

    /// `rediss://127.0.0.1:PORT/0`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server's TLS port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM file of the CA that signed the server's certificate.
    pub fn ca_file(&self) -> &Path {
        &self.certs.ca
    }

    /// The PEM file of a CA that did not sign it: trusting only this one,
    /// a client must refuse the server.
    pub fn other_ca_file(&self) -> &Path {
        &self.certs.other_ca
    }
}

impl Drop for RedisTlsServer {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A Redis Cluster of this test's own: three `redis-server` masters
/// (`--cluster-enabled yes`, no replicas, config files in a temporary
/// directory, free loopback ports) joined with `redis-cli --cluster
/// create`, ready when `CLUSTER INFO` says `cluster_state:ok` on every
/// node. [`RedisCluster::own_tls`] makes one that speaks TLS only, on the
/// cluster bus too, with certificates as [`RedisTlsServer`]'s. Killed, its
/// files removed, on drop. Without `redis-server`, `redis-cli` (or
/// `openssl` for TLS) it prints that the test is skipped and answers
/// `None`, unless `CI=true`: then the test fails.
///
/// ```no_run
/// let Some(cluster) = auth_core::store_tests::RedisCluster::own() else { return };
/// println!("testing against {} (nodes on {:?})", cluster.url(), cluster.ports());
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    url: String,
    ports: Vec<u16>,
    certs: Option<TestCerts>,
    children: Vec<Child>,
    _dir: TempDir,
}

impl RedisCluster {
    /// A plaintext cluster: `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`.
    ///
    /// # Panics
    /// If the programs are there but the cluster does not come up.
    pub fn own() -> Option<Self> {
        ready(Self::start(false))
    }

    /// A TLS cluster (`--tls-cluster yes`):
    /// `rediss-cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`, its
    /// certificates signed by [`ca_file`](Self::ca_file).
    ///
    /// # Panics
    /// If the programs are there but the cluster does not come up.
    pub fn own_tls() -> Option<Self> {
        ready(Self::start(true))
    }

    fn start(tls: bool) -> Result<Self, Setup> {
        let certs = if tls { Some(TestCerts::make("cluster-tls")?) } else { None };
        let dir = TempDir::new("cluster")?;
        let mut cluster =
            Self { url: String::new(), ports: Vec::new(), certs, children: Vec::new(), _dir: dir };
        for _ in 0..3 {
            let (Some(port), Some(bus)) = (free_port(), free_port()) else {
                return Err(Setup::Missing("no free loopback port".into()));
            };
            let (data_port, tls_port) =
                if tls { ("0".to_owned(), port.to_string()) } else { (port.to_string(), "0".to_owned()) };
            let mut args: Vec<String> = [
                "--port",
                &data_port,
                "--tls-port",
                &tls_port,
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &bus.to_string(),
                "--cluster-config-file",
                &format!("nodes-{port}.conf"),
                "--cluster-node-timeout",
                "5000",
            ]
            .map(str::to_owned)
            .to_vec();
            if let Some(certs) = &cluster.certs {
                args.extend(certs.server_args());
                args.extend(["--tls-cluster", "yes", "--tls-replication", "yes"].map(str::to_owned));
            }
            cluster.children.push(spawn_redis(&args, &cluster._dir.0)?);
            cluster.ports.push(port);
        }
        for port in &cluster.ports {
            wait_listening(*port)?;
        }
        let nodes: Vec<String> = cluster.ports.iter().map(|port| format!("127.0.0.1:{port}")).collect();
        let mut create = vec!["--cluster".to_owned(), "create".to_owned()];
        create.extend(nodes.iter().cloned());
        create.extend(["--cluster-replicas", "0", "--cluster-yes"].map(str::to_owned));
        cluster.cli(None, &create)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        for port in cluster.ports.clone() {
            while !cluster
                .cli(Some(port), &["CLUSTER".to_owned(), "INFO".to_owned()])?
                .contains("cluster_state:ok")
            {
                if Instant::now() > deadline {
                    return Err(Setup::Failed(format!("the cluster node on port {port} is not ok")));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let scheme = if tls { "rediss-cluster" } else { "redis-cluster" };
        cluster.url = format!("{scheme}://{}", nodes.join(","));
        Ok(cluster)
    }

    /// `redis-cluster://127.0.0.1:P1,...` or `rediss-cluster://127.0.0.1:P1,...`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The three masters' ports (TLS ports for a TLS cluster).
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The PEM file of the CA that signed a TLS cluster's certificates
    /// (`None` for a plaintext cluster).
    pub fn ca_file(&self) -> Option<&Path> {
        self.certs.as_ref().map(|certs| certs.ca.as_path())
    }

    /// `redis-cli` on one node (or with no `-p`, for `--cluster`), with
    /// the TLS flags a TLS cluster needs.
    fn cli(&self, port: Option<u16>, args: &[String]) -> Result<String, Setup> {
        let mut command = Command::new("redis-cli");
        command.args(["-h", "127.0.0.1"]);
        if let Some(port) = port {
            command.args(["-p", &port.to_string()]);
        }
        if let Some(certs) = &self.certs {
            command.arg("--tls").arg("--cacert").arg(&certs.ca);
        }
        let out = command.args(args).stdin(Stdio::null()).output().map_err(|e| missing("redis-cli", &e))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(Setup::Failed(format!(
                "redis-cli {args:?} failed: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            stop(child);
        }
    }
}

/// Why a test service is not there: a program or port is missing (the
/// test is skipped, or fails under `CI=true`), or it failed to start (the
/// test fails).
enum Setup {
    Missing(String),
    Failed(String),
}

fn ready<T>(started: Result<T, Setup>) -> Option<T> {
    match started {
        Ok(service) => Some(service),
        Err(Setup::Missing(why)) => {
            skip_or_fail(&why);
            None
        }
        Err(Setup::Failed(why)) => panic!("a test service did not start: {why}"),
    }
}

fn missing(program: &str, err: &std::io::Error) -> Setup {
    if err.kind() == std::io::ErrorKind::NotFound {
        Setup::Missing(format!("{program} is not installed"))
    } else {
        Setup::Failed(format!("cannot run {program}: {err}"))
    }
}

/// A loopback-only `redis-server` without persistence, in `dir`.
fn spawn_redis(args: &[String], dir: &Path) -> Result<Child, Setup> {
    Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| missing("redis-server", &e))
}

/// Waits until something accepts TCP connections on `port`.
fn wait_listening(port: u16) -> Result<(), Setup> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(Setup::Failed(format!("redis-server on port {port} did not start listening")))
}

fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A directory of its own under the system's temporary directory,
/// removed with everything in it on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(kind: &str) -> Result<Self, Setup> {
        let name = format!("auth-core-{kind}-{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path)
            .map_err(|e| Setup::Failed(format!("cannot create {}: {e}", path.display())))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA, a server certificate it signed for `127.0.0.1` and `localhost`
/// (usable as a client certificate on a TLS cluster bus too), and a
/// second, unrelated CA; EC P-256 keys, valid two days.
#[derive(Debug)]
struct TestCerts {
    ca: PathBuf,
    other_ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    dir: TempDir,
}

impl TestCerts {
    fn make(kind: &str) -> Result<Self, Setup> {
        let dir = TempDir::new(kind)?;
        let at = |name: &str| dir.0.join(name);
        let certs = Self {
            ca: at("ca.crt"),
            other_ca: at("other-ca.crt"),
            cert: at("server.crt"),
            key: at("server.key"),
            dir,
        };
        let ext = certs.dir.0.join("server.ext");
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n",
        )
        .map_err(|e| Setup::Failed(format!("cannot write {}: {e}", ext.display())))?;
        let ec = ["-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let ca = |name: &str, cn: &str| -> Result<(), Setup> {
            let mut args = vec!["req", "-x509", "-new", "-days", "2", "-subj", cn];
            args.extend(ec);
            args.extend([
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ]);
            openssl(
                &args,
                &[
                    ("-keyout", &at_key(&certs.dir.0, name)),
                    ("-out", &certs.dir.0.join(format!("{name}.crt"))),
                ],
            )
        };
        ca("ca", "/CN=auth-core test CA")?;
        ca("other-ca", "/CN=auth-core unrelated test CA")?;
        let csr = certs.dir.0.join("server.csr");
        let mut args = vec!["req", "-new", "-subj", "/CN=localhost"];
        args.extend(ec);
        openssl(&args, &[("-keyout", &certs.key), ("-out", &csr)])?;
        let serial = format!("0x{}", uuid::Uuid::new_v4().simple());
        openssl(
            &["x509", "-req", "-days", "2", "-set_serial", &serial],
            &[
                ("-in", &csr),
                ("-CA", &certs.ca),
                ("-CAkey", &at_key(&certs.dir.0, "ca")),
                ("-extfile", &ext),
                ("-out", &certs.cert),
            ],
        )?;
        Ok(certs)
    }

    /// The `redis-server` flags that serve this certificate (clients are
    /// not asked for one).
    fn server_args(&self) -> Vec<String> {
        let path = |p: &PathBuf| p.display().to_string();
        vec![
            "--tls-cert-file".into(),
            path(&self.cert),
            "--tls-key-file".into(),
            path(&self.key),
            "--tls-ca-cert-file".into(),
            path(&self.ca),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }
}

fn at_key(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.key"))
}

fn openssl(args: &[&str], paths: &[(&str, &Path)]) -> Result<(), Setup> {
    let mut command = Command::new("openssl");
    command.args(args);
    for (flag, path) in paths {
        command.arg(flag).arg(path);
    }
    let out = command.stdin(Stdio::null()).output().map_err(|e| missing("openssl", &e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Setup::Failed(format!("openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr))))
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
