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

use asyncore_examples::cli;
use asyncore_examples::pop3_client::{run, Command, Options, Outcome};
use asyncore_runtime::Addr;

const PROGRAM: &str = "pop3-client";

const ABOUT: &str = "A POP3 client: logs in to the server at --connect with --user and \
--password and runs COMMAND: `list` prints `N SIZE` for each message, `retr N` writes \
message N to standard output as it came (unstuffed, CRLF line ends), `dele N` removes \
message N. Exits non-zero with the server's -ERR text on standard error on a refusal.";

fn flags() -> Vec<cli::Flag> {
    vec![
        cli::Flag {
            name: "connect",
            value: "HOST:PORT",
            default: Some("127.0.0.1:110"),
            help: "Server to connect to",
        },
        cli::Flag {
            name: "user",
            value: "NAME",
            default: None,
            help: "User name (USER; required)",
        },
        cli::Flag {
            name: "password",
            value: "PW",
            default: None,
            help: "Password (PASS; required)",
        },
        cli::Flag {
            name: "timeout",
            value: "SECS",
            default: Some("60"),
            help: "Give up after this long",
        },
        cli::Flag {
            name: "backend",
            value: "select|poll|epoll",
            default: Some("epoll"),
            help: "Readiness backend of the loop",
        },
    ]
}

fn usage_error(msg: &str) -> ! {
    eprintln!("{PROGRAM}: {msg}");
    std::process::exit(2);
}

fn main() {
    let flags = flags();
    // The command words stand alone: take them out before the common parser.
    let mut words = Vec::new();
    let mut rest = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if !arg.starts_with('-') {
            words.push(arg);
            continue;
        }
        let takes_value = arg
            .strip_prefix("--")
            .filter(|n| !n.contains('='))
            .and_then(|n| flags.iter().find(|f| f.name == n))
            .is_some_and(|f| !f.value.is_empty());
        rest.push(arg);
        if takes_value {
            if let Some(v) = it.next() {
                rest.push(v);
            }
        }
    }
    let args = match cli::parse(rest, &flags) {
        Ok(Some(a)) => a,
        Ok(None) => {
            let usage = cli::usage(PROGRAM, ABOUT, &flags);
            print!(
                "{}",
                usage.replacen(
                    "[OPTIONS]\n",
                    "[OPTIONS] COMMAND\n\nCommands: list | retr N | dele N\n",
                    1
                )
            );
            return;
        }
        Err(e) => usage_error(&e),
    };
    let command =
        Command::parse(&words).unwrap_or_else(|e| usage_error(&format!("{e}; see --help")));
    let Some(user) = args.get("user") else {
        usage_error("--user is required; see --help");
    };
    let Some(password) = args.get("password") else {
        usage_error("--password is required; see --help");
    };
    let connect = args.get("connect").unwrap_or_default();
    let addr: std::net::SocketAddr = match connect.parse() {
        Ok(a) => a,
        Err(e) => usage_error(&format!(
            "--connect takes HOST:PORT with a numeric address, not `{connect}`: {e}"
        )),
    };
    let timeout = match args.get("timeout").unwrap_or("60").parse::<u64>() {
        Ok(s) if s > 0 => std::time::Duration::from_secs(s),
        _ => usage_error("--timeout takes a number of seconds, at least 1"),
    };
    let backend = args.backend().unwrap_or_else(|e| usage_error(&e));
    let options = Options { backend, timeout };
    let outcome = match run(&Addr::from(addr), user, password, command, &options) {
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
