//! A RESP2 (Redis protocol) client: sends one command, or one command per line of
//! standard input, and prints the replies as `redis-cli` does.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example resp-client -- --connect 127.0.0.1:6379 set k v
//! printf 'incr n\nmget k n\n' | cargo run --release -p asyncore-examples --example resp-client
//! ```

use asyncore_examples::{cli, resp_client};
use asyncore_runtime::Addr;

const ABOUT: &str =
    "A RESP2 (Redis protocol) client: sends COMMAND [ARGS...] given after the options, \
or else one command per line of standard input (quoted as redis-cli quotes), and prints the \
replies as redis-cli does.";

fn main() {
    let flags = vec![
        cli::Flag {
            name: "connect",
            value: "HOST:PORT",
            default: Some("127.0.0.1:6379"),
            help: "Server to connect to",
        },
        cli::Flag {
            name: "backend",
            value: "select|poll|epoll",
            default: Some("epoll"),
            help: "Readiness backend of the loop",
        },
    ];
    // Options come first; the first argument that is not one starts the command.
    let all: Vec<String> = std::env::args().skip(1).collect();
    let mut split = 0;
    while split < all.len() {
        let a = &all[split];
        if a == "--help" || a == "-h" {
            split += 1;
            continue;
        }
        let Some(name) = a.strip_prefix("--") else {
            break;
        };
        let inline = name.contains('=');
        split += if inline { 1 } else { 2 };
    }
    let split = split.min(all.len());
    let program = "resp-client";
    let args = match cli::parse(all[..split].iter().cloned(), &flags) {
        Ok(Some(a)) => a,
        Ok(None) => {
            let usage = cli::usage(program, ABOUT, &flags);
            print!(
                "{}",
                usage.replacen("[OPTIONS]\n", "[OPTIONS] [COMMAND [ARGS...]]\n", 1)
            );
            return;
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(2);
        }
    };
    let command: Vec<Vec<u8>> = all[split..].iter().map(|a| a.as_bytes().to_vec()).collect();
    let addr: std::net::SocketAddr = match args.get("connect").unwrap_or_default().parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{program}: --connect takes HOST:PORT with a numeric address: {e}");
            std::process::exit(2);
        }
    };
    let backend = match args.backend() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = resp_client::run(&Addr::from(addr), backend, command) {
        eprintln!("{program}: {addr}: {e}");
        std::process::exit(1);
    }
}
