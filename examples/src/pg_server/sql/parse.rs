//! The parser: tokens into statements. This module has the entry point, the token
//! helpers and the choice of statement; the grammar of table definitions, of the
//! statements on rows, and of values and conditions is in its submodules.

mod expr;
mod query;
mod table;

use super::ast::{Name, Statement};
use super::error::SqlError;
use super::lex::{lex, syntax_error, Tok, Token};

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

/// A query string's tokens, and the next one to read.
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
}
