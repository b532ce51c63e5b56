//! A throwaway PostgreSQL server for tests: `initdb` in a temporary directory, started on
//! a free port (as the `postgres` user when the tests run as root, since PostgreSQL
//! refuses root), stopped when dropped. The postmaster is a direct child started through
//! [`crate::spawn`], so it dies with the test process however that ends.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running PostgreSQL server.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.pop().filter(|b| b.join("initdb").exists()).expect(
        "PostgreSQL server binaries (Debian package postgresql; scripts/deps.sh installs it)",
    )
}

/// The uid and gid of the `postgres` user.
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a postgres user (Debian package postgresql creates it)")
    };
    (id("-u"), id("-g"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(bin: &Path, tool: &str, args: &[&str]) {
    let exe = bin.join(tool);
    let status = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&exe)
            .args(args)
            .output()
    } else {
        Command::new(&exe).args(args).output()
    };
    let out = status.unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    /// Creates and starts a server with user `postgres` (trust authentication).
    pub fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success());
        }
        let data = dir.path().join("data");
        let data_s = data.to_string_lossy().to_string();
        run(
            &bin,
            "initdb",
            &["-D", &data_s, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let sock = dir.path().to_string_lossy().to_string();
        let log = std::fs::File::create(dir.path().join("pg.log")).expect("pg.log");
        let mut cmd = Command::new(bin.join("postgres"));
        cmd.args(["-D", &data_s, "-p", &port.to_string(), "-k", &sock])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(log);
        if is_root() {
            let (uid, gid) = postgres_ids();
            cmd.uid(uid).gid(gid);
        }
        let child = crate::spawn(cmd).expect("postgres");
        let pg = Postgres {
            dir,
            bin,
            child,
            port,
        };
        pg.wait_ready();
        pg
    }

    /// Waits (with a deadline) until the server accepts connections.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return;
            }
            let log = std::fs::read_to_string(self.dir.path().join("pg.log")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "postgres did not start; log: {log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A tokio-postgres / libpq connection string for database `postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// A connection string for database `db`.
    pub fn url_for(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data").to_string_lossy().to_string();
        let exe = self.bin.join("pg_ctl");
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let _ = c
            .args(["-D", &data, "-m", "immediate", "-w", "stop"])
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
