//! The demo as an axum `Router`.

use auth_core::Guard;
use auth_tower::{AuthLayer, AuthRejection, AuthRoutes, Authenticated, RequireRole};
use axum::extract::Path;
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use serde_json::Value;

use crate::{Admin, Demo, DialectName, admin_body, maybe_body, public_body, samples};

async fn whoami(id: Authenticated) -> Json<Value> {
    Json(id.summary())
}

async fn sachet_user(
    Path(username): Path<String>,
    Extension(guard): Extension<Guard>,
    id: Authenticated,
) -> Result<Json<Value>, AuthRejection> {
    samples::sachet_user(&id, &username).map(Json).map_err(|e| AuthRejection::from_guard(&guard, e))
}

pub(crate) fn router(demo: &Demo) -> Router {
    let auth = AuthRoutes::new(demo.routes.clone());
    let layer = || AuthLayer::new(demo.guard.clone());
    let router = Router::new()
        .route("/public", get(|| async { Json(public_body()) }))
        .route("/whoami", get(whoami).layer(layer()))
        .route("/admin", get(|id: RequireRole<Admin>| async move { Json(admin_body(&id)) }).layer(layer()))
        .route(
            "/maybe",
            get(|id: Option<Authenticated>| async move { Json(maybe_body(id.as_deref())) })
                .layer(AuthLayer::new(demo.guard.clone().optional(true))),
        );
    // The seed's sample routes. Where one shares a path with the dialect's
    // routes, other methods fall through to the route set.
    let router = match demo.dialect {
        DialectName::Echome => router.route(
            samples::ECHOME_VMS,
            get(|_: Authenticated| async { Json(samples::echome_vms()) }).layer(layer()),
        ),
        DialectName::Sachet => {
            router.route("/users/{username}", get(sachet_user).layer(layer()).fallback_service(auth.clone()))
        }
        DialectName::Keytoken => {
            router.route("/users", patch(whoami).layer(layer()).fallback_service(auth.clone()))
        }
        DialectName::Drf => router.route("/protected-url/", post(whoami).layer(layer())),
        DialectName::Standard | DialectName::Datarhei => router,
    };
    router.fallback_service(auth)
}
