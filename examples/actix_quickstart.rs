//! actix-web quickstart: the twin of `axum_quickstart.rs`, the same routes and answers.
//! Run: `JWT_SECRET=$(openssl rand -base64 32) cargo run` (here: `cargo run --example actix_quickstart`),
//! then `curl -s -X POST localhost:3002/auth/login -d username=alice -d password=wonderland`.
use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::prelude::*;

role!(Admin = "admin");

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init(); // the toolkit says what is wrong through `tracing`
    let users = MemoryUsers::new(); // who may log in: your own UserStore in a real app
    users.add_user(Principal::new("1", "alice").with_role("admin"), "wonderland").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let authority = Authority::hs256(secret)?.users(users).build();
    let app = move || {
        let me = |id: Authenticated| async move { HttpResponse::Ok().json(id.summary()) };
        let admin = |id: RequireRole<Admin>| async move { format!("hi, admin {}\n", id.username()) };
        let hello =
            |id: MaybeAuthenticated| async move { format!("hi, {}\n", id.username().unwrap_or("guest")) };
        App::new() // each protected resource wrapped: unknown paths stay 404
            .service(web::resource("/me").wrap(authority.middleware()).get(me))
            .service(web::resource("/admin").wrap(authority.middleware()).get(admin))
            .service(web::resource("/hello").wrap(authority.middleware().optional()).get(hello))
            .service(web::scope("/auth").configure(authority.routes(Standard))) // POST /auth/login, ...
    };
    HttpServer::new(app).bind("127.0.0.1:3002")?.run().await?;
    Ok(())
}
