//! The demo as an axum `Router`.

use auth_tower::{AuthLayer, AuthRoutes, Authenticated, RequireRole};
use axum::routing::get;
use axum::{Json, Router};

use crate::{Admin, Demo, admin_body, maybe_body, public_body};

pub(crate) fn router(demo: &Demo) -> Router {
    Router::new()
        .route("/public", get(|| async { Json(public_body()) }))
        .route(
            "/whoami",
            get(|id: Authenticated| async move { Json(id.summary()) })
                .layer(AuthLayer::new(demo.guard.clone())),
        )
        .route(
            "/admin",
            get(|id: RequireRole<Admin>| async move { Json(admin_body(&id)) })
                .layer(AuthLayer::new(demo.guard.clone())),
        )
        .route(
            "/maybe",
            get(|id: Option<Authenticated>| async move { Json(maybe_body(id.as_deref())) })
                .layer(AuthLayer::new(demo.guard.clone().optional(true))),
        )
        .nest_service(demo.mount, AuthRoutes::new(demo.routes.clone()))
}
