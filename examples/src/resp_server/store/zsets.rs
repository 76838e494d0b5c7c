//! Sorted set commands: `ZADD` (with `NX`, `XX`, `GT`, `LT`, `CH`, `INCR`), `ZINCRBY`,
//! `ZSCORE`, `ZMSCORE`, `ZCARD`, `ZREM`, `ZCOUNT`, `ZRANK`, `ZREVRANK`, `ZRANGE` (by
//! rank or `BYSCORE`, `REV`, `LIMIT`, `WITHSCORES`), `ZREVRANGE`, `ZRANGEBYSCORE`,
//! `ZREVRANGEBYSCORE`.
//!
//! A sorted set is a map from member to score next to an ordered set of (score, member):
//! lookups by member are a hash away, ranges by score a tree walk. There is no rank
//! index, so a range by rank walks from the nearer end. `BYLEX` ranges are not
//! supported (answered with an error that says so).

use std::collections::BTreeSet;

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[
    spec("zadd", -4, true),
    spec("zincrby", 4, true),
    spec("zscore", 3, false),
    spec("zmscore", -3, false),
    spec("zcard", 2, false),
    spec("zrem", -3, false),
    spec("zcount", 4, false),
    spec("zrank", 3, false),
    spec("zrevrank", 3, false),
    spec("zrange", -4, false),
    spec("zrevrange", -4, false),
    spec("zrangebyscore", -4, false),
    spec("zrevrangebyscore", -4, false),
];

const NOT_FLOAT: &str = "ERR value is not a valid float";
const NAN: &str = "ERR resulting score is not a number (NaN)";

/// A score as the order sees it: never NaN, and `-0` equal to `0` (Redis compares
/// scores with `<`), so ties go to the member's bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Score(f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn order_key(score: f64, member: &[u8]) -> (Score, Vec<u8>) {
    // `+ 0.0` turns -0 into 0.
    (Score(score + 0.0), member.to_vec())
}

/// A sorted set: members with scores (never NaN), ordered by score, then member.
#[derive(Debug, Clone, Default, PartialEq)]
pub(in crate::resp_server) struct ZSet {
    scores: HashMap<Vec<u8>, f64>,
    order: BTreeSet<(Score, Vec<u8>)>,
    cost: usize,
    /// Redis would have converted it to a skip list (it grew past the listpack limits,
    /// or was sorted by `SORT`); Redis never converts back, and `OBJECT ENCODING` says so.
    pub(super) skiplist: bool,
}

// Scores are never NaN, so equality is an equivalence.
impl Eq for ZSet {}

impl ZSet {
    pub(super) fn len(&self) -> usize {
        self.scores.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The estimated size, for the memory in use.
    pub(super) fn cost(&self) -> usize {
        self.cost
    }

    fn member_cost(member: &[u8]) -> usize {
        2 * member.len() + 8 + 2 * ELEMENT_OVERHEAD
    }

    pub(super) fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score; the old score, if it had one.
    pub(super) fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let old = self.remove(member);
        self.order.insert(order_key(score, member));
        self.scores.insert(member.to_vec(), score);
        self.cost += Self::member_cost(member);
        old
    }

    /// Removes `member`; its score, if it was there.
    pub(super) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        self.order.remove(&order_key(score, member));
        self.cost = self.cost.saturating_sub(Self::member_cost(member));
        Some(score)
    }

    /// Members and their scores, lowest score first.
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> {
        self.order
            .iter()
            .map(|(_, m)| (m.as_slice(), self.scores.get(m).copied().unwrap_or(0.0)))
    }

    /// The rank of `member`, lowest score first.
    fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key = order_key(score, member);
        Some(self.order.range(..&key).count())
    }

    /// The members in `range`, in order (reversed with `rev`).
    fn in_range<'a>(
        &'a self,
        range: &'a ScoreRange,
        rev: bool,
    ) -> Box<dyn Iterator<Item = (&'a [u8], f64)> + 'a> {
        let it = self.iter();
        if rev {
            Box::new(it.rev().filter(move |(_, s)| range.contains(*s)))
        } else {
            Box::new(it.filter(move |(_, s)| range.contains(*s)))
        }
    }
}

/// The encoding `OBJECT ENCODING` names for a sorted set, as Redis 7.0 would choose it:
/// `listpack` while it has at most `max_entries` members of at most `max_value` bytes.
pub(super) fn zset_encoding(z: &ZSet, max_entries: i64, max_value: i64) -> &'static str {
    if z.skiplist || over_listpack(z, max_entries, max_value) {
        "skiplist"
    } else {
        "listpack"
    }
}

/// Whether `z` is past the limits of Redis's listpack encoding.
fn over_listpack(z: &ZSet, max_entries: i64, max_value: i64) -> bool {
    (z.len() as i64) > max_entries || z.scores.keys().any(|m| (m.len() as i64) > max_value)
}

/// A score as C's `printf("%.17g")` writes it, and `inf`/`-inf` (Redis's
/// `addReplyDouble` in RESP2).
///
/// `1.5` is `1.5`, `0.1` is `0.10000000000000001`, `1e20` is `1e+20` (the unit test
/// `scores_print_as_printf_g17` checks these and more).
pub(in crate::resp_server) fn format_score(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{d:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..17).contains(&exp) {
        format!(
            "{}e{}{:02}",
            strip_zeros(mantissa),
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        )
    } else {
        strip_zeros(&format!("{:.*}", (16 - exp) as usize, d)).to_string()
    }
}

/// `%g` drops the trailing zeros of the fraction, and its point when nothing is left.
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A score argument as Redis's `getDoubleFromObject` takes it (C's `strtod` over the
/// whole argument): no leading space, not NaN, no overflow to infinity or underflow to
/// zero (`inf` itself is fine).
pub(super) fn parse_score(s: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(s).ok()?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let literal_inf = text
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("inf");
    if v.is_infinite() && !literal_inf {
        return None;
    }
    if v == 0.0
        && text
            .bytes()
            .take_while(|b| *b != b'e' && *b != b'E')
            .any(|b| (b'1'..=b'9').contains(&b))
    {
        return None;
    }
    // Redis keeps -0 as 0.
    Some(v + 0.0)
}

/// One end of a score range (`ZRANGEBYSCORE`'s `min`/`max`): a score, `(` before it for
/// an exclusive end, as Redis's `zslParseRange` reads it (`strtod`: leading spaces and
/// `±inf` allowed, nothing after the number).
fn parse_range_end(s: &[u8]) -> Option<(f64, bool)> {
    let (text, exclusive) = match s.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let text = std::str::from_utf8(text).ok()?.trim_start();
    let v = if text.is_empty() {
        0.0
    } else {
        text.parse::<f64>().ok()?
    };
    (!v.is_nan()).then_some((v, exclusive))
}

/// A range of scores.
#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    min_ex: bool,
    max: f64,
    max_ex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        let (min, min_ex) = parse_range_end(min)?;
        let (max, max_ex) = parse_range_end(max)?;
        Some(ScoreRange {
            min,
            min_ex,
            max,
            max_ex,
        })
    }

    fn contains(&self, v: f64) -> bool {
        let above = if self.min_ex {
            v > self.min
        } else {
            v >= self.min
        };
        let below = if self.max_ex {
            v < self.max
        } else {
            v <= self.max
        };
        above && below
    }
}

/// How `ZADD` changes scores.
#[derive(Debug, Default, Clone, Copy)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// How a `ZRANGE` counts its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeBy {
    Rank,
    Score,
    Lex,
}

/// Where a `ZRANGE`-like command's range arguments start, and what it fixes.
struct RangeCommand {
    by: Option<RangeBy>,
    rev: Option<bool>,
}

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_zsets(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "zadd" => self.zadd(args[1], &args[2..], AddFlags::default(), now, out),
            "zincrby" => {
                let incr = AddFlags {
                    incr: true,
                    ..AddFlags::default()
                };
                self.zadd(args[1], &args[2..], incr, now, out)
            }
            "zscore" => match self.zset_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(z) => match z.and_then(|z| z.score(args[2])) {
                    Some(s) => out.double(s),
                    None => out.nil(),
                },
            },
            "zmscore" => match self.zset_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(z) => {
                    out.array(args.len() - 2);
                    for m in &args[2..] {
                        match z.and_then(|z| z.score(m)) {
                            Some(s) => out.double(s),
                            None => out.nil(),
                        }
                    }
                }
            },
            "zcard" => match self.zset_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(z) => out.integer(z.map_or(0, |z| z.len() as i64)),
            },
            "zrem" => self.zrem(args, now, out),
            "zcount" => {
                let Some(range) = ScoreRange::parse(args[2], args[3]) else {
                    out.error("ERR min or max is not a float");
                    return Some(Flow::Continue);
                };
                match self.zset_of(args[1], now) {
                    Err(()) => out.error(WRONGTYPE),
                    Ok(z) => out.integer(z.map_or(0, |z| z.in_range(&range, false).count() as i64)),
                }
            }
            "zrank" | "zrevrank" => match self.zset_of(args[1], now) {
                Err(()) => out.error(WRONGTYPE),
                Ok(z) => match z.and_then(|z| z.rank(args[2]).map(|r| (r, z.len()))) {
                    Some((r, len)) if name == "zrevrank" => out.integer((len - 1 - r) as i64),
                    Some((r, _)) => out.integer(r as i64),
                    None => out.nil(),
                },
            },
            "zrange" => self.zrange(
                args,
                RangeCommand {
                    by: None,
                    rev: None,
                },
                now,
                out,
            ),
            "zrevrange" => {
                let fixed = RangeCommand {
                    by: Some(RangeBy::Rank),
                    rev: Some(true),
                };
                self.zrange(args, fixed, now, out)
            }
            "zrangebyscore" | "zrevrangebyscore" => {
                let fixed = RangeCommand {
                    by: Some(RangeBy::Score),
                    rev: Some(name == "zrevrangebyscore"),
                };
                self.zrange(args, fixed, now, out)
            }
            _ => return None,
        }
        Some(Flow::Continue)
    }

    /// The sorted set at `key`: `Ok(None)` when there is none, `Err` when the key holds
    /// another type.
    fn zset_of(&mut self, key: &[u8], now: Instant) -> Result<Option<&ZSet>, ()> {
        self.typed(key, now, |v| match v {
            Value::ZSet(z) => Some(z),
            _ => None,
        })
    }

    /// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]` (`rest`
    /// is what follows the key), and `ZINCRBY` as `ZADD INCR`. As Redis's
    /// `zaddGenericCommand`: every score is checked before anything changes.
    fn zadd(
        &mut self,
        key: &[u8],
        rest: &[&[u8]],
        mut flags: AddFlags,
        now: Instant,
        out: &mut impl Replies,
    ) {
        let mut i = 0;
        // ZINCRBY's arguments start at the increment.
        if !flags.incr {
            while let Some(a) = rest.get(i) {
                match a.to_ascii_lowercase().as_slice() {
                    b"nx" => flags.nx = true,
                    b"xx" => flags.xx = true,
                    b"gt" => flags.gt = true,
                    b"lt" => flags.lt = true,
                    b"ch" => flags.ch = true,
                    b"incr" => flags.incr = true,
                    _ => break,
                }
                i += 1;
            }
        }
        let pairs = &rest[i..];
        if pairs.is_empty() || pairs.len() % 2 == 1 {
            return out.error(SYNTAX);
        }
        if flags.nx && flags.xx {
            return out.error("ERR XX and NX options at the same time are not compatible");
        }
        if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
            return out.error("ERR GT, LT, and/or NX options at the same time are not compatible");
        }
        if flags.incr && pairs.len() > 2 {
            return out.error("ERR INCR option supports a single increment-element pair");
        }
        let mut scores = Vec::with_capacity(pairs.len() / 2);
        for pair in pairs.chunks_exact(2) {
            match parse_score(pair[0]) {
                Some(s) => scores.push(s),
                None => return out.error(NOT_FLOAT),
            }
        }
        match self.zset_of(key, now) {
            Err(()) => return out.error(WRONGTYPE),
            Ok(None) if flags.xx => {
                return if flags.incr {
                    out.nil()
                } else {
                    out.integer(0)
                };
            }
            Ok(None) => self.put(key, Value::ZSet(ZSet::default()), false, now),
            Ok(Some(_)) => {}
        }
        let max_entries = self.server.config_int("zset-max-listpack-entries");
        let max_value = self.server.config_int("zset-max-listpack-value");
        let Some(Entry {
            value: Value::ZSet(z),
            size,
            ..
        }) = self.data.get_mut(key)
        else {
            return;
        };
        let before = z.cost();
        let (mut added, mut updated, mut processed) = (0, 0, 0);
        let mut last = 0.0;
        let mut nan = false;
        for (pair, &score) in pairs.chunks_exact(2).zip(&scores) {
            let member = pair[1];
            match z.score(member) {
                Some(cur) => {
                    if flags.nx {
                        continue;
                    }
                    let new = if flags.incr { score + cur } else { score };
                    if new.is_nan() {
                        nan = true;
                        break;
                    }
                    if (flags.lt && new >= cur) || (flags.gt && new <= cur) {
                        continue;
                    }
                    last = new;
                    processed += 1;
                    if new != cur {
                        z.insert(member, new);
                        updated += 1;
                    }
                }
                None if flags.xx => {}
                None => {
                    z.insert(member, score);
                    last = score;
                    added += 1;
                    processed += 1;
                }
            }
        }
        if over_listpack(z, max_entries, max_value) {
            z.skiplist = true;
        }
        let after = z.cost();
        *size = (*size + after).saturating_sub(before);
        self.used = (self.used + after).saturating_sub(before);
        self.resize_collection(key, 0, 0);
        if nan {
            out.error(NAN);
        } else if flags.incr {
            if processed > 0 {
                out.double(last);
            } else {
                out.nil();
            }
        } else {
            out.integer(if flags.ch { added + updated } else { added });
        }
    }

    fn zrem(&mut self, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let key = args[1];
        let z = match self.live(key, now).map(|e| &mut e.value) {
            None => return out.integer(0),
            Some(Value::ZSet(z)) => z,
            Some(_) => return out.error(WRONGTYPE),
        };
        let before = z.cost();
        let removed = args[2..].iter().filter(|m| z.remove(m).is_some()).count();
        let freed = before.saturating_sub(z.cost());
        self.resize_collection(key, 0, freed);
        out.integer(removed as i64);
    }

    /// `ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`
    /// and the older forms that fix the kind and direction, parsed as Redis 7.0's
    /// `zrangeGenericCommand` does.
    fn zrange(
        &mut self,
        args: &[&[u8]],
        fixed: RangeCommand,
        now: Instant,
        out: &mut impl Replies,
    ) {
        let (mut by, mut rev) = (fixed.by, fixed.rev);
        let (mut withscores, mut limit) = (false, None);
        let mut j = 4;
        while j < args.len() {
            let a = args[j].to_ascii_lowercase();
            let left = args.len() - j - 1;
            match a.as_slice() {
                b"withscores" => withscores = true,
                b"limit" if left >= 2 => {
                    let (Some(offset), Some(count)) =
                        (parse_i64(args[j + 1]), parse_i64(args[j + 2]))
                    else {
                        return out.error(NOT_INTEGER);
                    };
                    limit = Some((offset, count));
                    j += 2;
                }
                b"rev" if rev.is_none() => rev = Some(true),
                b"byscore" if by.is_none() => by = Some(RangeBy::Score),
                b"bylex" if by.is_none() => by = Some(RangeBy::Lex),
                _ => return out.error(SYNTAX),
            }
            j += 1;
        }
        let by = by.unwrap_or(RangeBy::Rank);
        let rev = rev.unwrap_or(false);
        if limit.is_some() && by == RangeBy::Rank {
            return out.error(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE \
                 or BYLEX",
            );
        }
        if withscores && by == RangeBy::Lex {
            return out
                .error("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        }
        // Reversed score ranges name the maximum first.
        let (lo, hi) = if rev && by != RangeBy::Rank {
            (args[3], args[2])
        } else {
            (args[2], args[3])
        };
        // With scores: RESP2 flattens member and score, RESP3 pairs them.
        let emit = |out: &mut dyn Replies, items: &[(&[u8], f64)]| {
            let pairs = withscores && out.protocol() == 3;
            out.array(items.len() * if withscores && !pairs { 2 } else { 1 });
            for (m, s) in items {
                if pairs {
                    out.array(2);
                }
                out.bulk(m);
                if withscores {
                    out.double(*s);
                }
            }
        };
        match by {
            RangeBy::Lex => out.error("ERR BYLEX ranges are not supported by this server"),
            RangeBy::Rank => {
                let (Some(start), Some(stop)) = (parse_i64(lo), parse_i64(hi)) else {
                    return out.error(NOT_INTEGER);
                };
                let z = match self.zset_of(args[1], now) {
                    Err(()) => return out.error(WRONGTYPE),
                    Ok(None) => return out.array(0),
                    Ok(Some(z)) => z,
                };
                let len = z.len() as i64;
                let start = if start < 0 { len + start } else { start }.max(0);
                let stop = if stop < 0 { len + stop } else { stop };
                if start > stop || start >= len {
                    return out.array(0);
                }
                let stop = stop.min(len - 1);
                let take = (stop - start + 1) as usize;
                let items: Vec<(&[u8], f64)> = if rev {
                    z.iter().rev().skip(start as usize).take(take).collect()
                } else {
                    z.iter().skip(start as usize).take(take).collect()
                };
                emit(out, &items);
            }
            RangeBy::Score => {
                let Some(range) = ScoreRange::parse(lo, hi) else {
                    return out.error("ERR min or max is not a float");
                };
                let z = match self.zset_of(args[1], now) {
                    Err(()) => return out.error(WRONGTYPE),
                    Ok(None) => return out.array(0),
                    Ok(Some(z)) => z,
                };
                let (offset, count) = limit.unwrap_or((0, -1));
                // A negative offset selects nothing, a negative count everything after
                // the offset (Redis's loops).
                let items: Vec<(&[u8], f64)> = if offset < 0 {
                    Vec::new()
                } else {
                    let it = z.in_range(&range, rev).skip(offset as usize);
                    if count < 0 {
                        it.collect()
                    } else {
                        it.take(count as usize).collect()
                    }
                };
                emit(out, &items);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_print_as_printf_g17() {
        assert_eq!(format_score(1.5), "1.5");
        assert_eq!(format_score(123.0), "123");
        assert_eq!(format_score(0.1), "0.10000000000000001");
        assert_eq!(format_score(-2.5e-5), "-2.5000000000000001e-05");
        assert_eq!(format_score(1e17), "1e+17");
        assert_eq!(format_score(12345678901234567.0), "12345678901234568");
        assert_eq!(format_score(f64::INFINITY), "inf");
        assert_eq!(format_score(-0.0), "-0");
        assert_eq!(format_score(0.0001), "0.0001");
    }

    #[test]
    fn scores_parse_as_strtod_whole() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b"1 "), None);
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"0e5"), Some(0.0));
        assert_eq!(parse_score(b""), None);
    }

    #[test]
    fn ranges_take_exclusive_ends() {
        let r = ScoreRange::parse(b"(1", b"3").unwrap();
        assert!(!r.contains(1.0) && r.contains(2.0) && r.contains(3.0));
        assert!(ScoreRange::parse(b"-inf", b"+inf")
            .unwrap()
            .contains(-1e300));
        assert!(ScoreRange::parse(b"x", b"1").is_none());
    }
}
