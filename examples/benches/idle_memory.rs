//! Memory per idle connection: each of our servers next to redis-server, memcached and
//! nginx, in one run. Each server is started alone, `N` connections are opened to it and
//! left idle, and the growth of its resident set (`VmRSS`, nginx's worker included) is
//! divided by `N`: first for connections that sent nothing, then after each sent one
//! request and read its reply (a keep-alive connection between requests), then after
//! all of them closed (what the server did not give back), and last for new connections
//! that each sent the start of a request and then one more byte, never finishing it (a
//! slowloris).
//!
//! ```text
//! cargo bench -p asyncore-examples --bench idle_memory              # 10,000 connections
//! cargo bench -p asyncore-examples --bench idle_memory -- --conns 2000
//! cargo bench -p asyncore-examples --bench idle_memory -- --only http-server,nginx
//! ```
//!
//! It builds the example servers in release mode first. A peer that is not installed is
//! left out with a note. The measurement itself is `support/idle.rs`, which the `peers`
//! benchmark runs too.

#[allow(dead_code)] // what only the peers benchmark uses
#[path = "support/common.rs"]
mod common;
#[path = "support/idle.rs"]
mod idle;

/// Our servers, by example name.
const OURS: [&str; 6] = [
    "resp-server",
    "memcache-server",
    "kv-server",
    "http-server",
    "smtp-server",
    "chat",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let conns: usize = args
        .iter()
        .position(|a| a == "--conns")
        .and_then(|i| args.get(i + 1))
        .map_or(10_000, |v| v.parse().expect("--conns N"));
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').map(str::to_string).collect());
    asyncore_examples::server::raise_fd_limit();
    let examples = common::build_examples();
    idle::run(&examples, &OURS, conns, idle::Steps::All, only.as_deref());
}
