//! A user's own dialect, mounted on both adapters: what the core lets on
//! the wire is the same in both, and a careless header name is dropped
//! (and logged), never a panic or a 500.

use auth_core::{
    Action, AuthError, AuthResponse, Authority, Dialect, JwtKey, KeySet, Route, RouteContext, RouteSet,
};

use crate::harness::{Client, Req, Res, configured_client, router_client};

/// A dialect that names headers carelessly.
struct Careless;

#[async_trait::async_trait]
impl Dialect for Careless {
    fn name(&self) -> &'static str {
        "careless"
    }
    fn routes(&self) -> &[Route] {
        const ROUTES: &[Route] = &[Route::new("POST", "/odd", Action::Login)];
        ROUTES
    }
    async fn handle(&self, _: Action, _: RouteContext<'_>) -> Result<AuthResponse, AuthError> {
        let mut res = AuthResponse::empty(200);
        res.headers.extend([("X-Custom", "kept".to_owned()), ("bad name", "dropped".to_owned())]);
        Ok(res)
    }
}

fn routes() -> RouteSet {
    let key = JwtKey::hs256("k", crate::harness::SECRET.as_bytes()).expect("key");
    RouteSet::new(Authority::builder(KeySet::new(key).expect("key set")).build(), Careless)
}

async fn odd(client: Client) -> Res {
    client(Req { method: "POST", path: "/c/odd".into(), headers: Vec::new(), body: Vec::new(), peer: None })
        .await
}

fn check(framework: &str, res: &Res) {
    assert_eq!(res.status, 200, "{framework}");
    let header = |name: &str| res.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(header("x-custom"), Some("kept"), "{framework}");
    assert_eq!(header("pragma"), Some("no-cache"), "{framework}");
    assert!(res.headers.iter().all(|(_, v)| v != "dropped"), "{framework}: {:?}", res.headers);
}

#[test]
fn a_custom_dialects_odd_header_names_are_dropped_on_both_frameworks() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let router = axum::Router::new().nest_service("/c", auth_tower::AuthRoutes::new(routes()));
    check("axum", &rt.block_on(odd(router_client(router))));
    let res = actix_rt::System::new().block_on(async {
        let configure = |cfg: &mut actix_web::web::ServiceConfig| {
            cfg.service(actix_web::web::scope("/c").configure(auth_actix::routes(routes())));
        };
        odd(configured_client(configure).await).await
    });
    check("actix", &res);
}
