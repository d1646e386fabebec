//! Wiring mistakes a newcomer makes, on both frameworks: each is loud (a
//! 500 and a logged `error` naming the fix, or one `error` at the first
//! login) and none turns into an outage, a lock-out or a silent pass.

use auth_core::{MemoryUsers, Principal};
use serde_json::json;

use crate::harness::{Capture, Client, Req, configured_client, json_of, request, router_client};

const SECRET: &str = "wiring-secret-of-at-least-32-bytes!!";

fn authority() -> auth_core::Authority {
    let users = MemoryUsers::new()
        .with_user(Principal::new("1", "alice").with_role("admin"), "wonderland")
        .expect("a user");
    auth_core::Authority::hs256(SECRET).expect("a long secret").users(users).build()
}

/// The quickstart's app with one mistake more: `/bare` reads the identity
/// on a route no guard protects. `/hello` is optional, `/me` required.
fn axum_app(authority: &auth_core::Authority) -> axum::Router {
    use auth_tower::prelude::*;
    use axum::routing::get;
    let me = |id: Authenticated| async move { id.username().to_owned() };
    let hello = |id: MaybeAuthenticated| async move { id.username().unwrap_or("guest").to_owned() };
    axum::Router::new()
        .route("/me", get(me))
        .route_layer(authority.layer())
        .route("/hello", get(hello).route_layer(authority.layer().optional()))
        .route("/bare", get(me))
        .route("/bare-maybe", get(hello))
        .nest_service("/auth", authority.routes(Standard))
}

async fn actix_app(authority: &auth_core::Authority) -> Client {
    use actix_web::web;
    use auth_actix::prelude::*;
    let authority = authority.clone();
    configured_client(move |cfg| {
        let me = |id: Authenticated| async move { id.username().to_owned() };
        let hello = |id: MaybeAuthenticated| async move { id.username().unwrap_or("guest").to_owned() };
        let option = |id: Option<Authenticated>| async move {
            id.map_or_else(|| "guest".to_owned(), |id| id.username().to_owned())
        };
        cfg.service(web::resource("/me").wrap(authority.middleware()).get(me))
            .service(web::resource("/hello").wrap(authority.middleware().optional()).get(hello))
            .service(web::resource("/hello-option").wrap(authority.middleware().optional()).get(option))
            .service(web::resource("/bare").get(me))
            .service(web::resource("/bare-maybe").get(hello))
            .service(web::scope("/auth").configure(authority.routes(Standard)));
    })
    .await
}

fn get(path: &str, auth: Option<&str>) -> Req {
    request("GET", path, auth, None)
}

fn login(password: &str) -> Req {
    request("POST", "/auth/login", None, Some(json!({"username": "alice", "password": password})))
}

/// The checks both frameworks must pass; `optional` lists the optional routes.
async fn wiring(framework: &str, client: Client, optional: &[&str], capture: &Capture) {
    let res = client(login("wonderland")).await;
    assert_eq!(res.status, 200, "[{framework}] login");
    let token = json_of(&res)["access_token"].as_str().expect("a token").to_owned();
    let bearer = format!("Bearer {token}");

    // a route that no guard protects: 500 server_error, never 503 or a pass
    for path in ["/bare", "/bare-maybe"] {
        for auth in [None, Some(bearer.as_str()), Some("Bearer garbage")] {
            let res = client(get(path, auth)).await;
            assert_eq!(res.status, 500, "[{framework}] {path} {auth:?}");
            assert_eq!(res.header("retry-after"), None, "[{framework}] {path}: not an outage");
            assert_eq!(json_of(&res)["error"], "server_error", "[{framework}] {path}");
        }
    }
    let logged = capture.text();
    assert!(
        logged.contains("ERROR")
            && logged.contains("authority.layer()")
            && logged.contains("authority.middleware()"),
        "[{framework}] the missing guard is logged as an error naming the fix:\n{logged}"
    );

    // optional routes: anonymous passes, a garbage token is refused
    for path in optional {
        let res = client(get(path, None)).await;
        assert_eq!((res.status, String::from_utf8_lossy(&res.body).into_owned()), (200, "guest".into()));
        let res = client(get(path, Some(&bearer))).await;
        assert_eq!((res.status, String::from_utf8_lossy(&res.body).into_owned()), (200, "alice".into()));
        let res = client(get(path, Some("Bearer garbage"))).await;
        assert_eq!(res.status, 401, "[{framework}] {path} with a garbage token");
        assert_eq!(
            res.header("www-authenticate"),
            Some(r#"Bearer realm="api", error="invalid_token", error_description="the token is malformed""#),
            "[{framework}] {path}"
        );
    }
    // route layering: an unknown path stays a 404, a guarded one needs a token
    assert_eq!(client(get("/nowhere", None)).await.status, 404, "[{framework}] unknown path");
    assert_eq!(client(get("/me", None)).await.status, 401, "[{framework}] /me anonymous");
    assert_eq!(client(get("/me", Some(&bearer))).await.status, 200, "[{framework}] /me");
}

#[test]
fn wiring_mistakes_are_loud_and_refuse_on_both_frameworks() {
    let capture = Capture::default();
    capture.during(|| {
        actix_rt::System::new().block_on(async {
            let authority = authority();
            wiring("axum", router_client(axum_app(&authority)), &["/hello"], &capture).await;
            let client = actix_app(&authority).await;
            wiring("actix", client, &["/hello", "/hello-option"], &capture).await;
        })
    });
}

#[test]
fn axum_without_connect_info_logs_an_error_and_refills_no_guesser() {
    let capture = Capture::default();
    capture.during(|| {
        actix_rt::System::new().block_on(async {
            // served as `axum::serve(listener, app)`: no peer address at all
            let client = router_client(axum_app(&authority()));
            for _ in 0..5 {
                let res = client(login("a wrong guess")).await;
                assert_eq!((res.status, json_of(&res)["error"].clone()), (400, json!("invalid_grant")));
            }
            // the owner, whose requests look the same to this server
            let res = client(login("wonderland")).await;
            assert_eq!(res.status, 200, "not locked out: {}", String::from_utf8_lossy(&res.body));
            // the owner's success took back only its own attempt: the
            // guesser's five still count against the 20 the user rule
            // lets through, so its budget is not refilled by the owner
            let mut let_through = 0;
            loop {
                let res = client(login("another guess")).await;
                match res.status {
                    400 => let_through += 1,
                    429 => break,
                    other => panic!("a guess answered {other}"),
                }
                assert!(let_through <= 20, "no slow-down after {let_through} more guesses");
            }
            assert_eq!(let_through, 15, "20 per user in all, the owner's login refilled nothing");
        })
    });
    let logged = capture.text();
    let errors: Vec<&str> = logged.lines().filter(|l| l.contains("no client address")).collect();
    assert_eq!(errors.len(), 1, "logged once:\n{logged}");
    assert!(errors[0].contains("ERROR"), "as an error: {}", errors[0]);
    assert!(errors[0].contains("into_make_service_with_connect_info"), "naming the fix: {}", errors[0]);
}

/// An optional guard inside a required one: the inner guard decides, so an
/// identity only the outer one admitted does not reach the handler.
#[test]
fn the_innermost_guard_decides_on_both_frameworks() {
    use auth_core::{AuthGuard, Scheme};
    let authority = authority();
    let inner = AuthGuard::new(authority.clone()).schemes(&[Scheme::Token]).optional(true);
    let axum_app = {
        use auth_tower::prelude::*;
        use axum::routing::get;
        let me = |id: Authenticated| async move { id.username().to_owned() };
        axum::Router::new()
            .route("/outer/inner", get(me).route_layer(AuthLayer::new(inner.clone())))
            .route_layer(authority.layer())
            .nest_service("/auth", authority.routes(Standard))
    };
    actix_rt::System::new().block_on(async {
        let actix_app = {
            use actix_web::web;
            use auth_actix::prelude::*;
            let (authority, inner) = (authority.clone(), inner.clone());
            configured_client(move |cfg| {
                let me = |id: Authenticated| async move { id.username().to_owned() };
                cfg.service(
                    web::scope("/outer")
                        .wrap(authority.middleware())
                        .service(web::resource("/inner").wrap(AuthMiddleware::new(inner)).get(me)),
                )
                .service(web::scope("/auth").configure(authority.routes(Standard)));
            })
            .await
        };
        for (framework, client) in [("axum", router_client(axum_app)), ("actix", actix_app)] {
            let res = client(login("wonderland")).await;
            let token = json_of(&res)["access_token"].as_str().expect("a token").to_owned();
            // the outer guard admits the Bearer token; the inner one reads only `Token`
            let res = client(get("/outer/inner", Some(&format!("Bearer {token}")))).await;
            assert_eq!(res.status, 401, "[{framework}] {}", String::from_utf8_lossy(&res.body));
            assert_eq!(res.header("www-authenticate"), Some(r#"Token realm="api""#), "[{framework}]");
        }
    });
}
