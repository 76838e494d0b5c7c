//! The RESP examples (`examples/resp_server.rs`, `examples/resp_client.rs`) against the
//! real Redis tools:
//!
//! * `redis-cli` runs one script of commands against `resp-server` and against a real
//!   `redis-server` started here; the replies must be the same (time-to-live values are
//!   compared as ranges, key listings as sets);
//! * keys expire on their own (no access needed) on both;
//! * `redis-benchmark -t ping,set,get,incr,mset -n 20000` completes against
//!   `resp-server` without an error, and leaves the counter it incremented at 20000;
//! * the `resp-client` library runs the same script against `redis-server` and prints
//!   every reply as `redis-cli` does; the `resp-client` program answers one command and
//!   commands from standard input;
//! * bad input (an over-long inline line, `*abc`, garbage, a bulk string cut short by a
//!   disconnect, an oversized bulk length) gets the protocol's error reply or a close,
//!   while another connection keeps being served, on every backend.
//!
//! The tests print `skipping: ...` and pass when the Redis tools are missing, unless
//! `ASYNCORE_REQUIRE_PEERS=1` is set.

#[macro_use]
#[path = "support/backends.rs"]
mod backends;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use asyncore_examples::resp_client::{run_script, split_args, Reply};
use asyncore_runtime::{Addr, Backend};

use support::{pseudo_random, Finished, Proc, Witness, HANG_GUARD};

/// Only a guard against hanging: redis-benchmark against a debug build on a busy
/// 2-core machine.
const BENCH_GUARD: Duration = Duration::from_secs(600);

// ===== peers and processes =====

fn have_redis_cli() -> bool {
    support::require_peer(
        "redis-cli (redis-tools)",
        support::runs_ok("redis-cli", "--version"),
    )
}

fn have_redis_server() -> bool {
    support::require_peer(
        "redis-server",
        support::runs_ok("redis-server", "--version"),
    )
}

fn have_redis_benchmark() -> bool {
    support::require_peer(
        "redis-benchmark (redis-tools)",
        support::runs_ok("redis-benchmark", "--version"),
    )
}

/// Starts the resp-server example on 127.0.0.1:0 with `backend`.
fn start_resp_server(backend: Backend, extra: &[&str]) -> (Proc, SocketAddr) {
    support::start_server("resp-server", backend.name(), extra)
}

/// SIGINT the server; it must exit 0 and must not have panicked.
fn stop(server: Proc) -> Finished {
    support::stop_server(server)
}

/// A real redis-server on a free port of 127.0.0.1, without persistence, with its
/// working directory in a temporary directory (removed on drop).
struct Redis {
    proc: Option<Proc>,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Redis {
    fn start() -> Redis {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("asyncore-resp-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a directory for redis-server");
        // The port is picked by binding port 0 and releasing it; another process may take
        // it in between, so try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("bind a free port")
                .port();
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--loglevel", "warning"])
                .current_dir(&dir);
            let mut proc = Proc::spawn(&format!("redis-server :{port}"), cmd);
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let deadline = Instant::now() + HANG_GUARD;
            while Instant::now() < deadline {
                if ping(addr) {
                    return Redis {
                        proc: Some(proc),
                        addr,
                        dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
                if proc_exited(&mut proc) {
                    break;
                }
            }
            let out = proc.finish(Duration::from_secs(1));
            last = out.transcript();
        }
        panic!("redis-server did not start\n{last}");
    }
}

/// Whether the process ended (it is then collected).
fn proc_exited(proc: &mut Proc) -> bool {
    // `finish` with a zero wait panics on a live process; probe with kill(0).
    let pid = rustix::process::Pid::from_raw(proc.pid() as i32).expect("a child pid");
    rustix::process::test_kill_process(pid).is_err()
        || std::fs::read_to_string(format!("/proc/{}/stat", proc.pid()))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
}

impl Drop for Redis {
    fn drop(&mut self) {
        drop(self.proc.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether a RESP server answers PING at `addr`.
fn ping(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// Runs `program args` with `input` on its standard input; its output once it exits
/// (killed, and the test failed, after `guard`).
fn run_with_input(program: &str, args: &[String], input: &[u8], guard: Duration) -> Finished {
    let (status, stdout, stderr) = support::run_with_input(program, args, input, guard);
    Finished {
        status,
        stdout: String::from_utf8_lossy(&stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

// ===== the script =====

/// How the replies of one command are compared.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Exactly the same output.
    Same,
    /// The same lines in any order (a key listing).
    Unordered,
    /// `(integer) N` with N in the range, on both.
    Range(i64, i64),
    /// Not compared (server-specific); ours must satisfy the predicate.
    Ours(fn(&[String]) -> bool),
}

use Check::*;

/// An empty array, or in RESP3 an empty map (`COMMAND DOCS`).
fn empty_array(l: &[String]) -> bool {
    l == ["(empty array)"] || l == ["(empty hash)"]
}

fn an_integer(l: &[String]) -> bool {
    l.len() == 1 && l[0].starts_with("(integer) ")
}

fn server_info(l: &[String]) -> bool {
    l.iter().any(|l| l.starts_with("redis_version:"))
        && l.iter().any(|l| l.starts_with("db0:keys="))
}

/// Commands in redis-cli's syntax, with how their replies are compared. Every command
/// named in the README row of `resp-server` appears, with its error cases.
const SCRIPT: &[(&str, Check)] = &[
    ("FLUSHALL", Same),
    ("PING", Same),
    ("PING hello", Same),
    ("ECHO \"hello world\"", Same),
    ("ECHO \"\\x00\\xff\\r\\n\"", Same),
    ("SET k1 v1", Same),
    ("GET k1", Same),
    ("GET nokey", Same),
    ("SET k1 v2 NX", Same),
    ("SET k1 v3 XX", Same),
    ("SET k2 v XX", Same),
    ("SET k2 v nx", Same),
    ("SET k1 v EX 0", Same),
    ("SET k1 v PX -5", Same),
    ("SET k1 v EX abc", Same),
    ("SET k1 v NX XX", Same),
    ("SET k1 v PX", Same),
    ("SET k1 v EX 10 PX 100", Same),
    ("SET k1 v KEEPTTL EX 10", Same),
    ("SET k1 v BOGUS", Same),
    ("SET k1 v GET", Same),
    ("SET vol v EX 100", Same),
    ("TTL vol", Range(98, 100)),
    ("PTTL vol", Range(98_000, 100_000)),
    ("SET vol v2 KEEPTTL", Same),
    ("TTL vol", Range(98, 100)),
    ("SET vol v3", Same),
    ("TTL vol", Same),
    ("EXPIRE vol 50", Same),
    ("TTL vol", Range(48, 50)),
    ("EXPIRE vol 60 NX", Same),
    ("EXPIRE vol 60 XX", Same),
    ("EXPIRE vol 10 GT", Same),
    ("EXPIRE vol 10 LT", Same),
    ("TTL vol", Range(8, 10)),
    ("EXPIRE vol 10 NX XX", Same),
    ("EXPIRE vol 10 GT LT", Same),
    ("EXPIRE vol 10 FOO", Same),
    ("EXPIRE vol abc", Same),
    ("EXPIRE vol 9223372036854775807", Same),
    ("PEXPIRE vol 20000", Same),
    ("PTTL vol", Range(18_000, 20_000)),
    ("PERSIST vol", Same),
    ("PERSIST vol", Same),
    ("PERSIST nokey", Same),
    ("TTL vol", Same),
    ("TTL nokey", Same),
    ("PTTL nokey", Same),
    ("EXPIRE nokey 10", Same),
    ("SET gone v", Same),
    ("EXPIRE gone -1", Same),
    ("EXISTS gone", Same),
    ("SETEX sx 100 v", Same),
    ("TTL sx", Range(98, 100)),
    ("SETEX sx 0 v", Same),
    ("PSETEX sx 1000 v", Same),
    ("SETNX sx other", Same),
    ("SETNX snx v", Same),
    ("GETSET k1 new", Same),
    ("GETSET newkey x", Same),
    ("GET k1", Same),
    ("DEL k1 newkey nokey", Same),
    ("EXISTS k2 k2 nokey", Same),
    ("SET n 10", Same),
    ("INCR n", Same),
    ("DECR n", Same),
    ("INCRBY n 5", Same),
    ("DECRBY n 20", Same),
    ("INCRBY n abc", Same),
    ("INCRBY n 1.5", Same),
    ("INCR newcounter", Same),
    ("DECR newcounter2", Same),
    ("SET big 9223372036854775807", Same),
    ("INCR big", Same),
    ("SET small -9223372036854775808", Same),
    ("DECR small", Same),
    ("DECRBY n -9223372036854775808", Same),
    ("SET s hello", Same),
    ("INCR s", Same),
    ("SET s \" 12\"", Same),
    ("INCR s", Same),
    ("SET s 007", Same),
    ("INCR s", Same),
    ("SET s +5", Same),
    ("INCR s", Same),
    ("SET s -0", Same),
    ("INCR s", Same),
    ("GET s", Same),
    ("APPEND app abc", Same),
    ("APPEND app \" def\"", Same),
    ("GET app", Same),
    ("STRLEN app", Same),
    ("STRLEN nokey", Same),
    ("MSET a 1 b 2 c 3", Same),
    ("MSET a", Same),
    ("MSET a 1 b", Same),
    ("MGET a b nokey c", Same),
    ("RPUSH list x y z", Same),
    ("LPUSH list w", Same),
    ("LRANGE list 0 -1", Same),
    ("LRANGE list 1 2", Same),
    ("LRANGE list -2 100", Same),
    ("LRANGE list 5 10", Same),
    ("LRANGE list a 1", Same),
    ("LLEN list", Same),
    ("LPOP list", Same),
    ("RPOP list", Same),
    ("LPOP list 5", Same),
    ("LLEN list", Same),
    ("EXISTS list", Same),
    ("LPOP list", Same),
    ("LPOP list 2", Same),
    ("LPOP list -1", Same),
    ("RPUSH list a", Same),
    ("GET list", Same),
    ("INCR list", Same),
    ("APPEND list x", Same),
    ("STRLEN list", Same),
    ("GETSET list x", Same),
    ("SET list x GET", Same),
    ("LPUSH a x", Same),
    ("LLEN a", Same),
    ("MGET list a", Same),
    ("TYPE list", Same),
    ("TYPE a", Same),
    ("TYPE nokey", Same),
    ("SET list x", Same),
    ("TYPE list", Same),
    ("KEYS *", Unordered),
    ("KEYS ?", Unordered),
    ("KEYS [ab]", Unordered),
    ("KEYS [^a-b]", Unordered),
    ("KEYS *e*", Unordered),
    ("KEYS k?", Unordered),
    ("KEYS s\\x", Unordered),
    ("KEYS nothing*", Same),
    ("DBSIZE", Same),
    ("SELECT 0", Same),
    ("SELECT abc", Same),
    ("CLIENT SETNAME myname", Same),
    ("CLIENT GETNAME", Same),
    ("CLIENT SETNAME \"bad name\"", Same),
    ("CLIENT GETNAME", Same),
    ("CLIENT", Same),
    ("CLIENT Foo", Same),
    ("CLIENT SETNAME", Same),
    ("CLIENT ID", Ours(an_integer)),
    ("GET", Same),
    ("SET k", Same),
    ("DEL", Same),
    ("ECHO", Same),
    ("PING a b", Same),
    ("TTL", Same),
    ("FOOBAR a b", Same),
    ("foobar", Same),
    ("COMMAND DOCS", Ours(empty_array)),
    ("COMMAND COUNT", Ours(an_integer)),
    ("INFO", Ours(server_info)),
    // Sets, hashes and sorted sets, with their error cases.
    ("SADD myset 1 2 3", Same),
    ("SADD myset 3 4", Same),
    ("SADD k1 x", Same),
    ("SCARD myset", Same),
    ("SMEMBERS myset", Unordered),
    ("SISMEMBER myset 2", Same),
    ("SISMEMBER myset 9", Same),
    ("SMISMEMBER myset 1 9 4", Same),
    ("SREM myset 1 9", Same),
    ("SRANDMEMBER nokey", Same),
    ("SRANDMEMBER nokey 5", Same),
    ("SRANDMEMBER myset 0", Same),
    ("SRANDMEMBER myset 10", Unordered),
    (
        "SRANDMEMBER myset -3",
        Ours(|l| l.len() == 3 && l[0].starts_with("1) ")),
    ),
    ("SRANDMEMBER myset abc", Same),
    ("SRANDMEMBER myset 1 2", Same),
    ("SPOP myset -1", Same),
    ("SPOP nokey 3", Same),
    ("SADD myset2 3 4 5", Same),
    ("SINTER myset myset2", Unordered),
    ("SUNION myset myset2 nokey", Unordered),
    ("SDIFF myset2 myset", Same),
    ("SINTERSTORE myset3 myset myset2", Same),
    ("SMEMBERS myset3", Unordered),
    ("SDIFFSTORE myset3 myset myset", Same),
    ("EXISTS myset3", Same),
    ("SMOVE myset2 myset 5", Same),
    ("SMOVE myset2 myset 9", Same),
    ("SCARD myset", Same),
    ("TYPE myset", Same),
    ("MGET myset k1", Same),
    ("GET myset", Same),
    ("LPUSH myset x", Same),
    ("HSET myhash f1 v1 f2 v2", Same),
    ("HSET myhash f1 w", Same),
    ("HSET myhash f1", Same),
    ("HMSET myhash f3 v3", Same),
    ("HMSET myhash f3", Same),
    ("HSETNX myhash f1 myzset", Same),
    ("HSETNX myhash f9 myzset", Same),
    ("HGET myhash f1", Same),
    ("HGET myhash nofield", Same),
    ("HMGET myhash f1 nofield f2", Same),
    ("HMGET nokey a b", Same),
    ("HLEN myhash", Same),
    ("HEXISTS myhash f2", Same),
    ("HSTRLEN myhash f2", Same),
    ("HGETALL myhash", Same),
    ("HKEYS myhash", Same),
    ("HVALS myhash", Same),
    ("HDEL myhash f2 nofield", Same),
    ("HINCRBY myhash n 5", Same),
    ("HINCRBY myhash n -7", Same),
    ("HINCRBY myhash f1 1", Same),
    ("HINCRBY myhash n abc", Same),
    ("HINCRBY myhash n 9223372036854775807", Same),
    ("HGET myset f", Same),
    ("TYPE myhash", Same),
    ("ZADD myzset 1 a 2 b 3 c", Same),
    ("ZADD myzset 1.5 a 0.1 d", Same),
    ("ZADD myzset", Same),
    ("ZADD myzset 1", Same),
    ("ZADD myzset abc a", Same),
    ("ZADD myzset nan a", Same),
    ("ZADD myzset NX XX 1 a", Same),
    ("ZADD myzset GT LT 1 a", Same),
    ("ZADD myzset NX GT 1 a", Same),
    ("ZADD myzset INCR 1 a 2 b", Same),
    ("ZADD myzset CH 5 a 5 e", Same),
    ("ZADD myzset XX CH 6 a 6 f", Same),
    ("ZADD myzset GT CH 1 a 9 b", Same),
    ("ZADD myzset LT 0 c", Same),
    ("ZADD myzset INCR 2.5 d", Same),
    ("ZADD myzset NX INCR 1 d", Same),
    ("ZADD myzset INCR -inf d", Same),
    ("ZADD myzset INCR +inf d", Same),
    ("ZADD nokey XX 1 a", Same),
    ("ZINCRBY myzset 1e2 c", Same),
    ("ZINCRBY myzset x c", Same),
    ("ZSCORE myzset a", Same),
    ("ZSCORE myzset nomember", Same),
    ("ZMSCORE myzset a nomember b", Same),
    ("ZCARD myzset", Same),
    ("ZRANGE myzset 0 -1", Same),
    ("ZRANGE myzset 0 -1 WITHSCORES", Same),
    ("ZRANGE myzset 1 2 REV WITHSCORES", Same),
    ("ZRANGE myzset -2 100", Same),
    ("ZRANGE myzset 3 1", Same),
    ("ZRANGE myzset a b", Same),
    ("ZRANGE myzset 0 1 LIMIT 0 1", Same),
    ("ZRANGE myzset (1 +inf BYSCORE WITHSCORES", Same),
    ("ZRANGE myzset +inf 5 BYSCORE REV", Same),
    ("ZRANGE myzset -inf +inf BYSCORE LIMIT 1 2", Same),
    ("ZRANGE myzset -inf +inf BYSCORE LIMIT -1 2", Same),
    ("ZRANGE myzset -inf +inf BYSCORE LIMIT 1 -1", Same),
    ("ZRANGE myzset x 5 BYSCORE", Same),
    ("ZRANGE myzset 0 1 BOGUS", Same),
    ("ZREVRANGE myzset 0 1 WITHSCORES", Same),
    ("ZRANGEBYSCORE myzset 2 (100 WITHSCORES", Same),
    ("ZREVRANGEBYSCORE myzset 100 2 LIMIT 0 1", Same),
    ("ZRANGEBYSCORE myzset 0 1 REV", Same),
    ("ZCOUNT myzset (2 100", Same),
    ("ZCOUNT myzset a 1", Same),
    ("ZRANK myzset c", Same),
    ("ZREVRANK myzset c", Same),
    ("ZRANK myzset nomember", Same),
    ("ZREM myzset a nomember", Same),
    ("ZRANGE nokey 0 -1", Same),
    ("ZCARD myset", Same),
    ("TYPE myzset", Same),
    ("SORT myset", Same),
    ("SORT myzset ALPHA", Same),
    ("COPY myzset myzset2", Same),
    ("ZRANGE myzset2 0 -1 WITHSCORES", Same),
    ("COPY myhash myhash2", Same),
    ("HGETALL myhash2", Same),
    ("RENAME myset myset4", Same),
    ("SMEMBERS myset4", Unordered),
    ("SREM myset4 3 4 5 2", Same),
    ("EXISTS myset4", Same),
    ("FLUSHDB BOGUS", Same),
    ("FLUSHDB", Same),
    ("DBSIZE", Same),
    ("SET again v", Same),
    ("FLUSHALL ASYNC", Same),
    ("DBSIZE", Same),
];

/// The encodings `OBJECT ENCODING` names, as Redis 7.0 would choose them, and the
/// thresholds that change them. Run apart from [`SCRIPT`]: subcommand lookups move the
/// incremental rehashing of redis-server's command tables, which reorders `COMMAND DOCS`
/// when the script runs twice against one server.
const ENCODINGS: &[(&str, Check)] = &[
    ("SADD ints 1 2 3", Same),
    ("OBJECT ENCODING ints", Same),
    ("SADD ints a", Same),
    ("OBJECT ENCODING ints", Same),
    ("SREM ints a", Same),
    ("HSET small f v", Same),
    ("OBJECT ENCODING small", Same),
    (
        "HSET long f 012345678901234567890123456789012345678901234567890123456789012345",
        Same,
    ),
    ("OBJECT ENCODING long", Same),
    ("ZADD zs 1 a 2 b", Same),
    ("OBJECT ENCODING zs", Same),
    ("COPY zs zs2", Same),
    ("OBJECT ENCODING zs2", Same),
    ("SORT zs ALPHA", Same),
    ("OBJECT ENCODING zs", Same),
    ("CONFIG SET zset-max-ziplist-entries 1", Same),
    ("ZADD big 1 a", Same),
    ("OBJECT ENCODING big", Same),
    ("ZADD big 2 b", Same),
    ("OBJECT ENCODING big", Same),
    ("CONFIG SET zset-max-ziplist-entries 128", Same),
];

/// The script as redis-cli input: each command followed by `echo` of a marker, so that
/// the output can be cut into the replies of each command.
fn cli_input(script: &[(&str, Check)]) -> String {
    let mut s = String::new();
    for (i, (cmd, _)) in script.iter().enumerate() {
        s.push_str(cmd);
        s.push('\n');
        s.push_str(&format!("echo \"--mark-{i}--\"\n"));
    }
    s
}

/// Cuts redis-cli's output into the reply lines of each command.
fn cut_replies(lines: &[String], commands: usize) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    for line in lines {
        if line == &format!("\"--mark-{}--\"", out.len()) {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(line.clone());
        }
    }
    assert_eq!(
        out.len(),
        commands,
        "redis-cli printed {} of {commands} markers; output:\n{}",
        out.len(),
        lines.join("\n")
    );
    out
}

/// Runs `script` with redis-cli (`--no-raw`: as on a terminal) against `addr`; the
/// reply lines of each command.
fn redis_cli_script(addr: SocketAddr, script: &[(&str, Check)]) -> Vec<Vec<String>> {
    redis_cli_script_in(addr, script, 2)
}

/// [`redis_cli_script`] in RESP `protocol` (2, or 3: `redis-cli -3`).
fn redis_cli_script_in(
    addr: SocketAddr,
    script: &[(&str, Check)],
    protocol: u8,
) -> Vec<Vec<String>> {
    let mut args: Vec<String> = vec![
        "-h".into(),
        addr.ip().to_string(),
        "-p".into(),
        addr.port().to_string(),
        "--no-raw".into(),
    ];
    if protocol == 3 {
        args.push("-3".into());
    }
    let out = run_with_input("redis-cli", &args, cli_input(script).as_bytes(), HANG_GUARD);
    assert!(out.success(), "redis-cli failed\n{}", out.transcript());
    cut_replies(&out.stdout, script.len())
}

fn integer(lines: &[String]) -> Option<i64> {
    match lines {
        [l] => l.strip_prefix("(integer) ")?.parse().ok(),
        _ => None,
    }
}

/// The lines of an array without their indexes, sorted.
fn unordered(lines: &[String]) -> Vec<String> {
    let mut v: Vec<String> = lines
        .iter()
        .map(|l| {
            // `1) ` in an array, `1~ ` in a RESP3 set.
            let t = l.trim_start();
            let digits = t.bytes().take_while(u8::is_ascii_digit).count();
            match t[digits..]
                .strip_prefix(") ")
                .or(t[digits..].strip_prefix("~ "))
            {
                Some(rest) if digits > 0 => rest.to_string(),
                _ => l.clone(),
            }
        })
        .collect();
    v.sort();
    v
}

/// Compares the replies of `ours` with the reference, command by command; every
/// difference is listed.
fn compare(script: &[(&str, Check)], reference: &[Vec<String>], ours: &[Vec<String>], who: &str) {
    let mut diffs = Vec::new();
    for (i, (cmd, check)) in script.iter().enumerate() {
        let (r, o) = (&reference[i], &ours[i]);
        let ok = match check {
            Same => r == o,
            Unordered => unordered(r) == unordered(o),
            Range(lo, hi) => [r, o]
                .iter()
                .all(|l| integer(l).is_some_and(|n| (*lo..=*hi).contains(&n))),
            Ours(pred) => pred(o),
        };
        if !ok {
            diffs.push(format!(
                "#{i} `{cmd}` ({check:?}):\n  redis-server: {r:?}\n  {who}: {o:?}"
            ));
        }
    }
    assert!(
        diffs.is_empty(),
        "{} of {} replies differ:\n{}",
        diffs.len(),
        script.len(),
        diffs.join("\n")
    );
}

// ===== (a) redis-cli against both servers =====

#[test]
fn redis_cli_gets_the_same_replies_from_resp_server_and_redis_server() {
    if !have_redis_cli() || !have_redis_server() {
        return;
    }
    let redis = Redis::start();
    let (server, addr) = start_resp_server(Backend::Epoll, &[]);
    let reference = redis_cli_script(redis.addr, SCRIPT);
    let ours = redis_cli_script(addr, SCRIPT);
    // A few replies spelt out, so that a change on both sides is seen too.
    let at = |cmd: &str| {
        SCRIPT
            .iter()
            .position(|(c, _)| *c == cmd)
            .unwrap_or_else(|| panic!("`{cmd}` is in the script"))
    };
    assert_eq!(
        ours[at("GET")],
        ["(error) ERR wrong number of arguments for 'get' command"]
    );
    assert_eq!(
        ours[at("FOOBAR a b")],
        ["(error) ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' "]
    );
    assert_eq!(
        ours[at("INCR list")],
        ["(error) WRONGTYPE Operation against a key holding the wrong kind of value"]
    );
    assert_eq!(
        ours[at("INCR s")],
        ["(error) ERR value is not an integer or out of range"]
    );
    assert_eq!(
        ours[at("MGET a b nokey c")],
        ["1) \"1\"", "2) \"2\"", "3) (nil)", "4) \"3\""]
    );
    compare(SCRIPT, &reference, &ours, "resp-server");
    let reference = redis_cli_script(redis.addr, ENCODINGS);
    let ours = redis_cli_script(addr, ENCODINGS);
    compare(ENCODINGS, &reference, &ours, "resp-server");
    stop(server);
}

/// The same script in RESP3 (`redis-cli -3`, which begins with `HELLO 3`): maps, sets,
/// doubles, nulls and verbatim strings where redis-server sends them.
#[test]
fn redis_cli_gets_the_same_resp3_replies_from_resp_server_and_redis_server() {
    if !have_redis_cli() || !have_redis_server() {
        return;
    }
    let redis = Redis::start();
    let (server, addr) = start_resp_server(Backend::Epoll, &[]);
    for script in [SCRIPT, ENCODINGS] {
        let reference = redis_cli_script_in(redis.addr, script, 3);
        let ours = redis_cli_script_in(addr, script, 3);
        compare(script, &reference, &ours, "resp-server");
    }
    let mut c = Conn::new(addr, "resp-server");
    // The reply to HELLO 3 is already RESP3; HELLO 2 goes back.
    assert!(c.call("HELLO 3").starts_with("%7\r\n"));
    assert_eq!(c.call("GET nokey"), "_\r\n");
    assert_eq!(c.call("ZADD z 1.5 a"), ":1\r\n");
    assert_eq!(c.call("ZSCORE z a"), ",1.5\r\n");
    assert!(c.call("HELLO 2").starts_with("*14\r\n"));
    assert_eq!(c.call("GET nokey"), "$-1\r\n");
    assert_eq!(
        c.call("HELLO 4"),
        "-NOPROTO unsupported protocol version\r\n"
    );
    stop(server);
}

/// Keys with a time to live disappear by themselves: the count of keys drops without any
/// access to them.
#[test]
fn keys_expire_without_being_accessed() {
    if !have_redis_cli() || !have_redis_server() {
        return;
    }
    let redis = Redis::start();
    let (server, addr) = start_resp_server(Backend::Epoll, &[]);
    let before: &[(&str, Check)] = &[
        ("FLUSHALL", Same),
        ("SET e1 v PX 150", Same),
        ("SET e2 v PX 200", Same),
        ("SET e3 v", Same),
        ("PEXPIRE e3 250", Same),
        ("SET keep v EX 1000", Same),
        ("DBSIZE", Same),
    ];
    let after: &[(&str, Check)] = &[
        ("DBSIZE", Same),
        ("KEYS *", Same),
        ("EXISTS e1 e2 e3", Same),
        ("TTL keep", Range(990, 1000)),
    ];
    let r1 = redis_cli_script(redis.addr, before);
    let o1 = redis_cli_script(addr, before);
    compare(before, &r1, &o1, "resp-server");
    std::thread::sleep(Duration::from_millis(1500));
    let r2 = redis_cli_script(redis.addr, after);
    let o2 = redis_cli_script(addr, after);
    assert_eq!(
        o2[0],
        ["(integer) 1"],
        "the count of keys after the deadlines"
    );
    compare(after, &r2, &o2, "resp-server");
    let info = run_script(
        &Addr::Inet(addr),
        &[vec![b"INFO".to_vec(), b"stats".to_vec()]],
        Backend::Epoll,
        HANG_GUARD,
    )
    .expect("INFO from resp-server");
    let Some(Reply::Bulk(text)) = info.first() else {
        panic!("INFO answered {info:?}");
    };
    let text = String::from_utf8_lossy(text);
    assert!(
        text.contains("expired_keys:3"),
        "three keys expired on the timer:\n{text}"
    );
    stop(server);
}

// ===== (b) redis-benchmark =====

#[test]
fn redis_benchmark_runs_against_resp_server_without_errors() {
    if !have_redis_benchmark() {
        return;
    }
    let (server, addr) = start_resp_server(Backend::Epoll, &[]);
    let args: Vec<String> = [
        "-h",
        "127.0.0.1",
        "-p",
        &addr.port().to_string(),
        "-t",
        "ping,set,get,incr,mset",
        "-n",
        "20000",
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run_with_input("redis-benchmark", &args, b"", BENCH_GUARD);
    assert!(
        out.success(),
        "redis-benchmark failed\n{}",
        out.transcript()
    );
    // With -q each test ends with `NAME: N requests per second, p50=...`; progress
    // lines are separated by carriage returns.
    let text = out.stdout.join("\n");
    let results: Vec<&str> = text
        .split(['\r', '\n'])
        .filter(|l| l.contains("requests per second"))
        .collect();
    for l in &results {
        println!("{}", l.trim());
    }
    for name in [
        "PING_INLINE",
        "PING_MBULK",
        "SET",
        "GET",
        "INCR",
        "MSET (10 keys)",
    ] {
        assert!(
            results
                .iter()
                .any(|l| l.trim_start().starts_with(&format!("{name}: "))),
            "no result line for {name}\n{}",
            out.transcript()
        );
    }
    let lower = format!("{text}\n{}", out.stderr).to_ascii_lowercase();
    assert!(
        !lower.contains("error") && !lower.contains("warning"),
        "redis-benchmark reported a problem\n{}",
        out.transcript()
    );
    // Every INCR was counted, and what SET and MSET stored is there.
    let replies = run_script(
        &Addr::Inet(addr),
        &[
            vec![b"GET".to_vec(), b"counter:__rand_int__".to_vec()],
            vec![b"GET".to_vec(), b"key:__rand_int__".to_vec()],
        ],
        Backend::Epoll,
        HANG_GUARD,
    )
    .expect("GET after the benchmark");
    assert_eq!(replies[0], Reply::bulk("20000"));
    assert!(
        matches!(&replies[1], Reply::Bulk(v) if v.len() == 3),
        "SET and MSET stored 3-byte values (-d 3): {:?}",
        replies[1]
    );
    stop(server);
}

// ===== (c) the resp-client library and program =====

/// The script's commands without the redis-cli markers, split as redis-cli splits them.
fn script_commands(script: &[(&str, Check)]) -> Vec<Vec<Vec<u8>>> {
    script
        .iter()
        .map(|(cmd, _)| split_args(cmd).unwrap_or_else(|| panic!("cannot split `{cmd}`")))
        .collect()
}

/// Each reply as resp-client prints it for its command (as redis-cli on a terminal), in
/// lines.
fn printed_as_redis_cli(replies: &[Reply], commands: &[Vec<Vec<u8>>]) -> Vec<Vec<String>> {
    replies
        .iter()
        .zip(commands)
        .map(|(r, c)| {
            String::from_utf8_lossy(&r.to_cli_for(c))
                .lines()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// The script's checks for resp-client's output of redis-server's replies against
/// redis-cli's: what only ours had to satisfy is compared too, except the replies that
/// differ from run to run (the client's id, `INFO`, random members).
fn client_checks() -> Vec<(&'static str, Check)> {
    let kept = ["CLIENT ID", "INFO", "SRANDMEMBER myset -"];
    SCRIPT
        .iter()
        .map(|&(cmd, check)| match check {
            Ours(_) if !kept.iter().any(|k| cmd.starts_with(k)) => (cmd, Same),
            _ => (cmd, check),
        })
        .collect()
}

/// After `HELLO 3`, the resp-client library reads RESP3 (maps, sets, doubles, nulls,
/// verbatim strings) from redis-server and prints it as `redis-cli -3` does.
#[test]
fn resp_client_prints_resp3_as_redis_cli_does() {
    if !have_redis_cli() || !have_redis_server() {
        return;
    }
    let redis = Redis::start();
    let reference = redis_cli_script_in(redis.addr, SCRIPT, 3);
    // A fresh keyspace, as redis-cli found it.
    let flushed = run_script(
        &Addr::Inet(redis.addr),
        &[vec![b"FLUSHALL".to_vec()]],
        Backend::Poll,
        HANG_GUARD,
    )
    .expect("FLUSHALL");
    assert_eq!(flushed, [Reply::simple("OK")]);
    let mut commands = vec![vec![b"HELLO".to_vec(), b"3".to_vec()]];
    commands.extend(script_commands(SCRIPT));
    let replies = run_script(
        &Addr::Inet(redis.addr),
        &commands,
        Backend::Poll,
        HANG_GUARD,
    )
    .expect("the script against redis-server");
    assert!(matches!(replies[0], Reply::Map(_)), "{:?}", replies[0]);
    let printed = printed_as_redis_cli(&replies[1..], &commands[1..]);
    compare(&client_checks(), &reference, &printed, "resp-client");
}

#[test]
fn resp_client_gets_what_redis_cli_gets_from_redis_server() {
    if !have_redis_cli() || !have_redis_server() {
        return;
    }
    let redis = Redis::start();
    let reference = redis_cli_script(redis.addr, SCRIPT);
    let replies = run_script(
        &Addr::Inet(redis.addr),
        &script_commands(SCRIPT),
        Backend::Poll,
        HANG_GUARD,
    )
    .expect("the script against redis-server");
    assert_eq!(replies.len(), SCRIPT.len(), "one reply per command");
    // What the library hands out, for a few commands.
    let at = |cmd: &str| {
        SCRIPT
            .iter()
            .position(|(c, _)| *c == cmd)
            .unwrap_or_else(|| panic!("`{cmd}` is in the script"))
    };
    assert_eq!(replies[at("PING")], Reply::simple("PONG"));
    assert_eq!(
        replies[at("ECHO \"\\x00\\xff\\r\\n\"")],
        Reply::bulk(b"\x00\xff\r\n")
    );
    assert_eq!(replies[at("GET nokey")], Reply::Nil);
    assert_eq!(replies[at("LPOP list 2")], Reply::NilArray);
    assert_eq!(replies[at("INCR newcounter")], Reply::Integer(1));
    assert_eq!(
        replies[at("MGET a b nokey c")],
        Reply::Array(vec![
            Reply::bulk("1"),
            Reply::bulk("2"),
            Reply::Nil,
            Reply::bulk("3")
        ])
    );
    assert_eq!(
        replies[at("GET")],
        Reply::error("ERR wrong number of arguments for 'get' command")
    );
    // Printed as redis-cli prints them. COMMAND DOCS is a deep nest of arrays there.
    let printed = printed_as_redis_cli(&replies, &script_commands(SCRIPT));
    compare(&client_checks(), &reference, &printed, "resp-client");
    let docs = &printed[at("COMMAND DOCS")];
    assert!(
        docs.len() > 1000,
        "COMMAND DOCS printed {} lines",
        docs.len()
    );
}

#[test]
fn resp_client_program_answers_one_command_and_standard_input() {
    if !have_redis_server() {
        return;
    }
    let redis = Redis::start();
    let bin = support::example_binary("resp-client");
    let bin = bin.to_str().expect("a UTF-8 path");
    let connect = vec!["--connect".to_string(), redis.addr.to_string()];
    let with = |extra: &[&str]| -> Vec<String> {
        connect
            .iter()
            .cloned()
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let out = run_with_input(
        bin,
        &with(&["set", "greeting", "hello world"]),
        b"",
        HANG_GUARD,
    );
    assert!(out.success(), "{}", out.transcript());
    assert_eq!(out.stdout, ["OK"]);
    let input =
        b"rpush l a \"b c\"\nlrange l 0 -1\nget greeting\nget nokey\nincr greeting\n\nlpop l 5\n";
    let out = run_with_input(bin, &connect, input, HANG_GUARD);
    assert!(out.success(), "{}", out.transcript());
    assert_eq!(
        out.stdout,
        [
            "(integer) 2",
            "1) \"a\"",
            "2) \"b c\"",
            "\"hello world\"",
            "(nil)",
            "(error) ERR value is not an integer or out of range",
            "1) \"a\"",
            "2) \"b c\"",
        ]
    );
    // Nothing listens on a port we just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port();
    let out = run_with_input(
        bin,
        &[
            "--connect".to_string(),
            format!("127.0.0.1:{port}"),
            "ping".into(),
        ],
        b"",
        HANG_GUARD,
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.transcript());
    assert!(
        out.stderr.contains("could not connect"),
        "{}",
        out.transcript()
    );
}

// ===== (d) bad input =====

/// Sends `bytes` on a new connection; see [`support::send_bad`].
fn send_bad(addr: SocketAddr, bytes: &[u8], hang_up: bool) -> (Vec<u8>, bool) {
    support::send_bad(addr, bytes, hang_up)
}

/// A connection that must keep being served: INCR on its own counter, whose reply must
/// be the next number.
fn witness(addr: SocketAddr) -> Witness {
    Witness::new(addr, |w, after| {
        let want = format!(":{}\r\n", w.n);
        w.exchange(
            b"*2\r\n$4\r\nINCR\r\n$7\r\nwitness\r\n",
            want.as_bytes(),
            after,
        );
    })
}

on_every_backend!(bad_input_gets_an_error_or_a_close_and_others_are_served);

fn bad_input_gets_an_error_or_a_close_and_others_are_served(backend: Backend) {
    let (server, addr) = start_resp_server(backend, &[]);
    let mut witness = witness(addr);
    witness.check("the start");

    let too_long = "-ERR Protocol error: too big inline request\r\n";
    let multibulk = "-ERR Protocol error: invalid multibulk length\r\n";

    // An inline line over the 64 KiB line limit, without a terminator.
    let (got, closed) = send_bad(addr, &vec![b'A'; 70 * 1024], false);
    assert_eq!(String::from_utf8_lossy(&got), too_long);
    assert!(closed, "closed after an over-long inline line");
    witness.check("an over-long inline line");

    // An invalid multibulk length, as Redis words it; the connection is closed.
    let (got, closed) = send_bad(addr, b"*abc\r\nPING\r\n", false);
    assert_eq!(String::from_utf8_lossy(&got), multibulk);
    assert!(closed, "closed after `*abc`");
    witness.check("`*abc`");

    // A bulk length over the description's 512 MiB limit.
    let (got, closed) = send_bad(addr, b"*1\r\n$600000000\r\n", false);
    assert!(
        got.starts_with(b"-ERR Protocol error"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(closed, "closed after an oversized bulk length");
    witness.check("an oversized bulk length");

    // A bulk length that is no number.
    let (got, closed) = send_bad(addr, b"*1\r\n$abc\r\n", false);
    assert!(got.starts_with(b"-ERR Protocol error"), "{got:?}");
    assert!(closed, "closed after `$abc`");
    witness.check("`$abc`");

    // A bulk string cut short by a disconnect: the command never runs.
    let (got, _) = send_bad(
        addr,
        b"*3\r\n$3\r\nSET\r\n$3\r\ncut\r\n$100\r\nonly a few bytes",
        true,
    );
    assert!(got.is_empty(), "no reply to half a command: {got:?}");
    let (got, _) = send_bad(addr, b"*1\r\n$3\r\nGET", true);
    assert!(got.is_empty(), "no reply to half a command: {got:?}");
    witness.check("a disconnect in the middle of a bulk string");
    let (got, _) = send_bad(addr, b"*2\r\n$6\r\nEXISTS\r\n$3\r\ncut\r\n", true);
    assert_eq!(got, b":0\r\n", "the cut SET did not run");

    // Empty lines are no command, as in Redis; a NUL byte ends the words of a line.
    let (got, closed) = send_bad(
        addr,
        b"\r\n\r\n\r\n\x00\xff\xfe\x80 garbage\r\nQUIT\r\n",
        false,
    );
    assert_eq!(String::from_utf8_lossy(&got), "+OK\r\n");
    assert!(closed, "closed after QUIT");

    // Garbage: whatever comes back is protocol error replies, and the server goes on.
    let mut cases: Vec<Vec<u8>> = vec![
        b"\xff\xfe\x80 garbage\r\n".to_vec(),
        b"$\r\n*\r\n:\r\n".to_vec(),
        b"*1\r\n*1\r\n$1\r\nx\r\n".to_vec(),
        b"*2\r\n$3\r\nGET\r\nkey\r\n".to_vec(),
    ];
    for seed in 1..=8u64 {
        let mut g = pseudo_random(4096, seed);
        // Some CRLFs and star/dollar headers in the noise.
        for (i, b) in g.iter_mut().enumerate() {
            if i % 97 == 0 {
                *b = b'\r';
            } else if i % 97 == 1 {
                *b = b'\n';
            } else if i % 97 == 2 && seed % 2 == 0 {
                *b = b'*';
            }
        }
        cases.push(g);
    }
    for (i, case) in cases.iter().enumerate() {
        let (got, closed) = send_bad(addr, case, false);
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.split_inclusive("\r\n")
                .all(|l| l.starts_with('-') && l.ends_with("\r\n")),
            "garbage case {i}: only error replies, got {text:?}"
        );
        assert!(
            closed || !got.is_empty(),
            "garbage case {i}: an error reply or a close"
        );
        witness.check(&format!("garbage case {i}"));
    }

    // A second connection made after all that works too.
    assert!(ping(addr), "a new connection after the bad input");
    let out = stop(server);
    assert!(
        !out.stderr.contains("panic"),
        "resp-server panicked\n{}",
        out.transcript()
    );
}

/// `--maxmemory`: writes that may grow the store are refused with Redis's `-OOM` error
/// once the store is over it; reads, deletes and other connections go on.
#[test]
fn maxmemory_refuses_writes_with_oom() {
    let (server, addr) = start_resp_server(Backend::Poll, &["--maxmemory", "4KiB"]);
    let cmd = |args: &[&[u8]]| args.iter().map(|a| a.to_vec()).collect::<Vec<_>>();
    let big = vec![b'x'; 5000];
    let replies = run_script(
        &Addr::Inet(addr),
        &[
            cmd(&[b"SET", b"big", &big]),
            cmd(&[b"SET", b"small", b"1"]),
            cmd(&[b"INCR", b"counter"]),
            cmd(&[b"STRLEN", b"big"]),
            cmd(&[b"DEL", b"big"]),
            cmd(&[b"SET", b"small", b"1"]),
        ],
        Backend::Poll,
        HANG_GUARD,
    )
    .expect("the script against resp-server");
    let oom = Reply::error("OOM command not allowed when used memory > 'maxmemory'.");
    assert_eq!(
        replies,
        [
            Reply::simple("OK"),
            oom.clone(),
            oom,
            Reply::Integer(5000),
            Reply::Integer(1),
            Reply::simple("OK"),
        ]
    );
    stop(server);
}

/// `--output-limit`: a connection whose replies to one read would go over it is closed
/// (its replies are never all queued), under it pipelines are answered in full, and
/// other connections are served all along.
#[test]
fn replies_over_the_output_limit_close_only_their_connection() {
    let (server, addr) = start_resp_server(Backend::Epoll, &["--output-limit", "64KiB"]);
    let mut witness = witness(addr);
    let value = vec![b'v'; 10 * 1024];
    let set = run_script(
        &Addr::Inet(addr),
        &[vec![b"SET".to_vec(), b"v".to_vec(), value.clone()]],
        Backend::Epoll,
        HANG_GUARD,
    )
    .expect("SET");
    assert_eq!(set, [Reply::simple("OK")]);
    witness.check("the SET");
    let gets = |n: usize| -> Vec<u8> { b"*2\r\n$3\r\nGET\r\n$1\r\nv\r\n".repeat(n) };
    // Five replies of 10 KiB: under the limit, all answered.
    let (got, closed) = send_bad(addr, &gets(5), false);
    let mut one = format!("${}\r\n", value.len()).into_bytes();
    one.extend_from_slice(&value);
    one.extend_from_slice(b"\r\n");
    assert_eq!(got.len(), 5 * one.len(), "five whole replies");
    assert!(!closed, "the connection stays open under the limit");
    witness.check("five large replies");
    // Twenty: over the limit; the connection is closed before all are queued.
    let (got, closed) = send_bad(addr, &gets(20), false);
    assert!(closed, "closed when its replies go over the limit");
    assert!(got.len() < 20 * one.len(), "not every reply was queued");
    witness.check("replies over the limit");
    // One command whose reply alone is over the limit.
    let mget: Vec<Vec<u8>> = std::iter::once(b"MGET".to_vec())
        .chain(std::iter::repeat_n(b"v".to_vec(), 10))
        .collect();
    let mut bytes = Vec::new();
    asyncore_examples::resp_client::encode_command(&mget, &mut bytes).expect("encode MGET");
    let (_, closed) = send_bad(addr, &bytes, false);
    assert!(closed, "closed when one reply goes over the limit");
    witness.check("one reply over the limit");
    stop(server);
}

/// `QUIT` is answered `+OK` and closes the connection (commands after it get no reply),
/// on resp-server as on redis-server; one-word inline commands are served.
#[test]
fn quit_answers_ok_then_closes_and_inline_commands_work() {
    let (server, addr) = start_resp_server(Backend::Select, &[]);
    let script = [
        vec![b"PING".to_vec()],
        vec![b"QUIT".to_vec()],
        vec![b"PING".to_vec()],
    ];
    let want = [Reply::simple("PONG"), Reply::simple("OK")];
    let ours = run_script(&Addr::Inet(addr), &script, Backend::Select, HANG_GUARD)
        .expect("the script against resp-server");
    assert_eq!(ours, want);
    let (got, closed) = send_bad(addr, b"PING\r\nDBSIZE\r\nQUIT\r\nPING\r\n", false);
    assert_eq!(got, b"+PONG\r\n:0\r\n+OK\r\n");
    assert!(closed, "closed after QUIT");
    stop(server);
    if have_redis_server() {
        let redis = Redis::start();
        let theirs = run_script(
            &Addr::Inet(redis.addr),
            &script,
            Backend::Select,
            HANG_GUARD,
        )
        .expect("the script against redis-server");
        assert_eq!(theirs, want);
    }
}

/// Protocol errors as Redis 7 words them, each followed by a close, and the input Redis
/// skips or reads in its own way (empty lines, counts of 0 or below, quoted inline
/// words, a bare LF): the same bytes to resp-server and to a real redis-server get the
/// same replies, and the connection ends the same way. A case that does not end the
/// connection by itself ends with `QUIT`.
#[test]
fn protocol_errors_and_inline_quoting_are_redis_s() {
    const QUIT: &str = "+OK\r\n";
    let too_long = |lead: &[u8], fill: u8| {
        let mut v = lead.to_vec();
        v.resize(70_000, fill);
        v
    };
    let cases: Vec<(Vec<u8>, String)> = vec![
        (b"\r\nPING\r\nQUIT\r\n".to_vec(), format!("+PONG\r\n{QUIT}")),
        (
            b"  \t \r\nPING\r\nQUIT\r\n".to_vec(),
            format!("+PONG\r\n{QUIT}"),
        ),
        (
            b"*-10\r\n*0\r\nPING\r\nQUIT\r\n".to_vec(),
            format!("+PONG\r\n{QUIT}"),
        ),
        (
            b"*3000000000\r\n".to_vec(),
            "-ERR Protocol error: invalid multibulk length\r\n".into(),
        ),
        (
            b"*abc\r\n".to_vec(),
            "-ERR Protocol error: invalid multibulk length\r\n".into(),
        ),
        (
            b"*+1\r\n".to_vec(),
            "-ERR Protocol error: invalid multibulk length\r\n".into(),
        ),
        (
            b"*3 x\r\n".to_vec(),
            "-ERR Protocol error: invalid multibulk length\r\n".into(),
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n".to_vec(),
            "-ERR Protocol error: expected '$', got 'f'\r\n".into(),
        ),
        (
            b"*1\r\nfoo\r\n".to_vec(),
            "-ERR Protocol error: expected '$', got 'f'\r\n".into(),
        ),
        // The CR Redis finds there is shown as a space.
        (
            b"*1\r\n\r\n".to_vec(),
            "-ERR Protocol error: expected '$', got ' '\r\n".into(),
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n".to_vec(),
            "-ERR Protocol error: invalid bulk length\r\n".into(),
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n".to_vec(),
            "-ERR Protocol error: invalid bulk length\r\n".into(),
        ),
        (
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n".to_vec(),
            "-ERR Protocol error: invalid bulk length\r\n".into(),
        ),
        (
            b"*1\r\n$3 x\r\n".to_vec(),
            "-ERR Protocol error: invalid bulk length\r\n".into(),
        ),
        (
            br#"set "a b" c
get "a b"
QUIT
"#
            .to_vec(),
            format!("+OK\r\n$1\r\nc\r\n{QUIT}"),
        ),
        (
            b"set 'it\\'s' \"\\x41\\n\\q\"\r\nget \"it's\"\r\nQUIT\r\n".to_vec(),
            format!("+OK\r\n$3\r\nA\nq\r\n{QUIT}"),
        ),
        (
            b"ECHO \"\"\r\nQUIT\r\n".to_vec(),
            format!("$0\r\n\r\n{QUIT}"),
        ),
        (
            b"PING\rPING\r\nQUIT\r\n".to_vec(),
            format!("$4\r\nPING\r\n{QUIT}"),
        ),
        (
            b"set \"\"\"test-key\"\"\" test-value\r\nping\r\n".to_vec(),
            "-ERR Protocol error: unbalanced quotes in request\r\n".into(),
        ),
        (
            b"ECHO \"open\r\n".to_vec(),
            "-ERR Protocol error: unbalanced quotes in request\r\n".into(),
        ),
        (
            too_long(b"*", b'1'),
            "-ERR Protocol error: too big mbulk count string\r\n".into(),
        ),
        (
            too_long(b"*1\r\n$", b'1'),
            "-ERR Protocol error: too big bulk count string\r\n".into(),
        ),
        (
            too_long(b"", b'A'),
            "-ERR Protocol error: too big inline request\r\n".into(),
        ),
    ];
    let check = |who: &str, addr: SocketAddr| {
        for (input, want) in &cases {
            let (got, closed) = send_bad(addr, input, false);
            let shown = String::from_utf8_lossy(&input[..input.len().min(60)]);
            assert_eq!(String::from_utf8_lossy(&got), *want, "{who}: {shown:?}");
            assert!(closed, "{who}: closed after {shown:?}");
        }
    };
    let (server, addr) = start_resp_server(Backend::Poll, &[]);
    check("resp-server", addr);
    stop(server);
    if have_redis_server() {
        let redis = Redis::start();
        check("redis-server", redis.addr);
    }
}

/// A client that goes on writing after a protocol error (Redis's desync tests write for
/// as long as their writes succeed) sees its writes fail once the server has discarded
/// `LINGER_BYTES` of its input (Redis closes at once), and still reads the error reply.
#[test]
fn a_client_still_writing_after_a_protocol_error_is_reset() {
    use asyncore_examples::resp_server::LINGER_BYTES;
    let (server, addr) = start_resp_server(Backend::Poll, &[]);
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_write_timeout(Some(HANG_GUARD))
        .expect("write timeout");
    s.set_read_timeout(Some(HANG_GUARD)).expect("read timeout");
    // A NUL and no line end: an inline request that grows over 64 KiB.
    let chunk = vec![b'A'; 64 * 1024];
    s.write_all(b"\x00").expect("the first byte");
    let mut written = 0usize;
    // The default linger limit (64 MiB) would let it write this much and more; the
    // server's limit and the kernel's buffers, not.
    let bound = asyncore_runtime::DEFAULT_LINGER_BYTES / 2;
    assert!(LINGER_BYTES < bound / 2);
    while written < bound {
        match s.write(&chunk) {
            Ok(n) => written += n,
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                    ),
                    "the write failed with {e}"
                );
                break;
            }
        }
    }
    assert!(
        written < bound,
        "still writing after {written} bytes: the connection was not reset"
    );
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(
        got.starts_with(b"-ERR Protocol error: too big inline request\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    stop(server);
}

// ===== server commands: INFO, CONFIG, HELLO, FUNCTION, DEBUG, transactions =====

/// A connection sending commands one at a time (split as redis-cli splits them: a word
/// in double quotes may hold spaces and escapes) and reading whole replies, RESP-encoded.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    who: String,
}

impl Conn {
    fn new(addr: SocketAddr, who: &str) -> Conn {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {who}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        Conn {
            stream,
            buf: Vec::new(),
            who: who.to_string(),
        }
    }

    fn call(&mut self, command: &str) -> String {
        let args: Vec<Vec<u8>> = split_args(command).expect("a command line");
        String::from_utf8_lossy(&self.call_args(&args)).into_owned()
    }

    /// Sends a command of binary arguments; its whole reply, RESP-encoded.
    fn call_args(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = Vec::new();
        asyncore_examples::resp_client::encode_command(args, &mut bytes).expect("encode");
        self.stream.write_all(&bytes).expect("send a command");
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if let Some(len) = reply_len(&self.buf) {
                return self.buf.drain(..len).collect();
            }
            assert!(
                support::read_more(&mut self.stream, &mut self.buf, deadline, &self.who),
                "{} closed after {:?}",
                self.who,
                args.first().map(|a| String::from_utf8_lossy(a))
            );
        }
    }
}

/// The length of the whole reply at the start of `buf`, if it is all there.
fn reply_len(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    let n = || -> i64 {
        std::str::from_utf8(&buf[1..end])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1)
    };
    match buf.first()? {
        b'$' | b'=' if n() >= 0 => {
            let total = end + 2 + n() as usize + 2;
            (buf.len() >= total).then_some(total)
        }
        // An array, a RESP3 set, a RESP3 map (a key and a value per entry).
        b'*' | b'~' | b'%' if n() > 0 => {
            let items = if buf[0] == b'%' { 2 * n() } else { n() };
            let mut at = end + 2;
            for _ in 0..items {
                at += reply_len(&buf[at..])?;
            }
            Some(at)
        }
        _ => Some(end + 2),
    }
}

/// Runs `script` (a command and the reply it must get, `None` to skip the comparison)
/// on a fresh connection to each server: resp-server always, redis-server when it is
/// installed (and `ours_only` is false).
fn same_replies(script: &[(&str, Option<&str>)], ours_only: bool) {
    let (server, addr) = start_resp_server(Backend::Poll, &[]);
    let run = |who: &str, addr: SocketAddr| {
        let mut c = Conn::new(addr, who);
        for (command, want) in script {
            let got = c.call(command);
            if let Some(want) = want {
                assert_eq!(got, *want, "{who}: {command}");
            }
        }
    };
    run("resp-server", addr);
    stop(server);
    if !ours_only && have_redis_server() {
        let redis = Redis::start();
        run("redis-server", redis.addr);
    }
}

fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// `INFO`'s sections as Redis 7.0 composes them (what `unit/info-command` checks): the
/// default sections, `all` and `everything` with `commandstats`, one section, several,
/// any case; on resp-server and on redis-server.
#[test]
fn info_sections_are_redis_s() {
    let check = |who: &str, addr: SocketAddr| {
        let mut c = Conn::new(addr, who);
        for arg in ["", "all", "default", "everything"] {
            let info = c.call(&format!("INFO {arg}"));
            for field in [
                "redis_version",
                "used_cpu_user",
                "used_memory",
                "master_repl_offset",
            ] {
                assert!(info.contains(field), "{who}: INFO {arg} has {field}");
            }
            assert!(!info.contains("sentinel_tilt"), "{who}: INFO {arg}");
            let stats = info.contains("rejected_calls");
            assert_eq!(
                stats,
                arg == "all" || arg == "everything",
                "{who}: INFO {arg}"
            );
        }
        let cpu = c.call("INFO cpu");
        assert!(
            cpu.contains("used_cpu_user:") && !cpu.contains("used_memory"),
            "{who}"
        );
        assert!(!c.call("INFO sentinel").contains("used_memory"), "{who}");
        let stats = c.call("INFO commandSTATS");
        assert!(
            stats.contains("rejected_calls") && !stats.contains("used_memory"),
            "{who}"
        );
        let both = c.call("INFO cpu all");
        assert_eq!(both.matches("used_cpu_user_children").count(), 1, "{who}");
        assert!(
            both.contains("used_memory") && both.contains("rejected_calls"),
            "{who}"
        );
        let default = c.call("INFO cpu default");
        assert!(default.contains("master_repl_offset") && !default.contains("rejected_calls"));
        for field in ["blocked_clients:0", "mem_allocator:", "role:master"] {
            assert!(c.call("INFO").contains(field), "{who}: {field}");
        }
        // The counters: a call, a rejected call and a failed one, and their errors.
        c.call("SET k v");
        c.call("GET");
        c.call("LPUSH k x");
        let stats = c.call("INFO commandstats");
        assert!(stats.contains("cmdstat_set:calls=1,"), "{who}: {stats}");
        assert!(
            stats.contains("rejected_calls=1,failed_calls=0"),
            "{who}: {stats}"
        );
        assert!(stats.contains("cmdstat_lpush:calls=1,"), "{who}: {stats}");
        let errors = c.call("INFO errorstats");
        assert!(
            errors.contains("errorstat_ERR:count=1\r\n"),
            "{who}: {errors}"
        );
        assert!(
            errors.contains("errorstat_WRONGTYPE:count=1\r\n"),
            "{who}: {errors}"
        );
        assert_eq!(c.call("CONFIG RESETSTAT"), "+OK\r\n");
        assert!(!c.call("INFO errorstats").contains("errorstat_"), "{who}");
    };
    let (server, addr) = start_resp_server(Backend::Poll, &[]);
    check("resp-server", addr);
    stop(server);
    if have_redis_server() {
        let redis = Redis::start();
        check("redis-server", redis.addr);
    }
}

/// `CONFIG SET` and `GET` with Redis's checks and words: several parameters at once,
/// aliases, memory units, ranges, immutable parameters, unknown ones.
#[test]
fn config_set_and_get_are_redis_s() {
    let failed = |p: &str, why: &str| {
        format!("-ERR CONFIG SET failed (possibly related to argument '{p}') - {why}\r\n")
    };
    let pair = |a: &str, b: &str| format!("*2\r\n{}{}", bulk(a), bulk(b));
    let script: Vec<(String, String)> = vec![
        (
            "CONFIG SET maxmemory 1kb list-max-ziplist-size 4".into(),
            "+OK\r\n".into(),
        ),
        ("CONFIG GET maxmemory".into(), pair("maxmemory", "1024")),
        (
            "CONFIG GET LIST-MAX-ZIPLIST-SIZE".into(),
            pair("LIST-MAX-ZIPLIST-SIZE", "4"),
        ),
        (
            "CONFIG GET list-max-listpack-size".into(),
            pair("list-max-listpack-size", "4"),
        ),
        ("CONFIG SET maxmemory 1k".into(), "+OK\r\n".into()),
        ("CONFIG GET maxmemory".into(), pair("maxmemory", "1000")),
        ("CONFIG SET maxmemory 0".into(), "+OK\r\n".into()),
        (
            "CONFIG SET nosuch 1".into(),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n".into(),
        ),
        (
            "CONFIG SET maxmemory abc".into(),
            failed("maxmemory", "argument must be a memory value"),
        ),
        (
            "CONFIG SET maxmemory 1mb maxmemory 2mb".into(),
            failed("maxmemory", "duplicate parameter"),
        ),
        (
            "CONFIG SET databases 3".into(),
            failed("databases", "can't set immutable config"),
        ),
        (
            "CONFIG SET appendonly maybe".into(),
            failed("appendonly", "argument must be 'yes' or 'no'"),
        ),
        (
            "CONFIG SET list-compress-depth -1".into(),
            failed(
                "list-compress-depth",
                "argument must be between 0 and 2147483647 inclusive",
            ),
        ),
        (
            "CONFIG SET list-max-ziplist-size abc".into(),
            failed(
                "list-max-ziplist-size",
                "argument couldn't be parsed into an integer",
            ),
        ),
        (
            "CONFIG SET maxmemory 1mb list-compress-depth".into(),
            "-ERR syntax error\r\n".into(),
        ),
        ("CONFIG SET save \"\"".into(), "+OK\r\n".into()),
        (
            "CONFIG SET save \"900 x\"".into(),
            failed("save", "Invalid save parameters"),
        ),
        ("CONFIG GET databases".into(), pair("databases", "1")),
        (
            "CONFIG REWRITE".into(),
            "-ERR The server is running without a config file\r\n".into(),
        ),
        (
            "CONFIG SET".into(),
            "-ERR wrong number of arguments for 'config|set' command\r\n".into(),
        ),
    ];
    let script: Vec<(&str, Option<&str>)> = script
        .iter()
        .map(|(c, r)| (c.as_str(), Some(r.as_str())))
        .collect();
    // redis-server runs with 16 databases; the line about `databases` is ours.
    let shared: Vec<_> = script
        .iter()
        .filter(|(c, _)| *c != "CONFIG GET databases")
        .copied()
        .collect();
    same_replies(&shared, false);
    // What this server lacks, refused in Redis's words.
    same_replies(
        &[
            ("CONFIG GET databases", Some(&*pair("databases", "1"))),
            (
                "CONFIG SET save \"900 1\"",
                Some(&*failed(
                    "save",
                    "this server does not save to disk: '' only",
                )),
            ),
            (
                "CONFIG SET appendonly yes",
                Some(&*failed(
                    "appendonly",
                    "this server has no append-only file: 'no' only",
                )),
            ),
            (
                "CONFIG SET maxmemory-policy allkeys-lru",
                Some(&*failed(
                    "maxmemory-policy",
                    "this server does not evict keys: 'noeviction' only",
                )),
            ),
            (
                "CONFIG SET proto-max-bulk-len 10000000000",
                Some(&*failed("proto-max-bulk-len", "can't set immutable config")),
            ),
        ],
        true,
    );
}

/// `HELLO`: RESP2 and RESP3 as Redis answers them; other protocol versions refused as
/// Redis refuses them.
#[test]
fn hello_speaks_resp2_and_resp3() {
    let hello = |id: u64| hello_reply(id, 2);
    let check = |who: &str, addr: SocketAddr| {
        let mut c = Conn::new(addr, who);
        let id: u64 = c.call("CLIENT ID")[1..].trim().parse().expect("an id");
        assert_eq!(c.call("HELLO"), hello(id), "{who}");
        assert_eq!(c.call("HELLO 2 SETNAME me"), hello(id), "{who}");
        assert_eq!(c.call("CLIENT GETNAME"), bulk("me"), "{who}");
        assert_eq!(c.call("HELLO 2 AUTH default x"), hello(id), "{who}");
        assert_eq!(
            c.call("HELLO 2 AUTH bob x"),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
            "{who}"
        );
        assert_eq!(
            c.call("HELLO abc"),
            "-ERR Protocol version is not an integer or out of range\r\n"
        );
        assert_eq!(
            c.call("HELLO 4"),
            "-NOPROTO unsupported protocol version\r\n"
        );
        assert_eq!(
            c.call("HELLO 2 SETNAME \"a b\""),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        // HELLO 3 answers in RESP3 already; a bare HELLO then stays in RESP3.
        assert_eq!(c.call("HELLO 3"), hello_reply(id, 3), "{who}");
        assert_eq!(c.call("HELLO"), hello_reply(id, 3), "{who}");
        assert_eq!(c.call("GET nokey"), "_\r\n", "{who}");
        assert_eq!(c.call("HELLO 2"), hello(id), "{who}");
        assert_eq!(c.call("GET nokey"), "$-1\r\n", "{who}");
    };
    let (server, addr) = start_resp_server(Backend::Poll, &[]);
    check("resp-server", addr);
    stop(server);
    if have_redis_server() {
        let redis = Redis::start();
        check("redis-server", redis.addr);
    }
}

/// Redis 7.0's reply to `HELLO` in RESP `proto` for the client `id`.
fn hello_reply(id: u64, proto: u8) -> String {
    let header = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{header}\r\n{}{}{}{}{}:{proto}\r\n{}:{id}\r\n{}{}{}{}{}*0\r\n",
        bulk("server"),
        bulk("redis"),
        bulk("version"),
        bulk("7.0.15"),
        bulk("proto"),
        bulk("id"),
        bulk("mode"),
        bulk("standalone"),
        bulk("role"),
        bulk("master"),
        bulk("modules"),
    )
}

/// `FUNCTION` as a server without a scripting engine answers it; `DEBUG` with the
/// subcommands this server carries out, the others as Redis answers an unknown one.
#[test]
fn function_and_debug_say_what_this_server_does() {
    let unknown_debug = |s: &str| {
        format!(
            "-ERR unknown subcommand or wrong number of arguments for '{s}'. Try DEBUG HELP.\r\n"
        )
    };
    same_replies(
        &[
            ("FUNCTION FLUSH", Some("+OK\r\n")),
            ("FUNCTION FLUSH async", Some("+OK\r\n")),
            (
                "FUNCTION FLUSH now",
                Some("-ERR FUNCTION FLUSH only supports SYNC|ASYNC option\r\n"),
            ),
            ("FUNCTION LIST", Some("*0\r\n")),
            (
                "FUNCTION STATS",
                Some("*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*0\r\n"),
            ),
            (
                "FUNCTION LOAD \"#!lua name=lib\\nredis.register_function('f', function() return 1 end)\"",
                Some("-ERR Engine 'lua' not found\r\n"),
            ),
            ("FUNCTION LOAD \"return 1\"", Some("-ERR Missing library metadata\r\n")),
            ("FUNCTION DELETE lib", Some("-ERR Library not found\r\n")),
            ("FUNCTION KILL", Some("-NOTBUSY No scripts in execution right now.\r\n")),
            (
                "FUNCTION DUMP",
                Some("-ERR unknown subcommand 'DUMP'. Try FUNCTION HELP.\r\n"),
            ),
            ("DEBUG SLEEP 0", Some("+OK\r\n")),
            ("DEBUG LOG \"a line\"", Some("+OK\r\n")),
            ("DEBUG RELOAD", Some(&*unknown_debug("RELOAD"))),
            ("DEBUG SLEEP", Some(&*unknown_debug("SLEEP"))),
        ],
        true,
    );
}

/// `DEBUG SET-ACTIVE-EXPIRE 0`: keys whose time is up stay until they are accessed (the
/// loop's timer no longer removes them); 1 turns it back on.
#[test]
fn debug_set_active_expire_leaves_keys_to_lazy_expiry() {
    let (server, addr) = start_resp_server(Backend::Poll, &[]);
    let mut c = Conn::new(addr, "resp-server");
    assert_eq!(c.call("DEBUG SET-ACTIVE-EXPIRE 0"), "+OK\r\n");
    assert_eq!(c.call("SET k v PX 1"), "+OK\r\n");
    // Whatever the time, the key is still counted: nothing removes it but an access.
    let deadline = Instant::now() + Duration::from_millis(50);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.call("DBSIZE"), ":1\r\n");
    assert_eq!(c.call("GET k"), "$-1\r\n");
    assert_eq!(c.call("DBSIZE"), ":0\r\n");
    assert_eq!(c.call("DEBUG SET-ACTIVE-EXPIRE 1"), "+OK\r\n");
    stop(server);
}

/// `MULTI`, `EXEC`, `DISCARD` as Redis answers them: queued commands, refusals while
/// queuing, errors inside a transaction, a blocking pop inside that does not block.
#[test]
fn transactions_are_redis_s() {
    let queued = Some("+QUEUED\r\n");
    let ok = Some("+OK\r\n");
    same_replies(
        &[
            ("EXEC", Some("-ERR EXEC without MULTI\r\n")),
            ("DISCARD", Some("-ERR DISCARD without MULTI\r\n")),
            ("MULTI", ok),
            ("MULTI", Some("-ERR MULTI calls can not be nested\r\n")),
            ("WATCH x", Some("-ERR WATCH inside MULTI is not allowed\r\n")),
            ("SET a 1", queued),
            ("INCR a", queued),
            ("LPUSH a x", queued),
            ("BLPOP nolist 0", queued),
            ("GET a", queued),
            (
                "EXEC",
                Some(
                    "*5\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n*-1\r\n$1\r\n2\r\n",
                ),
            ),
            ("MULTI", ok),
            ("SET b 1", queued),
            ("NOSUCH x", Some("-ERR unknown command 'NOSUCH', with args beginning with: 'x' \r\n")),
            ("GET", Some("-ERR wrong number of arguments for 'get' command\r\n")),
            (
                "EXEC",
                Some("-EXECABORT Transaction discarded because of previous errors.\r\n"),
            ),
            ("EXISTS b", Some(":0\r\n")),
            ("MULTI", ok),
            ("SET b 1", queued),
            ("DISCARD", ok),
            ("EXISTS b", Some(":0\r\n")),
            ("MULTI", ok),
            ("EXEC", Some("*0\r\n")),
        ],
        false,
    );
}

/// `WATCH`: a write by another client to a watched key between `WATCH` and `EXEC` (even
/// of the same value, a push, a delete, a new time to live) makes `EXEC` answer a null
/// array and run nothing; a write before `WATCH`, or to another key, does not;
/// `UNWATCH` and `EXEC` end the watch.
#[test]
fn watch_aborts_a_transaction_when_a_key_changed() {
    let check = |who: &str, addr: SocketAddr| {
        let mut c = Conn::new(addr, who);
        let mut other = Conn::new(addr, who);
        let run = |c: &mut Conn, other: &mut Conn, setup: &str, write: &str| -> String {
            c.call("DEL w list other");
            if !setup.is_empty() {
                c.call(setup);
            }
            c.call("WATCH w list");
            if !write.is_empty() {
                other.call(write);
            }
            c.call("MULTI");
            c.call("SET done yes");
            c.call("EXEC")
        };
        let ran = "*1\r\n+OK\r\n";
        let aborted = "*-1\r\n";
        for (setup, write, want) in [
            ("SET w v", "", ran),
            ("SET w v", "SET w v", aborted),
            ("SET w v", "APPEND w x", aborted),
            ("SET w v", "DEL w", aborted),
            ("SET w v", "EXPIRE w 100", aborted),
            ("", "SET w v", aborted),
            ("RPUSH list a", "RPUSH list b", aborted),
            ("RPUSH list a", "LSET list 0 a", aborted),
            ("SET w v", "SET other v", ran),
            ("SET w v", "GET w", ran),
        ] {
            assert_eq!(
                run(&mut c, &mut other, setup, write),
                want,
                "{who}: {setup} / {write}"
            );
        }
        // UNWATCH: the write no longer matters.
        c.call("WATCH w");
        other.call("SET w again");
        assert_eq!(c.call("UNWATCH"), "+OK\r\n");
        c.call("MULTI");
        c.call("SET done yes");
        assert_eq!(c.call("EXEC"), ran, "{who}: after UNWATCH");
        // EXEC ends the watch: the next transaction runs.
        c.call("WATCH w");
        other.call("SET w again");
        c.call("MULTI");
        assert_eq!(c.call("EXEC"), aborted, "{who}");
        other.call("SET w more");
        c.call("MULTI");
        c.call("SET done yes");
        assert_eq!(c.call("EXEC"), ran, "{who}: a new transaction");
    };
    let (server, addr) = start_resp_server(Backend::Poll, &[]);
    check("resp-server", addr);
    stop(server);
    if have_redis_server() {
        let redis = Redis::start();
        check("redis-server", redis.addr);
    }
}

/// The bytes of a bulk reply (`$len\r\n...\r\n`).
fn bulk_bytes(reply: &[u8]) -> Vec<u8> {
    let end = reply
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("a reply line");
    assert_eq!(
        reply[0],
        b'$',
        "a bulk reply: {:?}",
        String::from_utf8_lossy(reply)
    );
    reply[end + 2..reply.len() - 2].to_vec()
}

/// `DUMP` and `RESTORE` across servers: every value resp-server dumps restores in
/// redis-server 7.0 and reads back the same there; redis-server's dumps of strings (plain,
/// integer and LZF-compressed) restore in resp-server; RESTORE's errors are redis-server's.
#[test]
fn dumps_restore_across_resp_server_and_redis_server() {
    if !have_redis_server() {
        return;
    }
    let redis = Redis::start();
    let (server, addr) = start_resp_server(Backend::Epoll, &[]);
    let mut ours = Conn::new(addr, "resp-server");
    let mut theirs = Conn::new(redis.addr, "redis-server");
    let long = format!("SET long {}", "abcdefgh".repeat(50));
    let setup = [
        "SET s hello",
        "SET n 12345",
        "SET neg -7",
        long.as_str(),
        "RPUSH l a b \"\" c",
        "SADD st x y z",
        "HSET h f v g w",
        "ZADD z 1.5 a -inf b 3 c 0.1 d",
    ];
    for c in setup {
        assert_eq!(ours.call(c), theirs.call(c), "{c}");
    }
    let reads = [
        ("s", "GET"),
        ("n", "GET"),
        ("neg", "GET"),
        ("long", "GET"),
        ("l", "LRANGE * 0 -1"),
        ("st", "SORT * ALPHA"),
        ("h", "HGETALL"),
        ("z", "ZRANGE * 0 -1 WITHSCORES"),
    ];
    let read = |c: &mut Conn, key: &str, how: &str| {
        let cmd = if how.contains('*') {
            how.replace('*', key)
        } else {
            format!("{how} {key}")
        };
        c.call(&cmd)
    };
    let arg = |s: &str| s.as_bytes().to_vec();
    for (key, how) in reads {
        // Ours into redis-server.
        let payload = bulk_bytes(&ours.call_args(&[arg("DUMP"), arg(key)]));
        let restored = theirs.call_args(&[
            arg("RESTORE"),
            arg(&format!("{key}.ours")),
            arg("0"),
            payload.clone(),
        ]);
        assert_eq!(
            restored, b"+OK\r\n",
            "redis-server restores resp-server's dump of {key}"
        );
        let expected = read(&mut theirs, key, how);
        assert_eq!(
            read(&mut theirs, &format!("{key}.ours"), how),
            expected,
            "{key}"
        );
        // And into ours, with a time to live.
        let restored = ours.call_args(&[
            arg("RESTORE"),
            arg(&format!("{key}.back")),
            arg("100000"),
            payload,
        ]);
        assert_eq!(
            restored, b"+OK\r\n",
            "resp-server restores its own dump of {key}"
        );
        assert_eq!(
            read(&mut ours, &format!("{key}.back"), how),
            expected,
            "{key}"
        );
        let pttl = ours.call(&format!("PTTL {key}.back"));
        let ms: i64 = pttl.trim_start_matches(':').trim().parse().expect("PTTL");
        assert!((1..=100_000).contains(&ms), "{key}: {pttl}");
    }
    // redis-server's dumps of strings, in each of its string encodings, into ours.
    for key in ["s", "n", "neg", "long"] {
        let payload = bulk_bytes(&theirs.call_args(&[arg("DUMP"), arg(key)]));
        let restored = ours.call_args(&[
            arg("RESTORE"),
            arg(&format!("{key}.theirs")),
            arg("0"),
            payload,
        ]);
        assert_eq!(
            restored, b"+OK\r\n",
            "resp-server restores redis-server's dump of {key}"
        );
        assert_eq!(
            read(&mut ours, &format!("{key}.theirs"), "GET"),
            read(&mut theirs, key, "GET")
        );
    }
    // Its compact encodings (a listpack list) are refused, not misread.
    let payload = bulk_bytes(&theirs.call_args(&[arg("DUMP"), arg("l")]));
    assert_eq!(
        ours.call_args(&[arg("RESTORE"), arg("l.theirs"), arg("0"), payload]),
        b"-ERR Bad data format\r\n"
    );
    // The errors, the same from both.
    let payload = bulk_bytes(&ours.call_args(&[arg("DUMP"), arg("h")]));
    let mut corrupt = payload.clone();
    corrupt[2] ^= 0x55;
    let cases: Vec<Vec<Vec<u8>>> = vec![
        vec![arg("RESTORE"), arg("h"), arg("0"), payload.clone()],
        vec![arg("RESTORE"), arg("fresh"), arg("-1"), payload.clone()],
        vec![arg("RESTORE"), arg("fresh"), arg("x"), payload.clone()],
        vec![arg("RESTORE"), arg("fresh"), arg("0"), corrupt],
        vec![arg("RESTORE"), arg("fresh"), arg("0"), arg("short")],
        vec![
            arg("RESTORE"),
            arg("fresh"),
            arg("0"),
            payload.clone(),
            arg("FREQ"),
            arg("300"),
        ],
        vec![
            arg("RESTORE"),
            arg("fresh"),
            arg("0"),
            payload.clone(),
            arg("IDLETIME"),
            arg("-1"),
        ],
        vec![
            arg("RESTORE"),
            arg("fresh"),
            arg("0"),
            payload.clone(),
            arg("BOGUS"),
        ],
        vec![
            arg("RESTORE"),
            arg("h"),
            arg("0"),
            payload.clone(),
            arg("REPLACE"),
            arg("IDLETIME"),
            arg("5"),
        ],
        vec![
            arg("RESTORE"),
            arg("old"),
            arg("1"),
            payload.clone(),
            arg("ABSTTL"),
        ],
        vec![arg("EXISTS"), arg("old")],
        vec![arg("DUMP"), arg("nokey")],
    ];
    for case in cases {
        assert_eq!(
            String::from_utf8_lossy(&ours.call_args(&case)),
            String::from_utf8_lossy(&theirs.call_args(&case)),
            "{:?}",
            case.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
        );
    }
    stop(server);
}
