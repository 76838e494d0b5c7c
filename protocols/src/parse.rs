//! The parser: tokens to the syntax tree, by recursive descent with "expected ..., found ..."
//! errors at the offending token.

use crate::ast::*;
use crate::diag::Diagnostic;
use crate::lex::{lex, Tok, Token};

mod field;

/// Parses a description into its syntax tree; the first syntax error is returned.
///
/// ```
/// let d = asyncore_protocol::parse::parse("protocol p framing line \"\\n\" max 1KiB client A = \"a\" n:u8").unwrap();
/// assert_eq!(d.messages[0].name.name, "A");
/// let e = asyncore_protocol::parse::parse("protocol p client A \"a\"").unwrap_err();
/// assert_eq!(e.message, "expected `=`, found a string");
/// ```
pub fn parse(src: &str) -> Result<Description, Diagnostic> {
    let toks = lex(src)?;
    let end = Span {
        start: src.len(),
        end: src.len(),
    };
    let mut p = Parser { toks, pos: 0, end };
    p.description()
}

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    end: Span,
}

type R<T> = Result<T, Diagnostic>;

const TYPES: &str = "word, token, rest, quoted*, u8..u64, usize, i8..i64, hex, u16be..u64le, u1..u7, varint, cstr, bytes[LEN], bytes[u16be], lines until \"MARK\", or a group `( ... )`";

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|t| &t.tok)
    }
    fn span(&self) -> Span {
        self.toks.get(self.pos).map_or(self.end, |t| t.span)
    }
    fn prev_span(&self) -> Span {
        self.pos
            .checked_sub(1)
            .and_then(|i| self.toks.get(i))
            .map_or(self.end, |t| t.span)
    }
    fn found(&self) -> String {
        self.peek()
            .map_or("the end of the description".into(), Tok::describe)
    }
    fn err<T>(&self, expected: &str) -> R<T> {
        Err(Diagnostic::new(
            format!("expected {expected}, found {}", self.found()),
            self.span(),
        ))
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == kw)
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, kw: &str) -> R<Span> {
        if self.eat_kw(kw) {
            Ok(self.prev_span())
        } else {
            self.err(&format!("`{kw}`"))
        }
    }
    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Some(Tok::Punct(q)) if *q == p)
    }
    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_punct(&mut self, p: &str) -> R<Span> {
        if self.eat_punct(p) {
            Ok(self.prev_span())
        } else {
            self.err(&format!("`{p}`"))
        }
    }
    fn ident(&mut self, what: &str) -> R<Ident> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let id = Ident {
                    name: s.clone(),
                    span: self.span(),
                };
                self.pos += 1;
                Ok(id)
            }
            _ => self.err(what),
        }
    }
    fn string(&mut self, what: &str) -> R<Vec<u8>> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => self.err(what),
        }
    }
    fn number(&mut self, what: &str) -> R<(u64, Span)> {
        match self.peek() {
            Some(Tok::Num { value, .. }) => {
                let v = *value;
                self.pos += 1;
                Ok((v, self.prev_span()))
            }
            _ => self.err(what),
        }
    }
    /// Whether the next token is a literal: a string or hex bytes.
    fn is_literal(&self) -> bool {
        matches!(
            self.peek(),
            Some(Tok::Str(_))
                | Some(Tok::Num {
                    hex_digits: Some(_),
                    ..
                })
        )
    }
    /// A string or hex bytes (`0x4e`), as bytes.
    fn literal(&mut self) -> R<Vec<u8>> {
        match self.peek() {
            Some(Tok::Num {
                value,
                hex_digits: Some(digits),
            }) => {
                let n = digits.div_ceil(2).min(8);
                let b = value.to_be_bytes()[8 - n..].to_vec();
                self.pos += 1;
                Ok(b)
            }
            _ => self.string("a string or hex bytes like 0x4e"),
        }
    }
    fn docs(&mut self) -> Vec<String> {
        let mut docs = Vec::new();
        while let Some(Tok::Doc(d)) = self.peek() {
            docs.push(d.clone());
            self.pos += 1;
        }
        docs
    }

    fn description(&mut self) -> R<Description> {
        let docs = self.docs();
        self.expect_kw("protocol")?;
        let name = self.ident("the protocol's name")?;
        let mut d = Description {
            docs,
            name,
            framing: None,
            framings: Vec::new(),
            nocase: false,
            policies: Vec::new(),
            greeting: None,
            messages: Vec::new(),
            states: Vec::new(),
        };
        loop {
            let docs = self.docs();
            let start = self.span();
            if self.peek().is_none() {
                return Ok(d);
            }
            if self.is_kw("framing")
                && matches!(self.peek_at(1), Some(Tok::Ident(_)))
                && matches!(self.peek_at(2), Some(Tok::Punct("=")))
            {
                self.pos += 1;
                let name = self.ident("the framing's name")?;
                self.expect_punct("=")?;
                let decl = self.framing()?;
                d.framings.push(NamedFraming {
                    docs,
                    name,
                    decl,
                    span: start.to(self.prev_span()),
                });
            } else if self.eat_kw("framing") {
                let f = self.framing()?;
                if d.framing.is_some() {
                    return Err(Diagnostic::new("a second `framing`", start).help(
                        "a protocol has one framing; name the others (`framing startup = ...`) for the messages that use them",
                    ));
                }
                d.framing = Some((f, start.to(self.prev_span())));
            } else if self.eat_kw("keywords") {
                if self.eat_kw("nocase") {
                    d.nocase = true;
                } else if !self.eat_kw("exact") {
                    return self.err("`nocase` or `exact`");
                }
            } else if self.is_kw("on") {
                d.policies.push(self.policy()?);
            } else if self.eat_kw("greeting") {
                if d.greeting.is_some() {
                    return Err(Diagnostic::new("a second `greeting`", start));
                }
                d.greeting = Some(self.replies(start)?);
            } else if self.is_kw("client") || self.is_kw("server") || self.is_kw("both") {
                d.messages.push(self.message(docs)?);
            } else if self.eat_kw("state") {
                d.states.push(self.state(docs, start)?);
            } else {
                return self.err(
                    "`framing`, `keywords`, `on`, `greeting`, `client`, `server`, `both` or `state`",
                );
            }
        }
    }

    fn framing(&mut self) -> R<FramingDecl> {
        if self.eat_kw("line") {
            let term = self.string("the line terminator, as a string like \"\\r\\n\"")?;
            self.expect_kw("max")?;
            let max = self.number("the longest line in bytes, like 4KiB")?;
            let (mut bare_lf, mut crlf, mut padding) = (false, false, false);
            loop {
                if self.eat_kw("bare_lf") {
                    if self.eat_kw("accept") {
                        bare_lf = true;
                    } else if !self.eat_kw("reject") {
                        return self.err("`accept` or `reject`");
                    }
                } else if self.eat_kw("crlf") {
                    if self.eat_kw("accept") {
                        crlf = true;
                    } else if !self.eat_kw("reject") {
                        return self.err("`accept` or `reject`");
                    }
                } else if self.eat_kw("padding") {
                    if self.eat_kw("accept") {
                        padding = true;
                    } else if !self.eat_kw("reject") {
                        return self.err("`accept` or `reject`");
                    }
                } else {
                    break;
                }
            }
            Ok(FramingDecl::Line {
                term,
                max,
                bare_lf,
                crlf,
                padding,
            })
        } else if self.eat_kw("length") {
            let ty = self.ident("the length field's type, like u32be or varint")?;
            let (width, big_endian) = match ty.name.as_str() {
                "u8" => (1, true),
                "u16be" => (2, true),
                "u16le" => (2, false),
                "u32be" => (4, true),
                "u32le" => (4, false),
                "u64be" => (8, true),
                "u64le" => (8, false),
                "varint" => (0, false),
                _ => {
                    return Err(Diagnostic::new(
                        format!("`{}` is not a length field type", ty.name),
                        ty.span,
                    )
                    .help("use u8, u16be, u16le, u32be, u32le, u64be, u64le or varint"))
                }
            };
            self.expect_kw("max")?;
            let max = self.number("the longest frame body in bytes, like 1MiB")?;
            let (mut offset, mut adjust, mut includes_header, mut skip) = (0, 0i64, false, None);
            let mut includes_length = false;
            loop {
                if self.eat_kw("offset") {
                    offset = self.number("a byte count")?.0;
                } else if self.eat_kw("adjust") {
                    let neg = self.eat_punct("-");
                    let (v, span) = self.number("a byte count")?;
                    let v = i64::try_from(v)
                        .map_err(|_| Diagnostic::new("adjustment too large", span))?;
                    adjust = if neg { -v } else { v };
                } else if self.eat_kw("includes_header") {
                    includes_header = true;
                } else if self.eat_kw("includes_length") {
                    includes_length = true;
                } else if self.eat_kw("skip") {
                    skip = Some(self.number("a byte count")?);
                } else {
                    break;
                }
            }
            Ok(FramingDecl::Length {
                width,
                big_endian,
                ty,
                max,
                offset,
                adjust,
                includes_header,
                includes_length,
                skip,
            })
        } else if self.eat_kw("fixed") {
            let size = self.number("the size of each unit in bytes, like 1")?;
            Ok(FramingDecl::Fixed { size })
        } else {
            self.err("`line`, `length` or `fixed`")
        }
    }

    fn policy(&mut self) -> R<Policy> {
        let start = self.expect_kw("on")?;
        let event = match self
            .ident("`oversize`, `unknown`, `not_allowed`, `invalid` or `timeout`")?
        {
            id if id.name == "oversize" => Event::Oversize,
            id if id.name == "unknown" => Event::Unknown,
            id if id.name == "not_allowed" => Event::NotAllowed,
            id if id.name == "invalid" => Event::Invalid,
            id if id.name == "timeout" => Event::Timeout,
            id => {
                return Err(
                    Diagnostic::new(format!("unknown event `{}`", id.name), id.span)
                        .help("the events are oversize, unknown, not_allowed, invalid and timeout"),
                )
            }
        };
        let action = self.action()?;
        Ok(Policy {
            event,
            action,
            span: start.to(self.prev_span()),
        })
    }

    /// `close`, `discard` or `reply "TEXT" [close | continue]`.
    fn action(&mut self) -> R<Action> {
        Ok(if self.eat_kw("close") {
            Action::Close
        } else if self.eat_kw("discard") {
            Action::Discard
        } else if self.eat_kw("reply") {
            let text = self.string("the reply, as a string")?;
            let close = self.eat_kw("close");
            if !close {
                self.eat_kw("continue");
            }
            Action::Reply { text, close }
        } else {
            return self.err("`close`, `discard` or `reply \"...\"`");
        })
    }

    fn message(&mut self, docs: Vec<String>) -> R<MessageDecl> {
        let start = self.span();
        let dir = match self.ident("`client`, `server` or `both`")?.name.as_str() {
            "client" => Dir::Client,
            "server" => Dir::Server,
            _ => Dir::Both,
        };
        let name = self.ident("the message's name")?;
        let mut params = Vec::new();
        if self.eat_punct("(") {
            loop {
                params.push(self.ident("a parameter name")?);
                if self.eat_punct(")") {
                    break;
                }
                if !self.eat_punct(",") {
                    return self.err("`,` or `)`");
                }
            }
        }
        let framing = if self.eat_kw("framing") {
            Some(self.ident("the name of a framing declared with `framing NAME = ...`")?)
        } else {
            None
        };
        self.expect_punct("=")?;
        let units = self.units(&[])?;
        let limit = if self.eat_kw("limit") {
            Some(self.number("the most bytes the message may span, like 512MiB")?)
        } else {
            None
        };
        let replies = if self.is_kw("replies") {
            let start = self.span();
            self.pos += 1;
            Some(self.replies(start)?)
        } else {
            None
        };
        let continues = if self.eat_kw("continues") {
            Some(self.cond()?)
        } else {
            None
        };
        let mut policies = Vec::new();
        while self.is_kw("on") {
            policies.push(self.policy()?);
        }
        Ok(MessageDecl {
            docs,
            dir,
            name,
            params,
            framing,
            units,
            policies,
            limit,
            replies,
            continues,
            span: start.to(self.prev_span()),
        })
    }

    /// `NAME ( | NAME )*` after `replies` or `greeting`.
    fn replies(&mut self, start: Span) -> R<Replies> {
        let mut names = vec![self.ident("the name of a server message")?];
        while self.eat_punct("|") {
            names.push(self.ident("the name of a server message")?);
        }
        Ok(Replies {
            names,
            span: start.to(self.prev_span()),
        })
    }

    /// Units separated by `then`, up to a token that cannot start a part.
    fn units(&mut self, stop: &[&str]) -> R<Vec<Unit>> {
        let mut units = vec![self.unit(stop)?];
        while self.eat_kw("then") {
            units.push(self.unit(stop)?);
        }
        Ok(units)
    }

    fn starts_part(&self) -> bool {
        let mut n = 0;
        while let Some(Tok::Doc(_)) = self.peek_at(n) {
            n += 1;
        }
        match self.peek_at(n) {
            Some(Tok::Str(_)) | Some(Tok::Num { .. }) | Some(Tok::Bits { .. }) => true,
            Some(Tok::Punct(p)) => *p == "~",
            Some(Tok::Ident(s)) => {
                s == "ows" || matches!(self.peek_at(n + 1), Some(Tok::Punct(":")))
            }
            _ => false,
        }
    }

    fn unit(&mut self, stop: &[&str]) -> R<Unit> {
        let start = self.span();
        let mut parts = Vec::new();
        // `""` alone is the empty line: the literal that matches nothing, and nothing
        // else on its line.
        if matches!(self.peek(), Some(Tok::Str(s)) if s.is_empty()) {
            self.pos += 1;
            let alone = !self.starts_part() || stop.iter().any(|s| self.is_punct(s));
            self.pos -= 1;
            if alone {
                self.pos += 1;
                parts.push(Part {
                    kind: PartKind::Lit(Vec::new()),
                    span: start,
                    policies: Vec::new(),
                });
                return Ok(Unit { parts, span: start });
            }
        }
        while self.starts_part() && !stop.iter().any(|s| self.is_punct(s)) {
            parts.push(self.part()?);
        }
        if parts.is_empty() {
            return self.err(
                "a part: a string, `~`, `ows`, a byte like 0x01, bits like 0b0011, or NAME:TYPE",
            );
        }
        Ok(Unit {
            parts,
            span: start.to(self.prev_span()),
        })
    }

    fn part(&mut self) -> R<Part> {
        let start = self.span();
        let docs = self.docs();
        let kind = match self.peek().cloned() {
            Some(Tok::Str(s)) => {
                self.pos += 1;
                if s.is_empty() {
                    return Err(Diagnostic::new("an empty literal matches nothing", start)
                        .help("remove it, or write `\"\"` alone for an empty line"));
                }
                PartKind::Lit(s)
            }
            Some(Tok::Num {
                value,
                hex_digits: Some(digits),
            }) => {
                self.pos += 1;
                let n = digits.div_ceil(2);
                PartKind::Lit(value.to_be_bytes()[8 - n.min(8)..].to_vec())
            }
            Some(Tok::Bits { value, width }) => {
                self.pos += 1;
                PartKind::Bits { value, width }
            }
            Some(Tok::Num { .. }) => {
                return Err(Diagnostic::new("a decimal number is not a part", start)
                    .help("write a byte literal as 0x2A, or a text literal as \"42\""))
            }
            Some(Tok::Punct("~")) => {
                self.pos += 1;
                PartKind::Glue
            }
            Some(Tok::Ident(s)) if s == "ows" => {
                self.pos += 1;
                PartKind::Ows
            }
            _ => {
                let name = self.ident("a field name")?;
                self.expect_punct(":")?;
                PartKind::Field(Box::new(self.field(name, docs)?))
            }
        };
        let span = start.to(self.prev_span());
        let mut policies = Vec::new();
        while self.is_kw("else") {
            policies.push(self.else_clause()?);
        }
        Ok(Part {
            kind,
            span,
            policies,
        })
    }

    /// `else [oversize] ACTION` after a part.
    fn else_clause(&mut self) -> R<Policy> {
        let start = self.expect_kw("else")?;
        let event = if self.eat_kw("oversize") {
            Event::Oversize
        } else {
            Event::Invalid
        };
        let action = self.action()?;
        Ok(Policy {
            event,
            action,
            span: start.to(self.prev_span()),
        })
    }

    /// `on REPLY (, REPLY)*` after a target: the replies that lead to it.
    fn on_replies(&mut self) -> R<Vec<ReplyCase>> {
        let mut on = Vec::new();
        if self.eat_kw("on") {
            on.push(self.reply_case()?);
            // `on A, B`; a comma before `NAME ->` separates transitions instead.
            while self.is_punct(",")
                && matches!(self.peek_at(1), Some(Tok::Ident(_)))
                && !matches!(self.peek_at(2), Some(Tok::Punct("->")))
            {
                self.pos += 1;
                on.push(self.reply_case()?);
            }
        }
        Ok(on)
    }

    /// `starttls` after a target and its replies: the span of the keyword. A message
    /// named `starttls` that starts the next transition (`starttls -> ...`) is not it.
    fn starttls(&mut self) -> Option<Span> {
        if self.is_kw("starttls") && !matches!(self.peek_at(1), Some(Tok::Punct("->"))) {
            let span = self.span();
            self.eat_kw("starttls");
            Some(span)
        } else {
            None
        }
    }

    /// `REPLY [if FIELD CMP VALUE]`.
    fn reply_case(&mut self) -> R<ReplyCase> {
        let reply = self.ident("the name of a reply")?;
        let guard = if self.is_kw("if") {
            Some(self.cond()?)
        } else {
            None
        };
        Ok(ReplyCase { reply, guard })
    }

    fn state(&mut self, docs: Vec<String>, start: Span) -> R<StateDecl> {
        let name = self.ident("the state's name")?;
        let initial = if self.eat_kw("initial") {
            Some(self.prev_span())
        } else {
            None
        };
        self.expect_punct("{")?;
        let mut transitions = Vec::new();
        while !self.eat_punct("}") {
            if self.peek().is_none() {
                return self.err("`}`");
            }
            let message = self.ident("a message name or `}`")?;
            self.expect_punct("->")?;
            let mut targets = vec![self.ident("the next state or `close`")?];
            let mut on = vec![self.on_replies()?];
            let mut starttls = vec![self.starttls()];
            while self.eat_punct("|") {
                targets.push(self.ident("the next state or `close`")?);
                on.push(self.on_replies()?);
                starttls.push(self.starttls());
            }
            let by_message = if self.is_kw("by") {
                let start = self.span();
                self.eat_kw("by");
                self.expect_kw("message")?;
                Some(start.to(self.prev_span()))
            } else {
                None
            };
            self.eat_punct(",");
            self.eat_punct(";");
            transitions.push(Transition {
                message,
                targets,
                on,
                by_message,
                starttls,
            });
        }
        let mut policies = Vec::new();
        while self.is_kw("on") {
            policies.push(self.policy()?);
        }
        Ok(StateDecl {
            docs,
            name,
            initial,
            transitions,
            policies,
            span: start.to(self.prev_span()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_protocol() {
        let d = parse(
            r#"
            /// Echo.
            protocol echo
            framing line "\n" max 4KiB
            on oversize reply "ERR too long" close
            /// A line.
            client Line = text:rest
            server Echo = text:rest
            client Get = "get" keys:word+ flag:"noreply"? then data:bytes[n] max 1KiB "\r\n"
            state Ready initial { Line -> Ready  Get -> Ready | close }
            "#,
        )
        .unwrap();
        assert_eq!(d.name.name, "echo");
        assert_eq!(d.docs, ["Echo."]);
        assert_eq!(d.messages.len(), 3);
        assert_eq!(d.messages[2].units.len(), 2);
        assert_eq!(d.states[0].transitions[1].targets.len(), 2);
        assert!(d.states[0].initial.is_some());
        let PartKind::Field(f) = &d.messages[2].units[0].parts[2].kind else {
            panic!()
        };
        assert_eq!(f.ty, Type::Flag(b"noreply".to_vec()));
    }

    #[test]
    fn parses_parameters_and_choices_by_message() {
        let src = "protocol h framing line \"\\n\" max 1KiB
            client Head = \"H\" n:word
            client Body(length, count) = data:bytes[length] max 1KiB
            state A initial { Head -> A | B by message }
            state B { Body -> A }";
        let d = parse(src).unwrap();
        let names: Vec<&str> = d.messages[1]
            .params
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["length", "count"]);
        let t = &d.states[0].transitions[0];
        assert_eq!(t.targets.len(), 2);
        let span = t.by_message.expect("by message");
        assert_eq!(&src[span.start..span.end], "by message");
        assert!(d.states[1].transitions[0].by_message.is_none());
        let e = parse("protocol h client Body(length = data:rest").unwrap_err();
        assert_eq!(e.message, "expected `,` or `)`, found `=`");
    }

    /// The string literals of `src` that follow one of `after` (`eat_kw("`...).
    fn literals_after<'a>(src: &'a str, after: &[&str]) -> Vec<&'a str> {
        let mut out = Vec::new();
        for a in after {
            for (at, _) in src.match_indices(a) {
                let rest = &src[at + a.len()..];
                out.push(&rest[..rest.find('"').unwrap()]);
            }
        }
        out
    }

    /// `lex::KEYWORDS` and `lex::TYPE_NAMES` are the words the parser knows, so that what
    /// is checked against them (the editor grammar) knows them all.
    #[test]
    fn keyword_and_type_lists_match_the_parser() {
        use crate::lex::{KEYWORDS, TYPE_NAMES};
        // The parser's code, without these tests.
        let own = include_str!("parse.rs");
        let parser = [
            &own[..own.find("#[cfg(test)]").unwrap()],
            include_str!("parse/field.rs"),
        ]
        .concat();
        let used = literals_after(
            &parser,
            &[
                "is_kw(\"",
                "eat_kw(\"",
                "expect_kw(\"",
                "id.name == \"",
                "s == \"",
            ],
        );
        for kw in &used {
            assert!(
                KEYWORDS.contains(kw),
                "`{kw}` is missing from lex::KEYWORDS"
            );
        }
        for kw in KEYWORDS {
            assert!(
                used.contains(kw),
                "lex::KEYWORDS has `{kw}`, which the parser ignores"
            );
        }
        // The match arms of `ty` and of the length framing's type.
        let field = include_str!("parse/field.rs");
        let ty = &field[field.find("fn ty(").unwrap()..field.find("fn repetition(").unwrap()];
        let arms = ty
            .split('\n')
            .map(str::trim)
            .filter(|l| l.starts_with('"') && l.contains("=>"));
        for arm in arms {
            for name in arm[..arm.find("=>").unwrap()].split('|') {
                let name = name.trim().trim_matches('"');
                assert!(
                    TYPE_NAMES.contains(&name),
                    "`{name}` is missing from lex::TYPE_NAMES"
                );
            }
        }
        for t in TYPE_NAMES {
            let ty = match *t {
                "bytes" => "bytes[n]".to_string(),
                "lines" => "lines until \".\"".to_string(),
                t => t.to_string(),
            };
            let src = format!("protocol p framing line \"\\n\" max 1KiB client A = n:u8 x:{ty}");
            assert!(parse(&src).is_ok(), "`{t}` is not a type: {src}");
        }
    }

    #[test]
    fn parses_starttls_after_a_target() {
        let d = parse(
            r#"
            protocol p framing line "\r\n" max 100
            client Tls = "STARTTLS" replies Reply
            client starttls = "X" replies Reply
            server Reply = code:u16 ~ " " ~ text:rest
            state S initial {
                Tls -> T on Reply if code == 220 starttls | S on Reply if code != 220
                starttls -> S
            }
            state T { Tls -> S on Reply starttls }
            "#,
        )
        .unwrap();
        let t = &d.states[0].transitions[0];
        assert_eq!(t.starttls.len(), 2);
        let span = t.starttls[0].expect("starttls after the first target");
        assert_eq!(span.end - span.start, "starttls".len());
        assert!(t.starttls[1].is_none());
        // A message named `starttls` starts the next transition.
        let next = &d.states[0].transitions[1];
        assert_eq!(next.message.name, "starttls");
        assert_eq!(next.starttls, [None]);
        assert!(d.states[1].transitions[0].starttls[0].is_some());
    }

    #[test]
    fn errors_point_at_the_token() {
        let src = "protocol x\nclient A = \"a\"\nstate S initial { A = S }";
        let e = parse(src).unwrap_err();
        assert_eq!(e.message, "expected `->`, found `=`");
        assert_eq!(&src[e.span.start..e.span.start + 1], "=");
    }
}
