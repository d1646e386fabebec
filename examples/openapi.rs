//! The demo's OpenAPI 3.1 document, served at `GET /openapi.json` by both
//! frameworks: the dialect's auth routes as mounted
//! ([`RouteSet::openapi`](auth_core::RouteSet::openapi), and the JWKS route
//! with `--signing-key`), and the demo's own routes with their exact
//! answers, the protected ones given the guard's security requirement and
//! refusals ([`AuthGuard::openapi`](auth_core::AuthGuard::openapi)).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use clap::Parser;
//! let config = demo_app::DemoConfig::try_parse_from(["demo", "--user", "ann:pw-of-ann"]).unwrap();
//! let demo = demo_app::Demo::new(&config).await.unwrap();
//! let doc = serde_json::to_value(demo.openapi()).unwrap();
//! assert_eq!(doc["openapi"], "3.1.0");
//! assert!(doc["paths"]["/auth/login"]["post"].is_object());
//! assert_eq!(doc["paths"]["/whoami"]["get"]["security"], serde_json::json!([{"bearer": []}]));
//! assert!(doc["paths"]["/admin"]["get"]["responses"]["403"].is_object());
//! # })
//! ```

use auth_core::AuthResponse;
use serde_json::json;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AdditionalProperties, OneOfBuilder};
use utoipa::openapi::tag::Tag;
use utoipa::openapi::{
    ArrayBuilder, Content, Header, Info, ObjectBuilder, OpenApi, OpenApiBuilder, PathItem, Paths, Required,
    ResponseBuilder, Schema, Type,
};

use crate::notes::{MAX_NOTE_CHARS, MAX_NOTES_PER_USER, NOTES_PATH};
use crate::page::{PAGE_PATH, SCRIPT_PATH};
use crate::{Demo, DialectName, samples};

/// Where the demo serves its document.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The tag of the demo's own operations (the auth routes carry
/// [`auth_core::openapi::TAG`]).
pub const TAG: &str = "demo";

/// The demo's document for its dialect and configuration (see the
/// [module](self)).
pub fn document(demo: &Demo) -> OpenApi {
    let mut own = own_operations(demo);
    // The guard's requirement and refusals, before the auth routes join: a
    // path may hold both a guarded operation of the demo and an open auth
    // route (keytoken's `PATCH /users` and its sign-up, `POST /users`).
    let guard = demo.guard.openapi();
    for path in protected_paths(demo) {
        guard.protect(&mut own, path);
    }
    for path in role_paths(demo) {
        guard.clone().roles(true).protect(&mut own, path);
    }
    demo.guard.clone().optional(true).openapi().protect(&mut own, "/maybe");
    own.merge(demo.routes.openapi());
    if let Some(jwks) = &demo.jwks {
        own.merge(jwks.openapi());
    }
    own
}

/// `GET /openapi.json`: the document as JSON (what both frameworks send).
pub fn response(demo: &Demo) -> AuthResponse {
    AuthResponse::json(200, &document(demo))
}

/// The paths whose operations need a credential and no role.
fn protected_paths(demo: &Demo) -> Vec<&'static str> {
    let mut paths = vec!["/whoami", samples::LOGOUT_EVERYWHERE];
    match demo.dialect {
        DialectName::Echome => paths.push(samples::ECHOME_VMS),
        DialectName::Keytoken => paths.push("/users"),
        DialectName::Drf => paths.push("/protected-url/"),
        DialectName::Standard | DialectName::Datarhei | DialectName::Sachet => {}
    }
    if demo.page().is_some() {
        paths.push(NOTES_PATH);
    }
    paths
}

/// The paths whose operations may refuse an identity with 403.
fn role_paths(demo: &Demo) -> Vec<&'static str> {
    let mut paths = vec!["/admin"];
    if demo.dialect == DialectName::Sachet {
        paths.push(SACHET_USER);
    }
    paths
}

/// Sachet's sample route (the demo serves it beside the dialect's routes).
const SACHET_USER: &str = "/users/{username}";

/// The demo's own operations, each with every answer it gives (the guard
/// adds its refusals afterwards).
fn own_operations(demo: &Demo) -> OpenApi {
    let get = |path: &str, op: OperationBuilder| (path.to_owned(), PathItem::new(HttpMethod::Get, op));
    let mut items = vec![
        get(
            "/public",
            operation("get_public", "An open route").response("200", json_answer("Always", public_schema())),
        ),
        get(
            "/whoami",
            operation("get_whoami", "The caller's identity")
                .response("200", json_answer("The identity the credential carries", identity_schema())),
        ),
        get(
            "/admin",
            operation("get_admin", "A route for the role `admin`")
                .response("200", json_answer("The caller has the role", admin_schema())),
        ),
        get(
            "/maybe",
            operation("get_maybe", "Optional authentication: who the caller is, if anyone")
                .description(Some(
                    "Anonymous requests pass; a credential that is present but refused is still refused.",
                ))
                .response("200", json_answer("The identity, or that there is none", maybe_schema())),
        ),
        (
            samples::LOGOUT_EVERYWHERE.to_owned(),
            PathItem::new(
                HttpMethod::Post,
                operation("post_logout_everywhere", "Logs the caller out everywhere")
                    .description(Some(
                        "Revokes every token of the caller's subject issued up to this second, on every \
                         instance sharing the store.",
                    ))
                    .response(
                        "204",
                        ResponseBuilder::new().description("Every token of the subject revoked"),
                    ),
            ),
        ),
        get(
            OPENAPI_PATH,
            operation("get_openapi", "This document").response(
                "200",
                ResponseBuilder::new().description("The OpenAPI 3.1 document").content(
                    "application/json",
                    Content::new(Some(ObjectBuilder::new().schema_type(Type::Object))),
                ),
            ),
        ),
    ];
    items.extend(sample_operations(demo.dialect));
    if demo.page().is_some() {
        items.extend(browser_operations());
    }
    // `path` merges the operations of a path already there
    let paths = items.into_iter().fold(Paths::builder(), |paths, (path, item)| paths.path(path, item));
    let cookies = if demo.cookies.is_some() { ", cookie mode" } else { "" };
    let info = Info::builder()
        .title(format!("tokenauth demo ({}{cookies})", demo.routes.dialect().name()))
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "The demo server of tokenauth: the dialect's token routes and a few routes they protect.",
        ))
        .build();
    OpenApiBuilder::new()
        .info(info)
        .paths(paths.build())
        .tags(Some([Tag::new(TAG), Tag::new(auth_core::openapi::TAG)]))
        .build()
}

/// Each real API's sample route, as the demo serves it for `dialect`.
fn sample_operations(dialect: DialectName) -> Vec<(String, PathItem)> {
    match dialect {
        DialectName::Echome => vec![(
            samples::ECHOME_VMS.to_owned(),
            PathItem::new(
                HttpMethod::Get,
                operation("get_echome_vms", "ecHome's virtual machines (the demo has none)")
                    .response("200", json_answer("ecHome's resource envelope", echome_vms_schema())),
            ),
        )],
        DialectName::Sachet => {
            let username = ParameterBuilder::new()
                .name("username")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some("Whose record"))
                .schema(Some(string().min_length(Some(1))));
            vec![(
                SACHET_USER.to_owned(),
                PathItem::new(
                    HttpMethod::Get,
                    operation("get_sachet_user", "A user's record: the user themself, or an admin")
                        .parameter(username)
                        .response("200", json_answer("The record", sachet_user_schema())),
                ),
            )]
        }
        DialectName::Keytoken => vec![(
            "/users".to_owned(),
            PathItem::new(
                HttpMethod::Patch,
                operation("patch_keytoken_users", "keytoken's authorized request (answers the caller)")
                    .response("200", json_answer("The identity the credential carries", identity_schema())),
            ),
        )],
        DialectName::Drf => vec![(
            "/protected-url/".to_owned(),
            PathItem::new(
                HttpMethod::Post,
                operation(
                    "post_drf_protected_url",
                    "django-rest-framework-jwt's protected URL (answers the caller)",
                )
                .response("200", json_answer("The identity the credential carries", identity_schema())),
            ),
        )],
        DialectName::Standard | DialectName::Datarhei => Vec::new(),
    }
}

/// Cookie mode's page, its script and the notes.
fn browser_operations() -> Vec<(String, PathItem)> {
    let page_headers = [
        ("Content-Security-Policy", "Only the page's own script, and requests to its own origin"),
        ("Referrer-Policy", "`no-referrer`"),
    ];
    let mut page = static_file("The demo's browser page", "text/html");
    let mut script = static_file("The page's script", "text/javascript");
    for (name, about) in page_headers {
        page = page.header(name, required_header(about));
    }
    for (name, about) in STATIC_HEADERS {
        page = page.header(*name, required_header(about));
        script = script.header(*name, required_header(about));
    }
    let note_body = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "text",
            string()
                .min_length(Some(1))
                .max_length(Some(MAX_NOTE_CHARS))
                .description(Some("The note (other members are ignored)")),
        )
        .required("text")
        .build();
    let body = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", Content::new(Some(note_body.clone())))
        .content("application/x-www-form-urlencoded", Content::new(Some(note_body)))
        .build();
    let list = operation("get_notes", "The caller's notes, oldest first")
        .response("200", json_answer("The notes", notes_schema()).header("Cache-Control", no_store()));
    let add = operation("post_notes", "Adds a note")
        .description(Some(
            "The newest notes are kept, at most 100 per user. Authenticated by the access cookie, the \
             request needs the page's own `Origin` and the `X-CSRF-Token` header.",
        ))
        .request_body(Some(body))
        .response("201", json_answer("Added", note_added_schema()).header("Cache-Control", no_store()))
        .response(
            "400",
            error_answer(
                "A malformed `Authorization` header, or a body that is not JSON or a form, or whose `text` \
                 is missing, not a string, empty or too long",
            ),
        )
        .response("413", error_answer("The body is over 16 KiB"))
        .response("415", error_answer("Neither JSON nor a form"));
    let mut notes = PathItem::new(HttpMethod::Get, list);
    notes.merge_operations(PathItem::new(HttpMethod::Post, add));
    vec![
        (
            PAGE_PATH.to_owned(),
            PathItem::new(HttpMethod::Get, operation("get_page", "The page").response("200", page)),
        ),
        (
            SCRIPT_PATH.to_owned(),
            PathItem::new(
                HttpMethod::Get,
                operation("get_script", "The page's script").response("200", script),
            ),
        ),
        (NOTES_PATH.to_owned(), notes),
    ]
}

/// The headers of the page and its script.
const STATIC_HEADERS: &[(&str, &str)] =
    &[("Cache-Control", "`no-store`"), ("X-Content-Type-Options", "`nosniff`")];

/// An operation of the demo.
fn operation(id: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new().tag(TAG).operation_id(Some(format!("demo_{id}"))).summary(Some(summary))
}

/// A 200 of a static file of `media` type.
fn static_file(about: &str, media: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(about).content(media, Content::new(Some(string())))
}

/// A header every such answer carries (OpenAPI 3.1's `required`, which
/// utoipa's `Header` has no field for: written as an extension, which
/// serializes into the same object).
fn required_header(about: &str) -> Header {
    let mut header = Header::new(string());
    header.description = Some(about.to_owned());
    header.extensions = Some(Extensions::from_iter([("required", json!(true))]));
    header
}

/// The notes' `Cache-Control: no-store` (with cookie mode's guard: kept).
fn no_store() -> Header {
    required_header("`no-store`")
}

/// A JSON answer of `schema`.
fn json_answer(about: &str, schema: impl Into<Schema>) -> ResponseBuilder {
    ResponseBuilder::new().description(about).content("application/json", Content::new(Some(schema.into())))
}

/// A refusal of the notes: `{"error", "error_description"}`, the standard
/// dialect's envelope (cookie mode is the standard dialect's).
fn error_answer(about: &str) -> ResponseBuilder {
    json_answer(about, error_schema()).header("Cache-Control", no_store())
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// An object with no members but the ones it lists.
fn closed() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// Exactly `value`.
fn constant(kind: Type, value: serde_json::Value) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(kind).enum_values(Some([value]))
}

fn strings() -> ArrayBuilder {
    ArrayBuilder::new().items(string())
}

/// `{"error", "error_description"}`.
fn error_schema() -> ObjectBuilder {
    closed()
        .property("error", string().description(Some("The OAuth 2 error code (`invalid_request`)")))
        .property("error_description", string())
        .required("error")
        .required("error_description")
}

/// `{"ok": true}`.
fn public_schema() -> ObjectBuilder {
    closed().property("ok", constant(Type::Boolean, json!(true))).required("ok")
}

/// `{"sub", "username", "roles"}` ([`AuthIdentity::summary`](auth_core::AuthIdentity::summary)).
fn identity_schema() -> ObjectBuilder {
    identity_members(closed())
}

fn identity_members(object: ObjectBuilder) -> ObjectBuilder {
    object
        .property("sub", string().description(Some("The subject (user id)")))
        .property("username", string())
        .property("roles", strings())
        .required("sub")
        .required("username")
        .required("roles")
}

/// `{"admin": username}`.
fn admin_schema() -> ObjectBuilder {
    closed().property("admin", string().description(Some("The admin's username"))).required("admin")
}

/// The identity and `"authenticated": true`, or `{"authenticated": false}`.
fn maybe_schema() -> Schema {
    let someone = identity_members(closed())
        .property("authenticated", constant(Type::Boolean, json!(true)))
        .required("authenticated");
    let nobody =
        closed().property("authenticated", constant(Type::Boolean, json!(false))).required("authenticated");
    OneOfBuilder::new().item(someone).item(nobody).into()
}

/// ecHome's envelope around an empty list.
fn echome_vms_schema() -> ObjectBuilder {
    closed()
        .property("success", constant(Type::Boolean, json!(true)))
        .property("details", constant(Type::String, json!("")))
        .property(
            "results",
            ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Object)).max_items(Some(0)),
        )
        .required("success")
        .required("details")
        .required("results")
}

/// `{"status": "success", "username"}`.
fn sachet_user_schema() -> ObjectBuilder {
    closed()
        .property("status", constant(Type::String, json!("success")))
        .property("username", string())
        .required("status")
        .required("username")
}

/// `{"notes": [...]}`.
fn notes_schema() -> ObjectBuilder {
    let notes = ArrayBuilder::new()
        .items(string().min_length(Some(1)).max_length(Some(MAX_NOTE_CHARS)))
        .max_items(Some(MAX_NOTES_PER_USER));
    closed().property("notes", notes).required("notes")
}

/// `{"text", "count"}`.
fn note_added_schema() -> ObjectBuilder {
    closed()
        .property("text", string().min_length(Some(1)).max_length(Some(MAX_NOTE_CHARS)))
        .property(
            "count",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_NOTES_PER_USER as u64))
                .description(Some("How many notes the caller now has")),
        )
        .required("text")
        .required("count")
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::browser_tests::demo;

    async fn doc(args: &[&str]) -> Value {
        serde_json::to_value(demo(args).await.openapi()).expect("JSON")
    }

    #[tokio::test]
    async fn the_demo_documents_its_own_routes_and_the_auth_routes() {
        let json = doc(&[]).await;
        assert_eq!(json["info"]["title"], "tokenauth demo (standard)");
        assert!(json["paths"]["/auth/login"]["post"].is_object());
        assert!(json["paths"]["/public"]["get"].get("security").is_none());
        let admin = &json["paths"]["/admin"]["get"];
        assert_eq!(admin["security"], serde_json::json!([{"bearer": []}]));
        for status in ["200", "400", "401", "403", "503"] {
            assert!(admin["responses"][status].is_object(), "/admin {status}");
        }
        assert!(json["paths"]["/whoami"]["get"]["responses"].get("403").is_none());
        assert_eq!(json["paths"]["/maybe"]["get"]["security"], serde_json::json!([{}, {"bearer": []}]));
        assert!(json["paths"]["/notes"].is_null(), "no notes without --cookies");
    }

    #[tokio::test]
    async fn keytoken_keeps_its_sign_up_open_beside_the_guarded_patch() {
        let json = doc(&["--dialect", "keytoken"]).await;
        let users = &json["paths"]["/users"];
        assert_eq!(users["patch"]["security"], serde_json::json!([{"basic": []}]));
        assert!(users["post"].is_object(), "the sign-up, at the mount point");
        assert!(users["post"].get("security").is_none(), "{}", users["post"]);
        assert!(json["paths"]["/users/"].is_null());
    }

    #[tokio::test]
    async fn sachet_documents_its_path_parameter_and_403() {
        let json = doc(&["--dialect", "sachet"]).await;
        let user = &json["paths"]["/users/{username}"]["get"];
        assert_eq!(user["parameters"][0]["in"], "path");
        assert!(user["responses"]["403"].is_object());
    }

    #[tokio::test]
    async fn cookie_mode_documents_the_page_and_the_notes() {
        let json = doc(&["--cookies"]).await;
        assert_eq!(json["info"]["title"], "tokenauth demo (standard, cookie mode)");
        assert!(json["paths"]["/"]["get"]["responses"]["200"]["content"]["text/html"].is_object());
        let post = &json["paths"]["/notes"]["post"];
        for status in ["201", "400", "401", "403", "413", "415", "503"] {
            assert!(post["responses"][status].is_object(), "POST /notes {status}");
        }
        assert_eq!(post["security"], serde_json::json!([{"bearer": []}, {"access_cookie": []}]));
        assert!(post["parameters"].as_array().is_some_and(|p| p.iter().any(|p| p["name"] == "X-CSRF-Token")));
        assert!(json["paths"]["/notes"]["get"]["responses"]["200"]["headers"]["Vary"].is_object());
    }
}
