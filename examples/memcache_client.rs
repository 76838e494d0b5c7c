//! A memcached client: sends commands written in memcached's text syntax, prints the
//! replies as the server sends them.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example memcache-client -- \
//!     --connect 127.0.0.1:11211 'set greeting 0 0 5' hello 'get greeting'
//! printf 'get greeting\r\nstats\r\n' | \
//!     cargo run --release -p asyncore-examples --example memcache-client
//! ```

use asyncore_examples::cli::ClientArgs;
use asyncore_examples::memcache_client::{self, commands_from_args};
use clap::Parser;

/// A memcached client. Commands come from the arguments (each one a command line; a
/// storage command takes its data block from the next argument: 'set k 0 0 2' hi 'get k')
/// or, without any, from standard input; replies are printed as the server sends them.
#[derive(Debug, Parser)]
#[command(name = "memcache-client", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs<11211>,
    /// Command lines, each storage command followed by its data block
    #[arg(value_name = "COMMAND", allow_negative_numbers = true)]
    words: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let run = || -> Result<bool, String> {
        let commands = commands_from_args(&cli.words)?;
        memcache_client::run(cli.client.connect, cli.client.backend, commands)
            .map_err(|e| e.to_string())
    };
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("memcache-client: {e}");
            std::process::exit(1);
        }
    }
}
