//! An SMTP client: sends the message in FILE to the recipients through one server,
//! following its replies (`EHLO`, pipelining when offered, `MAIL`, `RCPT`, `DATA`), and
//! exits 0 when the server takes it.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example smtp-client -- \
//!     --connect 127.0.0.1:2525 --from me@example.org --to you@example.org message.eml
//! ```
//!
//! `--starttls` starts TLS (RFC 3207) after `EHLO` and before `MAIL`, checking the
//! server's certificate against `--cacert FILE` or the system's roots, for the name
//! `--tls-name` (by default the address of `--connect`).

use std::io::Read;
use std::time::Duration;

use asyncore_examples::cli::ClientArgs;
use asyncore_examples::smtp_client::{send_mail, Options, SendError};
use asyncore_runtime::wire::ClientTls;
use asyncore_runtime::{tls, Addr};
use clap::Parser;

const PROGRAM: &str = "smtp-client";

/// An SMTP client: sends the message in FILE (`-`: standard input) to every --to address
/// through the server at --connect, and exits 0 once the server has taken it (250 after
/// the message text), non-zero with the server's reply otherwise. Line ends become CRLF;
/// dot-stuffing is done on the way.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs<2525>,
    /// Envelope sender (MAIL FROM); empty for the null sender
    #[arg(long, value_name = "ADDR", required = true)]
    from: String,
    /// Envelope recipient (RCPT TO); repeat for several
    #[arg(long, value_name = "ADDR", required = true)]
    to: Vec<String>,
    /// Name given in EHLO/HELO
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    helo: String,
    /// Wait for each reply even when the server offers PIPELINING
    #[arg(long)]
    no_pipelining: bool,
    /// Start TLS (STARTTLS) after EHLO, before MAIL; no message goes out in plaintext
    #[arg(long)]
    starttls: bool,
    /// Trust the certificates in FILE (PEM) for --starttls instead of the system's roots
    #[arg(long, value_name = "FILE", requires = "starttls")]
    cacert: Option<std::path::PathBuf>,
    /// The name the server's certificate must be for (default: the address of --connect)
    #[arg(long, value_name = "NAME", requires = "starttls")]
    tls_name: Option<String>,
    /// Give up after this long
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// The message (`-`: standard input)
    #[arg(value_name = "FILE")]
    file: String,
}

fn main() {
    let cli = Cli::parse();
    let message = if cli.file == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(&cli.file)
    };
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{PROGRAM}: cannot read {}: {e}", cli.file);
            std::process::exit(1);
        }
    };
    let addr = cli.client.connect;
    let starttls = cli.starttls.then(|| {
        let name = cli
            .tls_name
            .clone()
            .unwrap_or_else(|| addr.ip().to_string());
        let config = tls::client_config(cli.cacert.as_deref());
        match config.and_then(|c| Ok(ClientTls::new(c, tls::server_name(&name)?))) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{PROGRAM}: --starttls: {e}");
                std::process::exit(2);
            }
        }
    });
    let options = Options {
        helo: cli.helo,
        backend: cli.client.backend,
        timeout: Duration::from_secs(cli.timeout),
        pipelining: !cli.no_pipelining,
        starttls,
    };
    match send_mail(&Addr::from(addr), &cli.from, &cli.to, &message, &options) {
        Ok(done) => {
            for (who, reply) in &done.refused {
                eprintln!(
                    "{PROGRAM}: RCPT TO:<{who}>: {}",
                    reply.to_string().replace('\n', " / ")
                );
            }
            println!("{}", done.reply);
        }
        Err(e) => {
            if let SendError::Refused {
                command,
                recipients,
                ..
            } = &e
            {
                // The last refusal is the error itself.
                for (who, reply) in recipients {
                    if *command == format!("RCPT TO:<{who}>") {
                        continue;
                    }
                    eprintln!(
                        "{PROGRAM}: RCPT TO:<{who}>: {}",
                        reply.to_string().replace('\n', " / ")
                    );
                }
            }
            eprintln!("{PROGRAM}: {addr}: {e}");
            std::process::exit(1);
        }
    }
}
