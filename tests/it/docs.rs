//! Command metadata: TASKDB.HELP, COMMAND INFO and COMMAND DOCS describe every command as
//! the README's reference does — the syntax, its arity, the arguments, and a key spec whose
//! access flags let read-only users query.

use crate::common::*;
use redis::Value;

/// (syntax, summary) of every command, from TASKDB.HELP.
fn help(c: &mut redis::Connection) -> Vec<(String, String)> {
    let lines: Vec<String> = q(c, &["TASKDB.HELP"]);
    lines
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].trim().to_string()))
        .collect()
}

/// The arity a syntax gives: its words outside brackets with the name, negative when
/// some words are optional.
fn arity(syntax: &str) -> i64 {
    let (mut depth, mut required, mut optional) = (0, 0, false);
    for w in syntax.split(' ') {
        if w.starts_with('[') {
            depth += 1;
            optional = true;
        }
        if depth == 0 {
            required += 1;
        }
        if w.ends_with(']') {
            depth -= 1;
        }
    }
    if optional {
        -required
    } else {
        required
    }
}

/// A reply of alternating names and values as pairs.
fn pairs(v: &Value) -> Vec<(String, Value)> {
    let items: Vec<Value> = redis::from_redis_value(v).unwrap();
    items
        .chunks(2)
        .map(|p| (redis::from_redis_value(&p[0]).unwrap(), p[1].clone()))
        .collect()
}

fn get<'a>(p: &'a [(String, Value)], k: &str) -> &'a Value {
    &p.iter()
        .find(|(n, _)| n == k)
        .unwrap_or_else(|| panic!("no {k}"))
        .1
}

#[test]
fn every_command_is_documented_as_the_readme_describes_it() {
    let s = Server::start();
    let mut c = s.conn();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .unwrap()
        .replace("\\|", "|");
    let commands = help(&mut c);
    let registered: Vec<String> = q(&mut c, &["COMMAND", "LIST", "FILTERBY", "MODULE", "taskdb"]);
    assert_eq!(commands.len(), registered.len(), "HELP lists every command");
    for (syntax, summary) in &commands {
        let name = syntax.split(' ').next().unwrap();
        assert!(
            readme.contains(&format!("`{syntax}`")),
            "the README's reference shows `{syntax}`"
        );
        // COMMAND INFO: arity and key spec access flags.
        let info: Vec<Value> = q(&mut c, &["COMMAND", "INFO", name]);
        let info: Vec<Value> = redis::from_redis_value(&info[0]).unwrap();
        let got_arity: i64 = redis::from_redis_value(&info[1]).unwrap();
        assert_eq!(got_arity, arity(syntax), "{name}'s arity");
        let flags: Vec<String> = redis::from_redis_value(&info[2]).unwrap();
        let read_only = flags.iter().any(|f| f == "readonly");
        let specs: Vec<Value> = redis::from_redis_value(&info[8]).unwrap();
        if name == "TASKDB.HELP" {
            assert!(specs.is_empty(), "HELP names no key");
            continue;
        }
        assert_eq!(specs.len(), 1, "{name}: one key, the namespace");
        let spec = pairs(&specs[0]);
        let access: Vec<String> = redis::from_redis_value(get(&spec, "flags")).unwrap();
        assert!(
            access.contains(&(if read_only { "RO" } else { "RW" }).to_string()),
            "{name}: key spec {access:?} for a {} command",
            if read_only { "read-only" } else { "writing" }
        );
        // COMMAND DOCS: the summary and one argument per word of the syntax.
        let docs: Vec<Value> = q(&mut c, &["COMMAND", "DOCS", name]);
        let doc = pairs(&docs[1]);
        let got: String = redis::from_redis_value(get(&doc, "summary")).unwrap();
        assert_eq!(&got, summary, "{name}'s summary");
        let args: Vec<Value> = redis::from_redis_value(get(&doc, "arguments")).unwrap();
        let names: Vec<String> = args
            .iter()
            .map(|a| redis::from_redis_value(get(&pairs(a), "name")).unwrap())
            .collect();
        // A word outside brackets is one argument, and so is a bracketed group.
        let mut depth = 0;
        let mut words = 0;
        for w in syntax.split(' ').skip(1) {
            if depth == 0 {
                words += 1;
            }
            depth += w.matches('[').count();
            depth -= w.matches(']').count();
        }
        assert_eq!(
            names.len(),
            words,
            "{name}: arguments {names:?} for `{syntax}`"
        );
        assert_eq!(names.first().map(String::as_str), Some("ns"), "{name}");
        let key: Vec<Value> = redis::from_redis_value(&args[0]).unwrap();
        assert!(
            key.contains(&Value::BulkString(b"key".to_vec())),
            "{name}: ns is the key"
        );
    }
}

#[test]
fn read_only_key_permissions_allow_the_queries_and_refuse_writes() {
    let s = Server::start();
    let mut db = Ns::new(&s, "t");
    let st = db.stream("cpu", 1, 1.0, "u");
    let job = db.job(&st, "u");
    let _: () = q(
        &mut db.c,
        &["ACL", "SETUSER", "reader", "on", "nopass", "%R~*", "+@all"],
    );
    let mut r = s.conn();
    let _: () = q(&mut r, &["AUTH", "reader", "x"]);
    let _: Value = q(&mut r, &["TASKDB.STATS", "t"]);
    let _: Value = q(&mut r, &["TASKDB.JOBS", "t", "0"]);
    let _: Value = q(&mut r, &["TASKDB.TASK", "t", &job, "init"]);
    let _: Value = q(&mut r, &["TASKDB.CHECK", "t"]);
    let _: Value = q(&mut r, &["TASKDB.HELP"]);
    let e = err(&mut r, &["TASKDB.DONE", "t", &job, "init", "{}"]);
    assert!(e.starts_with("NOPERM"), "{e}");
    let e = err(&mut r, &["TASKDB.REQUEST_WORK", "t", "cpu"]);
    assert!(e.starts_with("NOPERM"), "{e}");
}
