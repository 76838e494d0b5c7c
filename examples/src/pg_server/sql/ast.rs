//! The statement tree the parser makes of a query string: statements, names, constants,
//! values and conditions as written, with where they were written.

use std::cmp::Ordering;

use super::types::SqlType;

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
    /// Where the expression starts in the query string.
    pub(super) fn at(&self) -> usize {
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
    /// The operator as PostgreSQL names it in messages.
    pub(super) fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether the operator holds between two values that compare as `o`.
    pub(super) fn holds(self, o: Ordering) -> bool {
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
