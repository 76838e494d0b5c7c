//! Constants into values: the type of a literal, the input functions of the types
//! (`int4in`, `boolin`...), and the casts on assignment to a column or for a
//! comparison, with PostgreSQL's errors where it refuses them.

use super::ast::{CmpOp, Literal};
use super::error::SqlError;
use super::types::{Class, SqlType, Value};

/// The value of a literal, and its type (`None` for a string of unknown type, or NULL).
pub(super) fn literal_value(lit: &Literal) -> (Value, Option<SqlType>) {
    match lit {
        Literal::Null => (None, None),
        Literal::Str(s) => (Some(s.as_str().into()), None),
        Literal::Bool(b) => (Some(if *b { "t" } else { "f" }.into()), Some(SqlType::Bool)),
        Literal::Int(n) => {
            let canonical = canonical_decimal(n).unwrap_or_else(|| n.clone());
            let ty = match canonical.parse::<i64>() {
                Ok(v) if i32::try_from(v).is_ok() => SqlType::Int4,
                Ok(_) => SqlType::Int8,
                Err(_) => SqlType::Numeric,
            };
            (Some(canonical.into()), Some(ty))
        }
        Literal::Dec(n) => (
            Some(canonical_decimal(n).unwrap_or_else(|| n.clone()).into()),
            Some(SqlType::Numeric),
        ),
    }
}

/// A decimal number (`-0012.50`, `1.5e3`, `.5`) in the form PostgreSQL prints a
/// `numeric`: no leading zeros, the scale kept (`12.50`), the exponent applied.
///
/// ```
/// use asyncore_examples::pg_server::sql::canonical_decimal;
/// assert_eq!(canonical_decimal("0001.50").as_deref(), Some("1.50"));
/// assert_eq!(canonical_decimal(".5").as_deref(), Some("0.5"));
/// assert_eq!(canonical_decimal("1.5e-3").as_deref(), Some("0.0015"));
/// assert_eq!(canonical_decimal("1e3").as_deref(), Some("1000"));
/// assert_eq!(canonical_decimal("-0.0").as_deref(), Some("0.0"));
/// assert_eq!(canonical_decimal("x"), None);
/// ```
pub fn canonical_decimal(s: &str) -> Option<String> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
        || exp.unsigned_abs() > 1000
    {
        return None;
    }
    let digits = format!("{int}{frac}");
    let scale = frac.len() as i64 - exp;
    let (int_digits, frac_digits) = if scale <= 0 {
        let zeros = "0".repeat(usize::try_from(-scale).ok()?);
        (format!("{digits}{zeros}"), String::new())
    } else {
        let scale = usize::try_from(scale).ok()?;
        if digits.len() >= scale {
            let (a, b) = digits.split_at(digits.len() - scale);
            (a.to_string(), b.to_string())
        } else {
            (
                String::new(),
                format!("{}{digits}", "0".repeat(scale - digits.len())),
            )
        }
    };
    let int_digits = int_digits.trim_start_matches('0');
    let int_digits = if int_digits.is_empty() {
        "0"
    } else {
        int_digits
    };
    let zero = int_digits == "0" && frac_digits.bytes().all(|c| c == b'0');
    let mut out = String::new();
    if neg && !zero {
        out.push('-');
    }
    out.push_str(int_digits);
    if !frac_digits.is_empty() {
        out.push('.');
        out.push_str(&frac_digits);
    }
    Some(out)
}

/// `boolin`: `t`, `true`, `yes`, `on`, `1` and their opposites, any case, unique
/// prefixes, spaces around.
fn parse_bool(s: &str) -> Option<bool> {
    let t = s.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || t == "on" || t == "1" {
        Some(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Some(false)
    } else {
        None
    }
}

/// Where a value is going, for the messages of a failed conversion.
#[derive(Clone, Copy)]
pub(super) enum Target<'a> {
    /// Stored in a column of this name.
    Column(&'a str),
    /// Compared with an operator at this position; `true` when the literal is on its
    /// left.
    Compare(CmpOp, usize, bool),
}

/// Converts a literal's value for `ty`, as PostgreSQL does on assignment to a column or
/// for a comparison: a string goes through the type's input function; a typed constant
/// takes the assignment casts, and is refused where PostgreSQL refuses it.
pub(super) fn coerce(
    lit: &Literal,
    at: usize,
    ty: SqlType,
    target: Target<'_>,
) -> Result<Value, SqlError> {
    let (value, lit_ty) = literal_value(lit);
    let Some(text) = value else {
        return Ok(None);
    };
    let mismatch = |from: SqlType| match target {
        Target::Column(col) => SqlError::new(
            "42804",
            format!(
                "column \"{col}\" is of type {} but expression is of type {}",
                ty.name(),
                from.name()
            ),
        )
        .at(at)
        .hint("You will need to rewrite or cast the expression."),
        Target::Compare(op, op_at, lit_left) => {
            let (l, r) = if lit_left { (from, ty) } else { (ty, from) };
            operator_error(&l.name(), op, &r.name(), op_at)
        }
    };
    match (lit_ty, ty.class()) {
        // A string of unknown type: the type's input function.
        (None, _) => input(&text, ty, at).map(Some),
        (Some(SqlType::Bool), Class::Bool) => Ok(Some(text)),
        (Some(SqlType::Bool), Class::Text) if matches!(target, Target::Column(_)) => {
            let word = if &*text == "t" { "true" } else { "false" };
            fit_varchar(word, ty).map(Some)
        }
        (Some(from), Class::Text)
            if matches!(target, Target::Column(_)) && from != SqlType::Bool =>
        {
            fit_varchar(&text, ty).map(Some)
        }
        (
            Some(from @ (SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Numeric)),
            Class::Number,
        ) => {
            if ty == SqlType::Numeric {
                return Ok(Some(text));
            }
            // numeric to integer rounds half away from zero.
            let rounded = if from == SqlType::Numeric {
                round_decimal(&text)
            } else {
                text.to_string()
            };
            let (lo, hi) = ty.int_bounds();
            match rounded.parse::<i64>() {
                Ok(v) if (lo..=hi).contains(&v) => Ok(Some(v.to_string().into())),
                _ => Err(SqlError::new(
                    "22003",
                    format!("{} out of range", ty.int_range_name()),
                )),
            }
        }
        (Some(from), _) => Err(mismatch(from)),
    }
}

/// PostgreSQL's error for a comparison of two types that do not compare.
pub(super) fn operator_error(left: &str, op: CmpOp, right: &str, at: usize) -> SqlError {
    SqlError::new(
        "42883",
        format!("operator does not exist: {left} {} {right}", op.text()),
    )
    .at(at)
    .hint(
        "No operator matches the given name and argument types. You might need to add \
         explicit type casts.",
    )
}

/// Rounds a canonical decimal to an integer, half away from zero.
fn round_decimal(s: &str) -> String {
    let (neg, body) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut digits: Vec<u8> = int.bytes().collect();
    if frac.as_bytes().first().is_some_and(|&d| d >= b'5') {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let int = String::from_utf8(digits).unwrap_or_default();
    if neg && int.bytes().any(|d| d != b'0') {
        format!("-{int}")
    } else {
        int
    }
}

/// A string through the input function of `ty`.
pub(super) fn input(s: &str, ty: SqlType, at: usize) -> Result<Box<str>, SqlError> {
    match ty {
        SqlType::Text | SqlType::Varchar(_) => fit_varchar(s, ty),
        SqlType::Int2 | SqlType::Int4 | SqlType::Int8 => {
            let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
            let body = t.strip_prefix(['-', '+']).unwrap_or(t);
            if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
                return Err(SqlError::new(
                    "22P02",
                    format!(
                        "invalid input syntax for type {}: \"{s}\"",
                        ty.int_range_name()
                    ),
                )
                .at(at));
            }
            let (lo, hi) = ty.int_bounds();
            match t.parse::<i64>() {
                Ok(v) if (lo..=hi).contains(&v) => Ok(v.to_string().into()),
                _ => Err(SqlError::new(
                    "22003",
                    format!(
                        "value \"{s}\" is out of range for type {}",
                        ty.int_range_name()
                    ),
                )
                .at(at)),
            }
        }
        SqlType::Bool => match parse_bool(s) {
            Some(b) => Ok(if b { "t" } else { "f" }.into()),
            None => Err(SqlError::new(
                "22P02",
                format!("invalid input syntax for type boolean: \"{s}\""),
            )
            .at(at)),
        },
        SqlType::Numeric => canonical_decimal(s).map(Into::into).ok_or_else(|| {
            SqlError::new(
                "22P02",
                format!("invalid input syntax for type numeric: \"{s}\""),
            )
            .at(at)
        }),
    }
}

/// `s` as a value of the text type `ty`: a `varchar(n)` takes at most `n` characters,
/// and drops spaces beyond them.
fn fit_varchar(s: &str, ty: SqlType) -> Result<Box<str>, SqlError> {
    let SqlType::Varchar(Some(n)) = ty else {
        return Ok(s.into());
    };
    let n = n as usize;
    match s.char_indices().nth(n) {
        None => Ok(s.into()),
        Some((cut, _)) if s[cut..].bytes().all(|c| c == b' ') => Ok(s[..cut].into()),
        Some(_) => Err(SqlError::new(
            "22001",
            format!("value too long for type character varying({n})"),
        )),
    }
}
