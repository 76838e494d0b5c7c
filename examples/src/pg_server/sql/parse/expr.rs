//! Values (constants and columns) and `WHERE` conditions.

use super::Parser;
use crate::pg_server::sql::ast::{CmpOp, Cond, Expr, Literal};
use crate::pg_server::sql::error::SqlError;
use crate::pg_server::sql::lex::Tok;

impl Parser<'_> {
    /// A constant or a column.
    pub(super) fn expr(&mut self) -> Result<Expr, SqlError> {
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

    pub(super) fn filter(&mut self) -> Result<Option<(Cond, usize)>, SqlError> {
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
