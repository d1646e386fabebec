//! The layer, extractors and route set through a real axum `Router`.

use auth_core::{AuthGuard, Authority, JwtKey, KeySet, MemoryUsers, Principal, RouteSet, Scheme, Standard};
use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{AuthLayer, AuthRoutes, Authenticated, RequireRole, Role};

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
        KeySet::new(JwtKey::hs256("k1", b"tower-test-secret-of-32-bytes-min").expect("key"))
            .expect("a signing key"),
    )
    .users(users)
    .build()
}

async fn whoami(id: Authenticated) -> Json<Value> {
    Json(id.summary())
}

async fn maybe(id: Option<Authenticated>) -> Json<Value> {
    Json(json!({"user": id.map(|i| i.username().to_owned())}))
}

async fn admin(id: RequireRole<Admin>) -> Json<Value> {
    Json(json!({"admin": id.username()}))
}

fn app(authority: &Authority) -> Router {
    let guard = AuthGuard::new(authority.clone());
    Router::new()
        .route("/whoami", get(whoami))
        .route("/admin", get(admin))
        .layer(AuthLayer::new(guard.clone()))
        .merge(Router::new().route("/maybe", get(maybe)).layer(AuthLayer::new(guard.optional(true))))
        .route("/public", get(|| async { Json(json!({"ok": true})) }))
        .nest_service("/auth", AuthRoutes::new(RouteSet::new(authority.clone(), Standard).body_limit(1024)))
}

struct Reply {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.expect("infallible router");
    let status = res.status();
    let challenge = res.headers().get("www-authenticate").map(|v| v.to_str().expect("ascii").to_owned());
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let body =
        if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("json body") };
    Reply { status, challenge, body }
}

fn get_with(path: &str, authorization: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(v) = authorization {
        b = b.header("authorization", v);
    }
    b.body(Body::empty()).expect("request")
}

fn post_json(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("request")
}

async fn login(app: &Router, user: &str, password: &str) -> Value {
    let r = send(app, post_json("/auth/login", json!({"username": user, "password": password}))).await;
    assert_eq!(r.status, StatusCode::OK);
    r.body
}

#[tokio::test]
async fn login_then_protected_routes() {
    let a = authority();
    let app = app(&a);
    let tokens = login(&app, "alice", "alice-pw").await;
    let access = tokens["access_token"].as_str().expect("access");

    assert_eq!(send(&app, get_with("/public", None)).await.body, json!({"ok": true}));
    let r = send(&app, get_with("/whoami", Some(&format!("Bearer {access}")))).await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"sub": "u-alice", "username": "alice", "roles": ["admin"]}))
    );
    let r = send(&app, get_with("/whoami", Some(&format!("bearer {access}")))).await;
    assert_eq!(r.status, StatusCode::OK);

    let r = send(&app, get_with("/whoami", None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge.as_deref(), Some(r#"Bearer realm="api""#));
    assert_eq!(r.body["error"], "unauthorized");

    let r = send(&app, get_with("/whoami", Some("Bearer"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.challenge.as_deref(),
        Some(
            r#"Bearer realm="api", error="invalid_request", error_description="the authorization header is malformed""#
        )
    );

    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let r = send(&app, get_with("/whoami", Some(&format!("Bearer {refresh}")))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.challenge.as_deref(),
        Some(
            r#"Bearer realm="api", error="invalid_token", error_description="the token is not usable here""#
        )
    );
}

#[tokio::test]
async fn optional_route_both_ways_and_role_guard() {
    let a = authority();
    let app = app(&a);
    assert_eq!(send(&app, get_with("/maybe", None)).await.body, json!({"user": null}));
    let bob = login(&app, "bob", "bob-pw").await;
    let bob_auth = format!("Bearer {}", bob["access_token"].as_str().expect("access"));
    assert_eq!(send(&app, get_with("/maybe", Some(&bob_auth))).await.body, json!({"user": "bob"}));
    let r = send(&app, get_with("/maybe", Some("Bearer not.a.token"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let r = send(&app, get_with("/admin", Some(&bob_auth))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.challenge.as_deref(),
        Some(
            r#"Bearer realm="api", error="insufficient_scope", error_description="the request requires higher privileges", scope="admin""#
        )
    );
    let alice = login(&app, "alice", "alice-pw").await;
    let r = send(
        &app,
        get_with("/admin", Some(&format!("Bearer {}", alice["access_token"].as_str().expect("a")))),
    )
    .await;
    assert_eq!((r.status, r.body), (StatusCode::OK, json!({"admin": "alice"})));
}

#[tokio::test]
async fn route_set_limits_and_methods() {
    let a = authority();
    let app = app(&a);
    let big = json!({"username": "a".repeat(4096), "password": "x"});
    assert_eq!(send(&app, post_json("/auth/login", big)).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // no content-length: the limit still holds while streaming
    let stream = Body::new(Chunks(vec![vec![b'a'; 800], vec![b'a'; 800]].into_iter()));
    let req =
        Request::post("/auth/login").header("content-type", "application/json").body(stream).expect("req");
    assert_eq!(send(&app, req).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = app.clone().oneshot(get_with("/auth/login", None)).await.expect("router");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers().get("allow").map(|v| v.as_bytes()), Some(&b"POST"[..]));
    let r = send(&app, post_json("/auth/login", json!({"username": "alice"}))).await;
    assert_eq!(
        (r.status, r.body["error_description"].clone()),
        (StatusCode::BAD_REQUEST, json!("missing field `password`"))
    );
}

/// A body of several chunks and no declared length.
struct Chunks(std::vec::IntoIter<Vec<u8>>);

impl http_body::Body for Chunks {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.next().map(|c| Ok(http_body::Frame::data(bytes::Bytes::from(c)))))
    }
}

#[tokio::test]
async fn extractor_without_the_layer_verifies_itself() {
    let a = authority();
    let guard = AuthGuard::new(a.clone()).schemes(&[Scheme::Token, Scheme::Bearer]);
    let app = Router::new()
        .route("/whoami", get(whoami))
        .route("/maybe", get(maybe))
        .layer(Extension(guard))
        .nest_service("/auth", AuthRoutes::new(RouteSet::new(a.clone(), Standard)));
    let tokens = login(&app, "bob", "bob-pw").await;
    let access = tokens["access_token"].as_str().expect("access");
    let r = send(&app, get_with("/whoami", Some(&format!("Token {access}")))).await;
    assert_eq!((r.status, r.body["username"].clone()), (StatusCode::OK, json!("bob")));
    let r = send(&app, get_with("/whoami", None)).await;
    assert_eq!((r.status, r.challenge.as_deref()), (StatusCode::UNAUTHORIZED, Some(r#"Token realm="api""#)));
    assert_eq!(send(&app, get_with("/maybe", None)).await.body, json!({"user": null}));
    // no guard at all: a wiring mistake (500, logged), not a pass and not an outage
    let bare = Router::new().route("/whoami", get(whoami));
    let r = send(&bare, get_with("/whoami", Some(&format!("Bearer {access}")))).await;
    assert_eq!(
        (r.status, r.body["error"].clone()),
        (StatusCode::INTERNAL_SERVER_ERROR, json!("server_error"))
    );
}

/// A gRPC call (by its content type) to `/svc/Call`, with `token` if any.
fn grpc_call(token: Option<&str>) -> Request<Body> {
    let mut req =
        Request::post("/svc/Call").version(http::Version::HTTP_2).header("content-type", "application/grpc");
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    req.body(Body::empty()).expect("request")
}

/// The layer over a service that answers `body` with gRPC's content type.
fn grpc_app(authority: &Authority, body: fn() -> Body) -> Router {
    let answer = move || async move {
        http::Response::builder().header("content-type", "application/grpc").body(body()).expect("response")
    };
    Router::new()
        .route("/svc/Call", axum::routing::post(answer))
        .layer(AuthLayer::new(AuthGuard::new(authority.clone())))
}

#[tokio::test]
async fn grpc_calls_are_refused_the_way_grpc_clients_read_it() {
    let authority = authority();
    let app = grpc_app(&authority, Body::empty);
    let res = app.clone().oneshot(grpc_call(None)).await.expect("answer");
    assert_eq!(res.status(), StatusCode::OK, "trailers-only: HTTP 200");
    assert_eq!(res.headers()["content-type"], "application/grpc");
    assert_eq!(res.headers()["grpc-status"], "16");
    assert_eq!(res.headers()["grpc-message"], "authentication is required");
    let res = app.clone().oneshot(grpc_call(Some("garbage"))).await.expect("answer");
    assert_eq!(res.headers()["grpc-status"], "16");
    assert!(res.into_body().collect().await.expect("body").to_bytes().is_empty());
    // the same request as plain HTTP keeps its HTTP answer, and so does a
    // gRPC content type over HTTP/1.1 (gRPC runs on HTTP/2 only)
    let http = Request::post("/svc/Call").body(Body::empty()).expect("request");
    assert_eq!(app.clone().oneshot(http).await.expect("answer").status(), StatusCode::UNAUTHORIZED);
    let http1 = Request::post("/svc/Call").header("content-type", "application/grpc").body(Body::empty());
    let res = app.oneshot(http1.expect("request")).await.expect("answer");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("grpc-status").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_grpc_answer_is_cut_off_whatever_content_type_the_call_claimed() {
    let authority = authority();
    let token = authority.login("alice", "alice-pw").await.expect("login").access_token;
    let endless =
        || Body::from_stream(futures_util::stream::pending::<Result<bytes::Bytes, std::io::Error>>());
    let call = Request::post("/svc/Call")
        .version(http::Version::HTTP_2)
        .header("content-type", "text/plain")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let res = grpc_app(&authority, endless).oneshot(call).await.expect("answer");
    let frame = res.into_body().frame().await.expect("a frame").expect("no error");
    let trailers = frame.into_trailers().expect("the answer is gRPC: cut off at the token's expiry");
    assert_eq!(trailers["grpc-status"], "16");
}

#[tokio::test(start_paused = true)]
async fn a_grpc_stream_ends_with_unauthenticated_when_its_token_expires() {
    let authority = authority();
    let token = authority.login("alice", "alice-pw").await.expect("login").access_token;
    // a stream that never ends by itself
    let endless =
        || Body::from_stream(futures_util::stream::pending::<Result<bytes::Bytes, std::io::Error>>());
    let res = grpc_app(&authority, endless).oneshot(grpc_call(Some(&token))).await.expect("answer");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("grpc-status").is_none(), "admitted");
    // the paused clock jumps to the deadline: the token's 15 minutes, and a second
    let frame = res.into_body().frame().await.expect("a frame").expect("no error");
    let trailers = frame.into_trailers().expect("the stream ends with trailers");
    assert_eq!(trailers["grpc-status"], "16");
    assert_eq!(trailers["grpc-message"], "the token has expired");
}

#[tokio::test(start_paused = true)]
async fn a_layer_told_so_lets_streams_outlive_their_token() {
    let authority = authority();
    let token = authority.login("alice", "alice-pw").await.expect("login").access_token;
    let endless =
        || Body::from_stream(futures_util::stream::pending::<Result<bytes::Bytes, std::io::Error>>());
    let app = Router::new()
        .route("/svc/Call", axum::routing::post(move || async move { endless() }))
        .layer(AuthLayer::new(AuthGuard::new(authority.clone())).grpc_streams_outlive_tokens());
    let res = app.oneshot(grpc_call(Some(&token))).await.expect("answer");
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(3600), res.into_body().frame()).await;
    assert!(outcome.is_err(), "still open an hour later");
}

#[tokio::test(start_paused = true)]
async fn a_grpc_stream_that_always_has_data_is_cut_off_too() {
    let authority = authority();
    let token = authority.login("alice", "alice-pw").await.expect("login").access_token;
    let flood = || {
        Body::from_stream(futures_util::stream::repeat_with(|| {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"x"))
        }))
    };
    let res = grpc_app(&authority, flood).oneshot(grpc_call(Some(&token))).await.expect("answer");
    let mut body = res.into_body();
    let first = body.frame().await.expect("a frame").expect("no error");
    assert!(first.is_data(), "data flows while the token lives");
    // past the token's 15 minutes and the 5 s leeway
    tokio::time::advance(std::time::Duration::from_secs(15 * 60 + 10)).await;
    let next = body.frame().await.expect("a frame").expect("no error");
    let trailers = next.into_trailers().expect("cut off at once, though data was ready");
    assert_eq!(trailers["grpc-status"], "16");
    assert!(body.frame().await.is_none(), "and ended");
}
