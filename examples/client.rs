//! A client of the demo server, in any dialect, through the client layer
//! (`auth_tower::client::AuthClientLayer` over hyper-util's client): it
//! logs in when first needed, attaches the dialect's credential, refreshes
//! before expiry and after a 401, one refresh for all concurrent requests.
//!
//! ```text
//! cargo run --example demo -- --dialect echome --access-ttl 2s &
//! cargo run --example client -- --dialect echome --server http://127.0.0.1:3000 \
//!     --user demo:demo-password --requests 200 --concurrency 10 --pace 100
//! ```
//!
//! Prints a line for each login and refresh and ends with
//! `requests=N ok=N failed=0 logins=L refreshes=R`; exits 1 if a request
//! failed.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use auth_core::agent::{Agent, AgentEvent, ClientDialect, FileTokenStore};
use auth_tower::client::AuthClientLayer;
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt};

/// Sends requests to the demo's protected sample route through the client layer.
/// (No `Debug`: `--user` holds a password.)
#[derive(Parser)]
#[command(name = "client")]
struct Args {
    /// The dialect: standard, echome, datarhei, sachet, keytoken or drf.
    #[arg(long, default_value = "standard")]
    dialect: String,
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    server: String,
    /// The account, NAME:PASSWORD.
    #[arg(long, value_name = "NAME:PASSWORD", default_value = "demo:demo-password")]
    user: String,
    /// The client id (keytoken).
    #[arg(long, value_name = "ID", default_value = "demo")]
    client: String,
    /// How many requests to send.
    #[arg(long, default_value_t = 10)]
    requests: usize,
    /// How many at a time.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Milliseconds each worker waits between its requests.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pace: u64,
    /// Renew this long before expiry (2s, 30s; at most half a token's life).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_margin)]
    refresh_margin: Duration,
    /// Keep the tokens in this file (mode 0600) so the next run goes on
    /// without logging in.
    #[arg(long, value_name = "PATH")]
    token_file: Option<std::path::PathBuf>,
}

fn parse_margin(value: &str) -> Result<Duration, String> {
    auth_core::parse_duration(value).ok_or_else(|| format!("`{value}` is not a duration like 2s or 30s"))
}

/// The demo's protected sample route of each dialect: method, path, body.
fn sample_route(dialect: &ClientDialect, username: &str) -> (&'static str, String, Bytes) {
    match dialect {
        ClientDialect::Echome => ("GET", "/api/v1/vm/vm/describe/all".into(), Bytes::new()),
        ClientDialect::Sachet => ("GET", format!("/users/{username}"), Bytes::new()),
        ClientDialect::Keytoken { .. } => {
            ("PATCH", "/users".into(), serde_json::json!({"email": username}).to_string().into())
        }
        ClientDialect::Drf => ("POST", "/protected-url/".into(), Bytes::new()),
        _ => ("GET", "/whoami".into(), Bytes::new()),
    }
}

fn describe(event: &AgentEvent) -> String {
    let life =
        |d: &Option<Duration>| d.map_or_else(|| "unknown".to_owned(), |d| format!("{:.1}s", d.as_secs_f64()));
    match event {
        AgentEvent::LoggedIn { expires_in } => {
            format!("login: ok, access token expires in {}", life(expires_in))
        }
        AgentEvent::Refreshed { expires_in } => {
            format!("refresh: ok, access token expires in {}", life(expires_in))
        }
        AgentEvent::Restored { expires_in } => {
            format!("restored: saved tokens, access token expires in {}", life(expires_in))
        }
        AgentEvent::RefreshRefused { status } => format!("refresh: refused ({status}), logging in again"),
        other => format!("{other:?}"),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some((username, password)) = args.user.split_once(':') else {
        eprintln!("client: --user must be NAME:PASSWORD");
        return ExitCode::from(2);
    };
    let dialect = match ClientDialect::parse(&args.dialect, Some(&args.client)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("client: --dialect: {e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = Agent::builder(dialect.clone(), args.server.clone(), username, password)
        .refresh_margin(Some(args.refresh_margin))
        .on_event(|event| println!("{}", describe(event)));
    if let Some(path) = &args.token_file {
        builder = builder.store(Arc::new(FileTokenStore::new(path)));
    }
    let agent = match builder.build() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("client: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("client: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (ok, failed) = rt.block_on(run(&args, agent.clone(), sample_route(&dialect, username)));
    println!(
        "requests={} ok={ok} failed={failed} logins={} refreshes={}",
        args.requests,
        agent.logins(),
        agent.refreshes()
    );
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

async fn run(args: &Args, agent: Agent, (method, path, body): (&'static str, String, Bytes)) -> (u64, u64) {
    let http = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let api = ServiceBuilder::new().layer(AuthClientLayer::new(agent)).service(http);
    let url = format!("{}{path}", args.server.trim_end_matches('/'));
    let next = Arc::new(AtomicUsize::new(0));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers = (0..args.concurrency.max(1)).map(|_| {
        let (mut api, url, body, next, ok, failed) =
            (api.clone(), url.clone(), body.clone(), next.clone(), ok.clone(), failed.clone());
        let (total, pace) = (args.requests, Duration::from_millis(args.pace));
        tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let mut req = http::Request::builder().method(method).uri(&url);
                if !body.is_empty() {
                    req = req.header(http::header::CONTENT_TYPE, "application/json");
                }
                let outcome = match req.body(Full::new(body.clone())) {
                    Ok(req) => match api.ready().await {
                        Ok(ready) => ready.call(req).await,
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e.into()),
                };
                match outcome {
                    Ok(res) if res.status().is_success() => {
                        // read the answer, as a real client would
                        let _ = res.into_body().collect().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(res) => {
                        eprintln!("client: {method} {url}: {}", res.status());
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("client: {method} {url}: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if !pace.is_zero() {
                    tokio::time::sleep(pace).await;
                }
            }
        })
    });
    for worker in workers.collect::<Vec<_>>() {
        if worker.await.is_err() {
            failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}
