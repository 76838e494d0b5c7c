//! Errors and notices of a query: SQLSTATE codes, messages, and where in the query
//! string they point.

/// An error of a query: an SQLSTATE code, a message, what PostgreSQL adds to it, and the
/// byte offset in the query string of what it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// The SQLSTATE code (`42P01`).
    pub code: &'static str,
    /// The primary message.
    pub message: String,
    /// The `DETAIL` line, if any.
    pub detail: Option<String>,
    /// The `HINT` line, if any.
    pub hint: Option<String>,
    /// The byte offset in the query string of the offending token, if any.
    pub at: Option<usize>,
}

impl SqlError {
    /// An error with `code` and `message`.
    ///
    /// ```
    /// use asyncore_examples::pg_server::sql::SqlError;
    /// let e = SqlError::new("42601", "syntax error at end of input").at(8);
    /// assert_eq!(e.position("select (", ), Some(9));
    /// ```
    pub fn new(code: &'static str, message: impl Into<String>) -> SqlError {
        SqlError {
            code,
            message: message.into(),
            detail: None,
            hint: None,
            at: None,
        }
    }

    /// The same error about the token at byte `at` of the query.
    pub fn at(mut self, at: usize) -> SqlError {
        self.at = Some(at);
        self
    }

    /// The same error with a `DETAIL` line.
    pub fn detail(mut self, detail: impl Into<String>) -> SqlError {
        self.detail = Some(detail.into());
        self
    }

    /// The same error with a `HINT` line.
    pub fn hint(mut self, hint: impl Into<String>) -> SqlError {
        self.hint = Some(hint.into());
        self
    }

    /// The position PostgreSQL reports (the `P` field): the 1-based character index in
    /// `sql` of the offending token.
    pub fn position(&self, sql: &str) -> Option<usize> {
        let at = self.at?;
        let at = (0..=at.min(sql.len()))
            .rev()
            .find(|&i| sql.is_char_boundary(i))?;
        Some(sql[..at].chars().count() + 1)
    }
}

/// A notice or warning a statement sends before its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// `NOTICE` or `WARNING`.
    pub severity: &'static str,
    /// The SQLSTATE code.
    pub code: &'static str,
    /// The message.
    pub message: String,
}
