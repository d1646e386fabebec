//! The demo as actix-web routes.

use actix_web::http::Method;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use auth_actix::{AuthMiddleware, AuthRejection, Authenticated, MaybeAuthenticated, RequireRole, respond};
use auth_core::{AuthGuard, AuthResponse};

use crate::notes::{self, MAX_NOTES_BODY, NOTES_METHODS, NOTES_PATH, Notes};
use crate::openapi::{self, OPENAPI_PATH};
use crate::page::{PAGE_PATH, Page, SCRIPT_PATH};
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

async fn logout_everywhere(
    guard: web::ReqData<AuthGuard>,
    id: Authenticated,
) -> Result<HttpResponse, AuthRejection> {
    samples::logout_everywhere(guard.authority(), &id)
        .await
        .map(|()| HttpResponse::NoContent().finish())
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

/// A handler that always answers `res`.
fn answer(res: AuthResponse) -> impl Fn() -> std::future::Ready<HttpResponse> + Clone + 'static {
    move || std::future::ready(respond(res.clone()))
}

/// `POST /notes`: the body read up to the limit, then the notes decide.
async fn add_note(
    notes: &Notes,
    id: &Authenticated,
    req: &HttpRequest,
    payload: web::Payload,
) -> AuthResponse {
    if let Some(res) = notes::declared_too_large(req.headers().get(CONTENT_LENGTH).map(|v| v.as_bytes())) {
        return res;
    }
    let bytes = match payload.to_bytes_limited(MAX_NOTES_BODY).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return notes::unreadable_body(false),
        Err(_) => return notes::unreadable_body(true),
    };
    let content_type =
        req.headers().get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    notes.post(id, content_type.as_deref(), &bytes)
}

/// Cookie mode's routes: the page, its script and the notes.
fn browser_routes(cfg: &mut web::ServiceConfig, demo: &Demo, page: Page) {
    let guard = &demo.guard;
    let mw = || AuthMiddleware::new(guard.clone());
    // GET and HEAD: one handler; any other method: the 405.
    let get_only = |path: &str, answer: fn(&Page) -> AuthResponse| {
        let page = page.clone();
        let route = move || {
            let page = page.clone();
            web::to(move || {
                let res = answer(&page);
                async move { respond(res) }
            })
        };
        web::resource(path)
            .route(route().method(Method::GET))
            .route(route().method(Method::HEAD))
            .default_service(wrong_method(guard, GET))
    };
    let list = || {
        let notes = demo.notes.clone();
        web::to(move |id: Authenticated| {
            let notes = notes.clone();
            async move { respond(notes.get(&id)) }
        })
    };
    let notes = demo.notes.clone();
    let add = web::to(move |id: Authenticated, req: HttpRequest, payload: web::Payload| {
        let notes = notes.clone();
        async move { respond(add_note(&notes, &id, &req, payload).await) }
    });
    cfg.service(get_only(PAGE_PATH, Page::index)).service(get_only(SCRIPT_PATH, Page::script)).service(
        web::resource(NOTES_PATH)
            .route(list().method(Method::GET).wrap(mw()))
            .route(list().method(Method::HEAD).wrap(mw()))
            .route(add.method(Method::POST).wrap(mw()))
            .default_service(wrong_method(guard, NOTES_METHODS)),
    );
}

pub(crate) fn configure(demo: Demo) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    move |cfg| {
        let guard = &demo.guard;
        let mw = || AuthMiddleware::new(guard.clone());
        let auth = || auth_actix::service(demo.routes.clone());
        let document = openapi::response(&demo);
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
        .service(
            web::resource(OPENAPI_PATH)
                .route(web::get().to(answer(document.clone())))
                .route(web::head().to(answer(document)))
                .default_service(wrong_method(guard, GET)),
        )
        .service(
            web::resource(samples::LOGOUT_EVERYWHERE)
                .route(web::post().to(logout_everywhere).wrap(mw()))
                .default_service(wrong_method(guard, POST)),
        )
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
        if let Some(page) = demo.page() {
            browser_routes(cfg, &demo, page);
        }
        cfg.default_service(auth());
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use actix_web::{App, test};

    use crate::browser_tests::{Answer, Call, cookie_mode, demo, without_cookies};

    async fn sender(demo: crate::Demo) -> impl Fn(Call) -> std::pin::Pin<Box<dyn Future<Output = Answer>>> {
        let app = Rc::new(test::init_service(App::new().configure(demo.actix_config())).await);
        move |call: Call| {
            let app = app.clone();
            Box::pin(async move {
                let method = actix_web::http::Method::from_bytes(call.method.as_bytes()).unwrap();
                let mut req = test::TestRequest::default().method(method).uri(call.path);
                for (name, value) in call.headers {
                    req = req.append_header((name, value));
                }
                let res = test::call_service(&*app, req.set_payload(call.body).to_request()).await;
                let status = res.status().as_u16();
                let headers = res
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                    .collect();
                let body = test::read_body(res).await.to_vec();
                Answer { status, headers, body }
            })
        }
    }

    #[actix_web::test]
    async fn cookie_mode_serves_the_page_and_the_notes() {
        cookie_mode(sender(demo(&["--cookies"]).await).await).await;
    }

    #[actix_web::test]
    async fn without_cookies_nothing_changes() {
        without_cookies(sender(demo(&[]).await).await).await;
    }
}
