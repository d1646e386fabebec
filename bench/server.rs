//! `bench-server --variant NAME --addr HOST:PORT`: serves `GET /hello`,
//! the same small JSON answer, built one of several ways:
//!
//! | variant | what guards `/hello` |
//! |---|---|
//! | `axum-none` | nothing (the floor) |
//! | `axum-ours` | `auth_tower::AuthLayer` + `Authenticated` |
//! | `axum-passthrough` | a tower layer that passes every request through (what any `Router::layer` costs) |
//! | `axum-fromfn` | a hand-written `axum::middleware::from_fn` around `jsonwebtoken::decode` |
//! | `actix-none` | nothing (the floor) |
//! | `actix-ours` | `auth_actix::AuthMiddleware` + `Authenticated` |
//! | `actix-httpauth` | `actix-web-httpauth`'s `HttpAuthentication::bearer` + `jsonwebtoken::decode` |
//!
//! Any variant with `-metrics` appended (`axum-ours-metrics`,
//! `actix-ours-metrics`...) runs with a Prometheus recorder installed, so
//! auth-core's counters are really recorded (and rendered once a second,
//! as a scraper would).
//!
//! It prints `token: <jwt>` (valid for every variant) and
//! `listening on http://ADDR`.
//!
//! `bench-server --variant axum-... --in-process N` serves nothing: it
//! sends N requests through the variant's `Router` in the same thread
//! (`tower::ServiceExt::oneshot`, no socket, no hyper) and prints the best
//! of five means, `in-process: NNN ns/request`: the variant's user-space
//! cost alone, steadier than a load run (pin it: `taskset -c 0`).

use std::process::ExitCode;

use auth_core::{AuthGuard, Authority, JwtKey, KeySet, Principal};
use serde::Deserialize;
use serde_json::{Value, json};

const SECRET: &[u8] = b"benchmark-secret-of-at-least-32-bytes";

/// The claims the hand-written alternatives decode.
#[derive(Debug, Clone, Deserialize)]
struct Claims {
    sub: String,
    username: String,
    roles: Vec<String>,
}

fn body(sub: &str, username: &str, roles: &[String]) -> Value {
    json!({"sub": sub, "username": username, "roles": roles})
}

fn decode(token: &str) -> Option<Claims> {
    let key = jsonwebtoken::DecodingKey::from_secret(SECRET);
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::decode::<Claims>(token, &key, &validation).ok().map(|d| d.claims)
}

mod axum_variants {
    use auth_tower::{AuthLayer, Authenticated};
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::middleware::{Next, from_fn};
    use axum::response::Response;
    use axum::routing::get;
    use axum::{Extension, Json, Router};

    use super::*;

    async fn from_fn_auth(mut req: Request, next: Next) -> Result<Response, StatusCode> {
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(StatusCode::UNAUTHORIZED)?;
        let claims = decode(token).ok_or(StatusCode::UNAUTHORIZED)?;
        req.extensions_mut().insert(claims);
        Ok(next.run(req).await)
    }

    pub fn router(variant: &str, guard: AuthGuard) -> Option<Router> {
        Some(match variant {
            "axum-none" => Router::new()
                .route("/hello", get(|| async { Json(body("1", "demo", &["admin".to_owned()])) })),
            "axum-ours" => Router::new()
                .route(
                    "/hello",
                    get(|id: Authenticated| async move { Json(body(id.sub(), id.username(), id.roles())) }),
                )
                .layer(AuthLayer::new(guard)),
            // the floor of any layer: a pass-through tower layer, the same handler as `none`
            "axum-passthrough" => Router::new()
                .route("/hello", get(|| async { Json(body("1", "demo", &["admin".to_owned()])) }))
                .layer(tower::util::MapRequestLayer::new(|req: Request| req)),
            "axum-fromfn" => Router::new()
                .route(
                    "/hello",
                    get(|Extension(c): Extension<Claims>| async move {
                        Json(body(&c.sub, &c.username, &c.roles))
                    }),
                )
                .layer(from_fn(from_fn_auth)),
            _ => return None,
        })
    }
}

mod actix_variants {
    use actix_web::dev::ServiceRequest;
    use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
    use actix_web_httpauth::extractors::bearer::BearerAuth;
    use actix_web_httpauth::middleware::HttpAuthentication;
    use auth_actix::{AuthMiddleware, Authenticated};

    use super::*;

    async fn validator(
        req: ServiceRequest,
        credentials: BearerAuth,
    ) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
        match decode(credentials.token()) {
            Some(claims) => {
                req.extensions_mut().insert(claims);
                Ok(req)
            }
            None => Err((actix_web::error::ErrorUnauthorized("invalid token"), req)),
        }
    }

    async fn none() -> HttpResponse {
        HttpResponse::Ok().json(body("1", "demo", &["admin".to_owned()]))
    }

    async fn ours(id: Authenticated) -> HttpResponse {
        HttpResponse::Ok().json(body(id.sub(), id.username(), id.roles()))
    }

    async fn httpauth(c: web::ReqData<Claims>) -> HttpResponse {
        HttpResponse::Ok().json(body(&c.sub, &c.username, &c.roles))
    }

    /// Binds `HttpServer::new($factory)`, prints the token and address, runs it.
    macro_rules! run {
        ($addr:expr, $token:expr, $factory:expr) => {{
            let server = HttpServer::new($factory).bind($addr).map_err(|e| e.to_string())?;
            println!("token: {}", $token);
            println!(
                "listening on http://{}",
                server.addrs().first().map(ToString::to_string).unwrap_or_default()
            );
            server.run().await.map_err(|e| e.to_string())
        }};
    }

    /// The middleware of `actix-ours` and `actix-httpauth` wraps the `App`:
    /// `Route::wrap` would put actix's `Compat` adapter around it, which
    /// boxes every request's future and response body, whatever the
    /// middleware (BENCHMARKS.md §7).
    pub async fn serve(variant: &str, guard: AuthGuard, addr: &str, token: &str) -> Result<(), String> {
        match variant {
            "actix-none" => run!(addr, token, || App::new().route("/hello", web::get().to(none))),
            "actix-ours" => run!(addr, token, move || {
                App::new().wrap(AuthMiddleware::new(guard.clone())).route("/hello", web::get().to(ours))
            }),
            "actix-httpauth" => run!(addr, token, || {
                App::new()
                    .wrap(HttpAuthentication::bearer(validator))
                    .route("/hello", web::get().to(httpauth))
            }),
            other => Err(format!("unknown variant `{other}`")),
        }
    }
}

/// Installs a Prometheus recorder and renders it once a second on a
/// thread of its own (what a scraper costs, off the request path).
fn install_recorder() -> Result<(), String> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), auth_core::metrics::LATENCY_BUCKETS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    auth_core::metrics::describe();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            std::hint::black_box(handle.render());
        }
    });
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let (Some(variant), addr) = (arg("--variant"), arg("--addr").unwrap_or_else(|| "127.0.0.1:3100".into()))
    else {
        eprintln!("usage: bench-server --variant NAME [--addr HOST:PORT]");
        return ExitCode::from(2);
    };
    let variant = match variant.strip_suffix("-metrics") {
        Some(plain) => {
            if let Err(e) = install_recorder() {
                eprintln!("bench-server: {e}");
                return ExitCode::FAILURE;
            }
            plain.to_owned()
        }
        None => variant,
    };
    let key = match JwtKey::hs256("bench", SECRET) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("bench-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    let authority = Authority::builder(KeySet::new(key).expect("a signing key")).build();
    let guard = AuthGuard::new(authority.clone());
    let result = if variant.starts_with("actix") {
        actix_web::rt::System::new().block_on(async {
            let token = issue(&authority).await?;
            actix_variants::serve(&variant, guard, &addr, &token).await
        })
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string()).and_then(
            |rt| {
                rt.block_on(async {
                    let token = issue(&authority).await?;
                    let router = axum_variants::router(&variant, guard)
                        .ok_or(format!("unknown variant `{variant}`"))?;
                    if let Some(n) = arg("--in-process").and_then(|n| n.parse::<u32>().ok()) {
                        return in_process(router, &token, n).await;
                    }
                    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| e.to_string())?;
                    println!("token: {token}");
                    println!("listening on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
                    axum::serve(
                        listener,
                        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                    )
                    .await
                    .map_err(|e| e.to_string())
                })
            },
        )
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--in-process N`: N requests through the router without a network
/// (hyper and the kernel left out), the mean nanoseconds of each printed:
/// the user-space cost of a variant, steadier than a load run.
async fn in_process(router: axum::Router, token: &str, n: u32) -> Result<(), String> {
    use tower::ServiceExt;
    let request = || {
        http::Request::get("/hello")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .map_err(|e| e.to_string())
    };
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = std::time::Instant::now();
        for _ in 0..n {
            let response = router.clone().oneshot(request()?).await.map_err(|e| e.to_string())?;
            if response.status() != http::StatusCode::OK {
                return Err(format!("status {}", response.status()));
            }
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(n));
    }
    println!("in-process: {best:.0} ns/request (best of 5 x {n})");
    Ok(())
}

async fn issue(authority: &Authority) -> Result<String, String> {
    let principal = Principal::new("1", "demo").with_role("admin");
    authority.issue(&principal).await.map(|p| p.access_token).map_err(|e| e.to_string())
}
