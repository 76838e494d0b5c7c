//! Values and conditions on rows: a statement's expressions resolved against its
//! table (columns found, constants converted to the types they meet), then evaluated
//! on each row in SQL's three-valued logic.

use super::ast::{CmpOp, Cond, Expr, Name};
use super::convert::{coerce, input, literal_value, operator_error, Target};
use super::database::Column;
use super::error::SqlError;
use super::types::{cmp_values, Class, SqlType, Value};

/// A resolved value of a statement: a column of the row (its index) or a constant.
#[derive(Debug, Clone)]
pub(super) enum Operand {
    Column(usize, SqlType),
    Const(Value, Option<SqlType>),
}

impl Operand {
    /// Resolves an expression of a statement on `scope` (no table: constants only).
    pub(super) fn resolve(scope: Option<&Scope<'_>>, e: &Expr) -> Result<Operand, SqlError> {
        match e {
            Expr::Lit(lit, _) => {
                let (v, ty) = literal_value(lit);
                Ok(Operand::Const(v, ty))
            }
            Expr::Column(q, n) => match scope {
                Some(s) => {
                    let (i, ty) = s.column(q.as_ref(), n)?;
                    Ok(Operand::Column(i, ty))
                }
                None => Err(match q {
                    Some(q) => SqlError::new(
                        "42P01",
                        format!("missing FROM-clause entry for table \"{}\"", q.text),
                    )
                    .at(q.at),
                    None => SqlError::new("42703", format!("column \"{}\" does not exist", n.text))
                        .at(n.at),
                }),
            },
        }
    }
}

/// A resolved condition.
#[derive(Debug, Clone)]
pub(super) enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    Cmp(Operand, CmpOp, Operand, Class),
    IsNull(Operand, bool),
    Value(Operand),
}

impl Pred {
    /// Resolves a condition: columns found, constants converted to the types they meet.
    pub(super) fn resolve(scope: Option<&Scope<'_>>, c: &Cond) -> Result<Pred, SqlError> {
        Ok(match c {
            Cond::And(a, b) => Pred::And(
                Box::new(Self::resolve(scope, a)?),
                Box::new(Self::resolve(scope, b)?),
            ),
            Cond::Or(a, b) => Pred::Or(
                Box::new(Self::resolve(scope, a)?),
                Box::new(Self::resolve(scope, b)?),
            ),
            Cond::Not(a) => Pred::Not(Box::new(Self::resolve(scope, a)?)),
            Cond::IsNull(e, not) => Pred::IsNull(Operand::resolve(scope, e)?, *not),
            Cond::Value(e) => {
                let o = Operand::resolve(scope, e)?;
                match &o {
                    Operand::Column(_, SqlType::Bool) | Operand::Const(None, _) => {}
                    Operand::Const(Some(_), Some(SqlType::Bool)) => {}
                    Operand::Const(Some(v), None) => {
                        let v = input(v, SqlType::Bool, e.at())?;
                        return Ok(Pred::Value(Operand::Const(Some(v), Some(SqlType::Bool))));
                    }
                    Operand::Column(_, ty) | Operand::Const(_, Some(ty)) => {
                        return Err(SqlError::new(
                            "42804",
                            format!(
                                "argument of WHERE must be type boolean, not type {}",
                                ty.name()
                            ),
                        )
                        .at(e.at()))
                    }
                }
                Pred::Value(o)
            }
            Cond::Cmp(l, op, r, op_at) => {
                let (lo, ro) = (Operand::resolve(scope, l)?, Operand::resolve(scope, r)?);
                let ty = |o: &Operand| match o {
                    Operand::Column(_, t) => Some(*t),
                    Operand::Const(_, t) => *t,
                };
                match (ty(&lo), ty(&ro)) {
                    (Some(a), Some(b)) => {
                        if a.class() != b.class() {
                            return Err(operator_error(&a.name(), *op, &b.name(), *op_at));
                        }
                        Pred::Cmp(lo, *op, ro, a.class())
                    }
                    (Some(a), None) => {
                        let Expr::Lit(lit, at) = r else {
                            unreachable!("only constants have no type")
                        };
                        let v = coerce(lit, *at, a, Target::Compare(*op, *op_at, false))?;
                        Pred::Cmp(lo, *op, Operand::Const(v, Some(a)), a.class())
                    }
                    (None, Some(b)) => {
                        let Expr::Lit(lit, at) = l else {
                            unreachable!("only constants have no type")
                        };
                        let v = coerce(lit, *at, b, Target::Compare(*op, *op_at, true))?;
                        Pred::Cmp(Operand::Const(v, Some(b)), *op, ro, b.class())
                    }
                    (None, None) => Pred::Cmp(lo, *op, ro, Class::Text),
                }
            }
        })
    }

    /// Three-valued: `None` is NULL.
    pub(super) fn eval(&self, row: &[Value]) -> Option<bool> {
        let get = |o: &'_ Operand| -> Option<Box<str>> {
            match o {
                Operand::Column(i, _) => row.get(*i).cloned().flatten(),
                Operand::Const(v, _) => v.clone(),
            }
        };
        match self {
            Pred::And(a, b) => match (a.eval(row), b.eval(row)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            Pred::Or(a, b) => match (a.eval(row), b.eval(row)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            Pred::Not(a) => a.eval(row).map(|b| !b),
            Pred::Cmp(l, op, r, class) => {
                let (l, r) = (get(l)?, get(r)?);
                Some(op.holds(cmp_values(*class, &l, &r)))
            }
            Pred::IsNull(o, not) => Some(get(o).is_some() == *not),
            Pred::Value(o) => get(o).map(|v| &*v == "t"),
        }
    }
}

/// The table a statement reads: its columns and the names it can be called by.
pub(super) struct Scope<'t> {
    pub(super) names: Vec<&'t str>,
    pub(super) columns: &'t [Column],
}

impl Scope<'_> {
    fn column(&self, qual: Option<&Name>, name: &Name) -> Result<(usize, SqlType), SqlError> {
        if let Some(q) = qual {
            if !self.names.contains(&q.text.as_str()) {
                return Err(SqlError::new(
                    "42P01",
                    format!("missing FROM-clause entry for table \"{}\"", q.text),
                )
                .at(q.at));
            }
        }
        let at = qual.map_or(name.at, |q| q.at);
        match self.columns.iter().position(|c| c.name == name.text) {
            Some(i) => Ok((i, self.columns[i].ty)),
            None => Err(match qual {
                Some(q) => SqlError::new(
                    "42703",
                    format!("column {}.{} does not exist", q.text, name.text),
                ),
                None => SqlError::new("42703", format!("column \"{}\" does not exist", name.text)),
            }
            .at(at)),
        }
    }
}
