//! An echo server generated from `protocols/descriptions/echo.proto`: each line comes
//! back once its `\n` has arrived. With `--raw`, asyncore's classic byte echo (every byte
//! sent back as it arrives); with `--chat`, the same line echo written on `AsyncChat`.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example echo -- --listen 127.0.0.1:7000
//! cargo run --release -p asyncore-examples --example echo -- --raw --listen 127.0.0.1:7000
//! ```

use asyncore_examples::cli;
use asyncore_examples::echo::{EchoServer, LineEchoServer, ProtocolEchoServer};
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:7000");
    flags.push(cli::Flag {
        name: "raw",
        value: "",
        default: None,
        help: "Echo raw bytes as they arrive (asyncore's dispatcher_with_send echo)",
    });
    flags.push(cli::Flag {
        name: "chat",
        value: "",
        default: None,
        help: "Echo whole lines with the AsyncChat line echo instead of the generated one",
    });
    let args = cli::parse_or_exit(
        "An echo server generated from protocols/descriptions/echo.proto: every line comes back.",
        &flags,
    );
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("echo: {e}");
            std::process::exit(2);
        }
    };
    let result = if args.get("raw").is_some() {
        serve(&config, || EchoServer)
    } else if args.get("chat").is_some() {
        serve(&config, || LineEchoServer)
    } else {
        serve(&config, || ProtocolEchoServer)
    };
    if let Err(e) = result {
        eprintln!("echo: {e}");
        std::process::exit(1);
    }
}
