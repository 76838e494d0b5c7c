//! A line chat server: `/nick NAME`, `/quit`, and every other line goes to the others.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example chat -- --listen 127.0.0.1:7001
//! ```

use asyncore_examples::chat::ChatServer;
use asyncore_examples::cli::ServerArgs;
use asyncore_examples::server::serve;
use clap::Parser;

/// A line chat server: /nick NAME sets your name, /quit leaves, other lines go to everyone
/// else.
#[derive(Debug, Parser)]
#[command(name = "chat", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs<7001>,
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = serve(&cli.server.config(1), ChatServer::new) {
        eprintln!("chat: {e}");
        std::process::exit(1);
    }
}
