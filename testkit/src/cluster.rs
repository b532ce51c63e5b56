//! A real Redis Cluster of 3 primaries and 3 replicas with the module, on free ports in
//! temp dirs (`redis-cli --cluster create`), for the cluster tests.

use crate::{free_port, wait_for, Server};
use std::process::{Command, Stdio};

/// The cluster's nodes (their roles change with failovers: ask [`Cluster::primary_of`]).
pub struct Cluster {
    /// Every node; `None` once killed.
    pub nodes: Vec<Option<Server>>,
    /// A killed node's directory (its `nodes.conf`), to restart it from.
    dead: Vec<Option<tempfile::TempDir>>,
}

/// A cluster node's redis-server arguments; `bus` is its cluster bus port.
fn node_args(bus: &str) -> [&str; 12] {
    [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        "1000",
        "--cluster-port",
        bus,
        "--save",
        "",
        "--appendonly",
        "no",
    ]
}

fn q<T: redis::FromRedisValue>(s: &Server, args: &[&str]) -> redis::RedisResult<T> {
    let mut c = redis::Client::open(s.url())?.get_connection()?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(&mut c)
}

impl Cluster {
    /// Starts six nodes (node timeout 1 s, so failovers are quick) and joins them as 3
    /// primaries with a replica each; returns once every node sees the cluster ok.
    pub fn start() -> Cluster {
        let nodes: Vec<Server> = (0..6)
            .map(|_| {
                let bus = free_port().to_string();
                Server::with_args(&node_args(&bus))
            })
            .collect();
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli on PATH");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let c = Cluster {
            dead: nodes.iter().map(|_| None).collect(),
            nodes: nodes.into_iter().map(Some).collect(),
        };
        c.wait_ok(6);
        c
    }

    /// Waits until every live node reports `cluster_state:ok` and knows `known` nodes
    /// that are not failed, and every replica's link is up.
    pub fn wait_ok(&self, known: usize) {
        for n in self.nodes.iter().flatten() {
            wait_for(30, "the cluster to be ok on every node", || {
                let info: String = q(n, &["CLUSTER", "INFO"]).ok()?;
                let nodes: String = q(n, &["CLUSTER", "NODES"]).ok()?;
                let live = nodes.lines().filter(|l| !l.contains("fail")).count();
                let repl: String = q(n, &["INFO", "replication"]).ok()?;
                let link = !repl.contains("role:slave") || repl.contains("master_link_status:up");
                (info.contains("cluster_state:ok") && live >= known && link).then_some(())
            });
        }
    }

    /// `redis://127.0.0.1:port/` of every live node: seeds for a cluster client.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().flatten().map(Server::url).collect()
    }

    /// `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…`: every live node as a seed.
    pub fn cluster_url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .flatten()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// `CONFIG SET name value` on every live node.
    pub fn config_set(&self, name: &str, value: &str) {
        for n in self.nodes.iter().flatten() {
            let _: () = q(n, &["CONFIG", "SET", name, value]).expect("CONFIG SET");
        }
    }

    /// The index of the node that serves `key`'s slot as primary now.
    pub fn primary_of(&self, key: &str) -> usize {
        let any = self.nodes.iter().flatten().next().expect("a live node");
        let slot: i64 = q(any, &["CLUSTER", "KEYSLOT", key]).expect("KEYSLOT");
        wait_for(30, "a primary for the slot", || {
            self.nodes.iter().position(|n| {
                n.as_ref().is_some_and(|n| {
                    let role: Vec<redis::Value> = q(n, &["ROLE"]).unwrap_or_default();
                    let primary =
                        matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master");
                    primary && owns(n, slot)
                })
            })
        })
    }

    /// The index of a live replica of node `primary`.
    pub fn replica_of(&self, primary: usize) -> usize {
        let port = self.nodes[primary].as_ref().expect("live primary").port;
        wait_for(30, "a replica of the primary", || {
            self.nodes.iter().position(|n| {
                n.as_ref().is_some_and(|n| {
                    let repl: String = q(n, &["INFO", "replication"]).unwrap_or_default();
                    repl.contains(&format!("master_port:{port}"))
                        && repl.contains("master_link_status:up")
                })
            })
        })
    }

    /// A live node, to run commands on.
    pub fn node(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().expect("a live node")
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill9(&mut self, i: usize) {
        if let Some(n) = self.nodes[i].take() {
            self.dead[i] = Some(n.kill9());
        }
    }

    /// Starts killed node `i` again from its `nodes.conf` (its data is gone: persistence
    /// is off), on new ports; the cluster learns its address from its gossip, and a
    /// primary that was failed over rejoins as a replica. Returns once every node sees
    /// all six nodes and replica links are up.
    pub fn restart(&mut self, i: usize) {
        let dir = self.dead[i].take().expect("a killed node");
        let bus = free_port().to_string();
        self.nodes[i] = Some(Server::in_dir(dir, &node_args(&bus)));
        self.wait_ok(6);
    }
}

/// Whether node `n` serves slot `slot` (from its CLUSTER NODES line of itself).
fn owns(n: &Server, slot: i64) -> bool {
    let nodes: String = q(n, &["CLUSTER", "NODES"]).unwrap_or_default();
    nodes
        .lines()
        .filter(|l| l.contains("myself"))
        .flat_map(|l| l.split(' ').skip(8))
        .any(|range| match range.split_once('-') {
            Some((a, b)) => {
                a.parse::<i64>().is_ok_and(|a| a <= slot)
                    && b.parse::<i64>().is_ok_and(|b| slot <= b)
            }
            None => range.parse::<i64>() == Ok(slot),
        })
}
