//! A memcached server (the text protocol), generated from `memcache.aproto`.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example memcache-server -- --listen 127.0.0.1:11211 -m 64
//! ```

use asyncore_examples::cli::{self, ServerArgs, Threads};
use asyncore_examples::memcache_server::{MemcacheServer, Settings, Store};
use asyncore_examples::server::serve;
use clap::Parser;

/// A memcached server: the text protocol (get, gets, gat, gats, set, add, replace, append,
/// prepend, cas, delete, incr, decr, touch, flush_all, version, verbosity, stats, slabs
/// automove, quit), items in memory within a limit, shared by all loops.
#[derive(Debug, Parser)]
#[command(name = "memcache-server", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs<11211>,
    #[command(flatten)]
    threads: Threads,
    /// Memory for items, in megabytes, as memcached's -m; the least recently used items go
    /// to make room
    #[arg(short = 'm', long, value_name = "MEGABYTES", default_value_t = 64, value_parser = cli::positive)]
    memory_limit: usize,
}

fn main() {
    let cli = Cli::parse();
    let config = cli.server.config(cli.threads.threads);
    let store = Store::shared_with(Settings {
        maxbytes: cli.memory_limit.saturating_mul(1024 * 1024),
        listen: config.listen.to_string(),
        threads: config.threads,
    });
    if let Err(e) = serve(&config, move || MemcacheServer::with_store(store.clone())) {
        eprintln!("memcache-server: {e}");
        std::process::exit(1);
    }
}
