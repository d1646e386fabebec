//! [`AuthMiddleware`]: authenticate every request in front of a service.

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use auth_core::Guard;
use futures_util::future::LocalBoxFuture;

use crate::convert::{authorization, peer, to_http};

/// An actix-web middleware that authenticates requests with a [`Guard`].
///
/// On success the [`Identity`](auth_core::Identity) goes into the request
/// extensions (and the guard too, for the extractors); on failure the
/// core's response (status, `WWW-Authenticate`, JSON body) is returned and
/// the wrapped service is not called. With [`Guard::optional`], requests
/// without credentials pass with no identity.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use auth_actix::AuthMiddleware;
/// use auth_core::{Authority, Guard, Key, KeySet};
/// let authority = Authority::builder(KeySet::new(Key::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
/// let app = App::new().service(
///     web::scope("/api").wrap(AuthMiddleware::new(Guard::new(authority))).route("/x", web::get().to(HttpResponse::Ok)),
/// );
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    guard: Guard,
}

impl AuthMiddleware {
    /// A middleware that checks requests with `guard`.
    pub fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl<S, B> Transform<S, ServiceRequest> for AuthMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = AuthMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthMiddlewareService { service: Rc::new(service), guard: self.guard.clone() }))
    }
}

/// The service [`AuthMiddleware`] wraps around the inner one.
pub struct AuthMiddlewareService<S> {
    service: Rc<S>,
    guard: Guard,
}

impl<S> std::fmt::Debug for AuthMiddlewareService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthMiddlewareService").field("guard", &self.guard).finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for AuthMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let guard = self.guard.clone();
        Box::pin(async move {
            let header = authorization(req.headers());
            let peer = peer(req.headers(), req.peer_addr());
            match guard.check_request(&header, &peer).await {
                Ok(identity) => {
                    if let Some(identity) = identity {
                        req.extensions_mut().insert(identity);
                    }
                    req.extensions_mut().insert(guard);
                    Ok(service.call(req).await?.map_into_left_body())
                }
                Err(err) => Ok(req.into_response(to_http(guard.reject(&err))).map_into_right_body()),
            }
        })
    }
}
