//! `CREATE TABLE` and `DROP TABLE`: column definitions, type names and the
//! constraints this server refuses.

use super::Parser;
use crate::pg_server::sql::ast::{ColumnDef, Name, Statement, TypeName};
use crate::pg_server::sql::error::SqlError;
use crate::pg_server::sql::lex::{syntax_error, Tok};
use crate::pg_server::sql::types::SqlType;

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

impl Parser<'_> {
    pub(super) fn create_table(&mut self) -> Result<Statement, SqlError> {
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

    pub(super) fn drop_table(&mut self) -> Result<Statement, SqlError> {
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
}
