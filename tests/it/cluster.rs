//! Cluster routing: every key the module writes for a namespace hashes to the namespace
//! argument's own slot (as `CLUSTER KEYSLOT` computes it), on a real cluster-enabled
//! server that serves all slots.

use crate::common::*;
use crate::workload;
use std::collections::BTreeSet;

#[test]
fn every_key_of_a_namespace_is_in_the_namespaces_slot() {
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
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let namespaces = [
        "plain",
        "{tag}",
        "pre{tag}post",
        "a{b",
        "{a}b{c}",
        "ünï:cødé x",
        "{}",
    ];
    for (i, ns) in namespaces.iter().enumerate() {
        if *ns == "{}" {
            let e = err(&mut c, &["TASKDB.STATS", ns]);
            assert!(e.starts_with("ERR invalid ns"), "{e}");
            continue;
        }
        let mut db = Ns::new(&s, ns);
        workload::run(&mut db, i as u64, 300);
        let slot: i64 = q(&mut c, &["CLUSTER", "KEYSLOT", ns]);
        let keys: Vec<String> = q(&mut c, &["KEYS", "*"]);
        let new: Vec<&String> = keys.iter().filter(|k| !seen.contains(*k)).collect();
        assert!(new.len() > 5, "{ns}: the workload wrote keys");
        for k in new {
            let ks: i64 = q(&mut c, &["CLUSTER", "KEYSLOT", k]);
            assert_eq!(ks, slot, "key {k:?} of namespace {ns:?}");
        }
        seen.extend(keys);
    }
}
