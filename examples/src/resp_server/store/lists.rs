//! List commands: `LPUSH`, `RPUSH`, `LPUSHX`, `RPUSHX`, `LPOP`, `RPOP`, `LMPOP`, `LLEN`,
//! `LRANGE`, `LINDEX`, `LSET`, `LINSERT`, `LREM`, `LTRIM`, `LPOS`, `LMOVE`, `RPOPLPUSH`.

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("lpush", -3, true),
    spec("rpush", -3, true),
    spec("lpop", -2, false),
    spec("rpop", -2, false),
    spec("llen", 2, false),
    spec("lrange", 4, false),
    spec("lpushx", -3, true),
    spec("rpushx", -3, true),
    spec("lindex", 3, false),
    spec("lset", 4, true),
    spec("linsert", 5, true),
    spec("lrem", 4, false),
    spec("ltrim", 4, false),
    spec("lpos", -3, false),
    spec("lmove", 5, true),
    spec("rpoplpush", 3, true),
    spec("lmpop", -4, false),
];

/// The cost of one list element in the memory estimate.
pub(super) fn element_cost(v: &[u8]) -> usize {
    v.len() + ELEMENT_OVERHEAD
}

/// `LEFT` or `RIGHT` (any case): whether it is the head.
pub(super) fn parse_end(arg: &[u8]) -> Option<bool> {
    if arg.eq_ignore_ascii_case(b"left") {
        Some(true)
    } else if arg.eq_ignore_ascii_case(b"right") {
        Some(false)
    } else {
        None
    }
}

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
            "lpushx" | "rpushx" => match self.live(args[1], now).map(|e| &e.value) {
                None => out.integer(0),
                Some(Value::List(_)) => self.push(name == "lpushx", args, now, out),
                Some(_) => out.error(WRONGTYPE),
            },
            "lindex" => match self.live(args[1], now).map(|e| &e.value) {
                None => out.nil(),
                Some(Value::List(l)) => match parse_i64(args[2]) {
                    None => out.error(NOT_INTEGER),
                    Some(index) => match list_index(l.len(), index) {
                        Some(i) => out.shared_bulk(&l[i]),
                        None => out.nil(),
                    },
                },
                Some(_) => out.error(WRONGTYPE),
            },
            "lset" => self.lset(args, now, out),
            "linsert" => self.linsert(args, now, out),
            "lrem" => self.lrem(args, now, out),
            "ltrim" => self.ltrim(args, now, out),
            "lpos" => self.lpos(args, now, out),
            "lmove" => match (parse_end(args[3]), parse_end(args[4])) {
                (Some(from), Some(to)) => self.lmove(args[1], args[2], from, to, now, out),
                _ => out.error(SYNTAX),
            },
            "rpoplpush" => self.lmove(args[1], args[2], false, true, now, out),
            "lmpop" => {
                if let Some(m) = parse_mpop(args, 1, out) {
                    if !self.mpop(&m, now, out) {
                        out.nil_array();
                    }
                }
            }
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

/// The position of `index` (negative: from the end) in a list of `len`, if inside.
fn list_index(len: usize, index: i64) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { len + index } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

/// What `LMPOP`/`BLMPOP` pop: from which keys, which end, how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MPop {
    /// The keys, in the order given.
    pub(super) keys: Vec<Vec<u8>>,
    /// From the head.
    pub(super) front: bool,
    /// The most elements.
    pub(super) count: usize,
}

/// Parses `numkeys key... LEFT|RIGHT [COUNT n]` starting at `args[at]`, as Redis's
/// `lmpopGenericCommand` does; the error is sent if it does not parse.
pub(super) fn parse_mpop(args: &[&[u8]], at: usize, out: &mut impl Replies) -> Option<MPop> {
    let numkeys = match parse_i64(args[at]) {
        Some(n) if n > 0 => n as u64,
        _ => {
            out.error("ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_at = (at as u64 + 1)
        .checked_add(numkeys)
        .filter(|&w| w < args.len() as u64);
    let Some(where_at) = where_at.map(|w| w as usize) else {
        out.error(SYNTAX);
        return None;
    };
    let Some(front) = parse_end(args[where_at]) else {
        out.error(SYNTAX);
        return None;
    };
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && args[j].eq_ignore_ascii_case(b"count") && j + 1 < args.len() {
            j += 1;
            match parse_i64(args[j]) {
                Some(n) if n > 0 => count = Some(n as usize),
                _ => {
                    out.error("ERR count should be greater than 0");
                    return None;
                }
            }
        } else {
            out.error(SYNTAX);
            return None;
        }
        j += 1;
    }
    Some(MPop {
        keys: args[at + 1..where_at].iter().map(|k| k.to_vec()).collect(),
        front,
        count: count.unwrap_or(1),
    })
}

impl Store {
    /// The list at `key` to change in place, with its size; `None` if it is missing or
    /// not a list. The memory in use is the caller's to adjust.
    pub(super) fn list_mut(&mut self, key: &[u8]) -> Option<(&mut VecDeque<Blob>, &mut usize)> {
        match self.data.get_mut(key) {
            Some(Entry {
                value: Value::List(l),
                size,
                ..
            }) => Some((l, size)),
            _ => None,
        }
    }

    /// Pops up to `n` elements from the list at `key` (which must be live), removing the
    /// key once empty.
    pub(super) fn pop_elements(&mut self, key: &[u8], front: bool, n: usize) -> Vec<Blob> {
        let Some((l, size)) = self.list_mut(key) else {
            return Vec::new();
        };
        let take = n.min(l.len());
        let mut popped = Vec::with_capacity(take);
        let mut freed = 0;
        for _ in 0..take {
            let v = if front { l.pop_front() } else { l.pop_back() };
            if let Some(v) = v {
                freed += element_cost(&v);
                popped.push(v);
            }
        }
        *size = size.saturating_sub(freed);
        let empty = l.is_empty();
        self.used = self.used.saturating_sub(freed);
        if empty {
            self.remove(key);
        }
        popped
    }

    /// Pushes `value` on the list at `key`, creating it (which wakes clients waiting on
    /// it) if missing. The key must not hold another type.
    pub(super) fn push_element(&mut self, key: &[u8], value: Blob, front: bool, now: Instant) {
        if self.list_mut(key).is_none() {
            self.put(key, Value::List(VecDeque::new()), false, now);
        }
        let cost = element_cost(&value);
        if let Some((l, size)) = self.list_mut(key) {
            if front {
                l.push_front(value);
            } else {
                l.push_back(value);
            }
            *size += cost;
            self.used += cost;
        }
    }

    /// `LMOVE src dst from to` (and `RPOPLPUSH`): the element moved, or nil when `src` is
    /// missing.
    pub(super) fn lmove(
        &mut self,
        src: &[u8],
        dst: &[u8],
        from_front: bool,
        to_front: bool,
        now: Instant,
        out: &mut impl Replies,
    ) {
        match self.live(src, now).map(|e| &e.value) {
            None => {
                out.nil();
                return;
            }
            Some(Value::List(_)) => {}
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        if matches!(self.live(dst, now).map(|e| &e.value), Some(v) if !matches!(v, Value::List(_)))
        {
            out.error(WRONGTYPE);
            return;
        }
        if let Some(v) = self.move_element(src, dst, from_front, to_front, now) {
            out.shared_bulk(&v);
        }
    }

    /// Moves one element from the live list `src` to `dst` (missing or a list): popped,
    /// pushed, and `src` removed if that left it empty (not when it is `dst`).
    pub(super) fn move_element(
        &mut self,
        src: &[u8],
        dst: &[u8],
        from_front: bool,
        to_front: bool,
        now: Instant,
    ) -> Option<Blob> {
        let (l, size) = self.list_mut(src)?;
        let v = if from_front {
            l.pop_front()
        } else {
            l.pop_back()
        }?;
        let cost = element_cost(&v);
        *size = size.saturating_sub(cost);
        let empty = l.is_empty();
        self.used = self.used.saturating_sub(cost);
        self.push_element(dst, v.clone(), to_front, now);
        if empty && src != dst {
            self.remove(src);
        }
        Some(v)
    }

    /// `LMPOP`'s work, for `BLMPOP` too: pops from the first non-empty list and replies
    /// `[key, [elements]]`. False if every key is missing (nothing sent); a key of another
    /// type sends `WRONGTYPE` (true).
    pub(super) fn mpop(&mut self, m: &MPop, now: Instant, out: &mut impl Replies) -> bool {
        for key in &m.keys {
            match self.live(key, now).map(|e| &e.value) {
                None => continue,
                Some(Value::List(_)) => {}
                Some(_) => {
                    out.error(WRONGTYPE);
                    return true;
                }
            }
            let popped = self.pop_elements(key, m.front, m.count);
            out.array(2);
            out.bulk(key);
            out.array(popped.len());
            for v in &popped {
                out.shared_bulk(v);
            }
            return true;
        }
        false
    }

    /// `LSET key index element`.
    fn lset(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        match self.live(args[1], now).map(|e| &e.value) {
            None => {
                out.error("ERR no such key");
                return;
            }
            Some(Value::List(_)) => {}
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        let Some(index) = parse_i64(args[2]) else {
            out.error(NOT_INTEGER);
            return;
        };
        let Some((l, size)) = self.list_mut(args[1]) else {
            return;
        };
        let Some(i) = list_index(l.len(), index) else {
            out.error("ERR index out of range");
            return;
        };
        let new = blob(args[3]);
        let old = std::mem::replace(&mut l[i], new);
        *size = (*size + args[3].len()).saturating_sub(old.len());
        self.used = (self.used + args[3].len()).saturating_sub(old.len());
        out.simple("OK");
    }

    /// `LINSERT key BEFORE|AFTER pivot element`.
    fn linsert(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let after = if args[2].eq_ignore_ascii_case(b"after") {
            true
        } else if args[2].eq_ignore_ascii_case(b"before") {
            false
        } else {
            out.error(SYNTAX);
            return;
        };
        match self.live(args[1], now).map(|e| &e.value) {
            None => {
                out.integer(0);
                return;
            }
            Some(Value::List(_)) => {}
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        let Some((l, size)) = self.list_mut(args[1]) else {
            return;
        };
        let Some(at) = l.iter().position(|e| e.as_slice() == args[3]) else {
            out.integer(-1);
            return;
        };
        l.insert(at + usize::from(after), blob(args[4]));
        let len = l.len();
        let cost = element_cost(args[4]);
        *size += cost;
        self.used += cost;
        out.integer(len as i64);
    }

    /// `LREM key count element`: from the head for a positive count, from the tail for a
    /// negative one, every occurrence for 0.
    fn lrem(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let Some(count) = parse_i64(args[2]) else {
            out.error(NOT_INTEGER);
            return;
        };
        match self.live(args[1], now).map(|e| &e.value) {
            None => {
                out.integer(0);
                return;
            }
            Some(Value::List(_)) => {}
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        let Some((l, size)) = self.list_mut(args[1]) else {
            return;
        };
        let target = args[3];
        let limit = if count == 0 {
            u64::MAX
        } else {
            count.unsigned_abs()
        };
        let mut removed: u64 = 0;
        let mut kept = VecDeque::with_capacity(l.len());
        let old = std::mem::take(l);
        if count >= 0 {
            for e in old {
                if removed < limit && e.as_slice() == target {
                    removed += 1;
                } else {
                    kept.push_back(e);
                }
            }
        } else {
            for e in old.into_iter().rev() {
                if removed < limit && e.as_slice() == target {
                    removed += 1;
                } else {
                    kept.push_front(e);
                }
            }
        }
        *l = kept;
        let freed = removed as usize * element_cost(target);
        *size = size.saturating_sub(freed);
        let empty = l.is_empty();
        self.used = self.used.saturating_sub(freed);
        if empty {
            self.remove(args[1]);
        }
        out.integer(removed as i64);
    }

    /// `LTRIM key start stop`.
    fn ltrim(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (Some(start), Some(end)) = (parse_i64(args[2]), parse_i64(args[3])) else {
            out.error(NOT_INTEGER);
            return;
        };
        match self.live(args[1], now).map(|e| &e.value) {
            None => {
                out.simple("OK");
                return;
            }
            Some(Value::List(_)) => {}
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        }
        let Some((l, size)) = self.list_mut(args[1]) else {
            return;
        };
        let len = l.len() as i64;
        let mut start = if start < 0 { len + start } else { start };
        let mut end = if end < 0 { len + end } else { end };
        start = start.max(0);
        let (ltrim, rtrim) = if start > end || start >= len {
            (len, 0)
        } else {
            end = end.min(len - 1);
            (start, len - end - 1)
        };
        let mut freed = 0;
        for e in l.drain(..ltrim as usize) {
            freed += element_cost(&e);
        }
        for _ in 0..rtrim {
            if let Some(e) = l.pop_back() {
                freed += element_cost(&e);
            }
        }
        *size = size.saturating_sub(freed);
        let empty = l.is_empty();
        self.used = self.used.saturating_sub(freed);
        if empty {
            self.remove(args[1]);
        }
        out.simple("OK");
    }

    /// `LPOS key element [RANK r] [COUNT n] [MAXLEN len]`.
    fn lpos(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (mut rank, mut count, mut maxlen): (i64, Option<i64>, i64) = (1, None, 0);
        let mut j = 3;
        while j < args.len() {
            let opt = args[j];
            let more = j + 1 < args.len();
            if opt.eq_ignore_ascii_case(b"rank") && more {
                j += 1;
                let Some(r) = parse_i64(args[j]) else {
                    out.error(NOT_INTEGER);
                    return;
                };
                if r == 0 {
                    out.error(
                        "ERR RANK can't be zero: use 1 to start from the first match, 2 from \
                         the second ... or use negative to start from the end of the list",
                    );
                    return;
                }
                rank = r;
            } else if opt.eq_ignore_ascii_case(b"count") && more {
                j += 1;
                match parse_i64(args[j]) {
                    Some(n) if n >= 0 => count = Some(n),
                    _ => {
                        out.error("ERR COUNT can't be negative");
                        return;
                    }
                }
            } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
                j += 1;
                match parse_i64(args[j]) {
                    Some(n) if n >= 0 => maxlen = n,
                    _ => {
                        out.error("ERR MAXLEN can't be negative");
                        return;
                    }
                }
            } else {
                out.error(SYNTAX);
                return;
            }
            j += 1;
        }
        // A negative rank searches from the tail. Redis negates it as a C long: the
        // lowest value stays negative, and then every match counts.
        let from_tail = rank < 0;
        if from_tail {
            rank = rank.wrapping_neg();
        }
        let l = match self.live(args[1], now).map(|e| &e.value) {
            None => {
                match count {
                    Some(_) => out.array(0),
                    None => out.nil(),
                }
                return;
            }
            Some(Value::List(l)) => l,
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        };
        let target = args[2];
        let len = l.len();
        let mut found: Vec<i64> = Vec::new();
        let mut matches: i64 = 0;
        let order: Box<dyn Iterator<Item = (usize, &Blob)>> = if from_tail {
            Box::new(l.iter().enumerate().rev())
        } else {
            Box::new(l.iter().enumerate())
        };
        for (scanned, (i, e)) in order.enumerate() {
            if maxlen != 0 && scanned as i64 >= maxlen {
                break;
            }
            if e.as_slice() != target {
                continue;
            }
            matches += 1;
            if matches >= rank {
                found.push(i as i64);
                match count {
                    None => break,
                    Some(n) if n != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= n => break,
                    Some(_) => {}
                }
            }
        }
        debug_assert!(found.len() <= len);
        match count {
            Some(_) => {
                out.array(found.len());
                for i in found {
                    out.integer(i);
                }
            }
            None => match found.first() {
                Some(&i) => out.integer(i),
                None => out.nil(),
            },
        }
    }
}
