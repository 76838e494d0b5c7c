//! Memory per idle connection: each of our servers next to redis-server, memcached and
//! nginx, in one run. Each server is started alone, `N` connections are opened to it and
//! left idle, and the growth of its resident set (`VmRSS`, nginx's worker included) is
//! divided by `N`.
//!
//! ```text
//! cargo bench -p asyncore-examples --bench idle_memory              # 10,000 connections
//! cargo bench -p asyncore-examples --bench idle_memory -- --conns 2000
//! ```
//!
//! It builds the example servers in release mode first. A peer that is not installed is
//! left out with a note.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

/// How a peer is started on a port; `None` when it is not installed.
type MakePeer = fn(u16) -> Option<Command>;

/// Our servers, by example name.
const OURS: [&str; 6] = [
    "resp-server",
    "memcache-server",
    "kv-server",
    "http-server",
    "smtp-server",
    "chat",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let conns: usize = args
        .iter()
        .position(|a| a == "--conns")
        .and_then(|i| args.get(i + 1))
        .map_or(10_000, |v| v.parse().expect("--conns N"));
    asyncore_examples::server::raise_fd_limit();
    let examples = build_examples();
    println!("idle connections: {conns} per server; bytes of resident memory per connection\n");
    println!("| server | bytes per idle connection |");
    println!("|---|---|");
    let mut rows: Vec<(String, f64)> = Vec::new();
    for name in OURS {
        let mut cmd = Command::new(examples.join(name));
        cmd.args(["--listen", "127.0.0.1:0"]);
        match measure_ours(cmd, conns) {
            Ok(b) => rows.push((name.to_string(), b)),
            Err(e) => println!("| {name} | failed: {e} |"),
        }
    }
    let peers: [(&str, MakePeer); 3] = [
        ("redis-server", redis),
        ("memcached", memcached),
        ("nginx", |_| None),
    ];
    for (name, make) in peers {
        let port = free_port();
        let result = if name == "nginx" {
            measure_nginx(port, conns)
        } else {
            match make(port) {
                Some(cmd) => measure_peer(cmd, port, conns),
                None => Err("not installed".into()),
            }
        };
        match result {
            Ok(b) => rows.push((name.to_string(), b)),
            Err(e) => println!("| {name} | left out: {e} |"),
        }
    }
    for (name, b) in &rows {
        println!("| {name} | {b:.0} |");
    }
}

/// Builds the examples (release) and returns their directory.
fn build_examples() -> PathBuf {
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
    // target/release/deps/idle_memory-HASH -> target/release/examples
    me.parent()
        .and_then(Path::parent)
        .map(|release| release.join("examples"))
        .expect("the target directory")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn rss(pid: u32) -> Result<u64, String> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| "no VmRSS".into())
}

/// The resident memory of `pid` and its children.
fn rss_tree(pid: u32) -> Result<u64, String> {
    let mut total = rss(pid)?;
    let children =
        fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    for c in children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
    {
        total += rss(c).unwrap_or(0);
    }
    Ok(total)
}

/// Opens `conns` idle connections to `port` and returns the growth of `pid`'s memory per
/// connection.
fn per_connection(pid: u32, port: u16, conns: usize) -> Result<f64, String> {
    sleep(Duration::from_millis(300));
    let before = rss_tree(pid)?;
    let mut open = Vec::with_capacity(conns);
    for _ in 0..conns {
        open.push(TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?);
    }
    sleep(Duration::from_secs(1));
    let after = rss_tree(pid)?;
    drop(open);
    Ok(after.saturating_sub(before) as f64 / conns as f64)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn measure_ours(mut cmd: Command, conns: usize) -> Result<f64, String> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    let stdout = child.stdout.take().ok_or("no standard output")?;
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| format!("no `listening on` line: {line:?}"))?;
    let r = per_connection(child.id(), port, conns);
    stop(child);
    r
}

fn measure_peer(mut cmd: Command, port: u16, conns: usize) -> Result<f64, String> {
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    for _ in 0..50 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        sleep(Duration::from_millis(100));
    }
    let r = per_connection(child.id(), port, conns);
    stop(child);
    r
}

fn installed(program: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let which = Command::new("which").arg(program).output().ok()?;
    if which.status.success() {
        return Some(PathBuf::from(String::from_utf8_lossy(&which.stdout).trim()));
    }
    fallbacks.iter().map(PathBuf::from).find(|p| p.exists())
}

fn redis(port: u16) -> Option<Command> {
    let mut cmd = Command::new(installed("redis-server", &[])?);
    cmd.args([
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .args(["--maxclients", "20000", "--bind", "127.0.0.1"]);
    Some(cmd)
}

fn memcached(port: u16) -> Option<Command> {
    let mut cmd = Command::new(installed("memcached", &["/usr/bin/memcached"])?);
    cmd.args([
        "-p",
        &port.to_string(),
        "-U",
        "0",
        "-l",
        "127.0.0.1",
        "-c",
        "20000",
    ]);
    if rustix::process::geteuid().is_root() {
        cmd.args(["-u", "nobody"]);
    }
    Some(cmd)
}

/// nginx with one worker, its own configuration, logs and files in a temporary directory.
fn measure_nginx(port: u16, conns: usize) -> Result<f64, String> {
    let nginx = installed("nginx", &["/usr/sbin/nginx"]).ok_or("not installed")?;
    let dir = std::env::temp_dir().join(format!("idle-memory-nginx-{}", std::process::id()));
    fs::create_dir_all(dir.join("logs")).map_err(|e| e.to_string())?;
    let user = if rustix::process::geteuid().is_root() {
        "user nobody nogroup;"
    } else {
        ""
    };
    let conf = format!(
        "{user}\nworker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log;\n\
         events {{ worker_connections 20000; }}\n\
         http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; \
         uwsgi_temp_path {d}; scgi_temp_path {d}; keepalive_timeout 600s; client_header_timeout 600s;\n\
         server {{ listen 127.0.0.1:{port}; root {d}; }} }}\n",
        d = dir.display()
    );
    let conf_path = dir.join("nginx.conf");
    fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(nginx);
    cmd.arg("-p").arg(&dir).arg("-c").arg(&conf_path);
    let r = measure_peer(cmd, port, conns);
    let _ = fs::remove_dir_all(&dir);
    r
}
