//! The statements that write rows: `INSERT` and `DELETE`.

use super::{row_cost, row_size, undefined_table, Change, Database, Row, Undo};
use crate::pg_server::sql::ast::{Cond, Expr, Name};
use crate::pg_server::sql::convert::{coerce, Target};
use crate::pg_server::sql::error::SqlError;
use crate::pg_server::sql::eval::{Pred, Scope};
use crate::pg_server::sql::types::Value;

impl Database {
    pub(super) fn insert(
        &mut self,
        name: &Name,
        names: Option<&[Name]>,
        rows: &[(Vec<Expr>, usize)],
        undo: &mut Undo,
    ) -> Result<String, SqlError> {
        // PostgreSQL checks the VALUES lists before it looks at the table.
        let width = rows.first().map_or(0, |(r, _)| r.len());
        if let Some((_, at)) = rows.iter().find(|(r, _)| r.len() != width) {
            return Err(SqlError::new("42601", "VALUES lists must all be the same length").at(*at));
        }
        let limits = self.limits;
        let table = self
            .tables
            .get(&name.text)
            .ok_or_else(|| undefined_table(name))?;
        let targets: Vec<usize> = match names {
            Some(names) => {
                let mut idx: Vec<usize> = Vec::new();
                for n in names {
                    let Some(i) = table.columns.iter().position(|c| c.name == n.text) else {
                        return Err(SqlError::new(
                            "42703",
                            format!(
                                "column \"{}\" of relation \"{}\" does not exist",
                                n.text, name.text
                            ),
                        )
                        .at(n.at));
                    };
                    if idx.contains(&i) {
                        return Err(SqlError::new(
                            "42701",
                            format!("column \"{}\" specified more than once", n.text),
                        )
                        .at(n.at));
                    }
                    idx.push(i);
                }
                if width < idx.len() {
                    return Err(SqlError::new(
                        "42601",
                        "INSERT has more target columns than expressions",
                    )
                    .at(names[width].at));
                }
                idx
            }
            None => (0..table.columns.len()).collect(),
        };
        if width > targets.len() {
            let at = rows[0].0[targets.len()].at();
            return Err(
                SqlError::new("42601", "INSERT has more expressions than target columns").at(at),
            );
        }
        let mut new_rows: Vec<Box<[Value]>> = Vec::with_capacity(rows.len());
        let mut cost = 0usize;
        for (exprs, _) in rows {
            let mut values: Vec<Value> = vec![None; table.columns.len()];
            for (expr, &col) in exprs.iter().zip(&targets) {
                let column = &table.columns[col];
                let value = match expr {
                    Expr::Lit(lit, at) => {
                        coerce(lit, *at, column.ty, Target::Column(&column.name))?
                    }
                    Expr::Column(q, n) => {
                        return Err(SqlError::new(
                            "42703",
                            match q {
                                Some(q) => format!("column {}.{} does not exist", q.text, n.text),
                                None => format!("column \"{}\" does not exist", n.text),
                            },
                        )
                        .at(expr.at()))
                    }
                };
                if let Some(v) = &value {
                    if v.len() > limits.max_value {
                        return Err(SqlError::new(
                            "53400",
                            format!(
                                "value of {} bytes is over this server's limit of {} bytes",
                                v.len(),
                                limits.max_value
                            ),
                        ));
                    }
                }
                values[col] = value;
            }
            if let Some(i) = table
                .columns
                .iter()
                .zip(&values)
                .position(|(c, v)| c.not_null && v.is_none())
            {
                let shown: Vec<&str> = values
                    .iter()
                    .map(|v| v.as_deref().unwrap_or("null"))
                    .collect();
                return Err(SqlError::new(
                    "23502",
                    format!(
                        "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                        table.columns[i].name, name.text
                    ),
                )
                .detail(format!("Failing row contains ({}).", shown.join(", "))));
            }
            let size = row_size(&values);
            if size > limits.max_row {
                return Err(SqlError::new(
                    "53400",
                    format!(
                        "row of {size} bytes is over this server's limit of {} bytes",
                        limits.max_row
                    ),
                ));
            }
            cost += row_cost(&values);
            new_rows.push(values.into_boxed_slice());
        }
        if table.rows.len() + new_rows.len() > limits.max_rows {
            return Err(SqlError::new(
                "53400",
                format!(
                    "too many rows in table \"{}\": this server holds at most {} per table",
                    name.text, limits.max_rows
                ),
            ));
        }
        self.full(cost)?;
        let n = new_rows.len() as u64;
        let first = self.next_row;
        self.next_row += n;
        let table = self
            .tables
            .get_mut(&name.text)
            .ok_or_else(|| undefined_table(name))?;
        table
            .rows
            .extend(new_rows.into_iter().enumerate().map(|(i, values)| Row {
                id: first + i as u64,
                values,
            }));
        table.bytes += cost;
        self.bytes += cost;
        undo.changes.push(Change::Insert(table.oid, first, n));
        Ok(format!("INSERT 0 {n}"))
    }

    pub(super) fn delete(
        &mut self,
        (name, alias): &(Name, Option<Name>),
        filter: Option<&(Cond, usize)>,
        undo: &mut Undo,
    ) -> Result<String, SqlError> {
        let table = self
            .tables
            .get_mut(&name.text)
            .ok_or_else(|| undefined_table(name))?;
        let pred = match filter {
            Some((c, _)) => {
                let scope = Scope {
                    names: vec![alias
                        .as_ref()
                        .map_or(name.text.as_str(), |a| a.text.as_str())],
                    columns: &table.columns,
                };
                Some(Pred::resolve(Some(&scope), c)?)
            }
            None => None,
        };
        let mut removed = Vec::new();
        table.rows.retain(|r| {
            if pred
                .as_ref()
                .is_none_or(|p| p.eval(&r.values) == Some(true))
            {
                removed.push(r.clone());
                false
            } else {
                true
            }
        });
        let n = removed.len();
        let cost: usize = removed.iter().map(|r| row_cost(&r.values)).sum();
        table.bytes -= cost;
        // The rows count until the transaction ends.
        undo.held += cost;
        if n > 0 {
            undo.changes.push(Change::Delete(table.oid, removed));
        }
        Ok(format!("DELETE {n}"))
    }
}
