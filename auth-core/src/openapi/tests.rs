//! The documents against the engine: every shipped dialect describes every
//! route, and every error it can render has its documented shape.

use std::sync::Arc;

use serde_json::Value;

use crate::describe::Credential;
use crate::dialects::{Datarhei, Drf, Echome, Jwks, Keytoken, Sachet, Standard};
use crate::{AuthError, AuthGuard, Authority, CookieMode, Dialect, RouteSet};

/// Every dialect the crate ships.
pub(crate) fn dialects() -> Vec<Arc<dyn Dialect>> {
    vec![
        Arc::new(Standard),
        Arc::new(Drf),
        Arc::new(Echome),
        Arc::new(Datarhei::default()),
        Arc::new(Sachet),
        Arc::new(Keytoken::new(["demo"])),
        Arc::new(Jwks),
    ]
}

fn set(dialect: Arc<dyn Dialect>) -> RouteSet {
    let authority = Authority::hs256([7u8; 32]).unwrap().config(dialect.default_config()).build();
    let mount = dialect.default_mount();
    RouteSet::from_shared(authority, dialect).at(mount)
}

fn doc(routes: &RouteSet) -> Value {
    serde_json::to_value(routes.openapi()).unwrap()
}

#[test]
fn every_route_of_every_dialect_is_described() {
    for dialect in dialects() {
        for route in dialect.routes() {
            let doc = route.doc.unwrap_or_else(|| {
                panic!("{} {} {} has no description", dialect.name(), route.method, route.path)
            });
            assert!(!doc.replies.is_empty(), "{} {}: no successful answer", dialect.name(), route.path);
        }
    }
}

#[test]
fn every_error_a_dialect_renders_has_its_documented_shape() {
    for dialect in dialects() {
        for err in AuthError::samples() {
            let res = dialect.render_error(&err);
            let body = res.json_body().unwrap_or(Value::Null);
            if let Err(why) = dialect.error_shape(res.status).admits(&body) {
                panic!(
                    "{}: {err:?} ({}) renders {body}, not its documented shape: {why}",
                    dialect.name(),
                    res.status
                );
            }
        }
    }
}

#[test]
fn the_document_lists_every_route_under_its_mount_with_its_statuses() {
    for dialect in dialects() {
        let routes = set(dialect.clone());
        let json = doc(&routes);
        assert_eq!(json["openapi"], "3.1.0");
        for route in dialect.routes() {
            let path = match (dialect.default_mount(), route.path) {
                (mount, "/") if !mount.is_empty() => mount.to_owned(), // served at the mount itself
                (mount, path) => format!("{mount}{path}"),
            };
            let op = &json["paths"][&path][route.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{}: {} {path} is not in the document", dialect.name(), route.method);
            let documented: Vec<u16> =
                op["responses"].as_object().unwrap().keys().map(|k| k.parse().unwrap()).collect();
            let doc = route.doc.unwrap();
            for status in doc.replies.iter().map(|r| r.status).chain(doc.error_statuses()) {
                assert!(documented.contains(&status), "{}: {path} lacks {status}", dialect.name());
            }
            let secured = op.get("security").is_some();
            assert_eq!(secured, doc.credential != Credential::None, "{}: {path}'s security", dialect.name());
            for (status, res) in op["responses"].as_object().unwrap() {
                let headers = &res["headers"];
                assert_eq!(headers["Cache-Control"]["required"], true, "{}: {path} {status}", dialect.name());
                if status == "401" {
                    assert!(headers["WWW-Authenticate"].is_object(), "{}: {path} 401", dialect.name());
                }
            }
        }
    }
}

#[test]
fn the_standard_document_in_detail() {
    let json = doc(&set(Arc::new(Standard)));
    let login = &json["paths"]["/auth/login"]["post"];
    assert_eq!(login["operationId"], "standard_post_login");
    let body = &login["requestBody"];
    assert_eq!(body["required"], true);
    for media in ["application/json", "application/x-www-form-urlencoded"] {
        let schema = &body["content"][media]["schema"];
        assert_eq!(schema["required"], serde_json::json!(["username", "password"]));
        assert_eq!(schema["properties"]["password"]["minLength"], 1);
    }
    let ok = &login["responses"]["200"];
    let tokens = &ok["content"]["application/json"]["schema"];
    assert_eq!(tokens["additionalProperties"], false);
    assert_eq!(tokens["properties"]["token_type"]["enum"], serde_json::json!(["Bearer"]));
    assert_eq!(ok["headers"]["Device-Token"]["required"], Value::Null, "only password logins carry it");
    assert_eq!(login["parameters"][0]["name"], "Device-Token", "and a client sends it back");
    let throttled = &login["responses"]["429"];
    assert_eq!(throttled["headers"]["Retry-After"]["required"], true);
    assert_eq!(
        throttled["content"]["application/json"]["schema"]["required"],
        serde_json::json!(["error", "error_description"])
    );
    assert!(login.get("security").is_none(), "login takes no credential");
    let logout = &json["paths"]["/auth/logout"]["post"];
    assert_eq!(logout["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(logout["requestBody"]["required"], false, "its one field is optional");
    assert_eq!(logout["responses"]["401"]["headers"]["WWW-Authenticate"]["required"], true);
    assert!(logout["responses"]["204"].get("content").is_none());
    assert_eq!(json["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
}

#[test]
fn cookie_mode_documents_its_cookies_and_csrf() {
    let authority = Authority::hs256([7u8; 32]).unwrap().build();
    let routes = RouteSet::with_cookies(authority, CookieMode::new()).at("/auth");
    let json = doc(&routes);
    let login = &json["paths"]["/auth/login"]["post"];
    let ok = &login["responses"]["200"];
    assert_eq!(ok["headers"]["Set-Cookie"]["required"], true);
    assert!(ok["headers"].get("Device-Token").is_none(), "no device token header in cookie mode");
    assert_eq!(
        ok["content"]["application/json"]["schema"]["required"],
        serde_json::json!(["expires_in", "csrf_token"])
    );
    assert!(login["responses"]["403"].is_object());
    let verify = &json["paths"]["/auth/verify"]["post"]["responses"]["200"];
    assert!(verify["headers"].get("Set-Cookie").is_none(), "verify sets no cookie");
    let refresh = &json["paths"]["/auth/refresh"]["post"];
    assert_eq!(refresh["security"], serde_json::json!([{"refresh_cookie": []}]));
    assert_eq!(refresh["parameters"][0]["name"], "X-CSRF-Token");
    assert!(refresh.get("requestBody").is_none());
    let logout = &json["paths"]["/auth/logout"]["post"];
    assert_eq!(logout["security"], serde_json::json!([{"bearer": []}, {"access_cookie": []}]));
    assert_eq!(json["components"]["securitySchemes"]["access_cookie"]["name"], "__Host-access_token");
    assert_eq!(json["components"]["securitySchemes"]["refresh_cookie"]["in"], "cookie");
}

#[test]
fn a_guard_adds_its_requirement_and_answers() {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder};
    use utoipa::openapi::{OpenApiBuilder, PathItem, Paths, ResponseBuilder};
    let routes = set(Arc::new(Drf));
    let ok = || OperationBuilder::new().response("200", ResponseBuilder::new().description("ok"));
    let app = || {
        OpenApiBuilder::new()
            .paths(
                Paths::builder()
                    .path("/whoami", PathItem::new(HttpMethod::Get, ok()))
                    .path("/notes", PathItem::new(HttpMethod::Post, ok())),
            )
            .build()
    };
    let mut plain = app();
    let guard = AuthGuard::for_routes(&routes);
    guard.openapi().protect(&mut plain, "/whoami");
    let json = serde_json::to_value(&plain).unwrap();
    let whoami = &json["paths"]["/whoami"]["get"];
    assert_eq!(whoami["security"], serde_json::json!([{"token": []}]));
    let unauthorized = &whoami["responses"]["401"];
    assert_eq!(unauthorized["headers"]["WWW-Authenticate"]["required"], true);
    let detail = &unauthorized["content"]["application/json"]["schema"];
    assert_eq!(detail["required"], serde_json::json!(["detail"]), "drf's envelope: {detail}");
    assert!(whoami["responses"]["503"]["headers"]["Retry-After"].is_object());
    assert_eq!(
        unauthorized["headers"]["Cache-Control"]["required"], true,
        "the adapters send refusals no-store"
    );
    assert!(whoami["responses"].get("403").is_none(), "no role required");
    assert!(json["paths"]["/notes"]["post"].get("security").is_none(), "not protected");
    let mut roles = app();
    guard.openapi().roles(true).protect(&mut roles, "/whoami");
    let forbidden = &serde_json::to_value(&roles).unwrap()["paths"]["/whoami"]["get"]["responses"]["403"];
    // insufficient_scope carries a challenge; an owner check's plain 403 does not
    assert_eq!(forbidden["headers"]["WWW-Authenticate"]["required"], Value::Null, "{forbidden}");
    assert!(forbidden["headers"]["WWW-Authenticate"].is_object());
    assert_eq!(json["components"]["securitySchemes"]["token"]["name"], "Authorization");

    let mut cookies = app();
    let guard = AuthGuard::new(routes.authority().clone()).cookies(CookieMode::new()).optional(true);
    guard.openapi().protect(&mut cookies, "/notes");
    let json = serde_json::to_value(&cookies).unwrap();
    let notes = &json["paths"]["/notes"]["post"];
    assert_eq!(notes["security"], serde_json::json!([{}, {"bearer": []}, {"access_cookie": []}]));
    assert_eq!(notes["parameters"][0]["name"], "X-CSRF-Token");
    assert!(notes["responses"]["403"].is_object(), "CSRF refusals");
    assert_eq!(notes["responses"]["200"]["headers"]["Vary"]["required"], true);
}

#[test]
fn an_identity_provider_login_is_documented_where_the_dialect_takes_one() {
    struct Idp;
    #[async_trait::async_trait]
    impl crate::ExternalIdentity for Idp {
        async fn verify(&self, _token: &str) -> Result<crate::ExternalSubject, AuthError> {
            Err(AuthError::MissingCredentials)
        }
    }
    let login_security = |dialect: Arc<dyn Dialect>, path: &str| {
        let authority = Authority::hs256([7u8; 32])
            .unwrap()
            .config(dialect.default_config())
            .external_identity(Idp)
            .build();
        let mount = dialect.default_mount();
        let json = doc(&RouteSet::from_shared(authority, dialect).at(mount));
        let login = json["paths"][format!("{mount}{path}")]["post"].clone();
        (login["security"].clone(), login["requestBody"]["required"].clone())
    };
    let optional = (serde_json::json!([{}, {"bearer": []}]), Value::Bool(false));
    assert_eq!(login_security(Arc::new(Standard), "/login"), optional);
    assert_eq!(login_security(Arc::new(Datarhei::default()), "/login"), optional);
    assert_eq!(
        login_security(Arc::new(Drf), "/access_token/"),
        (Value::Null, Value::Bool(true)),
        "drf ignores it"
    );
}

#[test]
fn an_odd_custom_table_is_described_as_the_engine_serves_it() {
    use crate::describe::{Reply, RouteDoc};
    use crate::{Action, Route, RouteContext};
    const FIRST: RouteDoc = RouteDoc::new("first", Credential::None).replies(&[Reply::empty(204, "ok")]);
    const SECOND: RouteDoc = RouteDoc::new("second", Credential::None).replies(&[Reply::empty(204, "ok")]);
    const ROUTES: &[Route] = &[
        Route::new("POST", "/a-b", Action::Login).described(&FIRST),
        Route::new("POST", "/a-b", Action::Logout).described(&SECOND), // never served: the first wins
        Route::new("POST", "/a_b", Action::Verify).described(&FIRST),  // the same id, made unique
        Route::new("POST", "login", Action::Login),                    // never matches a path
        Route::new("QUERY", "/search", Action::Verify),                // not a method OpenAPI names
    ];
    struct Odd;
    #[async_trait::async_trait]
    impl Dialect for Odd {
        fn name(&self) -> &'static str {
            "odd"
        }
        fn routes(&self) -> &[Route] {
            ROUTES
        }
        async fn handle(&self, _: Action, _: RouteContext<'_>) -> Result<crate::AuthResponse, AuthError> {
            Ok(crate::AuthResponse::empty(204))
        }
    }
    let json = doc(&set(Arc::new(Odd)));
    let paths = json["paths"].as_object().unwrap();
    assert_eq!(paths.keys().collect::<Vec<_>>(), ["/a-b", "/a_b"]);
    assert_eq!(paths["/a-b"]["post"]["summary"], "first", "as the engine routes it");
    assert_eq!(paths["/a-b"]["post"]["operationId"], "odd_post_a_b");
    assert_eq!(paths["/a_b"]["post"]["operationId"], "odd_post_a_b_2");
}
