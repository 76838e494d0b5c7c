//! `CONFIG GET` and `CONFIG SET`: the parameters Redis 7.0 has that these commands
//! accept, and how each value is read and checked.

use super::*;

/// How `CONFIG SET` reads and checks a parameter's value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    /// A memory size (`1mb`, `2gb`, bytes), as Redis reads it.
    Memory,
    /// An integer within a range.
    Int(i64, i64),
    /// `yes` or `no`.
    Bool,
    /// One of these words.
    Enum(&'static [&'static str]),
    /// `save`: pairs of seconds and changes, or nothing.
    Save,
}

/// A configuration parameter: its name, its alias (Redis 7.0 renamed `ziplist` to
/// `listpack`), how its value is read, its value when the server starts, and why it
/// cannot be set to anything but its value here, if so.
pub(super) struct Param {
    pub(super) name: &'static str,
    pub(super) alias: Option<&'static str>,
    pub(super) kind: Kind,
    pub(super) default: Option<&'static str>,
    pub(super) fixed: Option<Fixed>,
}

/// Why a parameter keeps its value.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fixed {
    /// It cannot change while the server runs (Redis's own immutable parameters).
    Immutable,
    /// Another value would need what this server does not have: the reason.
    Only(&'static str),
}

pub(super) const INT_MAX: i64 = i32::MAX as i64;
pub(super) const LONG_MAX: i64 = i64::MAX;

pub(super) const EVICTION: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

pub(super) const fn param(
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias,
        kind,
        default: Some(default),
        fixed: None,
    }
}

/// The parameters `CONFIG GET` and `CONFIG SET` know.
pub(super) const PARAMS: &[Param] = &[
    // The store's memory limit: the value is the store's.
    Param {
        name: "maxmemory",
        alias: None,
        kind: Kind::Memory,
        default: None,
        fixed: None,
    },
    Param {
        fixed: Some(Fixed::Only(
            "this server does not evict keys: 'noeviction' only",
        )),
        ..param("maxmemory-policy", None, Kind::Enum(EVICTION), "noeviction")
    },
    Param {
        fixed: Some(Fixed::Only("this server does not save to disk: '' only")),
        ..param("save", None, Kind::Save, "")
    },
    Param {
        fixed: Some(Fixed::Only(
            "this server has no append-only file: 'no' only",
        )),
        ..param("appendonly", None, Kind::Bool, "no")
    },
    Param {
        fixed: Some(Fixed::Immutable),
        ..param("databases", None, Kind::Int(1, INT_MAX), "1")
    },
    // The protocol description bounds a bulk string, and a command, at 512 MiB.
    Param {
        fixed: Some(Fixed::Immutable),
        ..param("proto-max-bulk-len", None, Kind::Memory, "536870912")
    },
    Param {
        fixed: Some(Fixed::Immutable),
        ..param("client-query-buffer-limit", None, Kind::Memory, "536870912")
    },
    // Encoding thresholds: checked and kept, with no effect here.
    param(
        "list-max-listpack-size",
        Some("list-max-ziplist-size"),
        Kind::Int(i32::MIN as i64, INT_MAX),
        "-2",
    ),
    param("list-compress-depth", None, Kind::Int(0, INT_MAX), "0"),
    param(
        "hash-max-listpack-entries",
        Some("hash-max-ziplist-entries"),
        Kind::Int(0, LONG_MAX),
        "128",
    ),
    param(
        "hash-max-listpack-value",
        Some("hash-max-ziplist-value"),
        Kind::Int(0, LONG_MAX),
        "64",
    ),
    param(
        "zset-max-listpack-entries",
        Some("zset-max-ziplist-entries"),
        Kind::Int(0, LONG_MAX),
        "128",
    ),
    param(
        "zset-max-listpack-value",
        Some("zset-max-ziplist-value"),
        Kind::Int(0, LONG_MAX),
        "64",
    ),
    param(
        "set-max-intset-entries",
        None,
        Kind::Int(0, LONG_MAX),
        "512",
    ),
];

/// The parameter named `name` (or aliased so), ASCII case-insensitively.
pub(super) fn find_param(name: &[u8]) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        name.eq_ignore_ascii_case(p.name.as_bytes())
            || p.alias
                .is_some_and(|a| name.eq_ignore_ascii_case(a.as_bytes()))
    })
}

/// Redis's `memtoull`: digits, then `b`, `k`, `kb`, `m`, `mb`, `g` or `gb` (any case;
/// `k` is 1000, `kb` 1024).
pub(super) fn memory_value(s: &[u8]) -> Option<u64> {
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let (n, unit) = s.split_at(digits);
    if n.is_empty() {
        return None;
    }
    let n: u64 = std::str::from_utf8(n).ok()?.parse().ok()?;
    let mul: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// Checks `value` for `p`; its canonical text, or why not.
pub(super) fn check_value(p: &Param, value: &[u8]) -> std::result::Result<String, String> {
    let text = String::from_utf8_lossy(value).into_owned();
    match p.kind {
        Kind::Memory => memory_value(value)
            .map(|v| v.to_string())
            .ok_or_else(|| "argument must be a memory value".to_string()),
        Kind::Int(min, max) => {
            let v = parse_i64(value)
                .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
            if v < min || v > max {
                return Err(format!(
                    "argument must be between {min} and {max} inclusive"
                ));
            }
            Ok(v.to_string())
        }
        Kind::Bool => {
            if value.eq_ignore_ascii_case(b"yes") || value.eq_ignore_ascii_case(b"no") {
                Ok(text.to_ascii_lowercase())
            } else {
                Err("argument must be 'yes' or 'no'".to_string())
            }
        }
        Kind::Enum(words) => words
            .iter()
            .find(|w| value.eq_ignore_ascii_case(w.as_bytes()))
            .map(|w| w.to_string())
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                )
            }),
        Kind::Save => {
            let words: Vec<&str> = text.split_whitespace().collect();
            let numbers = words.iter().all(|w| parse_i64(w.as_bytes()).is_some());
            if !words.len().is_multiple_of(2) || !numbers {
                return Err("Invalid save parameters".to_string());
            }
            Ok(words.join(" "))
        }
    }
}
