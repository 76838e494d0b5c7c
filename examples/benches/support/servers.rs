//! The servers of the `peers` benchmark: ours and the peers, each its own process pinned
//! with `taskset`, and their CPU time read from `/proc`, per thread.
//!
//! The including crate declares `mod common` (`support/common.rs`) beside this module.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::common::{free_port, installed, stop};

/// How long a server may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Which CPUs the servers and the load tools run on.
#[derive(Debug, Clone)]
pub(crate) struct Pinning {
    /// `taskset` is there and CPUs 0 and 1 are both usable.
    pub(crate) enabled: bool,
    /// What was decided, for the header of the output.
    pub(crate) note: String,
}

impl Pinning {
    pub(crate) fn detect() -> Pinning {
        let cpus = rustix::thread::sched_getaffinity(None).ok();
        let both = cpus.is_some_and(|set| set.is_set(0) && set.is_set(1));
        let taskset = Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let (enabled, note) = match (both, taskset) {
            (true, true) => (
                true,
                "one-core rows: servers on CPU 0 (taskset -c 0), load tool on CPU 1 (taskset -c 1); \
                 two-core rows: servers and load tool on CPUs 0,1"
                    .to_string(),
            ),
            (false, _) => (false, "not pinned: CPUs 0 and 1 are not both usable".into()),
            (_, false) => (false, "not pinned: no taskset".into()),
        };
        Pinning { enabled, note }
    }

    /// `program` run through `taskset -c cpus` when pinning is on.
    pub(crate) fn command(&self, cpus: &str, program: &Path) -> Command {
        if self.enabled {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpus).arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

/// A running server; stopped (SIGTERM, then SIGKILL) on drop.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) addr: SocketAddr,
    child: Option<Child>,
    /// Its configuration and logs (nginx), removed after it stopped.
    dir: Option<PathBuf>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            stop(child);
        }
        if let Some(dir) = self.dir.take() {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

impl Server {
    /// One of ours: `cmd` must make it listen on `127.0.0.1:0`; its `listening on` line
    /// gives the port. Its standard output is read until it exits.
    pub(crate) fn ours(name: &str, mut cmd: Command) -> Result<Server, String> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{name}: cannot start: {e}"))?;
        let stdout = child.stdout.take().ok_or("no standard output")?;
        let pid = child.id();
        let mut server = Server {
            name: name.to_string(),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child: Some(child),
            dir: None,
        };
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines.map_while(Result::ok) {}
        });
        let line = rx
            .recv_timeout(START_TIMEOUT)
            .map_err(|_| format!("{name}: no `listening on` line within {START_TIMEOUT:?}"))?;
        server.addr = line
            .strip_prefix("listening on ")
            .and_then(|a| a.trim().parse::<SocketAddr>().ok())
            .filter(|a| a.ip().is_loopback())
            .ok_or_else(|| format!("{name}: unexpected first line `{line}`"))?;
        Ok(server)
    }

    /// A peer started by `cmd` on `port` of 127.0.0.1; ready once it accepts a connection.
    pub(crate) fn peer(name: &str, mut cmd: Command, port: u16) -> Result<Server, String> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{name}: cannot start: {e}"))?;
        let mut server = Server {
            name: name.to_string(),
            pid: child.id(),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child: Some(child),
            dir: None,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&server.addr, Duration::from_millis(200)).is_ok() {
                return Ok(server);
            }
            server.check_alive()?;
            sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{name}: not listening on {} after {START_TIMEOUT:?}",
            server.addr
        ))
    }

    pub(crate) fn check_alive(&mut self) -> Result<(), String> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!("{} (pid {}) exited: {status}", self.name, self.pid));
            }
        }
        Ok(())
    }

    /// CPU time so far of every thread of the server and of its child processes.
    pub(crate) fn cpu(&self) -> Cpu {
        let mut tasks = BTreeMap::new();
        let mut pids = vec![self.pid];
        let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.pid))
            .unwrap_or_default();
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
        for pid in pids {
            let Ok(entries) = fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for entry in entries.flatten() {
                let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                let dir = entry.path();
                // A thread that exits between listing and reading counts 0 here.
                let ns = task_ns(&dir).unwrap_or(0);
                let comm = fs::read_to_string(dir.join("comm")).unwrap_or_default();
                let label = if pid == tid {
                    format!("{} {pid}", comm.trim())
                } else {
                    format!("{} {pid}/{tid}", comm.trim())
                };
                tasks.insert(tid, (label, ns));
            }
        }
        Cpu { tasks }
    }
}

/// CPU time per thread: `tid -> (name, nanoseconds)`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cpu {
    pub(crate) tasks: BTreeMap<u32, (String, u64)>,
}

impl Cpu {
    pub(crate) fn total(&self) -> u64 {
        self.tasks.values().map(|t| t.1).sum()
    }

    /// What each thread used since `before` (threads that started since count whole).
    pub(crate) fn since(&self, before: &Cpu) -> Cpu {
        let tasks = self
            .tasks
            .iter()
            .map(|(tid, (name, ns))| {
                let was = before.tasks.get(tid).map_or(0, |t| t.1);
                (*tid, (name.clone(), ns.saturating_sub(was)))
            })
            .collect();
        Cpu { tasks }
    }

    pub(crate) fn add(&mut self, other: &Cpu) {
        for (tid, (name, ns)) in &other.tasks {
            let e = self.tasks.entry(*tid).or_insert_with(|| (name.clone(), 0));
            e.1 += ns;
        }
    }
}

/// Nanoseconds on CPU of one thread: the first field of `schedstat`, or else utime +
/// stime of `stat` (in clock ticks, coarser).
fn task_ns(dir: &Path) -> Option<u64> {
    if let Ok(s) = fs::read_to_string(dir.join("schedstat")) {
        if let Some(ns) = s.split_whitespace().next().and_then(|v| v.parse().ok()) {
            return Some(ns);
        }
    }
    let s = fs::read_to_string(dir.join("stat")).ok()?;
    // Fields after the `(comm)`: state (field 3) is index 0, so utime (14) is 11.
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks * 1_000_000_000 / rustix::param::clock_ticks_per_second().max(1))
}

/// The peers, started on a free port of 127.0.0.1 with `threads` threads or workers.
pub(crate) mod peers {
    use super::*;

    /// `redis-server 7.0.15`, persistence off.
    pub(crate) fn redis(pin: &Pinning, cpus: &str) -> Result<Server, String> {
        let bin = installed("redis-server", &[]).ok_or("redis-server is not installed")?;
        let port = free_port();
        let mut cmd = pin.command(cpus, &bin);
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--maxclients", "10000"]);
        Server::peer(&version_of(&bin, &["--version"], "v="), cmd, port)
    }

    /// `memcached -t threads`, its default memory (64 MB, as `memcache-server -m`).
    pub(crate) fn memcached(pin: &Pinning, cpus: &str, threads: usize) -> Result<Server, String> {
        let bin =
            installed("memcached", &["/usr/bin/memcached"]).ok_or("memcached is not installed")?;
        let port = free_port();
        let mut cmd = pin.command(cpus, &bin);
        cmd.args(["-p", &port.to_string(), "-U", "0", "-l", "127.0.0.1"])
            .args(["-c", "10000", "-t", &threads.to_string()]);
        if rustix::process::geteuid().is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let name = format!("{} -t {threads}", version_of(&bin, &["-V"], "memcached "));
        Server::peer(&name, cmd, port)
    }

    /// What nginx needs to serve HTTPS: the certificate chain and key (PEM), and the one
    /// TLS 1.3 suite it may negotiate (OpenSSL's name, `TLS_AES_256_GCM_SHA384`).
    #[derive(Debug, Clone)]
    pub(crate) struct NginxTls<'a> {
        pub(crate) cert: &'a Path,
        pub(crate) key: &'a Path,
        pub(crate) suite: &'a str,
    }

    /// nginx with `workers` worker processes (and its master), serving `root`: Debian's
    /// defaults for static files (`sendfile on`, `tcp_nopush on`), no access log, and
    /// keep-alive connections that are never closed for their number of requests. With
    /// `tls`, `listen ... ssl`, TLS 1.3 only and that one suite (`ssl_conf_command
    /// Ciphersuites`), the rest nginx's defaults: no kTLS (`ssl_conf_command Options
    /// KTLS` is not set), so files are read and encrypted, not sent with `sendfile`.
    pub(crate) fn nginx(
        pin: &Pinning,
        cpus: &str,
        workers: usize,
        root: &Path,
        tls: Option<&NginxTls<'_>>,
    ) -> Result<Server, String> {
        let bin = installed("nginx", &["/usr/sbin/nginx"]).ok_or("nginx is not installed")?;
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("peers-nginx-{}-{port}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let user = if rustix::process::geteuid().is_root() {
            "user nobody nogroup;\n"
        } else {
            ""
        };
        let d = dir.display();
        let (ssl, ssl_conf) = match tls {
            Some(t) => (
                " ssl",
                format!(
                    "ssl_certificate {};\n\
                     ssl_certificate_key {};\n\
                     ssl_protocols TLSv1.3;\n\
                     ssl_conf_command Ciphersuites {};\n",
                    t.cert.display(),
                    t.key.display(),
                    t.suite
                ),
            ),
            None => ("", String::new()),
        };
        let conf = format!(
            "{user}daemon off;\n\
             worker_processes {workers};\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log;\n\
             events {{ worker_connections 10000; }}\n\
             http {{\n\
               access_log off;\n\
               sendfile on;\n\
               tcp_nopush on;\n\
               keepalive_timeout 600s;\n\
               keepalive_requests 1000000000;\n\
               client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               server {{\n\
                 listen 127.0.0.1:{port}{ssl};\n\
                 {ssl_conf}\
                 root {root};\n\
               }}\n\
             }}\n",
            root = root.display()
        );
        let conf_path = dir.join("nginx.conf");
        fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let mut cmd = pin.command(cpus, &bin);
        cmd.arg("-p").arg(&dir).arg("-c").arg(&conf_path);
        cmd.arg("-e").arg(dir.join("error.log"));
        let name = format!(
            "{} ({workers} worker{}{})",
            version_of(&bin, &["-v"], "nginx/"),
            if workers == 1 { "" } else { "s" },
            if tls.is_some() { ", ssl" } else { "" }
        );
        let mut server = Server::peer(&name, cmd, port).map_err(|e| {
            let log = fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            format!("{e}: {}", log.trim())
        })?;
        server.dir = Some(dir);
        // The probe's connection aside, wait until every worker runs.
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline && server.cpu().tasks.len() < workers + 1 {
            sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// Postfix's `smtp-sink`: accepts every message and discards it (as `smtp-server`
    /// without `--maildir`).
    pub(crate) fn smtp_sink(pin: &Pinning, cpus: &str, bin: &Path) -> Result<Server, String> {
        let port = free_port();
        let mut cmd = pin.command(cpus, bin);
        if rustix::process::geteuid().is_root() {
            cmd.args(["-u", "nobody"]);
        }
        cmd.arg(format!("127.0.0.1:{port}")).arg("1024");
        Server::peer("smtp-sink", cmd, port)
    }

    /// `NAME VERSION` from a `--version` style output: the word after `marker`.
    fn version_of(bin: &Path, args: &[&str], marker: &str) -> String {
        let name = bin
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy().into_owned());
        let out = Command::new(bin).args(args).output().ok();
        let text = out
            .map(|o| {
                let mut t = String::from_utf8_lossy(&o.stdout).into_owned();
                t.push_str(&String::from_utf8_lossy(&o.stderr));
                t
            })
            .unwrap_or_default();
        let version = text.split(marker).nth(1).and_then(|rest| {
            let v: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            (!v.is_empty()).then_some(v)
        });
        version.map_or(name.clone(), |v| format!("{name} {v}"))
    }
}
