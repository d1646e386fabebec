//! The demo app in cookie mode, served on a loopback port by either
//! framework, with a recorder in front that notes every request it sees
//! (method, path, the names of the cookies it carried, the answer's
//! status): what "checked on the server side" checks.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use clap::Parser as _;
use demo_app::{Demo, DemoConfig};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub method: String,
    pub path: String,
    pub cookies: Vec<String>,
    pub status: u16,
}

/// The requests seen so far, in order.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<Seen>>>);

impl Log {
    fn push(&self, seen: Seen) {
        self.0.lock().expect("log").push(seen);
    }

    pub(crate) fn all(&self) -> Vec<Seen> {
        self.0.lock().expect("log").clone()
    }

    /// The requests with this method and path.
    pub(crate) fn of(&self, method: &str, path: &str) -> Vec<Seen> {
        self.all().into_iter().filter(|s| s.method == method && s.path == path).collect()
    }
}

/// The names of the cookies of every `Cookie` header value.
fn cookie_names<'a>(values: impl Iterator<Item = &'a [u8]>) -> Vec<String> {
    values
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .collect()
}

/// A running demo: its base URL (`http://127.0.0.1:PORT`) and what it saw.
pub(crate) struct App {
    pub base: String,
    pub log: Log,
    stop: Option<Box<dyn FnOnce() + Send>>,
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop();
        }
    }
}

/// The demo's flags for these tests: the standard dialect in cookie mode,
/// alice (admin) and bob, and `extra`.
fn config(extra: &[&str]) -> DemoConfig {
    let mut args = vec![
        "demo",
        "--secret",
        "browser-tests-secret-of-32-bytes!!",
        "--cookies",
        "--user",
        "alice:alice-pw:admin",
        "--user",
        "bob:bob-pw",
        "--refusal-delay",
        "0s",
    ];
    args.extend_from_slice(extra);
    DemoConfig::try_parse_from(args).expect("demo flags")
}

/// Serves the demo with `extra` flags on `framework` (`axum` or `actix`).
pub(crate) async fn start(framework: &str, extra: &[&str]) -> App {
    let config = config(extra);
    let log = Log::default();
    match framework {
        "axum" => start_axum(&config, log).await,
        "actix" => start_actix(config, log),
        other => panic!("no framework {other}"),
    }
}

async fn start_axum(config: &DemoConfig, log: Log) -> App {
    use axum::extract::Request;
    use axum::middleware::Next;
    let demo = Demo::new(config).await.expect("demo");
    let seen = log.clone();
    let record = move |req: Request, next: Next| {
        let seen = seen.clone();
        async move {
            let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
            let cookies = cookie_names(req.headers().get_all("cookie").iter().map(|v| v.as_bytes()));
            let res = next.run(req).await;
            seen.push(Seen { method, path, cookies, status: res.status().as_u16() });
            res
        }
    };
    let app = demo.axum_router().layer(axum::middleware::from_fn(record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await;
    });
    App { base: format!("http://{addr}"), log, stop: Some(Box::new(move || server.abort())) }
}

fn start_actix(config: DemoConfig, log: Log) -> App {
    use actix_web::dev::Service as _;
    let (tx, rx) = std::sync::mpsc::channel();
    let seen = log.clone();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let demo = Demo::new(&config).await.expect("demo");
            let configure = demo.actix_config();
            let server = actix_web::HttpServer::new(move || {
                let seen = seen.clone();
                actix_web::App::new()
                    .wrap_fn(move |req, srv| {
                        let (method, path) = (req.method().to_string(), req.path().to_owned());
                        let cookies = cookie_names(req.headers().get_all("cookie").map(|v| v.as_bytes()));
                        let seen = seen.clone();
                        let call = srv.call(req);
                        async move {
                            let res = call.await?;
                            seen.push(Seen { method, path, cookies, status: res.status().as_u16() });
                            Ok(res)
                        }
                    })
                    .configure(configure.clone())
            })
            .workers(1)
            .bind("127.0.0.1:0")
            .expect("bind");
            let addr = server.addrs()[0];
            let server = server.run();
            tx.send((addr, server.handle())).expect("send the address");
            let _ = server.await;
        });
    });
    let (addr, handle) = rx.recv().expect("the actix server started");
    let stop = move || {
        // the server's own thread ends once it has stopped
        std::thread::spawn(move || actix_rt::System::new().block_on(handle.stop(false)));
    };
    App { base: format!("http://{addr}"), log, stop: Some(Box::new(stop)) }
}
