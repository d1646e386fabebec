//! The unit tests of [`Agent`]: single-flight renewal, fallbacks, redirects
//! and origins.

use super::*;
use crate::agent::wire::ClientDialect;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Answers the agent's requests from a script, counting them by path
/// and taking a little time, as a server would.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<Reply, &'static str>>>,
    sent: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(answers: impl IntoIterator<Item = Result<(u16, &'static str), &'static str>>) -> Self {
        let answers = answers.into_iter().map(|a| a.map(|(status, body)| Reply::new(status, body.into())));
        Self { answers: Mutex::new(answers.collect()), sent: Mutex::default() }
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }
}

impl Transport for Scripted {
    async fn send(&self, exchange: Exchange) -> Result<Reply, BoxError> {
        self.sent.lock().unwrap().push(exchange.url.rsplit('/').next().unwrap_or_default().to_owned());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let next = self.answers.lock().unwrap().pop_front();
        match next {
            Some(Ok(reply)) => Ok(reply),
            Some(Err(e)) => Err(e.into()),
            None => Err("nothing scripted".into()),
        }
    }
}

/// A standard token answer: `expires_in` seconds.
const DUE: &str = r#"{"access_token":"a1","token_type":"Bearer","expires_in":0,"refresh_token":"r1"}"#;
const FRESH: &str = r#"{"access_token":"a2","token_type":"Bearer","expires_in":3600,"refresh_token":"r2"}"#;
const FRESH3: &str = r#"{"access_token":"a3","token_type":"Bearer","expires_in":3600,"refresh_token":"r3"}"#;

fn agent() -> Agent {
    Agent::builder(ClientDialect::Standard, "http://h", "ann", "pw").build().unwrap()
}

/// Records each exchange's path and device token; answers a login with
/// a token pair and the device token `d1`, a refresh with 401.
#[derive(Default)]
struct Devices(Mutex<Vec<(String, Option<String>)>>);

impl Transport for Devices {
    async fn send(&self, exchange: Exchange) -> Result<Reply, BoxError> {
        let path = exchange.url.rsplit('/').next().unwrap_or_default().to_owned();
        self.0.lock().unwrap().push((path.clone(), exchange.device_token.clone()));
        if path == "refresh" {
            return Ok(Reply::new(401, b"{}".to_vec()));
        }
        let mut reply = Reply::new(200, FRESH.into());
        reply.device_token = Some("d1".into());
        Ok(reply)
    }
}

#[tokio::test]
async fn a_login_sends_back_the_device_token_of_the_last_one() {
    let (transport, agent) = (Devices::default(), agent());
    let first = agent.authorization(&transport).await.unwrap();
    // the server refuses the credential, then the refresh: a second login
    agent.rejected(&transport, &first).await.unwrap();
    let sent = transport.0.lock().unwrap().clone();
    let d1 = Some("d1".to_owned());
    assert_eq!(sent, [("login".to_owned(), None), ("refresh".to_owned(), None), ("login".to_owned(), d1)]);
    // and no Debug output shows it
    let exchange = Exchange { device_token: Some("d1".into()), ..agent.inner.wire.login("ann", "pw") };
    assert!(!format!("{exchange:?}").contains("d1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_callers_needing_a_refresh_cause_exactly_one() {
    let transport = Arc::new(Scripted::new([Ok((200, DUE)), Ok((200, FRESH))]));
    let agent = agent();
    assert_eq!(agent.authorization(&*transport).await.unwrap().header_value(), "Bearer a1");
    let callers = (0..50).map(|_| {
        let (agent, transport) = (agent.clone(), transport.clone());
        tokio::spawn(async move { agent.authorization(&*transport).await.unwrap() })
    });
    for caller in callers.collect::<Vec<_>>() {
        assert_eq!(caller.await.unwrap().header_value(), "Bearer a2");
    }
    assert_eq!(transport.sent(), ["login", "refresh"]);
    assert_eq!((agent.logins(), agent.refreshes()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_requests_refused_with_one_credential_cause_one_renewal() {
    let transport = Arc::new(Scripted::new([Ok((200, FRESH)), Ok((200, FRESH3))]));
    let agent = agent();
    let refused = agent.authorization(&*transport).await.unwrap();
    let callers = (0..50).map(|_| {
        let (agent, transport, refused) = (agent.clone(), transport.clone(), refused.clone());
        tokio::spawn(async move { agent.rejected(&*transport, &refused).await.unwrap() })
    });
    for caller in callers.collect::<Vec<_>>() {
        let fresh = caller.await.unwrap();
        assert_eq!(fresh.header_value(), "Bearer a3");
        assert_ne!(fresh.generation(), refused.generation());
    }
    assert_eq!(transport.sent(), ["login", "refresh"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_queued_behind_a_refused_login_share_its_refusal() {
    let transport = Arc::new(Scripted::new([Ok((401, r#"{"error":"invalid_grant"}"#)), Ok((200, FRESH))]));
    let agent = agent();
    let callers: Vec<_> = (0..20)
        .map(|_| {
            let (agent, transport) = (agent.clone(), transport.clone());
            tokio::spawn(async move { agent.authorization(&*transport).await })
        })
        .collect();
    for caller in callers {
        let err = caller.await.unwrap().unwrap_err();
        assert!(matches!(err, AgentError::Refused { step: "login", status: 401 }), "{err}");
    }
    assert_eq!(transport.sent(), ["login"], "one login for twenty waiting callers");
    // a later request tries again
    assert_eq!(agent.authorization(&*transport).await.unwrap().header_value(), "Bearer a2");
}

#[tokio::test]
async fn a_refused_refresh_falls_back_to_one_login() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let agent = Agent::builder(ClientDialect::Standard, "http://h", "ann", "pw")
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let transport =
        Scripted::new([Ok((200, DUE)), Ok((401, r#"{"error":"invalid_grant"}"#)), Ok((200, FRESH))]);
    agent.authorization(&transport).await.unwrap();
    assert_eq!(agent.authorization(&transport).await.unwrap().header_value(), "Bearer a2");
    assert_eq!(transport.sent(), ["login", "refresh", "login"]);
    let events = events.lock().unwrap().clone();
    assert!(
        matches!(
            events[..],
            [
                AgentEvent::LoggedIn { .. },
                AgentEvent::RefreshRefused { status: 401 },
                AgentEvent::LoggedIn { .. }
            ]
        ),
        "{events:?}"
    );
    assert_eq!((agent.logins(), agent.refreshes()), (2, 0));
}

#[tokio::test]
async fn a_live_token_outlasts_a_failed_refresh_and_a_refused_login_is_an_error() {
    // a 2 s token: due half way, alive to the end (a second of margin for
    // the two refusals on a loaded machine)
    let half = r#"{"access_token":"a1","token_type":"Bearer","expires_in":2,"refresh_token":"r1"}"#;
    let transport = Scripted::new([Ok((200, half)), Err("connection refused"), Ok((503, "{}"))]);
    let agent = Agent::builder(ClientDialect::Standard, "http://h", "ann", "pw")
        .refresh_margin(Some(Duration::from_secs(30)))
        .build()
        .unwrap();
    let first = agent.authorization(&transport).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(agent.authorization(&transport).await.unwrap(), first, "transport error: keep the token");
    assert_eq!(agent.authorization(&transport).await.unwrap(), first, "503: keep the token");
    assert_eq!(transport.sent(), ["login", "refresh", "refresh"]);

    let refused = Scripted::new([Ok((401, r#"{"error":"invalid_grant"}"#))]);
    let err = super::tests::agent().authorization(&refused).await.unwrap_err();
    assert!(matches!(err, AgentError::Refused { step: "login", status: 401 }), "{err}");
}

#[tokio::test]
async fn a_redirected_login_or_refresh_is_an_error_and_not_a_login() {
    let transport = Scripted::new([Ok((307, ""))]);
    let err = agent().authorization(&transport).await.unwrap_err();
    assert!(matches!(err, AgentError::Redirected { step: "login", status: 307 }), "{err}");
    assert!(err.to_string().contains("redirect (307)"), "{err}");

    // a refused credential, then a refresh answered 308: no login follows
    let transport = Scripted::new([Ok((200, FRESH)), Ok((308, ""))]);
    let agent = agent();
    let refused = agent.authorization(&transport).await.unwrap();
    let err = agent.rejected(&transport, &refused).await.unwrap_err();
    assert!(matches!(err, AgentError::Redirected { step: "refresh", status: 308 }), "{err}");
    assert_eq!(transport.sent(), ["login", "refresh"]);
    assert_eq!(agent.logins(), 1);
}

#[test]
fn origins_compare_scheme_host_and_port() {
    let o = Origin::parse("https://Example.com/api").unwrap();
    assert_eq!(o, Origin { https: true, host: "example.com".into(), port: 443 });
    assert_eq!(Origin::parse("http://127.0.0.1:3000").unwrap().port, 3000);
    assert_eq!(Origin::parse("http://[::1]:8080/x").unwrap().host, "[::1]");
    assert_eq!(Origin::parse("http://[::1]/x").unwrap().port, 80);
    assert!(Origin::parse("ftp://h").is_none());
    assert!(Origin::parse("http://").is_none());
    assert!(Origin::parse("http://user:pw@h").is_none());
    assert!(Origin::parse("http://h:port").is_none());
}
