//! The handle's connection: one server (an auto-reconnecting `ConnectionManager`) or a
//! Redis Cluster (the `redis` crate's async cluster client, which follows MOVED and ASK,
//! refreshes its slot map after a failover and retries a call whose node went away).

use redis::aio::{ConnectionManager, MultiplexedConnection};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{get_slot, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, RedisResult, Value};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a call on a cluster waits for its reply before it is retried elsewhere or
/// fails: no call hangs on a dead node.
pub const CLUSTER_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a call on a cluster keeps trying (with a fresh view of the cluster) while
/// its node is gone, before it fails: a failover's usual length and a margin.
pub const CLUSTER_FAILOVER_WAIT: Duration = Duration::from_secs(30);

/// The server (or cluster) a handle talks to.
#[derive(Clone)]
pub(crate) enum Conn {
    /// One server.
    Single {
        client: Box<redis::Client>,
        conn: Box<ConnectionManager>,
    },
    /// A cluster, from its seed nodes. The connection is replaced when its calls keep
    /// reaching a node that is gone (the `redis` crate reconnects to the same address
    /// until its retries run out, not to the promoted replica).
    Cluster {
        seeds: Vec<String>,
        conn: Arc<RwLock<ClusterConnection>>,
    },
}

/// The seed URLs (`redis://[user:pass@]host:port/`) of a
/// `redis+cluster://[user:pass@]host:port,host:port[/]` URL, if it is one.
pub fn cluster_seeds(url: &str) -> Option<Vec<String>> {
    let rest = url.strip_prefix("redis+cluster://")?;
    let rest = rest.trim_end_matches('/');
    let (auth, hosts) = match rest.rsplit_once('@') {
        Some((a, h)) => (format!("{a}@"), h),
        None => (String::new(), rest),
    };
    Some(
        hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| format!("redis://{auth}{h}/"))
            .collect(),
    )
}

fn cluster_client(seeds: &[String], response: Option<Duration>) -> RedisResult<ClusterClient> {
    cluster_client_with(seeds, response, 4)
}

fn cluster_client_with(
    seeds: &[String],
    response: Option<Duration>,
    retries: u32,
) -> RedisResult<ClusterClient> {
    let mut b = ClusterClient::builder(seeds.to_vec())
        .connection_timeout(Duration::from_secs(1))
        .retries(retries)
        .min_retry_wait(50)
        .max_retry_wait(1000);
    if let Some(r) = response {
        b = b.response_timeout(r);
    }
    b.build()
}

impl Conn {
    /// Connects to one server.
    pub async fn single(url: &str) -> RedisResult<Conn> {
        let client = redis::Client::open(url)?;
        let conn = Box::new(ConnectionManager::new(client.clone()).await?);
        Ok(Conn::Single {
            client: Box::new(client),
            conn,
        })
    }

    /// Connects to a cluster through any of `seeds`.
    pub async fn cluster(seeds: Vec<String>) -> RedisResult<Conn> {
        let conn = cluster_client(&seeds, Some(CLUSTER_RESPONSE_TIMEOUT))?
            .get_async_connection()
            .await?;
        Ok(Conn::Cluster {
            seeds,
            conn: Arc::new(RwLock::new(conn)),
        })
    }

    /// Runs `f` on the cluster connection; while it fails because its node is gone, with
    /// a fresh connection (a fresh slot map from the live nodes), for up to
    /// [`CLUSTER_FAILOVER_WAIT`].
    async fn on_cluster<T, F, Fut>(
        seeds: &[String],
        conn: &RwLock<ClusterConnection>,
        f: F,
    ) -> RedisResult<T>
    where
        F: Fn(ClusterConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let deadline = Instant::now() + CLUSTER_FAILOVER_WAIT;
        loop {
            let Ok(current) = conn.read().map(|c| c.clone()) else {
                return Err(RedisError::from((ErrorKind::ClientError, "poisoned lock")));
            };
            match f(current).await {
                Err(e) if in_flux(&e) && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let fresh = cluster_client(seeds, Some(CLUSTER_RESPONSE_TIMEOUT))?
                        .get_async_connection()
                        .await;
                    if let (Ok(fresh), Ok(mut slot)) = (fresh, conn.write()) {
                        *slot = fresh;
                    }
                }
                r => return r,
            }
        }
    }

    /// Runs one command.
    pub async fn query(&self, c: &Cmd) -> RedisResult<Value> {
        match self {
            Conn::Single { conn, .. } => c.query_async(&mut (**conn).clone()).await,
            Conn::Cluster { seeds, conn } => {
                Self::on_cluster(
                    seeds,
                    conn,
                    |mut k| async move { c.query_async(&mut k).await },
                )
                .await
            }
        }
    }

    /// Runs a pipeline (every command of it about one namespace, so one slot).
    pub async fn query_pipe(&self, p: &Pipeline) -> RedisResult<Vec<Value>> {
        match self {
            Conn::Single { conn, .. } => p.query_async(&mut (**conn).clone()).await,
            Conn::Cluster { seeds, conn } => {
                Self::on_cluster(
                    seeds,
                    conn,
                    |mut k| async move { p.query_async(&mut k).await },
                )
                .await
            }
        }
    }

    /// Runs a blocking command built by `cmd(block_ms)` on a connection of its own (other
    /// calls do not queue behind the wait), waiting up to `timeout` (zero: for ever). On a
    /// cluster, a wait cut short by a failover or a slot move (`UNBLOCKED`, MOVED, ASK,
    /// TRYAGAIN, CLUSTERDOWN, a lost connection) is sent again, wherever the slot is now,
    /// for what is left of the timeout.
    pub async fn blocking(
        &self,
        timeout: Duration,
        cmd: impl Fn(u64) -> Cmd,
    ) -> RedisResult<Value> {
        match self {
            Conn::Single { client, .. } => {
                let mut conn = client.get_multiplexed_async_connection().await?;
                cmd(timeout.as_millis() as u64).query_async(&mut conn).await
            }
            Conn::Cluster { seeds, .. } => {
                let forever = timeout.is_zero();
                let deadline = Instant::now() + timeout;
                loop {
                    let left = ms_left(deadline, forever);
                    if !forever && left == 0 {
                        return Ok(Value::Nil);
                    }
                    let response =
                        (!forever).then(|| Duration::from_millis(left) + CLUSTER_RESPONSE_TIMEOUT);
                    let attempt = async {
                        let mut conn = cluster_client(seeds, response)?
                            .get_async_connection()
                            .await?;
                        cmd(left).query_async(&mut conn).await
                    };
                    match attempt.await {
                        Err(e) if moved_on(&e) => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        r => return r,
                    }
                }
            }
        }
    }
}

/// A connection of its own for one blocking call whose server-side client id is known,
/// so that another connection can end the wait (`CLIENT UNBLOCK`).
pub(crate) enum Dedicated {
    /// On one server.
    Single(MultiplexedConnection),
    /// On a cluster: calls to the slot's primary, never redirected (a redirect ends the
    /// call, and the caller sends it again with a fresh id).
    Cluster(ClusterConnection),
}

/// Routes a keyless command to the primary of `key`'s slot.
fn primary_of(key: &str) -> RoutingInfo {
    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(
        get_slot(key.as_bytes()),
        SlotAddr::Master,
    )))
}

impl Dedicated {
    /// Its client id on the node that serves `key` now (a cluster connection may have
    /// learnt another slot owner since it was last used), or `known` on one server.
    pub async fn id_for(&mut self, key: &str, known: i64) -> RedisResult<i64> {
        match self {
            Dedicated::Single(_) => Ok(known),
            Dedicated::Cluster(conn) => cluster_client_id(conn, key).await,
        }
    }

    /// Sends `c`.
    pub async fn send(&mut self, c: Cmd) -> RedisResult<Value> {
        match self {
            Dedicated::Single(conn) => c.query_async(conn).await,
            Dedicated::Cluster(conn) => c.query_async(conn).await,
        }
    }
}

/// The client id of `conn`'s connection to the primary of `key`'s slot.
async fn cluster_client_id(conn: &mut ClusterConnection, key: &str) -> RedisResult<i64> {
    let mut id = redis::cmd("CLIENT");
    id.arg("ID");
    let v = conn.route_command(&id, primary_of(key)).await?;
    i64::from_redis_value(&v)
}

impl Conn {
    /// Whether this is a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster { .. })
    }

    /// A connection of its own to the node holding `key`, and its client id there. Its
    /// calls wait for their reply as long as it takes: the caller bounds them.
    pub async fn dedicated(&self, key: &str) -> RedisResult<(Dedicated, i64)> {
        match self {
            Conn::Single { client, .. } => {
                let mut conn = client.get_multiplexed_async_connection().await?;
                let n: i64 = redis::cmd("CLIENT")
                    .arg("ID")
                    .query_async(&mut conn)
                    .await?;
                Ok((Dedicated::Single(conn), n))
            }
            Conn::Cluster { seeds, .. } => {
                let mut conn = cluster_client_with(seeds, None, 0)?
                    .get_async_connection()
                    .await?;
                let n = cluster_client_id(&mut conn, key).await?;
                Ok((Dedicated::Cluster(conn), n))
            }
        }
    }

    /// Ends client `id`'s blocked call on the node holding `key` as if it timed out
    /// (`CLIENT UNBLOCK`): whether it was blocked.
    pub async fn unblock(&self, key: &str, id: i64) -> RedisResult<bool> {
        let mut c = redis::cmd("CLIENT");
        c.arg("UNBLOCK").arg(id);
        let v = match self {
            Conn::Single { conn, .. } => c.query_async(&mut (**conn).clone()).await?,
            // One attempt: the caller tries again at its next tick, and a node that is
            // gone must not hold up the others' UNBLOCKs.
            Conn::Cluster { conn, .. } => {
                let Ok(mut k) = conn.read().map(|c| c.clone()) else {
                    return Ok(false);
                };
                k.route_command(&c, primary_of(key)).await?
            }
        };
        Ok(i64::from_redis_value(&v)? == 1)
    }
}

/// The milliseconds a wait has left before `deadline` (0 for a wait for ever, which
/// BLOCK reads as "for ever").
pub(crate) fn ms_left(deadline: Instant, forever: bool) -> u64 {
    if forever {
        0
    } else {
        deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64
    }
}

/// Whether a call was refused because its slot is elsewhere or moving, or its node is
/// gone or unreachable: what both kinds of retry below send again.
fn refused_or_gone(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::IoError
            | ErrorKind::ClusterDown
            | ErrorKind::Moved
            | ErrorKind::Ask
            | ErrorKind::TryAgain
    ) || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
}

/// Whether a call failed because its node is gone or the cluster is failing over: a
/// redirect left after the cluster client's own retries means its slot map is out of
/// date (a failed primary restarting announces its old slots until it learns it was
/// replaced), and the call was refused, so it is safe to send again.
fn in_flux(e: &RedisError) -> bool {
    refused_or_gone(e) || e.kind() == ErrorKind::MasterDown
}

/// Whether a blocked call ended because its node or slot moved (send it again).
pub(crate) fn moved_on(e: &RedisError) -> bool {
    refused_or_gone(e) || e.code() == Some("UNBLOCKED")
}
