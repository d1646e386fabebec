//! Operations: the axum quickstart's login routes and `/me`, with Prometheus
//! metrics at http://127.0.0.1:9100/metrics and the audit events as JSON lines
//! on stderr. Run: `JWT_SECRET=$(openssl rand -base64 32) cargo run`
//! (here: `cargo run --example axum_metrics`).
use auth_tower::auth_core::{audit, metrics};
use auth_tower::prelude::*;
use axum::{Json, Router, routing::get};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // the audit trail as JSON lines on stderr; every other event as the usual log
    let audit_lines = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stderr)
        .with_filter(Targets::new().with_target(audit::TARGET, LevelFilter::INFO));
    let log = tracing_subscriber::fmt::layer().with_filter(filter_fn(|m| m.target() != audit::TARGET));
    tracing_subscriber::registry().with(audit_lines).with(log).init();
    // the metrics: auth-core records, this exporter serves them (histograms with buckets)
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), metrics::LATENCY_BUCKETS)?
        .with_http_listener(([127, 0, 0, 1], 9100))
        .install()?;
    metrics::describe(); // the `# HELP` lines
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "alice"), "wonderland").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let authority = Authority::hs256(secret)?.users(users).build();
    let me = |id: Authenticated| async move { Json(id.summary()) };
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(authority.layer())
        .nest_service("/auth", authority.routes(Standard));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3005").await?;
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
    Ok(())
}
