//! One connection's side of the database: its transaction status and the undo log of
//! its transaction, the simple query protocol's rules for a query string of several
//! statements, and the extended protocol's skip-until-Sync.

use super::sql::{parse, Database, Notice, Output, SqlError, Statement, Undo};

/// The transaction status ReadyForQuery reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TxStatus {
    /// Not in a transaction block (`I`).
    #[default]
    Idle,
    /// In a transaction block (`T`).
    InBlock,
    /// In a failed transaction block (`E`): only `COMMIT` and `ROLLBACK` run.
    Failed,
}

impl TxStatus {
    /// The status byte of ReadyForQuery.
    ///
    /// ```
    /// use asyncore_examples::pg_server::session::TxStatus;
    /// assert_eq!(TxStatus::Failed.byte(), b"E");
    /// ```
    pub fn byte(self) -> &'static [u8] {
        match self {
            TxStatus::Idle => b"I",
            TxStatus::InBlock => b"T",
            TxStatus::Failed => b"E",
        }
    }
}

/// Where the answers to a query go, besides its rows and notices.
pub trait Replies: Output {
    /// A statement completed with this command tag.
    fn complete(&mut self, tag: &str);
    /// The query string had no statement.
    fn empty(&mut self);
    /// A statement failed; `position` is the 1-based character position in the query
    /// string of what it is about.
    fn error(&mut self, err: &SqlError, position: Option<usize>);
}

/// The code and message with which the extended query protocol is refused.
pub const EXTENDED_REFUSED: (&str, &str) = ("0A000", "extended query protocol not supported");

/// One connection's transaction and protocol state.
///
/// A query string runs as PostgreSQL runs it: parsed whole first (a syntax error anywhere
/// runs nothing), then statement by statement, each answered in turn; the first error
/// ends it. Outside a transaction block the statements of one query string form an
/// implicit transaction: an error undoes what the statements before it did. `BEGIN`
/// opens a block (`T`), an error in it makes it failed (`E`, where every statement but
/// `COMMIT` and `ROLLBACK` gets `25P02`), `COMMIT` keeps its changes and `ROLLBACK` (or
/// `COMMIT` of a failed block) undoes them. Blocks are not isolated: other connections
/// see their changes at once.
///
/// ```
/// use asyncore_examples::pg_server::session::{Session, TxStatus};
/// use asyncore_examples::pg_server::sql::Database;
/// let mut db = Database::default();
/// let mut s = Session::default();
/// let mut out = Vec::new(); // a `Replies` that records what happens as text
/// s.query(&mut db, "create table t (a int)", &mut out);
/// s.query(&mut db, "begin; insert into t values (1)", &mut out);
/// assert_eq!(s.status(), TxStatus::InBlock);
/// s.query(&mut db, "select nope from t", &mut out);
/// assert_eq!(s.status(), TxStatus::Failed);
/// s.query(&mut db, "commit; select * from t", &mut out);
/// assert_eq!(s.status(), TxStatus::Idle);
/// assert_eq!(out.last().map(String::as_str), Some("complete SELECT 0"));
/// ```
#[derive(Debug, Default)]
pub struct Session {
    status: TxStatus,
    undo: Undo,
    /// An extended-protocol message was refused: everything up to the next Sync is
    /// ignored, as PostgreSQL ignores the rest of a failed extended exchange.
    skipping: bool,
}

impl Session {
    /// The transaction status.
    pub fn status(&self) -> TxStatus {
        self.status
    }

    /// Whether the messages up to the next Sync are being ignored.
    pub fn skipping(&self) -> bool {
        self.skipping
    }

    /// Runs a query string: its results, errors and command tags go to `out` (the
    /// caller sends ReadyForQuery with [`status`](Self::status) afterwards).
    pub fn query(&mut self, db: &mut Database, sql: &str, out: &mut dyn Replies) {
        let statements = match parse(sql) {
            Ok(s) => s,
            Err(e) => return self.fail(db, &e, sql, out),
        };
        if statements.is_empty() {
            out.empty();
            return;
        }
        for stmt in &statements {
            if self.status == TxStatus::Failed && !stmt.ends_block() {
                let e = SqlError::new(
                    "25P02",
                    "current transaction is aborted, commands ignored until end of \
                     transaction block",
                );
                return self.fail(db, &e, sql, out);
            }
            let result = match stmt {
                Statement::Begin => {
                    if self.status == TxStatus::Idle {
                        self.status = TxStatus::InBlock;
                    } else {
                        out.notice(&Notice {
                            severity: "WARNING",
                            code: "25001",
                            message: "there is already a transaction in progress".into(),
                        });
                    }
                    Ok("BEGIN".to_string())
                }
                Statement::Commit => Ok(match self.status {
                    TxStatus::Failed => {
                        db.rollback(&mut self.undo);
                        self.status = TxStatus::Idle;
                        "ROLLBACK".to_string()
                    }
                    status => {
                        if status == TxStatus::Idle {
                            out.notice(&no_transaction());
                        }
                        db.commit(&mut self.undo);
                        self.status = TxStatus::Idle;
                        "COMMIT".to_string()
                    }
                }),
                Statement::Rollback => {
                    if self.status == TxStatus::Idle {
                        out.notice(&no_transaction());
                    }
                    db.rollback(&mut self.undo);
                    self.status = TxStatus::Idle;
                    Ok("ROLLBACK".to_string())
                }
                _ => db.execute(stmt, &mut self.undo, out),
            };
            match result {
                Ok(tag) => out.complete(&tag),
                Err(e) => return self.fail(db, &e, sql, out),
            }
        }
        if self.status == TxStatus::Idle {
            db.commit(&mut self.undo);
        }
    }

    /// Reports `err` and ends the transaction, or makes the block failed.
    fn fail(&mut self, db: &mut Database, err: &SqlError, sql: &str, out: &mut dyn Replies) {
        out.error(err, err.position(sql));
        match self.status {
            TxStatus::Idle => db.rollback(&mut self.undo),
            TxStatus::InBlock => self.status = TxStatus::Failed,
            TxStatus::Failed => {}
        }
    }

    /// An extended-protocol message (Parse, Bind, Describe, Execute, Close): the first
    /// of an exchange is refused with [`EXTENDED_REFUSED`] (a block becomes failed), the
    /// rest are ignored up to Sync. Returns the error to send, if any.
    pub fn extended(&mut self) -> Option<SqlError> {
        if self.skipping {
            return None;
        }
        self.skipping = true;
        if self.status == TxStatus::InBlock {
            self.status = TxStatus::Failed;
        }
        Some(SqlError::new(EXTENDED_REFUSED.0, EXTENDED_REFUSED.1))
    }

    /// A Flush or a malformed message in an extended exchange: begins skipping up to
    /// Sync, as an error in the exchange does (a block becomes failed).
    pub fn skip_to_sync(&mut self) {
        self.skipping = true;
        if self.status == TxStatus::InBlock {
            self.status = TxStatus::Failed;
        }
    }

    /// An error outside any statement (a malformed message): a block becomes failed.
    pub fn fail_block(&mut self) {
        if self.status == TxStatus::InBlock {
            self.status = TxStatus::Failed;
        }
    }

    /// Sync: the exchange is over (ReadyForQuery follows).
    pub fn sync(&mut self) {
        self.skipping = false;
    }

    /// The connection ends: an open transaction is rolled back.
    pub fn end(&mut self, db: &mut Database) {
        db.rollback(&mut self.undo);
        self.status = TxStatus::Idle;
    }
}

fn no_transaction() -> Notice {
    Notice {
        severity: "WARNING",
        code: "25P01",
        message: "there is no transaction in progress".into(),
    }
}

/// A record of the answers as lines of text (`complete TAG`, `error CODE MESSAGE`,
/// `notice CODE MESSAGE`, `empty`, `columns a,b`, `row x|NULL`), for tests and examples.
impl Output for Vec<String> {
    fn notice(&mut self, notice: &Notice) {
        self.push(format!("notice {} {}", notice.code, notice.message));
    }
    fn columns(&mut self, columns: &[super::sql::ResultColumn]) -> Result<(), SqlError> {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        self.push(format!("columns {}", names.join(",")));
        Ok(())
    }
    fn row(&mut self, values: &[Option<&str>]) -> Result<(), SqlError> {
        let values: Vec<&str> = values.iter().map(|v| v.unwrap_or("NULL")).collect();
        self.push(format!("row {}", values.join("|")));
        Ok(())
    }
}

impl Replies for Vec<String> {
    fn complete(&mut self, tag: &str) {
        self.push(format!("complete {tag}"));
    }
    fn empty(&mut self) {
        self.push("empty".into());
    }
    fn error(&mut self, err: &SqlError, _position: Option<usize>) {
        self.push(format!("error {} {}", err.code, err.message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &mut Session, db: &mut Database, sql: &str) -> Vec<String> {
        let mut out = Vec::new();
        s.query(db, sql, &mut out);
        out
    }

    #[test]
    fn an_error_undoes_the_implicit_transaction() {
        let mut db = Database::default();
        let mut s = Session::default();
        run(&mut s, &mut db, "create table r (a int)");
        assert_eq!(
            run(
                &mut s,
                &mut db,
                "insert into r values (1); select * from nope; select 2"
            ),
            [
                "complete INSERT 0 1",
                "error 42P01 relation \"nope\" does not exist"
            ]
        );
        assert_eq!(
            run(&mut s, &mut db, "insert into r values (1); rollback"),
            [
                "complete INSERT 0 1",
                "notice 25P01 there is no transaction in progress",
                "complete ROLLBACK"
            ]
        );
        run(
            &mut s,
            &mut db,
            "insert into r values (2); commit; select * from nope",
        );
        run(
            &mut s,
            &mut db,
            "insert into r values (3); begin; insert into r values (4); select * from nope",
        );
        assert_eq!(s.status(), TxStatus::Failed);
        assert_eq!(
            run(&mut s, &mut db, "select 1"),
            ["error 25P02 current transaction is aborted, commands ignored until end of transaction block"]
        );
        assert_eq!(run(&mut s, &mut db, "commit"), ["complete ROLLBACK"]);
        assert_eq!(
            run(&mut s, &mut db, "select * from r"),
            ["columns a", "row 2", "complete SELECT 1"]
        );
        // A syntax error anywhere runs nothing.
        assert_eq!(
            run(&mut s, &mut db, "select 1; selec 2"),
            ["error 42601 syntax error at or near \"selec\""]
        );
        assert_eq!(run(&mut s, &mut db, " ;; "), ["empty"]);
    }

    #[test]
    fn blocks_and_the_extended_protocol() {
        let mut db = Database::default();
        let mut s = Session::default();
        assert_eq!(
            run(&mut s, &mut db, "begin; begin"),
            [
                "complete BEGIN",
                "notice 25001 there is already a transaction in progress",
                "complete BEGIN"
            ]
        );
        assert!(s.extended().is_some());
        assert!(s.extended().is_none());
        assert_eq!(s.status(), TxStatus::Failed);
        s.sync();
        assert!(!s.skipping());
        assert_eq!(run(&mut s, &mut db, "rollback"), ["complete ROLLBACK"]);
        run(&mut s, &mut db, "create table t (a text)");
        run(&mut s, &mut db, "begin; insert into t values ('x')");
        s.end(&mut db);
        assert_eq!(
            run(&mut s, &mut db, "select * from t"),
            ["columns a", "complete SELECT 0"]
        );
    }
}
