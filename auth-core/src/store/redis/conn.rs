//! [`Conn`]: the one connection type every call of a
//! [`RedisStore`](super::RedisStore) goes through, a single server's
//! connection manager or a Redis Cluster connection, made at first use.

use std::sync::Arc;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};
use tokio::sync::OnceCell;

/// A connection to one server or to a cluster. Cheap to clone; every
/// clone shares the same connections.
#[derive(Clone)]
pub(super) enum Conn {
    /// One server (or a proxy in front of several): the manager
    /// multiplexes every call on one connection and reconnects by itself.
    Single(ConnectionManager),
    /// Redis Cluster: the cluster connection routes each command to the
    /// node owning its keys' slot and follows `MOVED`/`ASK`.
    Cluster(Arc<LazyCluster>),
}

/// A cluster connection made at the first call, not when the store is
/// made, so an application starts while the cluster is down. A failed
/// attempt leaves nothing behind: the next call tries again.
pub(super) struct LazyCluster {
    client: ClusterClient,
    conn: OnceCell<ClusterConnection>,
}

impl Conn {
    pub(super) fn cluster(client: ClusterClient) -> Self {
        Self::Cluster(Arc::new(LazyCluster { client, conn: OnceCell::new() }))
    }

    pub(super) fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

impl LazyCluster {
    /// The connection, made now if no call made it yet. Dropping this
    /// future (the call's timeout) leaves the cell empty for the next call.
    async fn get(&self) -> RedisResult<ClusterConnection> {
        self.conn.get_or_try_init(|| self.client.get_async_connection()).await.cloned()
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(cluster) => Box::pin(async move {
                let mut conn = cluster.get().await?;
                conn.req_packed_command(cmd).await
            }),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(cluster) => Box::pin(async move {
                let mut conn = cluster.get().await?;
                conn.req_packed_commands(pipeline, offset, count).await
            }),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            // Redis Cluster has database 0 only.
            Self::Cluster(_) => 0,
        }
    }
}
