//! [`AuthLayer`]: authenticate every request in front of an inner service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use auth_core::{AuthError, AuthGuard, AuthIdentity, Check, PendingCheck};
use axum::body::Body;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::convert::{authorization, browser, peer, to_http};
use crate::grpc::expiry::ExpiringBody;
use http::header::CONTENT_TYPE;

/// A tower layer that authenticates requests with a [`AuthGuard`].
///
/// On success the [`AuthIdentity`] goes into the request extensions (and the
/// guard too, so extractors can see which guard ran); on failure the core's
/// response (status, `WWW-Authenticate`, JSON body) is returned and the
/// inner service is not called. With [`AuthGuard::optional`], requests without
/// credentials pass with no identity.
///
/// ```
/// use auth_core::{Authority, AuthGuard, JwtKey, KeySet, Scheme};
/// use auth_tower::AuthLayer;
/// use axum::{routing::get, Router};
///
/// let authority = Authority::builder(KeySet::new(JwtKey::hs256("k", &[1u8; 32]).unwrap()).unwrap()).build();
/// let guard = AuthGuard::new(authority).schemes(&[Scheme::Bearer, Scheme::Token]);
/// let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(AuthLayer::new(guard));
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct AuthLayer {
    guard: AuthGuard,
    streams_expire: bool,
}

impl AuthLayer {
    /// A layer that checks requests with `guard`.
    pub fn new(guard: AuthGuard) -> Self {
        Self { guard, streams_expire: true }
    }

    /// Lets requests without credentials through, with no identity (for
    /// [`MaybeAuthenticated`](crate::MaybeAuthenticated) routes); a present
    /// but invalid credential is still refused with 401.
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_tower::prelude::*;
    /// let optional = authority.layer().optional();
    /// # let _ = optional;
    /// ```
    pub fn optional(self) -> Self {
        Self { guard: self.guard.optional(true), ..self }
    }

    /// Also accepts the access token from cookie mode's cookie, with its
    /// CSRF checks (see [`AuthGuard::cookies`]); give it the same
    /// [`CookieMode`](auth_core::CookieMode) as the routes.
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_tower::prelude::*;
    /// let layer = authority.layer().cookies(CookieMode::new());
    /// # let _ = layer;
    /// ```
    pub fn cookies(self, mode: auth_core::CookieMode) -> Self {
        Self { guard: self.guard.cookies(mode), ..self }
    }

    /// Lets a gRPC stream run past the expiry of the token it was opened
    /// with. By default it ends with `UNAUTHENTICATED` ("the token has
    /// expired") then, so a stolen token cannot hold a stream open for
    /// ever (see [`grpc`](crate::grpc)).
    ///
    /// ```
    /// # let authority = auth_core::Authority::hs256([1u8; 32]).unwrap().build();
    /// use auth_tower::prelude::*;
    /// let layer = authority.layer().grpc_streams_outlive_tokens();
    /// # let _ = layer;
    /// ```
    pub fn grpc_streams_outlive_tokens(self) -> Self {
        Self { streams_expire: false, ..self }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService { inner, guard: self.guard.clone(), streams_expire: self.streams_expire }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    guard: AuthGuard,
    streams_expire: bool,
}

pin_project! {
    /// The response future of [`AuthService`]: the inner service's future
    /// at once when the check needed no I/O, else the check first.
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        Checking {
            #[pin]
            check: PendingCheck,
            // Boxed: only the slow path pays for it, and the future every
            // request moves around stays small.
            waiting: Option<Box<Waiting<S, B>>>,
        },
        Calling {
            #[pin]
            future: S::Future,
            // what the guard adds to the answer (cookie mode: not cacheable)
            headers: &'static [(&'static str, &'static str)],
            // when the token stops being accepted: where the body of a gRPC
            // answer is cut off
            deadline: Option<i64>,
        },
        Refused {
            response: Option<Response<Body>>,
        },
    }
}

impl<S, B, ResBody> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let (check, grpc) = {
            let (headers, extensions) = (request.headers(), request.extensions());
            let cookies = || browser(headers, request.uri());
            let method = request.method().as_str();
            // gRPC runs on HTTP/2 only: an HTTP/1 request keeps its HTTP answer
            let grpc = request.version() == http::Version::HTTP_2
                && auth_core::grpc::is_grpc(headers.get(CONTENT_TYPE).map(|v| v.as_bytes()));
            (
                self.guard
                    .begin_browser(authorization(headers), method, cookies, || peer(headers, extensions)),
                grpc,
            )
        };
        // Any answer may turn out to be a gRPC stream (a client that lied
        // about its content type is still answered by tonic): its deadline
        // is known now, the answer's kind when it comes.
        let expire = self.streams_expire;
        let state = match check {
            // Decided now: the ready inner service is called at once, no clone of it.
            Check::Ready(Ok(identity)) => {
                let deadline = deadline(expire, &self.guard, identity.as_ref());
                admit(&mut request, identity, &self.guard);
                State::Calling {
                    future: self.inner.call(request),
                    headers: self.guard.admitted_headers(),
                    deadline,
                }
            }
            Check::Ready(Err(err)) => State::Refused { response: Some(refuse(&self.guard, &err, grpc)) },
            Check::Pending(check) => {
                // The ready service goes into the future; a clone stays for the next call.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let waiting = Waiting { request, inner, guard: self.guard.clone(), grpc, expire };
                State::Checking { check, waiting: Some(Box::new(waiting)) }
            }
        };
        ResponseFuture { state }
    }
}

/// What a request waiting for its check keeps.
struct Waiting<S, B> {
    request: Request<B>,
    inner: S,
    guard: AuthGuard,
    grpc: bool,
    expire: bool,
}

/// The refusal of `err`: a trailers-only gRPC answer to a gRPC call, else
/// the guard's HTTP answer. The decision is the same.
fn refuse(guard: &AuthGuard, err: &AuthError, grpc: bool) -> Response<Body> {
    to_http(if grpc { auth_core::grpc::refusal(err) } else { guard.reject(err) })
}

/// When a gRPC answer must be cut off: when its token stops being accepted
/// (`None`: streams outlive tokens, or no token).
fn deadline(expire: bool, guard: &AuthGuard, identity: Option<&AuthIdentity>) -> Option<i64> {
    if expire { identity.and_then(|id| guard.stream_deadline(id)) } else { None }
}

/// Puts what the extractors read into the request: the identity (or none),
/// and the guard (its error shape, and proof that a guard ran).
fn admit<B>(request: &mut Request<B>, identity: Option<AuthIdentity>, guard: &AuthGuard) {
    let extensions = request.extensions_mut();
    // The innermost guard decides: an identity an outer guard admitted is
    // dropped when this one admits the request as anonymous.
    match identity {
        Some(identity) => {
            extensions.insert(identity);
        }
        None => {
            extensions.remove::<AuthIdentity>();
        }
    }
    extensions.insert(guard.clone());
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    ResBody::Error: Into<axum::BoxError>,
{
    type Output = Result<Response<Body>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Checking { check, waiting } => {
                    let outcome = ready!(check.poll(cx));
                    let Some(waiting) = waiting.take() else {
                        // Only reachable if polled again after completing.
                        return Poll::Ready(Ok(unavailable()));
                    };
                    let Waiting { mut request, mut inner, guard, grpc, expire } = *waiting;
                    match outcome {
                        Ok(identity) => {
                            let deadline = deadline(expire, &guard, identity.as_ref());
                            admit(&mut request, identity, &guard);
                            let future = inner.call(request);
                            this.state.set(State::Calling {
                                future,
                                headers: guard.admitted_headers(),
                                deadline,
                            });
                        }
                        Err(err) => return Poll::Ready(Ok(refuse(&guard, &err, grpc))),
                    }
                }
                StateProj::Calling { future, headers, deadline } => {
                    let mut response = ready!(future.poll(cx))?;
                    crate::convert::add_admitted(response.headers_mut(), headers);
                    let response = response.map(Body::new);
                    let grpc = || {
                        auth_core::grpc::is_grpc(response.headers().get(CONTENT_TYPE).map(|v| v.as_bytes()))
                    };
                    return Poll::Ready(Ok(match *deadline {
                        Some(at) if grpc() => response.map(|body| Body::new(ExpiringBody::new(body, at))),
                        _ => response,
                    }));
                }
                StateProj::Refused { response } => {
                    // `None` only if polled again after completing.
                    return Poll::Ready(Ok(response.take().unwrap_or_else(unavailable)));
                }
            }
        }
    }
}

/// The answer to a future polled again after it completed (a caller's
/// bug): 503, never a panic.
fn unavailable() -> Response<Body> {
    to_http(AuthError::Unavailable.to_response(auth_core::Scheme::Bearer, "api"))
}
