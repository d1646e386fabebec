//! [`AuthClientLayer`] and [`AuthClient`]: the tower side of the agent.

use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use auth_core::agent::{Agent, BoxError, Credential, Exchange, MAX_REPLY_LEN, Reply, Transport};
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use tower_layer::Layer;
use tower_service::Service;

use super::body::{BodyPolicy, ClientBodies};

/// Wraps an HTTP client service in [`AuthClient`]: every request to the
/// agent's server carries the agent's credential.
///
/// Which requests get it: those whose absolute URI has the agent's origin
/// (scheme, host and port of its base URL) and no `Authorization` header
/// of their own. A request with a relative URI (`/api/x`) gets none, since
/// the layer cannot know where the wrapped service sends it, unless the
/// layer is told that the wrapped service only talks to the agent's server
/// ([`AuthClientLayer::assume_origin`]).
///
/// What counts as a refusal of the credential: an HTTP `401`, or a gRPC
/// `UNAUTHENTICATED` (a trailers-only answer: HTTP 200, `content-type:
/// application/grpc`, `grpc-status: 16` in the headers). Either makes the
/// agent renew (once for all the requests refused with that credential)
/// and the request go once more, when its body can be replayed.
///
/// The agent's logins and refreshes go through the wrapped service, with
/// the agent's absolute URLs, unless the layer was given a service of
/// their own ([`with_login_service`](Self::with_login_service): a gRPC
/// channel cannot reach HTTP login routes on another port). A `3xx` answer
/// to them is an error
/// ([`AgentError::Redirected`](auth_core::agent::AgentError::Redirected)),
/// never followed by the layer; but a service that follows redirects on
/// its own (a `FollowRedirect` layer) would send the password on before
/// the layer sees the answer: use one that does not (hyper-util's client
/// and tonic's channel do not).
///
/// ```
/// use auth_tower::client::{Agent, ClientDialect};
/// let agent = Agent::builder(ClientDialect::Drf, "http://127.0.0.1:8000", "ann", "pw").build().unwrap();
/// let layer = auth_tower::client::AuthClientLayer::new(agent);
/// # let _ = layer;
/// ```
#[derive(Debug, Clone)]
pub struct AuthClientLayer<P = ClientBodies> {
    agent: Agent,
    bodies: P,
    assume_origin: bool,
    login: Option<LoginService>,
}

impl AuthClientLayer {
    /// A layer attaching `agent`'s credentials, for body types that
    /// implement [`ClientBody`](super::ClientBody).
    pub fn new(agent: Agent) -> Self {
        Self { agent, bodies: ClientBodies, assume_origin: false, login: None }
    }
}

#[cfg(feature = "grpc-client")]
impl AuthClientLayer<super::GrpcBodies> {
    /// A layer for a tonic `Channel` (feature `grpc-client`): tonic's
    /// bodies ([`GrpcBodies`](super::GrpcBodies): a unary call is replayed
    /// after an `UNAUTHENTICATED`, a stream still waiting for its messages
    /// is sent once), and every call gets the credential
    /// ([`assume_origin`](Self::assume_origin): a channel talks to one
    /// server). The agent's logins and refreshes go through `login`, an
    /// HTTP client ([`with_login_service`](Self::with_login_service)),
    /// never through the channel: a channel sends every request to its own
    /// endpoint whatever the URL says, so a login through it would take the
    /// password there. The credential the agent gets from its base URL goes
    /// to the channel's server: wrap only a channel to the same application.
    ///
    /// ```no_run
    /// use auth_tower::client::{Agent, AuthClientLayer, ClientDialect};
    /// use http_body_util::Full;
    /// use hyper_util::client::legacy::Client;
    /// use hyper_util::rt::TokioExecutor;
    /// use tonic::transport::Channel;
    /// use tower::ServiceBuilder;
    /// # mod pb { // what tonic generates for `service Echo`, in short
    /// #   use http_body::Body; type StdError = Box<dyn std::error::Error + Send + Sync>;
    /// #   pub struct EchoClient<T>(T);
    /// #   impl<T> EchoClient<T> where T: tonic::client::GrpcService<tonic::body::Body>, T::Error: Into<StdError>,
    /// #     T::ResponseBody: Body<Data = bytes::Bytes> + Send + 'static, <T::ResponseBody as Body>::Error: Into<StdError> + Send,
    /// #   { pub fn new(inner: T) -> Self { Self(inner) } } }
    /// # use pb::EchoClient;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// // Logs in over HTTP on :8080 (the standard dialect's POST /auth/login)...
    /// let agent = Agent::builder(ClientDialect::Standard, "http://127.0.0.1:8080", "alice", "alice-pw").build()?;
    /// let http = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    /// // ...and calls gRPC on :50051 with `authorization: Bearer ...`, renewed when it expires
    /// // or is refused (UNAUTHENTICATED), a unary call replayed once.
    /// let channel = Channel::from_static("http://127.0.0.1:50051").connect().await?;
    /// let channel = ServiceBuilder::new()
    ///     .layer(AuthClientLayer::grpc(agent, http))
    ///     .service(channel);
    /// let mut client = EchoClient::new(channel); // any tonic-generated client
    /// # let _ = &mut client; Ok(()) }
    /// ```
    pub fn grpc<L, RB>(agent: Agent, login: L) -> Self
    where
        L: Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone + Send + 'static,
        L::Future: Send,
        L::Error: Into<BoxError>,
        RB: http_body::Body + Send + 'static,
        RB::Data: Send,
        RB::Error: Into<BoxError>,
    {
        Self::with_bodies(agent, super::GrpcBodies::default()).assume_origin().with_login_service(login)
    }
}

impl<P> AuthClientLayer<P> {
    /// A layer for a body type this crate does not know (a boxed body; a
    /// tonic body: see [`GrpcBodies`](super::GrpcBodies)): `bodies` builds
    /// and replays them ([`BodyPolicy`]).
    pub fn with_bodies(agent: Agent, bodies: P) -> Self {
        Self { agent, bodies, assume_origin: false, login: None }
    }

    /// Sends the agent's logins and refreshes through `service`, an HTTP
    /// client taking `Full<Bytes>` bodies (hyper-util's client, say),
    /// instead of through the wrapped service: for a wrapped service that
    /// cannot reach the login routes, as a tonic `Channel` to a gRPC port
    /// cannot reach HTTP routes on another port. The requests go to the
    /// agent's absolute URLs; `service` must not follow redirects (see
    /// above). Without it, the wrapped service sends them.
    ///
    /// ```
    /// use auth_tower::client::{Agent, AuthClientLayer, ClientDialect};
    /// use http_body_util::Full;
    /// use hyper_util::client::legacy::Client;
    /// use hyper_util::rt::TokioExecutor;
    ///
    /// let agent = Agent::builder(ClientDialect::Standard, "http://127.0.0.1:8080", "ann", "pw").build().unwrap();
    /// let http = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    /// let layer = AuthClientLayer::new(agent).with_login_service(http);
    /// # let _ = layer;
    /// ```
    pub fn with_login_service<L, RB>(mut self, service: L) -> Self
    where
        L: Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone + Send + 'static,
        L::Future: Send,
        L::Error: Into<BoxError>,
        RB: http_body::Body + Send + 'static,
        RB::Data: Send,
        RB::Error: Into<BoxError>,
    {
        self.login = Some(LoginService::new(service));
        self
    }

    /// Declares that the wrapped service sends every request to the
    /// agent's server, whatever its URI says, as a tonic `Channel`
    /// connected to it does: requests with a relative URI (`/pkg.Svc/Call`)
    /// then get the credential too. Requests whose absolute URI names
    /// another origin still never get it.
    ///
    /// Only use it on such a service: on a general HTTP client, a relative
    /// URI says nothing about where the request goes.
    ///
    /// ```
    /// use auth_tower::client::{Agent, ClientDialect};
    /// use auth_tower::client::AuthClientLayer;
    /// let agent = Agent::builder(ClientDialect::Standard, "http://127.0.0.1:50051", "ann", "pw").build().unwrap();
    /// // around `tonic::transport::Channel::from_static("http://127.0.0.1:50051").connect().await?`
    /// let layer = AuthClientLayer::new(agent).assume_origin();
    /// # let _ = layer;
    /// ```
    pub fn assume_origin(mut self) -> Self {
        self.assume_origin = true;
        self
    }
}

impl<S, P: Clone> Layer<S> for AuthClientLayer<P> {
    type Service = AuthClient<S, P>;

    fn layer(&self, inner: S) -> AuthClient<S, P> {
        AuthClient {
            inner,
            agent: self.agent.clone(),
            bodies: self.bodies.clone(),
            assume_origin: self.assume_origin,
            login: self.login.clone(),
        }
    }
}

/// The service [`AuthClientLayer`] builds. Its errors are the wrapped
/// service's, boxed, or an [`AgentError`](auth_core::agent::AgentError)
/// when no credential could be had (the login was refused, the server is
/// down, it answered a redirect).
#[derive(Debug, Clone)]
pub struct AuthClient<S, P = ClientBodies> {
    inner: S,
    agent: Agent,
    bodies: P,
    assume_origin: bool,
    login: Option<LoginService>,
}

impl<S, P> AuthClient<S, P> {
    /// The agent whose credentials are attached.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }
}

/// The future of [`AuthClient`].
pub type AuthClientFuture<R> = Pin<Box<dyn Future<Output = Result<R, BoxError>> + Send>>;

impl<S, P, B, RB> Service<Request<B>> for AuthClient<S, P>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    P: BodyPolicy<B>,
    B: Send + 'static,
    RB: http_body::Body + Send + 'static,
    RB::Data: Send,
    RB::Error: Into<BoxError>,
{
    type Response = Response<RB>;
    type Error = BoxError;
    type Future = AuthClientFuture<Response<RB>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The service that was polled ready takes this request; a clone
        // sends the agent's own requests and the retry.
        let spare = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, spare.clone());
        let (agent, bodies, login) = (self.agent.clone(), self.bodies.clone(), self.login.clone());
        let wanted = wants_credential(&agent, &req, self.assume_origin);
        Box::pin(async move {
            if !wanted {
                return ready.call(req).await.map_err(Into::into);
            }
            let transport = ServiceTransport {
                service: Mutex::new(spare),
                bodies: bodies.clone(),
                login,
                body: PhantomData,
            };
            let credential = agent.authorization(&transport).await?;
            let (mut parts, body) = req.into_parts();
            let (body, copy) = bodies.prepare_replay(body);
            let replay = copy.map(|b| (copy_parts(&parts), b));
            attach(&mut parts, &credential)?;
            let res = ready.call(Request::from_parts(parts, body)).await.map_err(Into::into)?;
            if !is_refusal(&res) {
                return Ok(res);
            }
            let Some((mut parts, body)) = replay else {
                // Cannot be sent again: the caller gets the refusal, the
                // next request a renewed credential.
                agent.invalidate(&credential);
                return Ok(res);
            };
            drop(res);
            let fresh = agent.rejected(&transport, &credential).await?;
            attach(&mut parts, &fresh)?;
            let mut again = transport.into_service()?;
            poll_fn(|cx| again.poll_ready(cx)).await.map_err(Into::into)?;
            again.call(Request::from_parts(parts, body)).await.map_err(Into::into)
        })
    }
}

/// A request without an `Authorization` header of its own, to the agent's
/// server: its absolute URI has the agent's origin, or it has a relative
/// URI and the wrapped service is declared to talk to that origin only.
fn wants_credential<B>(agent: &Agent, req: &Request<B>, assume_origin: bool) -> bool {
    if req.headers().contains_key(AUTHORIZATION) {
        return false;
    }
    match (req.uri().scheme_str(), req.uri().authority()) {
        (Some(scheme), Some(authority)) => agent.is_own_origin(scheme, authority.as_str()),
        (None, None) => assume_origin,
        _ => false,
    }
}

/// Whether `res` refuses the credential: an HTTP 401, or a gRPC
/// `UNAUTHENTICATED` answered trailers-only (HTTP 200, a gRPC content type,
/// `grpc-status: 16` in the headers). A gRPC status in the trailers of a
/// stream that was answered is the caller's: the layer does not read
/// bodies.
fn is_refusal<B>(res: &Response<B>) -> bool {
    res.status() == StatusCode::UNAUTHORIZED
        || (res.status() == StatusCode::OK && is_grpc_unauthenticated(res.headers()))
}

/// `grpc-status: 16` (`UNAUTHENTICATED`) with a gRPC `content-type`: a
/// trailers-only refusal (the gRPC decisions are auth-core's).
fn is_grpc_unauthenticated(headers: &HeaderMap) -> bool {
    let status = headers.get("grpc-status").and_then(|v| v.to_str().ok()?.parse::<u8>().ok());
    status == Some(auth_core::grpc::UNAUTHENTICATED)
        && auth_core::grpc::is_grpc(headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes))
}

fn attach(parts: &mut Parts, credential: &Credential) -> Result<(), BoxError> {
    let mut value = HeaderValue::from_str(credential.header_value())?;
    value.set_sensitive(true);
    parts.headers.insert(AUTHORIZATION, value);
    Ok(())
}

fn copy_parts(parts: &Parts) -> Parts {
    let mut req = Request::new(());
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    *req.extensions_mut() = parts.extensions.clone();
    req.into_parts().0
}

/// The agent's logins and refreshes, sent through the login service if
/// the layer has one, else through a clone of the wrapped service (the
/// mutex only makes it `Sync`; it is held to clone).
struct ServiceTransport<S, P, B> {
    service: Mutex<S>,
    bodies: P,
    login: Option<LoginService>,
    body: PhantomData<fn() -> B>,
}

/// The future of a login or refresh sent through a [`LoginService`].
type ExchangeFuture = Pin<Box<dyn Future<Output = Result<Reply, BoxError>> + Send>>;

/// [`AuthClientLayer::with_login_service`]'s service, its type erased: it
/// only sends logins and refreshes (a box each), and the layer's and
/// client's types stay the same with or without it.
#[derive(Clone)]
struct LoginService(Arc<dyn Fn(Exchange) -> ExchangeFuture + Send + Sync>);

impl std::fmt::Debug for LoginService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginService")
    }
}

impl LoginService {
    fn new<L, RB>(service: L) -> Self
    where
        L: Service<Request<Full<Bytes>>, Response = Response<RB>> + Clone + Send + 'static,
        L::Future: Send,
        L::Error: Into<BoxError>,
        RB: http_body::Body + Send + 'static,
        RB::Data: Send,
        RB::Error: Into<BoxError>,
    {
        // The mutex only makes it `Sync`; it is held to clone.
        let service = Mutex::new(service);
        Self(Arc::new(move |exchange| {
            let service =
                service.lock().map(|s| s.clone()).map_err(|_| "the login service's lock was poisoned");
            let req = to_request::<Full<Bytes>>(exchange, &ClientBodies);
            Box::pin(async move { exchange_with(service?, req?).await })
        }))
    }
}

impl<S, P, B> ServiceTransport<S, P, B> {
    fn into_service(self) -> Result<S, BoxError> {
        self.service.into_inner().map_err(|_| "the client service's lock was poisoned".into())
    }
}

/// The `Device-Token` header of a login's answer.
pub(crate) fn device_token_of(headers: &http::HeaderMap) -> Option<String> {
    auth_core::device_token_in(headers.get(auth_core::DEVICE_TOKEN_HEADER).map(HeaderValue::as_bytes), [])
}

/// An agent's request as an HTTP request.
fn to_request<B>(exchange: Exchange, bodies: &impl BodyPolicy<B>) -> Result<Request<B>, BoxError> {
    let mut builder =
        Request::builder().method(exchange.method).uri(&exchange.url).header(ACCEPT, "application/json");
    if let Some(content_type) = exchange.content_type {
        builder = builder.header(CONTENT_TYPE, content_type);
    }
    let mut req = builder.body(bodies.build(Bytes::from(exchange.body)))?;
    if let Some(authorization) = exchange.authorization {
        let mut value = HeaderValue::from_str(&authorization)?;
        value.set_sensitive(true);
        req.headers_mut().insert(AUTHORIZATION, value);
    }
    if let Some(device) = exchange.device_token.and_then(|d| HeaderValue::from_str(&d).ok()) {
        let mut value = device;
        value.set_sensitive(true);
        req.headers_mut().insert(auth_core::DEVICE_TOKEN_HEADER, value);
    }
    Ok(req)
}

impl<S, P, B, RB> Transport for ServiceTransport<S, P, B>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    P: BodyPolicy<B>,
    B: Send + 'static,
    RB: http_body::Body + Send + 'static,
    RB::Data: Send,
    RB::Error: Into<BoxError>,
{
    fn send(&self, exchange: Exchange) -> impl Future<Output = Result<Reply, BoxError>> + Send {
        let via = match &self.login {
            Some(login) => Err((login.0)(exchange)),
            None => Ok((
                self.service.lock().map(|s| s.clone()).map_err(|_| "the client service's lock was poisoned"),
                to_request(exchange, &self.bodies),
            )),
        };
        async move {
            match via {
                Err(login) => login.await,
                Ok((service, req)) => exchange_with(service?, req?).await,
            }
        }
    }
}

/// Sends one of the agent's requests through `service` and reads the
/// answer (at most [`MAX_REPLY_LEN`] bytes of it).
async fn exchange_with<S, B, RB>(mut service: S, req: Request<B>) -> Result<Reply, BoxError>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Error: Into<BoxError>,
    RB: http_body::Body,
    RB::Error: Into<BoxError>,
{
    poll_fn(|cx| service.poll_ready(cx)).await.map_err(Into::into)?;
    let res = service.call(req).await.map_err(Into::into)?;
    let status = res.status().as_u16();
    let device_token = device_token_of(res.headers());
    let body = Limited::new(res.into_body(), MAX_REPLY_LEN).collect().await?.to_bytes();
    Ok(Reply { status, body: body.to_vec(), device_token })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str) -> Request<()> {
        Request::get(uri).body(()).unwrap()
    }

    #[test]
    fn only_the_agents_origin_gets_the_credential() {
        let agent = auth_core::agent::Agent::builder(
            auth_core::agent::ClientDialect::Standard,
            "http://127.0.0.1:3000",
            "ann",
            "pw",
        )
        .build()
        .unwrap();
        for assume_origin in [false, true] {
            assert!(wants_credential(&agent, &request("http://127.0.0.1:3000/x"), assume_origin));
            assert!(!wants_credential(&agent, &request("http://127.0.0.2:3000/x"), assume_origin));
            assert!(!wants_credential(&agent, &request("https://127.0.0.1:3000/x"), assume_origin));
            assert!(!wants_credential(&agent, &request("http://127.0.0.1:3001/x"), assume_origin));
            assert!(!wants_credential(&agent, &request("http://server.invalid/x"), assume_origin));
            let mut own = request("/x");
            own.headers_mut().insert(AUTHORIZATION, HeaderValue::from_static("Bearer mine"));
            assert!(!wants_credential(&agent, &own, assume_origin));
        }
        assert!(!wants_credential(&agent, &request("/x"), false), "a relative URI: no token by default");
        assert!(wants_credential(&agent, &request("/x"), true), "unless the service is declared the origin");
    }

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response<()> {
        let mut res = Response::builder().status(status);
        for (name, value) in headers {
            res = res.header(*name, *value);
        }
        res.body(()).unwrap()
    }

    #[test]
    fn a_401_and_a_trailers_only_unauthenticated_are_refusals() {
        assert!(is_refusal(&answer(401, &[])));
        let grpc = |content_type: &str, status: &str| {
            is_refusal(&answer(200, &[("content-type", content_type), ("grpc-status", status)]))
        };
        assert!(grpc("application/grpc", "16"));
        assert!(grpc("application/grpc+proto", "16"));
        assert!(grpc("Application/GRPC; charset=x", "16"));
        assert!(!grpc("application/grpc", "7"), "PERMISSION_DENIED is the caller's");
        assert!(!grpc("application/grpc", "0"));
        assert!(!grpc("application/grpc", "160"));
        assert!(!grpc("application/grpc-web", "16"), "not gRPC over HTTP/2");
        assert!(!grpc("application/json", "16"));
        assert!(!is_refusal(&answer(200, &[("grpc-status", "16")])), "no gRPC content type");
        assert!(!is_refusal(&answer(500, &[("content-type", "application/grpc"), ("grpc-status", "16")])));
        assert!(
            !is_refusal(&answer(200, &[("content-type", "application/grpc")])),
            "an answer: status in trailers"
        );
        assert!(!is_refusal(&answer(403, &[])));
    }
}
