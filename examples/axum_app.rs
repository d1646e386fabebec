//! The demo as an axum `Router`.

use auth_core::AuthGuard;
use auth_tower::{AuthLayer, AuthRejection, AuthRoutes, Authenticated, RequireRole};
use axum::extract::Path;
use axum::routing::{MethodRouter, any, get, patch, post};
use axum::{Extension, Json, Router};
use serde_json::Value;

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

/// 405 with `Allow` in the dialect's envelope, for the methods a route lacks.
fn wrong_method(guard: &AuthGuard, allow: &'static [&'static str]) -> MethodRouter {
    let guard = guard.clone();
    any(move || {
        let guard = guard.clone();
        async move { AuthRejection::from_guard(&guard, samples::wrong_method(allow)) }
    })
}

pub(crate) fn router(demo: &Demo) -> Router {
    let auth = AuthRoutes::new(demo.routes.clone());
    let guard = &demo.guard;
    // `route_layer`: the check runs for the methods a route serves; any
    // other method gets the 405 first.
    let protect = |route: MethodRouter, allow| {
        route.route_layer(AuthLayer::new(guard.clone())).fallback_service(wrong_method(guard, allow))
    };
    let router = Router::new()
        .route("/public", get(|| async { Json(public_body()) }).fallback_service(wrong_method(guard, GET)))
        .route("/whoami", protect(get(whoami), GET))
        .route("/admin", protect(get(|id: RequireRole<Admin>| async move { Json(admin_body(&id)) }), GET))
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
    router.fallback_service(auth)
}
