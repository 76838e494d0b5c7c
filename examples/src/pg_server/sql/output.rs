//! Where a statement's results go: the columns of its rows, the rows, its notices.

use super::error::{Notice, SqlError};
use super::types::SqlType;

/// A column of a result, as RowDescription describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultColumn {
    /// Its name.
    pub name: String,
    /// The OID of the table it comes from, or 0.
    pub table: u32,
    /// Its number in that table (from 1), or 0.
    pub column: i16,
    /// Its type.
    pub ty: SqlType,
}

/// Where a statement's results go.
pub trait Output {
    /// A notice or warning.
    fn notice(&mut self, notice: &Notice);
    /// The columns of the rows that follow.
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<(), SqlError>;
    /// A row. An error (too much output) ends the statement.
    fn row(&mut self, values: &[Option<&str>]) -> Result<(), SqlError>;
}

/// An [`Output`] that keeps everything, for tests and tools.
///
/// ```
/// use asyncore_examples::pg_server::sql::{Collected, Database, Undo};
/// let mut db = Database::default();
/// let mut out = Collected::default();
/// let mut undo = Undo::default();
/// for s in asyncore_examples::pg_server::sql::parse("select 1 as one, null").unwrap() {
///     assert_eq!(db.execute(&s, &mut undo, &mut out), Ok("SELECT 1".to_string()));
/// }
/// assert_eq!(out.columns[0].name, "one");
/// assert_eq!(out.rows, [vec![Some("1".to_string()), None]]);
/// ```
#[derive(Debug, Default)]
pub struct Collected {
    /// Notices and warnings.
    pub notices: Vec<Notice>,
    /// The columns of the last result with rows.
    pub columns: Vec<ResultColumn>,
    /// The rows of the results.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Output for Collected {
    fn notice(&mut self, notice: &Notice) {
        self.notices.push(notice.clone());
    }
    fn columns(&mut self, columns: &[ResultColumn]) -> Result<(), SqlError> {
        self.columns = columns.to_vec();
        Ok(())
    }
    fn row(&mut self, values: &[Option<&str>]) -> Result<(), SqlError> {
        self.rows
            .push(values.iter().map(|v| v.map(str::to_string)).collect());
        Ok(())
    }
}
