//! A memcached server (the text protocol), generated from `memcache.proto`.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example memcache-server -- --listen 127.0.0.1:11211
//! ```

use asyncore_examples::cli;
use asyncore_examples::memcache_server::{MemcacheServer, Store};
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let flags = cli::server_flags("127.0.0.1:11211");
    let args = cli::parse_or_exit(
        "A memcached server: the text protocol (get, gets, gat, gats, set, add, replace, append, \
         prepend, cas, delete, incr, decr, touch, flush_all, version, verbosity, stats, quit), \
         items in memory, shared by all loops.",
        &flags,
    );
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("memcache-server: {e}");
            std::process::exit(2);
        }
    };
    let store = Store::shared();
    if let Err(e) = serve(&config, move || MemcacheServer::with_store(store.clone())) {
        eprintln!("memcache-server: {e}");
        std::process::exit(1);
    }
}
