//! [`AuthMiddleware`]: the agent for `reqwest`, through `reqwest-middleware`.

use std::future::Future;

use auth_core::agent::{Agent, BoxError, Credential, Exchange, MAX_REPLY_LEN, Reply, Transport};
use http::Extensions;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Error, Middleware, Next, Result};

/// A `reqwest-middleware` middleware with the same behaviour as
/// [`AuthClientLayer`](super::AuthClientLayer): requests to the agent's
/// server get its credential (a login first when needed); on a 401 the
/// agent renews once for all requests refused with that credential and the
/// request is sent again if `reqwest::Request::try_clone` can copy it (a
/// streaming body cannot: its 401 is returned). The agent's own logins and
/// refreshes go through the rest of the middleware chain.
///
/// ```
/// use auth_core::agent::{Agent, ClientDialect};
/// use auth_tower::client::AuthMiddleware;
/// let agent = Agent::builder(ClientDialect::Echome, "http://127.0.0.1:8000", "ann", "pw").build().unwrap();
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(AuthMiddleware::new(agent))
///     .build();
/// # let _ = client;
/// ```
#[derive(Debug, Clone)]
pub struct AuthMiddleware {
    agent: Agent,
}

impl AuthMiddleware {
    /// A middleware attaching `agent`'s credentials.
    pub fn new(agent: Agent) -> Self {
        Self { agent }
    }

    /// The agent.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    fn wants_credential(&self, req: &Request) -> bool {
        let url = req.url();
        let authority = match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            _ => return false,
        };
        !req.headers().contains_key(AUTHORIZATION) && self.agent.is_own_origin(url.scheme(), &authority)
    }
}

fn attach(req: &mut Request, credential: &Credential) -> Result<()> {
    let mut value = HeaderValue::from_str(credential.header_value()).map_err(Error::middleware)?;
    value.set_sensitive(true);
    req.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}

#[async_trait::async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        if !self.wants_credential(&req) {
            return next.run(req, extensions).await;
        }
        let transport = NextTransport { next: next.clone() };
        let credential = self.agent.authorization(&transport).await.map_err(Error::middleware)?;
        let replay = req.try_clone();
        attach(&mut req, &credential)?;
        let res = next.clone().run(req, extensions).await?;
        if res.status() != StatusCode::UNAUTHORIZED {
            return Ok(res);
        }
        let Some(mut again) = replay else {
            self.agent.invalidate(&credential);
            return Ok(res);
        };
        drop(res);
        let fresh = self.agent.rejected(&transport, &credential).await.map_err(Error::middleware)?;
        attach(&mut again, &fresh)?;
        next.run(again, extensions).await
    }
}

/// Sends the agent's requests through the rest of the chain.
struct NextTransport<'a> {
    next: Next<'a>,
}

fn to_request(exchange: Exchange) -> std::result::Result<Request, BoxError> {
    let method = reqwest::Method::from_bytes(exchange.method.as_bytes())?;
    let mut req = Request::new(method, reqwest::Url::parse(&exchange.url)?);
    let headers = req.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if let Some(content_type) = exchange.content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Some(authorization) = exchange.authorization {
        let mut value = HeaderValue::from_str(&authorization)?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
    }
    if !exchange.body.is_empty() {
        *req.body_mut() = Some(exchange.body.into());
    }
    Ok(req)
}

impl Transport for NextTransport<'_> {
    fn send(&self, exchange: Exchange) -> impl Future<Output = std::result::Result<Reply, BoxError>> + Send {
        let next = self.next.clone();
        async move {
            let req = to_request(exchange)?;
            let mut res = next.run(req, &mut Extensions::new()).await?;
            let status = res.status().as_u16();
            let mut body = Vec::new();
            while let Some(chunk) = res.chunk().await? {
                if body.len() + chunk.len() > MAX_REPLY_LEN {
                    return Err("the answer is longer than MAX_REPLY_LEN".into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Reply { status, body })
        }
    }
}
