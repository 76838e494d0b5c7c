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
//!
//! The engine in parts: the lexer and the parser make a query string a list of
//! [`Statement`]s; a [`Database`] runs them on its tables, resolving and evaluating their
//! values and conditions, converting constants to the types they meet, and sends the
//! results to an [`Output`].

mod ast;
mod convert;
mod database;
mod error;
mod eval;
mod lex;
mod output;
mod parse;
mod types;

#[cfg(test)]
mod tests;

pub use ast::{
    CmpOp, ColumnDef, Cond, Expr, Literal, Name, OrderItem, SelectItem, Statement, TypeName,
};
pub use convert::canonical_decimal;
pub use database::{Column, Database, Limits, Undo};
pub use error::{Notice, SqlError};
pub use output::{Collected, Output, ResultColumn};
pub use parse::parse;
pub use types::{SqlType, Value};
