//! The types of values: their OIDs and names as PostgreSQL gives them, the classes of
//! types that compare with each other, and the comparison of values.

use std::cmp::Ordering;

/// A column or value type, with the OID PostgreSQL gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    /// `text` (OID 25).
    Text,
    /// `character varying`, with its maximum length in characters if one was given
    /// (OID 1043).
    Varchar(Option<u32>),
    /// `smallint` (OID 21).
    Int2,
    /// `integer` (OID 23).
    Int4,
    /// `bigint` (OID 20).
    Int8,
    /// `boolean` (OID 16).
    Bool,
    /// `numeric` (OID 1700): decimal literals, and integer literals too large for
    /// `bigint`; not a column type here.
    Numeric,
}

impl SqlType {
    /// The type's OID (`pg_type.oid`), as RowDescription carries it.
    ///
    /// ```
    /// use asyncore_examples::pg_server::sql::SqlType;
    /// assert_eq!(SqlType::Text.oid(), 25);
    /// assert_eq!(SqlType::Int4.oid(), 23);
    /// ```
    pub fn oid(self) -> i32 {
        match self {
            SqlType::Text => 25,
            SqlType::Varchar(_) => 1043,
            SqlType::Int2 => 21,
            SqlType::Int4 => 23,
            SqlType::Int8 => 20,
            SqlType::Bool => 16,
            SqlType::Numeric => 1700,
        }
    }

    /// The size of the type's values (`pg_type.typlen`): -1 for variable sizes.
    pub fn size(self) -> i16 {
        match self {
            SqlType::Int2 => 2,
            SqlType::Int4 => 4,
            SqlType::Int8 => 8,
            SqlType::Bool => 1,
            _ => -1,
        }
    }

    /// The type modifier (`atttypmod`): a `varchar(n)`'s is `n + 4`, others have none
    /// (-1).
    pub fn modifier(self) -> i32 {
        match self {
            SqlType::Varchar(Some(n)) => i32::try_from(n).map_or(-1, |n| n + 4),
            _ => -1,
        }
    }

    /// The type's name in PostgreSQL's messages.
    ///
    /// ```
    /// use asyncore_examples::pg_server::sql::SqlType;
    /// assert_eq!(SqlType::Varchar(Some(10)).name(), "character varying(10)");
    /// assert_eq!(SqlType::Int8.name(), "bigint");
    /// ```
    pub fn name(self) -> String {
        match self {
            SqlType::Text => "text".into(),
            SqlType::Varchar(None) => "character varying".into(),
            SqlType::Varchar(Some(n)) => format!("character varying({n})"),
            SqlType::Int2 => "smallint".into(),
            SqlType::Int4 => "integer".into(),
            SqlType::Int8 => "bigint".into(),
            SqlType::Bool => "boolean".into(),
            SqlType::Numeric => "numeric".into(),
        }
    }

    pub(super) fn class(self) -> Class {
        match self {
            SqlType::Text | SqlType::Varchar(_) => Class::Text,
            SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Numeric => Class::Number,
            SqlType::Bool => Class::Bool,
        }
    }

    /// The name of the type in the messages about integer ranges.
    pub(super) fn int_range_name(self) -> &'static str {
        match self {
            SqlType::Int2 => "smallint",
            SqlType::Int8 => "bigint",
            _ => "integer",
        }
    }

    pub(super) fn int_bounds(self) -> (i64, i64) {
        match self {
            SqlType::Int2 => (i16::MIN.into(), i16::MAX.into()),
            SqlType::Int4 => (i32::MIN.into(), i32::MAX.into()),
            _ => (i64::MIN, i64::MAX),
        }
    }
}

/// Which values compare with which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Text,
    Number,
    Bool,
}

/// A value of a row: text in PostgreSQL's output form, or `NULL`.
pub type Value = Option<Box<str>>;

/// Compares two canonical decimals by value.
fn cmp_decimal(a: &str, b: &str) -> Ordering {
    if let (Ok(x), Ok(y)) = (a.parse::<i64>(), b.parse::<i64>()) {
        return x.cmp(&y);
    }
    let (na, a) = a.strip_prefix('-').map_or((false, a), |r| (true, r));
    let (nb, b) = b.strip_prefix('-').map_or((false, b), |r| (true, r));
    let magnitude = || {
        let (ai, af) = a.split_once('.').unwrap_or((a, ""));
        let (bi, bf) = b.split_once('.').unwrap_or((b, ""));
        ai.len().cmp(&bi.len()).then(ai.cmp(bi)).then_with(|| {
            let n = af.len().max(bf.len());
            let pad = |s: &str| format!("{s:0<n$}");
            pad(af).cmp(&pad(bf))
        })
    };
    match (na, nb) {
        (false, false) => magnitude(),
        (true, true) => magnitude().reverse(),
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
    }
}

/// Compares two non-NULL values of one class.
pub(super) fn cmp_values(class: Class, a: &str, b: &str) -> Ordering {
    match class {
        Class::Number => cmp_decimal(a, b),
        // `f` before `t`.
        Class::Bool | Class::Text => a.as_bytes().cmp(b.as_bytes()),
    }
}
