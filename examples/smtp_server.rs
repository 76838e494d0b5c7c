//! An SMTP server (RFC 5321) generated from `protocols/descriptions/smtp.proto`: takes
//! mail from any client (`EHLO` with `PIPELINING`, `SIZE`, `8BITMIME`) and stores each
//! message as one file of `--maildir DIR`, byte-exact after dot-unstuffing, or counts and
//! drops it.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example smtp-server -- --listen 127.0.0.1:2525 --maildir /tmp/mail
//! swaks --server 127.0.0.1:2525 --to you@example.org --pipeline
//! ```

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use asyncore_examples::cli;
use asyncore_examples::resp_server::parse_size;
use asyncore_examples::server::{serve, ServerConfig};
use asyncore_examples::smtp_server::{Config, SmtpServer, Stats, MAX_SIZE_LIMIT};

const PROGRAM: &str = "smtp-server";

fn config(args: &cli::Args) -> Result<(ServerConfig, Config), String> {
    let server = ServerConfig::from_args(args)?;
    let mut config = Config::default();
    if let Some(dir) = args.get("maildir") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("--maildir {}: cannot create it: {e}", dir.display()))?;
        config.maildir = Some(dir);
    }
    let size = args.get("max-size").unwrap_or("10MiB");
    config.max_size = parse_size(size)
        .filter(|&n| n > 0 && n <= MAX_SIZE_LIMIT)
        .ok_or_else(|| {
            format!("--max-size takes a size from 1 byte to 24MiB (such as 10MiB), not `{size}`")
        })?;
    if let Some(name) = args.get("hostname") {
        if name.is_empty() || name.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(format!("--hostname takes a host name, not `{name}`"));
        }
        config.hostname = name.to_string();
    }
    if let Some(n) = args.get("max-recipients") {
        config.max_recipients = n
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("--max-recipients takes a number, at least 1, not `{n}`"))?;
    }
    if let Some(timeout) = args.idle_timeout()? {
        config.idle_timeout = timeout;
    }
    if let Some(timeout) = args.seconds("command-timeout")? {
        config.command_timeout = timeout;
    }
    Ok((server, config))
}

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:2525");
    flags.extend([
        cli::Flag {
            name: "maildir",
            value: "DIR",
            default: None,
            help: "Store each accepted message as DIR/ID.eml (created if missing); without it messages are counted and dropped",
        },
        cli::Flag {
            name: "max-size",
            value: "SIZE",
            default: Some("10MiB"),
            help: "Largest message, advertised as SIZE (bytes, or KiB/MiB; at most 24MiB)",
        },
        cli::Flag {
            name: "hostname",
            value: "NAME",
            default: Some("localhost"),
            help: "Name in the greeting and the EHLO reply",
        },
        cli::Flag {
            name: "max-recipients",
            value: "N",
            default: Some("1000"),
            help: "Most recipients of one message; more get 452",
        },
        cli::Flag {
            name: "idle-timeout",
            value: "SECS",
            default: Some("300"),
            help: "Close a connection silent this long (0: never)",
        },
        cli::Flag {
            name: "command-timeout",
            value: "SECS",
            default: Some("300"),
            help: "A command line not whole this long after its first byte gets 421 and a close (0: never)",
        },
    ]);
    let args = cli::parse_or_exit(
        "An SMTP server (RFC 5321): EHLO with PIPELINING, SIZE and 8BITMIME; each accepted \
         message is stored in --maildir, byte-exact after dot-unstuffing, or counted and dropped.",
        &flags,
    );
    let (server, config) = cli::or_exit(PROGRAM, config(&args), 2);
    let config = Arc::new(config);
    let stats = Arc::new(Stats::default());
    let counted = stats.clone();
    let result = serve(&server, move || {
        SmtpServer::new(config.clone(), stats.clone())
    });
    eprintln!(
        "{PROGRAM}: {} messages accepted ({} bytes) on {} connections",
        counted.messages.load(Ordering::Relaxed),
        counted.bytes.load(Ordering::Relaxed),
        counted.connections.load(Ordering::Relaxed),
    );
    cli::or_exit(PROGRAM, result, 1);
}
