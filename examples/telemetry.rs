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

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Mutex;

use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, filter_fn};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// The target of auth-core's audit events (`tokenauth::audit`): they go
/// to `--audit-log` only, never to the human-readable log on stderr.
pub const AUDIT_TARGET: &str = auth_core::audit::TARGET;

/// Where `--audit-log PATH` writes: `-` is stderr; any other PATH is
/// opened for appending (created if missing). Every event is one JSON line
/// written straight to the file (no buffering), so the file can be tailed
/// while the server runs.
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
    Ok(BoxMakeWriter::new(Mutex::new(file)))
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
/// exporter binds the port itself and does not say which port it got).
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
/// (`GET /metrics`, Prometheus' text format), bound before this returns,
/// then auth-core's metric descriptions. Histograms named `*_seconds` are
/// exported as Prometheus histograms with auth-core's latency buckets.
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
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), auth_core::metrics::LATENCY_BUCKETS)
        .and_then(PrometheusBuilder::install)
        .map_err(|e| match e {
            BuildError::FailedToCreateHTTPListener(e) => format!("--metrics: cannot listen on {addr}: {e}"),
            e => format!("--metrics: {e}"),
        })?;
    auth_core::metrics::describe();
    Ok(())
}
