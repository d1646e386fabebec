//! actix-web with an OpenAPI document: the twin of `axum_openapi.rs`, the same routes and document.
//! Run: `JWT_SECRET=$(openssl rand -base64 32) cargo run` (here: `cargo run --example actix_openapi`),
//! then `curl -s localhost:3009/openapi.json`.
use actix_web::{App, HttpResponse, HttpServer, web};
use auth_actix::auth_core::{AuthGuard, RouteSet};
use auth_actix::{AuthMiddleware, prelude::*};
use utoipa::OpenApi;

/// Greets the token's user.
#[utoipa::path(get, path = "/me", responses((status = 200, description = "A greeting", body = String)))]
async fn me(id: Authenticated) -> String {
    format!("hi, {}\n", id.username())
}

#[derive(OpenApi)]
#[openapi(paths(me), info(title = "my app"))]
struct ApiDoc;

async fn openapi(doc: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(doc.get_ref())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt::init();
    let users = MemoryUsers::new();
    users.add_user(Principal::new("1", "alice"), "wonderland").await?;
    let secret = std::env::var("JWT_SECRET").map_err(|_| "set JWT_SECRET to 32+ random bytes")?;
    let authority = Authority::hs256(secret)?.users(users).build();
    let routes = RouteSet::new(authority, Standard); // what `authority.routes(Standard)` serves
    let guard = AuthGuard::for_routes(&routes); // what `authority.middleware()` checks
    let mut doc = ApiDoc::openapi().nest("/auth", routes.openapi()); // POST /auth/login, /auth/refresh, ...
    guard.openapi().protect(&mut doc, "/me"); // the Bearer requirement, and the 400, 401 and 503 answers
    let doc = web::Data::new(doc);
    let app = move || {
        App::new()
            .app_data(doc.clone())
            .service(web::resource("/me").wrap(AuthMiddleware::new(guard.clone())).get(me))
            .route("/openapi.json", web::get().to(openapi))
            .service(web::scope("/auth").configure(auth_actix::routes(routes.clone())))
    };
    HttpServer::new(app).bind("127.0.0.1:3009")?.run().await?;
    Ok(())
}
