//! An HTTP/1.1 server (RFC 9112) generated from `protocols/descriptions/http.proto`:
//! `GET` and `HEAD` of the static files under `--root DIR`, `POST /echo` answered with
//! the request's body, keep-alive and pipelining; without a root, `/` answers a short
//! greeting.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example http-server -- --listen 127.0.0.1:8080 --root ./public
//! curl -v http://127.0.0.1:8080/index.html
//! cargo run --release -p asyncore-examples --example http-server -- --access-log access.log
//! wrk -t1 -c10 -d3s http://127.0.0.1:8080/
//! ```

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use asyncore_examples::cli;
use asyncore_examples::http_server::{
    canonical_root, AccessLog, Config, HttpServer, Stats, MAX_BODY_LIMIT, MAX_FILE_LIMIT,
};
use asyncore_examples::resp_server::parse_size;
use asyncore_examples::server::{serve, ServerConfig};

const PROGRAM: &str = "http-server";

fn config(args: &cli::Args) -> Result<(ServerConfig, Config), String> {
    let server = ServerConfig::from_args(args)?;
    let mut config = Config::default();
    if let Some(dir) = args.get("root") {
        let root = canonical_root(Path::new(dir))
            .map_err(|e| format!("--root {dir}: not a directory that can be served: {e}"))?;
        config.root = Some(root);
    }
    let size = args.get("max-body").unwrap_or("1MiB");
    config.max_body = parse_size(size)
        .filter(|&n| n <= MAX_BODY_LIMIT)
        .ok_or_else(|| {
            format!("--max-body takes a size from 0 to 16MiB (such as 1MiB), not `{size}`")
        })?;
    let size = args.get("max-file").unwrap_or("64MiB");
    config.max_file = parse_size(size)
        .map(|n| n as u64)
        .filter(|&n| n <= MAX_FILE_LIMIT)
        .ok_or_else(|| {
            format!("--max-file takes a size from 0 to 1GiB (such as 64MiB), not `{size}`")
        })?;
    if let Some(timeout) = args.idle_timeout()? {
        config.idle_timeout = timeout;
    }
    if let Some(timeout) = args.seconds("header-timeout")? {
        config.header_timeout = timeout;
    }
    if let Some(path) = args.get("access-log") {
        let log = AccessLog::open(path)
            .map_err(|e| format!("--access-log {path}: cannot open it for appending: {e}"))?;
        config.access_log = Some(Arc::new(log));
    }
    Ok((server, config))
}

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:8080");
    flags.extend([
        cli::Flag {
            name: "access-log",
            value: "FILE",
            default: None,
            help: "Append a line per response to FILE (`-`: standard output), in the combined log format",
        },
        cli::Flag {
            name: "root",
            value: "DIR",
            default: None,
            help: "Serve the files under DIR (a directory answers with its index.html); without it `/` answers a short greeting",
        },
        cli::Flag {
            name: "max-body",
            value: "SIZE",
            default: Some("1MiB"),
            help: "Largest request body (bytes, or KiB/MiB; at most 16MiB); larger gets 413",
        },
        cli::Flag {
            name: "max-file",
            value: "SIZE",
            default: Some("64MiB"),
            help: "Largest file served (bytes, or KiB/MiB/GiB; at most 1GiB); larger gets 403",
        },
        cli::Flag {
            name: "idle-timeout",
            value: "SECS",
            default: Some("60"),
            help: "Close a connection silent this long (0: never)",
        },
        cli::Flag {
            name: "header-timeout",
            value: "SECS",
            default: Some("10"),
            help: "A request line and header fields not whole this long after their first byte get 408 and a close (0: never)",
        },
    ]);
    let args = cli::parse_or_exit(
        "An HTTP/1.1 server: GET and HEAD of the files under --root, POST /echo returns the \
         request body; keep-alive and pipelining. Without --root, / answers a short greeting.",
        &flags,
    );
    let (server, config) = cli::or_exit(PROGRAM, config(&args), 2);
    let config = Arc::new(config);
    let stats = Arc::new(Stats::default());
    let counted = stats.clone();
    let result = serve(&server, move || {
        HttpServer::new(config.clone(), stats.clone())
    });
    eprintln!(
        "{PROGRAM}: {} requests on {} connections",
        counted.requests.load(Ordering::Relaxed),
        counted.connections.load(Ordering::Relaxed),
    );
    cli::or_exit(PROGRAM, result, 1);
}
