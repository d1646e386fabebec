//! Migrating from ecHome (simplejwt): the same token API on axum.
//! `JWT_SECRET=$(openssl rand -base64 32) cargo run --example echome_axum`, then the real API's curl lines against 127.0.0.1:3003.

use auth_tower::auth_core::dialects::Echome;
use auth_tower::auth_core::{AuthGuard, Authority, Dialect, MemoryUsers, Principal, RouteSet};
use auth_tower::{AuthLayer, AuthRoutes, Authenticated};
use axum::{Json, Router, routing::get};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "access-id"), "secret-key").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    // simplejwt's lifetimes and claim names (token_type, user_id); override fields as you need
    let config = Echome.default_config();
    let authority = Authority::hs256(secret)?.users(users).config(config).build();
    let routes = RouteSet::new(authority, Echome);
    // protected routes answer like simplejwt: {"detail": ..., "code": "token_not_valid"}
    let guard = AuthGuard::for_routes(&routes);
    let app = Router::new()
        .route(
            "/api/v1/vm/vm/describe/all",
            get(|_: Authenticated| async { Json(json!({"success": true, "details": "", "results": []})) }),
        )
        .layer(AuthLayer::new(guard))
        .nest_service("/api/v1/identity", AuthRoutes::new(routes));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3003").await?;
    println!("listening on http://{}", listener.local_addr()?);
    // The peer address feeds the per-address login throttle.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
    Ok(())
}
