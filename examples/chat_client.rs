//! A chat client: sends the lines typed on standard input, prints the lines that arrive.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example chat-client -- --connect 127.0.0.1:7001
//! ```

use asyncore_examples::chat_client;
use asyncore_examples::cli::ClientArgs;
use asyncore_runtime::{Addr, Map};
use clap::Parser;

/// A chat client: lines typed on standard input are sent; lines that arrive are printed.
#[derive(Debug, Parser)]
#[command(name = "chat-client", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs<7001>,
}

fn main() {
    let cli = Cli::parse();
    let mut map = Map::new();
    let addr = Addr::from(cli.client.connect);
    if let Err(e) = chat_client::run(&mut map, &addr, cli.client.backend) {
        eprintln!("chat-client: {e}");
        std::process::exit(1);
    }
}
