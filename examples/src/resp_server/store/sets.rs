//! Set commands: `SADD`, `SREM`, `SMEMBERS`, `SISMEMBER`, `SMISMEMBER`, `SCARD`,
//! `SRANDMEMBER`, `SPOP`, `SMOVE`, `SINTER`, `SUNION`, `SDIFF` and their `STORE` forms.
//!
//! A set keeps its members in an [`IndexSet`]: a random member is one index away, and a
//! removal moves the last member into the gap (the order of `SMEMBERS` is unspecified, as
//! Redis's).

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("sadd", -3, true),
    spec("srem", -3, false),
    spec("smembers", 2, false),
    spec("sismember", 3, false),
    spec("smismember", -3, false),
    spec("scard", 2, false),
    spec("srandmember", -2, false),
    spec("spop", -2, false),
    spec("smove", 4, true),
    spec("sinter", -2, false),
    spec("sunion", -2, false),
    spec("sdiff", -2, false),
    spec("sinterstore", -3, true),
    spec("sunionstore", -3, true),
    spec("sdiffstore", -3, true),
];

/// Which of the set algebra commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// The encoding `OBJECT ENCODING` names for a set, as Redis 7.0 would choose it for these
/// members: `intset` while every member is an integer and there are at most
/// `set-max-intset-entries` of them.
pub(super) fn set_encoding(m: &IndexSet<Vec<u8>>, max_intset: i64) -> &'static str {
    if (m.len() as i64) <= max_intset && m.iter().all(|v| parse_i64(v).is_some()) {
        "intset"
    } else {
        "hashtable"
    }
}

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_sets(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "sadd" => self.sadd(args, now, out),
            "srem" => self.srem(args, now, out),
            "smembers" => match self.set_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(None) => out.set(0),
                Ok(Some(m)) => {
                    out.set(m.len());
                    for v in m {
                        out.bulk(v);
                    }
                }
            },
            "sismember" => match self.set_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(m) => out.integer(i64::from(m.is_some_and(|m| m.contains(args[2])))),
            },
            "smismember" => match self.set_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(m) => {
                    out.array(args.len() - 2);
                    for v in &args[2..] {
                        out.integer(i64::from(m.is_some_and(|m| m.contains(*v))));
                    }
                }
            },
            "scard" => match self.set_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(m) => out.integer(m.map_or(0, |m| m.len() as i64)),
            },
            "srandmember" => self.srandmember(args, now, out),
            "spop" => self.spop(args, now, out),
            "smove" => self.smove(args, now, out),
            "sinter" => self.algebra(Algebra::Inter, None, &args[1..], now, out),
            "sunion" => self.algebra(Algebra::Union, None, &args[1..], now, out),
            "sdiff" => self.algebra(Algebra::Diff, None, &args[1..], now, out),
            "sinterstore" => self.algebra(Algebra::Inter, Some(args[1]), &args[2..], now, out),
            "sunionstore" => self.algebra(Algebra::Union, Some(args[1]), &args[2..], now, out),
            "sdiffstore" => self.algebra(Algebra::Diff, Some(args[1]), &args[2..], now, out),
            _ => return None,
        }
        Some(Flow::Continue)
    }

    /// The set at `key`: `Ok(None)` when there is none, `Err` when the key holds another
    /// type.
    fn set_of(&mut self, key: &[u8], now: Instant) -> Result<Option<&IndexSet<Vec<u8>>>, ()> {
        self.typed(key, now, |v| match v {
            Value::Set(m) => Some(m),
            _ => None,
        })
    }

    /// The set at `key`, made empty when missing; `None` when the key holds another type.
    fn set_for_write(&mut self, key: &[u8], now: Instant) -> Option<&mut IndexSet<Vec<u8>>> {
        if self.live(key, now).is_none() {
            self.put(key, Value::Set(IndexSet::new()), false, now);
        }
        match self.data.get_mut(key).map(|e| &mut e.value) {
            Some(Value::Set(m)) => Some(m),
            _ => None,
        }
    }

    fn sadd(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let key = args[1];
        if matches!(self.set_of(key, now), Err(())) {
            return out.error(WRONGTYPE);
        }
        let Some(m) = self.set_for_write(key, now) else {
            return out.error(WRONGTYPE);
        };
        let (mut added, mut grew) = (0, 0);
        for v in &args[2..] {
            if m.insert(v.to_vec()) {
                added += 1;
                grew += v.len() + ELEMENT_OVERHEAD;
            }
        }
        self.resize_collection(key, grew, 0);
        out.integer(added);
    }

    fn srem(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let key = args[1];
        let m = match self.live(key, now).map(|e| &mut e.value) {
            None => return out.integer(0),
            Some(Value::Set(m)) => m,
            Some(_) => return out.error(WRONGTYPE),
        };
        let (mut removed, mut freed) = (0, 0);
        for v in &args[2..] {
            if m.swap_remove(*v) {
                removed += 1;
                freed += v.len() + ELEMENT_OVERHEAD;
            }
        }
        self.resize_collection(key, 0, freed);
        out.integer(removed);
    }

    /// `SRANDMEMBER key [count]`: a positive count gives distinct members, a negative
    /// one that many members, possibly repeated.
    fn srandmember(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        if args.len() > 3 {
            return out.error(SYNTAX);
        }
        let count = match args.get(2) {
            None => None,
            Some(c) => match parse_i64(c) {
                None => return out.error(NOT_INTEGER),
                Some(i64::MIN) => {
                    return out.error(
                        "ERR value is out of range, must be between -9223372036854775807 and \
                         9223372036854775807",
                    )
                }
                Some(n) => Some(n),
            },
        };
        let len = match self.set_of(args[1], now) {
            Err(()) => return out.error(WRONGTYPE),
            Ok(None) if count.is_some() => return out.array(0),
            Ok(None) => return out.nil(),
            Ok(Some(m)) => m.len(),
        };
        let Some(count) = count else {
            let i = (self.next_random() % len as u64) as usize;
            if let Ok(Some(m)) = self.set_of(args[1], now) {
                out.bulk(&m[i]);
            }
            return;
        };
        let picks: Vec<usize> = if count < 0 {
            (0..count.unsigned_abs())
                .map(|_| (self.next_random() % len as u64) as usize)
                .collect()
        } else if count as u64 >= len as u64 {
            (0..len).collect()
        } else {
            self.distinct_indices(len, count as usize)
        };
        if let Ok(Some(m)) = self.set_of(args[1], now) {
            out.array(picks.len());
            for i in picks {
                out.bulk(&m[i]);
            }
        }
    }

    /// `count` distinct indices below `len` (`count < len`), picked at random.
    fn distinct_indices(&mut self, len: usize, count: usize) -> Vec<usize> {
        // A partial Fisher-Yates shuffle of the indices, kept sparse.
        let mut swapped: HashMap<usize, usize> = HashMap::new();
        let mut picks = Vec::with_capacity(count);
        for i in 0..count {
            let j = i + (self.next_random() % (len - i) as u64) as usize;
            let at_j = *swapped.get(&j).unwrap_or(&j);
            let at_i = *swapped.get(&i).unwrap_or(&i);
            swapped.insert(j, at_i);
            picks.push(at_j);
        }
        picks
    }

    /// `SPOP key [count]`.
    fn spop(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        if args.len() > 3 {
            return out.error(SYNTAX);
        }
        let count = match args.get(2) {
            None => None,
            Some(c) => match parse_i64(c) {
                None => return out.error(NOT_INTEGER),
                Some(n) if n < 0 => {
                    return out.error("ERR value is out of range, must be positive")
                }
                Some(n) => Some(n as u64),
            },
        };
        let key = args[1];
        let len = match self.set_of(key, now) {
            Err(()) => return out.error(WRONGTYPE),
            Ok(None) if count.is_some() => return out.set(0),
            Ok(None) => return out.nil(),
            Ok(Some(m)) => m.len(),
        };
        let take = count.unwrap_or(1).min(len as u64) as usize;
        let mut popped = Vec::with_capacity(take);
        for i in 0..take {
            let pick = (self.next_random() % (len - i) as u64) as usize;
            if let Some(Value::Set(m)) = self.data.get_mut(key).map(|e| &mut e.value) {
                if let Some(v) = m.swap_remove_index(pick) {
                    popped.push(v);
                }
            }
        }
        let freed = popped.iter().map(|v| v.len() + ELEMENT_OVERHEAD).sum();
        self.resize_collection(key, 0, freed);
        if count.is_some() {
            out.set(popped.len());
        }
        for v in &popped {
            out.bulk(v);
        }
    }

    /// `SMOVE source destination member`.
    fn smove(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (src, dst, member) = (args[1], args[2], args[3]);
        let found = match self.set_of(src, now) {
            Err(()) => return out.error(WRONGTYPE),
            Ok(None) => return out.integer(0),
            Ok(Some(m)) => m.contains(member),
        };
        if matches!(self.set_of(dst, now), Err(())) {
            return out.error(WRONGTYPE);
        }
        if src == dst || !found {
            return out.integer(i64::from(found));
        }
        if let Some(Value::Set(m)) = self.data.get_mut(src).map(|e| &mut e.value) {
            m.swap_remove(member);
        }
        let cost = member.len() + ELEMENT_OVERHEAD;
        self.resize_collection(src, 0, cost);
        if let Some(m) = self.set_for_write(dst, now) {
            if m.insert(member.to_vec()) {
                self.resize_collection(dst, cost, 0);
            }
        }
        out.integer(1);
    }

    /// `SINTER`, `SUNION`, `SDIFF` of `keys` (a missing key is an empty set), replied, or
    /// stored at `dest` with its size replied (an empty result removes `dest`).
    fn algebra(
        &mut self,
        op: Algebra,
        dest: Option<&[u8]>,
        keys: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) {
        let mut sets = Vec::with_capacity(keys.len());
        for k in keys {
            match self.set_of(k, now) {
                Err(()) => return out.error(WRONGTYPE),
                Ok(m) => sets.push(m.cloned()),
            }
        }
        let empty = IndexSet::new();
        let first = sets[0].as_ref().unwrap_or(&empty);
        let result: IndexSet<Vec<u8>> = match op {
            Algebra::Inter => first
                .iter()
                .filter(|v| {
                    sets[1..]
                        .iter()
                        .all(|s| s.as_ref().is_some_and(|s| s.contains(*v)))
                })
                .cloned()
                .collect(),
            Algebra::Union => sets.iter().flatten().flatten().cloned().collect(),
            Algebra::Diff => first
                .iter()
                .filter(|v| {
                    !sets[1..]
                        .iter()
                        .any(|s| s.as_ref().is_some_and(|s| s.contains(*v)))
                })
                .cloned()
                .collect(),
        };
        let Some(dest) = dest else {
            out.set(result.len());
            for v in &result {
                out.bulk(v);
            }
            return;
        };
        let n = result.len() as i64;
        self.remove(dest);
        if n > 0 {
            self.put(dest, Value::Set(result), false, now);
        }
        out.integer(n);
    }
}
