//! A memcached client: sends commands written in memcached's text syntax, prints the
//! replies as the server sends them.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example memcache-client -- \
//!     --connect 127.0.0.1:11211 'set greeting 0 0 5' hello 'get greeting'
//! printf 'get greeting\r\nstats\r\n' | \
//!     cargo run --release -p asyncore-examples --example memcache-client
//! ```

use asyncore_examples::cli;
use asyncore_examples::memcache_client::{self, commands_from_args, split_args};

fn main() {
    let flags = vec![
        cli::Flag {
            name: "connect",
            value: "HOST:PORT",
            default: Some("127.0.0.1:11211"),
            help: "memcached server to connect to",
        },
        cli::Flag {
            name: "backend",
            value: "select|poll|epoll",
            default: Some("epoll"),
            help: "Readiness backend of the loop",
        },
    ];
    let about = "A memcached client. Commands come from the arguments (each one a command line; \
                 a storage command takes its data block from the next argument: \
                 'set k 0 0 2' hi 'get k') or, without any, from standard input; replies are \
                 printed as the server sends them.";
    let (opts, words) = split_args(std::env::args().skip(1), &["connect", "backend"]);
    let args = match cli::parse(opts, &flags) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", cli::usage("memcache-client", about, &flags));
            return;
        }
        Err(e) => {
            eprintln!("memcache-client: {e}");
            std::process::exit(2);
        }
    };
    let run = || -> Result<bool, String> {
        let addr: std::net::SocketAddr = args
            .get("connect")
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("--connect takes HOST:PORT with a numeric address: {e}"))?;
        let backend = args.backend()?;
        let commands = commands_from_args(&words)?;
        memcache_client::run(addr, backend, commands).map_err(|e| e.to_string())
    };
    match run() {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("memcache-client: {e}");
            std::process::exit(1);
        }
    }
}
