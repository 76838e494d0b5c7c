//! An echo server generated from `protocols/descriptions/echo.aproto`: each line comes
//! back once its `\n` has arrived. With `--raw`, asyncore's classic byte echo (every byte
//! sent back as it arrives); with `--chat`, the same line echo written on `AsyncChat`.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example echo -- --listen 127.0.0.1:7000
//! cargo run --release -p asyncore-examples --example echo -- --raw --listen 127.0.0.1:7000
//! ```

use asyncore_examples::cli::{ServerArgs, Threads};
use asyncore_examples::echo::{EchoServer, LineEchoServer, ProtocolEchoServer};
use asyncore_examples::server::serve;
use clap::Parser;

/// An echo server generated from protocols/descriptions/echo.aproto: every line comes back.
#[derive(Debug, Parser)]
#[command(name = "echo", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs<7000>,
    #[command(flatten)]
    threads: Threads,
    /// Echo raw bytes as they arrive (asyncore's dispatcher_with_send echo)
    #[arg(long)]
    raw: bool,
    /// Echo whole lines with the AsyncChat line echo instead of the generated one
    #[arg(long)]
    chat: bool,
}

fn main() {
    let cli = Cli::parse();
    let config = cli.server.config(cli.threads.threads);
    let result = if cli.raw {
        serve(&config, || EchoServer)
    } else if cli.chat {
        serve(&config, || LineEchoServer)
    } else {
        serve(&config, || ProtocolEchoServer)
    };
    if let Err(e) = result {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}
