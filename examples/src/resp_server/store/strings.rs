//! String commands: `GET`, `SET` and its variants, `GETEX`, `GETDEL`, counters
//! (`INCRBYFLOAT` in x87 extended precision, as Redis computes it), `APPEND`, `STRLEN`,
//! ranges (`GETRANGE`, `SUBSTR`, `SETRANGE`), bits (`GETBIT`, `SETBIT`), `MGET`, `MSET`,
//! `MSETNX`, `LCS`.

use super::float::LongDouble;
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
    spec("getex", -2, false),
    spec("getdel", 2, false),
    spec("incrbyfloat", 3, true),
    spec("setrange", 4, true),
    spec("getrange", 4, false),
    spec("substr", 4, false),
    spec("setbit", 4, true),
    spec("getbit", 3, false),
    spec("msetnx", -3, true),
    spec("lcs", -3, false),
];

const NOT_FLOAT: &str = "ERR value is not a valid float";
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";

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
            "msetnx" => {
                if args.len().is_multiple_of(2) {
                    out.error("ERR wrong number of arguments for 'msetnx' command");
                    return Some(Flow::Continue);
                }
                let taken = args[1..]
                    .chunks_exact(2)
                    .any(|kv| self.live(kv[0], now).is_some());
                if taken {
                    out.integer(0);
                } else {
                    for kv in args[1..].chunks_exact(2) {
                        self.put(kv[0], Value::Str(blob(kv[1])), false, now);
                    }
                    out.integer(1);
                }
            }
            "getex" => self.getex(args, now, out),
            "getdel" => match self.live(args[1], now).map(|e| &e.value) {
                None => out.nil(),
                Some(Value::Str(s)) => {
                    out.bulk(s);
                    self.remove(args[1]);
                }
                Some(_) => out.error(WRONGTYPE),
            },
            "incrbyfloat" => self.incr_by_float(args[1], args[2], now, out),
            "setrange" => self.setrange(args, now, out),
            "getrange" | "substr" => self.getrange(args, now, out),
            "setbit" => self.setbit(args, now, out),
            "getbit" => {
                let Some(offset) = bit_offset(args[2]) else {
                    out.error(BIT_OFFSET);
                    return Some(Flow::Continue);
                };
                match self.live(args[1], now).map(|e| &e.value) {
                    None => out.integer(0),
                    Some(Value::Str(s)) => {
                        let byte = (offset >> 3) as usize;
                        let bit = 7 - (offset & 7);
                        let set = s.get(byte).is_some_and(|b| b & (1 << bit) != 0);
                        out.integer(i64::from(set));
                    }
                    Some(_) => out.error(WRONGTYPE),
                }
            }
            "lcs" => self.lcs(args, now, out),
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
        self.put_str(key, args[2], ttl == Ttl::Keep, now);
        if let Ttl::At(at) = ttl {
            // The wall clock is read only for an expiry.
            self.expire_at_unix(key, at, now, unix_ms());
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

/// A bit offset as Redis takes it: an integer from 0 to below 2^32 (the bits of the
/// largest string).
fn bit_offset(arg: &[u8]) -> Option<u64> {
    let n = parse_i64(arg)?;
    (n >= 0 && ((n as u64) >> 3) < MAX_STRING as u64).then_some(n as u64)
}

/// Redis's `checkStringLength`: whether `offset + len` bytes fit in a string.
fn fits(offset: u64, len: usize) -> bool {
    offset
        .checked_add(len as u64)
        .is_some_and(|total| total <= MAX_STRING as u64)
}

impl Store {
    /// The string at `key` to change in place, its size accounted for by
    /// [`Store::resized`] afterwards; `None` if the key is missing or not a string.
    fn string_mut(&mut self, key: &[u8]) -> Option<&mut Vec<u8>> {
        match self.data.get_mut(key) {
            Some(Entry {
                value: Value::Str(s),
                ..
            }) => Some(Rc::make_mut(s)),
            _ => None,
        }
    }

    /// After a string changed in place: its entry's size and the memory in use.
    fn resized(&mut self, key: &[u8]) {
        if let Some(e) = self.data.get_mut(key) {
            let new = e.value.cost();
            self.used = self.used.saturating_sub(e.size) + new;
            e.size = new;
        }
    }

    /// `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`.
    fn getex(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        // (value, seconds, absolute) of EX, PX, EXAT or PXAT.
        let mut expire: Option<(&[u8], bool, bool)> = None;
        let mut persist = false;
        let mut j = 2;
        while j < args.len() {
            let opt = args[j];
            let next = args.get(j + 1).copied();
            let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
            let kind = match () {
                _ if is("ex") => Some((true, false)),
                _ if is("px") => Some((false, false)),
                _ if is("exat") => Some((true, true)),
                _ if is("pxat") => Some((false, true)),
                _ => None,
            };
            if is("persist") && expire.is_none() {
                persist = true;
            } else if let (Some(v), Some((secs, abs))) = (next, kind) {
                let clash = persist || matches!(expire, Some((_, s, a)) if (s, a) != (secs, abs));
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
        let key = args[1];
        match self.live(key, now).map(|e| &e.value) {
            None => {
                out.nil();
                return;
            }
            Some(Value::Str(_)) => {}
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        let at = match expire {
            None => None,
            Some((v, secs, abs)) => {
                let Some(n) = parse_i64(v) else {
                    out.error(NOT_INTEGER);
                    return;
                };
                match expire_ms(n, secs, !abs) {
                    Some(at) => Some(at),
                    None => {
                        out.error(&invalid_expire("getex"));
                        return;
                    }
                }
            }
        };
        if let Some(Entry {
            value: Value::Str(s),
            ..
        }) = self.data.get(key)
        {
            out.shared_bulk(s);
        }
        if let Some(at) = at {
            self.expire_at_unix(key, at, now, unix_ms());
        } else if persist {
            self.set_deadline(key, None);
        }
    }

    /// `INCRBYFLOAT key increment`: in `long double`, printed as Redis prints it; the
    /// time to live is kept.
    fn incr_by_float(&mut self, key: &[u8], by: &[u8], now: Instant, out: &mut impl Replies) {
        let current = match self.live(key, now).map(|e| &e.value) {
            None => LongDouble::ZERO,
            Some(Value::Str(s)) => match LongDouble::parse(s) {
                Some(v) => v,
                None => {
                    out.error(NOT_FLOAT);
                    return;
                }
            },
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        };
        let Some(by) = LongDouble::parse(by) else {
            out.error(NOT_FLOAT);
            return;
        };
        let new = current.add(by);
        if new.is_inf() {
            out.error("ERR increment would produce NaN or Infinity");
            return;
        }
        let text = Rc::new(new.to_human().into_bytes());
        out.bulk(&text);
        self.put(key, Value::Str(text), true, now);
    }

    /// `SETRANGE key offset value`.
    fn setrange(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (key, value) = (args[1], args[3]);
        let Some(offset) = parse_i64(args[2]) else {
            out.error(NOT_INTEGER);
            return;
        };
        if offset < 0 {
            out.error("ERR offset is out of range");
            return;
        }
        let offset = offset as u64;
        match self.live(key, now).map(|e| &e.value) {
            None => {
                if value.is_empty() {
                    out.integer(0);
                    return;
                }
                if !fits(offset, value.len()) {
                    out.error(TOO_BIG);
                    return;
                }
                self.put(key, Value::Str(Rc::new(Vec::new())), false, now);
            }
            Some(Value::Str(s)) => {
                if value.is_empty() {
                    out.integer(s.len() as i64);
                    return;
                }
                if !fits(offset, value.len()) {
                    out.error(TOO_BIG);
                    return;
                }
            }
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        let Some(s) = self.string_mut(key) else {
            return;
        };
        let start = offset as usize;
        let end = start + value.len();
        if s.len() < end {
            s.resize(end, 0);
        }
        s[start..end].copy_from_slice(value);
        let len = s.len();
        self.resized(key);
        out.integer(len as i64);
    }

    /// `GETRANGE key start end` (and `SUBSTR`), Redis's index arithmetic included.
    fn getrange(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (Some(mut start), Some(mut end)) = (parse_i64(args[2]), parse_i64(args[3])) else {
            out.error(NOT_INTEGER);
            return;
        };
        let s = match self.live(args[1], now).map(|e| &e.value) {
            None => {
                out.bulk(b"");
                return;
            }
            Some(Value::Str(s)) => s,
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        };
        let len = s.len() as i64;
        if start < 0 && end < 0 && start > end {
            out.bulk(b"");
            return;
        }
        if start < 0 {
            start = start.wrapping_add(len);
        }
        if end < 0 {
            end = end.wrapping_add(len);
        }
        start = start.max(0);
        end = end.max(0);
        if end >= len {
            end = len - 1;
        }
        if start > end || len == 0 {
            out.bulk(b"");
        } else {
            out.bulk(&s[start as usize..=end as usize]);
        }
    }

    /// `SETBIT key offset 0|1`: the bit's old value.
    fn setbit(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let key = args[1];
        let Some(offset) = bit_offset(args[2]) else {
            out.error(BIT_OFFSET);
            return;
        };
        let on = match parse_i64(args[3]) {
            Some(v @ (0 | 1)) => v == 1,
            _ => {
                out.error("ERR bit is not an integer or out of range");
                return;
            }
        };
        match self.live(key, now).map(|e| &e.value) {
            None => self.put(key, Value::Str(Rc::new(Vec::new())), false, now),
            Some(Value::Str(_)) => {}
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        let Some(s) = self.string_mut(key) else {
            return;
        };
        let byte = (offset >> 3) as usize;
        if s.len() <= byte {
            s.resize(byte + 1, 0);
        }
        let mask = 1u8 << (7 - (offset & 7));
        let old = s[byte] & mask != 0;
        if on {
            s[byte] |= mask;
        } else {
            s[byte] &= !mask;
        }
        self.resized(key);
        out.integer(i64::from(old));
    }

    /// `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]`: Redis's dynamic
    /// programming, its table bounded as Redis bounds it.
    fn lcs(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let mut get = |key: &[u8]| -> Result<Blob, ()> {
            match self.live(key, now).map(|e| &e.value) {
                None => Ok(Rc::new(Vec::new())),
                Some(Value::Str(s)) => Ok(s.clone()),
                Some(_) => Err(()),
            }
        };
        let (Ok(a), Ok(b)) = (get(args[1]), get(args[2])) else {
            out.error("ERR The specified keys must contain string values");
            return;
        };
        let (mut get_len, mut get_idx, mut with_len) = (false, false, false);
        let mut min_len: i64 = 0;
        let mut j = 3;
        while j < args.len() {
            let opt = args[j];
            let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
            if is("idx") {
                get_idx = true;
            } else if is("len") {
                get_len = true;
            } else if is("withmatchlen") {
                with_len = true;
            } else if is("minmatchlen") && j + 1 < args.len() {
                let Some(n) = parse_i64(args[j + 1]) else {
                    out.error(NOT_INTEGER);
                    return;
                };
                min_len = n.max(0);
                j += 1;
            } else {
                out.error(SYNTAX);
                return;
            }
            j += 1;
        }
        if get_idx && get_len {
            out.error("ERR If you want both the length and indexes, please just use IDX.");
            return;
        }
        if a.len() >= u32::MAX as usize - 1 || b.len() >= u32::MAX as usize - 1 {
            out.error("ERR String too long for LCS");
            return;
        }
        let (alen, blen) = (a.len(), b.len());
        let cells = (alen as u64 + 1) * (blen as u64 + 1);
        if cells * 4 > MAX_STRING as u64 {
            out.error(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            );
            return;
        }
        let mut table: Vec<u32> = Vec::new();
        if table.try_reserve_exact(cells as usize).is_err() {
            out.error("ERR Insufficient memory, failed allocating transient memory for LCS");
            return;
        }
        table.resize(cells as usize, 0);
        let at = |i: usize, j: usize| j + i * (blen + 1);
        for i in 1..=alen {
            for j in 1..=blen {
                table[at(i, j)] = if a[i - 1] == b[j - 1] {
                    table[at(i - 1, j - 1)] + 1
                } else {
                    table[at(i - 1, j)].max(table[at(i, j - 1)])
                };
            }
        }
        let total = table[at(alen, blen)];
        let compute = get_idx || !get_len;
        let mut result = vec![0u8; if compute { total as usize } else { 0 }];
        let mut idx = total as usize;
        // Ranges: (a start, a end, b start, b end); `a start == alen` means none yet.
        let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
        let mut ranges: Vec<[usize; 5]> = Vec::new();
        let (mut i, mut j) = (alen, blen);
        while compute && i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                result[idx - 1] = a[i - 1];
                if a_start == alen {
                    (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
                } else if a_start == i && b_start == j {
                    a_start -= 1;
                    b_start -= 1;
                } else {
                    emit = true;
                }
                if a_start == 0 || b_start == 0 {
                    emit = true;
                }
                idx -= 1;
                i -= 1;
                j -= 1;
            } else {
                if table[at(i - 1, j)] > table[at(i, j - 1)] {
                    i -= 1;
                } else {
                    j -= 1;
                }
                if a_start != alen {
                    emit = true;
                }
            }
            if emit {
                let match_len = a_end.wrapping_sub(a_start).wrapping_add(1);
                if get_idx && (min_len == 0 || match_len as i64 >= min_len) {
                    ranges.push([a_start, a_end, b_start, b_end, match_len]);
                }
                a_start = alen;
            }
        }
        drop(table);
        if get_idx {
            out.map(2);
            out.bulk(b"matches");
            out.array(ranges.len());
            for [a0, a1, b0, b1, n] in ranges {
                out.array(if with_len { 3 } else { 2 });
                out.array(2);
                out.integer(a0 as i64);
                out.integer(a1 as i64);
                out.array(2);
                out.integer(b0 as i64);
                out.integer(b1 as i64);
                if with_len {
                    out.integer(n as i64);
                }
            }
            out.bulk(b"len");
            out.integer(i64::from(total));
        } else if get_len {
            out.integer(i64::from(total));
        } else {
            out.bulk(&result);
        }
    }
}
