//! A key-value server for the binary length-prefixed protocol of `kv.aproto`: `Get`,
//! `Put` and `Del` requests, keys in memory.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example kv-server -- --listen 127.0.0.1:7007
//! ```

use asyncore_examples::cli::{ServerArgs, Threads};
use asyncore_examples::kv::{KvServer, SharedKvStore};
use asyncore_examples::server::serve;
use clap::Parser;

/// A key-value server: the binary protocol of kv.aproto (frames of a 4-byte big-endian
/// length and an opcode: Get, Put, Del), keys in memory, shared by all loops.
#[derive(Debug, Parser)]
#[command(name = "kv-server", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs<7007>,
    #[command(flatten)]
    threads: Threads,
}

fn main() {
    let cli = Cli::parse();
    let config = cli.server.config(cli.threads.threads);
    let store = SharedKvStore::default();
    if let Err(e) = serve(&config, move || KvServer::with_store(store.clone())) {
        eprintln!("kv-server: {e}");
        std::process::exit(1);
    }
}
