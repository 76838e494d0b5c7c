//! An in-memory key-value server speaking RESP2 (the Redis protocol), generated from
//! `protocols/descriptions/resp.proto`; `redis-cli` and `redis-benchmark` talk to it.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example resp-server -- --listen 127.0.0.1:6379
//! redis-cli -p 6379 set greeting hello
//! ```

use asyncore_examples::cli;
use asyncore_examples::resp_server::{parse_size, Limits, RespServer};
use asyncore_examples::server::{serve, ServerConfig};

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:6379");
    // One store per process: several loops would each have their own keyspace.
    flags.retain(|f| f.name != "threads");
    flags.push(cli::Flag {
        name: "maxmemory",
        value: "SIZE",
        default: Some("1GiB"),
        help: "Refuse writes with -OOM above this estimated memory (bytes, or KiB/MiB/GiB; 0: no limit)",
    });
    flags.push(cli::Flag {
        name: "output-limit",
        value: "SIZE",
        default: Some("513MiB"),
        help: "Close a connection whose queued replies exceed this (bytes, or KiB/MiB/GiB)",
    });
    let args = cli::parse_or_exit(
        "An in-memory RESP2 (Redis protocol) server: strings, lists, expiry, for redis-cli and \
         redis-benchmark. It runs one loop (no --threads): all connections share one keyspace.",
        &flags,
    );
    let config = ServerConfig::from_args(&args).and_then(|config| {
        let max = args.get("maxmemory").unwrap_or("1GiB");
        let max_memory = parse_size(max).ok_or_else(|| {
            format!("--maxmemory takes a size such as 1073741824, 512MiB or 1GiB, not `{max}`")
        })?;
        let out = args.get("output-limit").unwrap_or("513MiB");
        let output_limit = parse_size(out).filter(|&n| n > 0).ok_or_else(|| {
            format!("--output-limit takes a size such as 64KiB or 513MiB, not `{out}`")
        })?;
        Ok((
            config,
            Limits {
                max_memory,
                output_limit,
            },
        ))
    });
    let (config, limits) = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("resp-server: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(&config, move || RespServer::new(limits)) {
        eprintln!("resp-server: {e}");
        std::process::exit(1);
    }
}
