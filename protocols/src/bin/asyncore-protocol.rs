//! `asyncore-protocol`: check a protocol description, draw its state machine, or show the
//! Rust it becomes.
//!
//! ```text
//! asyncore-protocol check FILE...
//! asyncore-protocol graph FILE [--format dot|mermaid]
//! asyncore-protocol expand FILE [--role server|client|both]
//! ```
//!
//! Descriptions end in `.aproto`; a `.proto` file (the extension they had before) is still
//! read, with a warning.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Check a protocol description, draw its state machine, or show the Rust it becomes.
#[derive(Debug, Parser)]
#[command(
    name = "asyncore-protocol",
    version,
    arg_required_else_help = true,
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report every error in the descriptions, as rustc does (file:line:col)
    Check {
        /// The protocol descriptions (.aproto files)
        #[arg(value_name = "FILE", required = true)]
        files: Vec<String>,
    },
    /// Print the state machine as Graphviz DOT or Mermaid
    Graph {
        /// The protocol description (an .aproto file)
        #[arg(value_name = "FILE")]
        file: String,
        /// The notation of the drawing
        #[arg(long, value_enum, default_value_t = Format::Dot)]
        format: Format,
    },
    /// Print the Rust module generated from the description, formatted
    Expand {
        /// The protocol description (an .aproto file)
        #[arg(value_name = "FILE")]
        file: String,
        /// Keep only the items of one side
        #[arg(long, value_enum, default_value_t = Role::Both)]
        role: Role,
    },
}

/// How `graph` draws the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Graphviz DOT
    Dot,
    /// A Mermaid state diagram
    Mermaid,
}

/// Which items `expand` keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// The server side's items
    Server,
    /// The client side's items
    Client,
    /// The items of both sides
    Both,
}

impl Role {
    /// The name `gen::generate_role` takes.
    fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
            Role::Both => "both",
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprint!("{err}");
            if !err.ends_with('\n') {
                eprintln!();
            }
            ExitCode::FAILURE
        }
    }
}

/// Reads and compiles a description; a path in the old extension (`.proto`) is read too,
/// with a warning on standard error.
fn load(path: &str) -> Result<(String, asyncore_protocol::ir::Protocol), String> {
    if let Some(warning) = asyncore_protocol::old_extension_warning(path) {
        eprintln!("warning: {warning}");
    }
    let src =
        std::fs::read_to_string(path).map_err(|e| format!("error: cannot read {path}: {e}\n"))?;
    match asyncore_protocol::compile(&src) {
        Ok(p) => Ok((src, p)),
        Err(errors) => {
            let mut out: String = errors.iter().map(|e| e.render(path, &src) + "\n").collect();
            out += &format!(
                "error: could not compile `{path}` due to {} previous error{}\n",
                errors.len(),
                if errors.len() == 1 { "" } else { "s" }
            );
            Err(out)
        }
    }
}

fn run(command: Command) -> Result<String, String> {
    match command {
        Command::Check { files } => {
            let mut out = String::new();
            let mut failed = String::new();
            for f in &files {
                match load(f) {
                    Ok((_, p)) => {
                        out += &format!(
                            "{f}: ok: protocol `{}`, {} messages, {} states{}\n",
                            p.name,
                            p.messages.len(),
                            p.states.len(),
                            starttls_note(&p)
                        )
                    }
                    Err(e) => failed += &e,
                }
            }
            if failed.is_empty() {
                Ok(out)
            } else {
                Err(failed)
            }
        }
        Command::Graph { file, format } => {
            let (_, p) = load(&file)?;
            match format {
                Format::Dot => Ok(asyncore_protocol::graph::dot(&p)),
                Format::Mermaid => Ok(asyncore_protocol::graph::mermaid(&p)),
            }
        }
        Command::Expand { file, role } => {
            let (_, p) = load(&file)?;
            let name = proc_macro2::Ident::new(&p.name, proc_macro2::Span::call_site());
            let tokens =
                asyncore_protocol::gen::generate_role(&p, &quote::quote!(pub), &name, role.name());
            asyncore_protocol::gen::pretty(tokens)
                .map_err(|e| format!("error: generated code does not parse: {e}\n"))
        }
    }
}

/// `, starts TLS after `StartTls` in `Greeted``: where the description upgrades the
/// connection (`starttls`), for `check`'s summary; empty when it does not.
fn starttls_note(p: &asyncore_protocol::ir::Protocol) -> String {
    let places: Vec<String> = p
        .states
        .iter()
        .flat_map(|s| {
            let mut msgs: Vec<usize> = s.starttls.iter().map(|(m, _)| *m).collect();
            msgs.dedup();
            msgs.into_iter()
                .map(move |m| format!("`{}` in `{}`", p.messages[m].name, s.name))
        })
        .collect();
    if places.is_empty() {
        String::new()
    } else {
        format!(", starts TLS after {}", places.join(", "))
    }
}
