//! Migrating from Sachet: `/users/login`, `/users/extend`, `/users/logout` on axum,
//! with `GET /users/{username}` readable by the user themself or an admin.
//! `JWT_SECRET=$(openssl rand -base64 32) cargo run --example sachet_axum`, then the real API's requests against 127.0.0.1:3005.

use auth_tower::auth_core::dialects::Sachet;
use auth_tower::auth_core::{
    AuthGuard, Authority, Dialect, MemoryUsers, Principal, RouteSet, require_self_or_role,
};
use auth_tower::{AuthLayer, AuthRejection, AuthRoutes, Authenticated};
use axum::extract::Path;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Value, json};

async fn user(
    Path(name): Path<String>,
    Extension(guard): Extension<AuthGuard>,
    id: Authenticated,
) -> Result<Json<Value>, AuthRejection> {
    require_self_or_role(&id, &name, "admin").map_err(|e| AuthRejection::from_guard(&guard, e))?;
    Ok(Json(json!({"status": "success", "username": name})))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "user"), "password").await?;
    users.add_user(Principal::new("2", "admin").with_role("admin"), "admin-password").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let config = Sachet.default_config(); // one token type, 7 days, jti on every token
    let authority = Authority::hs256(secret)?.users(users).config(config).build();
    let routes = RouteSet::new(authority, Sachet).at("/users");
    let auth = AuthRoutes::new(routes.clone());
    // GET /users/login is a user lookup, POST /users/login a login: other methods fall through
    let app = Router::new()
        .route(
            "/users/{username}",
            get(user).layer(AuthLayer::new(AuthGuard::for_routes(&routes))).fallback_service(auth.clone()),
        )
        .fallback_service(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3005").await?;
    println!("listening on http://{}", listener.local_addr()?);
    // The peer address feeds the per-address login throttle.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
    Ok(())
}
