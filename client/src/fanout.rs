//! A blocking request on every shard at once: the first task wins; the other waits are
//! ended with `CLIENT UNBLOCK` (which answers them as timed out), and a task one of them
//! claimed in the meantime is handed back to the caller to give back.

use crate::conn::{moved_on, ms_left, Conn, Dedicated};
use futures_util::stream::{FuturesUnordered, StreamExt};
use redis::{Cmd, RedisResult, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the ending of the losing waits is repeated while one is still out (an
/// UNBLOCK can reach the node before the wait it ends).
const UNBLOCK_EVERY: Duration = Duration::from_millis(50);

/// What a fan-out gathered: the first task, and the tasks the losing waits claimed
/// before they were ended.
pub(crate) struct Gathered {
    /// The winner, or None when every wait timed out.
    pub first: Option<Value>,
    /// Claims to give back.
    pub extra: Vec<Value>,
}

/// One shard's wait, as the others see it.
#[derive(Default)]
struct Waiter {
    /// The client id its connection has while its command is out.
    id: Mutex<Option<i64>>,
    stop: AtomicBool,
}

impl Waiter {
    fn id(&self) -> Option<i64> {
        self.id.lock().ok().and_then(|g| *g)
    }

    fn set_id(&self, id: Option<i64>) {
        if let Ok(mut g) = self.id.lock() {
            *g = id;
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Idle connections for blocking calls, by namespace, each with its client id: a wait
/// that ended normally (a task, a timeout, an UNBLOCK) leaves its connection reusable.
#[derive(Default)]
pub(crate) struct Idle(Mutex<HashMap<String, Vec<(Dedicated, i64)>>>);

impl Idle {
    fn take(&self, ns: &str) -> Option<(Dedicated, i64)> {
        self.0.lock().ok()?.get_mut(ns)?.pop()
    }

    fn put(&self, ns: &str, d: Dedicated, id: i64) {
        if let Ok(mut m) = self.0.lock() {
            m.entry(ns.to_string()).or_default().push((d, id));
        }
    }
}

/// Sends `cmd(ns, block_ms)` to every namespace of `names` at once, each on a connection
/// of its own (from `idle` when one is there), and gathers as described above.
/// `timeout` zero waits for ever.
pub(crate) async fn block_first(
    conn: &Conn,
    idle: &Idle,
    names: &[String],
    timeout: Duration,
    cmd: &(dyn Fn(&str, u64) -> Cmd + Sync),
) -> RedisResult<Gathered> {
    let waiters: Vec<Waiter> = names.iter().map(|_| Waiter::default()).collect();
    let mut out = FuturesUnordered::new();
    for (ns, w) in names.iter().zip(&waiters) {
        out.push(wait_on(conn, idle, ns, timeout, cmd, w));
    }
    let mut g = Gathered {
        first: None,
        extra: Vec::new(),
    };
    let mut failure = None;
    while let Some(r) = out.next().await {
        match r {
            Ok(Value::Nil) => {}
            Ok(v) => {
                g.first = Some(v);
                break;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if !out.is_empty() {
        for w in &waiters {
            w.stop.store(true, Ordering::SeqCst);
        }
        let mut tick = tokio::time::interval(UNBLOCK_EVERY);
        loop {
            tokio::select! {
                r = out.next() => match r {
                    None => break,
                    Some(Ok(Value::Nil)) | Some(Err(_)) => {}
                    Some(Ok(v)) => g.extra.push(v),
                },
                _ = tick.tick() => {
                    for (ns, w) in names.iter().zip(&waiters) {
                        if let Some(id) = w.id() {
                            // A failed UNBLOCK is tried again at the next tick.
                            let _ = conn.unblock(ns, id).await;
                        }
                    }
                }
            }
        }
    }
    match failure {
        // A failure with nothing claimed is the caller's error; once claims exist they
        // must reach the caller to be given back.
        Some(e) if g.extra.is_empty() => Err(e),
        _ => Ok(g),
    }
}

/// One shard's wait: sent again wherever the slot is now when a failover or a slot move
/// cuts it short (on a cluster), ended early once `w` is stopped.
async fn wait_on(
    conn: &Conn,
    idle: &Idle,
    ns: &str,
    timeout: Duration,
    cmd: &(dyn Fn(&str, u64) -> Cmd + Sync),
    w: &Waiter,
) -> RedisResult<Value> {
    let forever = timeout.is_zero();
    let deadline = Instant::now() + timeout;
    loop {
        let left = ms_left(deadline, forever);
        if w.stopped() || (!forever && left == 0) {
            return Ok(Value::Nil);
        }
        // No reply past the wait and a margin: the node is gone (or cut off).
        let response =
            (!forever).then(|| Duration::from_millis(left) + crate::CLUSTER_RESPONSE_TIMEOUT);
        let pooled = AtomicBool::new(false);
        let attempt = async {
            let (mut d, id) = match idle.take(ns) {
                Some((mut d, known)) => {
                    pooled.store(true, Ordering::Relaxed);
                    let id = d.id_for(ns, known).await?;
                    (d, id)
                }
                None => conn.dedicated(ns).await?,
            };
            w.set_id(Some(id));
            // Stopped while connecting: the UNBLOCKs may have missed this id.
            if w.stopped() {
                idle.put(ns, d, id);
                return Ok(Value::Nil);
            }
            let sent = d.send(cmd(ns, left));
            let r = match response {
                Some(limit) => match tokio::time::timeout(limit, sent).await {
                    Ok(r) => r,
                    Err(_) => Err(redis::RedisError::from(std::io::Error::from(
                        std::io::ErrorKind::TimedOut,
                    ))),
                },
                None => sent.await,
            };
            if r.is_ok() {
                idle.put(ns, d, id);
            }
            r
        };
        let r = attempt.await;
        w.set_id(None);
        match r {
            Err(e) if conn.is_cluster() && moved_on(&e) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // A kept connection the server has closed since: a fresh one is tried.
            Err(e)
                if pooled.load(Ordering::Relaxed)
                    && (e.is_connection_dropped() || e.is_io_error()) => {}
            r => return r,
        }
    }
}
