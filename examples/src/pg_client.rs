//! A PostgreSQL client on the channel generated from `protocols/descriptions/pg.aproto`:
//! the StartupMessage, the password (trust or cleartext authentication) and every query
//! go out through the generated encoders, and the server's messages come in as the
//! generated types. It prints what `psql -A -t` prints (with `ON_ERROR_STOP`):
//!
//! * rows with their values separated by `|`, without headers or footers, NULL as
//!   nothing;
//! * the command tag of a statement that returns no rows (`CREATE TABLE`, `INSERT 0 2`,
//!   `BEGIN`), and of an `INSERT`, `UPDATE` or `DELETE` that returns rows, as psql does
//!   unless it is quiet; nothing for an empty query;
//! * errors on standard error as libpq formats them (`ERROR:  message`, then `LINE n:`
//!   and a caret under the position, `DETAIL:` and `HINT:` lines), notices and warnings
//!   the same way.
//!
//! Each argument is one Query message, as each `psql -c` is; without arguments the
//! statements come from standard input, split as psql splits them (at semicolons outside
//! quotes, comments and parentheses; `\g` ends a statement, `\q` ends the input), each
//! its own Query, the next sent when the previous one is answered. The first error stops
//! everything. [`run`] returns the exit status psql gives: 0, 1 for an error in an
//! argument (as `psql -c`), 3 for an error in a script on standard input (as psql with
//! `ON_ERROR_STOP=1`), 2 when the connection fails or is lost.

mod client;
mod error;
mod split;
mod stdin;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;

use asyncore_runtime::{Addr, Backend, Map};

pub use crate::pg_server::pg;

pub use client::PgClient;
pub use error::ServerError;
pub use split::{Item, Splitter};
use stdin::StdinStatements;

/// The longest line of standard input, in bytes.
pub const MAX_INPUT_LINE: usize = 16 * 1024 * 1024;

/// How to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The server.
    pub addr: SocketAddr,
    /// The user name (`user`).
    pub user: String,
    /// The database (`database`).
    pub database: String,
    /// The password, sent if the server asks for one.
    pub password: Option<String>,
    /// The readiness backend of the loop.
    pub backend: Backend,
}

/// The state of a session, shared by the client channel and the reader of standard
/// input.
struct Shared {
    options: Options,
    /// Items waiting to be run.
    queue: VecDeque<Item>,
    /// No more items will come.
    input_done: bool,
    /// The first ReadyForQuery came.
    connected: bool,
    /// A query is out and its ReadyForQuery has not come.
    busy: bool,
    /// The query out, for the position of its errors.
    query: String,
    /// The current result has rows (a RowDescription came).
    rows: bool,
    /// The query out failed.
    failed: bool,
    /// The exit status for an error in a query: 1 (arguments) or 3 (a script).
    error_status: i32,
    /// The exit status, once known.
    status: Option<i32>,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

impl Shared {
    fn stderr(&mut self, text: &str) {
        let _ = self.out.flush();
        let _ = self.err.write_all(text.as_bytes());
        let _ = self.err.flush();
    }

    /// The connection could not be made or was refused: psql's message.
    fn connection_failed(&mut self, why: &str) {
        let text = format!(
            "pg-client: error: connection to server at \"{}\", port {} failed: {why}",
            self.options.addr.ip(),
            self.options.addr.port()
        );
        let text = if text.ends_with('\n') {
            text
        } else {
            text + "\n"
        };
        self.stderr(&text);
        self.status.get_or_insert(2);
    }

    /// What to send next, once the server is ready: the next query, the Terminate
    /// that ends the session, or nothing yet.
    fn next(&mut self) -> Next {
        if self.status.is_some() {
            return Next::Terminate;
        }
        match self.queue.pop_front() {
            Some(Item::Query(sql)) => {
                self.busy = true;
                self.rows = false;
                self.query = sql.clone();
                Next::Query(sql)
            }
            Some(Item::Quit) => {
                self.status = Some(0);
                Next::Terminate
            }
            Some(Item::Invalid(cmd)) => {
                self.stderr(&format!("invalid command {cmd}\n"));
                self.status = Some(3);
                Next::Terminate
            }
            None if self.input_done => {
                self.status = Some(0);
                Next::Terminate
            }
            None => {
                self.busy = false;
                Next::Wait
            }
        }
    }
}

enum Next {
    Query(String),
    Terminate,
    Wait,
}

/// Where the statements come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Each string is one Query (`psql -c`); an error gives status 1.
    Queries(Vec<String>),
    /// Standard input, split into statements; an error gives status 3.
    Stdin,
}

/// Runs a session: connects, authenticates, runs the statements of `source` one at a
/// time and writes what psql writes to `out` and `err`. Returns psql's exit status.
///
/// ```no_run
/// use asyncore_examples::pg_client::{run, Options, Source};
/// let options = Options {
///     addr: "127.0.0.1:5432".parse().unwrap(),
///     user: "postgres".into(),
///     database: "postgres".into(),
///     password: None,
///     backend: Default::default(),
/// };
/// let status = run(&options, Source::Queries(vec!["select 1".into()]), Box::new(std::io::stdout()), Box::new(std::io::stderr()));
/// assert_eq!(status, 0);
/// ```
pub fn run(options: &Options, source: Source, out: Box<dyn Write>, err: Box<dyn Write>) -> i32 {
    let (queue, input_done, error_status) = match &source {
        Source::Queries(q) => (q.iter().cloned().map(Item::Query).collect(), true, 1),
        Source::Stdin => (VecDeque::new(), false, 3),
    };
    let shared = Rc::new(RefCell::new(Shared {
        options: options.clone(),
        queue,
        input_done,
        connected: false,
        busy: true,
        query: String::new(),
        rows: false,
        failed: false,
        error_status,
        status: None,
        out,
        err,
    }));
    let mut map = Map::new();
    let client = PgClient::new(shared.clone());
    let token = match map.connect(&Addr::from(options.addr), pg::ClientChannel::new(client)) {
        Ok(t) => t,
        Err(e) => {
            shared.borrow_mut().connection_failed(&e.to_string());
            return 2;
        }
    };
    if source == Source::Stdin {
        let reader = StdinStatements::new(token, shared.clone());
        if let Err(e) = map.add_file(io::stdin(), reader) {
            shared.borrow_mut().stderr(&format!(
                "pg-client: error: cannot read standard input: {e}\n"
            ));
            return 2;
        }
    }
    let r = map.run_with(
        Some(asyncore_runtime::DEFAULT_TIMEOUT),
        options.backend,
        None,
    );
    map.close_all();
    let mut s = shared.borrow_mut();
    let _ = s.out.flush();
    if let Err(e) = r {
        s.stderr(&format!("pg-client: error: {e}\n"));
        return 2;
    }
    s.status.unwrap_or(2)
}
