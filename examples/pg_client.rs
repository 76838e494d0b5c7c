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

use asyncore_examples::cli;
use asyncore_examples::memcache_client::split_args;
use asyncore_examples::pg_client::{run, Options, Source};

const ABOUT: &str = "A PostgreSQL client: runs each SQL argument as one query (as psql -c), or \
else the statements of standard input (split at semicolons as psql splits them; \\q ends the \
input), and prints what psql -A -t prints: rows with values separated by |, command tags, \
errors on standard error. The first error stops it (exit status 1 for an argument, 3 for \
standard input, 2 for a failed connection). The password may also come from PGPASSWORD.";

fn main() {
    let default_user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres".into());
    let flags = vec![
        cli::Flag {
            name: "connect",
            value: "HOST:PORT",
            default: Some("127.0.0.1:5432"),
            help: "Server to connect to",
        },
        cli::Flag {
            name: "user",
            value: "NAME",
            default: None,
            help: "User name [default: $USER, or postgres]",
        },
        cli::Flag {
            name: "database",
            value: "NAME",
            default: None,
            help: "Database [default: the user name]",
        },
        cli::Flag {
            name: "password",
            value: "PW",
            default: None,
            help: "Password, sent if the server asks for one [default: $PGPASSWORD]",
        },
        cli::Flag {
            name: "backend",
            value: "select|poll|epoll",
            default: Some("epoll"),
            help: "Readiness backend of the loop",
        },
    ];
    let program = "pg-client";
    let (opts, words) = split_args(
        std::env::args().skip(1),
        &["connect", "user", "database", "password", "backend"],
    );
    let args = match cli::parse(opts, &flags) {
        Ok(Some(a)) => a,
        Ok(None) => {
            let usage = cli::usage(program, ABOUT, &flags);
            print!(
                "{}",
                usage.replacen("[OPTIONS]\n", "[OPTIONS] [SQL...]\n", 1)
            );
            return;
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(2);
        }
    };
    let addr = cli::or_exit(
        program,
        args.get("connect")
            .unwrap_or_default()
            .parse::<std::net::SocketAddr>()
            .map_err(|e| format!("--connect takes HOST:PORT with a numeric address: {e}")),
        2,
    );
    let backend = cli::or_exit(program, args.backend(), 2);
    let user = args.get("user").map_or(default_user, str::to_string);
    let options = Options {
        addr,
        database: args
            .get("database")
            .map_or_else(|| user.clone(), str::to_string),
        user,
        password: args
            .get("password")
            .map(str::to_string)
            .or_else(|| std::env::var("PGPASSWORD").ok()),
        backend,
    };
    let source = if words.is_empty() {
        Source::Stdin
    } else {
        Source::Queries(words)
    };
    let status = run(
        &options,
        source,
        Box::new(std::io::BufWriter::new(std::io::stdout())),
        Box::new(std::io::stderr()),
    );
    std::process::exit(status);
}
