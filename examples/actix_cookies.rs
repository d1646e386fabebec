//! actix-web in cookie mode: the twin of `axum_cookies.rs`, the same routes and answers.
//! Run: `JWT_SECRET=$(openssl rand -base64 32) cargo run` (here: `cargo run --example actix_cookies`).
use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::prelude::*;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "alice"), "wonderland").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let authority = Authority::hs256(secret)?.users(users).build();
    let cookies = CookieMode::new(); // routes at /auth: the refresh cookie goes to /auth/refresh only
    let app = move || {
        let me = |id: Authenticated| async move { HttpResponse::Ok().json(id.summary()) };
        let note = |id: Authenticated| async move { format!("noted for {}\n", id.username()) };
        let guard = authority.middleware().cookies(cookies.clone()); // the access cookie, or a Bearer header
        App::new()
            .service(web::resource("/me").wrap(guard.clone()).get(me))
            .service(web::resource("/notes").wrap(guard).post(note)) // a POST: needs X-CSRF-Token too
            .service(web::scope("/auth").configure(authority.cookie_routes(cookies.clone())))
    };
    HttpServer::new(app).bind("127.0.0.1:3004")?.run().await?;
    Ok(())
}
