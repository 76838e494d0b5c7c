//! The statements on rows: `INSERT ... VALUES`, `SELECT` (its list, `FROM`, `ORDER BY`,
//! `LIMIT` and `OFFSET`) and `DELETE`.

use super::{Parser, RESERVED};
use crate::pg_server::sql::ast::{Expr, Literal, Name, OrderItem, SelectItem, Statement};
use crate::pg_server::sql::error::SqlError;
use crate::pg_server::sql::lex::Tok;

impl Parser<'_> {
    pub(super) fn insert(&mut self) -> Result<Statement, SqlError> {
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

    pub(super) fn select(&mut self) -> Result<Statement, SqlError> {
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

    pub(super) fn delete(&mut self) -> Result<Statement, SqlError> {
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
}
