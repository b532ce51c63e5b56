//! The README's shell examples run as they are: every ```sh block that calls redis-cli,
//! in order, in one shell, against a real server.

use crate::common::*;

/// The README's `sh` blocks that talk to TaskDB through redis-cli.
fn examples() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match (&mut block, line.trim_end()) {
            (None, "```sh") => block = Some(String::new()),
            (Some(b), "```") => {
                if b.contains("redis-cli") && !b.contains("scripts/") {
                    out.push(b.clone());
                }
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

#[test]
fn the_readme_shell_examples_run_verbatim() {
    let s = Server::start();
    let blocks = examples();
    assert!(
        blocks.len() >= 2,
        "the quick start and the inspection examples"
    );
    let script = blocks
        .join("\n")
        .replace("redis-cli ", &format!("redis-cli -p {} ", s.port));
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .output()
        .expect("bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the examples failed:\n{text}");
    for line in text.lines() {
        for code in ["ERR", "NOTFOUND", "EXISTS", "WRONGTYPE", "NOPERM", "OOM"] {
            assert!(
                !line.starts_with(&format!("{code} ")),
                "an example answered an error: {line}\n{text}"
            );
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.contains(&"running"),
        "JOB_STATE after the reopen:\n{text}"
    );
    assert!(lines.contains(&"taskdb-ns"), "TYPE:\n{text}");
    let mut c = s.conn();
    let (_, jobs) = {
        let mut db = Ns::new(&s, "prod");
        db.stats()
    };
    assert_eq!(jobs[0], ("running".to_string(), 1));
    assert!(Ns::new(&s, "prod").check().is_empty());
    let _: String = q(&mut c, &["PING"]);
}
