//! A memcached server (the text protocol), generated from `memcache.proto`.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example memcache-server -- --listen 127.0.0.1:11211 -m 64
//! ```

use asyncore_examples::cli::{self, Flag};
use asyncore_examples::memcache_server::{MemcacheServer, Settings, Store};
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:11211");
    flags.push(Flag {
        name: "memory-limit",
        value: "MEGABYTES",
        default: Some("64"),
        help: "Memory for items, in megabytes (also -m, as memcached's); the least recently \
               used items go to make room",
    });
    let args = cli::parse_or_exit_with_short(
        "A memcached server: the text protocol (get, gets, gat, gats, set, add, replace, append, \
         prepend, cas, delete, incr, decr, touch, flush_all, version, verbosity, stats, \
         slabs automove, quit), items in memory within a limit, shared by all loops.",
        &flags,
        &[("m", "memory-limit")],
    );
    let config = match ServerConfig::from_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("memcache-server: {e}");
            std::process::exit(2);
        }
    };
    let megabytes = args.get("memory-limit").unwrap_or("64");
    let maxbytes = match megabytes.parse::<usize>() {
        Ok(m) if m >= 1 => m.saturating_mul(1024 * 1024),
        _ => {
            eprintln!("memcache-server: --memory-limit takes a number of megabytes, at least 1, not `{megabytes}`");
            std::process::exit(2);
        }
    };
    let store = Store::shared_with(Settings {
        maxbytes,
        listen: config.listen.to_string(),
        threads: config.threads,
    });
    if let Err(e) = serve(&config, move || MemcacheServer::with_store(store.clone())) {
        eprintln!("memcache-server: {e}");
        std::process::exit(1);
    }
}
