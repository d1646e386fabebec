//! [`AuthClientMiddleware`]: the agent for `reqwest`, through `reqwest-middleware`.

use std::future::Future;
use std::sync::Arc;

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
/// streaming body cannot: its 401 is returned).
///
/// The agent's own logins and refreshes follow no redirect: a `3xx` answer
/// to them is an error ([`AgentError::Redirected`](auth_core::agent::AgentError::Redirected)),
/// whatever your client does with your requests. reqwest has no
/// per-request redirect switch (the policy belongs to the `Client`), and a
/// client that follows redirects re-sends the body on a 307 or 308, to any
/// host: the password or refresh token would go wherever the answer
/// points. So these requests do not go through the rest of the middleware
/// chain or through your client, but through a client of the middleware's
/// own built with `redirect::Policy::none()`. The trade-off: your client's
/// settings (proxy, root certificates, timeouts) and the other middleware
/// (retries, tracing) do not apply to them; to give them your settings,
/// build the middleware with [`AuthClientMiddleware::with_login_client`].
///
/// ```
/// use auth_tower::client::{Agent, ClientDialect};
/// use auth_tower::client::AuthClientMiddleware;
/// let agent = Agent::builder(ClientDialect::Echome, "http://127.0.0.1:8000", "ann", "pw").build().unwrap();
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(AuthClientMiddleware::new(agent))
///     .build();
/// # let _ = client;
/// ```
#[derive(Debug, Clone)]
pub struct AuthClientMiddleware {
    agent: Agent,
    /// Sends the agent's logins and refreshes: follows no redirect (or the
    /// reason it could not be built).
    logins: std::result::Result<reqwest::Client, Arc<str>>,
}

impl AuthClientMiddleware {
    /// A middleware attaching `agent`'s credentials; its logins and
    /// refreshes go through a default `reqwest::Client` that follows no
    /// redirect. (Should that client fail to build, which only a broken TLS
    /// setup causes, each login reports why.)
    pub fn new(agent: Agent) -> Self {
        let logins = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Arc::from(e.to_string()));
        Self { agent, logins }
    }

    /// A middleware whose logins and refreshes go through a client built
    /// from `builder` (your proxy, root certificates, timeouts), with
    /// redirects turned off whatever `builder` says.
    ///
    /// ```
    /// use auth_tower::client::{Agent, ClientDialect};
    /// use auth_tower::client::AuthClientMiddleware;
    /// use std::time::Duration;
    /// let agent = Agent::builder(ClientDialect::Standard, "https://api.example", "ann", "pw").build().unwrap();
    /// let logins = reqwest::Client::builder().timeout(Duration::from_secs(10));
    /// let middleware = AuthClientMiddleware::with_login_client(agent, logins)?;
    /// # let _ = middleware;
    /// # Ok::<(), reqwest::Error>(())
    /// ```
    pub fn with_login_client(
        agent: Agent,
        builder: reqwest::ClientBuilder,
    ) -> std::result::Result<Self, reqwest::Error> {
        let logins = builder.redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Self { agent, logins: Ok(logins) })
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

    fn transport(&self) -> LoginTransport<'_> {
        LoginTransport { client: self.logins.as_ref().map_err(|e| &**e) }
    }
}

fn attach(req: &mut Request, credential: &Credential) -> Result<()> {
    let mut value = HeaderValue::from_str(credential.header_value()).map_err(Error::middleware)?;
    value.set_sensitive(true);
    req.headers_mut().insert(AUTHORIZATION, value);
    Ok(())
}

#[async_trait::async_trait]
impl Middleware for AuthClientMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        if !self.wants_credential(&req) {
            return next.run(req, extensions).await;
        }
        let transport = self.transport();
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

/// Sends the agent's requests through the middleware's own client, which
/// follows no redirect.
struct LoginTransport<'a> {
    client: std::result::Result<&'a reqwest::Client, &'a str>,
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
    if let Some(device) = exchange.device_token.and_then(|d| HeaderValue::from_str(&d).ok()) {
        let mut value = device;
        value.set_sensitive(true);
        headers.insert(auth_core::DEVICE_TOKEN_HEADER, value);
    }
    if !exchange.body.is_empty() {
        *req.body_mut() = Some(exchange.body.into());
    }
    Ok(req)
}

impl Transport for LoginTransport<'_> {
    fn send(&self, exchange: Exchange) -> impl Future<Output = std::result::Result<Reply, BoxError>> + Send {
        let client = self.client.cloned().map_err(|why| {
            BoxError::from(format!("the client for logins and refreshes could not be built: {why}"))
        });
        async move {
            let client = client?;
            let req = to_request(exchange)?;
            let mut res = client.execute(req).await?;
            let status = res.status().as_u16();
            let device_token = super::service::device_token_of(res.headers());
            let mut body = Vec::new();
            while let Some(chunk) = res.chunk().await? {
                if body.len() + chunk.len() > MAX_REPLY_LEN {
                    return Err("the answer is longer than MAX_REPLY_LEN".into());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Reply { status, body, device_token })
        }
    }
}
