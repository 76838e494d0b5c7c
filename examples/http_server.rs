//! An HTTP/1.1 server (RFC 9112) generated from `protocols/descriptions/http.aproto`:
//! `GET` and `HEAD` of the static files under `--root DIR`, `POST /echo` answered with
//! the request's body, keep-alive and pipelining; without a root, `/` answers a short
//! greeting.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example http-server -- --listen 127.0.0.1:8080 --root ./public
//! curl -v http://127.0.0.1:8080/index.html
//! cargo run --release -p asyncore-examples --example http-server -- --access-log access.log
//! wrk -t1 -c10 -d3s http://127.0.0.1:8080/
//! cargo run --release -p asyncore-examples --example http-server -- --tls-cert cert.pem --tls-key key.pem
//! curl --cacert cert.pem https://localhost:8080/
//! ```

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use asyncore_examples::cli::{self, ServerArgs, Threads, Timeout, TlsArgs};
use asyncore_examples::http_server::{
    canonical_root, AccessLog, Config, HttpServer, Root, Stats, MAX_BODY_LIMIT, MAX_FILE_LIMIT,
};
use asyncore_examples::server::serve;
use clap::Parser;

const PROGRAM: &str = "http-server";

/// An HTTP/1.1 server: GET and HEAD of the files under --root, POST /echo returns the
/// request body; keep-alive and pipelining. Without --root, / answers a short greeting.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs<8080>,
    #[command(flatten)]
    threads: Threads,
    #[command(flatten)]
    tls: TlsArgs,
    /// Append a line per response to FILE (`-`: standard output), in the combined log
    /// format
    #[arg(long, value_name = "FILE")]
    access_log: Option<String>,
    /// Serve the files under DIR (a directory answers with its index.html); without it `/`
    /// answers a short greeting
    #[arg(long, value_name = "DIR", value_parser = root)]
    root: Option<Root>,
    /// Largest request body (bytes, or KiB/MiB; at most 16MiB); larger gets 413
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = cli::size(0, MAX_BODY_LIMIT))]
    max_body: usize,
    /// Largest file served (bytes, or KiB/MiB/GiB; at most 1GiB); larger gets 403
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = cli::size(0, MAX_FILE_LIMIT as usize))]
    max_file: usize,
    /// Close a connection silent this long (0: never)
    #[arg(long, value_name = "SECS", default_value = "60")]
    idle_timeout: Timeout,
    /// A request line and header fields not whole this long after their first byte get 408
    /// and a close (0: never)
    #[arg(long, value_name = "SECS", default_value = "10")]
    header_timeout: Timeout,
}

/// The value of `--root`: a directory, opened.
fn root(dir: &str) -> Result<Root, String> {
    canonical_root(Path::new(dir)).map_err(|e| format!("not a directory that can be served: {e}"))
}

fn main() {
    let cli = Cli::parse();
    let access_log = cli
        .access_log
        .as_deref()
        .map(|path| match AccessLog::open(path) {
            Ok(log) => Arc::new(log),
            Err(e) => cli::usage_error::<Cli>(format!(
                "--access-log {path}: cannot open it for appending: {e}"
            )),
        });
    let config = Arc::new(Config {
        root: cli.root,
        max_body: cli.max_body,
        max_file: cli.max_file as u64,
        idle_timeout: cli.idle_timeout.0,
        header_timeout: cli.header_timeout.0,
        access_log,
    });
    let tls = cli.tls.server_config::<Cli>();
    let stats = Arc::new(Stats::default());
    let counted = stats.clone();
    let result = serve(&cli.server.config(cli.threads.threads), move || {
        HttpServer::new(config.clone(), stats.clone()).with_tls(tls.clone())
    });
    eprintln!(
        "{PROGRAM}: {} requests on {} connections",
        counted.requests.load(Ordering::Relaxed),
        counted.connections.load(Ordering::Relaxed),
    );
    cli::or_exit(PROGRAM, result);
}
