//! A POP3 server (RFC 1939 with CAPA, TOP and UIDL) generated from
//! `protocols/descriptions/pop3.proto`: serves the messages that
//! `smtp-server --maildir DIR` stores to one user.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example smtp-server -- --listen 127.0.0.1:2525 --maildir /tmp/mail
//! cargo run --release -p asyncore-examples --example pop3-server -- --maildir /tmp/mail --user alice --password secret
//! swaks --server 127.0.0.1:2525 --to alice@example.org
//! cargo run --release -p asyncore-examples --example pop3-client -- --connect 127.0.0.1:1110 --user alice --password secret list
//! ```

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use asyncore_examples::cli;
use asyncore_examples::pop3_server::{Config, Pop3Server, Shared, MAX_SIZE_LIMIT};
use asyncore_examples::resp_server::parse_size;
use asyncore_examples::server::{serve, ServerConfig};

const PROGRAM: &str = "pop3-server";

fn config(args: &cli::Args) -> Result<(ServerConfig, Config), String> {
    let server = ServerConfig::from_args(args)?;
    let Some(dir) = args.get("maildir") else {
        return Err("--maildir DIR is required; see --help".into());
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| format!("--maildir {}: cannot create it: {e}", dir.display()))?;
    let user = args.get("user").unwrap_or_default();
    if user.is_empty() || user.len() > 255 || user.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(format!(
            "--user takes a name of printable characters without spaces, not `{user}`"
        ));
    }
    let Some(password) = args.get("password") else {
        return Err("--password PW is required; see --help".into());
    };
    if password.is_empty()
        || password.len() > 255
        || password.bytes().any(|b| b < 0x20 || b == 0x7f)
    {
        return Err("--password takes 1 to 255 printable characters".into());
    }
    let mut config = Config::new(dir, user, password);
    if let Some(timeout) = args.idle_timeout()? {
        config.idle_timeout = timeout;
    }
    let n = args.get("max-messages").unwrap_or("10000");
    config.max_messages = n
        .parse::<usize>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("--max-messages takes a number, at least 1, not `{n}`"))?;
    let size = args.get("max-size").unwrap_or("24MiB");
    config.max_size = parse_size(size)
        .filter(|&n| n > 0 && n <= MAX_SIZE_LIMIT)
        .ok_or_else(|| {
            format!("--max-size takes a size from 1 byte to 32MiB (such as 24MiB), not `{size}`")
        })?;
    Ok((server, config))
}

fn main() {
    let mut flags = cli::server_flags("127.0.0.1:1110");
    flags.extend([
        cli::Flag {
            name: "maildir",
            value: "DIR",
            default: None,
            help: "The maildrop: the directory smtp-server --maildir writes (required)",
        },
        cli::Flag {
            name: "user",
            value: "NAME",
            default: None,
            help: "The user name USER must give (required)",
        },
        cli::Flag {
            name: "password",
            value: "PW",
            default: None,
            help: "The password PASS must give (required)",
        },
        cli::Flag {
            name: "idle-timeout",
            value: "SECS",
            default: Some("600"),
            help: "Close a connection silent this long, removing nothing (0: never)",
        },
        cli::Flag {
            name: "max-messages",
            value: "N",
            default: Some("10000"),
            help: "Refuse a login to a maildrop of more messages",
        },
        cli::Flag {
            name: "max-size",
            value: "SIZE",
            default: Some("24MiB"),
            help: "Largest message RETR and TOP send (bytes, or KiB/MiB; at most 32MiB)",
        },
    ]);
    let args = cli::parse_or_exit(
        "A POP3 server (RFC 1939 with CAPA, TOP and UIDL) of the messages smtp-server \
         --maildir stores, for one user: USER/PASS, a snapshot of the maildrop at login, \
         DELE/RSET, and QUIT removing the deleted messages.",
        &flags,
    );
    let (server, config) = cli::or_exit(PROGRAM, config(&args), 2);
    let config = Arc::new(config);
    let shared = Arc::new(Shared::default());
    let counted = shared.clone();
    let result = serve(&server, move || {
        Pop3Server::new(config.clone(), shared.clone())
    });
    eprintln!(
        "{PROGRAM}: {} connections, {} logins, {} messages retrieved, {} removed",
        counted.connections.load(Ordering::Relaxed),
        counted.logins.load(Ordering::Relaxed),
        counted.retrieved.load(Ordering::Relaxed),
        counted.removed.load(Ordering::Relaxed),
    );
    cli::or_exit(PROGRAM, result, 1);
}
