//! Echo benchmark: our echo server (epoll, poll, select backends) side by side with a
//! tokio current-thread echo server, a minimal C epoll echo server and Python's asyncore;
//! our line echo servers (`AsyncChat`, and the one generated from `echo.aproto`) side by
//! side with Python's asynchat. The `peers` benchmark includes this file as a module and
//! runs it as its echo row.
//!
//! ```text
//! cargo bench -p asyncore-examples --bench echo              # full run (4-5 minutes)
//! cargo bench -p asyncore-examples --bench echo -- --quick   # smoke run (about 30 s)
//! ```
//!
//! Every server is its own process (pinned to CPU 0), so its CPU time is read from its own
//! accounting (`/proc/PID/task/*/schedstat`). The load generator is this process: one
//! thread (pinned to CPU 1), non-blocking sockets on epoll, 50 connections to every server
//! (open for the whole run) sending 64-byte lines with 1 or 16 lines in flight per
//! connection. The machine drifts between fast and slow phases, so the servers are measured
//! in short slices, one slice per server per cycle in shuffled order, and every ratio is
//! taken within a cycle before the median over the cycles is reported.
//!
//! Other modes of this binary (used by the benchmark itself, or by hand for profiling):
//!
//! ```text
//! echo --serve ours --backend epoll --listen 127.0.0.1:0   # our echo server
//! echo --serve ours-chat --backend epoll --listen 127.0.0.1:0   # our line echo server
//! echo --serve ours-proto --backend epoll --listen 127.0.0.1:0  # the generated line echo
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
"#;

/// The Python line echo server: asynchat's `async_chat` with the terminator `b"\n"`, the
/// line collected in a list and pushed back with its newline (one push per line).
const PY_CHAT_SERVER: &str = r#"
import asynchat
import asyncore
import socket


class LineEcho(asynchat.async_chat):
    def __init__(self, sock):
        asynchat.async_chat.__init__(self, sock)
        self.set_terminator(b"\n")
        self.parts = []

    def collect_incoming_data(self, data):
        self.parts.append(data)

    def found_terminator(self):
        line = b"".join(self.parts)
        self.parts = []
        self.push(line + b"\n")
"#;

/// The listener both Python servers share; `HANDLER` names the connection class.
const PY_LISTENER: &str = r#"
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
        HANDLER(sock)


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

/// Echo servers of the echo benchmark.
#[derive(Debug, clap::Parser)]
#[command(name = "echo", args_override_self = true)]
struct ServeArgs {
    /// Which echo server to run (ours-chat: the AsyncChat line echo server; ours-proto: the
    /// line echo server generated from echo.aproto)
    #[arg(long, value_enum)]
    serve: Serve,
    #[command(flatten)]
    server: asyncore_examples::cli::ServerArgs<0>,
    #[command(flatten)]
    threads: asyncore_examples::cli::Threads,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Serve {
    Ours,
    OursChat,
    OursProto,
    Tokio,
}

pub(crate) fn serve_mode(args: Vec<String>) -> i32 {
    use clap::Parser;
    let parsed = match ServeArgs::try_parse_from(std::iter::once("echo".to_string()).chain(args)) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    let config = parsed.server.config(parsed.threads.threads);
    let result = match parsed.serve {
        Serve::Ours => {
            asyncore_examples::server::serve(&config, || asyncore_examples::echo::EchoServer)
        }
        Serve::OursChat => {
            asyncore_examples::server::serve(&config, || asyncore_examples::echo::LineEchoServer)
        }
        Serve::OursProto => asyncore_examples::server::serve(&config, || {
            asyncore_examples::echo::ProtocolEchoServer
        }),
        Serve::Tokio => serve_tokio(config.listen),
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
        if !(secs > 0.0 && secs <= 3600.0 && (0.0..=60.0).contains(&warmup)) {
            return Err("--secs takes 0 < S <= 3600 and --warmup 0 <= S <= 60".into());
        }
        if !(1..=10_000).contains(&conns) || !(1..=1024).contains(&depth) {
            return Err("--conns takes 1..=10000 and --depth 1..=1024".into());
        }
        let clock = CpuClock::detect();
        let mut load = Load::connect(addr, conns)?;
        load.start(depth)?;
        load.run_until(Instant::now() + Duration::from_secs_f64(warmup))?;
        let s = measure(&mut load, secs, None, &[], clock)?;
        println!(
            "{} round trips in {:.2} s: {:.0} round trips/s ({} connections, {} in flight each)",
            s.round_trips,
            s.secs,
            s.rate(),
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
pub(crate) struct Opts {
    /// Measured seconds per slice.
    slice: f64,
    /// Seconds of load before the measured part of every slice (not counted).
    settle: f64,
    /// Measured cycles per mode.
    cycles: usize,
    conns: usize,
    /// Extra connections per server that stay open and send nothing.
    idle: usize,
    only: Option<Vec<String>>,
    /// Seed of the slice order; from the clock if not given.
    seed: Option<u64>,
}

impl Opts {
    pub(crate) fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            slice: 0.25,
            settle: 0.05,
            cycles: 55,
            conns: DEFAULT_CONNS,
            idle: 0,
            only: None,
            seed: None,
        };
        let mut quick = false;
        let mut cycles = None;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
            match a.as_str() {
                "--quick" => quick = true,
                "--slice" => o.slice = parse_num(a, &val()?)?,
                "--settle" => o.settle = parse_num(a, &val()?)?,
                "--cycles" => cycles = Some(parse_num::<usize>(a, &val()?)?),
                "--conns" => o.conns = parse_num(a, &val()?)?,
                "--idle" => o.idle = parse_num(a, &val()?)?,
                "--seed" => o.seed = Some(parse_num(a, &val()?)?),
                "--only" => o.only = Some(val()?.split(',').map(str::to_string).collect()),
                "--secs" | "--warmup" | "--reps" => {
                    return Err(format!(
                        "{a} belonged to the old method; use --slice, --settle and --cycles"
                    ))
                }
                "--help" | "-h" => {
                    println!(
                        "Echo benchmark.\n\nOptions:\n  --quick        smoke run (5 cycles per mode)\n  \
                         --slice S      measured seconds per slice [0.25]\n  \
                         --settle S     unmeasured seconds of load before each slice [0.05]\n  \
                         --cycles N     cycles per mode; a cycle is one slice per server [55]\n  \
                         --seed N       seed of the shuffled slice order [from the clock]\n  \
                         --conns N      connections per server [50]\n  \
                         --idle N       extra connections per server that stay open and silent [0]\n  \
                         --only A,B     only these servers (ours-epoll, ours-poll, ours-select, tokio, c-epoll, py-asyncore,\n                 \
                         ours-chat, ours-proto, py-asynchat)"
                    );
                    std::process::exit(0);
                }
                // Filters and flags cargo or libtest users may pass: ignore them.
                _ => eprintln!("echo bench: ignoring argument `{a}`"),
            }
        }
        o.cycles = cycles.unwrap_or(if quick { 5 } else { o.cycles });
        if !(o.slice > 0.0 && o.slice <= 60.0 && (0.0..=10.0).contains(&o.settle)) {
            return Err("--slice takes 0 < S <= 60 and --settle 0 <= S <= 10".into());
        }
        if o.cycles == 0 || o.cycles > 10_000 || o.conns == 0 || o.conns > 10_000 {
            return Err("--cycles takes 1..=10000 and --conns 1..=10000".into());
        }
        if o.idle > 20_000 {
            return Err("--idle takes 0..=20000".into());
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

/// A Python server: `module` must import, then `source` (the connection class `handler`)
/// plus the shared listener runs as `file` in `tmp`.
fn python_server(
    tmp: &Path,
    name: &'static str,
    module: &str,
    file: &str,
    source: &str,
    handler: &str,
) -> Result<ServerSpec, String> {
    let probe = Command::new("python3")
        .args(["-W", "ignore", "-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("python3 not usable: {e}"))?;
    if !probe.success() {
        return Err(format!(
            "python3 cannot import {module} (removed in Python 3.12)"
        ));
    }
    let script = tmp.join(file);
    let source = format!("{source}{}", PY_LISTENER.replace("HANDLER", handler));
    fs::write(&script, source).map_err(|e| format!("cannot write {}: {e}", script.display()))?;
    Ok(ServerSpec {
        name,
        program: PathBuf::from("python3"),
        args: vec!["-W".into(), "ignore".into(), script.display().to_string()],
    })
}

// ---------------------------------------------------------------------------------------
// Load generator.

/// One measured window.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    round_trips: u64,
    secs: f64,
    server_cpu_ns: u64,
    client_cpu_ns: u64,
    /// CPU of the other (idle) servers during the window, all together.
    idle_cpu_ns: u64,
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

    /// Nothing due and nothing in flight.
    fn is_idle(&self) -> bool {
        self.pending == 0 && self.received == self.sent
    }
}

/// The load generator's connections to one server, on their own epoll instance. They stay
/// open for the whole run; between slices nothing is in flight on them.
struct Load {
    ep: rustix::fd::OwnedFd,
    conns: Vec<Conn>,
    /// Lines kept in flight per connection; 0 while draining or idle.
    depth: usize,
    /// `depth + 1` lines: the source of every write.
    pattern: Vec<u8>,
    rbuf: Vec<u8>,
    events: Vec<epoll::Event>,
}

impl Load {
    /// Open `conns` connections to `addr` (TCP_NODELAY, non-blocking), all idle.
    fn connect(addr: SocketAddr, conns: usize) -> Result<Load, String> {
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
                pending: 0,
                want_out: false,
            });
        }
        Ok(Load {
            ep,
            conns: cs,
            depth: 0,
            pattern: vec![],
            rbuf: vec![0u8; 64 * 1024],
            events: Vec::with_capacity(256),
        })
    }

    /// Put `depth` lines in flight on every (idle) connection.
    fn start(&mut self, depth: usize) -> Result<(), String> {
        self.depth = depth;
        self.pattern.clear();
        for _ in 0..=depth {
            self.pattern.extend(std::iter::repeat_n(b'x', LINE - 1));
            self.pattern.push(b'\n');
        }
        for (i, c) in self.conns.iter_mut().enumerate() {
            debug_assert!(c.is_idle());
            c.pending = depth * LINE;
            c.flush(&self.pattern).map_err(|e| format!("write: {e}"))?;
            c.update_interest(&self.ep, i as u64)
                .map_err(|e| format!("epoll_ctl: {e}"))?;
        }
        Ok(())
    }

    /// One `epoll_wait` of at most `wait` and the events it returns: read the echoes and,
    /// while `depth > 0`, send one new line per line echoed. Returns completed round trips.
    fn poll(&mut self, wait: Duration) -> Result<u64, String> {
        let timeout = Timespec {
            tv_sec: wait.as_secs() as _,
            tv_nsec: wait.subsec_nanos() as _,
        };
        self.events.clear();
        match epoll::wait(
            &self.ep,
            rustix::buffer::spare_capacity(&mut self.events),
            Some(&timeout),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(0),
            Err(e) => return Err(format!("epoll_wait: {e}")),
        }
        let mut total = 0;
        for ev in self.events.iter().copied() {
            let (token, flags) = (ev.data.u64(), ev.flags);
            let c = &mut self.conns[token as usize];
            if flags
                .intersects(epoll::EventFlags::IN | epoll::EventFlags::ERR | epoll::EventFlags::HUP)
            {
                let done = c.on_readable(&mut self.rbuf)?;
                total += done;
                if self.depth > 0 {
                    c.pending += done as usize * LINE;
                }
            }
            if c.pending > 0 {
                c.flush(&self.pattern).map_err(|e| format!("write: {e}"))?;
            }
            c.update_interest(&self.ep, token)
                .map_err(|e| format!("epoll_ctl: {e}"))?;
        }
        Ok(total)
    }

    /// Keep the load going until `deadline`; returns the round trips completed.
    fn run_until(&mut self, deadline: Instant) -> Result<u64, String> {
        let mut total = 0;
        let mut last_progress = Instant::now();
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(total);
            }
            if now.duration_since(last_progress) > STALL_TIMEOUT {
                return Err(format!("no round trip completed for {STALL_TIMEOUT:?}"));
            }
            let done = self.poll(
                deadline
                    .saturating_duration_since(now)
                    .min(Duration::from_millis(100)),
            )?;
            if done > 0 {
                total += done;
                last_progress = Instant::now();
            }
        }
    }

    /// Stop sending new lines (a line already partly written is finished) and read until
    /// every byte sent has come back, so the connections are idle again.
    fn drain(&mut self) -> Result<(), String> {
        self.depth = 0;
        for (i, c) in self.conns.iter_mut().enumerate() {
            let partial = (LINE - (c.sent % LINE as u64) as usize) % LINE;
            c.pending = c.pending.min(partial);
            c.flush(&self.pattern).map_err(|e| format!("write: {e}"))?;
            c.update_interest(&self.ep, i as u64)
                .map_err(|e| format!("epoll_ctl: {e}"))?;
        }
        let deadline = Instant::now() + STALL_TIMEOUT;
        while !self.conns.iter().all(Conn::is_idle) {
            if Instant::now() >= deadline {
                return Err(format!(
                    "echoes still outstanding {STALL_TIMEOUT:?} after the end of the load"
                ));
            }
            self.poll(Duration::from_millis(100))?;
        }
        Ok(())
    }
}

/// Keep the load on `load` for `secs` seconds and measure it: round trips, CPU of the
/// server `server` and of this thread, and CPU of the `idle` servers, read at both ends.
fn measure(
    load: &mut Load,
    secs: f64,
    server: Option<u32>,
    idle: &[u32],
    clock: CpuClock,
) -> Result<Sample, String> {
    let idle_ns = || -> Result<u64, String> { idle.iter().map(|&p| clock.process_ns(p)).sum() };
    let server_ns = || -> Result<u64, String> { server.map_or(Ok(0), |p| clock.process_ns(p)) };
    let idle0 = idle_ns()?;
    let server0 = server_ns()?;
    let client0 = clock.this_thread_ns();
    let t0 = Instant::now();
    let round_trips = load.run_until(t0 + Duration::from_secs_f64(secs))?;
    let t1 = Instant::now();
    let client1 = clock.this_thread_ns();
    let server1 = server_ns()?;
    let idle1 = idle_ns()?;
    Ok(Sample {
        round_trips,
        secs: t1.duration_since(t0).as_secs_f64(),
        server_cpu_ns: server1.saturating_sub(server0),
        client_cpu_ns: client1.saturating_sub(client0),
        idle_cpu_ns: idle1.saturating_sub(idle0),
    })
}

// ---------------------------------------------------------------------------------------
// The benchmark.

/// xorshift64*, for the shuffled slice order of each cycle.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn seed_from_clock() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// Make room for `need` descriptors if the soft limit is lower (best effort).
fn raise_nofile(need: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let lim = getrlimit(Resource::Nofile);
    if let Some(current) = lim.current.filter(|&c| c < need) {
        let target = lim.maximum.map_or(need, |m| m.min(need));
        if target > current {
            let _ = setrlimit(
                Resource::Nofile,
                Rlimit {
                    current: Some(target),
                    maximum: lim.maximum,
                },
            );
        }
    }
}

/// One slice on server `si`: `depth` lines in flight on its connections, `opts.settle`
/// seconds unmeasured, `opts.slice` seconds measured, then drained (not measured).
fn run_slice(
    servers: &mut [ServerProc],
    loads: &mut [Load],
    si: usize,
    depth: usize,
    opts: &Opts,
    clock: CpuClock,
) -> Result<Sample, String> {
    let idle: Vec<u32> = (0..servers.len())
        .filter(|&i| i != si)
        .map(|i| servers[i].pid)
        .collect();
    let server = &mut servers[si];
    let (name, pid) = (server.name, server.pid);
    server.check_alive()?;
    let load = &mut loads[si];
    let mut run = || -> Result<Sample, String> {
        load.start(depth)?;
        load.run_until(Instant::now() + Duration::from_secs_f64(opts.settle))?;
        let s = measure(load, opts.slice, Some(pid), &idle, clock)?;
        load.drain()?;
        Ok(s)
    };
    run().map_err(|e| format!("{name} at {depth} in flight: {e}"))
}

pub(crate) fn bench(opts: &Opts) -> Result<(), String> {
    let tmp = TempDir::new().map_err(|e| format!("temp dir: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let ours = |name: &'static str, serve: &str, backend: &str| ServerSpec {
        name,
        program: exe.clone(),
        args: [
            "--serve",
            serve,
            "--backend",
            backend,
            "--listen",
            "127.0.0.1:0",
        ]
        .map(String::from)
        .to_vec(),
    };
    let mut specs = vec![
        ours("ours-epoll", "ours", "epoll"),
        ours("ours-poll", "ours", "poll"),
        ours("ours-select", "ours", "select"),
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
    match python_server(
        &tmp.0,
        "py-asyncore",
        "asyncore",
        "echo_asyncore.py",
        PY_SERVER,
        "Echo",
    ) {
        Ok(s) => specs.push(s),
        Err(e) => skipped.push(("py-asyncore", e)),
    }
    // The line echo pair: ours (AsyncChat) and Python's asynchat.
    specs.push(ours("ours-chat", "ours-chat", "epoll"));
    specs.push(ours("ours-proto", "ours-proto", "epoll"));
    match python_server(
        &tmp.0,
        "py-asynchat",
        "asyncore, asynchat",
        "echo_asynchat.py",
        PY_CHAT_SERVER,
        "LineEcho",
    ) {
        Ok(s) => specs.push(s),
        Err(e) => skipped.push(("py-asynchat", e)),
    }
    if let Some(only) = &opts.only {
        specs.retain(|s| only.iter().any(|o| o == s.name));
        skipped.retain(|(n, _)| only.iter().any(|o| o == n));
        if specs.is_empty() {
            return Err(format!("--only {}: no such server", only.join(",")));
        }
    }

    // Before the servers start, so that they inherit it: each holds its connections.
    raise_nofile((specs.len() * (opts.conns + opts.idle) + 64) as u64);
    let clock = CpuClock::detect();
    let (pinning, pin_note) = choose_pinning();
    let seed = opts.seed.unwrap_or_else(seed_from_clock);
    let n = specs.len();
    let per_slice = opts.settle + opts.slice + 0.002;
    let cycle_secs = n as f64 * per_slice;
    println!(
        "echo benchmark: {} connections per server, 64-byte lines, 1 and 16 lines in flight per connection",
        opts.conns
    );
    println!(
        "  {} cycles per mode, modes alternating; a cycle = one slice per server in shuffled order (seed {seed})",
        opts.cycles
    );
    println!(
        "  slice: {} s of load unmeasured, {} s measured, then drained; only that server's connections carry load",
        opts.settle, opts.slice
    );
    println!(
        "  ratios are taken within each cycle (~{cycle_secs:.1} s), then median and 25th-75th percentile over the cycles"
    );
    println!(
        "  expected duration: about {:.0} s",
        (opts.cycles + 1) as f64 * DEPTHS.len() as f64 * cycle_secs
    );
    println!("  CPU: {pin_note}");
    println!("  server CPU time: {}", clock.describe());
    for (name, why) in &skipped {
        println!("  skipped {name}: {why}");
    }

    // Start every server (idle ones sleep in their wait call and cost nothing).
    let mut servers: Vec<ServerProc> = Vec::with_capacity(n);
    for spec in &specs {
        let s = ServerProc::start(spec, pinning)?;
        println!("  {:<12} pid {:<7} {}", s.name, s.pid, s.addr);
        servers.push(s);
    }
    if pinning != Pinning::None {
        pin_self(1)?;
    }
    // Every server keeps its connections for the whole run; the idle ones never send.
    let mut loads: Vec<Load> = Vec::with_capacity(n);
    let mut idle: Vec<TcpStream> = Vec::with_capacity(n * opts.idle);
    for s in &servers {
        loads.push(Load::connect(s.addr, opts.conns).map_err(|e| format!("{}: {e}", s.name))?);
        for _ in 0..opts.idle {
            idle.push(
                TcpStream::connect_timeout(&s.addr, Duration::from_secs(2))
                    .map_err(|e| format!("{}: idle connection: {e}", s.name))?,
            );
        }
    }
    if opts.idle > 0 {
        println!(
            "  {} idle connections per server, open for the whole run",
            opts.idle
        );
    }
    let names: Vec<&str> = servers.iter().map(|s| s.name).collect();
    let find = |name: &str| names.iter().position(|x| *x == name);
    let (epoll, c, tokio) = (find("ours-epoll"), find("c-epoll"), find("tokio"));
    let (chat, py_chat) = (find("ours-chat"), find("py-asynchat"));

    // Warm-up: one slice per server and mode, not counted.
    for depth in DEPTHS {
        for si in 0..n {
            run_slice(&mut servers, &mut loads, si, depth, opts, clock)?;
        }
    }
    println!();
    println!(
        "per cycle: slice order, server CPU µs per round trip of {}; ours-epoll / c-epoll, / tokio; ours-chat / py-asynchat",
        names.join(" ")
    );

    // rows[mode][cycle][server]
    let mut rows: Vec<Vec<Vec<Sample>>> = DEPTHS.iter().map(|_| Vec::new()).collect();
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..n).collect();
    for k in 0..opts.cycles * DEPTHS.len() {
        let mi = k % DEPTHS.len();
        rng.shuffle(&mut order);
        let mut row = vec![Sample::default(); n];
        for &si in &order {
            row[si] = run_slice(&mut servers, &mut loads, si, DEPTHS[mi], opts, clock)?;
        }
        let us: Vec<String> = row
            .iter()
            .map(|s| format!("{:6.3}", s.server_us_per_rt()))
            .collect();
        let vs = |ours: Option<usize>, peer: Option<usize>| match (ours, peer) {
            (Some(o), Some(p)) => format!(
                "{:.3}x",
                row[o].server_us_per_rt() / row[p].server_us_per_rt()
            ),
            _ => "-".into(),
        };
        println!(
            "  {:>2} in flight  cycle {:>3}/{}  [{}]  {} | {} {} | {}",
            DEPTHS[mi],
            k / DEPTHS.len() + 1,
            opts.cycles,
            order
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(" "),
            us.join(" "),
            vs(epoll, c),
            vs(epoll, tokio),
            vs(chat, py_chat)
        );
        rows[mi].push(row);
    }
    // Close every connection before the servers are stopped.
    drop(loads);

    for (mi, depth) in DEPTHS.iter().enumerate() {
        print_mode(*depth, opts, &names, &rows[mi]);
    }

    println!();
    for s in &mut servers {
        let status = s.stop();
        let status = status.map_or("unknown".to_string(), |st| st.to_string());
        println!("stopped {:<12} ({status})", s.name);
    }
    Ok(())
}

/// Median and quartiles of a set of values.
#[derive(Debug, Clone, Copy)]
struct Dist {
    p25: f64,
    median: f64,
    p75: f64,
}

impl Dist {
    fn of(v: &[f64]) -> Dist {
        Dist {
            p25: quantile(v, 0.25),
            median: quantile(v, 0.5),
            p75: quantile(v, 0.75),
        }
    }

    /// Interquartile range relative to the median.
    fn iqr(&self) -> f64 {
        (self.p75 - self.p25) / self.median
    }

    fn ratio(&self) -> String {
        format!("{:.3}x [{:.3}-{:.3}]", self.median, self.p25, self.p75)
    }
}

/// Quantile `q` (0..=1) with linear interpolation between the closest ranks.
fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// One figure of server `si` in every cycle.
fn column(rows: &[Vec<Sample>], si: usize, f: fn(&Sample) -> f64) -> Vec<f64> {
    rows.iter().map(|r| f(&r[si])).collect()
}

/// Ratio a / b of one figure within each cycle.
fn paired(rows: &[Vec<Sample>], a: usize, b: usize, f: fn(&Sample) -> f64) -> Dist {
    let v: Vec<f64> = rows.iter().map(|r| f(&r[a]) / f(&r[b])).collect();
    Dist::of(&v)
}

fn print_mode(depth: usize, opts: &Opts, names: &[&str], rows: &[Vec<Sample>]) {
    let find = |n: &str| names.iter().position(|x| *x == n);
    let epoll = find("ours-epoll");
    let thr = |a: usize, b: usize| paired(rows, a, b, Sample::rate);
    let cpu = |a: usize, b: usize| paired(rows, a, b, Sample::server_us_per_rt);
    println!();
    println!(
        "== {depth} line{} in flight per connection ({} connections; {} cycles of one {} s slice per server) ==",
        if depth == 1 { "" } else { "s" },
        opts.conns,
        rows.len(),
        opts.slice
    );
    println!(
        "{:<12} {:>13} {:>6} {:>13} {:>6} {:>11} {:>13} {:>11} | {:>22} {:>22}",
        "server",
        "round trips/s",
        "IQR",
        "server µs/rt",
        "IQR",
        "server CPU",
        "client µs/rt",
        "client CPU",
        "thr ratio [p25-p75]",
        "CPU ratio [p25-p75]"
    );
    for (i, name) in names.iter().enumerate() {
        let med = |f: fn(&Sample) -> f64| quantile(&column(rows, i, f), 0.5);
        let rate = Dist::of(&column(rows, i, Sample::rate));
        let us = Dist::of(&column(rows, i, Sample::server_us_per_rt));
        let cols = match epoll {
            Some(e) => [thr(e, i).ratio(), cpu(e, i).ratio()],
            None => ["-".to_string(), "-".to_string()],
        };
        println!(
            "{:<12} {:>13.0} {:>5.1}% {:>13.3} {:>5.1}% {:>10.0}% {:>13.3} {:>10.0}% | {:>22} {:>22}",
            name,
            rate.median,
            rate.iqr() * 100.0,
            us.median,
            us.iqr() * 100.0,
            med(Sample::server_util) * 100.0,
            med(Sample::client_us_per_rt),
            med(Sample::client_util) * 100.0,
            cols[0],
            cols[1]
        );
    }
    let idle: Vec<f64> = rows
        .iter()
        .flatten()
        .map(|s| s.idle_cpu_ns as f64 / 1e3)
        .collect();
    println!(
        "Per-server figures are medians over the cycles; IQR = (p75 - p25) / median over the cycles; CPU = share of one CPU.\n\
         Ratios are ours-epoll / this server within each cycle, then median [p25-p75] over the cycles:\n\
         throughput (higher is better) and server CPU per round trip (lower is better).\n\
         CPU of the idle servers during a slice, all together: median {:.0} µs, max {:.0} µs.",
        quantile(&idle, 0.5),
        quantile(&idle, 1.0)
    );
    let c = find("c-epoll");
    for ours in ["ours-epoll", "ours-poll", "ours-select"] {
        if let (Some(o), Some(c)) = (find(ours), c) {
            println!(
                "{ours:<12} vs c-epoll: throughput {}, CPU per round trip {}",
                thr(o, c).ratio(),
                cpu(o, c).ratio()
            );
        }
    }
    let tokio = find("tokio");
    let target = |label: &str, peer: Option<usize>, is_cpu: bool, ok: &dyn Fn(f64) -> bool| match (
        epoll, peer,
    ) {
        (Some(e), Some(p)) => {
            let d = if is_cpu { cpu(e, p) } else { thr(e, p) };
            format!(
                "{label} {} ({})",
                if ok(d.median) { "PASS" } else { "MISS" },
                d.ratio()
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
    // The line echo servers: ours against asynchat, the cost of line framing over the
    // raw echo on the same backend, and the line echo against the raw C and tokio echo.
    for line_echo in ["ours-chat", "ours-proto"] {
        let Some(ours) = find(line_echo) else {
            continue;
        };
        for peer in ["py-asynchat", "ours-epoll", "c-epoll", "tokio"] {
            let figures = match find(peer) {
                Some(p) => format!(
                    "throughput {}, CPU per round trip {}",
                    thr(ours, p).ratio(),
                    cpu(ours, p).ratio()
                ),
                None => "n/a (not measured)".into(),
            };
            println!("{line_echo:<12} vs {peer}: {figures}");
        }
    }
}
