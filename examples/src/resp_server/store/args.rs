//! Reading the arguments of commands as Redis reads them (integers, glob patterns,
//! expiry times) and writing the error texts that name them.

use super::*;

/// Redis's `string2ll`: an optional `-`, no leading zeros, no spaces, no `+`, at most 20
/// characters, within `i64`.
///
/// ```
/// use asyncore_examples::resp_server::parse_i64;
/// assert_eq!(parse_i64(b"-42"), Some(-42));
/// assert_eq!(parse_i64(b"0"), Some(0));
/// assert_eq!(parse_i64(b"007"), None);
/// assert_eq!(parse_i64(b"+5"), None);
/// assert_eq!(parse_i64(b"-0"), None);
/// assert_eq!(parse_i64(b"9223372036854775808"), None);
/// ```
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Redis's glob matching (`stringmatchlen`, case-sensitive): `*`, `?`, `[abc]`,
/// `[^a-z]`, and `\` to take the next character literally.
///
/// ```
/// use asyncore_examples::resp_server::glob_match;
/// assert!(glob_match(b"h?llo", b"hello"));
/// assert!(glob_match(b"h*llo", b"heeeello"));
/// assert!(glob_match(b"h[ae]llo", b"hallo"));
/// assert!(!glob_match(b"h[^e]llo", b"hello"));
/// assert!(glob_match(b"h[a-b]llo", b"hbllo"));
/// assert!(glob_match(b"\\*", b"*"));
/// assert!(!glob_match(b"\\*", b"x"));
/// ```
pub fn glob_match(pattern: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Where to resume after a mismatch: the pattern after the last `*`, and the first
    // byte of the string that star has not yet taken.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < pattern.len() {
            if pattern[pi] == b'*' {
                while pi < pattern.len() && pattern[pi] == b'*' {
                    pi += 1;
                }
                if pi == pattern.len() {
                    return true;
                }
                star = Some((pi, si));
                continue;
            }
            if si < s.len() {
                if let Some(next) = match_one(pattern, pi, s[si]) {
                    pi = next;
                    si += 1;
                    continue;
                }
            }
        } else if si == s.len() {
            return true;
        }
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

/// Whether the pattern element at `pi` (not `*`) matches `c`; the index after it if so.
pub(super) fn match_one(p: &[u8], pi: usize, c: u8) -> Option<usize> {
    match p[pi] {
        b'?' => Some(pi + 1),
        b'[' => {
            let mut i = pi + 1;
            let negate = p.get(i) == Some(&b'^');
            if negate {
                i += 1;
            }
            let mut matched = false;
            loop {
                match p.get(i) {
                    None => break,
                    Some(b'\\') if i + 1 < p.len() => {
                        i += 1;
                        matched |= p[i] == c;
                    }
                    Some(b']') => break,
                    Some(&lo) if i + 2 < p.len() && p[i + 1] == b'-' => {
                        let hi = p[i + 2];
                        let (lo, hi) = if lo > hi { (hi, lo) } else { (lo, hi) };
                        matched |= (lo..=hi).contains(&c);
                        i += 2;
                    }
                    Some(&b) => matched |= b == c,
                }
                i += 1;
            }
            // `i` is at the closing `]`, or at the end of an unterminated class.
            (matched != negate).then_some((i + 1).min(p.len()))
        }
        b'\\' if pi + 1 < p.len() => (p[pi + 1] == c).then_some(pi + 2),
        b => (b == c).then_some(pi + 1),
    }
}

pub(super) fn is_sync_mode(m: &[u8]) -> bool {
    m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async")
}

/// `n` seconds or milliseconds as an absolute time in Unix milliseconds (relative to now
/// when `relative`), as Redis's `getExpireMillisecondsOrReply` checks it: positive, and
/// no overflow.
pub(super) fn expire_ms(n: i64, seconds: bool, relative: bool) -> Option<i64> {
    if n <= 0 {
        return None;
    }
    let ms = if seconds { n.checked_mul(1000)? } else { n };
    let at = if relative {
        ms.checked_add(unix_ms())?
    } else {
        ms
    };
    (at > 0).then_some(at)
}

pub(super) fn invalid_expire(command: &str) -> String {
    format!("ERR invalid expire time in '{command}' command")
}

/// At most `max` bytes of `b`, for an error message (as C's `%.*s`).
pub(super) fn show(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

/// Redis 7.0's reply to an unknown command: the name, then the first arguments, quoted,
/// up to about 128 bytes.
///
/// ```
/// use asyncore_examples::resp_server::unknown_command;
/// assert_eq!(
///     unknown_command(b"foo", &[b"bar", b"baz"]),
///     "ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "
/// );
/// ```
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> String {
    let mut list: Vec<u8> = Vec::new();
    for a in args {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(&a[..a.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        show(name, 128),
        String::from_utf8_lossy(&list)
    )
}
