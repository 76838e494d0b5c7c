//! Helpers shared by the workspace tests: peer detection (with the
//! `ASYNCORE_REQUIRE_PEERS` rule), building and locating the example binaries, and
//! running child processes with bounded waits and a transcript for failure messages.
//!
//! Real servers of other projects (Mosquitto, PostgreSQL) and Python peers using their
//! client libraries are in [`peers`]; raw HTTP exchanges in [`http`].
//!
//! Use it from a test file with `mod support;`.

#![allow(dead_code)]

pub mod http;
pub mod peers;
pub mod tls;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a test waits for a peer or a server before it gives up and fails. Only a
/// guard against hanging: no test asserts on how long anything takes.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// The environment variable that turns a missing peer from a skip into a failure.
pub const REQUIRE_PEERS: &str = "ASYNCORE_REQUIRE_PEERS";

/// Whether `ASYNCORE_REQUIRE_PEERS` asks for every peer to be present (any value but
/// empty or `0`).
pub fn peers_required() -> bool {
    match std::env::var_os(REQUIRE_PEERS) {
        Some(v) => !v.is_empty() && v != "0",
        None => false,
    }
}

/// The project rule for peer tests: returns `true` when the peer `name` is `available`.
/// Otherwise prints `skipping: <name> not found` and returns `false` (the test should
/// return), or panics when `ASYNCORE_REQUIRE_PEERS=1` is set.
///
/// ```ignore
/// if !support::require_peer("python3 with asyncore", support::python_has_module("asyncore")) {
///     return;
/// }
/// ```
pub fn require_peer(name: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if peers_required() {
        panic!("{name} not found, and {REQUIRE_PEERS} is set: this peer test must run");
    }
    eprintln!("skipping: {name} not found (set {REQUIRE_PEERS}=1 to make this a failure)");
    false
}

/// The Python 3 interpreter the tests run: `$ASYNCORE_PYTHON`, or `python3`.
pub fn python() -> OsString {
    std::env::var_os("ASYNCORE_PYTHON")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// Whether the Python 3 interpreter exists and can `import module`. The answer is
/// cached per module.
pub fn python_has_module(module: &str) -> bool {
    static CACHE: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(&known) = cache.lock().unwrap().get(module) {
        return known;
    }
    let found = Command::new(python())
        .args(["-W", "ignore::DeprecationWarning", "-c"])
        .arg(format!(
            "import sys\nassert sys.version_info[0] == 3\nimport {module}"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    cache.lock().unwrap().insert(module.to_string(), found);
    found
}

/// A `Command` running `script` with Python 3 (`-u`, deprecation warnings off: Python
/// 3.11 warns on `import asyncore`), with `args` as `sys.argv[1:]`.
pub fn python_script<I, S>(script: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(python());
    cmd.args(["-u", "-W", "ignore::DeprecationWarning", "-c", script]);
    cmd.args(args);
    cmd
}

/// The path of an example program of `asyncore-examples` (`examples/NAME.rs`), built
/// once per test process with the cargo that runs the tests, in the same target
/// directory and profile family (debug for a debug test build, release otherwise).
///
/// Panics with cargo's output if the build fails.
pub fn example_binary(name: &str) -> PathBuf {
    built_binary("asyncore-examples", "example", name)
}

/// The path of the binary `name` of the workspace package `package` (such as
/// `asyncore-protocol`), built as [`example_binary`] builds an example.
pub fn package_binary(package: &str, name: &str) -> PathBuf {
    built_binary(package, "bin", name)
}

/// The target `name` of kind `kind` (`example` or `bin`) of `package`, built once.
fn built_binary(package: &str, kind: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    // Holding the lock while building also keeps concurrent tests from starting
    // several cargo processes that would only wait for each other's lock.
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    let result = built
        .entry(format!("{package} {kind} {name}"))
        .or_insert_with(|| build(package, kind, name))
        .clone();
    match result {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

fn cargo() -> OsString {
    std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(OsString::from))
        .unwrap_or_else(|| "cargo".into())
}

fn build(package: &str, kind: &str, name: &str) -> Result<PathBuf, String> {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let mut cmd = Command::new(cargo());
    cmd.args(["build", "--manifest-path", manifest])
        .args(["-p", package, &format!("--{kind}"), name])
        .arg("--message-format=json-render-diagnostics");
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo to build {kind} `{name}`: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "`cargo build -p {package} --{kind} {name}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // The compiler-artifact message of the target names its executable.
    let wanted_target = format!("\"name\":\"{name}\"");
    let wanted_kind = format!("\"{kind}\"");
    for line in stdout.lines() {
        if line.contains("\"reason\":\"compiler-artifact\"")
            && line.contains(&wanted_target)
            && line.contains(&wanted_kind)
        {
            if let Some(path) = json_string_field(line, "executable") {
                let path = PathBuf::from(path);
                if path.is_file() {
                    return Ok(path);
                }
                return Err(format!(
                    "cargo reported {} but it is not a file",
                    path.display()
                ));
            }
        }
    }
    Err(format!(
        "cargo built {kind} `{name}` but reported no executable for it:\n{stdout}"
    ))
}

/// The string value of `"field":"..."` in one line of JSON (enough for cargo's
/// messages; handles the usual escapes).
fn json_string_field(line: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = line.find(&key)? + key.len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// What a finished child process left: its status and everything it printed.
#[derive(Debug)]
pub struct Finished {
    /// The exit status.
    pub status: ExitStatus,
    /// Every line it printed on stdout, in order.
    pub stdout: Vec<String>,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Finished {
    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.status.code() == Some(0)
    }

    /// The whole output, for failure messages.
    pub fn transcript(&self) -> String {
        format!(
            "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            describe(self.status),
            self.stdout.join("\n"),
            self.stderr
        )
    }
}

/// `exit status N` or `killed by signal N`.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{status}"),
    }
}

/// A child process under test: its stdout arrives line by line, its stderr is collected,
/// and it is killed if the test ends (or panics) while it still runs.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stdout_thread: Option<JoinHandle<()>>,
    stderr_thread: Option<JoinHandle<String>>,
    finished: bool,
}

impl Proc {
    /// Start `cmd` (stdin from `/dev/null`, stdout and stderr captured). `name` appears
    /// in failure messages.
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = mpsc::channel();
        let stdout_thread = std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                let mut line = String::from_utf8_lossy(&line).into_owned();
                if line.ends_with('\r') {
                    line.pop();
                }
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_thread = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        });
        Proc {
            name: name.to_string(),
            child,
            lines,
            seen: Vec::new(),
            stdout_thread: Some(stdout_thread),
            stderr_thread: Some(stderr_thread),
            finished: false,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The stdout lines read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Wait (at most `timeout`) for a stdout line for which `matches` is true, and return
    /// it. Lines before it are kept in [`seen`](Self::seen). Panics, with the process's
    /// output, if the process ends first or the time runs out.
    pub fn expect_line(
        &mut self,
        what: &str,
        timeout: Duration,
        mut matches: impl FnMut(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let out = self.kill_and_collect();
                    panic!(
                        "{}: no {what} on stdout within {timeout:?}; killed it\n{}",
                        self.name,
                        out.transcript()
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let out = self.finish(HANG_GUARD);
                    panic!(
                        "{}: closed its stdout without printing {what}\n{}",
                        self.name,
                        out.transcript()
                    );
                }
            }
        }
    }

    /// Wait for the `listening on HOST:PORT` line and return the address.
    pub fn listening_addr(&mut self) -> SocketAddr {
        let line = self.expect_line("`listening on HOST:PORT` line", HANG_GUARD, |l| {
            l.starts_with("listening on ")
        });
        let addr = line["listening on ".len()..].trim();
        addr.parse()
            .unwrap_or_else(|e| panic!("{}: cannot parse the address in `{line}`: {e}", self.name))
    }

    /// Send `signal` (e.g. [`rustix::process::Signal::INT`]) to the process.
    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid =
            rustix::process::Pid::from_raw(self.pid() as i32).expect("a child pid is positive");
        rustix::process::kill_process(pid, signal)
            .unwrap_or_else(|e| panic!("cannot send {signal:?} to {}: {e}", self.name));
    }

    /// Wait (at most `timeout`) for the process to exit, then collect its output.
    /// Panics, after killing it, if it is still running when the time is up.
    pub fn finish(&mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    let out = self.kill_and_collect();
                    panic!(
                        "{}: still running after {timeout:?}; killed it\n{}",
                        self.name,
                        out.transcript()
                    );
                }
                Err(e) => panic!("{}: cannot wait for it: {e}", self.name),
            }
        };
        self.collect(status)
    }

    fn kill_and_collect(&mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for a killed child");
        self.collect(status)
    }

    fn collect(&mut self, status: ExitStatus) -> Finished {
        self.finished = true;
        if let Some(t) = self.stdout_thread.take() {
            let _ = t.join();
        }
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let stderr = self
            .stderr_thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        Finished {
            status,
            stdout: std::mem::take(&mut self.seen),
            stderr,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts the server example `name` on 127.0.0.1, port 0, with `backend` and the `extra`
/// flags; returns it and the address of its `listening on` line, checked to be loopback
/// with a real port.
pub fn start_server<S: AsRef<std::ffi::OsStr>>(
    name: &str,
    backend: &str,
    extra: &[S],
) -> (Proc, SocketAddr) {
    let mut cmd = Command::new(example_binary(name));
    cmd.args(["--listen", "127.0.0.1:0", "--backend", backend]);
    cmd.args(extra);
    let mut server = Proc::spawn(&format!("{name} ({backend})"), cmd);
    let addr = server.listening_addr();
    assert!(
        addr.ip().is_loopback() && addr.port() != 0,
        "{name} printed `listening on {addr}`, not 127.0.0.1 with a real port"
    );
    (server, addr)
}

/// Sends SIGINT to a server started by [`start_server`]; it must exit 0 without a panic.
pub fn stop_server(mut server: Proc) -> Finished {
    server.signal(rustix::process::Signal::INT);
    let out = server.finish(HANG_GUARD);
    let name = server.name.clone();
    assert!(
        out.success(),
        "{name} did not exit with status 0 after SIGINT\n{}",
        out.transcript()
    );
    assert!(
        !out.stderr.contains("panicked"),
        "{name} panicked\n{}",
        out.transcript()
    );
    out
}

/// Sends `bytes` to `addr` on a new connection (then shuts down writing if `hang_up`),
/// and reads until the server closes or nothing comes for half a second: what came, and
/// whether the server closed. A reset counts as a close. For bad-input tests.
pub fn send_bad(addr: SocketAddr, bytes: &[u8], hang_up: bool) -> (Vec<u8>, bool) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr)
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("read timeout");
    // The server may close before taking everything: a reset here is fine.
    let _ = s.write_all(bytes);
    if hang_up {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                // Nothing more for a while: the server keeps the connection open.
                return (got, false);
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading from {addr}: {e}"),
        }
    }
}

/// Runs `program args` with `input` on its standard input: its exit code, standard output
/// and standard error once it exits (killed, and the test failed, after [`HANG_GUARD`]).
pub fn run_raw(program: &PathBuf, args: &[String], input: &[u8]) -> (i32, Vec<u8>, String) {
    let (status, stdout, stderr) = run_with_input(program, args, input, HANG_GUARD);
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    (status.code().unwrap_or(-1), stdout, stderr)
}

/// Runs `program args` with `input` on its standard input: its exit status, standard
/// output and standard error once it exits (killed, and the test failed, after `guard`).
pub fn run_with_input<P: AsRef<std::ffi::OsStr>>(
    program: P,
    args: &[String],
    input: &[u8],
    guard: Duration,
) -> (ExitStatus, Vec<u8>, Vec<u8>) {
    let mut cmd = Command::new(program.as_ref());
    cmd.args(args);
    run_command_with_input(cmd, input, guard)
}

/// Runs `cmd` (its arguments and environment set) with `input` on its standard input: its
/// exit status, standard output and standard error once it exits (killed, and the test
/// failed, after `guard`).
pub fn run_command_with_input(
    mut cmd: Command,
    input: &[u8],
    guard: Duration,
) -> (ExitStatus, Vec<u8>, Vec<u8>) {
    let name = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_thread = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_thread = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + guard;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name} still running after {guard:?}; killed it");
            }
            Err(e) => panic!("cannot wait for {name}: {e}"),
        }
    };
    let _ = writer.join();
    let stdout = out_thread.join().unwrap_or_default();
    let stderr = err_thread.join().unwrap_or_default();
    (status, stdout, stderr)
}

/// A fresh directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory named after `tag`, the process and a counter.
    pub fn new(tag: &str) -> TempDir {
        TempDir::new_in(&std::env::temp_dir(), tag)
    }

    /// A new empty directory in `parent` (e.g. `/dev/shm`), named after `tag`, the
    /// process and a counter.
    pub fn new_in(parent: &std::path::Path, tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent.join(format!("asyncore-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// Writes `name` (a relative path, directories created) and returns its path.
    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a directory");
        }
        std::fs::write(&path, content).expect("write a test file");
        path
    }

    /// The names of the files in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("list the directory")
            .map(|e| e.expect("a directory entry").file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd` (named `name` in failures) to its end, failing the test after
/// [`HANG_GUARD`].
pub fn run_named(name: &str, cmd: Command) -> Finished {
    let mut p = Proc::spawn(name, cmd);
    p.finish(HANG_GUARD)
}

/// `len` bytes that look like nothing in particular (a linear congruential sequence).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// `len` pseudo-random bytes (xorshift), the same for the same seed.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Reads once more from `stream` into `buf`, waiting through read timeouts until
/// `deadline` (then the test fails, naming `server` and showing what came); false at the
/// end of input or on a reset (the server closed).
pub fn read_more(
    stream: &mut std::net::TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    server: &str,
) -> bool {
    use std::io::ErrorKind;
    let mut chunk = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return true;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                let have = &buf[..buf.len().min(600)];
                assert!(
                    Instant::now() < deadline,
                    "nothing from {server} within {HANG_GUARD:?}; have {}",
                    have.escape_ascii()
                );
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// A connection that stays open through a bad-input test and must keep being served:
/// [`check`](Self::check) runs the protocol's own exchange, which counts in `n`.
pub struct Witness {
    /// The connection.
    pub stream: std::net::TcpStream,
    /// How many checks ran.
    pub n: u64,
    check: fn(&mut Witness, &str),
}

impl Witness {
    /// Connects to `addr`; `check` is one exchange that must succeed (after `n` was
    /// counted up).
    pub fn new(addr: SocketAddr, check: fn(&mut Witness, &str)) -> Witness {
        let stream = std::net::TcpStream::connect(addr).expect("connect the witness");
        stream
            .set_read_timeout(Some(HANG_GUARD))
            .expect("read timeout");
        Witness {
            stream,
            n: 0,
            check,
        }
    }

    /// The next check, after `after` (named in a failure).
    pub fn check(&mut self, after: &str) {
        self.n += 1;
        (self.check)(self, after);
    }

    /// Sends `send` and expects exactly `want` back.
    pub fn exchange(&mut self, send: &[u8], want: &[u8], after: &str) {
        std::io::Write::write_all(&mut self.stream, send)
            .unwrap_or_else(|e| panic!("witness write after {after}: {e}"));
        let mut got = vec![0u8; want.len()];
        self.stream
            .read_exact(&mut got)
            .unwrap_or_else(|e| panic!("witness read after {after}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(want),
            "the witness connection after {after}"
        );
    }
}

/// Whether `program arg` runs and exits 0 (its output is discarded): whether a peer is
/// installed.
pub fn runs_ok<P: AsRef<std::ffi::OsStr>>(program: P, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The resident memory of process `pid` (`VmRSS`), in bytes.
pub fn rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kb * 1024
}
