//! The demo server: `cargo run --release --example demo -- --help`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use demo_app::{Demo, DemoConfig, Framework, telemetry};

fn main() -> ExitCode {
    let config = match DemoConfig::try_parse() {
        Ok(c) => c,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => e.exit(),
        Err(e) => {
            let text = e.to_string();
            let line = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
            eprintln!("demo: {line}");
            return ExitCode::from(2);
        }
    };
    // A usage error, like clap's: before any password is hashed.
    if let Err(e) = config.check_cookie_flags() {
        eprintln!("demo: {e}");
        return ExitCode::from(2);
    }
    let addr = match config.addr.to_socket_addrs().ok().and_then(|mut a| a.next()) {
        Some(addr) => addr,
        None => {
            eprintln!("demo: --addr `{}` is not a HOST:PORT this machine can listen on", config.addr);
            return ExitCode::from(2);
        }
    };
    let (grpc, metrics) = match (
        config.grpc.as_deref().map(grpc_addr).transpose(),
        config.metrics.as_deref().map(telemetry::metrics_addr).transpose(),
    ) {
        (Ok(grpc), Ok(metrics)) => (grpc, metrics),
        (Err((code, e)), _) | (_, Err((code, e))) => {
            eprintln!("demo: {e}");
            return ExitCode::from(code);
        }
    };
    // The audit log opens before anything else starts.
    let audit = match config.audit_log.as_deref().map(telemetry::open_audit_log).transpose() {
        Ok(audit) => audit,
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Warnings (a store outage, once; refresh-token reuse) and their ends
    // on stderr; the audit events only in the audit log. The library never
    // logs a token or a secret.
    telemetry::init_tracing(audit);
    // The listeners of --grpc and --metrics are bound before anything else
    // starts, so the banner names them.
    let grpc = match grpc.map(grpc_listener).transpose() {
        Ok(grpc) => grpc,
        Err(e) => {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Out of any runtime: the exporter serves from a thread of its own,
    // whichever framework serves the demo.
    if let Some(metrics) = metrics
        && let Err(e) = telemetry::install_metrics(metrics)
    {
        eprintln!("demo: {e}");
        return ExitCode::FAILURE;
    }
    let extra = Extra { grpc, metrics };
    let result = match config.framework {
        Framework::Axum => run_axum(&config, addr, extra),
        Framework::Actix => run_actix(&config, addr, extra),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the demo serves besides its HTTP routes.
struct Extra {
    /// The bound listener of `--grpc`.
    grpc: Option<std::net::TcpListener>,
    /// Where `--metrics` serves `/metrics` (bound already).
    metrics: Option<SocketAddr>,
}

/// The address of `--grpc HOST:PORT`: exit status 2 for one that is not
/// an address this machine can listen on.
fn grpc_addr(spec: &str) -> Result<SocketAddr, (u8, String)> {
    spec.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| (2, format!("--grpc `{spec}` is not a HOST:PORT this machine can listen on")))
}

/// The listener of `--grpc`, bound before anything else starts (so the
/// banner names the bound port); an error (exit status 1) when it cannot
/// be bound.
fn grpc_listener(addr: SocketAddr) -> Result<std::net::TcpListener, String> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|e| format!("--grpc: cannot listen on {addr}: {e}"))?;
    // tokio takes it over: it must not block
    listener.set_nonblocking(true).map_err(|e| format!("--grpc: {e}"))?;
    Ok(listener)
}

/// The banner's `--metrics` line.
fn metrics_banner(metrics: Option<SocketAddr>) {
    if let Some(addr) = metrics {
        println!("metrics: http://{addr}/metrics");
    }
}

/// The banner's gRPC line, once the listener is tokio's (in a runtime).
fn grpc_banner(listener: &tokio::net::TcpListener) -> Result<(), String> {
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("gRPC: {} on {bound}", demo_app::grpc::SERVICE_NAME);
    Ok(())
}

fn run_axum(config: &DemoConfig, addr: SocketAddr, extra: Extra) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let demo = Demo::new(config).await?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let grpc = extra
            .grpc
            .map(tokio::net::TcpListener::from_std)
            .transpose()
            .map_err(|e| format!("--grpc: {e}"))?;
        print!("{}", demo.banner(&bound.to_string()));
        if let Some(grpc) = &grpc {
            grpc_banner(grpc)?;
        }
        metrics_banner(extra.metrics);
        println!("listening on http://{bound}");
        // The peer address feeds the per-address login throttle.
        let app = demo.axum_router().into_make_service_with_connect_info::<SocketAddr>();
        let http = async { axum::serve(listener, app).await.map_err(|e| e.to_string()) };
        match grpc {
            // Both on this runtime; either failing ends the demo.
            Some(grpc) => tokio::try_join!(http, demo_app::grpc::serve(&demo, grpc)).map(|_| ()),
            None => http.await,
        }
    })
}

fn run_actix(config: &DemoConfig, addr: SocketAddr, extra: Extra) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async {
        let demo = Demo::new(config).await?;
        let configure = demo.actix_config();
        let server = actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .bind(addr)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = server.addrs().first().copied().unwrap_or(addr);
        print!("{}", demo.banner(&bound.to_string()));
        if let Some(grpc) = extra.grpc {
            // tonic needs a (Send) tokio runtime: one of its own, on a thread
            // of its own, sharing the demo (authority, store, keys), as the
            // actix workers do from theirs.
            let (started, ready) = std::sync::mpsc::channel();
            let demo = demo.clone();
            std::thread::Builder::new()
                .name("grpc".into())
                .spawn(move || serve_grpc_thread(&demo, grpc, started))
                .map_err(|e| format!("--grpc: {e}"))?;
            ready.recv().map_err(|_| "--grpc: the gRPC thread ended".to_owned())??;
        }
        metrics_banner(extra.metrics);
        println!("listening on http://{bound}");
        server.run().await.map_err(|e| e.to_string())
    })
}

/// The gRPC server of the actix demo, on a multi-threaded tokio runtime
/// of its own: `started` gets the outcome of printing its banner line;
/// a failure later ends the process (exit status 1).
fn serve_grpc_thread(
    demo: &Demo,
    listener: std::net::TcpListener,
    started: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = started.send(Err(format!("--grpc: {e}")));
            return;
        }
    };
    let outcome = rt.block_on(async {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| format!("--grpc: {e}"));
        let listener = match listener.and_then(|l| grpc_banner(&l).map(|()| l)) {
            Ok(l) => l,
            Err(e) => {
                let _ = started.send(Err(e));
                return Ok(());
            }
        };
        let _ = started.send(Ok(()));
        demo_app::grpc::serve(demo, listener).await
    });
    if let Err(e) = outcome {
        eprintln!("demo: {e}");
        std::process::exit(1);
    }
}
