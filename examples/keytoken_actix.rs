//! Migrating from the Kent Hack Enough API: opaque key/token credentials on actix-web.
//! `JWT_SECRET=$(openssl rand -base64 32) cargo run --example keytoken_actix`, then `POST /users/token` with
//! `{"client": "ios", "email": "ann@example.com", "password": "hunter22"}` on 127.0.0.1:3006.

use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::auth_core::dialects::Keytoken;
use auth_actix::auth_core::{AuthGuard, Authority, Dialect, MemoryUsers, Principal, RouteSet};
use auth_actix::{AuthMiddleware, Authenticated};

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "ann@example.com").with_role("attendee"), "hunter22").await?;
    let dialect = Keytoken::new(["ios", "android", "web"]); // your client ids
    let config = dialect.default_config(); // 30 days; Basic means key:token
    // no JWT is issued by this dialect, but the authority still needs a key
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let authority = Authority::hs256(secret)?.users(users).config(config).build();
    let routes = RouteSet::new(authority, dialect).at("/users");
    let guard = AuthGuard::for_routes(&routes);
    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::resource("/users")
                    .route(
                        web::patch()
                            .to(|id: Authenticated| async move { HttpResponse::Ok().json(id.summary()) })
                            .wrap(AuthMiddleware::new(guard.clone())),
                    )
                    .default_service(auth_actix::service(routes.clone())),
            )
            .default_service(auth_actix::service(routes.clone()))
    })
    .bind("127.0.0.1:3006")?;
    println!("listening on http://{}", server.addrs().first().map(ToString::to_string).unwrap_or_default());
    server.run().await?;
    Ok(())
}
