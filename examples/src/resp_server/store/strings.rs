//! String commands: `GET`, `SET` and its variants, counters, `APPEND`, `STRLEN`, `MGET`, `MSET`.

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("get", 2, false),
    spec("set", -3, true),
    spec("setnx", 3, true),
    spec("setex", 4, true),
    spec("psetex", 4, true),
    spec("getset", 3, true),
    spec("incr", 2, true),
    spec("decr", 2, true),
    spec("incrby", 3, true),
    spec("decrby", 3, true),
    spec("append", 3, true),
    spec("strlen", 2, false),
    spec("mget", -2, false),
    spec("mset", -3, true),
];

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_strings(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "get" => self.get(args[1], now, out),
            "set" => self.set(args, now, out),
            "setnx" => {
                if self.live(args[1], now).is_some() {
                    out.integer(0);
                } else {
                    self.put(args[1], Value::Str(blob(args[2])), false, now);
                    out.integer(1);
                }
            }
            "setex" | "psetex" => {
                let Some(n) = parse_i64(args[2]) else {
                    out.error(NOT_INTEGER);
                    return Some(Flow::Continue);
                };
                let seconds = name == "setex";
                match expire_ms(n, seconds, true) {
                    Some(unix) => {
                        self.put(args[1], Value::Str(blob(args[3])), false, now);
                        self.expire_at_unix(args[1], unix, now, unix_ms());
                        out.simple("OK");
                    }
                    None => out.error(&invalid_expire(name)),
                }
            }
            "getset" => {
                match self.live(args[1], now).map(|e| &e.value) {
                    Some(Value::Str(old)) => out.bulk(old),
                    Some(_) => {
                        out.error(WRONGTYPE);
                        return Some(Flow::Continue);
                    }
                    None => out.nil(),
                }
                self.put(args[1], Value::Str(blob(args[2])), false, now);
            }
            "incr" => self.incr_by(args[1], 1, now, out),
            "decr" => self.incr_by(args[1], -1, now, out),
            "incrby" => match parse_i64(args[2]) {
                Some(by) => self.incr_by(args[1], by, now, out),
                None => out.error(NOT_INTEGER),
            },
            "decrby" => match parse_i64(args[2]) {
                Some(i64::MIN) => out.error("ERR decrement would overflow"),
                Some(by) => self.incr_by(args[1], -by, now, out),
                None => out.error(NOT_INTEGER),
            },
            "append" => self.append(args[1], args[2], now, out),
            "strlen" => match self.live(args[1], now).map(|e| &e.value) {
                None => out.integer(0),
                Some(Value::Str(s)) => out.integer(s.len() as i64),
                Some(_) => out.error(WRONGTYPE),
            },
            "mget" => {
                out.array(args.len() - 1);
                for k in &args[1..] {
                    match self.live(k, now).map(|e| &e.value) {
                        Some(Value::Str(s)) => out.shared_bulk(s),
                        _ => out.nil(),
                    }
                }
            }
            "mset" => {
                if args.len().is_multiple_of(2) {
                    out.error("ERR wrong number of arguments for 'mset' command");
                    return Some(Flow::Continue);
                }
                for kv in args[1..].chunks_exact(2) {
                    self.put(kv[0], Value::Str(blob(kv[1])), false, now);
                }
                out.simple("OK");
            }
            _ => return None,
        }
        Some(Flow::Continue)
    }

    fn get(&mut self, key: &[u8], now: Instant, out: &mut impl Replies) {
        match self.live(key, now).map(|e| &e.value) {
            None => out.nil(),
            Some(Value::Str(s)) => out.bulk(s),
            Some(_) => out.error(WRONGTYPE),
        }
    }
    pub(super) fn set(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (mut nx, mut xx, mut get, mut keep) = (false, false, false, false);
        // (value, seconds, absolute) of EX, PX, EXAT or PXAT.
        let mut expire: Option<(&[u8], bool, bool)> = None;
        let mut j = 3;
        while j < args.len() {
            let opt = args[j];
            let next = args.get(j + 1).copied();
            let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
            if is("nx") && !xx {
                nx = true;
            } else if is("xx") && !nx {
                xx = true;
            } else if is("get") {
                get = true;
            } else if is("keepttl") && expire.is_none() {
                keep = true;
            } else if let (Some(v), Some((secs, abs))) = (
                next,
                match () {
                    _ if is("ex") => Some((true, false)),
                    _ if is("px") => Some((false, false)),
                    _ if is("exat") => Some((true, true)),
                    _ if is("pxat") => Some((false, true)),
                    _ => None,
                },
            ) {
                // An expiry option may repeat; two different ones, or one with KEEPTTL,
                // are a syntax error.
                let clash = keep || matches!(expire, Some((_, s, a)) if (s, a) != (secs, abs));
                if clash {
                    out.error(SYNTAX);
                    return;
                }
                expire = Some((v, secs, abs));
                j += 1;
            } else {
                out.error(SYNTAX);
                return;
            }
            j += 1;
        }
        let now_unix = unix_ms();
        let ttl = match expire {
            None if keep => Ttl::Keep,
            None => Ttl::Clear,
            Some((v, secs, abs)) => {
                let Some(n) = parse_i64(v) else {
                    out.error(NOT_INTEGER);
                    return;
                };
                let at = if abs {
                    expire_ms(n, secs, false)
                } else {
                    expire_ms(n, secs, true)
                };
                match at {
                    Some(at) => Ttl::At(at),
                    None => {
                        out.error(&invalid_expire("set"));
                        return;
                    }
                }
            }
        };
        let key = args[1];
        let found = match self.live(key, now).map(|e| &e.value) {
            None => false,
            Some(Value::Str(old)) => {
                if get {
                    out.bulk(old);
                }
                true
            }
            Some(_) if get => {
                out.error(WRONGTYPE);
                return;
            }
            Some(_) => true,
        };
        if get && !found {
            out.nil();
        }
        if (nx && found) || (xx && !found) {
            if !get {
                out.nil();
            }
            return;
        }
        self.put(key, Value::Str(blob(args[2])), ttl == Ttl::Keep, now);
        if let Ttl::At(at) = ttl {
            self.expire_at_unix(key, at, now, now_unix);
        }
        if !get {
            out.simple("OK");
        }
    }
    pub(super) fn incr_by(&mut self, key: &[u8], by: i64, now: Instant, out: &mut impl Replies) {
        let current = match self.live(key, now).map(|e| &e.value) {
            None => 0,
            Some(Value::Str(s)) => match parse_i64(s) {
                Some(v) => v,
                None => {
                    out.error(NOT_INTEGER);
                    return;
                }
            },
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        };
        let Some(new) = current.checked_add(by) else {
            out.error("ERR increment or decrement would overflow");
            return;
        };
        self.put(
            key,
            Value::Str(Rc::new(new.to_string().into_bytes())),
            true,
            now,
        );
        out.integer(new);
    }
    pub(super) fn append(&mut self, key: &[u8], data: &[u8], now: Instant, out: &mut impl Replies) {
        match self.live(key, now) {
            None => {
                self.put(key, Value::Str(blob(data)), false, now);
                out.integer(data.len() as i64);
            }
            Some(Entry {
                value: Value::Str(s),
                size,
                ..
            }) => {
                if s.len() + data.len() > MAX_STRING {
                    out.error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
                    return;
                }
                Rc::make_mut(s).extend_from_slice(data);
                *size += data.len();
                let len = s.len();
                self.used += data.len();
                out.integer(len as i64);
            }
            Some(_) => out.error(WRONGTYPE),
        }
    }
}
