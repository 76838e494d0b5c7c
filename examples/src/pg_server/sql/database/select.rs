//! `SELECT`: the select list, the filter, `ORDER BY`, `OFFSET` and `LIMIT`.

use std::cmp::Ordering;

use super::{undefined_table, Database, Row};
use crate::pg_server::sql::ast::{Cond, Expr, Literal, Name, OrderItem, SelectItem};
use crate::pg_server::sql::error::SqlError;
use crate::pg_server::sql::eval::{Operand, Pred, Scope};
use crate::pg_server::sql::output::{Output, ResultColumn};
use crate::pg_server::sql::types::{cmp_values, Class, SqlType};

impl Database {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn select(
        &self,
        items: &[SelectItem],
        from: Option<&(Name, Option<Name>)>,
        filter: Option<&(Cond, usize)>,
        order: &[OrderItem],
        limit: Option<u64>,
        offset: u64,
        out: &mut dyn Output,
    ) -> Result<String, SqlError> {
        let table = match from {
            Some((name, _)) => Some(
                self.tables
                    .get(&name.text)
                    .ok_or_else(|| undefined_table(name))?,
            ),
            None => None,
        };
        let scope = match (from, table) {
            (Some((name, alias)), Some(t)) => Some(Scope {
                names: vec![alias
                    .as_ref()
                    .map_or(name.text.as_str(), |a| a.text.as_str())],
                columns: &t.columns,
            }),
            _ => None,
        };
        // The select list.
        let mut shown: Vec<(ResultColumn, Operand)> = Vec::new();
        for item in items {
            match item {
                SelectItem::Star(q, at) => {
                    let (Some(s), Some(t)) = (&scope, table) else {
                        return Err(match q {
                            Some(q) => SqlError::new(
                                "42P01",
                                format!("missing FROM-clause entry for table \"{}\"", q.text),
                            )
                            .at(q.at),
                            None => SqlError::new(
                                "42601",
                                "SELECT * with no tables specified is not valid",
                            )
                            .at(*at),
                        });
                    };
                    if let Some(q) = q {
                        if !s.names.contains(&q.text.as_str()) {
                            return Err(SqlError::new(
                                "42P01",
                                format!("missing FROM-clause entry for table \"{}\"", q.text),
                            )
                            .at(q.at));
                        }
                    }
                    for (i, c) in t.columns.iter().enumerate() {
                        shown.push((
                            ResultColumn {
                                name: c.name.clone(),
                                table: t.oid,
                                column: (i + 1) as i16,
                                ty: c.ty,
                            },
                            Operand::Column(i, c.ty),
                        ));
                    }
                }
                SelectItem::Expr(e, alias) => {
                    let o = Operand::resolve(scope.as_ref(), e)?;
                    let col = match (&o, e) {
                        (Operand::Column(i, ty), Expr::Column(_, n)) => ResultColumn {
                            name: alias.clone().unwrap_or_else(|| n.text.clone()),
                            table: table.map_or(0, |t| t.oid),
                            column: (*i + 1) as i16,
                            ty: *ty,
                        },
                        (Operand::Const(_, ty), _) => ResultColumn {
                            name: alias.clone().unwrap_or_else(|| "?column?".into()),
                            table: 0,
                            column: 0,
                            ty: ty.unwrap_or(SqlType::Text),
                        },
                        _ => unreachable!("a column operand comes from a column expression"),
                    };
                    shown.push((col, o));
                }
            }
        }
        let pred = match filter {
            Some((c, _)) => Some(Pred::resolve(scope.as_ref(), c)?),
            None => None,
        };
        // ORDER BY: a column of the table, or the number of a column of the list.
        let mut keys: Vec<(Operand, Class, bool, bool)> = Vec::new();
        for item in order {
            let operand = match &item.expr {
                Expr::Lit(Literal::Int(n), at) => {
                    let i = n
                        .parse::<usize>()
                        .ok()
                        .filter(|&i| i >= 1 && i <= shown.len());
                    let Some(i) = i else {
                        return Err(SqlError::new(
                            "42P10",
                            format!("ORDER BY position {n} is not in select list"),
                        )
                        .at(*at));
                    };
                    shown[i - 1].1.clone()
                }
                Expr::Lit(..) => {
                    return Err(SqlError::new(
                        "0A000",
                        "ORDER BY takes a column or its number on this server",
                    )
                    .at(item.expr.at()))
                }
                Expr::Column(q, n) => {
                    // An output column's name first, as PostgreSQL does.
                    let named = if q.is_none() {
                        shown
                            .iter()
                            .find(|(c, _)| c.name == n.text)
                            .map(|(_, o)| o.clone())
                    } else {
                        None
                    };
                    match named {
                        Some(o) => o,
                        None => Operand::resolve(scope.as_ref(), &item.expr)?,
                    }
                }
            };
            let class = match &operand {
                Operand::Column(_, t) | Operand::Const(_, Some(t)) => t.class(),
                Operand::Const(_, None) => Class::Text,
            };
            let nulls_first = item.nulls_first.unwrap_or(item.desc);
            keys.push((operand, class, item.desc, nulls_first));
        }
        let columns: Vec<ResultColumn> = shown.iter().map(|(c, _)| c.clone()).collect();
        out.columns(&columns)?;
        let empty: [Row; 1] = [Row {
            id: 0,
            values: Box::new([]),
        }];
        let rows: &[Row] = match table {
            Some(t) => &t.rows,
            None => &empty,
        };
        let mut picked: Vec<&Row> = rows
            .iter()
            .filter(|r| {
                pred.as_ref()
                    .is_none_or(|p| p.eval(&r.values) == Some(true))
            })
            .collect();
        if !keys.is_empty() {
            let value = |o: &Operand, r: &Row| -> Option<Box<str>> {
                match o {
                    Operand::Column(i, _) => r.values.get(*i).cloned().flatten(),
                    Operand::Const(v, _) => v.clone(),
                }
            };
            picked.sort_by(|a, b| {
                for (o, class, desc, nulls_first) in &keys {
                    let ord = match (value(o, a), value(o, b)) {
                        (None, None) => Ordering::Equal,
                        (None, Some(_)) => {
                            if *nulls_first {
                                Ordering::Less
                            } else {
                                Ordering::Greater
                            }
                        }
                        (Some(_), None) => {
                            if *nulls_first {
                                Ordering::Greater
                            } else {
                                Ordering::Less
                            }
                        }
                        (Some(x), Some(y)) => {
                            let o = cmp_values(*class, &x, &y);
                            if *desc {
                                o.reverse()
                            } else {
                                o
                            }
                        }
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            });
        }
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let mut n = 0usize;
        let mut values: Vec<Option<&str>> = Vec::with_capacity(shown.len());
        for r in picked.into_iter().skip(skip).take(take) {
            values.clear();
            for (_, o) in &shown {
                values.push(match o {
                    Operand::Column(i, _) => r.values.get(*i).and_then(|v| v.as_deref()),
                    Operand::Const(v, _) => v.as_deref(),
                });
            }
            out.row(&values)?;
            n += 1;
        }
        Ok(format!("SELECT {n}"))
    }
}
