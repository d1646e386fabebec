//! Migrating from django-rest-framework-jwt: `Authorization: Token <jwt>` on actix-web.
//! `JWT_SECRET=$(openssl rand -base64 32) cargo run --example drf_actix`, then the real API's requests against 127.0.0.1:3007.

use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::{AuthMiddleware, Authenticated};
use auth_core::dialects::Drf;
use auth_core::{AuthGuard, Authority, Dialect, MemoryUsers, Principal, RouteSet};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1165", "indestructible"), "terminator123").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    // 5-day tokens, orig_iat kept across refreshes, no refresh after 10 days
    let config = Drf.default_config();
    let authority = Authority::hs256(secret)?.users(users).config(config).build();
    let routes = RouteSet::new(authority, Drf);
    let guard = AuthGuard::for_routes(&routes); // Token scheme, {"detail": ...} errors
    let server = HttpServer::new(move || {
        App::new().service(web::scope("/auth").configure(auth_actix::routes(routes.clone()))).route(
            "/protected-url/",
            web::post()
                .to(|id: Authenticated| async move { HttpResponse::Ok().json(id.summary()) })
                .wrap(AuthMiddleware::new(guard.clone())),
        )
    })
    .bind("127.0.0.1:3007")?;
    println!("listening on http://{}", server.addrs().first().map(ToString::to_string).unwrap_or_default());
    server.run().await?;
    Ok(())
}
