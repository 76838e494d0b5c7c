//! An echo server: every byte received is sent back; with `--lines`, a line echo server
//! (asynchat style: each line sent back once its `\n` has arrived).
//!
//! ```text
//! cargo run --release -p asyncore-examples --example echo -- --listen 127.0.0.1:7000
//! cargo run --release -p asyncore-examples --example echo -- --lines --listen 127.0.0.1:7000
//! ```

use asyncore_examples::cli;
use asyncore_examples::echo::{EchoServer, LineEchoServer};
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:7000");
    flags.push(cli::Flag {
        name: "lines",
        value: "",
        default: None,
        help:
            "Echo whole lines (AsyncChat, terminator \\n, lines up to 64 KiB) instead of raw bytes",
    });
    let args = cli::parse_or_exit(
        "An echo server on asyncore-runtime: raw bytes, or whole lines with --lines.",
        &flags,
    );
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("echo: {e}");
            std::process::exit(2);
        }
    };
    let result = if args.get("lines").is_some() {
        serve(&config, || LineEchoServer)
    } else {
        serve(&config, || EchoServer)
    };
    if let Err(e) = result {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}
