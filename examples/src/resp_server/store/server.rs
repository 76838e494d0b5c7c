//! Connection and server commands: `PING`, `ECHO`, `QUIT`, `SELECT`, `HELLO`, `CLIENT`,
//! `COMMAND`, `CONFIG`, `INFO`, `FUNCTION` and `DEBUG`, and the counters `INFO` shows
//! (per command, per error).
//!
//! What this server is shows through: `HELLO 3` is refused as Redis refuses a protocol
//! version it does not speak (RESP2 only); `FUNCTION` answers as a server without a
//! scripting engine (nothing to list or flush, `FUNCTION LOAD` finds no engine); `DEBUG`
//! has the subcommands this server can carry out (`SLEEP`, `SET-ACTIVE-EXPIRE`, `LOG`),
//! and answers the others as Redis answers an unknown subcommand. `CONFIG SET` applies
//! `maxmemory`, refuses what would need what this server lacks (saving to disk, an
//! append-only file, eviction, more databases, a bulk limit other than the protocol
//! description's) in Redis's words, and takes Redis's encoding thresholds
//! (`list-max-listpack-size`, `list-compress-depth`, ...) with Redis's checks, keeping
//! them for `CONFIG GET`: they change nothing here, where a value has one
//! representation.

use super::*;

mod config;

use config::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("ping", -1, false),
    spec("echo", 2, false),
    spec("select", 2, false),
    spec("hello", -1, false),
    spec("client", -2, false),
    spec("command", -1, false),
    spec("config", -2, false),
    spec("info", -1, false),
    spec("function", -2, false),
    spec("debug", -2, false),
    spec("quit", -1, false),
];

/// Subcommands of the container commands, with their arity.
pub(crate) const SUBCOMMANDS: &[(&str, &[Spec])] = &[
    (
        "client",
        &[
            spec("id", 2, false),
            spec("setname", 3, false),
            spec("getname", 2, false),
        ],
    ),
    (
        "command",
        &[spec("count", 2, false), spec("docs", -2, false)],
    ),
    (
        "config",
        &[
            spec("get", -3, false),
            spec("set", -4, false),
            spec("resetstat", 2, false),
            spec("rewrite", 2, false),
        ],
    ),
    (
        "function",
        &[
            spec("flush", -2, false),
            spec("list", -2, false),
            spec("stats", 2, false),
            spec("load", -3, false),
            spec("delete", 3, false),
            spec("kill", 2, false),
        ],
    ),
];

/// `DEBUG` is not a container (its subcommands are checked here, as Redis checks them).
const DEBUG_SUBCOMMANDS: &[&str] = &["sleep", "set-active-expire", "log"];

/// The longest `DEBUG SLEEP`, in seconds (Redis sleeps as long as it is told).
const MAX_DEBUG_SLEEP: f64 = 60.0;

/// Calls, time and failures of one command (`INFO commandstats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct CommandStats {
    calls: u64,
    usec: u64,
    rejected: u64,
    failed: u64,
}

/// What the server commands keep: the configuration `CONFIG SET` changed, the counters
/// `INFO` shows, and `DEBUG SET-ACTIVE-EXPIRE`.
#[derive(Debug)]
pub(super) struct ServerState {
    /// The values of the parameters that are not kept elsewhere (`maxmemory` is the
    /// store's limit), by name.
    config: HashMap<&'static str, String>,
    /// Per command (`get`, `config|set`): calls, microseconds, rejections, failures.
    commands: HashMap<String, CommandStats, foldhash::fast::RandomState>,
    /// The same for the commands of the tables, by number ([`command_id`]): counting
    /// a call takes no hash of its name. Empty until the first call.
    numbered: Vec<CommandStats>,
    /// Per error code (the first word of the error): how many were sent.
    errors: BTreeMap<String, u64>,
    /// All the error replies sent.
    error_replies: u64,
    /// Keys expire on the loop's timer (`DEBUG SET-ACTIVE-EXPIRE 1`); when off, only
    /// when accessed.
    pub(super) active_expire: bool,
    /// The replication id `INFO replication` shows (random, as Redis's).
    replid: String,
}

impl Default for ServerState {
    fn default() -> Self {
        let mut seed = {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(std::process::id().into());
            h.finish()
        };
        let replid = (0..40)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                char::from(b"0123456789abcdef"[(seed % 16) as usize])
            })
            .collect();
        ServerState {
            config: PARAMS
                .iter()
                .filter_map(|p| p.default.map(|d| (p.name, d.to_string())))
                .collect(),
            commands: HashMap::default(),
            numbered: Vec::new(),
            errors: BTreeMap::new(),
            error_replies: 0,
            active_expire: true,
            replid,
        }
    }
}

impl ServerState {
    /// The value of the integer parameter `name` (0 when it is not one).
    pub(super) fn config_int(&self, name: &str) -> i64 {
        self.config
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Counts a call of `name` that ran for `elapsed`; `failed` if it answered an error.
    pub(super) fn called(&mut self, id: Option<u16>, name: &str, elapsed: Duration, failed: bool) {
        let count = |s: &mut CommandStats| {
            s.calls += 1;
            s.usec += elapsed.as_micros() as u64;
            s.failed += u64::from(failed);
        };
        match id.and_then(|id| self.by_id(id)) {
            Some(s) => count(s),
            None => self.update(name, count),
        }
    }

    /// The counters of the command numbered `id` ([`command_id`]).
    fn by_id(&mut self, id: u16) -> Option<&mut CommandStats> {
        if self.numbered.is_empty() {
            self.numbered = vec![CommandStats::default(); command_count()];
        }
        self.numbered.get_mut(usize::from(id))
    }

    /// Every command called or refused, with its counters, by name.
    fn command_stats(&self) -> Vec<(&str, CommandStats)> {
        let numbered = self.numbered.iter().enumerate().filter_map(|(id, s)| {
            let name = command_name(u16::try_from(id).ok()?)?;
            (*s != CommandStats::default()).then_some((name, *s))
        });
        let mut all: Vec<(&str, CommandStats)> = numbered
            .chain(self.commands.iter().map(|(n, s)| (n.as_str(), *s)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    /// Counts a call of `name` refused before it ran (arity, memory, a subcommand).
    pub(super) fn rejected(&mut self, name: &str) {
        self.update(name, |s| s.rejected += 1);
    }

    /// Changes the counters of `name` (allocating its name only the first time).
    fn update(&mut self, name: &str, f: impl FnOnce(&mut CommandStats)) {
        if let Some(s) = command_id(name).and_then(|id| self.by_id(id)) {
            return f(s);
        }
        match self.commands.get_mut(name) {
            Some(s) => f(s),
            None => {
                let mut s = CommandStats::default();
                f(&mut s);
                self.commands.insert(name.to_string(), s);
            }
        }
    }

    /// Counts the error replies of a command the client sent.
    pub(super) fn errors_sent(&mut self, codes: &[String]) {
        for code in codes {
            self.error_replies += 1;
            *self.errors.entry(code.clone()).or_default() += 1;
        }
    }
}

/// The replies of one command, passed on to `inner`, with the error replies among them
/// noted: the command failed if there is one, and `INFO errorstats` counts their codes.
pub(super) struct Counted<'o, R: Replies + ?Sized> {
    inner: &'o mut R,
    /// The codes of the errors sent (`ERR`, `WRONGTYPE`), in order.
    pub(super) errors: Vec<String>,
}

impl<'o, R: Replies + ?Sized> Counted<'o, R> {
    pub(super) fn new(inner: &'o mut R) -> Self {
        Counted {
            inner,
            errors: Vec::new(),
        }
    }
}

/// The code of an error reply: its first word, as Redis counts it (`ERR` when the text
/// has no code in capitals).
fn error_code(text: &str) -> String {
    let word = text.split(' ').next().unwrap_or("");
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        word.to_string()
    } else {
        "ERR".to_string()
    }
}

impl<R: Replies + ?Sized> Replies for Counted<'_, R> {
    fn simple(&mut self, text: &str) {
        self.inner.simple(text);
    }
    fn error(&mut self, text: &str) {
        self.errors.push(error_code(text));
        self.inner.error(text);
    }
    fn integer(&mut self, value: i64) {
        self.inner.integer(value);
    }
    fn bulk(&mut self, data: &[u8]) {
        self.inner.bulk(data);
    }
    fn nil(&mut self) {
        self.inner.nil();
    }
    fn array(&mut self, len: usize) {
        self.inner.array(len);
    }
    fn nil_array(&mut self) {
        self.inner.nil_array();
    }
    fn shared_bulk(&mut self, data: &Blob) {
        self.inner.shared_bulk(data);
    }
    fn map(&mut self, pairs: usize) {
        self.inner.map(pairs);
    }
    fn set(&mut self, len: usize) {
        self.inner.set(len);
    }
    fn double(&mut self, value: f64) {
        self.inner.double(value);
    }
    fn verbatim(&mut self, text: &[u8]) {
        self.inner.verbatim(text);
    }
    fn protocol(&self) -> u8 {
        self.inner.protocol()
    }
    fn set_protocol(&mut self, version: u8) {
        self.inner.set_protocol(version);
    }
}

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_server(
        &mut self,
        name: &str,
        args: &[&[u8]],
        session: &mut Session,
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "ping" => match args.get(1) {
                None => out.simple("PONG"),
                Some(m) if args.len() == 2 => out.bulk(m),
                Some(_) => out.error("ERR wrong number of arguments for 'ping' command"),
            },
            "echo" => out.bulk(args[1]),
            "quit" => {
                out.simple("OK");
                return Some(Flow::Close);
            }
            "select" => match parse_i64(args[1]) {
                Some(0) => out.simple("OK"),
                Some(i) if i32::try_from(i).is_ok() => out.error("ERR DB index is out of range"),
                _ => out.error(NOT_INTEGER),
            },
            "hello" => self.hello(&args[1..], session, out),
            "client" => out.error("ERR wrong number of arguments for 'client' command"),
            "client|id" => out.integer(session.id as i64),
            "client|getname" => match &session.name {
                Some(n) => out.bulk(n),
                None => out.nil(),
            },
            "client|setname" => {
                if set_name(session, args[2], out) {
                    out.simple("OK");
                }
            }
            "command" => out.array(0),
            "command|count" => out.integer(command_count() as i64),
            "command|docs" => out.map(0),
            "config" => out.error("ERR wrong number of arguments for 'config' command"),
            "config|get" => self.config_get(&args[2..], out),
            "config|set" => self.config_set(&args[2..], out),
            "config|resetstat" => {
                let state = &mut self.server;
                state.commands.clear();
                state.numbered.clear();
                state.errors.clear();
                state.error_replies = 0;
                self.stats.commands = 0;
                self.stats.connections = 0;
                self.stats.expired = 0;
                out.simple("OK");
            }
            "config|rewrite" => out.error("ERR The server is running without a config file"),
            "info" => self.info(&args[1..], now, out),
            "function" => out.error("ERR wrong number of arguments for 'function' command"),
            "function|flush" => match args.get(2) {
                None => out.simple("OK"),
                Some(m) if args.len() == 3 && is_sync_mode(m) => out.simple("OK"),
                Some(_) => out.error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
            },
            "function|list" => out.array(0),
            "function|stats" => {
                out.map(2);
                out.bulk(b"running_script");
                out.nil();
                out.bulk(b"engines");
                out.map(0);
            }
            "function|load" => {
                // The library's first line names its engine: `#!lua name=mylib`.
                let code = args[args.len() - 1];
                let first = code.split(|&b| b == b'\n').next().unwrap_or(b"");
                match first.strip_prefix(b"#!") {
                    Some(meta) => {
                        let engine = meta.split(|&b| b == b' ').next().unwrap_or(b"");
                        out.error(&format!("ERR Engine '{}' not found", show(engine, 128)));
                    }
                    None => out.error("ERR Missing library metadata"),
                }
            }
            "function|delete" => out.error("ERR Library not found"),
            "function|kill" => out.error("NOTBUSY No scripts in execution right now."),
            "debug" => self.debug(args, out),
            _ => return None,
        }
        Some(Flow::Continue)
    }

    /// `HELLO [protover [AUTH username password] [SETNAME clientname]]`: RESP2 or
    /// RESP3 from this reply on.
    fn hello(&mut self, args: &[&[u8]], session: &mut Session, out: &mut impl Replies) {
        let mut version = None;
        if let Some(&ver) = args.first() {
            match parse_i64(ver) {
                Some(v @ (2 | 3)) => version = Some(v as u8),
                // Redis's answer to a version it does not speak.
                Some(_) => return out.error("NOPROTO unsupported protocol version"),
                None => return out.error("ERR Protocol version is not an integer or out of range"),
            }
        }
        let mut i = 1;
        let mut name = None;
        while i < args.len() {
            let more = args.len() - i - 1;
            if args[i].eq_ignore_ascii_case(b"auth") && more >= 2 {
                // No user but `default`, which needs no password (Redis's default user
                // without `requirepass`).
                if args[i + 1] != b"default" {
                    return out
                        .error("WRONGPASS invalid username-password pair or user is disabled.");
                }
                i += 3;
            } else if args[i].eq_ignore_ascii_case(b"setname") && more >= 1 {
                name = Some(args[i + 1]);
                i += 2;
            } else {
                return out.error(&format!(
                    "ERR Syntax error in HELLO option '{}'",
                    show(args[i], 128)
                ));
            }
        }
        if let Some(n) = name {
            if !set_name(session, n, out) {
                return;
            }
        }
        if let Some(v) = version {
            session.resp3 = v == 3;
            out.set_protocol(v);
        }
        out.map(7);
        out.bulk(b"server");
        out.bulk(b"redis");
        out.bulk(b"version");
        out.bulk(REDIS_VERSION.as_bytes());
        out.bulk(b"proto");
        out.integer(i64::from(out.protocol()));
        out.bulk(b"id");
        out.integer(session.id as i64);
        out.bulk(b"mode");
        out.bulk(b"standalone");
        out.bulk(b"role");
        out.bulk(b"master");
        out.bulk(b"modules");
        out.array(0);
    }

    /// `DEBUG`: the subcommands this server can carry out.
    fn debug(&mut self, args: &[&[u8]], out: &mut impl Replies) {
        let mut buf = [0u8; 32];
        let sub = args[1];
        let known = (sub.len() <= buf.len())
            .then(|| {
                let b = &mut buf[..sub.len()];
                b.copy_from_slice(sub);
                b.make_ascii_lowercase();
                std::str::from_utf8(b).ok()
            })
            .flatten()
            .filter(|s| DEBUG_SUBCOMMANDS.contains(s));
        match (known, args.len()) {
            (Some("sleep"), 3) => {
                // As Redis: the whole server sleeps (what is no number, `strtod` reads
                // as 0), here for at most a minute.
                let secs = std::str::from_utf8(args[2])
                    .ok()
                    .and_then(|s| s.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .unwrap_or(0.0);
                if secs > 0.0 {
                    std::thread::sleep(Duration::from_secs_f64(secs.min(MAX_DEBUG_SLEEP)));
                }
                out.simple("OK");
            }
            (Some("set-active-expire"), 3) => {
                // Redis reads the flag with `atoi`: what is no number is 0.
                self.server.active_expire = parse_i64(args[2]).is_some_and(|v| v != 0);
                out.simple("OK");
            }
            (Some("log"), 3) => {
                log::warn!(target: "resp_server", "DEBUG LOG: {}", show(args[2], 4096));
                out.simple("OK");
            }
            _ => out.error(&format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                show(sub, 128)
            )),
        }
    }

    /// `CONFIG GET pattern...`: the parameters a pattern matches, each once.
    fn config_get(&mut self, patterns: &[&[u8]], out: &mut impl Replies) {
        let mut found: Vec<(String, String)> = Vec::new();
        for pat in patterns {
            let glob = pat.iter().any(|b| matches!(b, b'*' | b'?' | b'['));
            let lower = pat.to_ascii_lowercase();
            for p in PARAMS {
                for name in std::iter::once(p.name).chain(p.alias) {
                    let hit = if glob {
                        glob_match(&lower, name.as_bytes())
                    } else {
                        lower == name.as_bytes()
                    };
                    // An exact name is answered as it was asked.
                    let shown = if glob {
                        name.to_string()
                    } else {
                        String::from_utf8_lossy(pat).into_owned()
                    };
                    if hit && !found.iter().any(|(n, _)| n.eq_ignore_ascii_case(&shown)) {
                        found.push((shown, self.config_value(p)));
                    }
                }
            }
        }
        out.map(found.len());
        for (name, value) in found {
            out.bulk(name.as_bytes());
            out.bulk(value.as_bytes());
        }
    }

    fn config_value(&self, p: &Param) -> String {
        match p.name {
            "maxmemory" => self.limits.max_memory.to_string(),
            name => self.server.config.get(name).cloned().unwrap_or_default(),
        }
    }

    /// `CONFIG SET parameter value [parameter value ...]`: all or nothing.
    fn config_set(&mut self, pairs: &[&[u8]], out: &mut impl Replies) {
        if !pairs.len().is_multiple_of(2) {
            return out.error(SYNTAX);
        }
        let failed = |name: &[u8], why: &str| {
            format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
                show(name, 128)
            )
        };
        let mut changes: Vec<(&Param, String)> = Vec::new();
        for pair in pairs.chunks(2) {
            let (name, value) = (pair[0], pair[1]);
            let Some(p) = find_param(name) else {
                return out.error(&format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    show(name, 128)
                ));
            };
            if changes.iter().any(|(q, _)| q.name == p.name) {
                return out.error(&failed(name, "duplicate parameter"));
            }
            let value = match check_value(p, value) {
                Ok(v) => v,
                Err(why) => return out.error(&failed(name, &why)),
            };
            match p.fixed {
                Some(Fixed::Immutable) => {
                    return out.error(&failed(name, "can't set immutable config"));
                }
                Some(Fixed::Only(why)) if Some(value.as_str()) != p.default => {
                    return out.error(&failed(name, why));
                }
                _ => {}
            }
            changes.push((p, value));
        }
        for (p, value) in changes {
            match p.name {
                "maxmemory" => {
                    self.limits.max_memory = value.parse().unwrap_or(self.limits.max_memory);
                }
                name => {
                    self.server.config.insert(name, value);
                }
            }
        }
        out.simple("OK");
    }

    /// `INFO [section ...]`: Redis 7.0's sections, with what this server knows.
    pub(super) fn info(&mut self, sections: &[&[u8]], now: Instant, out: &mut impl Replies) {
        const DEFAULT: &[&str] = &[
            "server",
            "clients",
            "memory",
            "persistence",
            "stats",
            "replication",
            "cpu",
            "modules",
            "errorstats",
            "cluster",
            "keyspace",
        ];
        let asked = |s: &str| {
            sections
                .iter()
                .any(|w| w.eq_ignore_ascii_case(s.as_bytes()))
        };
        let all = asked("all") || asked("everything");
        let default = sections.is_empty() || asked("default");
        let wanted = |s: &str| {
            all || (default && DEFAULT.contains(&s))
                || asked(s)
                || (s == "modules" && asked("module_list"))
        };
        let mut text = String::new();
        let mut section = |name: &str, body: &dyn Fn() -> String| {
            if wanted(&name.to_ascii_lowercase()) {
                if !text.is_empty() {
                    text.push_str("\r\n");
                }
                let _ = write!(text, "# {name}\r\n{}", body());
            }
        };
        let st = self.stats;
        section("Server", &|| {
            format!(
                "redis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\n\
                 server_name:asyncore-resp-server\r\nos:{} {}\r\narch_bits:{}\r\n\
                 multiplexing_api:asyncore\r\nprocess_id:{}\r\nuptime_in_seconds:{}\r\n\
                 uptime_in_days:{}\r\nexecutable:{}\r\n",
                std::env::consts::OS,
                std::env::consts::ARCH,
                usize::BITS,
                std::process::id(),
                now.saturating_duration_since(st.started).as_secs(),
                now.saturating_duration_since(st.started).as_secs() / 86400,
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            )
        });
        section("Clients", &|| {
            format!(
                "connected_clients:{}\r\nblocked_clients:{}\r\ntracking_clients:0\r\n",
                st.clients,
                self.blocked_clients()
            )
        });
        section("Memory", &|| {
            format!(
                "used_memory:{}\r\nused_memory_human:{}\r\nmaxmemory:{}\r\n\
                 maxmemory_human:{}\r\nmaxmemory_policy:noeviction\r\nmem_allocator:libc\r\n",
                self.used,
                human(self.used as u64),
                self.limits.max_memory,
                human(self.limits.max_memory as u64),
            )
        });
        section("Persistence", &|| {
            "loading:0\r\nasync_loading:0\r\nrdb_bgsave_in_progress:0\r\n\
             aof_enabled:0\r\naof_rewrite_in_progress:0\r\n"
                .to_string()
        });
        section("Stats", &|| {
            format!(
                "total_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 rejected_connections:0\r\nexpired_keys:{}\r\nevicted_keys:0\r\n\
                 total_error_replies:{}\r\n",
                st.connections, st.commands, st.expired, self.server.error_replies
            )
        });
        section("Replication", &|| {
            format!(
                "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n\
                 master_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:0\r\n\
                 second_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:0\r\n\
                 repl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                self.server.replid,
                "0".repeat(40)
            )
        });
        section("CPU", &cpu_times);
        section("Modules", &String::new);
        section("Commandstats", &|| {
            let mut s = String::new();
            for (name, c) in self.server.command_stats() {
                let per = if c.calls == 0 {
                    0.0
                } else {
                    c.usec as f64 / c.calls as f64
                };
                let _ = write!(
                    s,
                    "cmdstat_{name}:calls={},usec={},usec_per_call={per:.2},\
                     rejected_calls={},failed_calls={}\r\n",
                    c.calls, c.usec, c.rejected, c.failed
                );
            }
            s
        });
        section("Errorstats", &|| {
            let mut s = String::new();
            for (code, n) in &self.server.errors {
                let _ = write!(s, "errorstat_{code}:count={n}\r\n");
            }
            s
        });
        section("Cluster", &|| "cluster_enabled:0\r\n".to_string());
        section("Keyspace", &|| {
            if self.data.is_empty() {
                String::new()
            } else {
                format!(
                    "db0:keys={},expires={},avg_ttl=0\r\n",
                    self.data.len(),
                    self.deadlines.len()
                )
            }
        });
        out.verbatim(text.as_bytes());
    }
}

/// The Redis version this server answers as (`INFO`, `HELLO`): the one whose commands,
/// replies and errors it follows.
pub(super) const REDIS_VERSION: &str = "7.0.15";

/// Sets the client's name (`CLIENT SETNAME`, `HELLO ... SETNAME`), or answers why not.
fn set_name(session: &mut Session, name: &[u8], out: &mut impl Replies) -> bool {
    if name.iter().any(|b| !(b'!'..=b'~').contains(b)) {
        out.error("ERR Client names cannot contain spaces, newlines or special characters.");
        return false;
    }
    session.name = (!name.is_empty()).then(|| name.to_vec());
    true
}

/// Bytes as Redis shows them (`1.50M`).
fn human(n: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1)];
    for (unit, size) in UNITS {
        if n >= size && size > 1 {
            return format!("{:.2}{unit}", n as f64 / size as f64);
        }
    }
    format!("{n}B")
}

/// The `CPU` section: user and system time of the process, of its children and of the
/// thread that runs the commands, from `/proc` (zeros where it is not readable).
fn cpu_times() -> String {
    let ticks = rustix::param::clock_ticks_per_second().max(1) as f64;
    // Fields 14 to 17 of `stat` (utime, stime, cutime, cstime), after the command name,
    // which may hold spaces and ends at the last `)`.
    let read = |path: &str| -> [f64; 4] {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let after = text.rsplit_once(')').map_or("", |(_, rest)| rest);
        let mut f = after.split_whitespace().skip(11);
        let mut next = || f.next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / ticks;
        [next(), next(), next(), next()]
    };
    let [utime, stime, cutime, cstime] = read("/proc/self/stat");
    let [tutime, tstime, _, _] = read("/proc/thread-self/stat");
    format!(
        "used_cpu_sys:{stime:.6}\r\nused_cpu_user:{utime:.6}\r\n\
         used_cpu_sys_children:{cstime:.6}\r\nused_cpu_user_children:{cutime:.6}\r\n\
         used_cpu_sys_main_thread:{tstime:.6}\r\nused_cpu_user_main_thread:{tutime:.6}\r\n"
    )
}
