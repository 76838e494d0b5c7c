//! `CREATE TABLE` and `DROP TABLE`.

use super::{Change, Column, Database, Table, Undo};
use crate::pg_server::sql::ast::{ColumnDef, Name, TypeName};
use crate::pg_server::sql::error::{Notice, SqlError};
use crate::pg_server::sql::output::Output;

impl Database {
    pub(super) fn create_table(
        &mut self,
        name: &Name,
        if_not_exists: bool,
        defs: &[ColumnDef],
        undo: &mut Undo,
        out: &mut dyn Output,
    ) -> Result<String, SqlError> {
        let mut columns: Vec<Column> = Vec::with_capacity(defs.len());
        for def in defs {
            if let Some((what, at)) = &def.unsupported {
                return Err(SqlError::new(
                    "0A000",
                    format!("{what} constraints are not supported by this server"),
                )
                .at(*at));
            }
            let ty = match &def.ty {
                TypeName::Known(ty) => *ty,
                TypeName::Unknown(t, at) => {
                    return Err(
                        SqlError::new("42704", format!("type \"{t}\" does not exist")).at(*at),
                    )
                }
                TypeName::Unsupported(t, at) => {
                    return Err(SqlError::new(
                        "0A000",
                        format!("type {t} is not supported by this server"),
                    )
                    .at(*at))
                }
                TypeName::BadLength(t, at) => {
                    return Err(SqlError::new(
                        "22023",
                        format!("length for type {t} must be between 1 and 10485760"),
                    )
                    .at(*at))
                }
            };
            if columns.iter().any(|c| c.name == def.name.text) {
                return Err(SqlError::new(
                    "42701",
                    format!("column \"{}\" specified more than once", def.name.text),
                ));
            }
            columns.push(Column {
                name: def.name.text.clone(),
                ty,
                not_null: def.not_null,
            });
        }
        if self.tables.contains_key(&name.text) {
            if if_not_exists {
                out.notice(&Notice {
                    severity: "NOTICE",
                    code: "42P07",
                    message: format!("relation \"{}\" already exists, skipping", name.text),
                });
                return Ok("CREATE TABLE".into());
            }
            return Err(SqlError::new(
                "42P07",
                format!("relation \"{}\" already exists", name.text),
            ));
        }
        if columns.len() > self.limits.max_columns {
            return Err(SqlError::new(
                "54011",
                format!(
                    "tables can have at most {} columns",
                    self.limits.max_columns
                ),
            ));
        }
        if self.tables.len() >= self.limits.max_tables {
            return Err(SqlError::new(
                "53400",
                format!(
                    "too many tables: this server holds at most {}",
                    self.limits.max_tables
                ),
            ));
        }
        let cost = 64 + name.text.len() + columns.iter().map(|c| 16 + c.name.len()).sum::<usize>();
        self.full(cost)?;
        let oid = self.next_oid;
        self.next_oid = self.next_oid.wrapping_add(1).max(16384);
        self.bytes += cost;
        self.tables.insert(
            name.text.clone(),
            Table {
                oid,
                columns,
                rows: Vec::new(),
                bytes: cost,
            },
        );
        undo.changes.push(Change::Create(oid));
        Ok("CREATE TABLE".into())
    }

    pub(super) fn drop_tables(
        &mut self,
        names: &[Name],
        if_exists: bool,
        undo: &mut Undo,
        out: &mut dyn Output,
    ) -> Result<String, SqlError> {
        let mut present = Vec::new();
        for name in names {
            if self.tables.contains_key(&name.text) {
                if !present.contains(&name.text) {
                    present.push(name.text.clone());
                }
            } else if if_exists {
                out.notice(&Notice {
                    severity: "NOTICE",
                    code: "00000",
                    message: format!("table \"{}\" does not exist, skipping", name.text),
                });
            } else {
                return Err(SqlError::new(
                    "42P01",
                    format!("table \"{}\" does not exist", name.text),
                ));
            }
        }
        for name in present {
            if let Some(table) = self.tables.remove(&name) {
                undo.held += table.bytes;
                undo.changes.push(Change::Drop(name, table));
            }
        }
        Ok("DROP TABLE".into())
    }
}
