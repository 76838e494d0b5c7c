//! An in-memory key-value server speaking RESP2 (the Redis protocol), generated from
//! `protocols/descriptions/resp.aproto`; `redis-cli` and `redis-benchmark` talk to it.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example resp-server -- --listen 127.0.0.1:6379
//! redis-cli -p 6379 set greeting hello
//! cargo run --release -p asyncore-examples --example resp-server -- --tls-cert cert.pem --tls-key key.pem
//! redis-cli --tls --cacert cert.pem -p 6379 ping
//! ```

use asyncore_examples::cli::{self, ServerArgs, TlsArgs};
use asyncore_examples::resp_server::{Limits, RespServer};
use asyncore_examples::server::serve;
use clap::Parser;

/// An in-memory RESP2 (Redis protocol) server: strings, lists, expiry, for redis-cli and
/// redis-benchmark. It runs one loop (no --threads): all connections share one keyspace.
#[derive(Debug, Parser)]
#[command(name = "resp-server", version, args_override_self = true)]
struct Cli {
    // One store per process: several loops would each have their own keyspace.
    #[command(flatten)]
    server: ServerArgs<6379>,
    #[command(flatten)]
    tls: TlsArgs,
    /// Refuse writes with -OOM above this estimated memory (bytes, or KiB/MiB/GiB; 0: no
    /// limit)
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = cli::size(0, usize::MAX))]
    maxmemory: usize,
    /// Close a connection whose queued replies exceed this (bytes, or KiB/MiB/GiB)
    #[arg(long, value_name = "SIZE", default_value = "513MiB", value_parser = cli::size(1, usize::MAX))]
    output_limit: usize,
}

fn main() {
    let cli = Cli::parse();
    let limits = Limits {
        max_memory: cli.maxmemory,
        output_limit: cli.output_limit,
    };
    let tls = cli.tls.server_config::<Cli>();
    if let Err(e) = serve(&cli.server.config(1), move || {
        RespServer::new(limits).with_tls(tls.clone())
    }) {
        eprintln!("resp-server: {e}");
        std::process::exit(1);
    }
}
