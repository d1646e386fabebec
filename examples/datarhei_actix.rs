//! Migrating from datarhei Core: `/api/login` and `/api/login/refresh` on actix-web.
//! `JWT_SECRET=$(openssl rand -base64 32) cargo run --example datarhei_actix`, then the real API's curl lines against 127.0.0.1:3004.

use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::auth_core::dialects::Datarhei;
use auth_actix::auth_core::{AuthGuard, Authority, Dialect, MemoryUsers, Principal, RouteSet};
use auth_actix::{AuthMiddleware, Authenticated};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users = MemoryUsers::new();
    // api.auth.username / api.auth.password of the Core config
    users.add_user(Principal::new("admin", "admin"), "datarhei").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    // Core's lifetimes (access 10 min, refresh 24 h) and claims (exi, usefor, iss datarhei-core)
    let dialect = Datarhei::default(); // .with_external_identity(...) for the Auth0 login
    let config = dialect.default_config();
    let authority = Authority::hs256(secret)?.users(users).config(config).build();
    let routes = RouteSet::new(authority, dialect);
    let guard = AuthGuard::for_routes(&routes);
    let server = HttpServer::new(move || {
        App::new().service(web::scope("/api").configure(auth_actix::routes(routes.clone()))).service(
            web::scope("/api/v3").wrap(AuthMiddleware::new(guard.clone())).route(
                "/about",
                web::get().to(|id: Authenticated| async move { HttpResponse::Ok().json(id.summary()) }),
            ),
        )
    })
    .bind("127.0.0.1:3004")?;
    println!("listening on http://{}", server.addrs().first().map(ToString::to_string).unwrap_or_default());
    server.run().await?;
    Ok(())
}
