//! The SQL engine of `pg-server`: a lexer and parser for the few statements it
//! understands, and in-memory tables.
//!
//! Statements:
//!
//! * `CREATE TABLE [IF NOT EXISTS] t (col type [NOT NULL | NULL], ...)`, with the types
//!   `text`, `varchar[(n)]` (`character varying`), `smallint` (`int2`), `integer`
//!   (`int`, `int4`), `bigint` (`int8`) and `boolean` (`bool`);
//! * `DROP TABLE [IF EXISTS] t [, ...]`;
//! * `INSERT INTO t [(cols)] VALUES (...), (...)`;
//! * `SELECT * | expr [[AS] name], ... [FROM t [[AS] alias]] [WHERE cond]
//!   [ORDER BY expr [ASC | DESC] [NULLS FIRST | LAST], ...] [LIMIT n] [OFFSET n]`, where
//!   an expression is a column or a literal, and a condition compares them (`=`, `<>`,
//!   `!=`, `<`, `<=`, `>`, `>=`, `IS [NOT] NULL`), joined by `AND`, `OR`, `NOT` and
//!   parentheses;
//! * `DELETE FROM t [WHERE cond]`;
//! * `BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`, `ABORT` (run by
//!   [`Session`](super::session::Session), with this module's [`Undo`] log).
//!
//! Literals are typed as PostgreSQL types them: integers are `integer`, `bigint` or
//! `numeric` by size, decimals `numeric`, quoted strings of unknown type (resolved by
//! what they meet: a column's type, or `text`), `TRUE`/`FALSE` `boolean`, `NULL`. Values
//! are kept as text, in the form PostgreSQL prints them, and compared by their type:
//! numbers by value, text byte by byte (the C collation), booleans false before true.
//! Error codes and messages are PostgreSQL 15's, with the position of the offending
//! token where PostgreSQL gives one.
//!
//! A whole query string is lexed and parsed before any of it runs, as PostgreSQL does:
//! a syntax error anywhere means that nothing runs.

use std::cmp::Ordering;
use std::collections::BTreeMap;

// ===== types =====

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

    fn class(self) -> Class {
        match self {
            SqlType::Text | SqlType::Varchar(_) => Class::Text,
            SqlType::Int2 | SqlType::Int4 | SqlType::Int8 | SqlType::Numeric => Class::Number,
            SqlType::Bool => Class::Bool,
        }
    }

    /// The name of the type in the messages about integer ranges.
    fn int_range_name(self) -> &'static str {
        match self {
            SqlType::Int2 => "smallint",
            SqlType::Int8 => "bigint",
            _ => "integer",
        }
    }

    fn int_bounds(self) -> (i64, i64) {
        match self {
            SqlType::Int2 => (i16::MIN.into(), i16::MAX.into()),
            SqlType::Int4 => (i32::MIN.into(), i32::MAX.into()),
            _ => (i64::MIN, i64::MAX),
        }
    }
}

/// Which values compare with which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Text,
    Number,
    Bool,
}

// ===== errors and notices =====

/// An error of a query: an SQLSTATE code, a message, what PostgreSQL adds to it, and the
/// byte offset in the query string of what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// The SQLSTATE code (`42P01`).
    pub code: &'static str,
    /// The primary message.
    pub message: String,
    /// The `DETAIL` line, if any.
    pub detail: Option<String>,
    /// The `HINT` line, if any.
    pub hint: Option<String>,
    /// The byte offset in the query string of the offending token, if any.
    pub at: Option<usize>,
}

impl SqlError {
    /// An error with `code` and `message`.
    ///
    /// ```
    /// use asyncore_examples::pg_server::sql::SqlError;
    /// let e = SqlError::new("42601", "syntax error at end of input").at(8);
    /// assert_eq!(e.position("select (", ), Some(9));
    /// ```
    pub fn new(code: &'static str, message: impl Into<String>) -> SqlError {
        SqlError {
            code,
            message: message.into(),
            detail: None,
            hint: None,
            at: None,
        }
    }

    /// The same error about the token at byte `at` of the query.
    pub fn at(mut self, at: usize) -> SqlError {
        self.at = Some(at);
        self
    }

    /// The same error with a `DETAIL` line.
    pub fn detail(mut self, detail: impl Into<String>) -> SqlError {
        self.detail = Some(detail.into());
        self
    }

    /// The same error with a `HINT` line.
    pub fn hint(mut self, hint: impl Into<String>) -> SqlError {
        self.hint = Some(hint.into());
        self
    }

    /// The position PostgreSQL reports (the `P` field): the 1-based character index in
    /// `sql` of the offending token.
    pub fn position(&self, sql: &str) -> Option<usize> {
        let at = self.at?;
        let at = (0..=at.min(sql.len()))
            .rev()
            .find(|&i| sql.is_char_boundary(i))?;
        Some(sql[..at].chars().count() + 1)
    }
}

/// A notice or warning a statement sends before its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `NOTICE` or `WARNING`.
    pub severity: &'static str,
    /// The SQLSTATE code.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

fn syntax_error(sql: &str, tok: &Token) -> SqlError {
    if tok.tok == Tok::End {
        SqlError::new("42601", "syntax error at end of input").at(sql.len())
    } else {
        SqlError::new(
            "42601",
            format!("syntax error at or near \"{}\"", &sql[tok.at..tok.end]),
        )
        .at(tok.at)
    }
}

fn undefined_table(name: &Name) -> SqlError {
    SqlError::new(
        "42P01",
        format!("relation \"{}\" does not exist", name.text),
    )
    .at(name.at)
}

// ===== lexer =====

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An unquoted identifier or keyword, folded to lower case.
    Word(String),
    /// A double-quoted identifier.
    Quoted(String),
    /// A string constant.
    Str(String),
    /// An integer constant: digits.
    Int(String),
    /// A decimal constant (with a point or an exponent), as written.
    Dec(String),
    /// `$1`.
    Param(String),
    /// An operator: `=`, `<>`, `*`...
    Op(String),
    /// `(`, `)`, `,`, `;`, `.`, `[`, `]`, `:`.
    Punct(u8),
    /// The end of the query string.
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    tok: Tok,
    at: usize,
    end: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

const OP_CHARS: &[u8] = b"+-*/<>=~!@#%^&|`?";

fn lex(sql: &str) -> Result<Vec<Token>, SqlError> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let unterminated = |what: &str, at: usize| {
        SqlError::new(
            "42601",
            format!("unterminated {what} at or near \"{}\"", &sql[at..]),
        )
        .at(at)
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        if is_space(c) {
            i += 1;
            continue;
        }
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0usize;
            loop {
                if i + 1 >= b.len() {
                    return Err(unterminated("/* comment", start));
                }
                if b[i] == b'/' && b[i + 1] == b'*' {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b[i + 1] == b'/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            continue;
        }
        let tok = if (c == b'e' || c == b'E') && b.get(i + 1) == Some(&b'\'') {
            i += 2;
            let (s, next) = escape_string(sql, i, start)?;
            i = next;
            Tok::Str(s)
        } else if is_ident_start(c) {
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
            Tok::Word(sql[start..i].to_ascii_lowercase())
        } else if c == b'\'' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(rel) = sql[i..].find('\'') else {
                    return Err(unterminated("quoted string", start));
                };
                s.push_str(&sql[i..i + rel]);
                i += rel + 1;
                if b.get(i) == Some(&b'\'') {
                    s.push('\'');
                    i += 1;
                } else {
                    break;
                }
            }
            Tok::Str(s)
        } else if c == b'"' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(rel) = sql[i..].find('"') else {
                    return Err(unterminated("quoted identifier", start));
                };
                s.push_str(&sql[i..i + rel]);
                i += rel + 1;
                if b.get(i) == Some(&b'"') {
                    s.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
            if s.is_empty() {
                return Err(SqlError::new(
                    "42601",
                    format!(
                        "zero-length delimited identifier at or near \"{}\"",
                        &sql[start..i]
                    ),
                )
                .at(start));
            }
            Tok::Quoted(s)
        } else if c == b'$' {
            let mut j = i + 1;
            if b.get(j).is_some_and(u8::is_ascii_digit) {
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                i = j;
                Tok::Param(sql[start..i].to_string())
            } else {
                while j < b.len() && b[j] != b'$' && is_ident_char(b[j]) {
                    j += 1;
                }
                if b.get(j) != Some(&b'$') {
                    i += 1;
                    return Err(syntax_error(
                        sql,
                        &Token {
                            tok: Tok::Op("$".into()),
                            at: start,
                            end: i,
                        },
                    ));
                }
                let tag = &sql[start..=j];
                let body = j + 1;
                let Some(rel) = sql[body..].find(tag) else {
                    return Err(unterminated("dollar-quoted string", start));
                };
                i = body + rel + tag.len();
                Tok::Str(sql[body..body + rel].to_string())
            }
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let mut decimal = false;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if b.get(i) == Some(&b'.') && b.get(i + 1) != Some(&b'.') {
                decimal = true;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if matches!(b.get(i), Some(b'e' | b'E')) {
                let mut j = i + 1;
                if matches!(b.get(j), Some(b'+' | b'-')) {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    decimal = true;
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            if b.get(i).is_some_and(|&c| is_ident_start(c)) {
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                return Err(SqlError::new(
                    "42601",
                    format!(
                        "trailing junk after numeric literal at or near \"{}\"",
                        &sql[start..i]
                    ),
                )
                .at(start));
            }
            let text = sql[start..i].to_string();
            if decimal {
                Tok::Dec(text)
            } else {
                Tok::Int(text)
            }
        } else if b"(),;.[]:".contains(&c) {
            i += 1;
            Tok::Punct(c)
        } else if OP_CHARS.contains(&c) {
            let two = b.get(i + 1).copied();
            i += match (c, two) {
                (b'<', Some(b'>' | b'=')) | (b'>', Some(b'=')) | (b'!', Some(b'=')) => 2,
                _ => 1,
            };
            Tok::Op(sql[start..i].to_string())
        } else {
            // Any other character: PostgreSQL's lexer takes it alone, and the parser
            // refuses it.
            let len = sql[i..].chars().next().map_or(1, char::len_utf8);
            i += len;
            Tok::Op(sql[start..i].to_string())
        };
        out.push(Token {
            tok,
            at: start,
            end: i,
        });
    }
    out.push(Token {
        tok: Tok::End,
        at: sql.len(),
        end: sql.len(),
    });
    Ok(out)
}

/// The body of an `E'...'` string from byte `i` (after the quote): the string and the
/// byte after its closing quote.
fn escape_string(sql: &str, mut i: usize, start: usize) -> Result<(String, usize), SqlError> {
    let b = sql.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    loop {
        let Some(&c) = b.get(i) else {
            return Err(SqlError::new(
                "42601",
                format!(
                    "unterminated quoted string at or near \"{}\"",
                    &sql[start..]
                ),
            )
            .at(start));
        };
        match c {
            b'\'' if b.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                i += 2;
            }
            b'\'' => {
                i += 1;
                break;
            }
            b'\\' => {
                let Some(&e) = b.get(i + 1) else {
                    i += 1;
                    continue;
                };
                i += 2;
                match e {
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match b.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(v as u8);
                    }
                    b'x' if b.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                        let mut v = 0u32;
                        for _ in 0..2 {
                            match b.get(i) {
                                Some(&d) if d.is_ascii_hexdigit() => {
                                    v = v * 16 + (d as char).to_digit(16).unwrap_or(0);
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(v as u8);
                    }
                    b'u' | b'U' => {
                        let n = if e == b'u' { 4 } else { 8 };
                        let digits = sql
                            .get(i..i + n)
                            .filter(|d| d.bytes().all(|c| c.is_ascii_hexdigit()));
                        let ch = digits
                            .and_then(|d| u32::from_str_radix(d, 16).ok())
                            .and_then(char::from_u32)
                            .filter(|&c| c != '\0');
                        let Some(ch) = ch else {
                            return Err(
                                SqlError::new("22025", "invalid Unicode escape value").at(i - 2)
                            );
                        };
                        i += n;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    }
                    other => out.push(other),
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    if let Some(pos) = out.iter().position(|&c| c == 0) {
        let _ = pos;
        return Err(SqlError::new(
            "22021",
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        ));
    }
    match String::from_utf8(out) {
        Ok(s) => Ok((s, i)),
        Err(e) => {
            let bad = e.as_bytes()[e.utf8_error().valid_up_to()];
            Err(SqlError::new(
                "22021",
                format!("invalid byte sequence for encoding \"UTF8\": 0x{bad:02x}"),
            ))
        }
    }
}

// ===== syntax =====

/// A name in a statement (a table, a column, an alias), where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The name, folded to lower case unless it was quoted.
    pub text: String,
    /// Its byte offset in the query string.
    pub at: usize,
}

/// A constant, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// An integer: an optional `-`, then digits.
    Int(String),
    /// A decimal: an optional `-`, digits with a point or an exponent.
    Dec(String),
    /// A quoted string (of unknown type until it meets one).
    Str(String),
    /// `TRUE` or `FALSE`.
    Bool(bool),
    /// `NULL`.
    Null,
}

/// A value in a statement: a constant or a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A constant, and where it was written.
    Lit(Literal, usize),
    /// A column, with its table's name or alias if it was given (`t.a`).
    Column(Option<Name>, Name),
}

impl Expr {
    fn at(&self) -> usize {
        match self {
            Expr::Lit(_, at) => *at,
            Expr::Column(Some(q), _) => q.at,
            Expr::Column(None, n) => n.at,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>` or `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

/// A `WHERE` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// `a AND b`
    And(Box<Cond>, Box<Cond>),
    /// `a OR b`
    Or(Box<Cond>, Box<Cond>),
    /// `NOT a`
    Not(Box<Cond>),
    /// `x = y`, with the operator's position.
    Cmp(Expr, CmpOp, Expr, usize),
    /// `x IS NULL` (`false`) or `x IS NOT NULL` (`true`).
    IsNull(Expr, bool),
    /// A value alone (it must be a boolean).
    Value(Expr),
}

/// A column's type as written in `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeName {
    /// One of the types this server stores.
    Known(SqlType),
    /// A type PostgreSQL has and this server does not (`numeric`, `date`...).
    Unsupported(String, usize),
    /// A name that is no type.
    Unknown(String, usize),
    /// `varchar(n)` with an impossible `n`.
    BadLength(String, usize),
}

/// One column of `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// The column's name.
    pub name: Name,
    /// Its type.
    pub ty: TypeName,
    /// `NOT NULL`.
    pub not_null: bool,
    /// A constraint this server does not enforce (`PRIMARY KEY`...), and where.
    pub unsupported: Option<(String, usize)>,
}

/// An item of a select list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*` or `t.*`, and where.
    Star(Option<Name>, usize),
    /// A value and the name of its column, if one was given with `AS`.
    Expr(Expr, Option<String>),
}

/// An item of `ORDER BY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    /// A column, or a constant (a column's number in the select list).
    pub expr: Expr,
    /// `DESC`.
    pub desc: bool,
    /// `NULLS FIRST` (`Some(true)`), `NULLS LAST`, or the default (last ascending, first
    /// descending).
    pub nulls_first: Option<bool>,
}

/// A parsed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// `CREATE TABLE`
    CreateTable {
        /// The table.
        name: Name,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// Its columns.
        columns: Vec<ColumnDef>,
    },
    /// `DROP TABLE`
    DropTable {
        /// The tables.
        names: Vec<Name>,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `INSERT INTO ... VALUES`
    Insert {
        /// The table.
        table: Name,
        /// The columns named, if they were.
        columns: Option<Vec<Name>>,
        /// The rows of values, each with the position of its first value.
        rows: Vec<(Vec<Expr>, usize)>,
    },
    /// `SELECT`
    Select {
        /// The select list.
        items: Vec<SelectItem>,
        /// The table and its alias, if there is a `FROM`.
        from: Option<(Name, Option<Name>)>,
        /// The `WHERE` condition, and where it starts.
        filter: Option<(Cond, usize)>,
        /// `ORDER BY`.
        order: Vec<OrderItem>,
        /// `LIMIT` and `OFFSET`.
        limit: Option<u64>,
        /// `OFFSET`.
        offset: u64,
    },
    /// `DELETE FROM`
    Delete {
        /// The table and its alias.
        table: (Name, Option<Name>),
        /// The `WHERE` condition, and where it starts.
        filter: Option<(Cond, usize)>,
    },
    /// `BEGIN`, `START TRANSACTION`
    Begin,
    /// `COMMIT`, `END`
    Commit,
    /// `ROLLBACK`, `ABORT`
    Rollback,
    /// A statement PostgreSQL has and this server does not (`UPDATE`, `CREATE INDEX`...),
    /// named in upper case, and where it starts.
    Unsupported(String, usize),
}

impl Statement {
    /// Whether the statement ends a transaction block (`COMMIT`, `ROLLBACK`): the only
    /// statements a failed block accepts.
    pub fn ends_block(&self) -> bool {
        matches!(self, Statement::Commit | Statement::Rollback)
    }
}

/// Statements that PostgreSQL has, which this server recognises to refuse them with
/// `0A000` rather than a syntax error.
const UNSUPPORTED: &[&str] = &[
    "alter",
    "analyze",
    "call",
    "checkpoint",
    "close",
    "cluster",
    "comment",
    "copy",
    "deallocate",
    "declare",
    "discard",
    "do",
    "execute",
    "explain",
    "fetch",
    "grant",
    "import",
    "listen",
    "load",
    "lock",
    "merge",
    "move",
    "notify",
    "prepare",
    "reassign",
    "refresh",
    "reindex",
    "release",
    "reset",
    "revoke",
    "savepoint",
    "security",
    "set",
    "show",
    "table",
    "truncate",
    "unlisten",
    "update",
    "vacuum",
    "values",
    "with",
];

/// Keywords that cannot be a column alias without `AS`.
const RESERVED: &[&str] = &[
    "all",
    "and",
    "as",
    "asc",
    "desc",
    "distinct",
    "except",
    "fetch",
    "for",
    "from",
    "group",
    "having",
    "intersect",
    "into",
    "is",
    "limit",
    "not",
    "null",
    "offset",
    "on",
    "or",
    "order",
    "returning",
    "union",
    "where",
    "window",
    "with",
];

/// Types PostgreSQL has that this server does not store.
const OTHER_TYPES: &[&str] = &[
    "bit",
    "bigserial",
    "bytea",
    "char",
    "character",
    "cidr",
    "date",
    "decimal",
    "double",
    "float",
    "float4",
    "float8",
    "inet",
    "interval",
    "json",
    "jsonb",
    "money",
    "numeric",
    "oid",
    "real",
    "serial",
    "serial4",
    "serial8",
    "smallserial",
    "time",
    "timestamp",
    "timestamptz",
    "timetz",
    "tsquery",
    "tsvector",
    "uuid",
    "xml",
];

/// Parses a query string: its statements, in order (none for an empty query: only
/// spaces, comments and semicolons).
///
/// ```
/// use asyncore_examples::pg_server::sql::{parse, Statement};
/// let stmts = parse("begin; select 1;; commit").unwrap();
/// assert_eq!(stmts.len(), 3);
/// assert_eq!(stmts[0], Statement::Begin);
/// assert!(parse(" ; -- nothing\n").unwrap().is_empty());
/// let err = parse("select 1; selec 2").unwrap_err();
/// assert_eq!(err.message, "syntax error at or near \"selec\"");
/// assert_eq!(err.position("select 1; selec 2"), Some(11));
/// ```
pub fn parse(sql: &str) -> Result<Vec<Statement>, SqlError> {
    let tokens = lex(sql)?;
    let mut p = Parser {
        sql,
        tokens,
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        while p.eat_punct(b';') {}
        if p.peek().tok == Tok::End {
            return Ok(out);
        }
        out.push(p.statement()?);
        if !p.eat_punct(b';') && p.peek().tok != Tok::End {
            return Err(p.error());
        }
    }
}

struct Parser<'s> {
    sql: &'s str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.tokens[(self.pos + n).min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }

    fn error(&self) -> SqlError {
        syntax_error(self.sql, self.peek())
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(x) if x == w)
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), SqlError> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn eat_punct(&mut self, c: u8) -> bool {
        if self.peek().tok == Tok::Punct(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: u8) -> Result<(), SqlError> {
        if self.eat_punct(c) {
            Ok(())
        } else {
            Err(self.error())
        }
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(&self.peek().tok, Tok::Op(o) if o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// An identifier: a word that is not reserved, or a quoted name.
    fn name(&mut self) -> Result<Name, SqlError> {
        let t = self.peek().clone();
        match t.tok {
            Tok::Word(w) if !RESERVED.contains(&w.as_str()) => {
                self.pos += 1;
                Ok(Name { text: w, at: t.at })
            }
            Tok::Quoted(q) => {
                self.pos += 1;
                Ok(Name { text: q, at: t.at })
            }
            _ => Err(self.error()),
        }
    }

    /// A table name, possibly qualified by the schema `public`.
    fn table_name(&mut self) -> Result<Name, SqlError> {
        let first = self.name()?;
        if !self.eat_punct(b'.') {
            return Ok(first);
        }
        let second = self.name()?;
        if first.text != "public" {
            return Err(SqlError::new(
                "3F000",
                format!("schema \"{}\" does not exist", first.text),
            )
            .at(first.at));
        }
        Ok(second)
    }

    /// Skips to the end of the statement.
    fn skip_statement(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek().tok {
                Tok::End => return,
                Tok::Punct(b';') if depth == 0 => return,
                Tok::Punct(b'(') => depth += 1,
                Tok::Punct(b')') => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.pos += 1;
        }
    }

    fn unsupported(&mut self, words: usize) -> Statement {
        let at = self.peek().at;
        let mut name = Vec::new();
        for _ in 0..words {
            if let Tok::Word(w) = &self.peek().tok {
                name.push(w.to_ascii_uppercase());
                self.pos += 1;
            }
        }
        self.skip_statement();
        Statement::Unsupported(name.join(" "), at)
    }

    fn statement(&mut self) -> Result<Statement, SqlError> {
        let Tok::Word(w) = self.peek().tok.clone() else {
            return Err(self.error());
        };
        match w.as_str() {
            "create" => {
                if matches!(&self.peek_at(1).tok, Tok::Word(t) if t == "table") {
                    self.create_table()
                } else if matches!(&self.peek_at(1).tok, Tok::Word(_)) {
                    Ok(self.unsupported(2))
                } else {
                    self.pos += 1;
                    Err(self.error())
                }
            }
            "drop" => {
                if matches!(&self.peek_at(1).tok, Tok::Word(t) if t == "table") {
                    self.drop_table()
                } else if matches!(&self.peek_at(1).tok, Tok::Word(_)) {
                    Ok(self.unsupported(2))
                } else {
                    self.pos += 1;
                    Err(self.error())
                }
            }
            "insert" => self.insert(),
            "select" => self.select(),
            "delete" => self.delete(),
            "begin" => {
                self.pos += 1;
                let _ = self.eat_word("work") || self.eat_word("transaction");
                Ok(Statement::Begin)
            }
            "start" => {
                self.pos += 1;
                self.expect_word("transaction")?;
                Ok(Statement::Begin)
            }
            "commit" | "end" => {
                self.pos += 1;
                let _ = self.eat_word("work") || self.eat_word("transaction");
                Ok(Statement::Commit)
            }
            "rollback" | "abort" => {
                self.pos += 1;
                let _ = self.eat_word("work") || self.eat_word("transaction");
                Ok(Statement::Rollback)
            }
            w if UNSUPPORTED.contains(&w) => Ok(self.unsupported(1)),
            _ => Err(self.error()),
        }
    }

    fn create_table(&mut self) -> Result<Statement, SqlError> {
        self.pos += 2;
        let mut if_not_exists = false;
        if self.is_word("if") {
            self.pos += 1;
            self.expect_word("not")?;
            self.expect_word("exists")?;
            if_not_exists = true;
        }
        let name = self.table_name()?;
        self.expect_punct(b'(')?;
        let mut columns = Vec::new();
        if !self.eat_punct(b')') {
            loop {
                if let Some(c) = self.column_def()? {
                    columns.push(c);
                }
                if self.eat_punct(b')') {
                    break;
                }
                self.expect_punct(b',')?;
            }
        }
        Ok(Statement::CreateTable {
            name,
            if_not_exists,
            columns,
        })
    }

    /// Skips a parenthesised list of type modifiers or constraint arguments.
    fn skip_parens(&mut self) -> Result<(), SqlError> {
        if !self.eat_punct(b'(') {
            return Ok(());
        }
        let mut depth = 1usize;
        while depth > 0 {
            match self.next().tok {
                Tok::Punct(b'(') => depth += 1,
                Tok::Punct(b')') => depth -= 1,
                Tok::End => return Err(self.error()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Skips to the next `,` or `)` of the column list.
    fn skip_to_column_end(&mut self) -> Result<(), SqlError> {
        loop {
            match self.peek().tok {
                Tok::Punct(b',') | Tok::Punct(b')') => return Ok(()),
                Tok::Punct(b'(') => self.skip_parens()?,
                Tok::End | Tok::Punct(b';') => return Err(self.error()),
                _ => self.pos += 1,
            }
        }
    }

    /// A column definition; `None` for a table constraint (refused when the statement
    /// runs: the first column then carries it).
    fn column_def(&mut self) -> Result<Option<ColumnDef>, SqlError> {
        if let Tok::Word(w) = &self.peek().tok {
            if matches!(
                w.as_str(),
                "primary" | "unique" | "constraint" | "check" | "foreign" | "exclude"
            ) {
                let at = self.peek().at;
                let what = w.to_ascii_uppercase();
                self.skip_to_column_end()?;
                return Ok(Some(ColumnDef {
                    name: Name {
                        text: String::new(),
                        at,
                    },
                    ty: TypeName::Known(SqlType::Text),
                    not_null: false,
                    unsupported: Some((what, at)),
                }));
            }
        }
        let name = self.name()?;
        let ty = self.type_name()?;
        let mut col = ColumnDef {
            name,
            ty,
            not_null: false,
            unsupported: None,
        };
        loop {
            let t = self.peek().clone();
            match &t.tok {
                Tok::Word(w) if w == "not" => {
                    self.pos += 1;
                    self.expect_word("null")?;
                    col.not_null = true;
                }
                Tok::Word(w) if w == "null" => {
                    self.pos += 1;
                    col.not_null = false;
                }
                Tok::Word(w)
                    if matches!(
                        w.as_str(),
                        "primary"
                            | "unique"
                            | "default"
                            | "references"
                            | "check"
                            | "constraint"
                            | "collate"
                            | "generated"
                    ) =>
                {
                    col.unsupported
                        .get_or_insert((w.to_ascii_uppercase(), t.at));
                    self.skip_to_column_end()?;
                }
                _ => return Ok(Some(col)),
            }
        }
    }

    fn type_name(&mut self) -> Result<TypeName, SqlError> {
        let t = self.peek().clone();
        let word = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Quoted(q) => q.clone(),
            _ => return Err(self.error()),
        };
        self.pos += 1;
        let sized = |p: &mut Parser<'_>| -> Result<Option<Option<u32>>, SqlError> {
            if !p.eat_punct(b'(') {
                return Ok(Some(None));
            }
            let n = match p.next().tok {
                Tok::Int(n) => n.parse::<u32>().ok(),
                _ => return Err(syntax_error(p.sql, &p.tokens[p.pos - 1])),
            };
            p.expect_punct(b')')?;
            Ok(match n {
                Some(n) if (1..=10_485_760).contains(&n) => Some(Some(n)),
                _ => None,
            })
        };
        let ty = match word.as_str() {
            "text" => SqlType::Text,
            "varchar" => match sized(self)? {
                Some(n) => SqlType::Varchar(n),
                None => return Ok(TypeName::BadLength("varchar".into(), t.at)),
            },
            "character" if self.is_word("varying") => {
                self.pos += 1;
                match sized(self)? {
                    Some(n) => SqlType::Varchar(n),
                    None => return Ok(TypeName::BadLength("varchar".into(), t.at)),
                }
            }
            "int" | "integer" | "int4" => SqlType::Int4,
            "bigint" | "int8" => SqlType::Int8,
            "smallint" | "int2" => SqlType::Int2,
            "boolean" | "bool" => SqlType::Bool,
            other => {
                self.skip_parens()?;
                // `double precision`, `timestamp with time zone`...
                while let Tok::Word(w) = &self.peek().tok {
                    if matches!(
                        w.as_str(),
                        "precision" | "varying" | "with" | "without" | "time" | "zone"
                    ) {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                self.skip_parens()?;
                return Ok(if OTHER_TYPES.contains(&other) {
                    TypeName::Unsupported(other.to_string(), t.at)
                } else {
                    TypeName::Unknown(other.to_string(), t.at)
                });
            }
        };
        Ok(TypeName::Known(ty))
    }

    fn drop_table(&mut self) -> Result<Statement, SqlError> {
        self.pos += 2;
        let mut if_exists = false;
        if self.is_word("if") {
            self.pos += 1;
            self.expect_word("exists")?;
            if_exists = true;
        }
        let mut names = vec![self.table_name()?];
        while self.eat_punct(b',') {
            names.push(self.table_name()?);
        }
        let _ = self.eat_word("cascade") || self.eat_word("restrict");
        Ok(Statement::DropTable { names, if_exists })
    }

    fn insert(&mut self) -> Result<Statement, SqlError> {
        let start = self.peek().at;
        self.pos += 1;
        self.expect_word("into")?;
        let table = self.table_name()?;
        let mut columns = None;
        if self.eat_punct(b'(') {
            let mut cols = vec![self.name()?];
            while self.eat_punct(b',') {
                cols.push(self.name()?);
            }
            self.expect_punct(b')')?;
            columns = Some(cols);
        }
        if self.is_word("select") || self.is_word("default") {
            self.skip_statement();
            return Ok(Statement::Unsupported(
                "INSERT without VALUES".into(),
                start,
            ));
        }
        self.expect_word("values")?;
        let mut rows = Vec::new();
        loop {
            self.expect_punct(b'(')?;
            let first = self.peek().at;
            let mut row = vec![self.expr()?];
            while self.eat_punct(b',') {
                row.push(self.expr()?);
            }
            self.expect_punct(b')')?;
            rows.push((row, first));
            if !self.eat_punct(b',') {
                break;
            }
        }
        if self.is_word("returning") || self.is_word("on") {
            self.skip_statement();
            return Ok(Statement::Unsupported(
                "INSERT with RETURNING or ON CONFLICT".into(),
                start,
            ));
        }
        Ok(Statement::Insert {
            table,
            columns,
            rows,
        })
    }

    /// A constant or a column.
    fn expr(&mut self) -> Result<Expr, SqlError> {
        let t = self.peek().clone();
        let negate = |s: &str| -> String {
            match s.strip_prefix('-') {
                Some(rest) => rest.to_string(),
                None => format!("-{s}"),
            }
        };
        match &t.tok {
            Tok::Op(o) if o == "-" || o == "+" => {
                self.pos += 1;
                let minus = o == "-";
                match self.expr()? {
                    Expr::Lit(Literal::Int(n), _) => Ok(Expr::Lit(
                        Literal::Int(if minus { negate(&n) } else { n }),
                        t.at,
                    )),
                    Expr::Lit(Literal::Dec(n), _) => Ok(Expr::Lit(
                        Literal::Dec(if minus { negate(&n) } else { n }),
                        t.at,
                    )),
                    _ => Err(SqlError::new(
                        "0A000",
                        "only numeric constants can be negated by this server",
                    )
                    .at(t.at)),
                }
            }
            Tok::Int(n) => {
                self.pos += 1;
                Ok(Expr::Lit(Literal::Int(n.clone()), t.at))
            }
            Tok::Dec(n) => {
                self.pos += 1;
                Ok(Expr::Lit(Literal::Dec(n.clone()), t.at))
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Expr::Lit(Literal::Str(s.clone()), t.at))
            }
            Tok::Param(p) => {
                Err(SqlError::new("42P02", format!("there is no parameter {p}")).at(t.at))
            }
            Tok::Word(w) if w == "null" => {
                self.pos += 1;
                Ok(Expr::Lit(Literal::Null, t.at))
            }
            Tok::Word(w) if w == "true" || w == "false" => {
                self.pos += 1;
                Ok(Expr::Lit(Literal::Bool(w == "true"), t.at))
            }
            Tok::Punct(b'(') => {
                self.pos += 1;
                let e = self.expr()?;
                self.expect_punct(b')')?;
                Ok(e)
            }
            Tok::Word(_) | Tok::Quoted(_) => {
                let first = self.name()?;
                if self.peek().tok == Tok::Punct(b'.')
                    && matches!(self.peek_at(1).tok, Tok::Word(_) | Tok::Quoted(_))
                {
                    self.pos += 1;
                    let col = self.name()?;
                    Ok(Expr::Column(Some(first), col))
                } else {
                    Ok(Expr::Column(None, first))
                }
            }
            _ => Err(self.error()),
        }
    }

    fn select(&mut self) -> Result<Statement, SqlError> {
        let start = self.peek().at;
        self.pos += 1;
        if self.is_word("distinct") {
            self.skip_statement();
            return Ok(Statement::Unsupported("SELECT DISTINCT".into(), start));
        }
        let _ = self.eat_word("all");
        let mut items = Vec::new();
        let ends_list = |p: &Parser<'_>| {
            matches!(p.peek().tok, Tok::End | Tok::Punct(b';'))
                || ["from", "where", "order", "limit", "offset"]
                    .iter()
                    .any(|w| p.is_word(w))
        };
        if !ends_list(self) {
            loop {
                items.push(self.select_item()?);
                if !self.eat_punct(b',') {
                    break;
                }
            }
        }
        let mut from = None;
        if self.eat_word("from") {
            let table = self.table_name()?;
            let alias = self.alias()?;
            if self.peek().tok == Tok::Punct(b',') || self.is_word("join") {
                self.skip_statement();
                return Ok(Statement::Unsupported(
                    "SELECT from several tables".into(),
                    start,
                ));
            }
            from = Some((table, alias));
        }
        let filter = self.filter()?;
        if self.is_word("group") || self.is_word("having") {
            self.skip_statement();
            return Ok(Statement::Unsupported("GROUP BY".into(), start));
        }
        let mut order = Vec::new();
        if self.eat_word("order") {
            self.expect_word("by")?;
            loop {
                let expr = self.expr()?;
                let desc = if self.eat_word("desc") {
                    true
                } else {
                    let _ = self.eat_word("asc");
                    false
                };
                let mut nulls_first = None;
                if self.eat_word("nulls") {
                    if self.eat_word("first") {
                        nulls_first = Some(true);
                    } else {
                        self.expect_word("last")?;
                        nulls_first = Some(false);
                    }
                }
                order.push(OrderItem {
                    expr,
                    desc,
                    nulls_first,
                });
                if !self.eat_punct(b',') {
                    break;
                }
            }
        }
        let mut limit = None;
        let mut offset = 0;
        loop {
            if self.eat_word("limit") {
                if self.eat_word("all") {
                    limit = None;
                } else {
                    limit = Some(self.count("LIMIT")?);
                }
            } else if self.eat_word("offset") {
                offset = self.count("OFFSET")?;
                let _ = self.eat_word("rows") || self.eat_word("row");
            } else {
                break;
            }
        }
        Ok(Statement::Select {
            items,
            from,
            filter,
            order,
            limit,
            offset,
        })
    }

    fn delete(&mut self) -> Result<Statement, SqlError> {
        let start = self.peek().at;
        self.pos += 1;
        self.expect_word("from")?;
        let table = self.table_name()?;
        let alias = self.alias()?;
        if self.is_word("using") || self.is_word("returning") {
            self.skip_statement();
            return Ok(Statement::Unsupported(
                "DELETE with USING or RETURNING".into(),
                start,
            ));
        }
        let filter = self.filter()?;
        if self.is_word("returning") {
            self.skip_statement();
            return Ok(Statement::Unsupported(
                "DELETE with USING or RETURNING".into(),
                start,
            ));
        }
        Ok(Statement::Delete {
            table: (table, alias),
            filter,
        })
    }

    /// The number after `LIMIT` or `OFFSET`.
    fn count(&mut self, what: &str) -> Result<u64, SqlError> {
        let t = self.peek().clone();
        match self.expr()? {
            Expr::Lit(Literal::Int(n), _) => match n.parse::<i64>() {
                Ok(v) if v >= 0 => Ok(v as u64),
                Ok(_) => Err(SqlError::new(
                    "2201W",
                    format!("{what} must not be negative"),
                )),
                Err(_) => Err(SqlError::new("22003", "bigint out of range")),
            },
            Expr::Lit(Literal::Null, _) if what == "LIMIT" => Ok(u64::MAX),
            _ => Err(SqlError::new(
                "0A000",
                format!("{what} takes an integer constant on this server"),
            )
            .at(t.at)),
        }
    }

    fn alias(&mut self) -> Result<Option<Name>, SqlError> {
        if self.eat_word("as") {
            let t = self.peek().clone();
            return match t.tok {
                Tok::Word(w) => {
                    self.pos += 1;
                    Ok(Some(Name { text: w, at: t.at }))
                }
                Tok::Quoted(q) => {
                    self.pos += 1;
                    Ok(Some(Name { text: q, at: t.at }))
                }
                _ => Err(self.error()),
            };
        }
        match &self.peek().tok {
            Tok::Word(w) if !RESERVED.contains(&w.as_str()) && w != "join" => {
                Ok(Some(self.name()?))
            }
            Tok::Quoted(_) => Ok(Some(self.name()?)),
            _ => Ok(None),
        }
    }

    fn select_item(&mut self) -> Result<SelectItem, SqlError> {
        let t = self.peek().clone();
        if self.eat_op("*") {
            return Ok(SelectItem::Star(None, t.at));
        }
        if matches!(t.tok, Tok::Word(_) | Tok::Quoted(_))
            && self.peek_at(1).tok == Tok::Punct(b'.')
            && self.peek_at(2).tok == Tok::Op("*".into())
        {
            let q = self.name()?;
            self.pos += 2;
            return Ok(SelectItem::Star(Some(q), t.at));
        }
        let expr = self.expr()?;
        let alias = self.alias()?.map(|n| n.text);
        Ok(SelectItem::Expr(expr, alias))
    }

    fn filter(&mut self) -> Result<Option<(Cond, usize)>, SqlError> {
        if !self.eat_word("where") {
            return Ok(None);
        }
        let at = self.peek().at;
        Ok(Some((self.or_cond()?, at)))
    }

    fn or_cond(&mut self) -> Result<Cond, SqlError> {
        let mut c = self.and_cond()?;
        while self.eat_word("or") {
            c = Cond::Or(Box::new(c), Box::new(self.and_cond()?));
        }
        Ok(c)
    }

    fn and_cond(&mut self) -> Result<Cond, SqlError> {
        let mut c = self.not_cond()?;
        while self.eat_word("and") {
            c = Cond::And(Box::new(c), Box::new(self.not_cond()?));
        }
        Ok(c)
    }

    fn not_cond(&mut self) -> Result<Cond, SqlError> {
        if self.eat_word("not") {
            return Ok(Cond::Not(Box::new(self.not_cond()?)));
        }
        // A parenthesised condition, unless it is a parenthesised value.
        if self.peek().tok == Tok::Punct(b'(') {
            let save = self.pos;
            self.pos += 1;
            if let Ok(c) = self.or_cond() {
                if self.eat_punct(b')') {
                    return Ok(c);
                }
            }
            self.pos = save;
        }
        let left = self.expr()?;
        let t = self.peek().clone();
        if self.eat_word("is") {
            let not = self.eat_word("not");
            self.expect_word("null")?;
            return Ok(Cond::IsNull(left, not));
        }
        let op = match &t.tok {
            Tok::Op(o) => match o.as_str() {
                "=" => Some(CmpOp::Eq),
                "<>" | "!=" => Some(CmpOp::Ne),
                "<" => Some(CmpOp::Lt),
                "<=" => Some(CmpOp::Le),
                ">" => Some(CmpOp::Gt),
                ">=" => Some(CmpOp::Ge),
                _ => None,
            },
            _ => None,
        };
        let Some(op) = op else {
            return Ok(Cond::Value(left));
        };
        self.pos += 1;
        let right = self.expr()?;
        Ok(Cond::Cmp(left, op, right, t.at))
    }
}

// ===== values =====

/// A value of a row: text in PostgreSQL's output form, or `NULL`.
pub type Value = Option<Box<str>>;

/// The value of a literal, and its type (`None` for a string of unknown type, or NULL).
fn literal_value(lit: &Literal) -> (Value, Option<SqlType>) {
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
fn cmp_values(class: Class, a: &str, b: &str) -> Ordering {
    match class {
        Class::Number => cmp_decimal(a, b),
        // `f` before `t`.
        Class::Bool | Class::Text => a.as_bytes().cmp(b.as_bytes()),
    }
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
enum Target<'a> {
    /// Stored in a column of this name.
    Column(&'a str),
    /// Compared with an operator at this position; `true` when the literal is on its
    /// left.
    Compare(CmpOp, usize, bool),
}

/// Converts a literal's value for `ty`, as PostgreSQL does on assignment to a column or
/// for a comparison: a string goes through the type's input function; a typed constant
/// takes the assignment casts, and is refused where PostgreSQL refuses it.
fn coerce(lit: &Literal, at: usize, ty: SqlType, target: Target<'_>) -> Result<Value, SqlError> {
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

fn operator_error(left: &str, op: CmpOp, right: &str, at: usize) -> SqlError {
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
fn input(s: &str, ty: SqlType, at: usize) -> Result<Box<str>, SqlError> {
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

// ===== tables =====

/// Bounds of a [`Database`]; over one, a statement fails with the code given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most tables (`53400`).
    pub max_tables: usize,
    /// The most columns of a table (`54011`, as PostgreSQL's own limit of 1600).
    pub max_columns: usize,
    /// The most rows of a table (`53400`).
    pub max_rows: usize,
    /// The longest value, in bytes (`53400`).
    pub max_value: usize,
    /// The largest row: its values and 8 bytes per value (`53400`). A row must fit in
    /// one DataRow message, at most 1 MiB.
    pub max_row: usize,
    /// The most bytes the tables hold: rows as [`Limits::max_row`] counts them, plus 16
    /// bytes each (`53400`). Rows deleted by a transaction still count until it ends.
    pub max_bytes: usize,
}

impl Default for Limits {
    /// 1,000 tables, 100 columns, 1,000,000 rows per table, values of 256 KiB, rows of
    /// 1,000,000 bytes, 64 MiB in all.
    fn default() -> Self {
        Limits {
            max_tables: 1000,
            max_columns: 100,
            max_rows: 1_000_000,
            max_value: 256 * 1024,
            max_row: 1_000_000,
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: SqlType,
    /// Whether it refuses NULL.
    pub not_null: bool,
}

#[derive(Debug, Clone)]
struct Row {
    /// Rows are kept in the order of their ids, which is the order of their insertion.
    id: u64,
    values: Box<[Value]>,
}

/// The bytes a row counts for, without the per-row overhead.
fn row_size(values: &[Value]) -> usize {
    values
        .iter()
        .map(|v| 8 + v.as_ref().map_or(0, |s| s.len()))
        .sum()
}

/// The bytes a row counts for in [`Limits::max_bytes`].
fn row_cost(values: &[Value]) -> usize {
    16 + row_size(values)
}

#[derive(Debug, Clone)]
struct Table {
    oid: u32,
    columns: Vec<Column>,
    rows: Vec<Row>,
    bytes: usize,
}

/// A column of a result, as RowDescription describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultColumn {
    /// Its name.
    pub name: String,
    /// The OID of the table it comes from, or 0.
    pub table: u32,
    /// Its number in that table (from 1), or 0.
    pub column: i16,
    /// Its type.
    pub ty: SqlType,
}

/// Where a statement's results go.
pub trait Output {
    /// A notice or warning.
    fn notice(&mut self, notice: &Notice);
    /// The columns of the rows that follow.
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<(), SqlError>;
    /// A row. An error (too much output) ends the statement.
    fn row(&mut self, values: &[Option<&str>]) -> Result<(), SqlError>;
}

/// An [`Output`] that keeps everything, for tests and tools.
///
/// ```
/// use asyncore_examples::pg_server::sql::{Collected, Database, Undo};
/// let mut db = Database::default();
/// let mut out = Collected::default();
/// let mut undo = Undo::default();
/// for s in asyncore_examples::pg_server::sql::parse("select 1 as one, null").unwrap() {
///     assert_eq!(db.execute(&s, &mut undo, &mut out), Ok("SELECT 1".to_string()));
/// }
/// assert_eq!(out.columns[0].name, "one");
/// assert_eq!(out.rows, [vec![Some("1".to_string()), None]]);
/// ```
#[derive(Debug, Default)]
pub struct Collected {
    /// Notices and warnings.
    pub notices: Vec<Notice>,
    /// The columns of the last result with rows.
    pub columns: Vec<ResultColumn>,
    /// The rows of the results.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Output for Collected {
    fn notice(&mut self, notice: &Notice) {
        self.notices.push(notice.clone());
    }
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<(), SqlError> {
        self.columns = columns.to_vec();
        Ok(())
    }
    fn row(&mut self, values: &[Option<&str>]) -> Result<(), SqlError> {
        self.rows
            .push(values.iter().map(|v| v.map(str::to_string)).collect());
        Ok(())
    }
}

/// What a transaction changed, to undo it on `ROLLBACK` or on an error.
#[derive(Debug)]
enum Change {
    /// Rows inserted into the table of this OID: the first id and how many.
    Insert(u32, u64, u64),
    /// Rows deleted from the table of this OID.
    Delete(u32, Vec<Row>),
    /// A table created.
    Create(u32),
    /// A table dropped, with its name.
    Drop(String, Table),
}

/// The changes of one transaction, newest last: [`Database::rollback`] undoes them,
/// [`Database::commit`] forgets them.
///
/// Transactions are not isolated: other connections see the changes at once, and a
/// rollback undoes what its own transaction did (rows another connection deleted
/// meanwhile stay deleted).
#[derive(Debug, Default)]
pub struct Undo {
    changes: Vec<Change>,
    /// Bytes of rows and tables deleted by the transaction, still counted in the
    /// database's size until it ends.
    held: usize,
}

impl Undo {
    /// Whether the transaction changed nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// The tables of a server, shared by its connections.
#[derive(Debug)]
pub struct Database {
    tables: BTreeMap<String, Table>,
    limits: Limits,
    next_oid: u32,
    next_row: u64,
    /// Bytes in use, as [`Limits::max_bytes`] counts them.
    bytes: usize,
}

impl Default for Database {
    fn default() -> Self {
        Database::new(Limits::default())
    }
}

/// A resolved value of a statement: a column of the row (its index) or a constant.
#[derive(Debug, Clone)]
enum Operand {
    Column(usize, SqlType),
    Const(Value, Option<SqlType>),
}

/// A resolved condition.
#[derive(Debug, Clone)]
enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    Cmp(Operand, CmpOp, Operand, Class),
    IsNull(Operand, bool),
    Value(Operand),
}

impl Pred {
    /// Three-valued: `None` is NULL.
    fn eval(&self, row: &[Value]) -> Option<bool> {
        let get = |o: &'_ Operand| -> Option<Box<str>> {
            match o {
                Operand::Column(i, _) => row.get(*i).cloned().flatten(),
                Operand::Const(v, _) => v.clone(),
            }
        };
        match self {
            Pred::And(a, b) => match (a.eval(row), b.eval(row)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Pred::Or(a, b) => match (a.eval(row), b.eval(row)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Pred::Not(a) => a.eval(row).map(|b| !b),
            Pred::Cmp(l, op, r, class) => {
                let (l, r) = (get(l)?, get(r)?);
                Some(op.holds(cmp_values(*class, &l, &r)))
            }
            Pred::IsNull(o, not) => Some(get(o).is_some() == *not),
            Pred::Value(o) => get(o).map(|v| &*v == "t"),
        }
    }
}

/// The table a statement reads: its columns and the names it can be called by.
struct Scope<'t> {
    names: Vec<&'t str>,
    columns: &'t [Column],
}

impl Scope<'_> {
    fn column(&self, qual: Option<&Name>, name: &Name) -> Result<(usize, SqlType), SqlError> {
        if let Some(q) = qual {
            if !self.names.contains(&q.text.as_str()) {
                return Err(SqlError::new(
                    "42P01",
                    format!("missing FROM-clause entry for table \"{}\"", q.text),
                )
                .at(q.at));
            }
        }
        let at = qual.map_or(name.at, |q| q.at);
        match self.columns.iter().position(|c| c.name == name.text) {
            Some(i) => Ok((i, self.columns[i].ty)),
            None => Err(match qual {
                Some(q) => SqlError::new(
                    "42703",
                    format!("column {}.{} does not exist", q.text, name.text),
                ),
                None => SqlError::new("42703", format!("column \"{}\" does not exist", name.text)),
            }
            .at(at)),
        }
    }
}

impl Database {
    /// An empty database bounded by `limits`.
    pub fn new(limits: Limits) -> Database {
        Database {
            tables: BTreeMap::new(),
            limits,
            next_oid: 16384,
            next_row: 0,
            bytes: 0,
        }
    }

    /// Its bounds.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The number of tables.
    pub fn table_count(&self) -> usize {
        self.tables.len()
    }

    /// The bytes in use, as [`Limits::max_bytes`] counts them.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Runs one statement other than `BEGIN`, `COMMIT` and `ROLLBACK` (which
    /// [`Session`](super::session::Session) runs): its notices and rows go to `out`, its
    /// changes are noted in `undo`, and it returns the command tag (`INSERT 0 2`).
    /// A statement that fails changes nothing.
    pub fn execute(
        &mut self,
        stmt: &Statement,
        undo: &mut Undo,
        out: &mut dyn Output,
    ) -> Result<String, SqlError> {
        match stmt {
            Statement::CreateTable {
                name,
                if_not_exists,
                columns,
            } => self.create_table(name, *if_not_exists, columns, undo, out),
            Statement::DropTable { names, if_exists } => {
                self.drop_tables(names, *if_exists, undo, out)
            }
            Statement::Insert {
                table,
                columns,
                rows,
            } => self.insert(table, columns.as_deref(), rows, undo),
            Statement::Select {
                items,
                from,
                filter,
                order,
                limit,
                offset,
            } => self.select(
                items,
                from.as_ref(),
                filter.as_ref(),
                order,
                *limit,
                *offset,
                out,
            ),
            Statement::Delete { table, filter } => self.delete(table, filter.as_ref(), undo),
            Statement::Unsupported(what, at) => Err(SqlError::new(
                "0A000",
                format!("{what} is not supported by this server"),
            )
            .at(*at)),
            Statement::Begin | Statement::Commit | Statement::Rollback => Err(SqlError::new(
                "XX000",
                "transaction statements are run by the session",
            )),
        }
    }

    fn full(&self, more: usize) -> Result<(), SqlError> {
        if self.bytes.saturating_add(more) > self.limits.max_bytes {
            return Err(SqlError::new(
                "53400",
                format!(
                    "database full: this server holds at most {} bytes",
                    self.limits.max_bytes
                ),
            ));
        }
        Ok(())
    }

    fn create_table(
        &mut self,
        name: &Name,
        if_not_exists: bool,
        defs: &[ColumnDef],
        undo: &mut Undo,
        out: &mut dyn Output,
    ) -> Result<String, SqlError> {
        let mut columns: Vec<Column> = Vec::with_capacity(defs.len());
        for def in defs {
            if let Some((what, at)) = &def.unsupported {
                return Err(SqlError::new(
                    "0A000",
                    format!("{what} constraints are not supported by this server"),
                )
                .at(*at));
            }
            let ty = match &def.ty {
                TypeName::Known(ty) => *ty,
                TypeName::Unknown(t, at) => {
                    return Err(
                        SqlError::new("42704", format!("type \"{t}\" does not exist")).at(*at),
                    )
                }
                TypeName::Unsupported(t, at) => {
                    return Err(SqlError::new(
                        "0A000",
                        format!("type {t} is not supported by this server"),
                    )
                    .at(*at))
                }
                TypeName::BadLength(t, at) => {
                    return Err(SqlError::new(
                        "22023",
                        format!("length for type {t} must be between 1 and 10485760"),
                    )
                    .at(*at))
                }
            };
            if columns.iter().any(|c| c.name == def.name.text) {
                return Err(SqlError::new(
                    "42701",
                    format!("column \"{}\" specified more than once", def.name.text),
                ));
            }
            columns.push(Column {
                name: def.name.text.clone(),
                ty,
                not_null: def.not_null,
            });
        }
        if self.tables.contains_key(&name.text) {
            if if_not_exists {
                out.notice(&Notice {
                    severity: "NOTICE",
                    code: "42P07",
                    message: format!("relation \"{}\" already exists, skipping", name.text),
                });
                return Ok("CREATE TABLE".into());
            }
            return Err(SqlError::new(
                "42P07",
                format!("relation \"{}\" already exists", name.text),
            ));
        }
        if columns.len() > self.limits.max_columns {
            return Err(SqlError::new(
                "54011",
                format!(
                    "tables can have at most {} columns",
                    self.limits.max_columns
                ),
            ));
        }
        if self.tables.len() >= self.limits.max_tables {
            return Err(SqlError::new(
                "53400",
                format!(
                    "too many tables: this server holds at most {}",
                    self.limits.max_tables
                ),
            ));
        }
        let cost = 64 + name.text.len() + columns.iter().map(|c| 16 + c.name.len()).sum::<usize>();
        self.full(cost)?;
        let oid = self.next_oid;
        self.next_oid = self.next_oid.wrapping_add(1).max(16384);
        self.bytes += cost;
        self.tables.insert(
            name.text.clone(),
            Table {
                oid,
                columns,
                rows: Vec::new(),
                bytes: cost,
            },
        );
        undo.changes.push(Change::Create(oid));
        Ok("CREATE TABLE".into())
    }

    fn drop_tables(
        &mut self,
        names: &[Name],
        if_exists: bool,
        undo: &mut Undo,
        out: &mut dyn Output,
    ) -> Result<String, SqlError> {
        let mut present = Vec::new();
        for name in names {
            if self.tables.contains_key(&name.text) {
                if !present.contains(&name.text) {
                    present.push(name.text.clone());
                }
            } else if if_exists {
                out.notice(&Notice {
                    severity: "NOTICE",
                    code: "00000",
                    message: format!("table \"{}\" does not exist, skipping", name.text),
                });
            } else {
                return Err(SqlError::new(
                    "42P01",
                    format!("table \"{}\" does not exist", name.text),
                ));
            }
        }
        for name in present {
            if let Some(table) = self.tables.remove(&name) {
                undo.held += table.bytes;
                undo.changes.push(Change::Drop(name, table));
            }
        }
        Ok("DROP TABLE".into())
    }

    fn insert(
        &mut self,
        name: &Name,
        names: Option<&[Name]>,
        rows: &[(Vec<Expr>, usize)],
        undo: &mut Undo,
    ) -> Result<String, SqlError> {
        // PostgreSQL checks the VALUES lists before it looks at the table.
        let width = rows.first().map_or(0, |(r, _)| r.len());
        if let Some((_, at)) = rows.iter().find(|(r, _)| r.len() != width) {
            return Err(SqlError::new("42601", "VALUES lists must all be the same length").at(*at));
        }
        let limits = self.limits;
        let table = self
            .tables
            .get(&name.text)
            .ok_or_else(|| undefined_table(name))?;
        let targets: Vec<usize> = match names {
            Some(names) => {
                let mut idx: Vec<usize> = Vec::new();
                for n in names {
                    let Some(i) = table.columns.iter().position(|c| c.name == n.text) else {
                        return Err(SqlError::new(
                            "42703",
                            format!(
                                "column \"{}\" of relation \"{}\" does not exist",
                                n.text, name.text
                            ),
                        )
                        .at(n.at));
                    };
                    if idx.contains(&i) {
                        return Err(SqlError::new(
                            "42701",
                            format!("column \"{}\" specified more than once", n.text),
                        )
                        .at(n.at));
                    }
                    idx.push(i);
                }
                if width < idx.len() {
                    return Err(SqlError::new(
                        "42601",
                        "INSERT has more target columns than expressions",
                    )
                    .at(names[width].at));
                }
                idx
            }
            None => (0..table.columns.len()).collect(),
        };
        if width > targets.len() {
            let at = rows[0].0[targets.len()].at();
            return Err(
                SqlError::new("42601", "INSERT has more expressions than target columns").at(at),
            );
        }
        let mut new_rows: Vec<Box<[Value]>> = Vec::with_capacity(rows.len());
        let mut cost = 0usize;
        for (exprs, _) in rows {
            let mut values: Vec<Value> = vec![None; table.columns.len()];
            for (expr, &col) in exprs.iter().zip(&targets) {
                let column = &table.columns[col];
                let value = match expr {
                    Expr::Lit(lit, at) => {
                        coerce(lit, *at, column.ty, Target::Column(&column.name))?
                    }
                    Expr::Column(q, n) => {
                        return Err(SqlError::new(
                            "42703",
                            match q {
                                Some(q) => format!("column {}.{} does not exist", q.text, n.text),
                                None => format!("column \"{}\" does not exist", n.text),
                            },
                        )
                        .at(expr.at()))
                    }
                };
                if let Some(v) = &value {
                    if v.len() > limits.max_value {
                        return Err(SqlError::new(
                            "53400",
                            format!(
                                "value of {} bytes is over this server's limit of {} bytes",
                                v.len(),
                                limits.max_value
                            ),
                        ));
                    }
                }
                values[col] = value;
            }
            if let Some(i) = table
                .columns
                .iter()
                .zip(&values)
                .position(|(c, v)| c.not_null && v.is_none())
            {
                let shown: Vec<&str> = values
                    .iter()
                    .map(|v| v.as_deref().unwrap_or("null"))
                    .collect();
                return Err(SqlError::new(
                    "23502",
                    format!(
                        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                        table.columns[i].name, name.text
                    ),
                )
                .detail(format!("Failing row contains ({}).", shown.join(", "))));
            }
            let size = row_size(&values);
            if size > limits.max_row {
                return Err(SqlError::new(
                    "53400",
                    format!(
                        "row of {size} bytes is over this server's limit of {} bytes",
                        limits.max_row
                    ),
                ));
            }
            cost += row_cost(&values);
            new_rows.push(values.into_boxed_slice());
        }
        if table.rows.len() + new_rows.len() > limits.max_rows {
            return Err(SqlError::new(
                "53400",
                format!(
                    "too many rows in table \"{}\": this server holds at most {} per table",
                    name.text, limits.max_rows
                ),
            ));
        }
        self.full(cost)?;
        let n = new_rows.len() as u64;
        let first = self.next_row;
        self.next_row += n;
        let table = self
            .tables
            .get_mut(&name.text)
            .ok_or_else(|| undefined_table(name))?;
        table
            .rows
            .extend(new_rows.into_iter().enumerate().map(|(i, values)| Row {
                id: first + i as u64,
                values,
            }));
        table.bytes += cost;
        self.bytes += cost;
        undo.changes.push(Change::Insert(table.oid, first, n));
        Ok(format!("INSERT 0 {n}"))
    }

    /// Resolves an expression of a statement on `scope` (no table: constants only).
    fn operand(scope: Option<&Scope<'_>>, e: &Expr) -> Result<Operand, SqlError> {
        match e {
            Expr::Lit(lit, _) => {
                let (v, ty) = literal_value(lit);
                Ok(Operand::Const(v, ty))
            }
            Expr::Column(q, n) => match scope {
                Some(s) => {
                    let (i, ty) = s.column(q.as_ref(), n)?;
                    Ok(Operand::Column(i, ty))
                }
                None => Err(match q {
                    Some(q) => SqlError::new(
                        "42P01",
                        format!("missing FROM-clause entry for table \"{}\"", q.text),
                    )
                    .at(q.at),
                    None => SqlError::new("42703", format!("column \"{}\" does not exist", n.text))
                        .at(n.at),
                }),
            },
        }
    }

    /// Resolves a condition: columns found, constants converted to the types they meet.
    fn pred(scope: Option<&Scope<'_>>, c: &Cond) -> Result<Pred, SqlError> {
        Ok(match c {
            Cond::And(a, b) => Pred::And(
                Box::new(Self::pred(scope, a)?),
                Box::new(Self::pred(scope, b)?),
            ),
            Cond::Or(a, b) => Pred::Or(
                Box::new(Self::pred(scope, a)?),
                Box::new(Self::pred(scope, b)?),
            ),
            Cond::Not(a) => Pred::Not(Box::new(Self::pred(scope, a)?)),
            Cond::IsNull(e, not) => Pred::IsNull(Self::operand(scope, e)?, *not),
            Cond::Value(e) => {
                let o = Self::operand(scope, e)?;
                match &o {
                    Operand::Column(_, SqlType::Bool) | Operand::Const(None, _) => {}
                    Operand::Const(Some(_), Some(SqlType::Bool)) => {}
                    Operand::Const(Some(v), None) => {
                        let v = input(v, SqlType::Bool, e.at())?;
                        return Ok(Pred::Value(Operand::Const(Some(v), Some(SqlType::Bool))));
                    }
                    Operand::Column(_, ty) | Operand::Const(_, Some(ty)) => {
                        return Err(SqlError::new(
                            "42804",
                            format!(
                                "argument of WHERE must be type boolean, not type {}",
                                ty.name()
                            ),
                        )
                        .at(e.at()))
                    }
                }
                Pred::Value(o)
            }
            Cond::Cmp(l, op, r, op_at) => {
                let (lo, ro) = (Self::operand(scope, l)?, Self::operand(scope, r)?);
                let ty = |o: &Operand| match o {
                    Operand::Column(_, t) => Some(*t),
                    Operand::Const(_, t) => *t,
                };
                match (ty(&lo), ty(&ro)) {
                    (Some(a), Some(b)) => {
                        if a.class() != b.class() {
                            return Err(operator_error(&a.name(), *op, &b.name(), *op_at));
                        }
                        Pred::Cmp(lo, *op, ro, a.class())
                    }
                    (Some(a), None) => {
                        let Expr::Lit(lit, at) = r else {
                            unreachable!("only constants have no type")
                        };
                        let v = coerce(lit, *at, a, Target::Compare(*op, *op_at, false))?;
                        Pred::Cmp(lo, *op, Operand::Const(v, Some(a)), a.class())
                    }
                    (None, Some(b)) => {
                        let Expr::Lit(lit, at) = l else {
                            unreachable!("only constants have no type")
                        };
                        let v = coerce(lit, *at, b, Target::Compare(*op, *op_at, true))?;
                        Pred::Cmp(Operand::Const(v, Some(b)), *op, ro, b.class())
                    }
                    (None, None) => Pred::Cmp(lo, *op, ro, Class::Text),
                }
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn select(
        &self,
        items: &[SelectItem],
        from: Option<&(Name, Option<Name>)>,
        filter: Option<&(Cond, usize)>,
        order: &[OrderItem],
        limit: Option<u64>,
        offset: u64,
        out: &mut dyn Output,
    ) -> Result<String, SqlError> {
        let table = match from {
            Some((name, _)) => Some(
                self.tables
                    .get(&name.text)
                    .ok_or_else(|| undefined_table(name))?,
            ),
            None => None,
        };
        let scope = match (from, table) {
            (Some((name, alias)), Some(t)) => Some(Scope {
                names: vec![alias
                    .as_ref()
                    .map_or(name.text.as_str(), |a| a.text.as_str())],
                columns: &t.columns,
            }),
            _ => None,
        };
        // The select list.
        let mut shown: Vec<(ResultColumn, Operand)> = Vec::new();
        for item in items {
            match item {
                SelectItem::Star(q, at) => {
                    let (Some(s), Some(t)) = (&scope, table) else {
                        return Err(match q {
                            Some(q) => SqlError::new(
                                "42P01",
                                format!("missing FROM-clause entry for table \"{}\"", q.text),
                            )
                            .at(q.at),
                            None => SqlError::new(
                                "42601",
                                "SELECT * with no tables specified is not valid",
                            )
                            .at(*at),
                        });
                    };
                    if let Some(q) = q {
                        if !s.names.contains(&q.text.as_str()) {
                            return Err(SqlError::new(
                                "42P01",
                                format!("missing FROM-clause entry for table \"{}\"", q.text),
                            )
                            .at(q.at));
                        }
                    }
                    for (i, c) in t.columns.iter().enumerate() {
                        shown.push((
                            ResultColumn {
                                name: c.name.clone(),
                                table: t.oid,
                                column: (i + 1) as i16,
                                ty: c.ty,
                            },
                            Operand::Column(i, c.ty),
                        ));
                    }
                }
                SelectItem::Expr(e, alias) => {
                    let o = Self::operand(scope.as_ref(), e)?;
                    let col = match (&o, e) {
                        (Operand::Column(i, ty), Expr::Column(_, n)) => ResultColumn {
                            name: alias.clone().unwrap_or_else(|| n.text.clone()),
                            table: table.map_or(0, |t| t.oid),
                            column: (*i + 1) as i16,
                            ty: *ty,
                        },
                        (Operand::Const(_, ty), _) => ResultColumn {
                            name: alias.clone().unwrap_or_else(|| "?column?".into()),
                            table: 0,
                            column: 0,
                            ty: ty.unwrap_or(SqlType::Text),
                        },
                        _ => unreachable!("a column operand comes from a column expression"),
                    };
                    shown.push((col, o));
                }
            }
        }
        let pred = match filter {
            Some((c, _)) => Some(Self::pred(scope.as_ref(), c)?),
            None => None,
        };
        // ORDER BY: a column of the table, or the number of a column of the list.
        let mut keys: Vec<(Operand, Class, bool, bool)> = Vec::new();
        for item in order {
            let operand = match &item.expr {
                Expr::Lit(Literal::Int(n), at) => {
                    let i = n
                        .parse::<usize>()
                        .ok()
                        .filter(|&i| i >= 1 && i <= shown.len());
                    let Some(i) = i else {
                        return Err(SqlError::new(
                            "42P10",
                            format!("ORDER BY position {n} is not in select list"),
                        )
                        .at(*at));
                    };
                    shown[i - 1].1.clone()
                }
                Expr::Lit(..) => {
                    return Err(SqlError::new(
                        "0A000",
                        "ORDER BY takes a column or its number on this server",
                    )
                    .at(item.expr.at()))
                }
                Expr::Column(q, n) => {
                    // An output column's name first, as PostgreSQL does.
                    let named = if q.is_none() {
                        shown
                            .iter()
                            .find(|(c, _)| c.name == n.text)
                            .map(|(_, o)| o.clone())
                    } else {
                        None
                    };
                    match named {
                        Some(o) => o,
                        None => Self::operand(scope.as_ref(), &item.expr)?,
                    }
                }
            };
            let class = match &operand {
                Operand::Column(_, t) | Operand::Const(_, Some(t)) => t.class(),
                Operand::Const(_, None) => Class::Text,
            };
            let nulls_first = item.nulls_first.unwrap_or(item.desc);
            keys.push((operand, class, item.desc, nulls_first));
        }
        let columns: Vec<ResultColumn> = shown.iter().map(|(c, _)| c.clone()).collect();
        out.columns(&columns)?;
        let empty: [Row; 1] = [Row {
            id: 0,
            values: Box::new([]),
        }];
        let rows: &[Row] = match table {
            Some(t) => &t.rows,
            None => &empty,
        };
        let mut picked: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                pred.as_ref()
                    .is_none_or(|p| p.eval(&r.values) == Some(true))
            })
            .collect();
        if !keys.is_empty() {
            let value = |o: &Operand, r: &Row| -> Option<Box<str>> {
                match o {
                    Operand::Column(i, _) => r.values.get(*i).cloned().flatten(),
                    Operand::Const(v, _) => v.clone(),
                }
            };
            picked.sort_by(|a, b| {
                for (o, class, desc, nulls_first) in &keys {
                    let ord = match (value(o, a), value(o, b)) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) => {
                            if *nulls_first {
                                Ordering::Less
                            } else {
                                Ordering::Greater
                            }
                        }
                        (Some(_), None) => {
                            if *nulls_first {
                                Ordering::Greater
                            } else {
                                Ordering::Less
                            }
                        }
                        (Some(x), Some(y)) => {
                            let o = cmp_values(*class, &x, &y);
                            if *desc {
                                o.reverse()
                            } else {
                                o
                            }
                        }
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            });
        }
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let mut n = 0usize;
        let mut values: Vec<Option<&str>> = Vec::with_capacity(shown.len());
        for r in picked.into_iter().skip(skip).take(take) {
            values.clear();
            for (_, o) in &shown {
                values.push(match o {
                    Operand::Column(i, _) => r.values.get(*i).and_then(|v| v.as_deref()),
                    Operand::Const(v, _) => v.as_deref(),
                });
            }
            out.row(&values)?;
            n += 1;
        }
        Ok(format!("SELECT {n}"))
    }

    fn delete(
        &mut self,
        (name, alias): &(Name, Option<Name>),
        filter: Option<&(Cond, usize)>,
        undo: &mut Undo,
    ) -> Result<String, SqlError> {
        let table = self
            .tables
            .get_mut(&name.text)
            .ok_or_else(|| undefined_table(name))?;
        let pred = match filter {
            Some((c, _)) => {
                let scope = Scope {
                    names: vec![alias
                        .as_ref()
                        .map_or(name.text.as_str(), |a| a.text.as_str())],
                    columns: &table.columns,
                };
                Some(Self::pred(Some(&scope), c)?)
            }
            None => None,
        };
        let mut removed = Vec::new();
        table.rows.retain(|r| {
            if pred
                .as_ref()
                .is_none_or(|p| p.eval(&r.values) == Some(true))
            {
                removed.push(r.clone());
                false
            } else {
                true
            }
        });
        let n = removed.len();
        let cost: usize = removed.iter().map(|r| row_cost(&r.values)).sum();
        table.bytes -= cost;
        // The rows count until the transaction ends.
        undo.held += cost;
        if n > 0 {
            undo.changes.push(Change::Delete(table.oid, removed));
        }
        Ok(format!("DELETE {n}"))
    }

    /// Ends a transaction that succeeded: what it deleted is gone for good.
    pub fn commit(&mut self, undo: &mut Undo) {
        self.bytes = self.bytes.saturating_sub(undo.held);
        undo.held = 0;
        undo.changes.clear();
    }

    /// Undoes the changes of a transaction, newest first.
    pub fn rollback(&mut self, undo: &mut Undo) {
        let mut held = std::mem::take(&mut undo.held);
        while let Some(change) = undo.changes.pop() {
            match change {
                Change::Insert(oid, first, n) => {
                    if let Some(t) = self.tables.values_mut().find(|t| t.oid == oid) {
                        let mut freed = 0;
                        t.rows.retain(|r| {
                            let gone = r.id >= first && r.id - first < n;
                            if gone {
                                freed += row_cost(&r.values);
                            }
                            !gone
                        });
                        t.bytes = t.bytes.saturating_sub(freed);
                        self.bytes = self.bytes.saturating_sub(freed);
                    }
                }
                Change::Delete(oid, rows) => {
                    let cost: usize = rows.iter().map(|r| row_cost(&r.values)).sum();
                    held = held.saturating_sub(cost);
                    match self.tables.values_mut().find(|t| t.oid == oid) {
                        Some(t) => {
                            // Both are in id order: merge them back.
                            let current = std::mem::take(&mut t.rows);
                            let mut merged = Vec::with_capacity(current.len() + rows.len());
                            let (mut a, mut b) =
                                (current.into_iter().peekable(), rows.into_iter().peekable());
                            loop {
                                let next = match (a.peek(), b.peek()) {
                                    (Some(x), Some(y)) if x.id < y.id => a.next(),
                                    (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                                    (Some(_), None) => a.next(),
                                    (None, None) => break,
                                };
                                merged.extend(next);
                            }
                            t.rows = merged;
                            t.bytes += cost;
                        }
                        None => self.bytes = self.bytes.saturating_sub(cost),
                    }
                }
                Change::Create(oid) => {
                    let name = self
                        .tables
                        .iter()
                        .find(|(_, t)| t.oid == oid)
                        .map(|(n, _)| n.clone());
                    if let Some(t) = name.and_then(|n| self.tables.remove(&n)) {
                        self.bytes = self.bytes.saturating_sub(t.bytes);
                    }
                }
                Change::Drop(name, table) => {
                    held = held.saturating_sub(table.bytes);
                    match self.tables.entry(name) {
                        std::collections::btree_map::Entry::Occupied(_) => {
                            self.bytes = self.bytes.saturating_sub(table.bytes);
                        }
                        std::collections::btree_map::Entry::Vacant(v) => {
                            v.insert(table);
                        }
                    }
                }
            }
        }
        // Whatever is left was freed meanwhile.
        self.bytes = self.bytes.saturating_sub(held);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(db: &mut Database, sql: &str) -> Result<(Vec<String>, Collected), SqlError> {
        let mut out = Collected::default();
        let mut undo = Undo::default();
        let mut tags = Vec::new();
        for s in parse(sql)? {
            match db.execute(&s, &mut undo, &mut out) {
                Ok(tag) => tags.push(tag),
                Err(e) => {
                    db.rollback(&mut undo);
                    return Err(e);
                }
            }
        }
        db.commit(&mut undo);
        Ok((tags, out))
    }

    fn rows(db: &mut Database, sql: &str) -> Vec<Vec<Option<String>>> {
        run(db, sql).unwrap().1.rows
    }

    fn err(db: &mut Database, sql: &str) -> (String, String, Option<usize>) {
        let e = run(db, sql).unwrap_err();
        (e.code.to_string(), e.message.clone(), e.position(sql))
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn create_insert_select_delete_drop() {
        let mut db = Database::default();
        let (tags, _) = run(
            &mut db,
            "CREATE TABLE t (a text, b int); INSERT INTO t VALUES ('x', 1), (NULL, 2), ('', NULL)",
        )
        .unwrap();
        assert_eq!(tags, ["CREATE TABLE", "INSERT 0 3"]);
        assert_eq!(
            rows(&mut db, "select * from t"),
            [vec![s("x"), s("1")], vec![None, s("2")], vec![s(""), None]]
        );
        assert_eq!(rows(&mut db, "select b from t where b = 2"), [vec![s("2")]]);
        assert_eq!(
            rows(&mut db, "select a from t where b = '1'"),
            [vec![s("x")]]
        );
        assert_eq!(
            rows(&mut db, "select b, a from t where a is null"),
            [vec![s("2"), None]]
        );
        assert_eq!(
            rows(
                &mut db,
                "select b from t where (b >= 2 and a is null) or b is null order by b desc"
            ),
            [vec![None], vec![s("2")]]
        );
        assert_eq!(
            rows(&mut db, "select t.b from t order by 1 limit 2 offset 1"),
            [vec![s("2")], vec![None]]
        );
        assert_eq!(
            run(&mut db, "delete from t where b = 1").unwrap().0,
            ["DELETE 1"]
        );
        assert_eq!(run(&mut db, "delete from t").unwrap().0, ["DELETE 2"]);
        assert_eq!(run(&mut db, "drop table t").unwrap().0, ["DROP TABLE"]);
        assert_eq!(db.table_count(), 0);
        assert_eq!(db.bytes(), 0);
    }

    #[test]
    fn literals_are_typed_as_postgresql_types_them() {
        let mut db = Database::default();
        let (_, out) = run(
            &mut db,
            "select 1, 'a', null, true, 1.50, 3000000000, 99999999999999999999 as big, -2, 1e3",
        )
        .unwrap();
        let types: Vec<i32> = out.columns.iter().map(|c| c.ty.oid()).collect();
        assert_eq!(types, [23, 25, 25, 16, 1700, 20, 1700, 23, 1700]);
        assert_eq!(out.columns[6].name, "big");
        assert_eq!(out.columns[0].name, "?column?");
        assert_eq!(
            out.rows[0],
            [
                s("1"),
                s("a"),
                None,
                s("t"),
                s("1.50"),
                s("3000000000"),
                s("99999999999999999999"),
                s("-2"),
                s("1000")
            ]
        );
    }

    #[test]
    fn errors_have_postgresql_codes_messages_and_positions() {
        let mut db = Database::default();
        run(&mut db, "create table t (a text, b int)").unwrap();
        let cases: &[(&str, &str, &str, Option<usize>)] = &[
            (
                "select * from nope",
                "42P01",
                "relation \"nope\" does not exist",
                Some(15),
            ),
            (
                "create table t (x int)",
                "42P07",
                "relation \"t\" already exists",
                None,
            ),
            (
                "select z from t",
                "42703",
                "column \"z\" does not exist",
                Some(8),
            ),
            (
                "selec 1",
                "42601",
                "syntax error at or near \"selec\"",
                Some(1),
            ),
            (
                "select 1 from",
                "42601",
                "syntax error at end of input",
                Some(14),
            ),
            (
                "select 'abc",
                "42601",
                "unterminated quoted string at or near \"'abc\"",
                Some(8),
            ),
            (
                "insert into t (b) values ('abc')",
                "22P02",
                "invalid input syntax for type integer: \"abc\"",
                Some(27),
            ),
            (
                "insert into t (b) values (3000000000)",
                "22003",
                "integer out of range",
                None,
            ),
            (
                "insert into t (b) values ('3000000000')",
                "22003",
                "value \"3000000000\" is out of range for type integer",
                Some(27),
            ),
            (
                "insert into t (b) values (true)",
                "42804",
                "column \"b\" is of type integer but expression is of type boolean",
                Some(27),
            ),
            (
                "select * from t where a = 5",
                "42883",
                "operator does not exist: text = integer",
                Some(25),
            ),
            (
                "insert into t values (1,2,3)",
                "42601",
                "INSERT has more expressions than target columns",
                Some(27),
            ),
            (
                "insert into t (a, b) values (1)",
                "42601",
                "INSERT has more target columns than expressions",
                Some(19),
            ),
            (
                "insert into t (a,a) values (1,2)",
                "42701",
                "column \"a\" specified more than once",
                Some(18),
            ),
            (
                "insert into t (z) values (1)",
                "42703",
                "column \"z\" of relation \"t\" does not exist",
                Some(16),
            ),
            (
                "insert into t values (1), (1,2)",
                "42601",
                "VALUES lists must all be the same length",
                Some(28),
            ),
            (
                "select *",
                "42601",
                "SELECT * with no tables specified is not valid",
                Some(8),
            ),
            (
                "create table t2 (a foo)",
                "42704",
                "type \"foo\" does not exist",
                Some(20),
            ),
            ("select $1", "42P02", "there is no parameter $1", Some(8)),
            (
                "select 123abc",
                "42601",
                "trailing junk after numeric literal at or near \"123abc\"",
                Some(8),
            ),
            (
                "drop table t, nope",
                "42P01",
                "table \"nope\" does not exist",
                None,
            ),
            (
                "select 'a' where 1",
                "42804",
                "argument of WHERE must be type boolean, not type integer",
                Some(18),
            ),
            (
                "update t set a = 1",
                "0A000",
                "UPDATE is not supported by this server",
                Some(1),
            ),
        ];
        for (sql, code, message, position) in cases {
            assert_eq!(
                err(&mut db, sql),
                (code.to_string(), message.to_string(), *position),
                "{sql}"
            );
        }
        // Nothing changed.
        assert_eq!(
            rows(&mut db, "select * from t"),
            Vec::<Vec<Option<String>>>::new()
        );
    }

    #[test]
    fn assignment_casts() {
        let mut db = Database::default();
        run(
            &mut db,
            "create table t (a text, b int, c bool, d varchar(3), e smallint, f bigint)",
        )
        .unwrap();
        run(
            &mut db,
            "insert into t values (5, '7', 'yes', 'ab  ', 1.5, -2.5), (true, -0, 'off', E'\\x41', '12', '  9 ')",
        )
        .unwrap();
        assert_eq!(
            rows(&mut db, "select * from t"),
            [
                vec![s("5"), s("7"), s("t"), s("ab "), s("2"), s("-3")],
                vec![s("true"), s("0"), s("f"), s("A"), s("12"), s("9")]
            ]
        );
        assert_eq!(
            err(&mut db, "insert into t (d) values ('abcd')").1,
            "value too long for type character varying(3)"
        );
        assert_eq!(
            err(&mut db, "insert into t (e) values (40000)").1,
            "smallint out of range"
        );
        assert_eq!(
            rows(&mut db, "select b from t where b = 7.0 or c"),
            [vec![s("7")]]
        );
    }

    #[test]
    fn not_null_and_limits() {
        let mut db = Database::new(Limits {
            max_tables: 2,
            max_rows: 3,
            max_value: 10,
            ..Limits::default()
        });
        run(&mut db, "create table t (a text not null, b int)").unwrap();
        let e = run(&mut db, "insert into t (b) values (1)").unwrap_err();
        assert_eq!(e.code, "23502");
        assert_eq!(e.detail.as_deref(), Some("Failing row contains (null, 1)."));
        assert_eq!(
            err(&mut db, "insert into t values ('12345678901')").0,
            "53400"
        );
        assert_eq!(
            err(&mut db, "insert into t values ('a'), ('b'), ('c'), ('d')").0,
            "53400"
        );
        run(&mut db, "create table u ()").unwrap();
        assert_eq!(err(&mut db, "create table v (a int)").0, "53400");
    }

    #[test]
    fn rollback_restores_rows_tables_and_bytes() {
        let mut db = Database::default();
        run(
            &mut db,
            "create table t (a int); insert into t values (1), (2), (3)",
        )
        .unwrap();
        let before = db.bytes();
        let mut undo = Undo::default();
        let mut out = Collected::default();
        for s in parse(
            "delete from t where a = 2; insert into t values (4); drop table t; create table t (b text)",
        )
        .unwrap()
        {
            db.execute(&s, &mut undo, &mut out).unwrap();
        }
        db.rollback(&mut undo);
        assert_eq!(db.bytes(), before);
        assert_eq!(
            rows(&mut db, "select * from t"),
            [vec![s("1")], vec![s("2")], vec![s("3")]]
        );
        // A committed delete frees its bytes.
        run(&mut db, "delete from t").unwrap();
        run(&mut db, "drop table t").unwrap();
        assert_eq!(db.bytes(), 0);
    }

    #[test]
    fn lexing_edges() {
        let mut db = Database::default();
        assert_eq!(
            rows(
                &mut db,
                "select 'it''s', $$a'b$$, $x$ $$ $x$, E'a\\tb' /* c /* d */ */"
            ),
            [vec![s("it's"), s("a'b"), s(" $$ "), s("a\tb")]]
        );
        assert_eq!(err(&mut db, "select E'\\0'").0, "22021");
        assert_eq!(err(&mut db, "select /* open").0, "42601");
        assert_eq!(err(&mut db, "select \"\"").0, "42601");
    }
}
