//! `SORT` and `SORT_RO` on lists, sets and sorted sets, as Redis 7.0 sorts: numerically by default (ties by
//! the elements' bytes), `ALPHA` by the bytes (as `strcoll` in the C locale), by
//! `BY pattern` keys, `LIMIT`, `GET pattern`s, `DESC`, and `STORE` into a list (which
//! serves clients waiting on it).

use super::*;

/// The commands of this family, as Redis 7.0 declares their arity.
pub(super) const COMMANDS: &[Spec] = &[spec("sort", -2, true), spec("sort_ro", -2, false)];

/// One element to sort, with what it is compared by.
struct Item {
    element: Blob,
    score: f64,
    /// `ALPHA` with `BY`: the value of the key the pattern names, if it is a string.
    by: Option<Blob>,
}

/// A score as C's `strtod` reads it for `SORT`: up to the first NUL, leading spaces
/// skipped, the whole rest a number; overflow, underflow and NaN refused. An empty
/// string is 0.
fn parse_score(s: &[u8]) -> Option<f64> {
    let s = match s.iter().position(|&b| b == 0) {
        Some(nul) => &s[..nul],
        None => s,
    };
    if s.is_empty() {
        return Some(0.0);
    }
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let s = &s[start..];
    let text = std::str::from_utf8(s).ok()?;
    let unsigned = text.trim_start_matches(['+', '-']);
    if unsigned.len() + 1 < text.len() {
        return None; // two signs
    }
    if unsigned.len() > 1 && (unsigned.starts_with("0x") || unsigned.starts_with("0X")) {
        let v = super::float::LongDouble::parse(s)?.to_f64();
        return (v.is_finite() && (v == 0.0 || v.is_normal())).then_some(v);
    }
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let literal_inf =
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    if v.is_infinite() && !literal_inf {
        return None; // overflow
    }
    if v != 0.0 && !v.is_normal() && !v.is_infinite() {
        return None; // underflow to a subnormal
    }
    if v == 0.0 {
        // An underflow to zero: a nonzero digit before the exponent.
        let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
        if mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return None;
        }
    }
    Some(v)
}

/// `strcmp` of two strings as C sees them (up to the first NUL).
fn c_str_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let cut = |s: &[u8]| -> usize { s.iter().position(|&c| c == 0).unwrap_or(s.len()) };
    a[..cut(a)].cmp(&b[..cut(b)])
}

impl Store {
    /// Runs `name` if it is a command of this family.
    pub(super) fn run_sort(
        &mut self,
        name: &str,
        args: &[&[u8]],
        now: Instant,
        out: &mut impl Replies,
    ) -> Option<Flow> {
        match name {
            "sort" | "sort_ro" => self.sort(name == "sort_ro", args, now, out),
            _ => return None,
        }
        Some(Flow::Continue)
    }

    /// The string `pattern` names for `element` (`*` replaced by it; `#` is the element
    /// itself); `None` if there is no such string (or the pattern dereferences a hash).
    fn by_pattern(&mut self, pattern: &[u8], element: &Blob, now: Instant) -> Option<Blob> {
        if pattern == b"#" {
            return Some(element.clone());
        }
        let star = pattern.iter().position(|&b| b == b'*')?;
        let after = &pattern[star + 1..];
        if let Some(arrow) = after.windows(2).position(|w| w == b"->") {
            if arrow + 2 < after.len() {
                // `key->field`: there are no hashes here.
                return None;
            }
        }
        let mut key = Vec::with_capacity(pattern.len() + element.len());
        key.extend_from_slice(&pattern[..star]);
        key.extend_from_slice(element);
        key.extend_from_slice(after);
        match self.live(&key, now).map(|e| &e.value) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    fn sort(&mut self, read_only: bool, args: &[&[u8]], now: Instant, out: &mut impl Replies) {
        let (mut desc, mut alpha, mut dont_sort) = (false, false, false);
        let (mut limit_start, mut limit_count): (i64, i64) = (0, -1);
        let mut store: Option<&[u8]> = None;
        let mut by: Option<&[u8]> = None;
        let mut gets: Vec<&[u8]> = Vec::new();
        let mut j = 2;
        while j < args.len() {
            let opt = args[j];
            let left = args.len() - j - 1;
            let is = |s: &str| opt.eq_ignore_ascii_case(s.as_bytes());
            if is("asc") {
                desc = false;
            } else if is("desc") {
                desc = true;
            } else if is("alpha") {
                alpha = true;
            } else if is("limit") && left >= 2 {
                let (Some(s), Some(c)) = (parse_i64(args[j + 1]), parse_i64(args[j + 2])) else {
                    out.error(NOT_INTEGER);
                    return;
                };
                (limit_start, limit_count) = (s, c);
                j += 2;
            } else if !read_only && is("store") && left >= 1 {
                store = Some(args[j + 1]);
                j += 1;
            } else if is("by") && left >= 1 {
                by = Some(args[j + 1]);
                dont_sort = !args[j + 1].contains(&b'*');
                j += 1;
            } else if is("get") && left >= 1 {
                gets.push(args[j + 1]);
                j += 1;
            } else {
                out.error(SYNTAX);
                return;
            }
            j += 1;
        }
        // Redis converts a sorted set to a skip list to sort it.
        if let Some(Value::ZSet(z)) = self.live(args[1], now).map(|e| &mut e.value) {
            z.skiplist = true;
        }
        let list: VecDeque<Blob> = match self.live(args[1], now).map(|e| &e.value) {
            None => VecDeque::new(),
            Some(Value::List(l)) => l.clone(),
            Some(Value::Set(m)) => m.iter().map(|v| blob(v)).collect(),
            Some(Value::ZSet(z)) => z.iter().map(|(v, _)| blob(v)).collect(),
            Some(_) => {
                out.error(WRONGTYPE);
                return;
            }
        };
        let len = list.len() as i64;
        let mut start = limit_start.max(0);
        let mut end = if limit_count < 0 {
            len - 1
        } else {
            start.saturating_add(limit_count) - 1
        };
        if start >= len {
            start = len - 1;
            end = len - 2;
        }
        if end >= len {
            end = len - 1;
        }
        let mut items: Vec<Item> = Vec::new();
        if dont_sort {
            // The list's own order, from the other end for DESC; only the range.
            if end >= start {
                let take = (end - start + 1) as usize;
                let iter: Box<dyn Iterator<Item = &Blob>> = if desc {
                    Box::new(list.iter().rev().skip(start as usize))
                } else {
                    Box::new(list.iter().skip(start as usize))
                };
                items = iter
                    .take(take)
                    .map(|e| Item {
                        element: e.clone(),
                        score: 0.0,
                        by: None,
                    })
                    .collect();
                end -= start;
                start = 0;
            }
        } else {
            items = list
                .iter()
                .map(|e| Item {
                    element: e.clone(),
                    score: 0.0,
                    by: None,
                })
                .collect();
            let mut bad_score = false;
            for item in &mut items {
                let value = match by {
                    Some(pattern) => match self.by_pattern(pattern, &item.element, now) {
                        Some(v) => v,
                        None => continue,
                    },
                    None => item.element.clone(),
                };
                if alpha {
                    if by.is_some() {
                        item.by = Some(value);
                    }
                } else {
                    match parse_score(&value) {
                        Some(score) => item.score = score,
                        None => bad_score = true,
                    }
                }
            }
            if bad_score {
                out.error("ERR One or more scores can't be converted into double");
                return;
            }
            let storing = store.is_some();
            items.sort_by(|a, b| {
                let cmp = if !alpha {
                    a.score
                        .partial_cmp(&b.score)
                        .unwrap_or(std::cmp::Ordering::Equal)
                        .then_with(|| a.element.cmp(&b.element))
                } else if by.is_some() {
                    match (&a.by, &b.by) {
                        (None, None) => std::cmp::Ordering::Equal,
                        (None, Some(_)) => std::cmp::Ordering::Less,
                        (Some(_), None) => std::cmp::Ordering::Greater,
                        (Some(x), Some(y)) if storing => x.cmp(y),
                        (Some(x), Some(y)) => c_str_cmp(x, y),
                    }
                } else if storing {
                    a.element.cmp(&b.element)
                } else {
                    c_str_cmp(&a.element, &b.element)
                };
                if desc {
                    cmp.reverse()
                } else {
                    cmp
                }
            });
        }
        let range = if end >= start && start >= 0 {
            &items[start as usize..=end as usize]
        } else {
            &[]
        };
        let per = gets.len().max(1);
        let count = range.len() * per;
        match store {
            None => {
                out.array(count);
                for item in range {
                    if gets.is_empty() {
                        out.shared_bulk(&item.element);
                    }
                    for pattern in &gets {
                        match self.by_pattern(pattern, &item.element, now) {
                            Some(v) => out.shared_bulk(&v),
                            None => out.nil(),
                        }
                    }
                }
            }
            Some(dst) => {
                let mut values = VecDeque::with_capacity(count);
                for item in range {
                    if gets.is_empty() {
                        values.push_back(item.element.clone());
                    }
                    for pattern in &gets {
                        let v = self.by_pattern(pattern, &item.element, now);
                        values.push_back(v.unwrap_or_else(|| Rc::new(Vec::new())));
                    }
                }
                if values.is_empty() {
                    self.remove(dst);
                } else {
                    self.put(dst, Value::List(values), false, now);
                }
                out.integer(count as i64);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_score;

    /// What C's `strtod` makes of a score, as `SORT` checks it.
    #[test]
    fn scores_as_strtod_reads_them() {
        assert_eq!(parse_score(b""), Some(0.0));
        assert_eq!(parse_score(b" 7"), Some(7.0));
        assert_eq!(parse_score(b"\t-1.5e1"), Some(-15.0));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"12\0junk"), Some(12.0));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        for bad in [
            &b"  "[..],
            b"7 ",
            b"1e400",
            b"1e-400",
            b"nan",
            b"+-1",
            b"abc",
            b"1e",
        ] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
