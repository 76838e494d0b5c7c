//! Hash commands: `HSET`, `HMSET`, `HSETNX`, `HGET`, `HMGET`, `HDEL`, `HLEN`, `HEXISTS`,
//! `HSTRLEN`, `HKEYS`, `HVALS`, `HGETALL`, `HINCRBY`.
//!
//! A hash keeps its fields in the order they were added (as Redis's listpack encoding
//! does while the hash is small).

use super::*;

/// A hash's fields and values.
pub(super) type Fields = IndexMap<Vec<u8>, Vec<u8>>;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("hset", -4, true),
    spec("hmset", -4, true),
    spec("hsetnx", 4, true),
    spec("hget", 3, false),
    spec("hmget", -3, false),
    spec("hdel", -3, false),
    spec("hlen", 2, false),
    spec("hexists", 3, false),
    spec("hstrlen", 3, false),
    spec("hkeys", 2, false),
    spec("hvals", 2, false),
    spec("hgetall", 2, false),
    spec("hincrby", 4, true),
];

/// The encoding `OBJECT ENCODING` names for a hash, as Redis 7.0 would choose it for
/// these fields: `listpack` while there are at most `max_entries` of them and no field
/// or value is longer than `max_value`.
pub(super) fn hash_encoding(
    h: &IndexMap<Vec<u8>, Vec<u8>>,
    max_entries: i64,
    max_value: i64,
) -> &'static str {
    let small = |b: &Vec<u8>| (b.len() as i64) <= max_value;
    if (h.len() as i64) <= max_entries && h.iter().all(|(f, v)| small(f) && small(v)) {
        "listpack"
    } else {
        "hashtable"
    }
}

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_hashes(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "hset" | "hmset" => {
                if args.len() % 2 == 1 {
                    out.error(&format!(
                        "ERR wrong number of arguments for '{name}' command"
                    ));
                } else if let Some(added) = self.hset(args[1], &args[2..], false, now) {
                    if name == "hset" {
                        out.integer(added);
                    } else {
                        out.simple("OK");
                    }
                } else {
                    out.error(WRONGTYPE);
                }
            }
            "hsetnx" => match self.hset(args[1], &args[2..], true, now) {
                Some(added) => out.integer(added),
                None => out.error(WRONGTYPE),
            },
            "hget" => match self.hash_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(h) => match h.and_then(|h| h.get(args[2])) {
                    Some(v) => out.bulk(v),
                    None => out.nil(),
                },
            },
            "hmget" => match self.hash_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(h) => {
                    out.array(args.len() - 2);
                    for f in &args[2..] {
                        match h.and_then(|h| h.get(*f)) {
                            Some(v) => out.bulk(v),
                            None => out.nil(),
                        }
                    }
                }
            },
            "hdel" => self.hdel(args, now, out),
            "hlen" => match self.hash_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(h) => out.integer(h.map_or(0, |h| h.len() as i64)),
            },
            "hexists" => match self.hash_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(h) => out.integer(i64::from(h.is_some_and(|h| h.contains_key(args[2])))),
            },
            "hstrlen" => match self.hash_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(h) => out.integer(h.and_then(|h| h.get(args[2])).map_or(0, |v| v.len() as i64)),
            },
            "hkeys" | "hvals" | "hgetall" => match self.hash_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(None) if name == "hgetall" => out.map(0),
                Ok(None) => out.array(0),
                Ok(Some(h)) => {
                    let (fields, values) = (name != "hvals", name != "hkeys");
                    if fields && values {
                        out.map(h.len());
                    } else {
                        out.array(h.len());
                    }
                    for (f, v) in h {
                        if fields {
                            out.bulk(f);
                        }
                        if values {
                            out.bulk(v);
                        }
                    }
                }
            },
            "hincrby" => self.hincrby(args, now, out),
            _ => return None,
        }
        Some(Flow::Continue)
    }

    /// The hash at `key`: `Ok(None)` when there is none, `Err` when the key holds another
    /// type.
    fn hash_of(&mut self, key: &[u8], now: Instant) -> Result<Option<&Fields>, ()> {
        self.typed(key, now, |v| match v {
            Value::Hash(h) => Some(h),
            _ => None,
        })
    }

    /// Sets the field-value `pairs` of the hash at `key` (only fields it lacks with
    /// `only_new`); how many fields were added, `None` when the key holds another type.
    fn hset(&mut self, key: &[u8], pairs: &[&[u8]], only_new: bool, now: Instant) -> Option<i64> {
        match self.live(key, now).map(|e| &e.value) {
            None => self.put(key, Value::Hash(IndexMap::new()), false, now),
            Some(Value::Hash(_)) => {}
            Some(_) => return None,
        }
        let Some(Value::Hash(h)) = self.data.get_mut(key).map(|e| &mut e.value) else {
            return None;
        };
        let (mut added, mut grew, mut freed) = (0, 0, 0);
        for pair in pairs.chunks_exact(2) {
            let (f, v) = (pair[0], pair[1]);
            match h.get_mut(f) {
                Some(_) if only_new => {}
                Some(old) => {
                    freed += old.len();
                    grew += v.len();
                    *old = v.to_vec();
                }
                None => {
                    h.insert(f.to_vec(), v.to_vec());
                    added += 1;
                    grew += f.len() + v.len() + ELEMENT_OVERHEAD;
                }
            }
        }
        self.resize_collection(key, grew, freed);
        Some(added)
    }

    fn hdel(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let key = args[1];
        let h = match self.live(key, now).map(|e| &mut e.value) {
            None => return out.integer(0),
            Some(Value::Hash(h)) => h,
            Some(_) => return out.error(WRONGTYPE),
        };
        let (mut removed, mut freed) = (0, 0);
        for f in &args[2..] {
            // `shift_remove` keeps the order of the others, as a listpack does.
            if let Some(v) = h.shift_remove(*f) {
                removed += 1;
                freed += f.len() + v.len() + ELEMENT_OVERHEAD;
            }
        }
        self.resize_collection(key, 0, freed);
        out.integer(removed);
    }

    /// `HINCRBY key field increment`.
    fn hincrby(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let Some(incr) = parse_i64(args[3]) else {
            return out.error(NOT_INTEGER);
        };
        let old = match self.hash_of(args[1], now) {
            Err(()) => return out.error(WRONGTYPE),
            Ok(h) => match h.and_then(|h| h.get(args[2])) {
                None => 0,
                Some(v) => match parse_i64(v) {
                    Some(n) => n,
                    None => return out.error("ERR hash value is not an integer"),
                },
            },
        };
        let Some(new) = old.checked_add(incr) else {
            return out.error("ERR increment or decrement would overflow");
        };
        let text = new.to_string();
        self.hset(args[1], &[args[2], text.as_bytes()], false, now);
        out.integer(new);
    }
}
