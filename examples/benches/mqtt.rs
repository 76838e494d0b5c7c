//! MQTT broker benchmark: our `mqtt-broker` side by side with Debian's `mosquitto`, in one
//! run: one publisher sends QoS 0 messages with 64-byte payloads to one topic, and 10
//! subscribers receive every message (a fan-out of 10).
//!
//! ```text
//! cargo bench -p asyncore-examples --bench mqtt              # about 40 s
//! cargo bench -p asyncore-examples --bench mqtt -- --quick   # about 10 s
//! ```
//!
//! Each broker is its own process started with `taskset -c 0`, so its CPU time is read
//! from its own accounting (`/proc/PID/task/*/schedstat`); the load generator is this
//! process, one thread pinned to CPU 1, with non-blocking sockets and `poll`. Its clients
//! connect once and stay connected. The publisher keeps at most `--window` messages ahead
//! of the slowest subscriber (a closed loop: neither broker is asked to queue without
//! bound). Brokers are measured in slices of `--slice` seconds, one slice per broker per
//! cycle in alternating order; each ratio (ours / mosquitto) is taken within a cycle, and
//! the median over the cycles is printed with the 25th and 75th percentiles.
//!
//! Other modes (used by the benchmark itself, or by hand for profiling):
//!
//! ```text
//! mqtt --serve --listen 127.0.0.1:0          # our broker, as examples/mqtt_broker.rs runs it
//! mqtt --client 127.0.0.1:PORT --secs 10      # the load alone, against any broker
//! ```

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use asyncore_examples::mqtt_broker::{mqtt, Config, MqttServer};
use asyncore_examples::server::{serve, ServerConfig};
use asyncore_runtime::wire::{Decoded, Seq};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

const TOPIC: &str = "bench/topic";
const PAYLOAD: usize = 64;
/// A run fails if no message arrives for this long.
const STALL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Options {
    cycles: usize,
    slice: Duration,
    settle: Duration,
    subs: usize,
    window: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cycles: 25,
            slice: Duration::from_millis(500),
            settle: Duration::from_millis(100),
            subs: 10,
            window: 512,
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--serve") {
        let listen = value(&args, "--listen").unwrap_or_else(|| "127.0.0.1:0".into());
        let config = ServerConfig {
            listen: listen.parse().expect("--listen HOST:PORT"),
            backend: Default::default(),
            threads: 1,
        };
        if let Err(e) = serve(&config, || MqttServer::new(Config::default())) {
            eprintln!("mqtt bench server: {e}");
            std::process::exit(1);
        }
        return;
    }
    let mut o = Options::default();
    if args.iter().any(|a| a == "--quick") {
        o.cycles = 5;
    }
    if let Some(v) = value(&args, "--cycles") {
        o.cycles = v.parse().expect("--cycles N");
    }
    if let Some(v) = value(&args, "--slice") {
        o.slice = Duration::from_secs_f64(v.parse().expect("--slice SECONDS"));
    }
    if let Some(v) = value(&args, "--subs") {
        o.subs = v.parse().expect("--subs N");
    }
    if let Some(v) = value(&args, "--window") {
        o.window = v.parse().expect("--window N");
    }
    if let Some(addr) = value(&args, "--client") {
        let secs: f64 = value(&args, "--secs").map_or(10.0, |s| s.parse().expect("--secs S"));
        let _ = pin_self(1);
        let mut load = Load::connect(addr.parse().expect("--client HOST:PORT"), &o)
            .unwrap_or_else(|e| panic!("connect: {e}"));
        let t = Instant::now();
        let (n, _) = load
            .run(Duration::from_secs_f64(secs), o.window)
            .unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{n} messages delivered in {:.2} s: {:.0}/s",
            t.elapsed().as_secs_f64(),
            n as f64 / t.elapsed().as_secs_f64()
        );
        return;
    }
    if let Err(e) = bench(&o) {
        eprintln!("mqtt bench: {e}");
        std::process::exit(1);
    }
}

fn value(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

// ---------------------------------------------------------------------------------------
// Pinning and CPU accounting.

fn pin_self(cpu: usize) -> Result<(), String> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set)
        .map_err(|e| format!("sched_setaffinity(CPU {cpu}): {e}"))
}

/// Nanoseconds on CPU of every thread of `pid` (`/proc/PID/task/*/schedstat`).
fn cpu_ns(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let mut total = 0;
    for entry in fs::read_dir(&dir)
        .map_err(|e| format!("{dir}: {e}"))?
        .flatten()
    {
        let s = fs::read_to_string(entry.path().join("schedstat")).unwrap_or_default();
        total += s
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}

// ---------------------------------------------------------------------------------------
// Brokers.

struct Broker {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    _dir: Option<TempDir>,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.child.id() as i32).expect("a child pid"),
            rustix::process::Signal::TERM,
        );
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn pinned(program: &Path) -> Command {
    let mut cmd = Command::new("taskset");
    cmd.arg("-c").arg("0").arg(program);
    cmd
}

fn start_ours() -> Result<Broker, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = pinned(&me)
        .args(["--serve", "--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start our broker: {e}"))?;
    let stdout = child.stdout.take().expect("piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("our broker printed {line:?}"))?;
    Ok(Broker {
        name: "ours",
        child,
        addr,
        _dir: None,
    })
}

fn start_mosquitto() -> Result<Broker, String> {
    let program = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or("mosquitto is not installed (Debian's mosquitto)")?;
    let dir = std::env::temp_dir().join(format!("mqtt-bench-{}", std::process::id()));
    fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let dir = TempDir(dir);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let user = if rustix::process::geteuid().is_root() {
        "user root\n"
    } else {
        ""
    };
    let conf = dir.0.join("mosquitto.conf");
    fs::write(
        &conf,
        format!(
            "{user}persistence false\nlog_dest none\nlistener {port} 127.0.0.1\n\
             allow_anonymous true\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let child = pinned(&program)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start mosquitto: {e}"))?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let broker = Broker {
        name: "mosquitto",
        child,
        addr,
        _dir: Some(dir),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err("mosquitto did not listen within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(broker)
}

// ---------------------------------------------------------------------------------------
// The load.

fn encode<'m>(msg: impl Into<mqtt::ClientMessage<'m>>, out: &mut Vec<u8>) {
    msg.into().encode(out).expect("encode a client packet");
}

fn connect_packet(client_id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    encode(
        mqtt::Connect {
            level: 4,
            username: 0,
            password: 0,
            will_retain: 0,
            will_qos: 0,
            will: 0,
            clean_session: 1,
            keep_alive: 0,
            client_id: client_id.as_bytes(),
            will_topic: None,
            will_message: None,
            user: None,
            pass: None,
        },
        &mut out,
    );
    out
}

/// Reads one packet (blocking), cut by the generated decoder.
fn read_packet(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        s.read_exact(&mut byte)?;
        buf.push(byte[0]);
        let mut dec = mqtt::ServerMessage::decoder();
        match dec.decode(&buf, mqtt::SERVER_MESSAGES_ALL) {
            Ok(Decoded::Message { .. }) => return Ok(buf),
            Ok(_) => {}
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
}

struct Sub {
    s: TcpStream,
    /// Bytes of a packet not yet whole.
    partial: usize,
    received: u64,
}

struct Load {
    publisher: TcpStream,
    subs: Vec<Sub>,
    /// One encoded PUBLISH, and its size: every delivered packet is that one.
    packet: Vec<u8>,
    published: u64,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Load {
    fn connect(addr: SocketAddr, o: &Options) -> Result<Load, String> {
        let err = |e: io::Error| format!("{addr}: {e}");
        let mut subs = Vec::new();
        for i in 0..o.subs {
            let mut s = TcpStream::connect(addr).map_err(err)?;
            s.set_nodelay(true).map_err(err)?;
            s.write_all(&connect_packet(&format!("bench-sub-{i}")))
                .map_err(err)?;
            let connack = read_packet(&mut s).map_err(err)?;
            if connack != [0x20, 2, 0, 0] {
                return Err(format!("CONNACK {connack:?}"));
            }
            let mut out = Vec::new();
            encode(
                mqtt::Subscribe {
                    packet_id: 1,
                    filters: Seq::from(&[mqtt::SubscribeFilters {
                        filter: TOPIC.as_bytes(),
                        qos: 0,
                    }]),
                },
                &mut out,
            );
            s.write_all(&out).map_err(err)?;
            let suback = read_packet(&mut s).map_err(err)?;
            if suback != [0x90, 3, 0, 1, 0] {
                return Err(format!("SUBACK {suback:?}"));
            }
            s.set_nonblocking(true).map_err(err)?;
            subs.push(Sub {
                s,
                partial: 0,
                received: 0,
            });
        }
        let mut publisher = TcpStream::connect(addr).map_err(err)?;
        publisher.set_nodelay(true).map_err(err)?;
        publisher
            .write_all(&connect_packet("bench-pub"))
            .map_err(err)?;
        read_packet(&mut publisher).map_err(err)?;
        publisher.set_nonblocking(true).map_err(err)?;
        let mut packet = Vec::new();
        encode(
            mqtt::Publish {
                dup: 0,
                qos: 0,
                retain: 0,
                topic: TOPIC.as_bytes(),
                packet_id: None,
                payload: &[b'm'; PAYLOAD],
            },
            &mut packet,
        );
        Ok(Load {
            publisher,
            subs,
            packet,
            published: 0,
            out: Vec::new(),
            buf: vec![0; 256 * 1024],
        })
    }

    fn delivered(&self) -> u64 {
        self.subs.iter().map(|s| s.received).sum()
    }

    /// Publishes for `secs` at most `window` messages ahead of the slowest subscriber (0:
    /// none, waiting for every subscriber to catch up). Returns the messages delivered and
    /// the time it took.
    fn run(&mut self, secs: Duration, window: u64) -> Result<(u64, Duration), String> {
        let start = Instant::now();
        let before = self.delivered();
        let mut last_progress = Instant::now();
        loop {
            let now = Instant::now();
            let publishing = now < start + secs;
            let slowest = self.subs.iter().map(|s| s.received).min().unwrap_or(0);
            if !publishing && self.out.is_empty() && slowest == self.published {
                break;
            }
            if now > last_progress + STALL {
                return Err(format!(
                    "no message for {STALL:?}: published {}, slowest subscriber {slowest}",
                    self.published
                ));
            }
            while publishing && self.published - slowest < window && self.out.len() < 64 * 1024 {
                self.out.extend_from_slice(&self.packet);
                self.published += 1;
            }
            if !self.out.is_empty() {
                match self.publisher.write(&self.out) {
                    Ok(n) => {
                        self.out.drain(..n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("publisher: {e}")),
                }
            }
            let mut fds: Vec<PollFd<'_>> = self
                .subs
                .iter()
                .map(|s| PollFd::new(&s.s, PollFlags::IN))
                .collect();
            if !self.out.is_empty() {
                fds.push(PollFd::from_borrowed_fd(
                    self.publisher.as_fd(),
                    PollFlags::OUT,
                ));
            }
            let timeout = Timespec {
                tv_sec: 0,
                tv_nsec: 50_000_000,
            };
            poll(&mut fds, Some(&timeout)).map_err(|e| format!("poll: {e}"))?;
            let ready: Vec<bool> = fds[..self.subs.len()]
                .iter()
                .map(|f| !f.revents().is_empty())
                .collect();
            drop(fds);
            let size = self.packet.len();
            for (sub, ready) in self.subs.iter_mut().zip(ready) {
                if !ready {
                    continue;
                }
                loop {
                    match sub.s.read(&mut self.buf) {
                        Ok(0) => return Err("a subscriber was disconnected".into()),
                        Ok(n) => {
                            // Every packet is the one published: check every byte.
                            let mut at = sub.partial;
                            for chunk in self.buf[..n].chunks(size) {
                                let mut rest = chunk;
                                while !rest.is_empty() {
                                    let take = rest.len().min(size - at);
                                    if rest[..take] != self.packet[at..at + take] {
                                        return Err(format!(
                                            "a subscriber got bytes that are not the message: {:?}",
                                            &rest[..take]
                                        ));
                                    }
                                    at = (at + take) % size;
                                    rest = &rest[take..];
                                }
                            }
                            let total = sub.partial + n;
                            sub.received += (total / size) as u64;
                            sub.partial = total % size;
                            last_progress = Instant::now();
                            if n < self.buf.len() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(format!("subscriber: {e}")),
                    }
                }
            }
        }
        Ok((self.delivered() - before, start.elapsed()))
    }
}

// ---------------------------------------------------------------------------------------
// The benchmark.

struct Sample {
    per_sec: f64,
    ns_per_msg: f64,
    /// The broker's CPU time over the slice's time.
    busy: f64,
    /// The load generator's.
    load_busy: f64,
}

/// Nanoseconds on CPU of the calling thread.
fn own_cpu_ns() -> u64 {
    fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn slice(broker: &Broker, load: &mut Load, o: &Options) -> Result<Sample, String> {
    // Unmeasured load first, so the slice starts in a steady state; then the measured
    // part, ended with every message delivered (not counted in the time).
    load.run(o.settle, o.window)?;
    let cpu0 = cpu_ns(broker.child.id())?;
    let own0 = own_cpu_ns();
    let t0 = Instant::now();
    let before = load.delivered();
    load.run(o.slice, o.window)?;
    let elapsed = t0.elapsed();
    let cpu = cpu_ns(broker.child.id())? - cpu0;
    let own = own_cpu_ns() - own0;
    let n = load.delivered() - before;
    Ok(Sample {
        per_sec: n as f64 / elapsed.as_secs_f64(),
        ns_per_msg: cpu as f64 / n as f64,
        busy: cpu as f64 / elapsed.as_nanos() as f64,
        load_busy: own as f64 / elapsed.as_nanos() as f64,
    })
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.25), at(0.75))
}

fn bench(o: &Options) -> Result<(), String> {
    pin_self(1)?;
    let brokers = [start_ours()?, start_mosquitto()?];
    let mut loads = Vec::new();
    for b in &brokers {
        loads.push(Load::connect(b.addr, o)?);
    }
    println!(
        "MQTT fan-out: 1 publisher, {} subscribers, QoS 0, {PAYLOAD}-byte payloads on {TOPIC:?}, \
         at most {} messages ahead of the slowest subscriber",
        o.subs, o.window
    );
    println!(
        "brokers on CPU 0 (taskset -c 0), load generator on CPU 1; {} cycles of {:.2} s slices",
        o.cycles,
        o.slice.as_secs_f64()
    );
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(), Vec::new()];
    for cycle in 0..o.cycles {
        let order: [usize; 2] = if cycle % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            samples[i].push(slice(&brokers[i], &mut loads[i], o)?);
        }
    }
    println!();
    println!("| broker | messages delivered/s | broker µs CPU / message | broker CPU busy | load generator CPU busy |");
    println!("|---|---|---|---|---|");
    for (b, s) in brokers.iter().zip(&samples) {
        let (rate, _, _) = percentiles(s.iter().map(|x| x.per_sec).collect());
        let (cpu, _, _) = percentiles(s.iter().map(|x| x.ns_per_msg).collect());
        let (busy, _, _) = percentiles(s.iter().map(|x| x.busy).collect());
        let (load_busy, _, _) = percentiles(s.iter().map(|x| x.load_busy).collect());
        println!(
            "| {} | {rate:.0} | {:.3} | {:.0}% | {:.0}% |",
            b.name,
            cpu / 1000.0,
            busy * 100.0,
            load_busy * 100.0
        );
    }
    let ratio = |f: fn(&Sample) -> f64| {
        percentiles(
            samples[0]
                .iter()
                .zip(&samples[1])
                .map(|(a, b)| f(a) / f(b))
                .collect(),
        )
    };
    let (t, t25, t75) = ratio(|s| s.per_sec);
    let (c, c25, c75) = ratio(|s| s.ns_per_msg);
    println!();
    println!("ours / mosquitto, median over cycles [25th-75th percentile]:");
    println!("  throughput:          {t:.3} [{t25:.3}-{t75:.3}]");
    println!("  CPU per message:     {c:.3} [{c25:.3}-{c75:.3}]");
    Ok(())
}
