//! A chromedriver (WebDriver for Debian's Chromium) on a free port, for browser tests; it
//! is killed when dropped, and dies with the test process like the servers do.

use crate::{free_port, wait_for};
use std::net::TcpStream;
use std::process::{Child, Command};

/// A running chromedriver.
pub struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    /// Starts `chromedriver` (package `chromium-driver`) and waits until it listens.
    pub fn start() -> Chromedriver {
        let port = free_port();
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = crate::spawn(cmd)
            .expect("chromedriver (Debian package chromium-driver; scripts/deps.sh installs it)");
        wait_for(20, "chromedriver to listen", || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Chromedriver { child, port }
    }

    /// Its WebDriver URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
