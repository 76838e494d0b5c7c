//! List commands: `LPUSH`, `RPUSH`, `LPOP`, `RPOP`, `LLEN`, `LRANGE`.

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("lpush", -3, true),
    spec("rpush", -3, true),
    spec("lpop", -2, false),
    spec("rpop", -2, false),
    spec("llen", 2, false),
    spec("lrange", 4, false),
];

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_lists(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "lpush" | "rpush" => self.push(name == "lpush", args, now, out),
            "lpop" | "rpop" => self.pop(name == "lpop", args, now, out),
            "llen" => match self.live(args[1], now).map(|e| &e.value) {
                None => out.integer(0),
                Some(Value::List(l)) => out.integer(l.len() as i64),
                Some(_) => out.error(WRONGTYPE),
            },
            "lrange" => {
                let (Some(start), Some(stop)) = (parse_i64(args[2]), parse_i64(args[3])) else {
                    out.error(NOT_INTEGER);
                    return Some(Flow::Continue);
                };
                match self.live(args[1], now).map(|e| &e.value) {
                    None => out.array(0),
                    Some(Value::List(l)) => {
                        let len = l.len() as i64;
                        let mut start = if start < 0 { len + start } else { start };
                        let mut stop = if stop < 0 { len + stop } else { stop };
                        start = start.max(0);
                        if start > stop || start >= len {
                            out.array(0);
                        } else {
                            stop = stop.min(len - 1);
                            out.array((stop - start + 1) as usize);
                            for e in l.range(start as usize..=stop as usize) {
                                out.shared_bulk(e);
                            }
                        }
                    }
                    Some(_) => out.error(WRONGTYPE),
                }
            }
            _ => return None,
        }
        Some(Flow::Continue)
    }

    fn push(&mut self, front: bool, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let key = args[1];
        match self.live(key, now).map(|e| &e.value) {
            None => self.put(key, Value::List(VecDeque::new()), false, now),
            Some(Value::List(_)) => {}
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        let Some(Entry {
            value: Value::List(l),
            size,
            ..
        }) = self.data.get_mut(key)
        else {
            return;
        };
        let mut added = 0;
        for v in &args[2..] {
            if front {
                l.push_front(blob(v));
            } else {
                l.push_back(blob(v));
            }
            added += v.len() + ELEMENT_OVERHEAD;
        }
        *size += added;
        let len = l.len();
        self.used += added;
        out.integer(len as i64);
    }
    pub(super) fn pop(
        &mut self,
        front: bool,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) {
        if args.len() > 3 {
            let name = if front { "lpop" } else { "rpop" };
            out.error(&format!(
                "ERR wrong number of arguments for '{name}' command"
            ));
            return;
        }
        let count = match args.get(2) {
            None => None,
            Some(c) => match parse_i64(c) {
                Some(n) if n >= 0 => Some(n as usize),
                Some(_) => {
                    out.error("ERR value is out of range, must be positive");
                    return;
                }
                None => {
                    out.error(NOT_INTEGER);
                    return;
                }
            },
        };
        let key = args[1];
        let Some(entry) = self.live(key, now) else {
            match count {
                Some(_) => out.nil_array(),
                None => out.nil(),
            }
            return;
        };
        let Entry {
            value: Value::List(l),
            size,
            ..
        } = entry
        else {
            out.error(WRONGTYPE);
            return;
        };
        let take = count.unwrap_or(1).min(l.len());
        if count.is_some() {
            out.array(take);
        }
        let mut freed = 0;
        for _ in 0..take {
            let v = if front { l.pop_front() } else { l.pop_back() };
            if let Some(v) = v {
                freed += v.len() + ELEMENT_OVERHEAD;
                out.bulk(&v);
            }
        }
        *size = size.saturating_sub(freed);
        let empty = l.is_empty();
        self.used = self.used.saturating_sub(freed);
        if empty {
            self.remove(key);
        }
    }
}
