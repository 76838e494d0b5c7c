//! Keyspace commands: `DEL`, `EXISTS`, `TYPE`, expiry (`EXPIRE`, `TTL`, `PERSIST`), `KEYS`, `DBSIZE`, `FLUSHDB`.

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
            "type" => out.simple(match self.live(args[1], now).map(|e| &e.value) {
                None => "none",
                Some(Value::Str(_)) => "string",
                Some(Value::List(_)) => "list",
            }),
            "expire" | "pexpire" => self.expire(name, args, now, out),
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
        let ms = if name == "expire" {
            n.checked_mul(1000)
        } else {
            Some(n)
        };
        let Some(when) = ms.and_then(|ms| ms.checked_add(now_unix)) else {
            out.error(&invalid_expire(name));
            return;
        };
        let key = args[1];
        let Some(e) = self.live(key, now) else {
            out.integer(0);
            return;
        };
        let current = Self::ms_left(e, now).map(|left| now_unix + left);
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
