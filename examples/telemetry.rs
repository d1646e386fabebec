//! The demo's logs, audit log and metrics: the human-readable log on
//! stderr, `--audit-log PATH` (auth-core's audit events as JSON lines) and
//! `--metrics HOST:PORT` (Prometheus' text format at `/metrics`).
//!
//! ```
//! use demo_app::telemetry;
//! // `-`: the audit events on stderr.
//! let _sink = telemetry::open_audit_log(std::path::Path::new("-")).unwrap();
//! assert_eq!(
//!     telemetry::metrics_addr("no-port").unwrap_err(),
//!     (2, "--metrics `no-port` is not a HOST:PORT this machine can listen on".to_owned())
//! );
//! assert_eq!(telemetry::metrics_addr("127.0.0.1:0").unwrap_err().0, 2);
//! assert_eq!(telemetry::metrics_addr("127.0.0.1:9100").unwrap().port(), 9100);
//! ```

use std::fs::File;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The target of auth-core's audit events (`tokenauth::audit`): they go
/// to `--audit-log` only, never to the human-readable log on stderr.
pub const AUDIT_TARGET: &str = auth_core::audit::TARGET;

/// Where `--audit-log PATH` writes: `-` is stderr; any other PATH is
/// opened for appending (created if missing). Every event is one JSON line
/// written straight to the file (no buffering), so the file can be tailed
/// while the server runs. A write that fails (a full disk) is said on
/// stderr, `--audit-log: cannot write to PATH: ...; audit events are being
/// lost`, once, and again after the file has taken an event since: events
/// are never lost in silence.
///
/// # Errors
///
/// `--audit-log: cannot open PATH: ...` when the file cannot be opened.
pub fn open_audit_log(path: &Path) -> Result<BoxMakeWriter, String> {
    if path.as_os_str() == "-" {
        return Ok(BoxMakeWriter::new(std::io::stderr));
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    // readable by its owner only: a username field may hold what a user
    // mistyped, a password among it
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(|e| format!("--audit-log: cannot open {}: {e}", path.display()))?;
    // One `write_all` per event under the lock: lines never interleave.
    Ok(BoxMakeWriter::new(AuditFile {
        file: Mutex::new(file),
        path: path.display().to_string(),
        failing: AtomicBool::new(false),
    }))
}

/// The audit file, and whether its last write failed.
struct AuditFile {
    file: Mutex<File>,
    path: String,
    failing: AtomicBool,
}

impl AuditFile {
    /// What to say on stderr of an event's write: when writes start
    /// failing, and when they work again (nothing while they keep failing).
    fn observe(&self, written: Result<(), &io::Error>) -> Option<String> {
        match written {
            Err(e) if !self.failing.swap(true, Ordering::Relaxed) => {
                Some(format!("--audit-log: cannot write to {}: {e}; audit events are being lost", self.path))
            }
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                Some(format!("--audit-log: writing to {} again", self.path))
            }
            _ => None,
        }
    }

    /// Says on stderr what [`observe`](Self::observe) finds to say.
    fn say(&self, written: Result<(), &io::Error>) {
        if let Some(said) = self.observe(written) {
            let _ = writeln!(io::stderr(), "{said}");
        }
    }
}

impl<'a> MakeWriter<'a> for AuditFile {
    type Writer = AuditLine<'a>;

    fn make_writer(&'a self) -> AuditLine<'a> {
        // a panic while writing leaves at worst a cut line: the file is usable
        AuditLine { file: self.file.lock().unwrap_or_else(PoisonError::into_inner), owner: self }
    }
}

/// One event's write, under the file's lock.
struct AuditLine<'a> {
    file: MutexGuard<'a, File>,
    owner: &'a AuditFile,
}

impl Write for AuditLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.file.write(buf);
        // an interrupted write is retried by the caller: nothing lost yet
        if let Err(e) = &written
            && e.kind() != io::ErrorKind::Interrupted
        {
            self.owner.say(Err(e));
        }
        written
    }

    /// One event, judged whole (the formatter writes each event with one
    /// `write_all`).
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let written = self.file.write_all(buf);
        self.owner.say(written.as_ref().copied());
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Installs the process's tracing subscriber: warnings and notices (INFO
/// and up) in human-readable lines on stderr, without the audit events;
/// with `audit`, the audit events (target [`AUDIT_TARGET`], every level)
/// as JSON lines there, one object per event with the timestamp, level,
/// target and the event's fields at the top level, e.g.
/// `{"timestamp":"...","level":"INFO","event":"login","outcome":"ok",...,"target":"tokenauth::audit"}`.
///
/// Call it once, from `main`.
pub fn init_tracing(audit: Option<BoxMakeWriter>) {
    let human = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_filter(
        filter_fn(|meta| *meta.level() <= LevelFilter::INFO && meta.target() != AUDIT_TARGET)
            .with_max_level_hint(LevelFilter::INFO),
    );
    let audit = audit.map(|writer| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_target(true)
            .with_writer(writer)
            .with_filter(filter_fn(|meta| meta.target() == AUDIT_TARGET))
    });
    tracing_subscriber::registry().with(human).with(audit).init();
}

/// The address of `--metrics HOST:PORT`: exit status 2 for one that is
/// not an address this machine can listen on, or that has port 0 (the
/// demo would not say which port it got).
///
/// # Errors
///
/// `(2, message)`, a usage error.
pub fn metrics_addr(spec: &str) -> Result<SocketAddr, (u8, String)> {
    let Some(addr) = spec.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return Err((2, format!("--metrics `{spec}` is not a HOST:PORT this machine can listen on")));
    };
    if addr.port() == 0 {
        return Err((2, format!("--metrics `{spec}`: port 0 is not supported, give a free port")));
    }
    Ok(addr)
}

/// Installs the Prometheus recorder and its HTTP listener on `addr`
/// (`GET /metrics`, Prometheus' text format; any other path is 404, any
/// other method 405), bound before this returns, then auth-core's metric
/// descriptions. Histograms named `*_seconds` are exported as Prometheus
/// histograms with auth-core's latency buckets.
///
/// Call it once, from `main`, outside any async runtime: the listener
/// then runs on a runtime of its own, on a thread of its own, whichever
/// framework serves the demo.
///
/// # Errors
///
/// `--metrics: cannot listen on ADDR: ...` when the port cannot be bound
/// (exit status 1), or the recorder cannot be installed.
pub fn install_metrics(addr: SocketAddr) -> Result<(), String> {
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| format!("--metrics: cannot listen on {addr}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("--metrics: cannot start the exporter's runtime: {e}"))?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), auth_core::metrics::LATENCY_BUCKETS)
        .and_then(PrometheusBuilder::install_recorder)
        .map_err(|e| format!("--metrics: {e}"))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || runtime.block_on(serve_metrics(listener, handle)))
        .map_err(|e| format!("--metrics: cannot start the exporter's thread: {e}"))?;
    auth_core::metrics::describe();
    Ok(())
}

/// Serves `GET /metrics` on `listener` for as long as the process runs,
/// and drains the histograms every five seconds (the exporter's upkeep).
async fn serve_metrics(listener: std::net::TcpListener, handle: PrometheusHandle) {
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    let render = move || {
        let text = handle.render();
        async move { ([(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text) }
    };
    let app = axum::Router::new().route("/metrics", axum::routing::get(render));
    let served = match tokio::net::TcpListener::from_std(listener) {
        Ok(listener) => axum::serve(listener, app).await,
        Err(e) => Err(e),
    };
    if let Err(e) = served {
        eprintln!("demo: --metrics: the exporter stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_audit_file_is_said_once_and_its_recovery_too() {
        let Ok(file) = File::options().append(true).open("/dev/full") else {
            return eprintln!("SKIPPED: no /dev/full (a device every write to fails) on this system");
        };
        let audit =
            AuditFile { file: Mutex::new(file), path: "/dev/full".into(), failing: AtomicBool::new(false) };
        // a real failed write: ENOSPC
        let mut line = audit.make_writer();
        assert!(line.write_all(b"{}\n").is_err());
        drop(line);
        assert!(audit.failing.load(Ordering::Relaxed), "the failure was seen");
        let enospc = io::Error::from_raw_os_error(28);
        assert_eq!(audit.observe(Err(&enospc)), None, "said once while writes keep failing");
        let again = audit.observe(Ok(())).expect("recovery said");
        assert_eq!(again, "--audit-log: writing to /dev/full again");
        assert_eq!(audit.observe(Ok(())), None);
        let said = audit.observe(Err(&enospc)).expect("a new failure said again");
        assert!(said.starts_with("--audit-log: cannot write to /dev/full: "), "{said}");
        assert!(said.ends_with("; audit events are being lost"), "{said}");
    }
}
