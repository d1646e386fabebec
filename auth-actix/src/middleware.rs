//! [`AuthMiddleware`]: authenticate every request in front of a service.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use auth_core::{AuthGuard, Check, PendingCheck};
use pin_project_lite::pin_project;

use crate::convert::{authorization, browser, peer, to_http};

/// An actix-web middleware that authenticates requests with a [`AuthGuard`].
///
/// On success the [`AuthIdentity`](auth_core::AuthIdentity) goes into the request
/// extensions (and the guard too, for the extractors); on failure the
/// core's response (status, `WWW-Authenticate`, JSON body) is returned and
/// the wrapped service is not called. With [`AuthGuard::optional`], requests
/// without credentials pass with no identity.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use auth_actix::AuthMiddleware;
/// use auth_core::{Authority, AuthGuard, JwtKey, KeySet};
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
/// let app = App::new().service(
///     web::scope("/api").wrap(AuthMiddleware::new(AuthGuard::new(authority))).route("/x", web::get().to(HttpResponse::Ok)),
/// );
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct AuthMiddleware {
    guard: AuthGuard,
}

impl AuthMiddleware {
    /// A middleware that checks requests with `guard`.
    pub fn new(guard: AuthGuard) -> Self {
        Self { guard }
    }

    /// Lets requests without credentials through, with no identity (for
    /// [`MaybeAuthenticated`](crate::MaybeAuthenticated) routes); a present
    /// but invalid credential is still refused with 401.
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_actix::prelude::*;
    /// let optional = authority.middleware().optional();
    /// # let _ = optional;
    /// ```
    pub fn optional(self) -> Self {
        Self { guard: self.guard.optional(true) }
    }

    /// Also accepts the access token from cookie mode's cookie, with its
    /// CSRF checks (see [`AuthGuard::cookies`]); give it the same
    /// [`CookieMode`](auth_core::CookieMode) as the routes.
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_actix::prelude::*;
    /// let middleware = authority.middleware().cookies(CookieMode::new());
    /// # let _ = middleware;
    /// ```
    pub fn cookies(self, mode: auth_core::CookieMode) -> Self {
        Self { guard: self.guard.cookies(mode) }
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
    guard: AuthGuard,
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
    type Future = AuthFuture<S, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let cookies = || browser(req.headers(), req.uri());
        let check =
            self.guard.begin_browser(authorization(req.headers()), req.method().as_str(), cookies, || {
                peer(req.headers(), req.peer_addr())
            });
        let state = match check {
            // Decided now: the inner service is called at once, nothing boxed.
            Check::Ready(Ok(identity)) => {
                admit(&req, identity, &self.guard);
                State::Calling { future: self.service.call(req), headers: self.guard.admitted_headers() }
            }
            Check::Ready(Err(err)) => {
                let response = req.into_response(to_http(self.guard.reject(&err)));
                State::Refused { response: Some(response.map_into_right_body()) }
            }
            Check::Pending(check) => State::Checking {
                check,
                request: Some(req),
                service: Rc::clone(&self.service),
                guard: self.guard.clone(),
            },
        };
        AuthFuture { state }
    }
}

/// Puts what the extractors read into the request: the identity (or none),
/// and the guard (its error shape, and proof that a guard ran).
fn admit(req: &ServiceRequest, identity: Option<auth_core::AuthIdentity>, guard: &AuthGuard) {
    let mut extensions = req.extensions_mut();
    // The innermost guard decides: an identity an outer guard admitted is
    // dropped when this one admits the request as anonymous.
    match identity {
        Some(identity) => {
            extensions.insert(identity);
        }
        None => {
            extensions.remove::<auth_core::AuthIdentity>();
        }
    }
    extensions.insert(guard.clone());
}

pin_project! {
    /// The response future of [`AuthMiddlewareService`]: the inner
    /// service's future at once when the check needed no I/O, else the
    /// check first.
    pub struct AuthFuture<S, B>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    {
        Checking {
            #[pin]
            check: PendingCheck,
            request: Option<ServiceRequest>,
            service: Rc<S>,
            guard: AuthGuard,
        },
        Calling {
            #[pin]
            future: S::Future,
            // what the guard adds to the answer (cookie mode: not cacheable)
            headers: &'static [(&'static str, &'static str)],
        },
        Refused {
            response: Option<ServiceResponse<EitherBody<B>>>,
        },
    }
}

impl<S, B> Future for AuthFuture<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Checking { check, request, service, guard } => {
                    let outcome = ready!(check.poll(cx));
                    let Some(req) = request.take() else {
                        // Only reachable if polled again after completing.
                        return Poll::Ready(Err(actix_web::error::ErrorServiceUnavailable(
                            "polled after completion",
                        )));
                    };
                    match outcome {
                        Ok(identity) => {
                            admit(&req, identity, guard);
                            let headers = guard.admitted_headers();
                            let future = service.call(req);
                            this.state.set(State::Calling { future, headers });
                        }
                        Err(err) => {
                            let response = req.into_response(to_http(guard.reject(&err)));
                            return Poll::Ready(Ok(response.map_into_right_body()));
                        }
                    }
                }
                StateProj::Calling { future, headers } => {
                    let mut response = ready!(future.poll(cx))?;
                    crate::convert::add_admitted(response.headers_mut(), headers);
                    return Poll::Ready(Ok(response.map_into_left_body()));
                }
                StateProj::Refused { response } => {
                    return Poll::Ready(response.take().ok_or_else(|| {
                        actix_web::error::ErrorServiceUnavailable("polled after completion")
                    }));
                }
            }
        }
    }
}
