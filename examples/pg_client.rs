//! A PostgreSQL client: runs the SQL given as arguments (each argument one query, as
//! `psql -c`), or else the statements of standard input, and prints what `psql -A -t`
//! prints.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example pg-client -- \
//!     --connect 127.0.0.1:5432 --user postgres 'create table t (a text)' "insert into t values ('x')" 'select * from t'
//! printf 'select 1;\nselect 2;\n' | cargo run --release -p asyncore-examples --example pg-client
//! ```
//!
//! Exit status, as psql's with `ON_ERROR_STOP=1`: 0; 1 when a query given as an argument
//! fails; 3 when a statement of standard input fails; 2 when the connection fails or is
//! lost, or for bad arguments. The first error stops the session.

use asyncore_examples::cli::ClientArgs;
use asyncore_examples::pg_client::{run, Options, Source};
use clap::Parser;

/// A PostgreSQL client: runs each SQL argument as one query (as psql -c), or else the
/// statements of standard input.
///
/// Standard input is split into statements at semicolons as psql splits it (\q ends the
/// input). It prints what psql -A -t prints: rows with values separated by |, command
/// tags, errors on standard error. The first error stops it (exit status 1 for an
/// argument, 3 for standard input, 2 for a failed connection). The password may also come
/// from PGPASSWORD.
#[derive(Debug, Parser)]
#[command(name = "pg-client", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs<5432>,
    /// User name [default: $USER, or postgres]
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// Database [default: the user name]
    #[arg(long, value_name = "NAME")]
    database: Option<String>,
    /// Password, sent if the server asks for one [default: $PGPASSWORD]
    #[arg(long, value_name = "PW")]
    password: Option<String>,
    /// Queries, each run on its own as psql -c runs one
    #[arg(value_name = "SQL")]
    sql: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let user = cli.user.unwrap_or_else(|| {
        std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "postgres".into())
    });
    let options = Options {
        addr: cli.client.connect,
        database: cli.database.unwrap_or_else(|| user.clone()),
        user,
        password: cli.password.or_else(|| std::env::var("PGPASSWORD").ok()),
        backend: cli.client.backend,
    };
    let source = if cli.sql.is_empty() {
        Source::Stdin
    } else {
        Source::Queries(cli.sql)
    };
    let status = run(
        &options,
        source,
        Box::new(std::io::BufWriter::new(std::io::stdout())),
        Box::new(std::io::stderr()),
    );
    std::process::exit(status);
}
