//! Memory per idle connection, shared by the `idle_memory` and `peers` benchmarks: each
//! server is started alone, `N` connections are opened to it and left idle, and the growth
//! of its resident set (`VmRSS`, nginx's worker included) is divided by `N`. With every
//! step: first for connections that sent nothing, then after each sent one request and
//! read its reply (a keep-alive connection between requests), then after all of them
//! closed (what the server did not give back), and last for new connections that each
//! sent the start of a request and then one more byte, never finishing it (a slowloris).
//!
//! The including crate declares `mod common` (`support/common.rs`) beside this module.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;

use crate::common::{free_port, installed, stop};

/// How a peer is started on a port; `None` when it is not installed.
type MakePeer = fn(u16) -> Option<Command>;

/// Which steps to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Steps {
    /// New idle connections only (one settling pause per server).
    IdleOnly,
    /// Idle, after one request, after close, and slow connections.
    #[allow(dead_code)] // in the benchmarks that measure only idle connections
    All,
}

/// Measures our servers `ours` (example names, started from `examples`) and then
/// redis-server, memcached and nginx (those installed), `conns` connections each, and
/// prints one table row per server.
/// With `only`, just the servers it names.
pub(crate) fn run(
    examples: &Path,
    ours: &[&str],
    conns: usize,
    steps: Steps,
    only: Option<&[String]>,
) {
    let wanted = |name: &str| only.is_none_or(|names| names.iter().any(|n| n == name));
    println!("idle connections: {conns} per server; bytes of resident memory per connection\n");
    println!(
        "| server | new, idle | after one request, idle | left after they closed | slow: a request begun, not finished |"
    );
    println!("|---|---|---|---|---|");
    let mut rows: Vec<(String, Growth)> = Vec::new();
    for &name in ours.iter().filter(|n| wanted(n)) {
        let mut cmd = Command::new(examples.join(name));
        cmd.args(["--listen", "127.0.0.1:0"]);
        match measure_ours(cmd, name, conns, steps) {
            Ok(b) => rows.push((name.to_string(), b)),
            Err(e) => println!("| {name} | failed: {e} | | | |"),
        }
    }
    let peers: [(&str, MakePeer); 3] = [
        ("redis-server", redis),
        ("memcached", memcached),
        ("nginx", |_| None),
    ];
    for (name, make) in peers.into_iter().filter(|(n, _)| wanted(n)) {
        let port = free_port();
        let result = if name == "nginx" {
            measure_nginx(port, conns, steps)
        } else {
            match make(port) {
                Some(cmd) => measure_peer(cmd, name, port, conns, steps),
                None => Err("not installed".into()),
            }
        };
        match result {
            Ok(b) => rows.push((name.to_string(), b)),
            Err(e) => println!("| {name} | left out: {e} | | | |"),
        }
    }
    let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
    for (name, g) in &rows {
        let no_request = if request(name).is_none() {
            " (no request sent)"
        } else {
            ""
        };
        println!(
            "| {name} | {:.0} | {}{no_request} | {} | {} |",
            g.idle,
            num(g.after_request),
            num(g.after_close),
            num(g.slow)
        );
    }
}

/// Growth of a server's resident memory per connection.
struct Growth {
    /// Connections open, nothing sent.
    idle: f64,
    /// Each sent one request and read the reply.
    after_request: Option<f64>,
    /// All closed again (compared with before they opened).
    after_close: Option<f64>,
    /// New connections that sent all but the last two bytes of a request, then one more.
    slow: Option<f64>,
}

/// The request each connection sends to `server`; `None` for chat, where anything a
/// member says goes to every other member.
fn request(server: &str) -> Option<&'static [u8]> {
    Some(match server {
        "resp-server" | "redis-server" => b"PING\r\n",
        "memcache-server" | "memcached" => b"version\r\n",
        "kv-server" => b"\0\0\0\x02\x01k",
        "http-server" | "nginx" => b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "smtp-server" => b"NOOP\r\n",
        _ => return None,
    })
}

/// Long enough for our maps' sweep to give back unused buffers
/// (`asyncore_runtime::DEFAULT_RELEASE_INTERVAL`, 2 s), with a margin.
const SETTLE: Duration = Duration::from_millis(4500);

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

/// Opens `conns` idle connections to `port`, has each send `server`'s request, closes
/// them, and returns the growth of `pid`'s memory per connection at each step.
fn per_connection(
    pid: u32,
    server: &str,
    port: u16,
    conns: usize,
    steps: Steps,
) -> Result<Growth, String> {
    sleep(Duration::from_millis(300));
    let before = rss_tree(pid)?;
    let per = |now: u64| now.saturating_sub(before) as f64 / conns as f64;
    let mut open = Vec::with_capacity(conns);
    for _ in 0..conns {
        open.push(TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?);
    }
    sleep(SETTLE);
    let idle = per(rss_tree(pid)?);
    if steps == Steps::IdleOnly {
        return Ok(Growth {
            idle,
            after_request: None,
            after_close: None,
            slow: None,
        });
    }
    if let Some(req) = request(server) {
        for s in &mut open {
            s.write_all(req).map_err(|e| e.to_string())?;
        }
        sleep(Duration::from_secs(1));
        let mut sink = [0u8; 4096];
        for s in &mut open {
            s.set_nonblocking(true).map_err(|e| e.to_string())?;
            while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        }
    }
    sleep(SETTLE);
    let after_request = per(rss_tree(pid)?);
    drop(open);
    sleep(SETTLE);
    let after_close = per(rss_tree(pid)?);
    let slow = match request(server) {
        Some(req) => {
            let mut open = Vec::with_capacity(conns);
            for _ in 0..conns {
                open.push(TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?);
            }
            let (head, next) = (&req[..req.len() - 2], &req[req.len() - 2..req.len() - 1]);
            for s in &mut open {
                s.write_all(head).map_err(|e| e.to_string())?;
            }
            sleep(Duration::from_secs(1));
            for s in &mut open {
                s.write_all(next).map_err(|e| e.to_string())?;
            }
            sleep(SETTLE);
            let slow = per(rss_tree(pid)?);
            drop(open);
            Some(slow)
        }
        None => None,
    };
    Ok(Growth {
        idle,
        after_request: Some(after_request),
        after_close: Some(after_close),
        slow,
    })
}

fn measure_ours(
    mut cmd: Command,
    name: &str,
    conns: usize,
    steps: Steps,
) -> Result<Growth, String> {
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
    let r = per_connection(child.id(), name, port, conns, steps);
    stop(child);
    r
}

fn measure_peer(
    mut cmd: Command,
    name: &str,
    port: u16,
    conns: usize,
    steps: Steps,
) -> Result<Growth, String> {
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
    let r = per_connection(child.id(), name, port, conns, steps);
    stop(child);
    r
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
fn measure_nginx(port: u16, conns: usize, steps: Steps) -> Result<Growth, String> {
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
    let r = measure_peer(cmd, "nginx", port, conns, steps);
    let _ = fs::remove_dir_all(&dir);
    r
}
