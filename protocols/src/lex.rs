//! The lexer: description text to tokens with spans, written with nom.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_till, take_while, take_while1};
use nom::character::complete::{anychar, char, multispace1};
use nom::combinator::{map, opt, recognize, value};
use nom::sequence::pair;
use nom::{IResult, Parser};

use crate::ast::Span;
use crate::diag::Diagnostic;

/// The words the parser gives a meaning to, outside types. None of them is reserved: the
/// lexer reads every word as [`Tok::Ident`], and a word means what its place says (a field
/// may be called `length`). Editor grammars (`editors/textmate/`) are checked against
/// this list.
#[rustfmt::skip]
pub const KEYWORDS: &[&str] = &[
    // Declarations.
    "protocol", "framing", "keywords", "nocase", "exact", "greeting", "client", "server",
    "both", "state", "initial",
    // Framings.
    "line", "max", "bare_lf", "crlf", "padding", "accept", "reject", "length", "offset",
    "adjust", "includes_header", "includes_length", "skip", "fixed",
    // Policies: events and actions.
    "on", "oversize", "unknown", "not_allowed", "invalid", "timeout", "close", "discard",
    "reply", "continue", "else",
    // Messages, parts and fields.
    "limit", "replies", "continues", "then", "ows", "nullable", "if", "until", "unstuff",
    // Transitions.
    "by", "message", "starttls",
];

/// The names of the field types (`bytes` takes `[LEN]`, `lines` takes `until "MARK"`).
#[rustfmt::skip]
pub const TYPE_NAMES: &[&str] = &[
    "word", "token", "rest", "quoted", "hex", "varint", "cstr", "bytes", "lines",
    "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
    "u1", "u2", "u3", "u4", "u5", "u6", "u7",
    "u8be", "u8le", "u16be", "u16le", "u32be", "u32le", "u64be", "u64le",
    "i8be", "i8le", "i16be", "i16le", "i32be", "i32le", "i64be", "i64le",
];

/// A token of the description language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A name or keyword.
    Ident(String),
    /// A string literal, unescaped.
    Str(Vec<u8>),
    /// A number: its value, and for `0x` literals the number of hex digits.
    Num {
        /// The value, with any size suffix applied.
        value: u64,
        /// `Some(digits)` for `0x` literals.
        hex_digits: Option<usize>,
    },
    /// A `0b` literal: bits, as many as its digits (`0b0011` is 4 bits of value 3).
    Bits {
        /// The value.
        value: u64,
        /// The number of binary digits (1 to 64).
        width: u8,
    },
    /// A `///` comment line, without the slashes and one leading space.
    Doc(String),
    /// Punctuation: `->`, `==`, `!=`, `<=`, `>=`, `<`, `>`, `=`, `:`, `?`, `+`, `*`, `|`,
    /// `~`, `(`, `)`, `{`, `}`, `[`, `]`, `-`, `,`, `;`.
    Punct(&'static str),
}

impl Tok {
    /// How the token is named in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(_) => "a string".to_string(),
            Tok::Num { .. } => "a number".to_string(),
            Tok::Bits { .. } => "a bit literal".to_string(),
            Tok::Doc(_) => "a doc comment".to_string(),
            Tok::Punct(p) => format!("`{p}`"),
        }
    }
}

/// A token and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its bytes in the source.
    pub span: Span,
}

type Res<'a, T> = IResult<&'a str, T>;

fn skip_trivia(mut i: &str) -> &str {
    loop {
        let before = i.len();
        if let Ok((rest, _)) = multispace1::<_, nom::error::Error<&str>>(i) {
            i = rest;
        }
        // `//` comments, but not `///` doc comments.
        if i.starts_with("//") && !i.starts_with("///") || i.starts_with("////") {
            let r: Res<'_, &str> = take_till(|c| c == '\n')(i);
            if let Ok((rest, _)) = r {
                i = rest;
            }
        }
        if i.len() == before {
            return i;
        }
    }
}

fn ident(i: &str) -> Res<'_, Tok> {
    map(
        recognize(pair(
            take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
            take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
        )),
        |s: &str| Tok::Ident(s.to_string()),
    )
    .parse(i)
}

fn doc(i: &str) -> Res<'_, Tok> {
    let (i, _) = tag("///")(i)?;
    let (i, text) = take_till(|c| c == '\n')(i)?;
    let text = text.strip_prefix(' ').unwrap_or(text);
    Ok((i, Tok::Doc(text.trim_end().to_string())))
}

fn punct(i: &str) -> Res<'_, Tok> {
    map(
        alt((
            alt((
                value("->", tag("->")),
                value("==", tag("==")),
                value("!=", tag("!=")),
                value("<=", tag("<=")),
                value(">=", tag(">=")),
                value("<", tag("<")),
                value(">", tag(">")),
                value("=", tag("=")),
                value(":", tag(":")),
                value("?", tag("?")),
                value("+", tag("+")),
            )),
            alt((
                value("*", tag("*")),
                value("|", tag("|")),
                value("~", tag("~")),
                value("(", tag("(")),
                value(")", tag(")")),
                value("{", tag("{")),
                value("}", tag("}")),
                value("[", tag("[")),
                value("]", tag("]")),
                value("-", tag("-")),
                value(",", tag(",")),
                value(";", tag(";")),
            )),
        )),
        Tok::Punct,
    )
    .parse(i)
}

/// A string literal's body, unescaped; errors are reported by the caller.
fn string(i: &str) -> Res<'_, Result<Vec<u8>, (usize, String)>> {
    let (mut rest, _) = char('"')(i)?;
    let mut out = Vec::new();
    loop {
        let (r, c) = anychar(rest)?;
        match c {
            '"' => return Ok((r, Ok(out))),
            '\\' => {
                let at = i.len() - rest.len();
                let (r2, e) = anychar(r)?;
                rest = r2;
                match e {
                    'n' => out.push(b'\n'),
                    'r' => out.push(b'\r'),
                    't' => out.push(b'\t'),
                    '0' => out.push(0),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    '\'' => out.push(b'\''),
                    'x' => {
                        let hex: Res<'_, &str> =
                            nom::bytes::complete::take_while_m_n(2, 2, |c: char| {
                                c.is_ascii_hexdigit()
                            })(rest);
                        match hex {
                            Ok((r3, h)) => {
                                rest = r3;
                                out.push(u8::from_str_radix(h, 16).unwrap_or(0));
                            }
                            Err(_) => {
                                return Ok((
                                    rest,
                                    Err((at, "`\\x` takes two hex digits".to_string())),
                                ))
                            }
                        }
                    }
                    other => {
                        return Ok((
                            rest,
                            Err((at, format!("unknown escape `\\{other}` in a string"))),
                        ))
                    }
                }
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                rest = r;
            }
        }
    }
}

fn number(i: &str) -> Res<'_, Result<Tok, String>> {
    if let Ok((r, _)) = tag::<_, _, nom::error::Error<&str>>("0b")(i) {
        let (r, digits) = take_while1(|c: char| c == '0' || c == '1' || c == '_')(r)?;
        let clean: String = digits.chars().filter(|c| *c != '_').collect();
        if clean.is_empty() || clean.len() > 64 {
            return Ok((
                r,
                Err("a bit literal has 1 to 64 binary digits".to_string()),
            ));
        }
        let v = u64::from_str_radix(&clean, 2).map_err(|e| e.to_string());
        return Ok((
            r,
            v.map(|value| Tok::Bits {
                value,
                width: clean.len() as u8,
            }),
        ));
    }
    if let Ok((r, _)) = tag::<_, _, nom::error::Error<&str>>("0x")(i) {
        let (r, digits) = take_while1(|c: char| c.is_ascii_hexdigit() || c == '_')(r)?;
        let clean: String = digits.chars().filter(|c| *c != '_').collect();
        let v = u64::from_str_radix(&clean, 16).map_err(|e| e.to_string());
        return Ok((
            r,
            v.map(|value| Tok::Num {
                value,
                hex_digits: Some(clean.len()),
            }),
        ));
    }
    let (r, digits) = take_while1(|c: char| c.is_ascii_digit() || c == '_')(i)?;
    let (r, suffix) = opt(take_while1(|c: char| c.is_ascii_alphabetic())).parse(r)?;
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let base = match clean.parse::<u64>() {
        Ok(v) => v,
        Err(_) => return Ok((r, Err(format!("number `{digits}` is too large")))),
    };
    let mult: u64 = match suffix {
        None => 1,
        Some("KiB") | Some("K") => 1 << 10,
        Some("MiB") | Some("M") => 1 << 20,
        Some("GiB") | Some("G") => 1 << 30,
        Some(s) => {
            return Ok((
                r,
                Err(format!(
                    "unknown size suffix `{s}`; use KiB, MiB or GiB (or K, M, G)"
                )),
            ))
        }
    };
    Ok((
        r,
        base.checked_mul(mult)
            .map(|value| Tok::Num {
                value,
                hex_digits: None,
            })
            .ok_or_else(|| format!("number `{digits}{}` is too large", suffix.unwrap_or(""))),
    ))
}

/// Cuts `src` into tokens; the first bad character or literal is an error.
///
/// ```
/// use asyncore_protocol::lex::{lex, Tok};
/// let toks = lex("max 4KiB \"\\r\\n\"").unwrap();
/// assert_eq!(toks[1].tok, Tok::Num { value: 4096, hex_digits: None });
/// assert_eq!(toks[2].tok, Tok::Str(b"\r\n".to_vec()));
/// ```
pub fn lex(src: &str) -> Result<Vec<Token>, Diagnostic> {
    let mut out = Vec::new();
    let mut i = src;
    loop {
        i = skip_trivia(i);
        if i.is_empty() {
            return Ok(out);
        }
        let start = src.len() - i.len();
        let c = i.chars().next().unwrap_or(' ');
        let (rest, tok) = if c == '"' {
            match string(i) {
                Ok((rest, Ok(bytes))) => (rest, Tok::Str(bytes)),
                Ok((_, Err((at, msg)))) => {
                    return Err(Diagnostic::new(
                        msg,
                        Span {
                            start: start + at,
                            end: start + at + 2,
                        },
                    ))
                }
                Err(_) => {
                    return Err(Diagnostic::new(
                        "unterminated string",
                        Span {
                            start,
                            end: start + 1,
                        },
                    )
                    .help("close the string with `\"`"))
                }
            }
        } else if c.is_ascii_digit() {
            match number(i) {
                Ok((rest, Ok(tok))) => (rest, tok),
                Ok((rest, Err(msg))) => {
                    return Err(Diagnostic::new(
                        msg,
                        Span {
                            start,
                            end: src.len() - rest.len(),
                        },
                    ))
                }
                Err(_) => {
                    return Err(Diagnostic::new(
                        "bad number",
                        Span {
                            start,
                            end: start + 1,
                        },
                    ))
                }
            }
        } else if let Ok((rest, tok)) = doc(i) {
            (rest, tok)
        } else if let Ok((rest, tok)) = ident(i) {
            (rest, tok)
        } else if let Ok((rest, tok)) = punct(i) {
            (rest, tok)
        } else {
            return Err(Diagnostic::new(
                format!("unexpected character `{c}`"),
                Span {
                    start,
                    end: start + c.len_utf8(),
                },
            ));
        };
        out.push(Token {
            tok,
            span: Span {
                start,
                end: src.len() - rest.len(),
            },
        });
        i = rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_spans() {
        let toks = lex("protocol x /// doc\n// c\nmax 64KiB \"\\r\\n\" 0x81 ->").unwrap();
        let kinds: Vec<Tok> = toks.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(
            kinds,
            [
                Tok::Ident("protocol".into()),
                Tok::Ident("x".into()),
                Tok::Doc("doc".into()),
                Tok::Ident("max".into()),
                Tok::Num {
                    value: 65536,
                    hex_digits: None
                },
                Tok::Str(b"\r\n".to_vec()),
                Tok::Num {
                    value: 0x81,
                    hex_digits: Some(2)
                },
                Tok::Punct("->"),
            ]
        );
        assert_eq!(toks[1].span, Span { start: 9, end: 10 });
    }

    #[test]
    fn bit_literals_and_comparisons() {
        let toks = lex("0b0011 0b1 qos > 0 x != 1 a >= 2 b == 0b_10").unwrap();
        let kinds: Vec<Tok> = toks.iter().map(|t| t.tok.clone()).collect();
        assert_eq!(kinds[0], Tok::Bits { value: 3, width: 4 });
        assert_eq!(kinds[1], Tok::Bits { value: 1, width: 1 });
        assert_eq!(kinds[3], Tok::Punct(">"));
        assert_eq!(kinds[6], Tok::Punct("!="));
        assert_eq!(kinds[9], Tok::Punct(">="));
        assert_eq!(kinds[12], Tok::Punct("=="));
        assert_eq!(kinds[13], Tok::Bits { value: 2, width: 2 });
        assert!(lex("0b").is_err());
    }

    #[test]
    fn errors() {
        assert!(lex("\"abc").unwrap_err().message.contains("unterminated"));
        assert!(lex("12XB").unwrap_err().message.contains("suffix"));
        assert!(lex("@")
            .unwrap_err()
            .message
            .contains("unexpected character"));
        assert!(lex("\"\\q\"").unwrap_err().message.contains("escape"));
    }
}
