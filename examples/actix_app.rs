//! The demo as actix-web routes.

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use auth_actix::{AuthMiddleware, AuthRejection, Authenticated, MaybeAuthenticated, RequireRole};
use auth_core::AuthGuard;

use crate::samples::{GET, POST};
use crate::{Admin, Demo, DialectName, JWKS_PATH, admin_body, maybe_body, public_body, samples};

async fn whoami(id: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(id.summary())
}

async fn sachet_user(
    username: web::Path<String>,
    guard: web::ReqData<AuthGuard>,
    id: Authenticated,
) -> Result<HttpResponse, AuthRejection> {
    samples::sachet_user(&id, &username)
        .map(|body| HttpResponse::Ok().json(body))
        .map_err(|e| AuthRejection::from_guard(&guard, e))
}

/// 405 with `Allow` in the dialect's envelope, for the methods a resource lacks.
fn wrong_method(guard: &AuthGuard, allow: &'static [&'static str]) -> actix_web::Route {
    let guard = guard.clone();
    web::to(move || {
        let guard = guard.clone();
        async move { Err::<HttpResponse, _>(AuthRejection::from_guard(&guard, samples::wrong_method(allow))) }
    })
}

pub(crate) fn configure(demo: Demo) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg| {
        let guard = &demo.guard;
        let mw = || AuthMiddleware::new(guard.clone());
        let auth = || auth_actix::service(demo.routes.clone());
        // A GET resource answers HEAD too (as axum's `get` does), and any
        // other method with the 405, before any authentication.
        let get_resource = |path: &str, route: fn() -> actix_web::Route, mw: Option<AuthMiddleware>| {
            let with = |r: actix_web::Route| match &mw {
                Some(mw) => r.wrap(mw.clone()),
                None => r,
            };
            web::resource(path)
                .route(with(route().method(Method::GET)))
                .route(with(route().method(Method::HEAD)))
                .default_service(wrong_method(guard, GET))
        };
        cfg.service(get_resource(
            "/public",
            || web::to(|| async { HttpResponse::Ok().json(public_body()) }),
            None,
        ))
        .service(get_resource("/whoami", || web::to(whoami), Some(mw())))
        .service(get_resource(
            "/admin",
            || web::to(|id: RequireRole<Admin>| async move { HttpResponse::Ok().json(admin_body(&id)) }),
            Some(mw()),
        ))
        .service(get_resource(
            "/maybe",
            || {
                web::to(|MaybeAuthenticated(id): MaybeAuthenticated| async move {
                    HttpResponse::Ok().json(maybe_body(id.as_ref()))
                })
            },
            Some(AuthMiddleware::new(guard.clone().optional(true))),
        ));
        // Each real API's sample routes. Where one shares a path with the
        // dialect's routes, other methods fall through to the route set.
        match demo.dialect {
            DialectName::Echome => {
                cfg.service(get_resource(
                    samples::ECHOME_VMS,
                    || web::to(|_: Authenticated| async { HttpResponse::Ok().json(samples::echome_vms()) }),
                    Some(mw()),
                ));
            }
            DialectName::Sachet => {
                cfg.service(
                    web::resource("/users/{username}")
                        .route(web::get().to(sachet_user).wrap(mw()))
                        .route(web::head().to(sachet_user).wrap(mw()))
                        .default_service(auth()),
                );
            }
            DialectName::Keytoken => {
                cfg.service(
                    web::resource("/users").route(web::patch().to(whoami).wrap(mw())).default_service(auth()),
                );
            }
            DialectName::Drf => {
                cfg.service(
                    web::resource("/protected-url/")
                        .route(web::post().to(whoami).wrap(mw()))
                        .default_service(wrong_method(guard, POST)),
                );
            }
            DialectName::Standard | DialectName::Datarhei => {}
        }
        if let Some(jwks) = &demo.jwks {
            cfg.service(web::resource(JWKS_PATH).default_service(auth_actix::service(jwks.clone())));
        }
        cfg.default_service(auth());
    }
}
