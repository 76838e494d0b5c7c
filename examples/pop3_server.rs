//! A POP3 server (RFC 1939 with CAPA, TOP and UIDL) generated from
//! `protocols/descriptions/pop3.aproto`: serves the messages that
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

use asyncore_examples::cli::{self, ServerArgs, Threads, Timeout};
use asyncore_examples::pop3_server::{Config, Pop3Server, Shared, MAX_SIZE_LIMIT};
use asyncore_examples::server::serve;
use clap::Parser;

const PROGRAM: &str = "pop3-server";

/// A POP3 server (RFC 1939 with CAPA, TOP and UIDL) of the messages smtp-server --maildir
/// stores, for one user: USER/PASS, a snapshot of the maildrop at login, DELE/RSET, and
/// QUIT removing the deleted messages.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs<1110>,
    #[command(flatten)]
    threads: Threads,
    /// The maildrop: the directory smtp-server --maildir writes
    #[arg(long, value_name = "DIR", required = true)]
    maildir: PathBuf,
    /// The user name USER must give
    #[arg(long, value_name = "NAME", required = true, value_parser = user)]
    user: String,
    /// The password PASS must give
    #[arg(long, value_name = "PW", required = true, value_parser = password)]
    password: String,
    /// Close a connection silent this long, removing nothing (0: never)
    #[arg(long, value_name = "SECS", default_value = "600")]
    idle_timeout: Timeout,
    /// Refuse a login to a maildrop of more messages
    #[arg(long, value_name = "N", default_value_t = 10000, value_parser = cli::positive)]
    max_messages: usize,
    /// Largest message RETR and TOP send (bytes, or KiB/MiB; at most 32MiB)
    #[arg(long, value_name = "SIZE", default_value = "24MiB", value_parser = cli::size(1, MAX_SIZE_LIMIT))]
    max_size: usize,
}

/// The value of `--user`: 1 to 255 printable characters, no spaces.
fn user(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > 255 || name.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err("expected a name of printable characters without spaces".into());
    }
    Ok(name.to_string())
}

/// The value of `--password`: 1 to 255 printable characters.
fn password(pw: &str) -> Result<String, String> {
    if pw.is_empty() || pw.len() > 255 || pw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("expected 1 to 255 printable characters".into());
    }
    Ok(pw.to_string())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = std::fs::create_dir_all(&cli.maildir) {
        cli::usage_error::<Cli>(format!(
            "--maildir {}: cannot create it: {e}",
            cli.maildir.display()
        ));
    }
    let mut config = Config::new(cli.maildir, &cli.user, &cli.password);
    config.idle_timeout = cli.idle_timeout.0;
    config.max_messages = cli.max_messages;
    config.max_size = cli.max_size;
    let config = Arc::new(config);
    let shared = Arc::new(Shared::default());
    let counted = shared.clone();
    let result = serve(&cli.server.config(cli.threads.threads), move || {
        Pop3Server::new(config.clone(), shared.clone())
    });
    eprintln!(
        "{PROGRAM}: {} connections, {} logins, {} messages retrieved, {} removed",
        counted.connections.load(Ordering::Relaxed),
        counted.logins.load(Ordering::Relaxed),
        counted.retrieved.load(Ordering::Relaxed),
        counted.removed.load(Ordering::Relaxed),
    );
    cli::or_exit(PROGRAM, result);
}
