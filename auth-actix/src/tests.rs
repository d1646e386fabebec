//! The middleware, extractors and route set through a real actix `App`.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use auth_core::{AuthGuard, Authority, JwtKey, KeySet, MemoryUsers, Principal, RouteSet, Standard};
use serde_json::{Value, json};

use crate::{AuthMiddleware, Authenticated, MaybeAuthenticated, RequireRole, Role};

struct Admin;
impl Role for Admin {
    const NAME: &'static str = "admin";
}

fn authority() -> Authority {
    let users = MemoryUsers::new()
        .with_user(Principal::new("u-alice", "alice").with_role("admin"), "alice-pw")
        .and_then(|u| u.with_user(Principal::new("u-bob", "bob"), "bob-pw"))
        .expect("test users");
    Authority::builder(
        KeySet::new(JwtKey::hs256("k1", b"actix-test-secret-of-32-bytes-min").expect("key"))
            .expect("a signing key"),
    )
    .users(users)
    .build()
}

/// A GET request for `path`, with `auth` as its `Authorization` header.
macro_rules! get {
    ($path:expr, $auth:expr) => {{
        let mut r = test::TestRequest::get().uri($path);
        let auth: Option<&str> = $auth;
        if let Some(a) = auth {
            r = r.insert_header(("authorization", a));
        }
        r.to_request()
    }};
}

async fn whoami(id: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(id.summary())
}

async fn maybe(MaybeAuthenticated(id): MaybeAuthenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({"user": id.map(|i| i.username().to_owned())}))
}

async fn admin(id: RequireRole<Admin>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"admin": id.username()}))
}

async fn read(res: ServiceResponse) -> (StatusCode, Option<String>, Value) {
    let status = res.status();
    let challenge = res.headers().get("www-authenticate").map(|v| v.to_str().expect("ascii").to_owned());
    let bytes = test::read_body(res).await;
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("json") };
    (status, challenge, body)
}

#[actix_rt::test]
async fn middleware_extractors_and_routes() {
    let a = authority();
    let guard = AuthGuard::new(a.clone());
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/auth")
                    .configure(crate::routes(RouteSet::new(a.clone(), Standard).body_limit(1024))),
            )
            .service(
                web::scope("/opt")
                    .wrap(AuthMiddleware::new(guard.clone().optional(true)))
                    .route("/maybe", web::get().to(maybe)),
            )
            .service(
                web::scope("")
                    .wrap(AuthMiddleware::new(guard))
                    .route("/whoami", web::get().to(whoami))
                    .route("/admin", web::get().to(admin)),
            ),
    )
    .await;
    let login = |user: &str, pw: &str| {
        test::TestRequest::post()
            .uri("/auth/login")
            .set_json(json!({"username": user, "password": pw}))
            .to_request()
    };
    let (status, _, bob) = read(app.call(login("bob", "bob-pw")).await.expect("call")).await;
    assert_eq!(status, StatusCode::OK);
    let bob_auth = format!("bearer {}", bob["access_token"].as_str().expect("access"));

    let (status, _, body) = read(app.call(get!("/whoami", Some(&bob_auth))).await.expect("call")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"sub": "u-bob", "username": "bob", "roles": []})));
    let (status, challenge, _) = read(app.call(get!("/whoami", None)).await.expect("call")).await;
    assert_eq!((status, challenge.as_deref()), (StatusCode::UNAUTHORIZED, Some(r#"Bearer realm="api""#)));
    let (status, challenge, _) = read(app.call(get!("/admin", Some(&bob_auth))).await.expect("call")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(challenge.is_some_and(|c| c.contains(r#"error="insufficient_scope""#)));
    let (_, _, body) = read(app.call(get!("/opt/maybe", None)).await.expect("call")).await;
    assert_eq!(body, json!({"user": null}));
    let (_, _, body) = read(app.call(get!("/opt/maybe", Some(&bob_auth))).await.expect("call")).await;
    assert_eq!(body, json!({"user": "bob"}));
    let (status, _, _) = read(app.call(get!("/opt/maybe", Some("Bearer x.y.z"))).await.expect("call")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let big = test::TestRequest::post()
        .uri("/auth/login")
        .set_json(json!({"username": "a".repeat(4096), "password": "x"}))
        .to_request();
    assert_eq!(app.call(big).await.expect("call").status(), StatusCode::PAYLOAD_TOO_LARGE);
    let wrong = app.call(get!("/auth/login", None)).await.expect("call");
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.headers().get("allow").map(|v| v.as_bytes()), Some(&b"POST"[..]));
}

async fn option_whoami(id: Option<Authenticated>) -> HttpResponse {
    HttpResponse::Ok().json(json!({"user": id.map(|i| i.username().to_owned())}))
}

#[actix_rt::test]
async fn extractors_need_the_middleware_and_optional_routes_refuse_bad_tokens() {
    let a = authority();
    let app = test::init_service(
        App::new()
            // a guard as app data is not a middleware: it is not consulted
            .app_data(web::Data::new(AuthGuard::new(a.clone())))
            .route("/bare/whoami", web::get().to(whoami))
            .service(
                web::scope("/opt")
                    .wrap(AuthMiddleware::new(AuthGuard::new(a.clone())).optional())
                    .route("/option", web::get().to(option_whoami))
                    .route("/maybe", web::get().to(maybe)),
            ),
    )
    .await;
    // a wiring mistake is a 500 (never a 503 that looks like an outage, never a pass)
    let (status, _, body) =
        read(app.call(get!("/bare/whoami", Some("Bearer x.y.z"))).await.expect("call")).await;
    assert_eq!((status, body["error"].clone()), (StatusCode::INTERNAL_SERVER_ERROR, json!("server_error")));
    // actix's own Option<T> hides its extractor's errors, but an invalid
    // token never reaches it: the optional middleware refuses it first
    for path in ["/opt/option", "/opt/maybe"] {
        let (status, challenge, _) =
            read(app.call(get!(path, Some("Bearer garbage"))).await.expect("call")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer realm="api", error="invalid_token", error_description="the token is malformed""#),
            "{path}"
        );
        let (status, _, body) = read(app.call(get!(path, None)).await.expect("call")).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"user": null})), "{path} anonymous");
    }
}
