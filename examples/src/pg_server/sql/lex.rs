//! The lexer: a query string into tokens, as PostgreSQL's lexer cuts it (comments,
//! quoted strings and identifiers, dollar quotes, `E'...'` escapes, numbers, operators).

use super::error::SqlError;

/// A token's kind, and its text where it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
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

/// A token and the bytes of the query string it was cut from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) at: usize,
    pub(super) end: usize,
}

/// PostgreSQL's syntax error about `tok`.
pub(super) fn syntax_error(sql: &str, tok: &Token) -> SqlError {
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

/// The tokens of `sql`, the last one [`Tok::End`].
pub(super) fn lex(sql: &str) -> Result<Vec<Token>, SqlError> {
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
