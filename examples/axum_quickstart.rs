//! axum quickstart: a login route set, one protected handler, one role-guarded one.
//! Run: `cargo run --example axum_quickstart`, then
//! `curl -s -X POST localhost:3001/auth/login -d username=alice -d password=wonderland`.

use auth_core::{AuthGuard, Authority, JwtKey, KeySet, MemoryUsers, Principal, RouteSet, Standard};
use auth_tower::{AuthLayer, AuthRoutes, Authenticated, RequireRole, Role};
use axum::{Json, Router, routing::get};

struct Admin;
impl Role for Admin {
    const NAME: &'static str = "admin";
}

async fn me(id: Authenticated) -> Json<serde_json::Value> {
    Json(id.summary())
}

async fn admin(id: RequireRole<Admin>) -> String {
    format!("hello, admin {}\n", id.username())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. who may log in (use your own UserStore in a real app)
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "alice").with_role("admin"), "wonderland").await?;
    // 2. how tokens are signed: read the secret from your configuration
    let secret = demo_app::secret_from_env();
    let authority =
        Authority::builder(KeySet::new(JwtKey::hs256("main", secret.as_bytes())?)?).users(users).build();
    // 3. protected routes behind the layer, login/refresh/verify/logout under /auth
    let app = Router::new()
        .route("/me", get(me))
        .route("/admin", get(admin))
        .layer(AuthLayer::new(AuthGuard::new(authority.clone())))
        .nest_service("/auth", AuthRoutes::new(RouteSet::new(authority, Standard)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("listening on http://{}", listener.local_addr()?);
    // The peer address feeds the per-address login throttle.
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
    Ok(())
}
