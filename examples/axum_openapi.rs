//! axum with an OpenAPI document: the app's own operation (`#[utoipa::path]`), the auth routes'
//! description nested under their mount point, and the guard's requirement and refusals on `/me`.
//! Run: `JWT_SECRET=$(openssl rand -base64 32) cargo run` (here: `cargo run --example axum_openapi`),
//! then `curl -s localhost:3008/openapi.json`.
use auth_tower::auth_core::{AuthGuard, RouteSet};
use auth_tower::{AuthLayer, AuthRoutes, prelude::*};
use axum::{Json, Router, routing::get};
use utoipa::OpenApi;

/// Greets the token's user.
#[utoipa::path(get, path = "/me", responses((status = 200, description = "A greeting", body = String)))]
async fn me(id: Authenticated) -> String {
    format!("hi, {}\n", id.username())
}

#[derive(OpenApi)]
#[openapi(paths(me), info(title = "my app"))]
struct ApiDoc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "alice"), "wonderland").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let authority = Authority::hs256(secret)?.users(users).build();
    let routes = RouteSet::new(authority, Standard); // what `authority.routes(Standard)` serves
    let guard = AuthGuard::for_routes(&routes); // what `authority.layer()` checks
    let mut doc = ApiDoc::openapi().nest("/auth", routes.openapi()); // POST /auth/login, /auth/refresh, ...
    guard.openapi().protect(&mut doc, "/me"); // the Bearer requirement, and the 400, 401 and 503 answers
    let app = Router::new()
        .route("/me", get(me))
        .route_layer(AuthLayer::new(guard))
        .route("/openapi.json", get(move || async move { Json(doc) }))
        .nest_service("/auth", AuthRoutes::new(routes));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3008").await?;
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
    Ok(())
}
