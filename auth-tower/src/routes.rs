//! [`AuthRoutes`]: a dialect's route set as a tower `Service`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use auth_core::{AuthRequest, RouteSet};
use axum::body::Body;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};

use crate::convert::{authorization, browser, peer, to_http};

/// The route engine of `auth-core` as a tower `Service`, for
/// `Router::nest_service`. Bodies over the route set's limit answer 413
/// without being read to the end.
///
/// ```
/// use auth_core::{Authority, JwtKey, KeySet, RouteSet, Standard};
/// use auth_tower::AuthRoutes;
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
/// let app: axum::Router = axum::Router::new()
///     .nest_service("/auth", AuthRoutes::new(RouteSet::new(authority, Standard).body_limit(4096)));
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct AuthRoutes {
    routes: RouteSet,
}

impl AuthRoutes {
    /// Serves `routes`.
    pub fn new(routes: RouteSet) -> Self {
        Self { routes }
    }

    /// Turns on cookie mode ([`RouteSet::cookies`]): for the standard
    /// dialect only.
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_tower::{prelude::*, AuthRoutes};
    /// let routes = authority.routes(Standard).cookies(CookieMode::new())?;
    /// # let _: AuthRoutes = routes;
    /// # Ok::<(), auth_core::CookieModeError>(())
    /// ```
    pub fn cookies(self, mode: auth_core::CookieMode) -> Result<Self, auth_core::CookieModeError> {
        Ok(Self { routes: self.routes.cookies(mode)? })
    }
}

/// The response future of [`AuthRoutes`].
pub type RoutesFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl<B> tower_service::Service<Request<B>> for AuthRoutes
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = RoutesFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let routes = self.routes.clone();
        Box::pin(async move { Ok(to_http(serve(&routes, request).await)) })
    }
}

async fn serve<B>(routes: &RouteSet, request: Request<B>) -> auth_core::AuthResponse
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str();
    let path = parts.uri.path();
    // Route first: a wrong method, path or declared size is answered before any body is read.
    if let Err(res) = routes.preflight(method, path, parts.headers.get(CONTENT_LENGTH).map(|v| v.as_bytes()))
    {
        return res;
    }
    let bytes = match Limited::new(body, routes.max_body()).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => {
            return routes.unreadable_body(method, path, err.is::<http_body_util::LengthLimitError>());
        }
    };
    let header = |name| parts.headers.get(name).map(|v: &http::HeaderValue| v.as_bytes());
    let request = AuthRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        authorization: authorization(&parts.headers).into_owned(),
        content_type: header(CONTENT_TYPE).map(|v| String::from_utf8_lossy(v).into_owned()),
        body: bytes.to_vec(),
        peer: peer(&parts.headers, &parts.extensions),
        browser: browser(&parts.headers, &parts.uri),
    };
    routes.handle(request).await
}
