//! Starting test servers so that they never outlive the test process.
//!
//! Each server is started with `PR_SET_PDEATHSIG(SIGKILL)`: the kernel kills it when the
//! thread that forked it ends. Test threads end after every test, so the fork happens on
//! one long-lived spawner thread that lives exactly as long as the process: a server held
//! in a `static` (never dropped), or left by a panic, an abort or a Ctrl-C, dies with the
//! test binary. Servers also carry `TASKDB_TEST_SERVER=<run tag>` in their environment
//! (the tag from `TASKDB_TEST_RUN`, set by `scripts/test.sh`), so the script can check
//! afterwards that none is left running.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

type Request = (Command, Sender<io::Result<Child>>);

static SPAWNER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();

fn spawner() -> Sender<Request> {
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = channel::<Request>();
        std::thread::Builder::new()
            .name("taskdb-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
            })
            .expect("spawner thread");
        Mutex::new(tx)
    });
    tx.lock().expect("spawner lock").clone()
}

/// Starts `cmd` as a child that the kernel kills when this test process ends.
pub fn spawn(mut cmd: Command) -> io::Result<Child> {
    let tag = std::env::var("TASKDB_TEST_RUN").unwrap_or_else(|_| "1".into());
    cmd.env("TASKDB_TEST_SERVER", tag);
    // SAFETY: the closure runs in the forked child before exec and calls only prctl and
    // getppid, which are async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The spawner may have ended between fork and prctl: then die now.
            if libc::getppid() == 1 {
                return Err(io::Error::other("test process already gone"));
            }
            Ok(())
        });
    }
    let (tx, rx) = channel();
    spawner()
        .send((cmd, tx))
        .map_err(|_| io::Error::other("spawner thread gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("spawner thread gone"))?
}
