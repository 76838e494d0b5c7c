//! A chat client: sends the lines typed on standard input, prints the lines that arrive.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example chat-client -- --connect 127.0.0.1:7001
//! ```

use asyncore_examples::{chat_client, cli};
use asyncore_runtime::{Addr, Map};

fn main() {
    let flags = vec![
        cli::Flag {
            name: "connect",
            value: "HOST:PORT",
            default: Some("127.0.0.1:7001"),
            help: "Chat server to connect to",
        },
        cli::Flag {
            name: "backend",
            value: "select|poll|epoll",
            default: Some("epoll"),
            help: "Readiness backend of the loop",
        },
    ];
    let args = cli::parse_or_exit(
        "A chat client: lines typed on standard input are sent; lines that arrive are printed.",
        &flags,
    );
    let run = || -> Result<(), String> {
        let addr: std::net::SocketAddr = args
            .get("connect")
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("--connect takes HOST:PORT with a numeric address: {e}"))?;
        let backend = args.backend()?;
        let mut map = Map::new();
        chat_client::run(&mut map, &Addr::from(addr), backend).map_err(|e| e.to_string())
    };
    if let Err(e) = run() {
        eprintln!("chat-client: {e}");
        std::process::exit(1);
    }
}
