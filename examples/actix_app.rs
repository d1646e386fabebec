//! The demo as actix-web routes.

use actix_web::{HttpResponse, web};
use auth_actix::{AuthMiddleware, AuthRejection, Authenticated, MaybeAuthenticated, RequireRole};
use auth_core::Guard;

use crate::{Admin, Demo, DialectName, admin_body, maybe_body, public_body, samples};

async fn whoami(id: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(id.summary())
}

async fn sachet_user(
    username: web::Path<String>,
    guard: web::ReqData<Guard>,
    id: Authenticated,
) -> Result<HttpResponse, AuthRejection> {
    samples::sachet_user(&id, &username)
        .map(|body| HttpResponse::Ok().json(body))
        .map_err(|e| AuthRejection::from_guard(&guard, e))
}

pub(crate) fn configure(demo: Demo) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg| {
        let mw = || AuthMiddleware::new(demo.guard.clone());
        let auth = || auth_actix::service(demo.routes.clone());
        cfg.route("/public", web::get().to(|| async { HttpResponse::Ok().json(public_body()) }))
            .route("/whoami", web::get().to(whoami).wrap(mw()))
            .route(
                "/admin",
                web::get()
                    .to(|id: RequireRole<Admin>| async move { HttpResponse::Ok().json(admin_body(&id)) })
                    .wrap(mw()),
            )
            .route(
                "/maybe",
                web::get()
                    .to(|MaybeAuthenticated(id): MaybeAuthenticated| async move {
                        HttpResponse::Ok().json(maybe_body(id.as_ref()))
                    })
                    .wrap(AuthMiddleware::new(demo.guard.clone().optional(true))),
            );
        // The seed's sample routes. Where one shares a path with the
        // dialect's routes, other methods fall through to the route set.
        match demo.dialect {
            DialectName::Echome => {
                cfg.route(
                    samples::ECHOME_VMS,
                    web::get()
                        .to(|_: Authenticated| async { HttpResponse::Ok().json(samples::echome_vms()) })
                        .wrap(mw()),
                );
            }
            DialectName::Sachet => {
                cfg.service(
                    web::resource("/users/{username}")
                        .route(web::get().to(sachet_user).wrap(mw()))
                        .default_service(auth()),
                );
            }
            DialectName::Keytoken => {
                cfg.service(
                    web::resource("/users").route(web::patch().to(whoami).wrap(mw())).default_service(auth()),
                );
            }
            DialectName::Drf => {
                cfg.route("/protected-url/", web::post().to(whoami).wrap(mw()));
            }
            DialectName::Standard | DialectName::Datarhei => {}
        }
        cfg.default_service(auth());
    }
}
