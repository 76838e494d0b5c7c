//! An echo server: every byte received is sent back.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example echo -- --listen 127.0.0.1:7000
//! ```

use asyncore_examples::cli;
use asyncore_examples::echo::EchoServer;
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let flags = cli::server_flags("127.0.0.1:7000");
    let args = cli::parse_or_exit("An echo server on asyncore-runtime.", &flags);
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("echo: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(&config, || EchoServer) {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}
