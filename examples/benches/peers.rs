//! Our servers against the real servers they replace, driven by the real load tools, in
//! one run: throughput, p50/p99 latency and server CPU per request, each as a ratio
//! ours / peer with its spread.
//!
//! ```text
//! cargo bench -p asyncore-examples --bench peers                      # about 14 minutes
//! cargo bench -p asyncore-examples --bench peers -- --quick           # about 2 minutes
//! cargo bench -p asyncore-examples --bench peers -- --only resp,memcache
//! ```
//!
//! Rows (names for `--only`):
//!
//! * `resp`: `resp-server` against `redis-server`, `redis-benchmark` SET, GET, INCR,
//!   LPUSH and MSET (10 keys), 50 clients, without pipelining (P1) and 16 commands per
//!   pipeline (P16);
//! * `memcache`: `memcache-server` against `memcached -t 1`, `memcaslap`'s default mix
//!   (90% get, 10% set, 1 KiB values) and a multi-get load (`-d 10`, ten keys per get);
//! * `http`: `http-server --root DIR` against nginx with one worker, `wrk` on keep-alive
//!   connections fetching a 13-byte file and a 64 KiB file;
//! * `https`: the same loads over TLS, `http-server --root DIR --tls-cert C --tls-key K`
//!   against nginx with one worker and `listen ... ssl`, both with one certificate (ECDSA
//!   P-256 for `localhost`, made with `rcgen` when the benchmark starts, in a temporary
//!   directory), `wrk https://localhost:PORT/...`. The suite is TLS 1.3's
//!   `TLS_AES_256_GCM_SHA384` on both: nginx is pinned to it (`ssl_protocols TLSv1.3;
//!   ssl_conf_command Ciphersuites ...`); `http-server` takes no option for it, and
//!   rustls (ring provider: AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305) follows the
//!   client's order, whose first is this suite in OpenSSL, wrk's library. What each
//!   server negotiates is printed before measuring (`openssl s_client -brief`). Neither
//!   side uses `sendfile` here: nginx runs without kTLS (its default), and ours encrypts
//!   what it reads. The goal printed next to the ratios: at least 1.0× nginx's requests
//!   per second, at most 1.0× its CPU per request;
//! * `smtp`: `smtp-server` against Postfix's `smtp-sink`, messages per second sent by
//!   Postfix's `smtp-source`. The two Postfix tools are not part of the usual peers: on
//!   Debian `apt-get install postfix` brings them (in `/usr/sbin`; put
//!   `printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d` first so that the mail
//!   service does not start). Without them the row is skipped with that reason;
//! * `memcache-2core`, `http-2core` (or `2core` for both): the same loads on two cores,
//!   `memcache-server --threads 2` against `memcached -t 2` and `http-server --threads 2`
//!   against nginx with two workers, servers and load tool all on CPUs 0 and 1; the
//!   share of the server's CPU each thread (or worker process) took is printed, which
//!   shows how evenly our `SpreadGroup` (connections dealt to the loops in turn),
//!   memcached's dispatcher thread and nginx's shared listening socket spread the work;
//! * `echo`: `examples/benches/echo.rs`, included here as a module and run with fewer
//!   cycles: the raw echo and the two line echo servers (`AsyncChat`, and the one
//!   generated from `echo.aproto`) against a C epoll server and tokio (`--bench echo` for
//!   the full run and its documentation, `examples/benches/README-bench.md`);
//! * `memory`: resident memory per idle connection with 10,000 idle connections, ours
//!   against redis-server, memcached and nginx (the measurement of `--bench idle_memory`,
//!   shared through `support/idle.rs`; that benchmark also measures after a request,
//!   after close, and slow connections).
//!
//! How it measures: every server is its own process, started once per row through
//! `taskset -c 0` (two-core rows: `-c 0,1`), and listens on 127.0.0.1 (ours on port 0,
//! read from its `listening on` line; the peers on a free port picked here). The load
//! tool runs through `taskset -c 1` (two-core rows: `-c 0,1`). A round runs every load of
//! the row once against each server, ours and the peer in a shuffled order, so that the
//! drift of a shared machine hits both alike; a ratio ours / peer is taken within each
//! round, and the median and the 25th–75th percentile of those ratios are printed. Server
//! CPU per request is the growth of the CPU time of every thread of the server (and of
//! its worker processes) over the tool's run, from `/proc/PID/task/*/schedstat` (utime +
//! stime of `stat` where schedstat is missing), divided by the requests the tool reports.
//! Throughput, p50 and p99 are the tool's own figures (`redis-benchmark --csv`, `wrk
//! --latency`); memcaslap and smtp-source print no percentiles, shown as n/a.
//! smtp-source prints no rate either: its messages over its running time are taken.
//!
//! Options (after `--`): `--quick` (2 rounds, shorter loads, 2,000 idle connections),
//! `--rounds N` [8], `--only NAMES`, `--seed N` (the shuffled order), `--conns N` idle
//! connections for the memory row [10000]. The `--bench` that cargo passes is ignored.

#[path = "support/common.rs"]
mod common;
// Its `main` and load-only mode are not used here.
#[allow(dead_code)]
#[path = "echo.rs"]
mod echo;
#[path = "support/idle.rs"]
mod idle;
#[path = "support/servers.rs"]
mod servers;
#[path = "support/stats.rs"]
mod stats;
#[path = "support/tools.rs"]
mod tools;

use std::fs;
use std::path::PathBuf;

use servers::{peers, Cpu, Pinning, Server};
use stats::{thousands, Dist, Figure, Pairs, Rng, Sample};
use tools::{Load, Tools};

/// The rows, in the order they run.
const ROWS: [&str; 9] = [
    "resp",
    "memcache",
    "http",
    "https",
    "smtp",
    "memcache-2core",
    "http-2core",
    "echo",
    "memory",
];

/// Our servers in the memory row.
const MEMORY_OURS: [&str; 4] = [
    "resp-server",
    "memcache-server",
    "http-server",
    "smtp-server",
];

/// The files `http-server --root` and nginx serve.
const SMALL: &str = "/13b.txt";
const LARGE: &str = "/64k.bin";

/// The one TLS 1.3 suite of the https row (OpenSSL's name; nginx is pinned to it).
const TLS_SUITE: &str = "TLS_AES_256_GCM_SHA384";

#[derive(Debug, Clone)]
struct Opts {
    quick: bool,
    rounds: usize,
    only: Option<Vec<String>>,
    seed: u64,
    conns: usize,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            quick: false,
            rounds: 0,
            only: None,
            seed: stats::seed_from_clock(),
            conns: 0,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().cloned().ok_or(format!("{a} needs a value"));
            let num = |v: String| v.parse::<u64>().map_err(|e| format!("{a} `{v}`: {e}"));
            match a.as_str() {
                "--quick" => o.quick = true,
                "--rounds" => o.rounds = num(val()?)? as usize,
                "--seed" => o.seed = num(val()?)?,
                "--conns" => o.conns = num(val()?)? as usize,
                "--only" => {
                    let mut names = Vec::new();
                    for n in val()?.split(',') {
                        match n {
                            "2core" => {
                                names.extend(["memcache-2core", "http-2core"].map(String::from))
                            }
                            n if ROWS.contains(&n) => names.push(n.to_string()),
                            n => {
                                return Err(format!(
                                    "--only: no row `{n}` (rows: {})",
                                    ROWS.join(", ")
                                ))
                            }
                        }
                    }
                    o.only = Some(names);
                }
                "--help" | "-h" => {
                    println!(
                        "Our servers against their peers.\n\nOptions:\n  \
                         --quick       smoke run: 2 rounds, shorter loads, 2,000 idle connections\n  \
                         --rounds N    rounds per row [8]\n  \
                         --only A,B    only these rows ({}, 2core)\n  \
                         --seed N      seed of the shuffled order [from the clock]\n  \
                         --conns N     idle connections of the memory row [10000]",
                        ROWS.join(", ")
                    );
                    std::process::exit(0);
                }
                _ => eprintln!("peers bench: ignoring argument `{a}`"),
            }
        }
        if o.rounds == 0 {
            o.rounds = if o.quick { 2 } else { 8 };
        }
        if o.conns == 0 {
            o.conns = if o.quick { 2_000 } else { 10_000 };
        }
        if o.rounds > 1000 || o.conns > 20_000 {
            return Err("--rounds takes 1..=1000 and --conns 1..=20000".into());
        }
        Ok(o)
    }

    fn wants(&self, row: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|l| l.iter().any(|n| n == row))
    }
}

fn main() {
    // cargo passes `--bench` to harness = false benchmarks.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    // The echo row re-executes this binary to start its servers.
    if args.first().map(String::as_str) == Some("--serve") {
        std::process::exit(echo::serve_mode(args));
    }
    let opts = match Opts::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("peers bench: {e}");
            std::process::exit(2);
        }
    };
    asyncore_examples::server::raise_fd_limit();
    let examples = common::build_examples();
    let pin = Pinning::detect();
    let tools = Tools::find();
    let root = TempDir::new("peers-bench-root");
    fs::write(root.0.join(&SMALL[1..]), "Hello, world\n").expect("write the small file");
    let large: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    fs::write(root.0.join(&LARGE[1..]), large).expect("write the large file");

    println!("Our servers against their peers, driven by the real load tools");
    println!(
        "machine: {} cores, load average {}; {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg(),
        pin.note
    );
    println!(
        "{} rounds per row; a round runs each load once against ours and once against the \
         peer, in shuffled order (seed {}); ratios ours / peer are taken within a round, \
         then median [25th–75th percentile] over the rounds\n",
        opts.rounds, opts.seed
    );

    let tls = if opts.wants("https") {
        TlsFiles::make()
    } else {
        Err("not made".into())
    };
    let ctx = Ctx {
        examples,
        root: root.0.clone(),
        pin,
        tools,
        opts: opts.clone(),
        tls,
    };
    let mut rng = Rng::new(opts.seed);
    let mut summary: Vec<String> = Vec::new();
    for row in ROWS.iter().filter(|r| opts.wants(r)) {
        match *row {
            "echo" => run_echo(&opts),
            "memory" => {
                println!(
                    "== memory per idle connection (support/idle.rs, as --bench idle_memory) =="
                );
                idle::run(
                    &ctx.examples,
                    &MEMORY_OURS,
                    opts.conns,
                    idle::Steps::IdleOnly,
                    None,
                );
                println!();
            }
            _ => {
                let group = Group::new(row, opts.quick);
                match run_group(&group, &ctx, &mut rng) {
                    Ok(rows) => summary.extend(rows),
                    Err(e) => {
                        println!("{row}: skipped: {e}\n");
                        summary.push(format!("| {row} | skipped: {e} | | | | | | | | | |"));
                    }
                }
            }
        }
    }
    if !summary.is_empty() {
        println!(
            "== summary (ratios: ours / peer, median [25th–75th percentile] over the rounds) ==\n"
        );
        println!("{TABLE_HEAD}");
        for line in &summary {
            println!("{line}");
        }
        println!("\nload average at the end: {}", loadavg());
    }
}

/// What every row needs.
struct Ctx {
    examples: PathBuf,
    root: PathBuf,
    pin: Pinning,
    tools: Tools,
    opts: Opts,
    /// The certificate and key of the https row, or why there are none.
    tls: Result<TlsFiles, String>,
}

/// A self-signed certificate for `localhost` and 127.0.0.1 and its key (ECDSA P-256,
/// rcgen's default), as PEM files in a temporary directory removed at the end.
struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
    _dir: TempDir,
}

impl TlsFiles {
    fn make() -> Result<TlsFiles, String> {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .map_err(|e| format!("making a certificate: {e}"))?;
        let dir = TempDir::new("peers-bench-tls");
        let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
        fs::write(&cert, made.cert.pem()).map_err(|e| format!("{}: {e}", cert.display()))?;
        fs::write(&key, made.signing_key.serialize_pem())
            .map_err(|e| format!("{}: {e}", key.display()))?;
        Ok(TlsFiles {
            cert,
            key,
            _dir: dir,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Resp,
    Memcache,
    Http,
    Https,
    Smtp,
}

/// A row: our server and its peer, with `threads` loops (workers), and its loads.
struct Group {
    kind: Kind,
    threads: usize,
    loads: Vec<Load>,
    /// Print the goal next to the ratios: throughput at least 1.0×, CPU per request at
    /// most 1.0×.
    goal: bool,
}

impl Group {
    fn new(row: &str, quick: bool) -> Group {
        let (kind, threads) = match row {
            "resp" => (Kind::Resp, 1),
            "memcache" => (Kind::Memcache, 1),
            "http" => (Kind::Http, 1),
            "https" => (Kind::Https, 1),
            "smtp" => (Kind::Smtp, 1),
            "memcache-2core" => (Kind::Memcache, 2),
            "http-2core" => (Kind::Http, 2),
            _ => unreachable!("not a server row: {row}"),
        };
        let t = threads as u32;
        let loads = match kind {
            Kind::Resp => [1, 16]
                .into_iter()
                .flat_map(|pipeline| {
                    let requests = match (pipeline, quick) {
                        (1, true) => 10_000,
                        (1, false) => 30_000,
                        (_, true) => 100_000,
                        (_, false) => 300_000,
                    };
                    ["SET", "GET", "INCR", "LPUSH", "MSET"].map(|test| Load::Redis {
                        test,
                        pipeline,
                        requests,
                        clients: 50,
                    })
                })
                .collect(),
            Kind::Memcache => [1, 10]
                .map(|keys| Load::Memcaslap {
                    secs: 1,
                    threads: t,
                    concurrency: 16 * t,
                    keys,
                })
                .to_vec(),
            Kind::Http | Kind::Https => [SMALL, LARGE]
                .map(|path| Load::Wrk {
                    path,
                    secs: 1,
                    threads: t,
                    conns: 50 * t,
                    tls: kind == Kind::Https,
                })
                .to_vec(),
            Kind::Smtp => vec![Load::SmtpSource {
                messages: if quick { 3_000 } else { 10_000 },
                sessions: 20,
                size: 1024,
            }],
        };
        Group {
            kind,
            threads,
            loads,
            goal: kind == Kind::Https,
        }
    }

    /// The CPUs of the servers and of the load tool.
    fn cpus(&self) -> (&'static str, &'static str) {
        if self.threads > 1 {
            ("0,1", "0,1")
        } else {
            ("0", "1")
        }
    }

    fn start_ours(&self, ctx: &Ctx) -> Result<Server, String> {
        let program = match self.kind {
            Kind::Resp => "resp-server",
            Kind::Memcache => "memcache-server",
            Kind::Http | Kind::Https => "http-server",
            Kind::Smtp => "smtp-server",
        };
        let mut cmd = ctx.pin.command(self.cpus().0, &ctx.examples.join(program));
        cmd.args(["--listen", "127.0.0.1:0"]);
        let mut name = program.to_string();
        if self.threads > 1 {
            cmd.args(["--threads", &self.threads.to_string()]);
            name = format!("{name} --threads {}", self.threads);
        }
        if matches!(self.kind, Kind::Http | Kind::Https) {
            cmd.arg("--root").arg(&ctx.root);
        }
        if self.kind == Kind::Https {
            let tls = ctx.tls.as_ref()?;
            cmd.arg("--tls-cert").arg(&tls.cert);
            cmd.arg("--tls-key").arg(&tls.key);
            name = format!("{name} --tls-cert");
        }
        Server::ours(&name, cmd)
    }

    fn start_peer(&self, ctx: &Ctx) -> Result<Server, String> {
        let cpus = self.cpus().0;
        match self.kind {
            Kind::Resp => peers::redis(&ctx.pin, cpus),
            Kind::Memcache => peers::memcached(&ctx.pin, cpus, self.threads),
            Kind::Http => peers::nginx(&ctx.pin, cpus, self.threads, &ctx.root, None),
            Kind::Https => {
                let tls = ctx.tls.as_ref()?;
                let tls = peers::NginxTls {
                    cert: &tls.cert,
                    key: &tls.key,
                    suite: TLS_SUITE,
                };
                peers::nginx(&ctx.pin, cpus, self.threads, &ctx.root, Some(&tls))
            }
            Kind::Smtp => match (&ctx.tools.smtp_sink, &ctx.tools.smtp_source) {
                (Some(sink), Some(_)) => peers::smtp_sink(&ctx.pin, cpus, sink),
                _ => Err(tools::POSTFIX_HINT.into()),
            },
        }
    }

    /// Why the row can not run here, if it can not.
    fn missing_tool(&self, tools: &Tools) -> Option<String> {
        let (tool, name) = match self.kind {
            Kind::Resp => (&tools.redis_benchmark, "redis-benchmark"),
            Kind::Memcache => (&tools.memcaslap, "memcaslap (Debian: libmemcached-tools)"),
            Kind::Http | Kind::Https => (&tools.wrk, "wrk"),
            Kind::Smtp if tools.smtp_sink.is_none() => return Some(tools::POSTFIX_HINT.into()),
            Kind::Smtp => (&tools.smtp_source, "smtp-source"),
        };
        tool.is_none().then(|| format!("{name} is not installed"))
    }
}

/// One run of `load` against `server`, with the server's CPU over it.
fn measure(load: &Load, server: &mut Server, ctx: &Ctx, tool_cpus: &str) -> Result<Sample, String> {
    server.check_alive()?;
    let before = server.cpu();
    let outcome = load
        .run(&ctx.tools, &ctx.pin, tool_cpus, server.addr)
        .map_err(|e| format!("{} against {}: {e}", load.label(), server.name))?;
    let cpu = server.cpu().since(&before);
    Ok(Sample { outcome, cpu })
}

/// Runs a row: both servers started once, `rounds` rounds of every load. Returns the
/// summary table's lines.
fn run_group(g: &Group, ctx: &Ctx, rng: &mut Rng) -> Result<Vec<String>, String> {
    if let Some(why) = g.missing_tool(&ctx.tools) {
        return Err(why);
    }
    let mut ours = g.start_ours(ctx)?;
    let mut peer = g.start_peer(ctx)?;
    let (server_cpus, tool_cpus) = g.cpus();
    println!(
        "== {} vs {} (servers on CPU {server_cpus}, load tool on CPU {tool_cpus}) ==",
        ours.name, peer.name
    );
    println!("  {} pid {} on {}", ours.name, ours.pid, ours.addr);
    println!("  {} pid {} on {}", peer.name, peer.pid, peer.addr);
    for load in &g.loads {
        println!("  load `{}`: {}", load.label(), load.describe());
    }
    if g.kind == Kind::Https {
        print_handshakes(&ours, &peer);
    }
    if !ctx.opts.quick {
        // Warm-up, not counted: the first load once against each.
        measure(&g.loads[0], &mut ours, ctx, tool_cpus)?;
        measure(&g.loads[0], &mut peer, ctx, tool_cpus)?;
    }
    let mut runs: Vec<Pairs> = vec![Pairs::default(); g.loads.len()];
    for round in 1..=ctx.opts.rounds {
        for (li, load) in g.loads.iter().enumerate() {
            let ours_first = rng.coin();
            let (o, p) = if ours_first {
                let o = measure(load, &mut ours, ctx, tool_cpus)?;
                (o, measure(load, &mut peer, ctx, tool_cpus)?)
            } else {
                let p = measure(load, &mut peer, ctx, tool_cpus)?;
                (measure(load, &mut ours, ctx, tool_cpus)?, p)
            };
            println!(
                "  round {round:>2}/{} {:<22} {} first: ours {:>9}/s {:>7.2} µs/{unit}, peer {:>9}/s \
                 {:>7.2} µs/{unit} → throughput {:.3}×, CPU {:.3}×",
                ctx.opts.rounds,
                load.label(),
                if ours_first { "ours" } else { "peer" },
                thousands(o.rate()),
                o.cpu_us(),
                thousands(p.rate()),
                p.cpu_us(),
                o.rate() / p.rate(),
                o.cpu_us() / p.cpu_us(),
                unit = load.unit(),
            );
            runs[li].0.push((o, p));
        }
    }
    println!();
    let title = format!("{} vs {}", ours.name, peer.name);
    let lines: Vec<String> = g
        .loads
        .iter()
        .zip(&runs)
        .map(|(load, pairs)| table_line(&title, load, pairs, g.goal))
        .collect();
    println!("{TABLE_HEAD}");
    for line in &lines {
        println!("{line}");
    }
    if g.threads > 1 {
        println!(
            "\n  per thread: share of each server's CPU over all rounds of a load (threads or \
             processes under 0.5% left out; two CPUs, so the ratios are what counts)"
        );
        for (load, pairs) in g.loads.iter().zip(&runs) {
            let (mut o, mut p) = (Cpu::default(), Cpu::default());
            for (os, ps) in &pairs.0 {
                o.add(&os.cpu);
                p.add(&ps.cpu);
            }
            println!(
                "  {:<22} {}: {}",
                load.label(),
                ours.name,
                shares(&o, g.threads)
            );
            println!("  {:<22} {}: {}", "", peer.name, shares(&p, g.threads));
        }
    }
    println!();
    Ok(lines)
}

const TABLE_HEAD: &str = "| ours vs peer | load | ours /s | peer /s | throughput ours/peer | p50 ms ours, peer | p50 ours/peer | p99 ms ours, peer | p99 ours/peer | server µs CPU per request: ours, peer | CPU ours/peer |\n\
                          |---|---|---|---|---|---|---|---|---|---|---|";

/// What the https row prints before measuring: the TLS each server negotiates with
/// OpenSSL's client defaults, the same as wrk's, and where the two differ.
fn print_handshakes(ours: &Server, peer: &Server) {
    println!(
        "  TLS: certificate ECDSA P-256 made with rcgen; nginx pinned to TLSv1.3 and \
         {TLS_SUITE}; http-server has no option for the suite (rustls follows the client's \
         order); no sendfile on either side (nginx without kTLS)"
    );
    let ours_tls = tools::tls_handshake(ours.addr);
    let peer_tls = tools::tls_handshake(peer.addr);
    for (server, tls) in [(ours, &ours_tls), (peer, &peer_tls)] {
        match tls {
            Ok(t) => println!("  {} negotiates {t} (openssl s_client)", server.name),
            Err(e) => println!("  {}: negotiated suite not checked: {e}", server.name),
        }
    }
    if let (Ok(o), Ok(p)) = (&ours_tls, &peer_tls) {
        if o != p {
            println!(
                "  warning: the two servers negotiate different TLS: the rows compare unlike work"
            );
        }
    }
}

/// One line of the table for one load; with `goal`, the goals next to the throughput
/// and CPU ratios.
fn table_line(title: &str, load: &Load, pairs: &Pairs, goal: bool) -> String {
    let ratio = |f: Figure| pairs.ratio(f).as_ref().map_or("n/a".into(), Dist::ratio);
    let (rate_goal, cpu_goal) = if goal {
        (" (goal ≥ 1.0×)", " (goal ≤ 1.0×)")
    } else {
        ("", "")
    };
    let both = |f: Figure, digits: usize| {
        let (o, p) = pairs.medians(f);
        let show = |v: Option<f64>| v.map_or("n/a".into(), |v| format!("{v:.digits$}"));
        if o.is_none() && p.is_none() {
            "n/a".to_string()
        } else {
            format!("{}, {}", show(o), show(p))
        }
    };
    let (o_rate, p_rate) = pairs.medians(stats::rate);
    format!(
        "| {title} | {} | {} | {} | **{}**{rate_goal} | {} | {} | {} | {} | {} per {} | **{}**{cpu_goal} |",
        load.label(),
        thousands(o_rate.unwrap_or(0.0)),
        thousands(p_rate.unwrap_or(0.0)),
        ratio(stats::rate),
        both(stats::p50, 3),
        ratio(stats::p50),
        both(stats::p99, 3),
        ratio(stats::p99),
        both(stats::cpu_us, 2),
        load.unit(),
        ratio(stats::cpu_us),
    )
}

/// `loop 1234/1236 49.1%, loop 1234/1237 50.2%, ...; the busiest of the 2 busiest
/// did 50.6% of their work`.
fn shares(cpu: &Cpu, threads: usize) -> String {
    let total = cpu.total().max(1) as f64;
    let mut busy: Vec<(String, f64)> = cpu
        .tasks
        .values()
        .map(|(name, ns)| (name.clone(), *ns as f64 / total))
        .filter(|t| t.1 >= 0.005)
        .collect();
    let list = busy
        .iter()
        .map(|(name, share)| format!("{name} {:.1}%", share * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    busy.sort_by(|a, b| b.1.total_cmp(&a.1));
    let top: Vec<f64> = busy.iter().take(threads).map(|t| t.1).collect();
    let sum: f64 = top.iter().sum();
    let busiest = top.first().copied().unwrap_or(0.0);
    let part = busiest / sum.max(f64::MIN_POSITIVE);
    let even = 1.0 / threads as f64;
    format!(
        "{list}; the busiest of the {threads} busiest did {:.1}% of their work ({:.1}% is even{})",
        part * 100.0,
        even * 100.0,
        if part > even * 1.2 { ": uneven" } else { "" }
    )
}

/// The echo row: `echo.rs`'s own benchmark, on its own thread (it pins the thread that
/// runs it to CPU 1).
fn run_echo(opts: &Opts) {
    println!("== echo (examples/benches/echo.rs; --bench echo for its full run) ==");
    let mut args: Vec<String> = if opts.quick {
        vec!["--quick".into()]
    } else {
        vec!["--cycles".into(), "15".into()]
    };
    args.extend(["--seed".into(), opts.seed.to_string()]);
    args.extend([
        "--only".into(),
        "ours-epoll,ours-chat,ours-proto,tokio,c-epoll".into(),
    ]);
    let result = echo::Opts::parse(&args).and_then(|o| {
        std::thread::spawn(move || echo::bench(&o))
            .join()
            .unwrap_or_else(|_| Err("the echo benchmark panicked".into()))
    });
    if let Err(e) = result {
        println!("echo: failed: {e}");
    }
    println!();
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A scratch directory, removed on drop.
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
