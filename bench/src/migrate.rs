//! MIGRATE of one namespace between two servers: how long it blocks them. A namespace is
//! one key, so a slot's migration on a Redis Cluster moves it whole in one MIGRATE; the
//! source is blocked for the whole call (serialising, sending, waiting for the target),
//! the target while it deserialises (RESTORE, measured on its own).

use crate::fill::q;
use crate::server::Server;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

const NS: &str = "moving";

/// One size's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Migrate {
    /// Tasks in the namespace.
    pub tasks: usize,
    /// MIGRATE, ms: how long the source is blocked.
    pub migrate_ms: f64,
    /// RESTORE of the same payload on the target, ms: how long the target is blocked.
    pub restore_ms: f64,
    /// The payload, bytes.
    pub bytes: usize,
}

/// Measures each size in `sizes` between two fresh servers.
pub fn run(module: &Path, sizes: &[usize]) -> Vec<Migrate> {
    let (a, b) = match (Server::start(module), Server::start(module)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => panic!("{e}"),
    };
    let (mut ca, mut cb) = (a.conn(), b.conn());
    let mut out = Vec::new();
    for &n in sizes {
        crate::persist::fill(&mut ca, NS, n);
        let _: () = q(&mut cb, &["FLUSHALL"]);
        let dump: Vec<u8> = {
            let mut k = redis::cmd("DUMP");
            k.arg(NS);
            k.query(&mut ca).expect("DUMP")
        };
        let t = Instant::now();
        let mut r = redis::cmd("RESTORE");
        r.arg(NS).arg(0).arg(&dump);
        let _: () = r.query(&mut cb).expect("RESTORE");
        let restore_ms = t.elapsed().as_secs_f64() * 1e3;
        let _: () = q(&mut cb, &["FLUSHALL"]);
        let t = Instant::now();
        let port = b.port.to_string();
        let reply: String = q(&mut ca, &["MIGRATE", "127.0.0.1", &port, NS, "0", "600000"]);
        let migrate_ms = t.elapsed().as_secs_f64() * 1e3;
        assert_eq!(reply, "OK");
        let kind: String = q(&mut cb, &["TYPE", NS]);
        assert_eq!(kind, "taskdb-ns");
        eprintln!("migrate: {n} tasks, MIGRATE {migrate_ms:.1} ms, RESTORE {restore_ms:.1} ms");
        out.push(Migrate {
            tasks: n,
            migrate_ms,
            restore_ms,
            bytes: dump.len(),
        });
    }
    out
}
