//! The demo server: `cargo run --release --example demo -- --help`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;
use demo_app::{Demo, DemoConfig, Framework};

fn main() -> ExitCode {
    // Warnings (a store outage, once; refresh-token reuse) and their ends
    // on stderr. The library never logs a token or a secret.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_target(false)
        .init();
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
    let result = match config.framework {
        Framework::Axum => run_axum(&config, addr),
        Framework::Actix => run_actix(&config, addr),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_axum(config: &DemoConfig, addr: SocketAddr) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let demo = Demo::new(config).await?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        print!("{}", demo.banner(&bound.to_string()));
        println!("listening on http://{bound}");
        // The peer address feeds the per-address login throttle.
        let app = demo.axum_router().into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.map_err(|e| e.to_string())
    })
}

fn run_actix(config: &DemoConfig, addr: SocketAddr) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async {
        let demo = Demo::new(config).await?;
        let configure = demo.actix_config();
        let server = actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .bind(addr)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = server.addrs().first().copied().unwrap_or(addr);
        print!("{}", demo.banner(&bound.to_string()));
        println!("listening on http://{bound}");
        server.run().await.map_err(|e| e.to_string())
    })
}
