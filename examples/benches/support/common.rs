//! What the benchmarks that start real servers share: building our example servers,
//! finding an installed peer, a free port, stopping a server.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::thread::sleep;
use std::time::Duration;

/// Builds the examples (release) and returns their directory.
pub(crate) fn build_examples() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "asyncore-examples",
            "--examples",
        ])
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the examples failed");
    let me = std::env::current_exe().expect("the bench's path");
    // target/release/deps/BENCH-HASH -> target/release/examples
    me.parent()
        .and_then(Path::parent)
        .map(|release| release.join("examples"))
        .expect("the target directory")
}

/// A port free on 127.0.0.1 when asked (for a peer that can not bind port 0 and say so).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where `program` is: on the `PATH`, or else the first of `fallbacks` that exists
/// (Debian puts some servers in `/usr/sbin`, which a user's `PATH` may lack).
pub(crate) fn installed(program: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let which = Command::new("which").arg(program).output().ok()?;
    if which.status.success() {
        return Some(PathBuf::from(String::from_utf8_lossy(&which.stdout).trim()));
    }
    fallbacks.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Stops a server: `SIGTERM` first, so that nginx's master stops its workers too, then
/// `SIGKILL` if it is still there after five seconds.
pub(crate) fn stop(mut child: Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
    for _ in 0..50 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}
