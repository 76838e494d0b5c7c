//! A POP3 client: logs in with USER and PASS and runs one command, `list` (prints
//! `N SIZE` lines), `retr N` (writes the message to standard output, byte-exact, CRLF
//! line ends) or `dele N` (removes it); exits non-zero with the server's `-ERR` text on
//! standard error when the server refuses.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example pop3-client -- \
//!     --connect 127.0.0.1:1110 --user alice --password secret retr 1
//! ```

use std::io::Write;
use std::time::Duration;

use asyncore_examples::cli::{self, ClientArgs};
use asyncore_examples::pop3_client::{run, Command, Options, Outcome};
use asyncore_runtime::Addr;
use clap::Parser;

const PROGRAM: &str = "pop3-client";

/// A POP3 client: logs in to the server at --connect with --user and --password and runs
/// COMMAND: `list` prints `N SIZE` for each message, `retr N` writes message N to standard
/// output as it came (unstuffed, CRLF line ends), `dele N` removes message N. Exits
/// non-zero with the server's -ERR text on standard error on a refusal.
#[derive(Debug, Parser)]
#[command(name = PROGRAM, version, args_override_self = true)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs<110>,
    /// User name (USER)
    #[arg(long, value_name = "NAME", required = true)]
    user: String,
    /// Password (PASS)
    #[arg(long, value_name = "PW", required = true)]
    password: String,
    /// Give up after this long
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// The command: list | retr N | dele N
    #[arg(value_name = "COMMAND", required = true)]
    command: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let command = Command::parse(&cli.command).unwrap_or_else(|e| cli::usage_error::<Cli>(e));
    let addr = cli.client.connect;
    let options = Options {
        backend: cli.client.backend,
        timeout: Duration::from_secs(cli.timeout),
    };
    let outcome = match run(
        &Addr::from(addr),
        &cli.user,
        &cli.password,
        command,
        &options,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{PROGRAM}: {addr}: {e}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    let written = match outcome {
        Outcome::List(list) => list
            .iter()
            .try_for_each(|(n, size)| writeln!(out, "{n} {size}")),
        Outcome::Message(message) => out.write_all(&message),
        Outcome::Deleted(_) => Ok(()),
    };
    if let Err(e) = written.and_then(|()| out.flush()) {
        eprintln!("{PROGRAM}: cannot write the output: {e}");
        std::process::exit(1);
    }
}
