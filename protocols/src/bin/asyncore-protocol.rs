//! `asyncore-protocol`: check a protocol description, draw its state machine, or show the
//! Rust it becomes.
//!
//! ```text
//! asyncore-protocol check FILE...
//! asyncore-protocol graph FILE [--format dot|mermaid]
//! asyncore-protocol expand FILE [--role server|client]
//! ```

use std::process::ExitCode;

const USAGE: &str = "\
usage: asyncore-protocol check FILE...
       asyncore-protocol graph FILE [--format dot|mermaid]
       asyncore-protocol expand FILE [--role server|client]

  check    report every error in the descriptions, as rustc does (file:line:col)
  graph    print the state machine as Graphviz DOT (default) or Mermaid
  expand   print the Rust module generated from the description, formatted;
           --role keeps only the items of one side (both by default)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
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

fn load(path: &str) -> Result<(String, asyncore_protocol::ir::Protocol), String> {
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

fn option<'a>(
    args: &'a [String],
    name: &str,
    default: &'a str,
    allowed: &[&str],
) -> Result<&'a str, String> {
    let value = match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .map(String::as_str)
            .ok_or(format!("error: {name} needs a value\n"))?,
        None => default,
    };
    if allowed.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "error: {name} takes one of {}, not `{value}`\n",
            allowed.join(", ")
        ))
    }
}

fn run(args: &[String]) -> Result<String, String> {
    let (cmd, rest) = args.split_first().ok_or_else(|| USAGE.to_string())?;
    let files: Vec<&String> = {
        let mut v = Vec::new();
        let mut skip = false;
        for a in rest {
            if skip {
                skip = false;
            } else if a.starts_with("--") {
                skip = true;
            } else {
                v.push(a);
            }
        }
        v
    };
    match cmd.as_str() {
        "check" => {
            if files.is_empty() {
                return Err(USAGE.into());
            }
            let mut out = String::new();
            let mut failed = String::new();
            for f in files {
                match load(f) {
                    Ok((_, p)) => {
                        out += &format!(
                            "{f}: ok: protocol `{}`, {} messages, {} states\n",
                            p.name,
                            p.messages.len(),
                            p.states.len()
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
        "graph" => {
            let [f] = files.as_slice() else {
                return Err(USAGE.into());
            };
            let (_, p) = load(f)?;
            match option(rest, "--format", "dot", &["dot", "mermaid"])? {
                "dot" => Ok(asyncore_protocol::graph::dot(&p)),
                _ => Ok(asyncore_protocol::graph::mermaid(&p)),
            }
        }
        "expand" => {
            let [f] = files.as_slice() else {
                return Err(USAGE.into());
            };
            let role = option(rest, "--role", "both", &["server", "client", "both"])?;
            let (_, p) = load(f)?;
            let name = proc_macro2::Ident::new(&p.name, proc_macro2::Span::call_site());
            let tokens =
                asyncore_protocol::gen::generate_role(&p, &quote::quote!(pub), &name, role);
            asyncore_protocol::gen::pretty(tokens)
                .map_err(|e| format!("error: generated code does not parse: {e}\n"))
        }
        "--help" | "-h" | "help" => Ok(format!("{USAGE}\n")),
        other => Err(format!("error: unknown command `{other}`\n{USAGE}")),
    }
}
