//! An SMTP server (RFC 5321) generated from `protocols/descriptions/smtp.aproto`: takes
//! mail from any client (`EHLO` with `PIPELINING`, `SIZE`, `8BITMIME`) and stores each
//! message as one file of `--maildir DIR`, byte-exact after dot-unstuffing, or counts and
//! drops it.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example smtp-server -- --listen 127.0.0.1:2525 --maildir /tmp/mail
//! swaks --server 127.0.0.1:2525 --to you@example.org --pipeline
//! ```
//!
//! With `--tls-cert FILE --tls-key FILE` it offers `STARTTLS` (RFC 3207) in its `EHLO`
//! reply; without them `STARTTLS` gets `454`:
//!
//! ```text
//! cargo run --release -p asyncore-examples --example smtp-server -- --maildir /tmp/mail --tls-cert cert.pem --tls-key key.pem
//! swaks --server 127.0.0.1:2525 --to you@example.org --tls --tls-ca-path cert.pem
//! ```

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use asyncore_examples::cli::{self, ServerArgs, Threads, Timeout, TlsArgs};
use asyncore_examples::server::serve;
use asyncore_examples::smtp_server::{Config, SmtpServer, Stats, MAX_SIZE_LIMIT};
use clap::Parser;

const PROGRAM: &str = "smtp-server";

/// An SMTP server (RFC 5321): EHLO with PIPELINING, SIZE and 8BITMIME, and STARTTLS
/// with --tls-cert and --tls-key; each accepted message is stored in --maildir,
/// byte-exact after dot-unstuffing, or counted and dropped.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs<2525>,
    #[command(flatten)]
    threads: Threads,
    #[command(flatten)]
    tls: TlsArgs,
    /// Store each accepted message as DIR/ID.eml (created if missing); without it messages
    /// are counted and dropped
    #[arg(long, value_name = "DIR")]
    maildir: Option<PathBuf>,
    /// Largest message, advertised as SIZE (bytes, or KiB/MiB; at most 24MiB)
    #[arg(long, value_name = "SIZE", default_value = "10MiB", value_parser = cli::size(1, MAX_SIZE_LIMIT))]
    max_size: usize,
    /// Name in the greeting and the EHLO reply
    #[arg(long, value_name = "NAME", default_value = "localhost", value_parser = hostname)]
    hostname: String,
    /// Most recipients of one message; more get 452
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = cli::positive)]
    max_recipients: usize,
    /// Close a connection silent this long (0: never)
    #[arg(long, value_name = "SECS", default_value = "300")]
    idle_timeout: Timeout,
    /// A command line not whole this long after its first byte gets 421 and a close (0:
    /// never)
    #[arg(long, value_name = "SECS", default_value = "300")]
    command_timeout: Timeout,
}

/// The value of `--hostname`: printable characters, no spaces.
fn hostname(name: &str) -> Result<String, String> {
    if name.is_empty() || name.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err("expected a host name".into());
    }
    Ok(name.to_string())
}

fn main() {
    let cli = Cli::parse();
    if let Some(dir) = &cli.maildir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            cli::usage_error::<Cli>(format!(
                "--maildir {}: cannot create it: {e}",
                dir.display()
            ));
        }
    }
    let tls = cli.tls.server_config::<Cli>();
    let config = Arc::new(Config {
        hostname: cli.hostname,
        max_size: cli.max_size,
        maildir: cli.maildir,
        max_recipients: cli.max_recipients,
        idle_timeout: cli.idle_timeout.0,
        command_timeout: cli.command_timeout.0,
    });
    let stats = Arc::new(Stats::default());
    let counted = stats.clone();
    let result = serve(&cli.server.config(cli.threads.threads), move || {
        SmtpServer::new(config.clone(), stats.clone()).with_tls(tls.clone())
    });
    eprintln!(
        "{PROGRAM}: {} messages accepted ({} bytes) on {} connections",
        counted.messages.load(Ordering::Relaxed),
        counted.bytes.load(Ordering::Relaxed),
        counted.connections.load(Ordering::Relaxed),
    );
    cli::or_exit(PROGRAM, result);
}
