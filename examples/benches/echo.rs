//! Echo benchmark: our echo server (epoll, poll, select backends) side by side with a
//! tokio current-thread echo server, a minimal C epoll echo server and Python's asyncore.
//!
//! ```text
//! cargo bench -p asyncore-examples --bench echo              # full run (a few minutes)
//! cargo bench -p asyncore-examples --bench echo -- --quick   # smoke run
//! ```
//!
//! Every server is its own process (pinned to CPU 0), so its CPU time is read from its own
//! accounting (`/proc/PID/task/*/schedstat`). The load generator is this process: one
//! thread (pinned to CPU 1), non-blocking sockets on epoll, 50 connections sending 64-byte
//! lines with 1 or 16 lines in flight per connection.
//!
//! Other modes of this binary (used by the benchmark itself, or by hand for profiling):
//!
//! ```text
//! echo --serve ours --backend epoll --listen 127.0.0.1:0   # our echo server
//! echo --serve tokio --listen 127.0.0.1:0                 # tokio current-thread echo server
//! echo --client 127.0.0.1:PORT --depth 16 --secs 5 [--warmup 0.5] [--conns 50]  # load only
//! ```

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::event::{epoll, Timespec};

/// Bytes per line (and per round trip): 63 `x` and a newline.
const LINE: usize = 64;
/// Connections of the load generator.
const DEFAULT_CONNS: usize = 50;
/// Lines in flight per connection, one figure per mode.
const DEPTHS: [usize; 2] = [1, 16];
/// How long a server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// A run fails if no round trip completes for this long.
const STALL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a server may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// The C server: level-triggered epoll, one read of 16 KiB per readiness event, written
/// straight back; a partial write keeps the rest and waits for EPOLLOUT.
const C_SERVER: &str = r#"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 16384
#define MAXFD 65536

struct pending { char *data; size_t len, off; };
static struct pending pend[MAXFD];
static char buf[BUFSZ];

static void drop_conn(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(pend[fd].data);
    pend[fd].data = NULL;
    pend[fd].len = pend[fd].off = 0;
}

static void want(int ep, int fd, unsigned events) {
    struct epoll_event e;
    memset(&e, 0, sizeof e);
    e.events = events;
    e.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
}

int main(void) {
    int one = 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) { perror("socket"); return 1; }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); return 1; }
    if (listen(lfd, 1024) < 0) { perror("listen"); return 1; }
    socklen_t alen = sizeof a;
    if (getsockname(lfd, (struct sockaddr *)&a, &alen) < 0) { perror("getsockname"); return 1; }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) { perror("epoll_create1"); return 1; }
    struct epoll_event le;
    memset(&le, 0, sizeof le);
    le.events = EPOLLIN;
    le.data.fd = lfd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &le) < 0) { perror("epoll_ctl"); return 1; }
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);

    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            unsigned ev = evs[i].events;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0) break; /* EAGAIN, or out of descriptors: try again later */
                    if (c >= MAXFD) { close(c); continue; }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event ce;
                    memset(&ce, 0, sizeof ce);
                    ce.events = EPOLLIN;
                    ce.data.fd = c;
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce) < 0) close(c);
                }
                continue;
            }
            struct pending *p = &pend[fd];
            if (p->off < p->len) { /* waiting for EPOLLOUT to finish a partial write */
                if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
                ssize_t w = send(fd, p->data + p->off, p->len - p->off, MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    drop_conn(ep, fd);
                    continue;
                }
                p->off += (size_t)w;
                if (p->off == p->len) {
                    p->off = p->len = 0;
                    want(ep, fd, EPOLLIN);
                }
                continue;
            }
            ssize_t r = read(fd, buf, BUFSZ);
            if (r == 0) { drop_conn(ep, fd); continue; }
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                drop_conn(ep, fd);
                continue;
            }
            ssize_t w = send(fd, buf, (size_t)r, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno != EAGAIN && errno != EINTR) { drop_conn(ep, fd); continue; }
                w = 0;
            }
            if (w < r) {
                size_t rest = (size_t)(r - w);
                free(p->data);
                p->data = malloc(rest);
                if (p->data == NULL) { drop_conn(ep, fd); continue; }
                memcpy(p->data, buf + w, rest);
                p->len = rest;
                p->off = 0;
                want(ep, fd, EPOLLOUT);
            }
        }
    }
}
"#;

/// The Python server: asyncore's own dispatcher and dispatcher_with_send, poll loop.
const PY_SERVER: &str = r#"
import asyncore
import socket


class Echo(asyncore.dispatcher_with_send):
    def handle_read(self):
        data = self.recv(16384)
        if data:
            self.send(data)


class Server(asyncore.dispatcher):
    def __init__(self):
        asyncore.dispatcher.__init__(self)
        self.create_socket(socket.AF_INET, socket.SOCK_STREAM)
        self.set_reuse_addr()
        self.bind(("127.0.0.1", 0))
        self.listen(1024)

    def handle_accepted(self, sock, addr):
        # Like the other servers (ours sets it by default).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Echo(sock)


server = Server()
print("listening on %s:%d" % server.socket.getsockname(), flush=True)
asyncore.loop(timeout=30, use_poll=True)
"#;

fn main() {
    // cargo passes `--bench` to harness = false benchmarks.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let code = match args.first().map(String::as_str) {
        Some("--serve") => serve_mode(args),
        Some("--client") => client_mode(&args),
        _ => match Opts::parse(&args).and_then(|o| bench(&o)) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("echo bench: {e}");
                1
            }
        },
    };
    std::process::exit(code);
}

// ---------------------------------------------------------------------------------------
// Server modes (the bench binary re-executed).

fn serve_mode(args: Vec<String>) -> i32 {
    use asyncore_examples::cli;
    let mut flags = cli::server_flags("127.0.0.1:0");
    flags.push(cli::Flag {
        name: "serve",
        value: "ours|tokio",
        default: None,
        help: "Which echo server to run",
    });
    let parsed = match cli::parse(args, &flags) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!(
                "{}",
                cli::usage("echo", "Echo servers of the echo benchmark.", &flags)
            );
            return 0;
        }
        Err(e) => {
            eprintln!("echo --serve: {e}");
            return 2;
        }
    };
    let config = match asyncore_examples::server::ServerConfig::from_args(&parsed) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("echo --serve: {e}");
            return 2;
        }
    };
    let result = match parsed.get("serve") {
        Some("ours") => {
            asyncore_examples::server::serve(&config, || asyncore_examples::echo::EchoServer)
        }
        Some("tokio") => serve_tokio(config.listen),
        other => {
            eprintln!("echo --serve: takes `ours` or `tokio`, not {other:?}");
            return 2;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("echo --serve: {e}");
            1
        }
    }
}

fn serve_tokio(listen: SocketAddr) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("listening on {}", listener.local_addr()?);
        io::stdout().flush()?;
        loop {
            let (mut sock, _) = match listener.accept().await {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("tokio echo: accept: {e}");
                    tokio::task::yield_now().await;
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if sock.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    })
}

// ---------------------------------------------------------------------------------------
// Load-only mode.

fn client_mode(args: &[String]) -> i32 {
    let run = || -> Result<(), String> {
        let mut addr = None;
        let mut depth = 1;
        let mut secs = 5.0;
        let mut conns = DEFAULT_CONNS;
        let mut warmup = 0.5;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--client" => addr = Some(parse_num::<SocketAddr>(a, &val()?)?),
                "--depth" => depth = parse_num(a, &val()?)?,
                "--secs" => secs = parse_num(a, &val()?)?,
                "--conns" => conns = parse_num(a, &val()?)?,
                "--warmup" => warmup = parse_num(a, &val()?)?,
                _ => return Err(format!("unknown argument `{a}`")),
            }
        }
        let addr = addr.ok_or("--client needs HOST:PORT")?;
        if !addr.ip().is_loopback() {
            return Err("the load generator only sends to loopback addresses".into());
        }
        let clock = CpuClock::detect();
        let s = run_load(addr, conns, depth, warmup, secs, None, clock)?;
        println!(
            "{} round trips in {:.2} s: {:.0} round trips/s ({} connections, {} in flight each)",
            s.round_trips,
            s.secs,
            s.round_trips as f64 / s.secs,
            conns,
            depth
        );
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("echo --client: {e}");
            1
        }
    }
}

fn parse_num<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    v.parse().map_err(|e| format!("{flag} `{v}`: {e}"))
}

// ---------------------------------------------------------------------------------------
// Benchmark options.

#[derive(Debug, Clone)]
struct Opts {
    secs: f64,
    warmup: f64,
    reps: usize,
    conns: usize,
    only: Option<Vec<String>>,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            secs: 3.0,
            warmup: 0.5,
            reps: 5,
            conns: DEFAULT_CONNS,
            only: None,
        };
        let mut quick = false;
        let (mut secs, mut warmup, mut reps) = (None, None, None);
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--quick" => quick = true,
                "--secs" => secs = Some(parse_num::<f64>(a, &val()?)?),
                "--warmup" => warmup = Some(parse_num::<f64>(a, &val()?)?),
                "--reps" => reps = Some(parse_num::<usize>(a, &val()?)?),
                "--conns" => o.conns = parse_num(a, &val()?)?,
                "--only" => o.only = Some(val()?.split(',').map(str::to_string).collect()),
                "--help" | "-h" => {
                    println!(
                        "Echo benchmark.\n\nOptions:\n  --quick        short smoke run (0.5 s runs, 2 repetitions)\n  \
                         --secs S       measured seconds per run [3]\n  --warmup S     warm-up seconds per run [0.5]\n  \
                         --reps N       repetitions [5]\n  --conns N      connections [50]\n  \
                         --only A,B     only these servers (ours-epoll, ours-poll, ours-select, tokio, c-epoll, py-asyncore)"
                    );
                    std::process::exit(0);
                }
                // Filters and flags cargo or libtest users may pass: ignore them.
                _ => eprintln!("echo bench: ignoring argument `{a}`"),
            }
        }
        if quick {
            o.secs = 0.5;
            o.warmup = 0.25;
            o.reps = 2;
        }
        o.secs = secs.unwrap_or(o.secs);
        o.warmup = warmup.unwrap_or(o.warmup);
        o.reps = reps.unwrap_or(o.reps);
        if !(o.secs > 0.0 && o.secs <= 600.0 && (0.0..=60.0).contains(&o.warmup)) {
            return Err("--secs takes 0 < S <= 600 and --warmup 0 <= S <= 60".into());
        }
        if o.reps == 0 || o.reps > 100 || o.conns == 0 || o.conns > 10_000 {
            return Err("--reps takes 1..=100 and --conns 1..=10000".into());
        }
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------------
// CPU accounting.

#[derive(Debug, Clone, Copy)]
enum CpuClock {
    /// First field of `/proc/.../schedstat`: nanoseconds on CPU.
    Schedstat,
    /// utime + stime of `/proc/.../stat`, in clock ticks.
    Stat { ticks_per_sec: u64 },
}

impl CpuClock {
    fn detect() -> CpuClock {
        // Burn a little CPU so a working schedstat reads non-zero.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(5) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        match fs::read_to_string("/proc/thread-self/schedstat") {
            Ok(s) if first_u64(&s).is_some_and(|v| v > 0) => CpuClock::Schedstat,
            _ => {
                let ticks = rustix::param::clock_ticks_per_second();
                CpuClock::Stat {
                    ticks_per_sec: if ticks == 0 { 100 } else { ticks },
                }
            }
        }
    }

    fn describe(self) -> String {
        match self {
            CpuClock::Schedstat => "/proc/PID/task/*/schedstat (ns on CPU)".into(),
            CpuClock::Stat { ticks_per_sec } => {
                format!("/proc/PID/task/*/stat utime+stime ({ticks_per_sec} ticks/s; coarse)")
            }
        }
    }

    /// CPU time of one task directory (`/proc/PID/task/TID` or `/proc/thread-self`).
    fn task_ns(self, dir: &Path) -> Option<u64> {
        match self {
            CpuClock::Schedstat => first_u64(&fs::read_to_string(dir.join("schedstat")).ok()?),
            CpuClock::Stat { ticks_per_sec } => {
                let s = fs::read_to_string(dir.join("stat")).ok()?;
                // Fields after the `(comm)`: field 3 (state) is index 0, so utime (14) is 11.
                let rest = &s[s.rfind(')')? + 1..];
                let f: Vec<&str> = rest.split_whitespace().collect();
                let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
                Some(ticks * 1_000_000_000 / ticks_per_sec)
            }
        }
    }

    /// CPU time of every thread of a process.
    fn process_ns(self, pid: u32) -> Result<u64, String> {
        let dir = format!("/proc/{pid}/task");
        let entries = fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?;
        let mut total = 0;
        for entry in entries.flatten() {
            // A thread that exits between listing and reading counts 0 here.
            total += self.task_ns(&entry.path()).unwrap_or(0);
        }
        Ok(total)
    }

    fn this_thread_ns(self) -> u64 {
        self.task_ns(Path::new("/proc/thread-self")).unwrap_or(0)
    }
}

fn first_u64(s: &str) -> Option<u64> {
    s.split_whitespace().next()?.parse().ok()
}

// ---------------------------------------------------------------------------------------
// CPU pinning.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Pinning {
    /// Servers through `taskset -c 0`, the load generator on CPU 1.
    Taskset,
    /// Servers inherit CPU 0 from the spawning thread, the load generator on CPU 1.
    Inherit,
    /// Fewer than two usable CPUs: nothing pinned.
    None,
}

fn cpu_set(cpu: usize) -> rustix::thread::CpuSet {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    set
}

fn pin_self(cpu: usize) -> Result<(), String> {
    rustix::thread::sched_setaffinity(None, &cpu_set(cpu))
        .map_err(|e| format!("sched_setaffinity(CPU {cpu}): {e}"))
}

fn choose_pinning() -> (Pinning, String) {
    let set = match rustix::thread::sched_getaffinity(None) {
        Ok(s) => s,
        Err(e) => {
            return (
                Pinning::None,
                format!("not pinned: sched_getaffinity failed: {e}"),
            )
        }
    };
    if !(set.is_set(0) && set.is_set(1)) {
        return (
            Pinning::None,
            format!(
                "not pinned: {} usable CPU(s), CPUs 0 and 1 are not both available",
                set.count()
            ),
        );
    }
    let taskset = Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if taskset {
        (
            Pinning::Taskset,
            "servers on CPU 0 (taskset -c 0), load generator on CPU 1".into(),
        )
    } else {
        (
            Pinning::Inherit,
            "servers on CPU 0 (inherited affinity; no taskset), load generator on CPU 1".into(),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Server processes.

/// How to start one server.
#[derive(Debug)]
struct ServerSpec {
    name: &'static str,
    program: PathBuf,
    args: Vec<String>,
}

/// A running server; SIGTERM'd and reaped on drop.
#[derive(Debug)]
struct ServerProc {
    name: &'static str,
    child: Option<Child>,
    pid: u32,
    addr: SocketAddr,
}

impl ServerProc {
    fn start(spec: &ServerSpec, pinning: Pinning) -> Result<ServerProc, String> {
        let mut cmd = if pinning == Pinning::Taskset {
            let mut c = Command::new("taskset");
            c.arg("-c").arg("0").arg(&spec.program);
            c
        } else {
            Command::new(&spec.program)
        };
        cmd.args(&spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if pinning == Pinning::Inherit {
            pin_self(0)?;
        }
        let spawned = cmd.spawn();
        if pinning == Pinning::Inherit {
            pin_self(1)?;
        }
        let mut child = spawned.map_err(|e| {
            format!(
                "{}: cannot start {}: {e}",
                spec.name,
                spec.program.display()
            )
        })?;
        // taskset execs the program, so the pid is the server's.
        let pid = child.id();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut server = ServerProc {
            name: spec.name,
            child: Some(child),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Forward the first line, then drain stdout until the server exits.
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines.map_while(Result::ok) {}
        });
        let line = rx.recv_timeout(START_TIMEOUT).map_err(|_| {
            format!(
                "{}: no `listening on` line within {START_TIMEOUT:?}",
                spec.name
            )
        })?;
        let addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().parse::<SocketAddr>().ok())
            .ok_or_else(|| format!("{}: unexpected first line `{line}`", spec.name))?;
        if !addr.ip().is_loopback() {
            return Err(format!("{}: listens on {addr}, not loopback", spec.name));
        }
        server.addr = addr;
        Ok(server)
    }

    fn check_alive(&mut self) -> Result<(), String> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!("{} (pid {}) exited: {status}", self.name, self.pid));
            }
        }
        Ok(())
    }

    /// SIGTERM, wait up to [`STOP_TIMEOUT`], then SIGKILL.
    fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!(
            "{} (pid {}) ignored SIGTERM; killing it",
            self.name, self.pid
        );
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A scratch directory, removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<TempDir> {
        let dir = std::env::temp_dir().join(format!("asyncore-echo-bench-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn c_server(tmp: &Path) -> Result<ServerSpec, String> {
    let src = tmp.join("echo_epoll.c");
    let bin = tmp.join("echo_epoll");
    fs::write(&src, C_SERVER).map_err(|e| format!("cannot write {}: {e}", src.display()))?;
    let out = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cc not usable: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cc -O2 failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(ServerSpec {
        name: "c-epoll",
        program: bin,
        args: vec![],
    })
}

fn python_server(tmp: &Path) -> Result<ServerSpec, String> {
    let probe = Command::new("python3")
        .args(["-W", "ignore", "-c", "import asyncore"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("python3 not usable: {e}"))?;
    if !probe.success() {
        return Err("python3 has no asyncore module (removed in Python 3.12)".into());
    }
    let script = tmp.join("echo_asyncore.py");
    fs::write(&script, PY_SERVER).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    Ok(ServerSpec {
        name: "py-asyncore",
        program: PathBuf::from("python3"),
        args: vec!["-W".into(), "ignore".into(), script.display().to_string()],
    })
}

// ---------------------------------------------------------------------------------------
// Load generator.

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Sample {
    round_trips: u64,
    secs: f64,
    server_cpu_ns: u64,
    client_cpu_ns: u64,
}

impl Sample {
    fn rate(&self) -> f64 {
        self.round_trips as f64 / self.secs
    }
    fn server_us_per_rt(&self) -> f64 {
        self.server_cpu_ns as f64 / 1e3 / self.round_trips.max(1) as f64
    }
    fn client_us_per_rt(&self) -> f64 {
        self.client_cpu_ns as f64 / 1e3 / self.round_trips.max(1) as f64
    }
    fn server_util(&self) -> f64 {
        self.server_cpu_ns as f64 / 1e9 / self.secs
    }
    fn client_util(&self) -> f64 {
        self.client_cpu_ns as f64 / 1e9 / self.secs
    }
}

struct Conn {
    sock: TcpStream,
    /// Bytes written so far.
    sent: u64,
    /// Bytes received (echoed) so far.
    received: u64,
    /// Bytes of lines due but not yet written.
    pending: usize,
    /// EPOLLOUT is in the interest set.
    want_out: bool,
}

impl Conn {
    /// Write as much of the due lines as the socket takes.
    fn flush(&mut self, pattern: &[u8]) -> io::Result<()> {
        while self.pending > 0 {
            let off = (self.sent % LINE as u64) as usize;
            match self.sock.write(&pattern[off..off + self.pending]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0")),
                Ok(n) => {
                    self.sent += n as u64;
                    self.pending -= n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Keep EPOLLOUT in the interest set exactly while output is pending.
    fn update_interest(&mut self, ep: &impl std::os::fd::AsFd, token: u64) -> io::Result<()> {
        let want_out = self.pending > 0;
        if want_out != self.want_out {
            let mut flags = epoll::EventFlags::IN;
            if want_out {
                flags |= epoll::EventFlags::OUT;
            }
            epoll::modify(ep, &self.sock, epoll::EventData::new_u64(token), flags)?;
            self.want_out = want_out;
        }
        Ok(())
    }

    /// One read; returns the number of round trips it completed.
    fn on_readable(&mut self, rbuf: &mut [u8]) -> Result<u64, String> {
        let n = match self.sock.read(rbuf) {
            Ok(0) => return Err("the server closed a connection".into()),
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                return Ok(0)
            }
            Err(e) => return Err(format!("read: {e}")),
        };
        for (i, &b) in rbuf[..n].iter().enumerate() {
            let newline = (self.received + i as u64) % LINE as u64 == LINE as u64 - 1;
            if b != if newline { b'\n' } else { b'x' } {
                return Err(format!(
                    "the echo differs from what was sent (byte {:#04x})",
                    b
                ));
            }
        }
        let before = self.received / LINE as u64;
        self.received += n as u64;
        if self.received > self.sent {
            return Err("the server echoed more bytes than were sent".into());
        }
        Ok(self.received / LINE as u64 - before)
    }
}

/// Run the load against `addr`: `conns` connections, `depth` lines in flight on each;
/// `warmup` seconds unmeasured, then `secs` seconds measured (server CPU of `server_pid`
/// read at both ends of the window).
fn run_load(
    addr: SocketAddr,
    conns: usize,
    depth: usize,
    warmup: f64,
    secs: f64,
    server_pid: Option<u32>,
    clock: CpuClock,
) -> Result<Sample, String> {
    let mut pattern = Vec::with_capacity((depth + 1) * LINE);
    for _ in 0..=depth {
        pattern.extend(std::iter::repeat_n(b'x', LINE - 1));
        pattern.push(b'\n');
    }
    let ep =
        epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| format!("epoll_create: {e}"))?;
    let mut cs = Vec::with_capacity(conns);
    for i in 0..conns {
        let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        sock.set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        sock.set_nonblocking(true)
            .map_err(|e| format!("O_NONBLOCK: {e}"))?;
        epoll::add(
            &ep,
            &sock,
            epoll::EventData::new_u64(i as u64),
            epoll::EventFlags::IN,
        )
        .map_err(|e| format!("epoll_ctl: {e}"))?;
        cs.push(Conn {
            sock,
            sent: 0,
            received: 0,
            pending: depth * LINE,
            want_out: false,
        });
    }
    for (i, c) in cs.iter_mut().enumerate() {
        c.flush(&pattern).map_err(|e| format!("write: {e}"))?;
        c.update_interest(&ep, i as u64)
            .map_err(|e| format!("epoll_ctl: {e}"))?;
    }

    let mut rbuf = vec![0u8; 64 * 1024];
    let mut events = Vec::with_capacity(256);
    let mut total: u64 = 0;
    let start = Instant::now();
    let window_start = start + Duration::from_secs_f64(warmup);
    let window_end = window_start + Duration::from_secs_f64(secs);
    let mut begin: Option<(Instant, u64, u64, u64)> = None;
    let mut last_progress = (start, 0u64);
    loop {
        let now = Instant::now();
        if begin.is_none() && now >= window_start {
            let server = match server_pid {
                Some(pid) => clock.process_ns(pid)?,
                None => 0,
            };
            begin = Some((Instant::now(), total, server, clock.this_thread_ns()));
        }
        if now >= window_end {
            break;
        }
        if total != last_progress.1 {
            last_progress = (now, total);
        } else if now.duration_since(last_progress.0) > STALL_TIMEOUT {
            return Err(format!("no round trip completed for {STALL_TIMEOUT:?}"));
        }
        let next = if begin.is_none() {
            window_start
        } else {
            window_end
        };
        let wait = next
            .saturating_duration_since(now)
            .min(Duration::from_millis(100));
        let timeout = Timespec {
            tv_sec: wait.as_secs() as _,
            tv_nsec: wait.subsec_nanos() as _,
        };
        events.clear();
        match epoll::wait(
            &ep,
            rustix::buffer::spare_capacity(&mut events),
            Some(&timeout),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("epoll_wait: {e}")),
        }
        for ev in events.iter().copied() {
            let (token, flags) = (ev.data.u64(), ev.flags);
            let c = &mut cs[token as usize];
            if flags
                .intersects(epoll::EventFlags::IN | epoll::EventFlags::ERR | epoll::EventFlags::HUP)
            {
                let done = c.on_readable(&mut rbuf)?;
                total += done;
                c.pending += done as usize * LINE;
            }
            if c.pending > 0 {
                c.flush(&pattern).map_err(|e| format!("write: {e}"))?;
            }
            c.update_interest(&ep, token)
                .map_err(|e| format!("epoll_ctl: {e}"))?;
        }
    }
    let end = Instant::now();
    let server_end = match server_pid {
        Some(pid) => clock.process_ns(pid)?,
        None => 0,
    };
    let client_end = clock.this_thread_ns();
    let (t0, rt0, server0, client0) = begin.ok_or("the measured window never started")?;
    Ok(Sample {
        round_trips: total - rt0,
        secs: end.duration_since(t0).as_secs_f64(),
        server_cpu_ns: server_end.saturating_sub(server0),
        client_cpu_ns: client_end.saturating_sub(client0),
    })
}

// ---------------------------------------------------------------------------------------
// The benchmark.

fn bench(opts: &Opts) -> Result<(), String> {
    let tmp = TempDir::new().map_err(|e| format!("temp dir: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let ours = |name: &'static str, backend: &str| ServerSpec {
        name,
        program: exe.clone(),
        args: [
            "--serve",
            "ours",
            "--backend",
            backend,
            "--listen",
            "127.0.0.1:0",
        ]
        .map(String::from)
        .to_vec(),
    };
    let mut specs = vec![
        ours("ours-epoll", "epoll"),
        ours("ours-poll", "poll"),
        ours("ours-select", "select"),
        ServerSpec {
            name: "tokio",
            program: exe.clone(),
            args: ["--serve", "tokio", "--listen", "127.0.0.1:0"]
                .map(String::from)
                .to_vec(),
        },
    ];
    let mut skipped: Vec<(&str, String)> = vec![];
    match c_server(&tmp.0) {
        Ok(s) => specs.push(s),
        Err(e) => skipped.push(("c-epoll", e)),
    }
    match python_server(&tmp.0) {
        Ok(s) => specs.push(s),
        Err(e) => skipped.push(("py-asyncore", e)),
    }
    if let Some(only) = &opts.only {
        specs.retain(|s| only.iter().any(|o| o == s.name));
        skipped.retain(|(n, _)| only.iter().any(|o| o == n));
        if specs.is_empty() {
            return Err(format!("--only {}: no such server", only.join(",")));
        }
    }

    let clock = CpuClock::detect();
    let (pinning, pin_note) = choose_pinning();
    println!(
        "echo benchmark: {} connections, 64-byte lines, 1 and 16 lines in flight per connection",
        opts.conns
    );
    println!(
        "  {} s measured after {} s warm-up per run, {} repetitions (order reversed every other repetition)",
        opts.secs, opts.warmup, opts.reps
    );
    println!("  CPU: {pin_note}");
    println!("  server CPU time: {}", clock.describe());
    for (name, why) in &skipped {
        println!("  skipped {name}: {why}");
    }

    // Start every server (idle ones sleep in their wait call and cost nothing).
    let mut servers: Vec<ServerProc> = Vec::with_capacity(specs.len());
    for spec in &specs {
        let s = ServerProc::start(spec, pinning)?;
        println!("  {:<12} pid {:<7} {}", s.name, s.pid, s.addr);
        servers.push(s);
    }
    if pinning != Pinning::None {
        pin_self(1)?;
    }
    println!();

    // results[server][mode] = samples
    let mut results: Vec<[Vec<Sample>; 2]> = (0..servers.len()).map(|_| [vec![], vec![]]).collect();
    let mut plan: Vec<(usize, usize)> = vec![];
    for s in 0..servers.len() {
        for m in 0..DEPTHS.len() {
            plan.push((s, m));
        }
    }
    for rep in 0..opts.reps {
        let order: Vec<(usize, usize)> = if rep % 2 == 0 {
            plan.clone()
        } else {
            plan.iter().rev().copied().collect()
        };
        for (si, mi) in order {
            let server = &mut servers[si];
            server.check_alive()?;
            let s = run_load(
                server.addr,
                opts.conns,
                DEPTHS[mi],
                opts.warmup,
                opts.secs,
                Some(server.pid),
                clock,
            )
            .map_err(|e| format!("{} at {} in flight: {e}", server.name, DEPTHS[mi]))?;
            println!(
                "  rep {}/{}  {:<12} {:>2} in flight: {:>9.0} rt/s  server {:>6.3} µs/rt ({:>3.0}% CPU)  client {:>6.3} µs/rt ({:>3.0}% CPU)",
                rep + 1,
                opts.reps,
                server.name,
                DEPTHS[mi],
                s.rate(),
                s.server_us_per_rt(),
                s.server_util() * 100.0,
                s.client_us_per_rt(),
                s.client_util() * 100.0
            );
            results[si][mi].push(s);
            // Let the server see the closes before the next run's warm-up.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    let names: Vec<&str> = servers.iter().map(|s| s.name).collect();
    for (mi, depth) in DEPTHS.iter().enumerate() {
        let stats: Vec<Stats> = results.iter().map(|r| Stats::of(&r[mi])).collect();
        let samples: Vec<&[Sample]> = results.iter().map(|r| r[mi].as_slice()).collect();
        print_mode(*depth, opts, &names, &stats, &samples);
    }

    println!();
    for s in &mut servers {
        let status = s.stop();
        let status = status.map_or("unknown".to_string(), |st| st.to_string());
        println!("stopped {:<12} ({status})", s.name);
    }
    Ok(())
}

/// Medians of one server in one mode.
#[derive(Debug, Clone, Copy)]
struct Stats {
    rate: f64,
    /// (max - min) / median of the round trips per second.
    rate_spread: f64,
    server_us: f64,
    /// (max - min) / median of the server CPU per round trip.
    server_us_spread: f64,
    server_util: f64,
    client_us: f64,
    client_util: f64,
}

impl Stats {
    fn of(samples: &[Sample]) -> Stats {
        let col = |f: fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<f64>>();
        let rates = col(Sample::rate);
        let server_us = col(Sample::server_us_per_rt);
        Stats {
            rate: median(&rates),
            rate_spread: spread(&rates),
            server_us: median(&server_us),
            server_us_spread: spread(&server_us),
            server_util: median(&col(Sample::server_util)),
            client_us: median(&col(Sample::client_us_per_rt)),
            client_util: median(&col(Sample::client_util)),
        }
    }
}

fn spread(v: &[f64]) -> f64 {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    (max - min) / median(v)
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Ratios of server `a` to server `b` (a / b).
#[derive(Debug, Clone, Copy)]
struct Ratio {
    /// Throughput: ratio of the medians.
    thr: f64,
    /// CPU per round trip: ratio of the medians.
    cpu: f64,
    /// Throughput: median over the repetitions of the ratio within each repetition.
    thr_paired: f64,
    /// CPU per round trip: median over the repetitions of the ratio within each repetition.
    cpu_paired: f64,
}

impl Ratio {
    fn of(a: (&Stats, &[Sample]), b: (&Stats, &[Sample])) -> Ratio {
        let paired = |f: fn(&Sample) -> f64| {
            let v: Vec<f64> = a.1.iter().zip(b.1).map(|(x, y)| f(x) / f(y)).collect();
            median(&v)
        };
        Ratio {
            thr: a.0.rate / b.0.rate,
            cpu: a.0.server_us / b.0.server_us,
            thr_paired: paired(Sample::rate),
            cpu_paired: paired(Sample::server_us_per_rt),
        }
    }
}

fn print_mode(depth: usize, opts: &Opts, names: &[&str], stats: &[Stats], samples: &[&[Sample]]) {
    let find = |n: &str| names.iter().position(|x| *x == n);
    let ratio = |a: usize, b: usize| Ratio::of((&stats[a], samples[a]), (&stats[b], samples[b]));
    let epoll = find("ours-epoll");
    println!();
    println!(
        "== {depth} line{} in flight per connection ({} connections; median of {} runs of {} s) ==",
        if depth == 1 { "" } else { "s" },
        opts.conns,
        opts.reps,
        opts.secs
    );
    println!(
        "{:<12} {:>13} {:>7} {:>13} {:>7} {:>11} {:>13} {:>11} | {:>10} {:>10} {:>10} {:>10}",
        "server",
        "round trips/s",
        "spread",
        "server µs/rt",
        "spread",
        "server CPU",
        "client µs/rt",
        "client CPU",
        "thr ratio",
        "CPU ratio",
        "thr paired",
        "CPU paired"
    );
    for (i, (name, s)) in names.iter().zip(stats).enumerate() {
        let cols = match epoll {
            Some(e) => {
                let r = ratio(e, i);
                [r.thr, r.cpu, r.thr_paired, r.cpu_paired].map(|v| format!("{v:.3}x"))
            }
            None => ["-", "-", "-", "-"].map(String::from),
        };
        println!(
            "{:<12} {:>13.0} {:>6.1}% {:>13.3} {:>6.1}% {:>10.0}% {:>13.3} {:>10.0}% | {:>10} {:>10} {:>10} {:>10}",
            name,
            s.rate,
            s.rate_spread * 100.0,
            s.server_us,
            s.server_us_spread * 100.0,
            s.server_util * 100.0,
            s.client_us,
            s.client_util * 100.0,
            cols[0],
            cols[1],
            cols[2],
            cols[3]
        );
    }
    println!(
        "spread = (max - min) / median over the runs; CPU = share of one CPU during the window.\n\
         Ratios are ours-epoll / this server: throughput (higher is better) and server CPU per round \
         trip (lower is better);\n\"ratio\" = ratio of the medians, \"paired\" = median over the \
         repetitions of the ratio within each repetition (less sensitive to drift)."
    );
    let c = find("c-epoll");
    for ours in ["ours-epoll", "ours-poll", "ours-select"] {
        if let (Some(o), Some(c)) = (find(ours), c) {
            let r = ratio(o, c);
            println!(
                "{ours:<12} vs c-epoll: throughput {:.3}x (paired {:.3}x), CPU per round trip {:.3}x (paired {:.3}x)",
                r.thr, r.thr_paired, r.cpu, r.cpu_paired
            );
        }
    }
    let tokio = find("tokio");
    let target =
        |label: &str, peer: Option<usize>, cpu: bool, ok: &dyn Fn(f64) -> bool| match (epoll, peer)
        {
            (Some(e), Some(p)) => {
                let r = ratio(e, p);
                let (paired, medians) = if cpu {
                    (r.cpu_paired, r.cpu)
                } else {
                    (r.thr_paired, r.thr)
                };
                format!(
                    "{label} {} (paired {paired:.3}x; medians {medians:.3}x)",
                    if ok(paired) { "PASS" } else { "MISS" }
                )
            }
            _ => format!("{label} n/a (not measured)"),
        };
    println!(
        "verdict, {depth} in flight: {} | {} | {}",
        target("CPU/rt <= 1.1x C:", c, true, &|v| v <= 1.1),
        target("CPU/rt <= 1.0x tokio:", tokio, true, &|v| v <= 1.0),
        target("throughput >= 0.95x C:", c, false, &|v| v >= 0.95),
    );
}
