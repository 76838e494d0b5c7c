//! A RESP2 (Redis protocol) client: sends one command, or one command per line of
//! standard input, and prints the replies as `redis-cli` does.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example resp-client -- --connect 127.0.0.1:6379 set k v
//! printf 'incr n\nmget k n\n' | cargo run --release -p asyncore-examples --example resp-client
//! ```

use asyncore_examples::cli::ClientArgs;
use asyncore_examples::resp_client;
use asyncore_runtime::Addr;
use clap::Parser;

/// A RESP2 (Redis protocol) client: sends COMMAND [ARGS...] given after the options, or
/// else one command per line of standard input (quoted as redis-cli quotes), and prints
/// the replies as redis-cli does.
#[derive(Debug, Parser)]
#[command(name = "resp-client", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs<6379>,
    /// The command and its arguments, sent as they are (everything after COMMAND is an
    /// argument, even when it starts with `-`)
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    command: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let command: Vec<Vec<u8>> = cli.command.into_iter().map(String::into_bytes).collect();
    let addr = cli.client.connect;
    if let Err(e) = resp_client::run(&Addr::from(addr), cli.client.backend, command) {
        eprintln!("resp-client: {addr}: {e}");
        std::process::exit(1);
    }
}
