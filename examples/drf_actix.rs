//! Migrating from django-rest-framework-jwt: `Authorization: Token <jwt>` on actix-web.
//! `JWT_SECRET=$(openssl rand -base64 32) cargo run --example drf_actix`, then the real API's requests against 127.0.0.1:3007.

use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::auth_core::{AuthGuard, RouteSet, dialects::Drf};
use auth_actix::prelude::*;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1165", "indestructible"), "terminator123").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    // 5-day tokens, orig_iat kept across refreshes, no refresh after 10 days
    let authority = Authority::hs256(secret)?.users(users).config(Drf.default_config()).build();
    let routes = RouteSet::new(authority, Drf); // POST /auth/access_token/, refresh_token/, verify_token/
    let guard = AuthGuard::for_routes(&routes); // `Authorization: Token <jwt>`, {"detail": ...} errors
    let app = move || {
        App::new().service(web::scope("/auth").configure(auth_actix::routes(routes.clone()))).service(
            web::resource("/protected-url/")
                .wrap(AuthMiddleware::new(guard.clone()))
                .post(|id: Authenticated| async move { HttpResponse::Ok().json(id.summary()) }),
        )
    };
    HttpServer::new(app).bind("127.0.0.1:3007")?.run().await?;
    Ok(())
}
