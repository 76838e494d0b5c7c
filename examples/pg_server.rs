//! A PostgreSQL server (protocol 3.0, simple queries) on an in-memory database, generated
//! from `protocols/descriptions/pg.proto`; `psql` and drivers talk to it.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example pg-server -- --listen 127.0.0.1:5432
//! psql -h 127.0.0.1 -p 5432 -U postgres -c 'create table t (a text, b int)'
//! ```

use asyncore_examples::cli;
use asyncore_examples::pg_server::{Config, PgServer};
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:5432");
    // One database per process: several loops would each have their own.
    flags.retain(|f| f.name != "threads");
    flags.push(cli::Flag {
        name: "password",
        value: "PW",
        default: None,
        help: "Ask every client for this password, in cleartext (default: trust everyone)",
    });
    let args = cli::parse_or_exit(
        "A PostgreSQL server (protocol 3.0, the simple query protocol) on an in-memory \
         database: CREATE TABLE, DROP TABLE, INSERT, SELECT, DELETE, transactions. It runs \
         one loop (no --threads): all connections share one database.",
        &flags,
    );
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pg-server: {e}");
            std::process::exit(2);
        }
    };
    let pg = Config {
        password: args.get("password").map(str::to_string),
        ..Config::default()
    };
    if let Err(e) = serve(&config, move || PgServer::new(pg.clone())) {
        eprintln!("pg-server: {e}");
        std::process::exit(1);
    }
}
