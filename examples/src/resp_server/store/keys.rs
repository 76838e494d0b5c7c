//! Keyspace commands: `DEL`, `EXISTS`, `TYPE`, expiry (`EXPIRE`, `EXPIREAT`, `TTL`,
//! `EXPIRETIME`, `PERSIST` and their millisecond forms), `KEYS`, `RANDOMKEY`, `RENAME`,
//! `RENAMENX`, `COPY`, `OBJECT`, `DBSIZE`, `FLUSHDB`, and `TIME`.

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("del", -2, false),
    spec("exists", -2, false),
    spec("type", 2, false),
    spec("expire", -3, false),
    spec("pexpire", -3, false),
    spec("ttl", 2, false),
    spec("pttl", 2, false),
    spec("persist", 2, false),
    spec("keys", 2, false),
    spec("dbsize", 1, false),
    spec("flushdb", -1, false),
    spec("flushall", -1, false),
    spec("expireat", -3, false),
    spec("pexpireat", -3, false),
    spec("expiretime", 2, false),
    spec("pexpiretime", 2, false),
    spec("rename", 3, false),
    spec("renamenx", 3, false),
    spec("copy", -3, true),
    spec("randomkey", 1, false),
    spec("object", -2, false),
    spec("time", 1, false),
];

/// Subcommands of this family's container commands, with their arity.
pub(super) const SUBCOMMANDS: &[(&str, &[Spec])] = &[(
    "object",
    &[
        spec("encoding", 3, false),
        spec("refcount", 3, false),
        spec("freq", 3, false),
        spec("help", 2, false),
    ],
)];

/// `OBJECT HELP`, as Redis words it, less `IDLETIME` (access times are not kept).
const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_keys(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "del" => {
                let mut n = 0;
                for k in &args[1..] {
                    if self.live(k, now).is_some() {
                        self.remove(k);
                        n += 1;
                    }
                }
                out.integer(n);
            }
            "exists" => {
                let n = args[1..]
                    .iter()
                    .filter(|k| self.live(k, now).is_some())
                    .count();
                out.integer(n as i64);
            }
            "type" => out.simple(
                self.live(args[1], now)
                    .map_or("none", |e| e.value.type_name()),
            ),
            "expire" | "pexpire" | "expireat" | "pexpireat" => self.expire(name, args, now, out),
            "expiretime" | "pexpiretime" => match self.live(args[1], now) {
                None => out.integer(-2),
                Some(e) if e.expires.is_none() => out.integer(-1),
                Some(e) => {
                    let at = e.expires_unix.max(0);
                    out.integer(if name == "pexpiretime" {
                        at
                    } else {
                        at.saturating_add(500) / 1000
                    });
                }
            },
            "rename" | "renamenx" => self.rename(name == "renamenx", args[1], args[2], now, out),
            "copy" => self.copy(args, now, out),
            "randomkey" => match self.random_key(now) {
                Some(k) => out.bulk(&k),
                None => out.nil(),
            },
            "object" => out.error("ERR wrong number of arguments for 'object' command"),
            "object|help" => {
                out.array(OBJECT_HELP.len());
                for line in OBJECT_HELP {
                    out.simple(line);
                }
            }
            "object|encoding" | "object|refcount" | "object|freq" => {
                let config = |s: &Self, name: &str| s.server.config_int(name);
                let thresholds = [
                    config(self, "set-max-intset-entries"),
                    config(self, "hash-max-listpack-entries"),
                    config(self, "hash-max-listpack-value"),
                    config(self, "zset-max-listpack-entries"),
                    config(self, "zset-max-listpack-value"),
                ];
                let Some(e) = self.live(args[2], now) else {
                    out.nil();
                    return Some(Flow::Continue);
                };
                match (name, &e.value) {
                    ("object|encoding", Value::List(_)) => out.bulk(b"quicklist"),
                    ("object|encoding", Value::Set(m)) => {
                        out.bulk(sets::set_encoding(m, thresholds[0]).as_bytes())
                    }
                    ("object|encoding", Value::Hash(h)) => {
                        out.bulk(hashes::hash_encoding(h, thresholds[1], thresholds[2]).as_bytes())
                    }
                    ("object|encoding", Value::ZSet(z)) => {
                        out.bulk(zsets::zset_encoding(z, thresholds[3], thresholds[4]).as_bytes())
                    }
                    ("object|encoding", Value::Str(s)) => out.bulk(string_encoding(s).as_bytes()),
                    ("object|refcount", Value::Str(s)) if shared_integer(s) => {
                        out.integer(i64::from(i32::MAX))
                    }
                    ("object|refcount", _) => out.integer(1),
                    _ => out.error(
                        "ERR An LFU maxmemory policy is not selected, access frequency not \
                         tracked. Please note that when switching between policies at runtime \
                         LRU and LFU data will take some time to adjust.",
                    ),
                }
            }
            "time" => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                out.array(2);
                out.bulk(now.as_secs().to_string().as_bytes());
                out.bulk(now.subsec_micros().to_string().as_bytes());
            }
            "ttl" | "pttl" => match self.live(args[1], now) {
                None => out.integer(-2),
                Some(e) => match Self::ms_left(e, now) {
                    None => out.integer(-1),
                    Some(ms) if name == "pttl" => out.integer(ms),
                    Some(ms) => out.integer((ms + 500) / 1000),
                },
            },
            "persist" => {
                let had = matches!(self.live(args[1], now), Some(e) if e.expires.is_some());
                if had {
                    self.set_deadline(args[1], None);
                }
                out.integer(i64::from(had));
            }
            "keys" => {
                let pattern = args[1];
                let all = pattern == b"*";
                let keys: Vec<&Vec<u8>> = self
                    .data
                    .iter()
                    .filter(|(k, e)| !e.due(now) && (all || glob_match(pattern, k)))
                    .map(|(k, _)| k)
                    .collect();
                out.array(keys.len());
                for k in keys {
                    out.bulk(k);
                }
            }
            "dbsize" => out.integer(self.data.len() as i64),
            "flushdb" | "flushall" => match args.get(1) {
                None => self.flush(out),
                Some(m) if args.len() == 2 && is_sync_mode(m) => self.flush(out),
                _ => out.error(SYNTAX),
            },
            _ => return None,
        }
        Some(Flow::Continue)
    }

    fn flush(&mut self, out: &mut impl Replies) {
        self.data.clear();
        self.deadlines.clear();
        self.used = 0;
        out.simple("OK");
    }
    pub(super) fn expire(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) {
        let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
        for opt in &args[3..] {
            match opt.to_ascii_lowercase().as_slice() {
                b"nx" => nx = true,
                b"xx" => xx = true,
                b"gt" => gt = true,
                b"lt" => lt = true,
                _ => {
                    out.error(&format!("ERR Unsupported option {}", show(opt, usize::MAX)));
                    return;
                }
            }
        }
        if nx && (xx || gt || lt) {
            out.error("ERR NX and XX, GT or LT options at the same time are not compatible");
            return;
        }
        if gt && lt {
            out.error("ERR GT and LT options at the same time are not compatible");
            return;
        }
        let Some(n) = parse_i64(args[2]) else {
            out.error(NOT_INTEGER);
            return;
        };
        let now_unix = unix_ms();
        let ms = if name == "expire" || name == "expireat" {
            n.checked_mul(1000)
        } else {
            Some(n)
        };
        let base = if name.ends_with("at") { 0 } else { now_unix };
        let Some(when) = ms.and_then(|ms| ms.checked_add(base)) else {
            out.error(&invalid_expire(name));
            return;
        };
        let key = args[1];
        let Some(e) = self.live(key, now) else {
            out.integer(0);
            return;
        };
        let current = e.expires.map(|_| e.expires_unix);
        let refused = (nx && current.is_some())
            || (xx && current.is_none())
            || (gt && current.is_none_or(|c| when <= c))
            || (lt && current.is_some_and(|c| when >= c));
        if refused {
            out.integer(0);
            return;
        }
        self.expire_at_unix(key, when, now, now_unix);
        out.integer(1);
    }
}

/// The encoding Redis gives a string it stores with `SET`: `int` for an integer of at
/// most 20 characters, `embstr` up to 44 bytes, `raw` beyond (a string changed in place,
/// which Redis reports `raw`, is not told apart).
fn string_encoding(s: &[u8]) -> &'static str {
    if s.len() <= 20 && parse_i64(s).is_some() {
        "int"
    } else if s.len() <= 44 {
        "embstr"
    } else {
        "raw"
    }
}

/// Whether Redis would store `s` as one of its shared integers (0 to 9999), whose
/// reference count it reports as `INT_MAX`.
fn shared_integer(s: &[u8]) -> bool {
    parse_i64(s).is_some_and(|n| (0..10_000).contains(&n))
}

impl Store {
    /// `RENAME`/`RENAMENX src dst`: the value and its time to live move.
    fn rename(&mut self, nx: bool, src: &[u8], dst: &[u8], now: Instant, out: &mut impl Replies) {
        if self.live(src, now).is_none() {
            out.error("ERR no such key");
            return;
        }
        if src == dst {
            if nx {
                out.integer(0);
            } else {
                out.simple("OK");
            }
            return;
        }
        if self.live(dst, now).is_some() {
            if nx {
                out.integer(0);
                return;
            }
            self.remove(dst);
        }
        let Some(e) = self.remove(src) else {
            return;
        };
        let deadline = e.expires.map(|(at, _)| (at, e.expires_unix));
        self.put(dst, e.value, false, now);
        if deadline.is_some() {
            self.set_deadline(dst, deadline);
        }
        if nx {
            out.integer(1);
        } else {
            out.simple("OK");
        }
    }

    /// `COPY src dst [DB 0] [REPLACE]`: one database here, so `DB` takes only 0.
    fn copy(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (src, dst) = (args[1], args[2]);
        let mut replace = false;
        let mut j = 3;
        while j < args.len() {
            let opt = args[j];
            if opt.eq_ignore_ascii_case(b"replace") {
                replace = true;
            } else if opt.eq_ignore_ascii_case(b"db") && j + 1 < args.len() {
                match parse_i64(args[j + 1]) {
                    Some(0) => {}
                    Some(n) if i32::try_from(n).is_err() => {
                        out.error(
                            "ERR value is out of range, value must between -2147483648 and \
                             2147483647",
                        );
                        return;
                    }
                    Some(_) => {
                        out.error("ERR DB index is out of range");
                        return;
                    }
                    None => {
                        out.error(NOT_INTEGER);
                        return;
                    }
                }
                j += 1;
            } else {
                out.error(SYNTAX);
                return;
            }
            j += 1;
        }
        if src == dst {
            out.error("ERR source and destination objects are the same");
            return;
        }
        let Some(e) = self.live(src, now) else {
            out.integer(0);
            return;
        };
        let value = e.value.clone();
        let deadline = e.expires.map(|(at, _)| (at, e.expires_unix));
        if self.live(dst, now).is_some() {
            if !replace {
                out.integer(0);
                return;
            }
            self.remove(dst);
        }
        self.put(dst, value, false, now);
        if deadline.is_some() {
            self.set_deadline(dst, deadline);
        }
        out.integer(1);
    }

    /// A key picked at random; keys found due on the way are removed.
    fn random_key(&mut self, now: Instant) -> Option<Vec<u8>> {
        loop {
            if self.data.is_empty() {
                return None;
            }
            let pick = (self.next_random() % self.data.len() as u64) as usize;
            let (key, due) = self
                .data
                .iter()
                .nth(pick)
                .map(|(k, e)| (k.clone(), e.due(now)))?;
            if !due {
                return Some(key);
            }
            self.remove(&key);
            self.stats.expired += 1;
        }
    }
}
