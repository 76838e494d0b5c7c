//! A PostgreSQL server (protocol 3.0, simple queries) on an in-memory database, generated
//! from `protocols/descriptions/pg.aproto`; `psql` and drivers talk to it.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example pg-server -- --listen 127.0.0.1:5432
//! psql -h 127.0.0.1 -p 5432 -U postgres -c 'create table t (a text, b int)'
//! ```

use asyncore_examples::cli::ServerArgs;
use asyncore_examples::pg_server::{Config, PgServer};
use asyncore_examples::server::serve;
use clap::Parser;

/// A PostgreSQL server (protocol 3.0, the simple query protocol) on an in-memory
/// database: CREATE TABLE, DROP TABLE, INSERT, SELECT, DELETE, transactions. It runs one
/// loop (no --threads): all connections share one database.
#[derive(Debug, Parser)]
#[command(name = "pg-server", version, args_override_self = true)]
struct Cli {
    // One database per process: several loops would each have their own.
    #[command(flatten)]
    server: ServerArgs<5432>,
    /// Ask every client for this password, in cleartext (default: trust everyone)
    #[arg(long, value_name = "PW")]
    password: Option<String>,
}

fn main() {
    let cli = Cli::parse();
    let pg = Config {
        password: cli.password,
        ..Config::default()
    };
    if let Err(e) = serve(&cli.server.config(1), move || PgServer::new(pg.clone())) {
        eprintln!("pg-server: {e}");
        std::process::exit(1);
    }
}
