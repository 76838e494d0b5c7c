//! A line chat server: `/nick NAME`, `/quit`, and every other line goes to the others.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example chat -- --listen 127.0.0.1:7001
//! ```

use asyncore_examples::chat::ChatServer;
use asyncore_examples::cli;
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:7001");
    flags.retain(|f| f.name != "threads");
    let args = cli::parse_or_exit(
        "A line chat server: /nick NAME sets your name, /quit leaves, other lines go to everyone else.",
        &flags,
    );
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("chat: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(&config, ChatServer::new) {
        eprintln!("chat: {e}");
        std::process::exit(1);
    }
}
