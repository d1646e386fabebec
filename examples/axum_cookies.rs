//! axum in cookie mode: the tokens live in HttpOnly cookies a page's script cannot read,
//! and every POST must pass the CSRF checks. Run: `JWT_SECRET=$(openssl rand -base64 32) cargo run`
//! (here: `cargo run --example axum_cookies`); a page of this origin logs in with `fetch("/auth/login")`.
use auth_tower::prelude::*;
use axum::{Json, Router, routing::get, routing::post};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "alice"), "wonderland").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let authority = Authority::hs256(secret)?.users(users).build();
    let cookies = CookieMode::new(); // routes at /auth: the refresh cookie goes to /auth/refresh only
    let me = |id: Authenticated| async move { Json(id.summary()) };
    let note = |id: Authenticated| async move { format!("noted for {}\n", id.username()) };
    let app = Router::new()
        .route("/me", get(me))
        .route("/notes", post(note)) // a POST: needs the X-CSRF-Token header too
        .route_layer(authority.layer().cookies(cookies.clone())) // the access cookie, or a Bearer header
        .nest_service("/auth", authority.cookie_routes(cookies)); // login/refresh set cookies, logout clears
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3003").await?;
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
    Ok(())
}
