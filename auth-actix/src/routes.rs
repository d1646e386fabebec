//! [`routes`]: a dialect's route set, mounted with `configure`.

use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use auth_core::{AuthRequest, RouteSet};

use crate::convert::{authorization, browser, peer, to_http};

/// Mounts `routes` on the `App` or `Scope` being configured: every path
/// below it goes to the core's route engine. Bodies over the route set's
/// limit answer 413 without being read to the end.
///
/// ```
/// use actix_web::{web, App};
/// use auth_core::{Authority, JwtKey, KeySet, RouteSet, Standard};
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
/// let app = App::new().service(web::scope("/auth").configure(auth_actix::routes(RouteSet::new(authority, Standard))));
/// # let _ = app;
/// ```
pub fn routes(routes: RouteSet) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.route("/{tail:.*}", service(routes));
    }
}

/// The route set as one actix `Route`, for `default_service`: it sees full
/// paths, so give the set its mount point with [`RouteSet::at`].
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use auth_core::{Authority, JwtKey, KeySet, RouteSet, Standard};
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
/// let app = App::new()
///     .route("/public", web::get().to(HttpResponse::Ok))
///     .default_service(auth_actix::service(RouteSet::new(authority, Standard).at("/auth")));
/// # let _ = app;
/// ```
pub fn service(routes: RouteSet) -> actix_web::Route {
    web::to(move |req: HttpRequest, payload: web::Payload| {
        let routes = routes.clone();
        async move { to_http(serve(&routes, req, payload).await) }
    })
}

async fn serve(routes: &RouteSet, req: HttpRequest, payload: web::Payload) -> auth_core::AuthResponse {
    let path = match req.match_info().get("tail") {
        Some(tail) => format!("/{tail}"),
        None => req.path().to_owned(),
    };
    let method = req.method().as_str();
    // Route first: a wrong method, path or declared size is answered before any body is read.
    if let Err(res) = routes.preflight(method, &path, req.headers().get(CONTENT_LENGTH).map(|v| v.as_bytes()))
    {
        return res;
    }
    let body = match payload.to_bytes_limited(routes.max_body()).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return routes.unreadable_body(method, &path, false),
        Err(_) => return routes.unreadable_body(method, &path, true),
    };
    let header = |name| req.headers().get(name).map(|v: &actix_web::http::header::HeaderValue| v.as_bytes());
    let request = AuthRequest {
        method: method.to_owned(),
        path,
        authorization: authorization(req.headers()).into_owned(),
        content_type: header(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v).into_owned()),
        body: body.to_vec(),
        peer: peer(req.headers(), req.peer_addr()),
        browser: browser(req.headers(), req.uri()),
    };
    routes.handle(request).await
}
