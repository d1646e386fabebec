//! The demo as an axum `Router`.

use auth_core::{AuthGuard, AuthResponse};
use auth_tower::{AuthLayer, AuthRejection, AuthRoutes, Authenticated, RequireRole, respond};
use axum::body::Body;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::routing::{MethodRouter, any, get, patch, post};
use axum::{Extension, Json, Router};
use http_body_util::{BodyExt as _, Limited};
use serde_json::Value;

use crate::notes::{self, MAX_NOTES_BODY, NOTES_METHODS, NOTES_PATH, Notes};
use crate::openapi::{self, OPENAPI_PATH};
use crate::page::{PAGE_PATH, Page, SCRIPT_PATH};
use crate::samples::{GET, POST};
use crate::{Admin, Demo, DialectName, JWKS_PATH, admin_body, maybe_body, public_body, samples};

async fn whoami(id: Authenticated) -> Json<Value> {
    Json(id.summary())
}

async fn sachet_user(
    Path(username): Path<String>,
    Extension(guard): Extension<AuthGuard>,
    id: Authenticated,
) -> Result<Json<Value>, AuthRejection> {
    samples::sachet_user(&id, &username).map(Json).map_err(|e| AuthRejection::from_guard(&guard, e))
}

async fn logout_everywhere(
    Extension(guard): Extension<AuthGuard>,
    id: Authenticated,
) -> Result<axum::http::StatusCode, AuthRejection> {
    samples::logout_everywhere(guard.authority(), &id)
        .await
        .map(|()| axum::http::StatusCode::NO_CONTENT)
        .map_err(|e| AuthRejection::from_guard(&guard, e))
}

/// 405 with `Allow` in the dialect's envelope, for the methods a route lacks.
fn wrong_method(guard: &AuthGuard, allow: &'static [&'static str]) -> MethodRouter {
    let guard = guard.clone();
    any(move || {
        let guard = guard.clone();
        async move { AuthRejection::from_guard(&guard, samples::wrong_method(allow)) }
    })
}

/// `POST /notes`: the body read up to the limit, then the notes decide.
async fn add_note(notes: &Notes, id: &Authenticated, headers: &HeaderMap, body: Body) -> AuthResponse {
    if let Some(res) = notes::declared_too_large(headers.get(CONTENT_LENGTH).map(|v| v.as_bytes())) {
        return res;
    }
    let bytes = match Limited::new(body, MAX_NOTES_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => return notes::unreadable_body(err.is::<http_body_util::LengthLimitError>()),
    };
    let content_type = headers.get(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    notes.post(id, content_type.as_deref(), &bytes)
}

/// Cookie mode's routes: the page, its script and the notes.
fn browser_routes(router: Router, demo: &Demo, page: Page) -> Router {
    let guard = &demo.guard;
    let (index, script) = (page.clone(), page);
    let (listed, added) = (demo.notes.clone(), demo.notes.clone());
    let list = move |id: Authenticated| {
        let notes = listed.clone();
        async move { respond(notes.get(&id)) }
    };
    let add = move |id: Authenticated, headers: HeaderMap, body: Body| {
        let notes = added.clone();
        async move { respond(add_note(&notes, &id, &headers, body).await) }
    };
    router
        .route(
            PAGE_PATH,
            get(move || {
                let res = index.index();
                async move { respond(res) }
            })
            .fallback_service(wrong_method(guard, GET)),
        )
        .route(
            SCRIPT_PATH,
            get(move || {
                let res = script.script();
                async move { respond(res) }
            })
            .fallback_service(wrong_method(guard, GET)),
        )
        .route(
            NOTES_PATH,
            get(list)
                .post(add)
                .route_layer(AuthLayer::new(guard.clone()))
                .fallback_service(wrong_method(guard, NOTES_METHODS)),
        )
}

pub(crate) fn router(demo: &Demo) -> Router {
    let auth = AuthRoutes::new(demo.routes.clone());
    let guard = &demo.guard;
    let document = openapi::response(demo);
    // `route_layer`: the check runs for the methods a route serves; any
    // other method gets the 405 first.
    let protect = |route: MethodRouter, allow| {
        route.route_layer(AuthLayer::new(guard.clone())).fallback_service(wrong_method(guard, allow))
    };
    let router = Router::new()
        .route("/public", get(|| async { Json(public_body()) }).fallback_service(wrong_method(guard, GET)))
        .route("/whoami", protect(get(whoami), GET))
        .route(
            OPENAPI_PATH,
            get(move || async move { respond(document) }).fallback_service(wrong_method(guard, GET)),
        )
        .route("/admin", protect(get(|id: RequireRole<Admin>| async move { Json(admin_body(&id)) }), GET))
        .route(samples::LOGOUT_EVERYWHERE, protect(post(logout_everywhere), POST))
        .route(
            "/maybe",
            get(|id: Option<Authenticated>| async move { Json(maybe_body(id.as_deref())) })
                .route_layer(AuthLayer::new(guard.clone().optional(true)))
                .fallback_service(wrong_method(guard, GET)),
        );
    // Each real API's sample routes. Where one shares a path with the dialect's
    // routes, other methods fall through to the route set.
    let router = match demo.dialect {
        DialectName::Echome => router.route(
            samples::ECHOME_VMS,
            protect(get(|_: Authenticated| async { Json(samples::echome_vms()) }), GET),
        ),
        DialectName::Sachet => router.route(
            "/users/{username}",
            get(sachet_user).route_layer(AuthLayer::new(guard.clone())).fallback_service(auth.clone()),
        ),
        DialectName::Keytoken => router.route(
            "/users",
            patch(whoami).route_layer(AuthLayer::new(guard.clone())).fallback_service(auth.clone()),
        ),
        DialectName::Drf => router.route("/protected-url/", protect(post(whoami), POST)),
        DialectName::Standard | DialectName::Datarhei => router,
    };
    let router = match &demo.jwks {
        Some(jwks) => router.route_service(JWKS_PATH, AuthRoutes::new(jwks.clone())),
        None => router,
    };
    let router = match demo.page() {
        Some(page) => browser_routes(router, demo, page),
        None => router,
    };
    router.fallback_service(auth)
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use crate::browser_tests::{Answer, Call, cookie_mode, demo, without_cookies};

    fn sender(router: axum::Router) -> impl Fn(Call) -> std::pin::Pin<Box<dyn Future<Output = Answer>>> {
        move |call: Call| {
            let router = router.clone();
            Box::pin(async move {
                let mut req = axum::http::Request::builder().method(call.method).uri(call.path);
                for (name, value) in call.headers {
                    req = req.header(name, value);
                }
                let res = router.oneshot(req.body(axum::body::Body::from(call.body)).unwrap()).await.unwrap();
                let status = res.status().as_u16();
                let headers = res
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                    .collect();
                let body = res.into_body().collect().await.unwrap().to_bytes().to_vec();
                Answer { status, headers, body }
            })
        }
    }

    #[tokio::test]
    async fn cookie_mode_serves_the_page_and_the_notes() {
        cookie_mode(sender(demo(&["--cookies"]).await.axum_router())).await;
    }

    #[tokio::test]
    async fn without_cookies_nothing_changes() {
        without_cookies(sender(demo(&[]).await.axum_router())).await;
    }
}
