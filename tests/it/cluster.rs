//! Cluster routing: a namespace is one key, so it lives in the slot of its own name, and
//! every command declares it as its key (Redis routes and redirects by it).

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
