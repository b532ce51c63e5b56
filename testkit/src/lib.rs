//! Test fixture shared by TaskDB's crates: a real redis-server with the module loaded, on
//! a free port, in its own temporary directory, killed when dropped. No mocks, no fixed
//! sleeps: readiness and conditions are waited for with deadlines.
//!
//! Every server a test starts dies with the test process, even one held in a `static`
//! (never dropped) or left behind by a panic or an interrupt: see [`spawn`].

mod browser;
mod clock;
mod cluster;
mod postgres;
mod spawn;

pub use browser::Chromedriver;
pub use clock::Clock;
pub use cluster::Cluster;
pub use postgres::Postgres;
use redis::Connection;
pub use spawn::spawn;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The built module: `$TASKDB_MODULE`, else the `libtaskdb.so` that cargo built beside this
/// test binary in `deps/` (the lib is a cdylib and an rlib, so `cargo test` rebuilds it).
pub fn module_path() -> PathBuf {
    if let Ok(p) = std::env::var("TASKDB_MODULE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|d| d.join("libtaskdb.so"))
        .find(|p| p.exists())
        .expect("libtaskdb.so built by cargo")
}

/// Polls `f` until it returns Some, failing the test after `secs` seconds.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running redis-server with TaskDB.
pub struct Server {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its working directory (RDB, AOF, log).
    pub dir: tempfile::TempDir,
}

impl Server {
    /// A server with persistence off.
    pub fn start() -> Server {
        Server::with_args(&["--save", "", "--appendonly", "no"])
    }

    /// A server with extra redis-server arguments.
    pub fn with_args(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Server::in_dir(dir, extra)
    }

    /// A server with extra arguments whose wall clock is `clock`.
    pub fn with_clock(extra: &[&str], clock: &Clock) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Server::start_in(dir, extra, Some(clock))
    }

    /// A server started in an existing directory (to restart from its files).
    pub fn in_dir(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        Server::start_in(dir, extra, None)
    }

    fn start_in(dir: tempfile::TempDir, extra: &[&str], clock: Option<&Clock>) -> Server {
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = server_command(&dir, port, extra);
            if let Some(c) = clock {
                cmd.envs(c.env());
            }
            let mut child = spawn(cmd).expect("redis-server on PATH");
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // exited: port taken or bad config; try another port
                }
                if let Ok(mut c) = client.get_connection() {
                    let loading: redis::RedisResult<String> = redis::cmd("PING").query(&mut c);
                    if loading.is_ok() {
                        return Server { child, port, dir };
                    }
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("redis-server did not start; log: {}", read_log(dir.path()));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        panic!("redis-server did not start; log: {}", read_log(dir.path()));
    }

    /// Starts a server in `dir` that must refuse to start (it exits while loading, say):
    /// its log once it has exited. Fails the test if it serves commands instead.
    pub fn fails_to_start(dir: &tempfile::TempDir, extra: &[&str]) -> String {
        // Another test may take the free port first; a server that exits for that did
        // not fail the way the caller means, so it starts again on another port.
        for _ in 0..5 {
            let before = read_log(dir.path()).len();
            let log = Self::try_start_expecting_failure(dir, extra);
            if !log
                .get(before..)
                .unwrap_or("")
                .contains("Address already in use")
            {
                return log;
            }
        }
        panic!("no free port for redis-server after 5 tries");
    }

    fn try_start_expecting_failure(dir: &tempfile::TempDir, extra: &[&str]) -> String {
        let port = free_port();
        let mut child = spawn(server_command(dir, port, extra)).expect("redis-server on PATH");
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return read_log(dir.path());
            }
            if let Ok(mut c) = client.get_connection() {
                let up: redis::RedisResult<String> = redis::cmd("PING").query(&mut c);
                if up.is_ok() {
                    let _ = child.kill();
                    panic!("redis-server started; log: {}", read_log(dir.path()));
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "redis-server neither started nor exited; log: {}",
                    read_log(dir.path())
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A new connection.
    pub fn conn(&self) -> Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect")
    }

    /// `redis://127.0.0.1:port/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the server is still running (false once it exited or crashed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        read_log(self.dir.path())
    }
}

impl Server {
    /// A replica of `primary` (persistence as `extra` says), returned once its link to
    /// the primary is up.
    pub fn replica_of(primary: &Server, extra: &[&str]) -> Server {
        Server::replica_with_clock(primary, extra, None)
    }

    /// A replica of `primary` whose wall clock is `clock` (if any).
    pub fn replica_with_clock(primary: &Server, extra: &[&str], clock: Option<&Clock>) -> Server {
        let port = primary.port.to_string();
        let mut args = vec!["--replicaof", "127.0.0.1", port.as_str()];
        args.extend_from_slice(extra);
        let dir = tempfile::tempdir().expect("tempdir");
        let replica = Server::start_in(dir, &args, clock);
        let mut c = replica.conn();
        wait_for(20, "replica link up", || {
            let info: String = redis::cmd("INFO").arg("replication").query(&mut c).ok()?;
            info.contains("master_link_status:up").then_some(())
        });
        replica
    }

    /// Kills the server with SIGKILL (no shutdown, no final fsync) and hands back its
    /// directory, to restart from what it left on disk.
    pub fn kill9(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let empty = tempfile::tempdir().expect("tempdir");
        std::mem::replace(&mut self.dir, empty)
    }
}

/// The redis-server command line of a test server: loopback, DEBUG on, log and data in
/// `dir`, the module loaded with its lease reaper off unless a test turns it on (CONFIG
/// SET), so lease expiry in other tests happens only when they call REQUEUE.
fn server_command(dir: &tempfile::TempDir, port: u16, extra: &[&str]) -> Command {
    let mut cmd = Command::new("redis-server");
    cmd.arg("--port")
        .arg(port.to_string())
        .args(["--bind", "127.0.0.1", "--enable-debug-command", "yes"])
        .arg("--dir")
        .arg(dir.path())
        .args(["--logfile", "redis.log"])
        .args(extra)
        .arg("--loadmodule")
        .arg(module_path())
        .args(["requeue-interval-ms", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Copies a directory tree (a server's data directory, to restart from a copy).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("dir entry");
        let dest = to.join(e.file_name());
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
