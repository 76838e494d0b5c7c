//! An SMTP client: sends the message in FILE to the recipients through one server,
//! following its replies (`EHLO`, pipelining when offered, `MAIL`, `RCPT`, `DATA`), and
//! exits 0 when the server takes it.
//!
//! ```text
//! cargo run --release -p asyncore-examples --example smtp-client -- \
//!     --connect 127.0.0.1:2525 --from me@example.org --to you@example.org message.eml
//! ```

use std::io::Read;

use asyncore_examples::cli;
use asyncore_examples::smtp_client::{send_mail, Options, SendError};
use asyncore_runtime::Addr;

const PROGRAM: &str = "smtp-client";

const ABOUT: &str = "An SMTP client: sends the message in FILE (`-`: standard input) to every \
--to address through the server at --connect, and exits 0 once the server has taken it \
(250 after the message text), non-zero with the server's reply otherwise. Line ends become \
CRLF; dot-stuffing is done on the way.";

fn flags() -> Vec<cli::Flag> {
    vec![
        cli::Flag {
            name: "connect",
            value: "HOST:PORT",
            default: Some("127.0.0.1:2525"),
            help: "Server to connect to",
        },
        cli::Flag {
            name: "from",
            value: "ADDR",
            default: None,
            help: "Envelope sender (MAIL FROM); empty for the null sender",
        },
        cli::Flag {
            name: "to",
            value: "ADDR",
            default: None,
            help: "Envelope recipient (RCPT TO); repeat for several",
        },
        cli::Flag {
            name: "helo",
            value: "NAME",
            default: Some("localhost"),
            help: "Name given in EHLO/HELO",
        },
        cli::Flag {
            name: "no-pipelining",
            value: "",
            default: None,
            help: "Wait for each reply even when the server offers PIPELINING",
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
    // `--to` may repeat and FILE stands alone: take them out before the common parser.
    let mut to = Vec::new();
    let mut file = None;
    let mut rest = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--to" {
            match it.next() {
                Some(v) => to.push(v),
                None => usage_error("--to needs a value (ADDR)"),
            }
        } else if let Some(v) = arg.strip_prefix("--to=") {
            to.push(v.to_string());
        } else if arg == "-" || !arg.starts_with('-') {
            if file.replace(arg).is_some() {
                usage_error("give one FILE; see --help");
            }
        } else {
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
    }
    let args = match cli::parse(rest, &flags) {
        Ok(Some(a)) => a,
        Ok(None) => {
            let usage = cli::usage(PROGRAM, ABOUT, &flags);
            print!("{}", usage.replacen("[OPTIONS]\n", "[OPTIONS] FILE\n", 1));
            return;
        }
        Err(e) => usage_error(&e),
    };
    let Some(from) = args.get("from") else {
        usage_error("--from is required; see --help");
    };
    if to.is_empty() {
        usage_error("at least one --to is required; see --help");
    }
    let Some(file) = file else {
        usage_error("FILE is required (`-` for standard input); see --help");
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
    let backend = match args.backend() {
        Ok(b) => b,
        Err(e) => usage_error(&e),
    };
    let message = if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(&file)
    };
    let message = match message {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{PROGRAM}: cannot read {file}: {e}");
            std::process::exit(1);
        }
    };
    let options = Options {
        helo: args.get("helo").unwrap_or("localhost").to_string(),
        backend,
        timeout,
        pipelining: args.get("no-pipelining").is_none(),
    };
    match send_mail(&Addr::from(addr), from, &to, &message, &options) {
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
