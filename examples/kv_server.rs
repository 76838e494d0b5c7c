//! A key-value server for the binary length-prefixed protocol of `kv.proto`: `Get`,
//! `Put` and `Del` requests, keys in memory.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example kv-server -- --listen 127.0.0.1:7007
//! ```

use asyncore_examples::cli;
use asyncore_examples::kv::{KvServer, SharedKvStore};
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let flags = cli::server_flags("127.0.0.1:7007");
    let args = cli::parse_or_exit(
        "A key-value server: the binary protocol of kv.proto (frames of a 4-byte big-endian \
         length and an opcode: Get, Put, Del), keys in memory, shared by all loops.",
        &flags,
    );
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kv-server: {e}");
            std::process::exit(2);
        }
    };
    let store = SharedKvStore::default();
    if let Err(e) = serve(&config, move || KvServer::with_store(store.clone())) {
        eprintln!("kv-server: {e}");
        std::process::exit(1);
    }
}
