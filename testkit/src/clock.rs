//! A shifted wall clock for test servers, the way a clock step or a badly set host looks
//! to them: an `LD_PRELOAD` shim (`shim/clock_shim.c`, built here with the system's C
//! compiler) adds an offset to the wall clock and leaves the monotonic clock alone. The
//! offset lives in a file the test rewrites at will ([`Clock::set`]).

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One shifted clock; servers started with it ([`crate::Server::with_clock`]) share it.
pub struct Clock {
    dir: tempfile::TempDir,
}

/// The shim, built once per test process beside the test binary.
fn shim() -> &'static Path {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("shim/clock_shim.c");
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe.parent().expect("test binary dir");
        let out = dir.join("libtaskdb_clock_shim.so");
        let tmp = dir.join(format!("libtaskdb_clock_shim.{}.so", std::process::id()));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&tmp)
            .arg(&src)
            .status()
            .expect("a C compiler (cc) to build the clock shim");
        assert!(status.success(), "building {}", src.display());
        std::fs::rename(&tmp, &out).expect("install the clock shim");
        out
    })
}

impl Clock {
    /// A clock `offset_ms` away from the real one.
    pub fn new(offset_ms: i64) -> Clock {
        let c = Clock {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        std::fs::write(c.file(), offset_ms.to_le_bytes()).expect("clock file");
        c
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("offset")
    }

    /// Steps the clock to `offset_ms` from the real one, at once, for every server using
    /// it (written in place: the servers map the file).
    pub fn set(&self, offset_ms: i64) {
        let f = OpenOptions::new()
            .write(true)
            .open(self.file())
            .expect("clock file");
        f.write_all_at(&offset_ms.to_le_bytes(), 0)
            .expect("write the clock offset");
    }

    /// The environment a server needs to run on this clock.
    pub(crate) fn env(&self) -> [(&'static str, OsString); 2] {
        [
            ("LD_PRELOAD", shim().as_os_str().to_owned()),
            ("TASKDB_CLOCK_FILE", self.file().into_os_string()),
        ]
    }
}
