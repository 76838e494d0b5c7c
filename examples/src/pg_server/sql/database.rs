//! The tables of a server, their bounds, and the undo log of a transaction. The
//! statements run in the submodules: table definitions, rows written, rows read.

mod rows;
mod select;
mod tables;

use std::collections::BTreeMap;

use super::ast::{Name, Statement};
use super::error::SqlError;
use super::output::Output;
use super::types::{SqlType, Value};

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

/// PostgreSQL's error for a table `name` that does not exist.
fn undefined_table(name: &Name) -> SqlError {
    SqlError::new(
        "42P01",
        format!("relation \"{}\" does not exist", name.text),
    )
    .at(name.at)
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
    /// [`Session`](crate::pg_server::session::Session) runs): its notices and rows go to
    /// `out`, its changes are noted in `undo`, and it returns the command tag
    /// (`INSERT 0 2`). A statement that fails changes nothing.
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
