//! `grpc-bench [--rounds N] [--secs D] [--tasks T] [--connections C]`:
//! unary `WhoAmI` calls per second against the demo's gRPC service
//! (`demo_app::grpc`), in process, served three ways:
//!
//! | variant | in front of the service |
//! |---|---|
//! | `layer` | `AuthLayer::new(demo.guard)`, as `demo --grpc` serves it: every call's token verified (signature, claims, the memory store's revocation check), the answer wrapped to end at the token's expiry |
//! | `layer-no-expiry` | the same layer with `grpc_streams_outlive_tokens()`: the verification without the answer's expiry timer |
//! | `none` | no authentication: a layer that puts one fixed identity in every call's extensions, so the handler does the same work |
//!
//! The servers run on one tokio runtime with one worker thread, the
//! client on another (the 2-core machine's other core): `T` tasks each
//! keep one call in flight over `C` h2c connections, sending the same
//! `authorization: Bearer` header to all. The variants alternate
//! `none layer layer-no-expiry none ...` for `N` rounds of `D` seconds; the output
//! is one line per run, the medians and their ratios to `none`.
//!
//! `cargo run --release -p bench-servers --bin grpc-bench -- --rounds 3 --secs 5`

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth_core::AuthIdentity;
use clap::Parser as _;
use demo_app::grpc::proto::WhoAmIRequest;
use demo_app::grpc::proto::demo_client::DemoClient;
use tonic::transport::Channel;

/// The run's shape, from the command line.
struct Options {
    rounds: usize,
    secs: u64,
    tasks: usize,
    connections: usize,
}

fn options() -> Result<Options, String> {
    let mut options = Options { rounds: 3, secs: 5, tasks: 64, connections: 4 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = value.parse::<u64>().map_err(|e| format!("{flag} {value}: {e}"))?;
        let count = usize::try_from(number).map_err(|e| e.to_string())?;
        match flag.as_str() {
            "--rounds" => options.rounds = count.max(1),
            "--secs" => options.secs = number.max(1),
            "--tasks" => options.tasks = count.max(1),
            "--connections" => options.connections = count.max(1),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(options)
}

/// The service with no authentication: `identity` put in every call.
async fn serve_without(listener: tokio::net::TcpListener, identity: AuthIdentity) -> Result<(), String> {
    let fixed = move |mut request: http::Request<tonic::body::Body>| {
        request.extensions_mut().insert(identity.clone());
        request
    };
    tonic::transport::Server::builder()
        .layer(tower::util::MapRequestLayer::new(fixed))
        .add_service(demo_app::grpc::service())
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)))
        .await
        .map_err(|e| e.to_string())
}

/// The service behind `AuthLayer` without the stream expiry
/// (`AuthLayer::grpc_streams_outlive_tokens`): the verification alone.
async fn serve_outliving(
    listener: tokio::net::TcpListener,
    guard: auth_core::AuthGuard,
) -> Result<(), String> {
    tonic::transport::Server::builder()
        .layer(auth_tower::AuthLayer::new(guard).grpc_streams_outlive_tokens())
        .add_service(demo_app::grpc::service())
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)))
        .await
        .map_err(|e| e.to_string())
}

/// Unary WhoAmI calls completed in `secs` against `addr`.
async fn drive(addr: SocketAddr, bearer: &str, options: &Options) -> Result<f64, String> {
    let mut channels = Vec::new();
    for _ in 0..options.connections {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| e.to_string())?
            .tcp_nodelay(true);
        channels.push(endpoint.connect().await.map_err(|e| format!("connect to {addr}: {e}"))?);
    }
    let value: tonic::metadata::MetadataValue<_> = bearer.parse().map_err(|_| "a header value")?;
    let calls = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for i in 0..options.tasks {
        let mut client: DemoClient<Channel> = DemoClient::new(channels[i % channels.len()].clone());
        let (calls, failed, stop, value) = (calls.clone(), failed.clone(), stop.clone(), value.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut request = tonic::Request::new(WhoAmIRequest {});
                request.metadata_mut().insert("authorization", value.clone());
                match client.who_am_i(request).await {
                    Ok(_) => calls.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    // a short warm-up, then the measured window
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (start, before) = (Instant::now(), calls.load(Ordering::Relaxed));
    tokio::time::sleep(Duration::from_secs(options.secs)).await;
    let done = calls.load(Ordering::Relaxed) - before;
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.map_err(|e| e.to_string())?;
    }
    match failed.load(Ordering::Relaxed) {
        0 => Ok(done as f64 / elapsed),
        n => Err(format!("{n} calls failed against {addr}")),
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[mid - 1] + values[mid]) / 2.0 } else { values[mid] }
}

fn run(options: &Options) -> Result<(), String> {
    let one_thread = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    };
    let (servers, clients) = (one_thread()?, one_thread()?);
    let config = demo_app::DemoConfig::try_parse_from(["demo", "--user", "bench:bench-password:admin"])
        .map_err(|e| e.to_string())?;
    let (addrs, bearer) = servers.block_on(async {
        let demo = demo_app::Demo::new(&config).await?;
        let pair = demo.authority.login("bench", "bench-password").await.map_err(|e| e.to_string())?;
        let identity =
            demo.authority.authenticate_token(&pair.access_token).await.map_err(|e| e.to_string())?;
        let bind = || async { tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string()) };
        let (with, without, outliving) = (bind().await?, bind().await?, bind().await?);
        let addr = |l: &tokio::net::TcpListener| l.local_addr().map_err(|e| e.to_string());
        let addrs =
            [("none", addr(&without)?), ("layer", addr(&with)?), ("layer-no-expiry", addr(&outliving)?)];
        tokio::spawn(serve_outliving(outliving, demo.guard.clone()));
        tokio::spawn(demo_app::grpc::serve(&demo, with));
        tokio::spawn(serve_without(without, identity));
        Ok::<_, String>((addrs, format!("Bearer {}", pair.access_token)))
    })?;
    println!(
        "grpc-bench: unary WhoAmI, {} tasks over {} h2c connections, {} rounds x {} s, server and client one worker thread each",
        options.tasks, options.connections, options.rounds, options.secs
    );
    let mut rates: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for round in 1..=options.rounds {
        for (i, (name, addr)) in addrs.iter().enumerate() {
            let rate = clients.block_on(drive(*addr, &bearer, options))?;
            println!("round {round} {name:<15} {rate:>9.0} calls/s");
            rates[i].push(rate);
        }
    }
    let medians: Vec<f64> = rates.iter_mut().map(|r| median(r)).collect();
    for ((name, _), median) in addrs.iter().zip(&medians) {
        println!("median {name:<15} {median:>9.0} calls/s");
    }
    for ((name, _), median) in addrs.iter().zip(&medians).skip(1) {
        let ratio = median / medians[0];
        println!("ratio {name}/none {ratio:.3} ({:+.1}%)", (ratio - 1.0) * 100.0);
    }
    Ok(())
}

fn main() -> ExitCode {
    let result = options().and_then(|options| run(&options));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("grpc-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
