//! axum quickstart: login routes, a protected route, a role-guarded one and an optional one.
//! Run: `JWT_SECRET=$(openssl rand -base64 32) cargo run` (here: `cargo run --example axum_quickstart`),
//! then `curl -s -X POST localhost:3001/auth/login -d username=alice -d password=wonderland`.
use auth_tower::prelude::*;
use axum::{Json, Router, routing::get};

role!(Admin = "admin");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init(); // the toolkit says what is wrong through `tracing`
    let users = MemoryUsers::new(); // who may log in: your own UserStore in a real app
    users.add_user(Principal::new("1", "alice").with_role("admin"), "wonderland").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let authority = Authority::hs256(secret)?.users(users).build();
    let me = |id: Authenticated| async move { Json(id.summary()) };
    let admin = |id: RequireRole<Admin>| async move { format!("hi, admin {}\n", id.username()) };
    let hello = |id: MaybeAuthenticated| async move { format!("hi, {}\n", id.username().unwrap_or("guest")) };
    let app = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .route_layer(authority.layer()) // the routes above need a valid Bearer token
        .route("/hello", get(hello).route_layer(authority.layer().optional()))
        .nest_service("/auth", authority.routes(Standard)); // POST /auth/login, /refresh, /verify, /logout
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    // the client's address feeds the login throttle: serve with ConnectInfo
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
    Ok(())
}
