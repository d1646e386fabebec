//! The demo as actix-web routes.

use actix_web::{HttpResponse, web};
use auth_actix::{AuthMiddleware, Authenticated, MaybeAuthenticated, RequireRole};

use crate::{Admin, Demo, admin_body, maybe_body, public_body};

pub(crate) fn configure(demo: Demo) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg| {
        cfg.service(web::scope(demo.mount).configure(auth_actix::routes(demo.routes.clone())))
            .route("/public", web::get().to(|| async { HttpResponse::Ok().json(public_body()) }))
            .service(web::resource("/whoami").wrap(AuthMiddleware::new(demo.guard.clone())).route(
                web::get().to(|id: Authenticated| async move { HttpResponse::Ok().json(id.summary()) }),
            ))
            .service(
                web::resource("/admin")
                    .wrap(AuthMiddleware::new(demo.guard.clone()))
                    .route(web::get().to(|id: RequireRole<Admin>| async move {
                        HttpResponse::Ok().json(admin_body(&id))
                    })),
            )
            .service(
                web::resource("/maybe").wrap(AuthMiddleware::new(demo.guard.clone().optional(true))).route(
                    web::get().to(|MaybeAuthenticated(id): MaybeAuthenticated| async move {
                        HttpResponse::Ok().json(maybe_body(id.as_ref()))
                    }),
                ),
            );
    }
}
