//! actix-web quickstart: the twin of `axum_quickstart.rs`.
//! Run: `cargo run --example actix_quickstart`, then
//! `curl -s -X POST localhost:3002/auth/login -d username=alice -d password=wonderland`.

use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::{AuthMiddleware, Authenticated, RequireRole, Role};
use auth_core::{AuthGuard, Authority, JwtKey, KeySet, MemoryUsers, Principal, RouteSet, Standard};

struct Admin;
impl Role for Admin {
    const NAME: &'static str = "admin";
}

async fn me(id: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(id.summary())
}

async fn admin(id: RequireRole<Admin>) -> String {
    format!("hello, admin {}\n", id.username())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. who may log in (use your own UserStore in a real app)
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "alice").with_role("admin"), "wonderland").await?;
    // 2. how tokens are signed: read the secret from your configuration
    let secret = demo_app::secret_from_env();
    let authority =
        Authority::builder(KeySet::new(JwtKey::hs256("main", secret.as_bytes())?)?).users(users).build();
    // 3. login/refresh/verify/logout under /auth, protected routes behind the middleware
    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::scope("/auth").configure(auth_actix::routes(RouteSet::new(authority.clone(), Standard))),
            )
            .service(
                web::scope("")
                    .wrap(AuthMiddleware::new(AuthGuard::new(authority.clone())))
                    .route("/me", web::get().to(me))
                    .route("/admin", web::get().to(admin)),
            )
    })
    .bind("127.0.0.1:3002")?;
    println!("listening on http://{}", server.addrs()[0]);
    server.run().await?;
    Ok(())
}
