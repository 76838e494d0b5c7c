//! The real load tools the `peers` benchmark drives, and what it reads from their output:
//! `redis-benchmark --csv`, `memcaslap`, `wrk --latency`, and Postfix's `smtp-source`.
//! A figure a tool does not print stays `None` (shown as n/a): nothing is made up.
//!
//! The including crate declares `mod common` and `mod servers` beside this module.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::installed;
use crate::servers::Pinning;

/// The load tools found on this machine.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tools {
    pub(crate) redis_benchmark: Option<PathBuf>,
    pub(crate) memcaslap: Option<PathBuf>,
    pub(crate) wrk: Option<PathBuf>,
    pub(crate) smtp_source: Option<PathBuf>,
    pub(crate) smtp_sink: Option<PathBuf>,
}

impl Tools {
    pub(crate) fn find() -> Tools {
        Tools {
            redis_benchmark: installed("redis-benchmark", &[]),
            memcaslap: installed("memcaslap", &["/usr/bin/memcaslap"]),
            wrk: installed("wrk", &[]),
            smtp_source: installed("smtp-source", &["/usr/sbin/smtp-source"]),
            smtp_sink: installed("smtp-sink", &["/usr/sbin/smtp-sink"]),
        }
    }
}

/// What one run of a load tool reported.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome {
    /// Requests (operations, messages) the tool completed.
    pub(crate) requests: u64,
    /// Its throughput, per second.
    pub(crate) rate: f64,
    /// Median latency in milliseconds, where the tool reports it.
    pub(crate) p50_ms: Option<f64>,
    /// 99th-percentile latency in milliseconds, where the tool reports it.
    pub(crate) p99_ms: Option<f64>,
}

/// One load: a load tool and its settings.
#[derive(Debug, Clone)]
pub(crate) enum Load {
    /// `redis-benchmark -t TEST -P PIPELINE -n N -c CLIENTS --csv`.
    Redis {
        test: &'static str,
        pipeline: u32,
        requests: u64,
        clients: u32,
    },
    /// `memcaslap -T THREADS -c CONCURRENCY -t SECSs [-d KEYS]`: its default mix, 90%
    /// gets and 10% sets of 1,024-byte values; with `keys` > 1 each get asks for that
    /// many keys at once, and memcaslap counts every key as one operation.
    Memcaslap {
        secs: u32,
        threads: u32,
        concurrency: u32,
        keys: u32,
    },
    /// `wrk -t THREADS -c CONNS -d SECSs --latency URL`, keep-alive connections; with
    /// `tls`, `https://localhost:PORT/...` (wrk sends the URL's host as the server name,
    /// and rustls ignores an IP address there with a warning per connection).
    Wrk {
        path: &'static str,
        secs: u32,
        threads: u32,
        conns: u32,
        tls: bool,
    },
    /// `smtp-source -s SESSIONS -m MESSAGES -l SIZE -d`: sessions in parallel, each
    /// sending message after message on its connection; timed here.
    SmtpSource {
        messages: u64,
        sessions: u32,
        size: u32,
    },
}

impl Load {
    /// A short name for tables: `SET P16`, `get 10 keys`, `13 B file`...
    pub(crate) fn label(&self) -> String {
        match self {
            Load::Redis { test, pipeline, .. } => format!("{test} P{pipeline}"),
            Load::Memcaslap { keys: 1, .. } => "memcaslap 90% get".into(),
            Load::Memcaslap { keys, .. } => format!("multi-get, {keys} keys"),
            Load::Wrk { path, .. } => format!("GET {path}"),
            Load::SmtpSource { size, .. } => format!("{size}-byte messages"),
        }
    }

    /// The command line, for the output's description of a row.
    pub(crate) fn describe(&self) -> String {
        match self {
            Load::Redis {
                test,
                pipeline,
                requests,
                clients,
            } => format!(
                "redis-benchmark -t {} -P {pipeline} -n {requests} -c {clients} --csv",
                test.to_ascii_lowercase()
            ),
            Load::Memcaslap {
                secs,
                threads,
                concurrency,
                keys,
            } => format!(
                "memcaslap -T {threads} -c {concurrency} -t {secs}s{}",
                if *keys > 1 {
                    format!(" -d {keys}")
                } else {
                    String::new()
                }
            ),
            Load::Wrk {
                path,
                secs,
                threads,
                conns,
                tls,
            } => format!(
                "wrk -t {threads} -c {conns} -d {secs}s --latency {}{path}",
                if *tls {
                    "https://localhost:PORT"
                } else {
                    "URL"
                }
            ),
            Load::SmtpSource {
                messages,
                sessions,
                size,
            } => format!("smtp-source -s {sessions} -m {messages} -l {size} -d"),
        }
    }

    /// What a request is, for the CPU column.
    pub(crate) fn unit(&self) -> &'static str {
        match self {
            Load::Redis { .. } => "command",
            Load::Memcaslap { keys: 1, .. } => "operation",
            Load::Memcaslap { .. } => "key",
            Load::Wrk { .. } => "request",
            Load::SmtpSource { .. } => "message",
        }
    }

    /// Runs the load against `addr` through `taskset -c cpus`, and reads its output.
    pub(crate) fn run(
        &self,
        tools: &Tools,
        pin: &Pinning,
        cpus: &str,
        addr: SocketAddr,
    ) -> Result<Outcome, String> {
        let need = |tool: &Option<PathBuf>, name: &str| -> Result<PathBuf, String> {
            tool.clone()
                .ok_or_else(|| format!("{name} is not installed"))
        };
        let (host, port) = (addr.ip().to_string(), addr.port().to_string());
        match self {
            Load::Redis {
                test,
                pipeline,
                requests,
                clients,
            } => {
                let mut cmd = pin.command(cpus, &need(&tools.redis_benchmark, "redis-benchmark")?);
                cmd.args(["-h", &host, "-p", &port, "-t", &test.to_ascii_lowercase()])
                    .args(["-P", &pipeline.to_string(), "-n", &requests.to_string()])
                    .args(["-c", &clients.to_string(), "--csv"]);
                let out = output(cmd)?;
                parse_redis_csv(&out, test, *requests)
            }
            Load::Memcaslap {
                secs,
                threads,
                concurrency,
                keys,
            } => {
                let mut cmd = pin.command(cpus, &need(&tools.memcaslap, "memcaslap")?);
                cmd.arg("-s").arg(addr.to_string());
                cmd.args(["-T", &threads.to_string(), "-c", &concurrency.to_string()])
                    .args(["-t", &format!("{secs}s")]);
                if *keys > 1 {
                    cmd.args(["-d", &keys.to_string()]);
                }
                parse_memcaslap(&output(cmd)?)
            }
            Load::Wrk {
                path,
                secs,
                threads,
                conns,
                tls,
            } => {
                let mut cmd = pin.command(cpus, &need(&tools.wrk, "wrk")?);
                cmd.args(["-t", &threads.to_string(), "-c", &conns.to_string()])
                    .args(["-d", &format!("{secs}s"), "--latency"]);
                if *tls {
                    cmd.arg(format!("https://localhost:{port}{path}"));
                } else {
                    cmd.arg(format!("http://{addr}{path}"));
                }
                parse_wrk(&output(cmd)?)
            }
            Load::SmtpSource {
                messages,
                sessions,
                size,
            } => {
                let mut cmd = pin.command(cpus, &need(&tools.smtp_source, "smtp-source")?);
                cmd.args(["-s", &sessions.to_string(), "-m", &messages.to_string()])
                    .args(["-l", &size.to_string(), "-d"])
                    .args(["-f", "bench@localhost", "-t", "sink@localhost"])
                    .arg(format!("{host}:{port}"));
                let t0 = Instant::now();
                output(cmd)?;
                let secs = t0.elapsed().as_secs_f64();
                Ok(Outcome {
                    requests: *messages,
                    rate: *messages as f64 / secs,
                    p50_ms: None,
                    p99_ms: None,
                })
            }
        }
    }
}

/// Runs `cmd` to its end; its standard output, or why it failed.
fn output(mut cmd: Command) -> Result<String, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "{program} failed ({}): {} {}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(stdout)
}

/// The row of `test` in `redis-benchmark --csv` output (Redis 7.0: `"test","rps",
/// "avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms",
/// "max_latency_ms"`).
fn parse_redis_csv(out: &str, test: &str, requests: u64) -> Result<Outcome, String> {
    let fields = |line: &str| -> Vec<String> {
        line.split(',')
            .map(|f| f.trim().trim_matches('"').to_string())
            .collect()
    };
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let header = fields(lines.next().ok_or("redis-benchmark printed nothing")?);
    let col = |name: &str| header.iter().position(|h| h == name);
    let row = lines
        .map(fields)
        .find(|f| f.first().is_some_and(|t| t.starts_with(test)))
        .ok_or_else(|| format!("redis-benchmark printed no {test} row: {out}"))?;
    let num = |name: &str| -> Option<f64> { row.get(col(name)?)?.parse().ok() };
    Ok(Outcome {
        requests,
        rate: num("rps").ok_or_else(|| format!("no rps in {row:?}"))?,
        p50_ms: num("p50_latency_ms"),
        p99_ms: num("p99_latency_ms"),
    })
}

/// memcaslap's closing line: `Run time: 2.0s Ops: 96558 TPS: 48181 Net_rate: 53.9M/s`.
/// It prints no latency percentiles.
fn parse_memcaslap(out: &str) -> Result<Outcome, String> {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("Run time:"))
        .ok_or_else(|| format!("no `Run time:` line from memcaslap: {out}"))?;
    let after = |key: &str| -> Option<f64> {
        line.split(key)
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    let requests = after("Ops:").ok_or_else(|| format!("no Ops in `{line}`"))? as u64;
    if requests == 0 {
        return Err(format!("memcaslap completed no operation: {out}"));
    }
    Ok(Outcome {
        requests,
        rate: after("TPS:").ok_or_else(|| format!("no TPS in `{line}`"))?,
        p50_ms: None,
        p99_ms: None,
    })
}

/// wrk's report: `N requests in ...`, `Requests/sec: R`, and with `--latency` the
/// `50%` and `99%` lines of its latency distribution. A response other than 2xx/3xx or a
/// socket error fails the run.
fn parse_wrk(out: &str) -> Result<Outcome, String> {
    if let Some(line) = out
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        return Err(format!("wrk: {}", line.trim()));
    }
    let requests = out
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("no `requests in` line from wrk: {out}"))?;
    let rate = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("no `Requests/sec:` line from wrk: {out}"))?;
    let percentile = |p: &str| -> Option<f64> {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(p))
            .and_then(|v| duration_ms(v.trim()))
    };
    Ok(Outcome {
        requests,
        rate,
        p50_ms: percentile("50%"),
        p99_ms: percentile("99%"),
    })
}

/// wrk's durations: `812.00us`, `1.45ms`, `1.02s`, `2.00m`.
fn duration_ms(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = v.split_at(split);
    let num: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => num / 1e3,
        "ms" => num,
        "s" => num * 1e3,
        "m" => num * 60e3,
        _ => return None,
    })
}

/// The TLS a server at `addr` negotiates with OpenSSL's client defaults, as wrk's: the
/// protocol, suite and key exchange that `openssl s_client -brief` prints
/// (`TLSv1.3, TLS_AES_256_GCM_SHA384, X25519`).
pub(crate) fn tls_handshake(addr: SocketAddr) -> Result<String, String> {
    let openssl = installed("openssl", &[]).ok_or("openssl is not installed")?;
    let out = Command::new(openssl)
        .args(["s_client", "-brief", "-servername", "localhost", "-connect"])
        .arg(addr.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("openssl s_client: {e}"))?;
    // -brief reports the session on standard error.
    let text = String::from_utf8_lossy(&out.stderr);
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .map(|v| v.trim().split(',').next().unwrap_or("").trim().to_string())
    };
    match (
        field("Protocol version:"),
        field("Ciphersuite:"),
        field("Server Temp Key:"),
    ) {
        (Some(version), Some(suite), kx) => Ok(format!(
            "{version}, {suite}, {}",
            kx.unwrap_or_else(|| "key exchange not printed".into())
        )),
        _ => Err(format!("openssl s_client: no handshake: {}", text.trim())),
    }
}

/// Where the smtp-source and smtp-sink programs are when missing: how to get them.
pub(crate) const POSTFIX_HINT: &str =
    "Postfix's smtp-source and smtp-sink are not installed (Debian: `apt-get install postfix`, \
     they land in /usr/sbin; with a policy-rc.d that exits 101 the mail service does not start)";
