//! Cluster routing: a namespace is one key, so it lives in the slot of its own name, and
//! every command declares it as its key (Redis routes and redirects by it); rejected
//! calls change nothing on any node of a real 3+3 cluster, while the slot moves too.

use crate::common::*;
use crate::workload;

#[test]
fn a_namespace_is_one_key_in_its_own_slot() {
    let s = Server::with_args(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--save",
        "",
        "--appendonly",
        "no",
    ]);
    let mut c = s.conn();
    let _: () = q(&mut c, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]);
    wait_for(20, "cluster_state:ok", || {
        let info: String = q(&mut c, &["CLUSTER", "INFO"]);
        info.contains("cluster_state:ok").then_some(())
    });
    let namespaces = [
        "plain",
        "{tag}",
        "pre{tag}post",
        "a{b",
        "{a}b{c}",
        "ünï:cødé x",
        "a}b",
    ];
    for (i, ns) in namespaces.iter().enumerate() {
        let mut db = Ns::new(&s, ns);
        workload::run(&mut db, i as u64, 300);
    }
    let mut keys: Vec<String> = q(&mut c, &["KEYS", "*"]);
    keys.sort();
    let mut want: Vec<String> = namespaces.iter().map(|n| n.to_string()).collect();
    want.sort();
    assert_eq!(keys, want, "one key per namespace");
    for ns in namespaces {
        let slot: i64 = q(&mut c, &["CLUSTER", "KEYSLOT", ns]);
        let n: i64 = q(&mut c, &["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]);
        assert!(n >= 1, "{ns} is in its slot");
        let keyspec: Vec<redis::Value> = q(&mut c, &["COMMAND", "GETKEYS", "TASKDB.STATS", ns]);
        assert_eq!(keyspec.len(), 1, "{ns}: the namespace is the command's key");
    }
}

/// The id of cluster node `i`.
fn node_id(cl: &taskdb_testkit::Cluster, i: usize) -> String {
    q(&mut cl.node(i).conn(), &["CLUSTER", "MYID"])
}

/// Every node's DEBUG DIGEST, primaries and replicas.
fn digests(cl: &taskdb_testkit::Cluster) -> Vec<String> {
    (0..6).map(|i| digest(&mut cl.node(i).conn())).collect()
}

#[test]
fn a_rejected_call_changes_nothing_on_any_node_even_while_its_slot_moves() {
    let cl = taskdb_testkit::Cluster::start();
    let owner = cl.primary_of("t");
    let mut db = Ns::new(cl.node(owner), "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    // The calls about namespace t (others name keys of other slots: MOVED).
    let calls: Vec<(Vec<String>, String)> = crate::errors::bad_calls(&st, &job)
        .into_iter()
        .filter(|(a, _)| a.len() < 2 || a[1] == "t")
        .collect();
    let run = |c: &mut redis::Connection, args: &[String], asking: bool| -> String {
        if asking {
            let _: () = q(c, &["ASKING"]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        err(c, &args)
    };
    let mut c = cl.node(owner).conn();
    let _: i64 = q(&mut c, &["WAIT", "1", "5000"]);
    let before = digests(&cl);
    for (args, want) in &calls {
        assert_eq!(&run(&mut c, args, false), want, "{args:?}");
    }
    let _: i64 = q(&mut c, &["WAIT", "1", "5000"]);
    assert_eq!(
        digests(&cl),
        before,
        "rejected calls on the owner changed a node"
    );

    // The slot is migrating to another primary: the target, asked with ASKING before the
    // key has moved, holds nothing of it — every call is refused or finds nothing, and
    // changes nothing; then the key moves whole and the target refuses as the owner did.
    let target = (0..6)
        .find(|&i| {
            i != owner && {
                let role: Vec<redis::Value> = q(&mut cl.node(i).conn(), &["ROLE"]);
                matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master")
            }
        })
        .unwrap();
    let slot: i64 = q(&mut c, &["CLUSTER", "KEYSLOT", "t"]);
    let slot = slot.to_string();
    let mut tc = cl.node(target).conn();
    let _: () = q(
        &mut tc,
        &[
            "CLUSTER",
            "SETSLOT",
            &slot,
            "IMPORTING",
            &node_id(&cl, owner),
        ],
    );
    let _: () = q(
        &mut c,
        &[
            "CLUSTER",
            "SETSLOT",
            &slot,
            "MIGRATING",
            &node_id(&cl, target),
        ],
    );
    let before = digests(&cl);
    for (args, _) in &calls {
        // Refused, or (a lookup on a namespace the node does not hold) answered empty.
        let _: () = q(&mut tc, &["ASKING"]);
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        let _ = cmd.query::<redis::Value>(&mut tc);
    }
    assert_eq!(
        digests(&cl),
        before,
        "refused calls on the importing node changed a node"
    );
    let port = cl.node(target).port.to_string();
    let _: () = q(&mut c, &["MIGRATE", "127.0.0.1", &port, "t", "0", "5000"]);
    let _: i64 = q(&mut tc, &["WAIT", "1", "5000"]);
    let before = digests(&cl);
    for (args, want) in &calls {
        assert_eq!(
            &run(&mut tc, args, true),
            want,
            "{args:?} on the importing node"
        );
    }
    let _: i64 = q(&mut tc, &["WAIT", "1", "5000"]);
    assert_eq!(
        digests(&cl),
        before,
        "refused calls after the move changed a node"
    );
}
