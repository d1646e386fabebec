//! From a store's URL and options to its clients: one server
//! (`redis://`, `rediss://`) or a Redis Cluster (`redis-cluster://`,
//! `rediss-cluster://`), with TLS checked against the platform's roots or
//! the configured CA. Every refusal here is a configuration error; no
//! message repeats the URL (it may carry a password).

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::{Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, ProtocolVersion, TlsCertificates};

use super::RedisOptions;
use super::conn::Conn;
use crate::store::StoreError;

const CLUSTER: &str = "redis-cluster://";
const TLS_CLUSTER: &str = "rediss-cluster://";

/// What a store connects with.
pub(super) struct Endpoints {
    /// Every call of the store.
    pub(super) conn: Conn,
    /// RESP2 clients with the same address, credentials and TLS settings,
    /// for dedicated pub/sub connections: the server, or each seed node
    /// of a cluster in the URL's order.
    pub(super) pubsub: Vec<Client>,
}

impl Endpoints {
    /// The clients for `url`; connects nothing yet.
    pub(super) fn new(url: &str, options: &RedisOptions) -> Result<Self, StoreError> {
        let ca = options.ca_bundle()?;
        match cluster_nodes(url)? {
            Some(nodes) => cluster(&nodes, ca, options.timeout),
            None => single(url, ca, options.timeout),
        }
    }
}

fn single(url: &str, ca: Option<Vec<u8>>, timeout: Duration) -> Result<Endpoints, StoreError> {
    let client = client(url, ca)?;
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(timeout))
        .set_connection_timeout(Some(timeout))
        // Give up on a reconnect quickly; the next call starts another.
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(20))
        .set_max_delay(timeout);
    let pubsub = resp2(&client)?;
    let manager = ConnectionManager::new_lazy_with_config(client, config).map_err(config_error)?;
    Ok(Endpoints { conn: Conn::Single(manager), pubsub: vec![pubsub] })
}

fn cluster(nodes: &[String], ca: Option<Vec<u8>>, timeout: Duration) -> Result<Endpoints, StoreError> {
    // Checks each node's URL (TLS, CA) the way a single server's is.
    let pubsub = nodes
        .iter()
        .map(|node| client(node, ca.clone()).and_then(|client| resp2(&client)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut builder = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
        .connection_timeout(timeout)
        .response_timeout(timeout);
    if let Some(root_cert) = ca {
        builder = builder.certs(TlsCertificates { client_tls: None, root_cert: Some(root_cert) });
    }
    let client = builder.build().map_err(config_error)?;
    Ok(Endpoints { conn: Conn::cluster(client), pubsub })
}

/// A client for one server's URL. TLS (`rediss://`) verifies the server's
/// certificate and host name against `ca`, or the platform's roots
/// without one; a CA with a plaintext URL, and `#insecure`, are refused.
fn client(url: &str, ca: Option<Vec<u8>>) -> Result<Client, StoreError> {
    let info = url.into_connection_info().map_err(config_error)?;
    let tls = match info.addr() {
        ConnectionAddr::TcpTls { insecure: true, .. } => {
            return Err(StoreError::Backend(
                "a Redis URL with `#insecure` (no certificate check) is refused: give the CA instead \
                 (RedisOptions::ca_file)"
                    .into(),
            ));
        }
        ConnectionAddr::TcpTls { .. } => true,
        _ => false,
    };
    if !tls && ca.is_some() {
        return Err(StoreError::Backend(
            "a Redis CA (RedisOptions::ca_file/ca_pem) needs a TLS URL (`rediss://` or \
             `rediss-cluster://`): the URL given is plaintext"
                .into(),
        ));
    }
    if tls {
        ensure_crypto_provider();
    }
    match ca {
        Some(root_cert) => {
            Client::build_with_tls(info, TlsCertificates { client_tls: None, root_cert: Some(root_cert) })
        }
        None => Client::open(info),
    }
    .map_err(config_error)
}

/// The same client speaking RESP2, as `redis::aio::PubSub` expects.
fn resp2(client: &Client) -> Result<Client, StoreError> {
    let info: ConnectionInfo = client.get_connection_info().clone();
    let redis = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP2);
    Client::open(info.set_redis_settings(redis)).map_err(config_error)
}

/// The node URLs of a `redis-cluster://` or `rediss-cluster://` URL, or
/// `None` for any other URL.
fn cluster_nodes(url: &str) -> Result<Option<Vec<String>>, StoreError> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix(CLUSTER) {
        ("redis", rest)
    } else if let Some(rest) = url.strip_prefix(TLS_CLUSTER) {
        ("rediss", rest)
    } else {
        return Ok(None);
    };
    let (credentials, hosts) = match rest.rfind('@') {
        Some(at) => (&rest[..=at], &rest[at + 1..]),
        None => ("", rest),
    };
    let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
    if hosts.contains(['/', '?', '#']) {
        return Err(StoreError::Backend(
            "a Redis Cluster URL names its seed nodes only (`redis-cluster://[USER:PASSWORD@]HOST:PORT,\
             HOST:PORT`): no database, query or fragment (a cluster has database 0 only)"
                .into(),
        ));
    }
    let nodes: Vec<String> =
        hosts.split(',').map(str::trim).map(|host| format!("{scheme}://{credentials}{host}")).collect();
    if hosts.split(',').any(|host| host.trim().is_empty()) {
        return Err(StoreError::Backend(
            "a Redis Cluster URL needs one or more `HOST:PORT` seed nodes, separated by commas".into(),
        ));
    }
    Ok(Some(nodes))
}

/// The `redis` crate's rustls has no crypto provider of its own and
/// builds its TLS configurations with the process default: install
/// ring's unless the application installed one (then its choice stands).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn config_error(err: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("invalid Redis configuration: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_name_their_seed_nodes() {
        let nodes = |url: &str| cluster_nodes(url).expect("valid").expect("a cluster URL");
        assert_eq!(nodes("redis-cluster://a:7000,b:7001"), ["redis://a:7000", "redis://b:7001"]);
        assert_eq!(nodes("rediss-cluster://u:p@w@a:7000/"), ["rediss://u:p@w@a:7000"]);
        assert_eq!(
            nodes("redis-cluster://:secret@10.0.0.1:7000, [::1]:7001"),
            ["redis://:secret@10.0.0.1:7000", "redis://:secret@[::1]:7001"]
        );
        assert!(cluster_nodes("redis://a:6379/0").expect("not a cluster").is_none());
        for bad in [
            "redis-cluster://",
            "redis-cluster://a:1,,b:2",
            "redis-cluster://:pw@a:1/0",
            "redis-cluster://a:1?protocol=resp3",
            "rediss-cluster://a:1/#insecure",
        ] {
            let err = cluster_nodes(bad).expect_err(bad).to_string();
            assert!(err.contains("Redis Cluster URL"), "{bad}: {err}");
            assert!(!err.contains("pw"), "{err}");
        }
    }

    #[test]
    fn tls_is_never_weakened() {
        let ca = Some(b"-----BEGIN CERTIFICATE-----".to_vec());
        let err = client("redis://127.0.0.1:6379/0", ca).expect_err("a CA needs TLS").to_string();
        assert!(err.contains("needs a TLS URL"), "{err}");
        let err = client("rediss://127.0.0.1:6379/#insecure", None).expect_err("no insecure").to_string();
        assert!(err.contains("#insecure"), "{err}");
        assert!(client("rediss://127.0.0.1:6379/0", None).is_ok());
    }
}
