//! A client of the binary kv protocol: runs the requests given as arguments, pipelined,
//! and prints what they return.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example kv-client -- \
//!     --connect 127.0.0.1:7007 put greeting hello get greeting del greeting
//! ```
//!
//! `get KEY` prints the value as it is (no newline added); `put` and `del` print `OK`. A
//! VALUE of `-` is read from standard input. The exit status is 0 when every request
//! succeeded, 1 when a key was not found, 2 on a failure.

use std::io::{Read, Write};
use std::time::Duration;

use asyncore_examples::cli::{self, ClientArgs};
use asyncore_examples::kv::{exchange, requests_from_args, Reply, Request};
use clap::Parser;

/// A kv client. Requests: get KEY | put KEY VALUE | del KEY, any number of them (sent
/// pipelined); a VALUE of - is read from standard input. get prints the value as it is,
/// put and del print OK.
#[derive(Debug, Parser)]
#[command(name = "kv-client", version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs<7007>,
    /// Give up when the replies take longer
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = cli::seconds)]
    timeout: Duration,
    /// The requests: get KEY | put KEY VALUE | del KEY
    #[arg(value_name = "REQUEST", allow_negative_numbers = true)]
    words: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let run = || -> Result<(Vec<Request>, Vec<Reply>), String> {
        let requests = requests_from_args(&cli.words, || {
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v)?;
            Ok(v)
        })?;
        let replies = exchange(
            cli.client.connect,
            cli.client.backend,
            requests.clone(),
            cli.timeout,
        )
        .map_err(|e| e.to_string())?;
        Ok((requests, replies))
    };
    let (requests, replies) = match run() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kv-client: {e}");
            std::process::exit(2);
        }
    };
    let mut status = 0;
    let mut out = std::io::stdout().lock();
    for (req, reply) in requests.iter().zip(&replies) {
        let key = match req {
            Request::Get(k) | Request::Put(k, _) | Request::Del(k) => String::from_utf8_lossy(k),
        };
        let written = match reply {
            Reply::Found(value) => out.write_all(value),
            Reply::Ok => out.write_all(b"OK\n"),
            Reply::NotFound => {
                eprintln!("kv-client: {key}: not found");
                status = status.max(1);
                Ok(())
            }
            Reply::Failed(reason) => {
                eprintln!("kv-client: {key}: failed: {reason}");
                status = 2;
                Ok(())
            }
        };
        if let Err(e) = written.and_then(|()| out.flush()) {
            eprintln!("kv-client: cannot write the output: {e}");
            std::process::exit(2);
        }
    }
    std::process::exit(status);
}
