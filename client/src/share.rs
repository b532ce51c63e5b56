//! Fair share across the shards of a sharded TaskDB: every [`SHARE_EVERY`], one handle
//! of the TaskDB tells each shard how many tasks of each stream run on the other shards
//! (`TASKDB.ELSEWHERE`, whose reply is what runs on that shard), so that each shard's fair
//! order counts a stream's running tasks across the whole TaskDB, not only its own.
//!
//! Handles that claim work take part; one of them at a time does the telling, chosen by
//! a short lease on the key `ns:sharer` (another takes over within [`LEASE`] if it goes
//! away). A shard sees its own claims at once and the others' within about one period.

use crate::conn::Conn;
use crate::shards::Layout;
use redis::{FromRedisValue, Value};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the running counts are shared between the shards.
pub const SHARE_EVERY: Duration = Duration::from_millis(50);

/// How long the sharing handle holds its role without renewing it.
pub const LEASE: Duration = Duration::from_millis(1000);

/// The key naming the handle that shares the counts of sharded TaskDB `ns`.
pub fn sharer_key(ns: &str) -> String {
    format!("{ns}:sharer")
}

/// Starts sharing for `layout`'s TaskDB in the background, once per handle family; the
/// task ends when the last clone of the handle is dropped.
pub(crate) fn start(conn: &Conn, ns: &str, layout: &Arc<Layout>) {
    if !layout.is_sharded() || !layout.start_sharing() {
        return;
    }
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let (conn, key, weak) = (conn.clone(), sharer_key(ns), Arc::downgrade(layout));
    rt.spawn(run(conn, key, weak));
}

async fn run(conn: Conn, key: String, layout: Weak<Layout>) {
    let me = uuid::Uuid::new_v4().to_string();
    // What each shard said runs on it, by stream id.
    let mut local: Vec<HashMap<String, i64>> = Vec::new();
    let Some((every, names)) = layout
        .upgrade()
        .map(|l| (l.share_every(), l.all().to_vec()))
    else {
        return;
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // The last handle is gone: stop sharing.
        if layout.strong_count() == 0 {
            return;
        }
        if !holds_role(&conn, &key, &me).await {
            local.clear();
            continue;
        }
        if local.len() != names.len() {
            local = vec![HashMap::new(); names.len()];
        }
        // Twice: the first round's replies are the counts as they are now, and the
        // second tells each shard the others' from those, so a shard's view is never
        // older than the period.
        for _ in 0..2 {
            round(&conn, &names, &mut local).await;
        }
    }
}

/// Tells each shard the others' running counts as `local` has them, and updates `local`
/// from the replies.
async fn round(conn: &Conn, names: &[String], local: &mut [HashMap<String, i64>]) {
    let mut total: HashMap<&str, i64> = HashMap::new();
    for m in local.iter() {
        for (id, n) in m {
            *total.entry(id.as_str()).or_default() += n;
        }
    }
    let calls = names.iter().zip(local.iter()).map(|(ns, mine)| {
        let mut c = redis::cmd("TASKDB.ELSEWHERE");
        c.arg(ns);
        for (id, n) in &total {
            let others = n - mine.get(*id).copied().unwrap_or(0);
            if others > 0 {
                c.arg(*id).arg(others);
            }
        }
        async move { conn.query(&c).await }
    });
    let replies = futures_util::future::join_all(calls).await;
    for (m, r) in local.iter_mut().zip(replies) {
        // A shard that did not answer keeps what it said last.
        if let Ok(v) = r {
            *m = running_of(&v);
        }
    }
}

/// Takes or renews the sharing role: whether this handle holds it now.
async fn holds_role(conn: &Conn, key: &str, me: &str) -> bool {
    let ms = LEASE.as_millis() as u64;
    let mut take = redis::cmd("SET");
    take.arg(key).arg(me).arg("NX").arg("PX").arg(ms);
    if matches!(conn.query(&take).await, Ok(Value::Okay)) {
        return true;
    }
    let mut get = redis::cmd("GET");
    get.arg(key);
    match conn
        .query(&get)
        .await
        .and_then(|v| Option::<String>::from_redis_value(&v))
    {
        Ok(Some(holder)) if holder == me => {
            let mut renew = redis::cmd("PEXPIRE");
            renew.arg(key).arg(ms);
            conn.query(&renew).await.is_ok()
        }
        _ => false,
    }
}

/// ELSEWHERE's reply as a map from stream id to running tasks.
fn running_of(v: &Value) -> HashMap<String, i64> {
    let items: Vec<Value> = Vec::from_redis_value(v).unwrap_or_default();
    items
        .chunks(2)
        .filter_map(|p| match p {
            [id, n] => Some((
                String::from_redis_value(id).ok()?,
                i64::from_redis_value(n).ok()?,
            )),
            _ => None,
        })
        .collect()
}
