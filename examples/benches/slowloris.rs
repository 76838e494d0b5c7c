//! Slowloris: how much of a fast client's throughput a server keeps while 1,000
//! connections trickle a request that never ends, and whether its deadline closes them.
//! Our `http-server` and `smtp-server`, and nginx (when installed) under the same HTTP
//! load, in one run.
//!
//! ```text
//! cargo bench -p asyncore-examples --bench slowloris                 # about 3 minutes
//! cargo bench -p asyncore-examples --bench slowloris -- --clients 1000 --cycles 10
//! cargo bench -p asyncore-examples --bench slowloris -- --only http-server,nginx
//! ```
//!
//! Options (after `--`): `--clients N` slow connections [1000]; `--timeout S` the
//! servers' deadline for a request head or command line [5]; `--seconds S` one measured
//! slice [0.5]; `--settle S` from opening the slow connections to measuring [1];
//! `--cycles N` [24]; `--fast-conns N` connections of the fast client [4]; `--only NAMES`
//! (`http-server`, `nginx`, `smtp-server`). The `--bench` that cargo passes is ignored.
//!
//! To profile a server started by hand: `slowloris-HASH --fast HOST:PORT [--smtp] [--secs
//! S]` runs the fast client alone and prints its rate each second; `--slow HOST:PORT
//! [--smtp] [--secs S]` holds the slow connections alone.
//!
//! How it measures, for each server in turn (each its own process, one loop or one
//! worker, started once with the deadline set to `--timeout`):
//!
//! * The fast client (this process, main thread, non-blocking sockets and `poll`) keeps
//!   `--fast-conns` connections open for the whole run, each with one exchange in flight:
//!   for HTTP a `GET` of a 128-byte file on keep-alive connections; for SMTP (after one
//!   `EHLO`) a whole mail transaction per exchange, `MAIL FROM` + `RCPT TO` + `DATA` sent
//!   together (`PIPELINING`), then a short message and the final dot. Every reply is
//!   checked. It counts the exchanges completed in a slice.
//! * The slowloris driver (one more thread, non-blocking sockets, `epoll`, awake every
//!   20 ms) opens `--clients` connections and sends each a partial request (`GET /
//!   HTTP/1.1`, `Host`, and the start of an `X-Slow:` field; for SMTP `EHLO slow`, no
//!   line end), then one more byte to each every second, spread over the second, never
//!   ending the line. It notes when the server closes each one, and what it got before (`408`,
//!   `421`, or nothing).
//! * A cycle is one slice alone and one slice with the slow connections open (opened;
//!   then `--settle`, by which each has sent its first trickled byte; then the slice;
//!   then closed by the driver with a reset), in alternating order. (Measured sooner, the
//!   slice also pays for the connections' arrival: our servers allocate a connection's
//!   read buffer at its first byte and grow it at the next read, a few thousand page
//!   faults in a slice; the server's page faults in each slice are printed.) The ratio is taken within each cycle; the table shows the median
//!   with the 25th and 75th percentiles. The server's CPU (`/proc/PID/task/*/schedstat`)
//!   is divided by the exchanges of each kind of slice. The CPU the rest of the machine
//!   takes (`/proc/stat` less the server and this process) is read in each slice; a cycle
//!   whose two slices met a different background (more than 0.1 core apart: a build
//!   starting, a fuzzer stopping) is left out, and the table says how many counted.
//! * Then the deadline: the slow connections are opened once more and left until the
//!   server closes them; meanwhile, with nothing else going on, the server's CPU is read.
//!
//! Nothing is pinned. The machine's core count and load average are printed; the machine
//! may be shared, so the per-slice rates move, and the ratios, taken within a cycle, are
//! what to compare.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;

// Only its examples' build is used here.
#[allow(dead_code)]
#[path = "support/common.rs"]
mod common;

use common::build_examples;
use rustix::event::{epoll, poll, PollFd, PollFlags, Timespec};

/// A slow connection sends one byte this often.
const TRICKLE_EVERY: Duration = Duration::from_secs(1);
/// How long after the deadline the driver still waits for the server to close.
const GRACE: Duration = Duration::from_secs(3);
/// The slowloris driver's clock: it wakes this often (or when a reply arrives).
const TICK: Duration = Duration::from_millis(20);
/// A cycle counts as steady when the CPU other processes took (in cores) differs by at
/// most this much between its two slices: both met the same background.
const STEADY: f64 = 0.1;
/// With fewer steady cycles than this, every cycle counts.
const MIN_STEADY: usize = 5;
/// The file the fast HTTP client fetches.
const SMALL_FILE: &str = "small.txt";
/// The fast client fails if a reply takes this long.
const STALL: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
struct Options {
    clients: usize,
    timeout: u64,
    seconds: f64,
    settle: Duration,
    cycles: usize,
    fast_conns: usize,
    only: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http,
    Smtp,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |name: &str, default: f64| -> f64 {
        value(&args, name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not `{v}`"))
        })
    };
    let o = Options {
        clients: number("--clients", 1000.0) as usize,
        timeout: number("--timeout", 5.0) as u64,
        seconds: number("--seconds", 0.5),
        settle: Duration::from_secs_f64(number("--settle", 1.0)),
        cycles: (number("--cycles", 24.0) as usize).max(1),
        fast_conns: (number("--fast-conns", 4.0) as usize).max(1),
        only: value(&args, "--only").map(|v| v.split(',').map(str::to_string).collect()),
    };
    if let Some(addr) = value(&args, "--fast").or_else(|| value(&args, "--slow")) {
        by_hand(&args, &addr, &o);
        return;
    }
    let measured = o.settle + Duration::from_secs_f64(o.seconds);
    if o.timeout == 0 || measured + Duration::from_millis(500) > Duration::from_secs(o.timeout) {
        eprintln!(
            "slowloris bench: --timeout {} must leave the slow connections open for the \
             --settle {} and the --seconds {} measured (raise --timeout or lower --seconds)",
            o.timeout,
            o.settle.as_secs_f64(),
            o.seconds
        );
        std::process::exit(2);
    }
    asyncore_examples::server::raise_fd_limit();
    let examples = build_examples();
    let dir = TempDir::new("slowloris-bench");
    let root = dir.0.join("root");
    fs::create_dir_all(&root).expect("create the document root");
    let body = "0123456789abcdef".repeat(7) + "0123456789abcde\n";
    fs::write(root.join(SMALL_FILE), body).expect("write the small file");
    fs::write(root.join("index.html"), "<p>hello</p>\n").expect("write index.html");

    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "slowloris: {} slow connections, one byte each per second; servers' deadline {} s \
         (http-server --header-timeout {t}, smtp-server --command-timeout {t}, nginx \
         client_header_timeout {t}s)",
        o.clients,
        o.timeout,
        t = o.timeout
    );
    println!(
        "fast client: {} connection(s), one exchange in flight on each; {} cycles of a {} s \
         slice alone and a {} s slice with the slow connections open (from {} s after they \
         were opened)",
        o.fast_conns,
        o.cycles,
        o.seconds,
        o.seconds,
        o.settle.as_secs_f64()
    );
    println!(
        "machine: {cores} cores, load average {} (nothing pinned)\n",
        loadavg()
    );

    let mut rows = Vec::new();
    let wanted = |name: &str| o.only.as_ref().is_none_or(|l| l.iter().any(|n| n == name));
    let t = o.timeout.to_string();
    if wanted("http-server") {
        let mut cmd = Command::new(examples.join("http-server"));
        cmd.args(["--listen", "127.0.0.1:0", "--header-timeout", &t])
            .arg("--root")
            .arg(&root);
        rows.push(run_one("http-server", Proto::Http, start_ours(cmd), &o));
    }
    if wanted("nginx") {
        match nginx_binary() {
            Some(bin) => {
                let version = nginx_version(&bin);
                rows.push(run_one(
                    &version,
                    Proto::Http,
                    start_nginx(&bin, &dir.0, &root, o.timeout),
                    &o,
                ));
            }
            None => println!("nginx: left out, not installed\n"),
        }
    }
    if wanted("smtp-server") {
        let mut cmd = Command::new(examples.join("smtp-server"));
        cmd.args(["--listen", "127.0.0.1:0", "--command-timeout", &t]);
        rows.push(run_one("smtp-server", Proto::Smtp, start_ours(cmd), &o));
    }

    println!("load average at the end: {}\n", loadavg());
    println!(
        "| server | fast client alone | with {} slowloris open | ratio, median [25th–75th pct] \
         | server CPU per exchange, alone → with slowloris | closed by the deadline (from the \
         first byte) | reply | server CPU, slowloris only |",
        thousands(o.clients as f64)
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
}

/// `--fast ADDR` or `--slow ADDR`, with `--smtp` for SMTP and `--secs S` [10]: the fast
/// client alone (its rate printed every second), or the slow connections alone, against a
/// server started by hand (to profile it).
fn by_hand(args: &[String], addr: &str, o: &Options) {
    let addr: SocketAddr = addr.parse().expect("ADDR is HOST:PORT");
    let proto = if args.iter().any(|a| a == "--smtp") {
        Proto::Smtp
    } else {
        Proto::Http
    };
    let secs: u64 = value(args, "--secs").map_or(10, |v| v.parse().expect("--secs S"));
    if value(args, "--fast").is_some() {
        let mut fast = Fast::connect(addr, proto, o.fast_conns).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..secs {
            let n = fast
                .run(Duration::from_secs(1))
                .unwrap_or_else(|e| panic!("{e}"));
            println!("{n}/s");
        }
    } else {
        let hold = Hold::open(addr, proto, o.clients, Duration::from_secs(secs))
            .unwrap_or_else(|e| panic!("{e}"));
        let slow = hold.wait().unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{} opened, {} closed by the server; driver CPU {:.1}%",
            slow.opened,
            slow.closed_after.len(),
            slow.cpu * 100.0
        );
    }
}

fn value(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `1234567.8` as `1,234,568`.
fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Servers.

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Starts one of our servers and reads its `listening on HOST:PORT` line.
fn start_ours(mut cmd: Command) -> Result<Server, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no standard output")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse::<SocketAddr>().ok());
    match addr {
        Some(addr) => Ok(Server { child, addr }),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("no `listening on` line: {line:?}"))
        }
    }
}

fn nginx_binary() -> Option<PathBuf> {
    let which = Command::new("which").arg("nginx").output().ok();
    if let Some(w) = which.filter(|w| w.status.success()) {
        return Some(PathBuf::from(String::from_utf8_lossy(&w.stdout).trim()));
    }
    Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.exists())
}

/// `nginx 1.22.1`, from `nginx -v`.
fn nginx_version(bin: &Path) -> String {
    Command::new(bin)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stderr).into_owned();
            text.trim().rsplit('/').next().map(|v| format!("nginx {v}"))
        })
        .unwrap_or_else(|| "nginx".into())
}

/// nginx in the foreground, one process (no master), its configuration and logs in a
/// directory of its own, serving `root`.
fn start_nginx(bin: &Path, tmp: &Path, root: &Path, timeout: u64) -> Result<Server, String> {
    let dir = tmp.join("nginx");
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let d = dir.display();
    let conf = format!(
        "daemon off;\n\
         master_process off;\n\
         worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/body;\n\
           proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n\
           scgi_temp_path {d}/scgi;\n\
           keepalive_timeout 600s;\n\
           keepalive_requests 1000000000;\n\
           client_header_timeout {timeout}s;\n\
           server {{\n\
             listen 127.0.0.1:{port};\n\
             root {root};\n\
           }}\n\
         }}\n",
        root = root.display()
    );
    let conf_path = dir.join("nginx.conf");
    fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let child = Command::new(bin)
        .arg("-p")
        .arg(&dir)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut server = Server { child, addr };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(server);
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            return Err(format!("nginx exited ({status}): {log}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err("nginx did not start listening".into())
}

/// Nanoseconds on CPU of every thread of `pid`.
fn cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Minor page faults of `pid` so far (`/proc/PID/stat`).
fn minor_faults(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis: state is field 3, minflt field 10.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(7)?.parse().ok())
        .unwrap_or(0)
}

/// Nanoseconds on CPU of the calling thread.
fn thread_cpu_ns() -> u64 {
    fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Nanoseconds on CPU of the whole machine, every core, in clock ticks (`/proc/stat`:
/// user, nice, system and steal; not interrupts, where the loopback traffic of the
/// benchmark itself is counted).
fn machine_busy_ns() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 7].iter().filter_map(|&i| ticks.get(i)).sum();
    busy * (1_000_000_000 / rustix::param::clock_ticks_per_second().max(1))
}

/// The CPU of everything else on the machine: busy time less the server's and this
/// process's.
struct Others {
    machine: u64,
    ours: u64,
}

impl Others {
    fn start(server: u32) -> Others {
        Others {
            machine: machine_busy_ns(),
            ours: cpu_ns(server) + cpu_ns(std::process::id()),
        }
    }

    /// Nanoseconds of CPU that others took since `start`.
    fn since(&self, server: u32) -> u64 {
        let machine = machine_busy_ns() - self.machine;
        let ours = cpu_ns(server) + cpu_ns(std::process::id()) - self.ours;
        machine.saturating_sub(ours)
    }
}

// ---------------------------------------------------------------------------------------
// One server's run.

/// What one hold of the slow connections saw.
#[derive(Debug, Default)]
struct Slow {
    opened: usize,
    refused: usize,
    /// When each connection the server closed was closed, from its first byte.
    closed_after: Vec<Duration>,
    /// The first reply each of those got: a status code, or `none`.
    replies: BTreeMap<String, usize>,
    /// The driver's own CPU while it held them, in cores.
    cpu: f64,
}

/// The fast client's work in one slice, and the server's CPU meanwhile.
#[derive(Debug, Clone, Copy, Default)]
struct Slice {
    exchanges: u64,
    secs: f64,
    cpu_ns: u64,
    /// CPU taken meanwhile by other processes of the machine.
    others_ns: u64,
    /// The server's minor page faults meanwhile.
    faults: u64,
}

impl Slice {
    fn rate(&self) -> f64 {
        self.exchanges as f64 / self.secs
    }

    fn add(&mut self, other: Slice) {
        self.exchanges += other.exchanges;
        self.secs += other.secs;
        self.cpu_ns += other.cpu_ns;
        self.others_ns += other.others_ns;
        self.faults += other.faults;
    }

    /// Other processes' CPU, in cores.
    fn others(&self) -> f64 {
        self.others_ns as f64 / 1e9 / self.secs
    }

    /// Server µs of CPU per exchange.
    fn cpu_per(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.exchanges.max(1) as f64
    }
}

/// Slow connections held open by a thread of their own.
struct Hold {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<Result<Slow, String>>,
    /// The first byte of the first of them.
    opened_at: Instant,
}

impl Hold {
    /// Opens them; they stay until [`end`](Self::end), or until `give_up` after the
    /// first byte.
    fn open(addr: SocketAddr, proto: Proto, n: usize, give_up: Duration) -> Result<Hold, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stopped = stop.clone();
        let thread = thread::spawn(move || slowloris(addr, proto, n, give_up, &stopped, ready_tx));
        match ready_rx.recv() {
            Ok(opened_at) => Ok(Hold {
                stop,
                thread,
                opened_at,
            }),
            Err(_) => Err(match thread.join() {
                Ok(Err(e)) => e,
                _ => "the slowloris driver ended".into(),
            }),
        }
    }

    /// Closes the ones still open (with a reset, leaving nothing in TIME_WAIT) and
    /// returns what they saw.
    fn end(self) -> Result<Slow, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.wait()
    }

    /// Waits until the server has closed them all, or `give_up`.
    fn wait(self) -> Result<Slow, String> {
        self.thread
            .join()
            .map_err(|_| "the slowloris driver panicked".to_string())?
    }
}

fn run_one(name: &str, proto: Proto, server: Result<Server, String>, o: &Options) -> String {
    let server = match server {
        Ok(s) => s,
        Err(e) => {
            println!("{name}: failed to start: {e}\n");
            return format!("| {name} | failed to start: {e} | | | | | | |");
        }
    };
    match measure(name, proto, &server, o) {
        Ok(row) => row,
        Err(e) => {
            println!("{name}: failed: {e}\n");
            format!("| {name} | failed: {e} | | | | | | |")
        }
    }
}

fn measure(name: &str, proto: Proto, server: &Server, o: &Options) -> Result<String, String> {
    let pid = server.child.id();
    let slice = Duration::from_secs_f64(o.seconds);
    let timeout = Duration::from_secs(o.timeout);
    println!("{name} on {}:", server.addr);
    let mut fast = Fast::connect(server.addr, proto, o.fast_conns)?;
    // Warm-up.
    fast.run(Duration::from_millis(500))?;
    // (alone, with slowloris, steady) of each cycle.
    let mut cycles: Vec<(Slice, Slice, bool)> = Vec::new();
    let mut closed_early = 0;
    let mut refused = 0;
    let mut driver_cpu = Vec::new();
    for cycle in 1..=o.cycles {
        let attack_first = cycle % 2 == 0;
        let (mut a, mut u) = (Slice::default(), Slice::default());
        for attack in [attack_first, !attack_first] {
            if attack {
                let hold = Hold::open(server.addr, proto, o.clients, timeout)?;
                thread::sleep(o.settle);
                u = fast.slice(slice, pid)?;
                let slow = hold.end()?;
                driver_cpu.push(slow.cpu);
                closed_early += slow.closed_after.len();
                refused += slow.refused;
                // Let the server take in the resets.
                thread::sleep(Duration::from_millis(100));
            } else {
                a = fast.slice(slice, pid)?;
            }
        }
        let ratio = u.rate() / a.rate();
        let steady = (a.others() - u.others()).abs() <= STEADY;
        println!(
            "  cycle {cycle:2} ({}): alone {}/s ({:.1} µs server CPU each, {} faults, others \
             {:.2} cores), with slowloris {}/s ({:.1} µs, {} faults, others {:.2}): \
             {ratio:.3}{}",
            if attack_first {
                "attack first"
            } else {
                "alone first"
            },
            thousands(a.rate()),
            a.cpu_per(),
            a.faults,
            a.others(),
            thousands(u.rate()),
            u.cpu_per(),
            u.faults,
            u.others(),
            if steady { "" } else { " (unsteady: left out)" }
        );
        cycles.push((a, u, steady));
    }
    // The steady cycles, or all when too few were.
    let steady = cycles.iter().filter(|c| c.2).count();
    let used: Vec<(Slice, Slice)> = cycles
        .iter()
        .filter(|c| c.2 || steady < MIN_STEADY)
        .map(|c| (c.0, c.1))
        .collect();
    let (mut alone_total, mut attacked_total) = (Slice::default(), Slice::default());
    for (a, u) in &used {
        alone_total.add(*a);
        attacked_total.add(*u);
    }
    let ratios: Vec<f64> = used.iter().map(|(a, u)| u.rate() / a.rate()).collect();
    let alone: Vec<f64> = used.iter().map(|(a, _)| a.rate()).collect();
    let attacked: Vec<f64> = used.iter().map(|(_, u)| u.rate()).collect();
    let which = if steady < MIN_STEADY {
        format!(
            "all {} cycles (only {steady} steady: a busy machine)",
            cycles.len()
        )
    } else {
        format!("the {steady} steady cycles of {}", cycles.len())
    };
    let background = (alone_total.others_ns + attacked_total.others_ns) as f64
        / 1e9
        / (alone_total.secs + attacked_total.secs);
    // Then the deadline: the slow connections held until the server closes them.
    let hold = Hold::open(server.addr, proto, o.clients, timeout + GRACE)?;
    thread::sleep(o.settle);
    let cpu0 = cpu_ns(pid);
    let t0 = Instant::now();
    thread::sleep(
        (hold.opened_at + timeout - Duration::from_millis(200)).saturating_duration_since(t0),
    );
    let hold_cpu = (cpu_ns(pid) - cpu0) as f64 / t0.elapsed().as_nanos().max(1) as f64;
    let slow = hold.wait()?;
    let mut after = slow.closed_after.clone();
    after.sort();
    let replies = slow
        .replies
        .iter()
        .map(|(k, v)| format!("{k} ×{}", thousands(*v as f64)))
        .collect::<Vec<_>>()
        .join(", ");
    let closed = match (after.first(), after.last()) {
        (Some(lo), Some(hi)) => format!(
            "{} of {} after {:.2}–{:.2} s",
            thousands(after.len() as f64),
            thousands(slow.opened as f64),
            lo.as_secs_f64(),
            hi.as_secs_f64()
        ),
        _ => format!("none of {}", thousands(slow.opened as f64)),
    };
    println!(
        "  deadline: {closed} from their first byte ({replies}); server CPU with only them open \
         {:.1}% of a core; the slowloris driver's CPU {:.1}% of a core (median of the cycles), \
         {:.1}% while waiting for the deadline",
        hold_cpu * 100.0,
        quartiles(&driver_cpu).1 * 100.0,
        slow.cpu * 100.0
    );
    if closed_early > 0 || refused > 0 || slow.refused > 0 {
        println!(
            "  note: {closed_early} slow connections closed by the server while measured, {} \
             could not connect",
            refused + slow.refused
        );
    }
    println!();
    let unit = match proto {
        Proto::Http => "req/s",
        Proto::Smtp => "mails/s",
    };
    let (r25, r50, r75) = quartiles(&ratios);
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
    println!(
        "  {name}: ratio median {:.1}% [25th–75th percentile {:.1}–{:.1}%, min–max {:.1}–{:.1}%] \
         over {which}; other processes took {background:.2} cores meanwhile\n",
        r50 * 100.0,
        r25 * 100.0,
        r75 * 100.0,
        lo * 100.0,
        hi * 100.0,
    );
    Ok(format!(
        "| {name} | {} {unit} | {} {unit} | **{:.0}%** [{:.0}–{:.0}%], {} of {} cycles | {:.1} → {:.1} µs | {closed} | {replies} | {:.1}% |",
        thousands(quartiles(&alone).1),
        thousands(quartiles(&attacked).1),
        r50 * 100.0,
        r25 * 100.0,
        r75 * 100.0,
        used.len(),
        cycles.len(),
        alone_total.cpu_per(),
        attacked_total.cpu_per(),
        hold_cpu * 100.0
    ))
}

/// The 25th, 50th and 75th percentiles (nearest rank).
fn quartiles(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

// ---------------------------------------------------------------------------------------
// The fast client.

/// One exchange: what to send, and the reply codes that answer it.
struct Step {
    send: Vec<u8>,
    expect: Vec<u16>,
}

struct Conn {
    sock: TcpStream,
    buf: Vec<u8>,
    step: usize,
    /// Replies of the current step read so far.
    got: usize,
    busy: bool,
}

struct Fast {
    proto: Proto,
    conns: Vec<Conn>,
    steps: Vec<Step>,
}

impl Fast {
    fn connect(addr: SocketAddr, proto: Proto, n: usize) -> Result<Fast, String> {
        let steps = match proto {
            Proto::Http => vec![Step {
                send: format!("GET /{SMALL_FILE} HTTP/1.1\r\nHost: localhost\r\n\r\n").into(),
                expect: vec![200],
            }],
            Proto::Smtp => vec![
                Step {
                    send: b"MAIL FROM:<fast@example.org>\r\nRCPT TO:<sink@example.org>\r\nDATA\r\n"
                        .to_vec(),
                    expect: vec![250, 250, 354],
                },
                Step {
                    send: b"Subject: fast\r\n\r\nA short message.\r\n.\r\n".to_vec(),
                    expect: vec![250],
                },
            ],
        };
        let mut fast = Fast {
            proto,
            conns: Vec::new(),
            steps,
        };
        for _ in 0..n {
            let sock = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
            sock.set_nodelay(true).map_err(|e| e.to_string())?;
            let mut conn = Conn {
                sock,
                buf: Vec::new(),
                step: 0,
                got: 0,
                busy: false,
            };
            if proto == Proto::Smtp {
                // The greeting and EHLO, blocking.
                conn.sock
                    .set_read_timeout(Some(STALL))
                    .map_err(|e| e.to_string())?;
                conn.expect_blocking(proto, 220)?;
                conn.sock
                    .write_all(b"EHLO fast.example.org\r\n")
                    .map_err(|e| e.to_string())?;
                conn.expect_blocking(proto, 250)?;
            }
            conn.sock.set_nonblocking(true).map_err(|e| e.to_string())?;
            fast.conns.push(conn);
        }
        Ok(fast)
    }

    /// One measured slice of `period`, with the server's CPU meanwhile.
    fn slice(&mut self, period: Duration, pid: u32) -> Result<Slice, String> {
        let others = Others::start(pid);
        let faults = minor_faults(pid);
        let cpu0 = cpu_ns(pid);
        let t = Instant::now();
        let exchanges = self.run(period)?;
        Ok(Slice {
            exchanges,
            secs: t.elapsed().as_secs_f64(),
            cpu_ns: cpu_ns(pid) - cpu0,
            others_ns: others.since(pid),
            faults: minor_faults(pid) - faults,
        })
    }

    /// Runs for `period` and returns the exchanges completed in it; then lets the ones
    /// in flight finish (not counted).
    fn run(&mut self, period: Duration) -> Result<u64, String> {
        let start = Instant::now();
        let end = start + period;
        let mut done = 0u64;
        for c in &mut self.conns {
            c.start(&self.steps)?;
        }
        let mut last_progress = Instant::now();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let now = Instant::now();
            let open = now < end;
            if !open && self.conns.iter().all(|c| !c.busy) {
                return Ok(done);
            }
            if now.duration_since(last_progress) > STALL {
                return Err(format!("no reply from the server in {STALL:?}"));
            }
            let mut fds: Vec<PollFd<'_>> = self
                .conns
                .iter()
                .map(|c| PollFd::new(&c.sock, PollFlags::IN))
                .collect();
            let wait = Timespec::try_from(Duration::from_millis(50)).expect("a timespec");
            poll(&mut fds, Some(&wait)).map_err(|e| format!("poll: {e}"))?;
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
            drop(fds);
            for (c, ready) in self.conns.iter_mut().zip(ready) {
                if !ready {
                    continue;
                }
                loop {
                    match c.sock.read(&mut chunk) {
                        Ok(0) => return Err("the server closed the fast connection".into()),
                        Ok(n) => c.buf.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => return Err(format!("fast connection: {e}")),
                    }
                }
                while let Some((used, code)) = reply(self.proto, &c.buf)? {
                    c.buf.drain(..used);
                    last_progress = Instant::now();
                    let step = &self.steps[c.step];
                    if code != step.expect[c.got] {
                        return Err(format!(
                            "fast client: got {code}, expected {} (step {})",
                            step.expect[c.got], c.step
                        ));
                    }
                    c.got += 1;
                    if c.got < step.expect.len() {
                        continue;
                    }
                    c.got = 0;
                    c.step = (c.step + 1) % self.steps.len();
                    c.busy = false;
                    if c.step == 0 {
                        if Instant::now() <= end {
                            done += 1;
                        }
                        if Instant::now() >= end {
                            break;
                        }
                    }
                    c.start(&self.steps)?;
                }
            }
        }
    }
}

impl Conn {
    /// Sends the current step.
    fn start(&mut self, steps: &[Step]) -> Result<(), String> {
        if self.busy {
            return Ok(());
        }
        // Small requests on a socket with room: a non-blocking write takes them whole;
        // should it not, finish it blocking.
        let data = &steps[self.step].send;
        let mut sent = 0;
        while sent < data.len() {
            match self.sock.write(&data[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => thread::yield_now(),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("fast connection: {e}")),
            }
        }
        self.busy = true;
        Ok(())
    }

    /// Reads one reply (blocking) and checks its code.
    fn expect_blocking(&mut self, proto: Proto, code: u16) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Some((used, got)) = reply(proto, &self.buf)? {
                self.buf.drain(..used);
                return if got == code {
                    Ok(())
                } else {
                    Err(format!("expected {code}, got {got}"))
                };
            }
            match self.sock.read(&mut chunk) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("reading a reply: {e}")),
            }
        }
    }
}

/// One whole reply at the start of `buf`: its length and status code.
fn reply(proto: Proto, buf: &[u8]) -> Result<Option<(usize, u16)>, String> {
    let code = |b: &[u8]| -> Result<u16, String> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not a reply: {:?}", String::from_utf8_lossy(buf)))
    };
    match proto {
        Proto::Http => {
            let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Ok(None);
            };
            let head_text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
            let status = code(buf.get(9..12).unwrap_or_default())?;
            let length: usize = head_text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let whole = head + 4 + length;
            Ok((buf.len() >= whole).then_some((whole, status)))
        }
        Proto::Smtp => {
            // Lines up to the last one of the reply: `CODE ` (or a bare `CODE`).
            let mut at = 0;
            while let Some(end) = buf[at..].windows(2).position(|w| w == b"\r\n") {
                let line = &buf[at..at + end];
                at += end + 2;
                if line.get(3) != Some(&b'-') {
                    return Ok(Some((at, code(line.get(..3).unwrap_or_default())?)));
                }
            }
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------
// The slowloris driver.

struct SlowConn {
    sock: TcpStream,
    first_byte: Instant,
    next_byte: Instant,
    got: Vec<u8>,
    closed: Option<Instant>,
}

/// Opens `n` slow connections to `addr`, tells `ready` when the first of them sent its
/// first byte, then trickles: one byte to each every [`TRICKLE_EVERY`], spread evenly over
/// it. Ends when the server has closed them all, `give_up` after the first byte, or when
/// `stop` is set; then closes the rest with a reset.
fn slowloris(
    addr: SocketAddr,
    proto: Proto,
    n: usize,
    give_up: Duration,
    stop: &AtomicBool,
    ready: mpsc::Sender<Instant>,
) -> Result<Slow, String> {
    let (head, trickle): (&[u8], u8) = match proto {
        Proto::Http => (b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", b'a'),
        Proto::Smtp => (b"EHLO slow", b'w'),
    };
    let mut slow = Slow::default();
    let mut conns: Vec<SlowConn> = Vec::with_capacity(n);
    for i in 0..n {
        let mut sock = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(_) => {
                slow.refused += 1;
                continue;
            }
        };
        let now = Instant::now();
        if sock.write_all(head).is_err() {
            slow.refused += 1;
            continue;
        }
        sock.set_nonblocking(true).map_err(|e| e.to_string())?;
        conns.push(SlowConn {
            sock,
            first_byte: now,
            next_byte: now + TRICKLE_EVERY.mul_f64((i as f64 + 0.5) / n as f64),
            got: Vec::new(),
            closed: None,
        });
    }
    slow.opened = conns.len();
    let first = match conns.first() {
        Some(c) => c.first_byte,
        // `--clients 0`: the control, slices with nothing open.
        None if n == 0 => Instant::now(),
        None => return Err("no slow connection could be opened".into()),
    };
    let _ = ready.send(first);
    let give_up = first + give_up;
    let tick = Timespec::try_from(TICK).expect("a timespec");
    let mut chunk = [0u8; 1024];
    // epoll, so that a wait costs nothing per connection.
    let ep = epoll::create(epoll::CreateFlags::CLOEXEC).map_err(|e| e.to_string())?;
    for (i, c) in conns.iter().enumerate() {
        epoll::add(
            &ep,
            &c.sock,
            epoll::EventData::new_u64(i as u64),
            epoll::EventFlags::IN,
        )
        .map_err(|e| format!("epoll_ctl: {e}"))?;
    }
    let mut events: Vec<epoll::Event> = Vec::with_capacity(n.max(1));
    let mut open = conns.len();
    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    while (open > 0 || n == 0) && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= give_up {
            break;
        }
        for c in conns.iter_mut().filter(|c| c.closed.is_none()) {
            if c.next_byte <= now {
                c.next_byte += TRICKLE_EVERY;
                // A refusal means the server closed it; the read below says so.
                let _ = c.sock.write(&[trickle]);
            }
        }
        events.clear();
        match epoll::wait(&ep, spare_capacity(&mut events), Some(&tick)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(format!("epoll_wait: {e}")),
        }
        let ready: Vec<usize> = events.iter().map(|e| e.data.u64() as usize).collect();
        for i in ready {
            let c = &mut conns[i];
            if c.closed.is_some() {
                continue;
            }
            loop {
                match c.sock.read(&mut chunk) {
                    Ok(0) => {
                        c.closed = Some(Instant::now());
                        open -= 1;
                        let _ = epoll::delete(&ep, &c.sock);
                        break;
                    }
                    Ok(k) => {
                        if c.got.len() < 512 {
                            c.got.extend_from_slice(&chunk[..k]);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        c.closed = Some(Instant::now());
                        open -= 1;
                        let _ = epoll::delete(&ep, &c.sock);
                        break;
                    }
                }
            }
        }
    }
    slow.cpu = (thread_cpu_ns() - cpu0) as f64 / t0.elapsed().as_nanos().max(1) as f64;
    for c in &conns {
        match c.closed {
            Some(at) => {
                slow.closed_after.push(at - c.first_byte);
                *slow
                    .replies
                    .entry(timeout_reply(proto, &c.got))
                    .or_default() += 1;
            }
            None => {
                let _ = rustix::net::sockopt::set_socket_linger(&c.sock, Some(Duration::ZERO));
            }
        }
    }
    Ok(slow)
}

/// The reply a slow connection got before its close: the status code, `none`.
fn timeout_reply(proto: Proto, got: &[u8]) -> String {
    let text = String::from_utf8_lossy(got);
    let code = match proto {
        Proto::Http => text
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| text.strip_prefix("HTTP/1.0 "))
            .and_then(|t| t.get(..3)),
        // After the greeting.
        Proto::Smtp => text
            .split("\r\n")
            .filter(|l| l.len() >= 3 && !l.starts_with("220"))
            .map(|l| &l[..3])
            .next(),
    };
    code.map_or_else(|| "none".to_string(), str::to_string)
}
