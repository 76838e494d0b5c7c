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

use asyncore_examples::cli;
use asyncore_examples::kv::{exchange, requests_from_args, Reply, Request};
use asyncore_examples::memcache_client::split_args;

fn main() {
    let flags = vec![
        cli::Flag {
            name: "connect",
            value: "HOST:PORT",
            default: Some("127.0.0.1:7007"),
            help: "kv server to connect to",
        },
        cli::Flag {
            name: "backend",
            value: "select|poll|epoll",
            default: Some("epoll"),
            help: "Readiness backend of the loop",
        },
        cli::Flag {
            name: "timeout",
            value: "SECONDS",
            default: Some("30"),
            help: "Give up when the replies take longer",
        },
    ];
    let about = "A kv client. Requests: get KEY | put KEY VALUE | del KEY, any number of them \
                 (sent pipelined); a VALUE of - is read from standard input. get prints the \
                 value as it is, put and del print OK.";
    let (opts, words) = split_args(std::env::args().skip(1), &["connect", "backend", "timeout"]);
    let args = match cli::parse(opts, &flags) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", cli::usage("kv-client", about, &flags));
            return;
        }
        Err(e) => {
            eprintln!("kv-client: {e}");
            std::process::exit(2);
        }
    };
    let run = || -> Result<(Vec<Request>, Vec<Reply>), String> {
        let addr: std::net::SocketAddr = args
            .get("connect")
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("--connect takes HOST:PORT with a numeric address: {e}"))?;
        let backend = args.backend()?;
        let timeout: f64 = args
            .get("timeout")
            .unwrap_or("30")
            .parse()
            .ok()
            .filter(|t: &f64| t.is_finite() && *t > 0.0)
            .ok_or("--timeout takes a positive number of seconds")?;
        let requests = requests_from_args(&words, || {
            let mut v = Vec::new();
            std::io::stdin().read_to_end(&mut v)?;
            Ok(v)
        })?;
        let replies = exchange(
            addr,
            backend,
            requests.clone(),
            Duration::from_secs_f64(timeout),
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
