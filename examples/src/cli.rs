//! The flags every example takes: `--listen`, `--connect`, `--backend`, `--threads`,
//! `--help`, plus example-specific ones.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use asyncore_runtime::Backend;

/// One flag an example accepts.
#[derive(Debug, Clone)]
pub struct Flag {
    /// The name without dashes, e.g. `listen`.
    pub name: &'static str,
    /// The value's placeholder in `--help`, e.g. `HOST:PORT`; empty for a switch.
    pub value: &'static str,
    /// The default, shown in `--help`.
    pub default: Option<&'static str>,
    /// One line of help.
    pub help: &'static str,
}

/// Parsed flags.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, String>,
}

impl Args {
    /// The value of `--name`, or its default.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The `--backend` value (default: epoll).
    pub fn backend(&self) -> Result<Backend, String> {
        match self.get("backend") {
            Some(b) => b.parse(),
            None => Ok(Backend::default()),
        }
    }

    /// The `--threads` value (default: 1).
    pub fn threads(&self) -> Result<usize, String> {
        match self.get("threads") {
            Some(t) => match t.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(format!(
                    "--threads takes a number of loops, at least 1, not `{t}`"
                )),
            },
            None => Ok(1),
        }
    }

    /// The `--idle-timeout` value in seconds, 0 meaning never: `Ok(None)` when the flag
    /// is absent, `Ok(Some(None))` for 0.
    ///
    /// ```
    /// use asyncore_examples::cli::{parse, Flag};
    /// use std::time::Duration;
    ///
    /// let flags = [Flag { name: "idle-timeout", value: "SECS", default: None, help: "" }];
    /// let args = parse(["--idle-timeout", "5"].map(String::from), &flags).unwrap().unwrap();
    /// assert_eq!(args.idle_timeout(), Ok(Some(Some(Duration::from_secs(5)))));
    /// ```
    pub fn idle_timeout(&self) -> Result<Option<Option<Duration>>, String> {
        self.seconds("idle-timeout")
    }

    /// The value of the flag `name` in seconds, 0 meaning never: `Ok(None)` when the flag
    /// is absent, `Ok(Some(None))` for 0.
    ///
    /// ```
    /// use asyncore_examples::cli::{parse, Flag};
    /// use std::time::Duration;
    ///
    /// let flags = [Flag { name: "header-timeout", value: "SECS", default: None, help: "" }];
    /// let args = parse(["--header-timeout", "0"].map(String::from), &flags).unwrap().unwrap();
    /// assert_eq!(args.seconds("header-timeout"), Ok(Some(None)));
    /// ```
    pub fn seconds(&self, name: &str) -> Result<Option<Option<Duration>>, String> {
        let Some(t) = self.get(name) else {
            return Ok(None);
        };
        let secs = t
            .parse::<u64>()
            .map_err(|_| format!("--{name} takes a number of seconds, not `{t}`"))?;
        Ok(Some((secs > 0).then(|| Duration::from_secs(secs))))
    }
}

/// The usage text for `flags`.
pub fn usage(program: &str, about: &str, flags: &[Flag]) -> String {
    let mut s = format!("{about}\n\nUsage: {program} [OPTIONS]\n\nOptions:\n");
    for f in flags {
        let left = if f.value.is_empty() {
            format!("--{}", f.name)
        } else {
            format!("--{} {}", f.name, f.value)
        };
        let _ = write!(s, "  {left:<26} {}", f.help);
        if let Some(d) = f.default {
            let _ = write!(s, " [default: {d}]");
        }
        s.push('\n');
    }
    s.push_str("  --help                     Print this help\n");
    s
}

/// Parse `args` (without the program name) against `flags`. `Ok(None)` means `--help`
/// was given and the usage should be printed.
pub fn parse(
    args: impl IntoIterator<Item = String>,
    flags: &[Flag],
) -> Result<Option<Args>, String> {
    let mut out = Args::default();
    for f in flags {
        if let Some(d) = f.default {
            out.values.insert(f.name.to_string(), d.to_string());
        }
    }
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        if arg == "--help" || arg == "-h" {
            return Ok(None);
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument `{arg}`; see --help"));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let Some(flag) = flags.iter().find(|f| f.name == name) else {
            return Err(format!("unknown option `--{name}`; see --help"));
        };
        let value = if flag.value.is_empty() {
            "true".to_string()
        } else {
            match inline.or_else(|| it.next()) {
                Some(v) => v,
                None => return Err(format!("--{name} needs a value ({})", flag.value)),
            }
        };
        out.values.insert(name.to_string(), value);
    }
    Ok(Some(out))
}

/// The standard server flags: `--listen`, `--backend`, `--threads`.
pub fn server_flags(default_listen: &'static str) -> Vec<Flag> {
    vec![
        Flag {
            name: "listen",
            value: "HOST:PORT",
            default: Some(default_listen),
            help: "Address to listen on (port 0 picks a free port)",
        },
        Flag {
            name: "backend",
            value: "select|poll|epoll",
            default: Some("epoll"),
            help: "Readiness backend of the loop",
        },
        Flag {
            name: "threads",
            value: "N",
            default: Some("1"),
            help: "Number of loops, one per thread, sharing the port (SO_REUSEPORT)",
        },
    ]
}

/// `args` with the one-letter forms in `short` written out: `-m 64` is `--memory-limit 64`
/// for `short = [("m", "memory-limit")]` (a server that takes a flag of the program it
/// stands in for, as memcache-server takes memcached's `-m`).
///
/// ```
/// use asyncore_examples::cli::expand_short;
/// let args = expand_short(["-m", "3", "--threads", "2"].map(String::from), &[("m", "memory-limit")]);
/// assert_eq!(args, ["--memory-limit", "3", "--threads", "2"]);
/// ```
pub fn expand_short(args: impl IntoIterator<Item = String>, short: &[(&str, &str)]) -> Vec<String> {
    args.into_iter()
        .map(|a| {
            let long = a
                .strip_prefix('-')
                .and_then(|s| short.iter().find(|(letter, _)| *letter == s));
            match long {
                Some((_, name)) => format!("--{name}"),
                None => a,
            }
        })
        .collect()
}

/// Parse the process's arguments, printing usage and exiting on `--help` (status 0) or
/// on an error (status 2).
pub fn parse_or_exit(about: &str, flags: &[Flag]) -> Args {
    parse_or_exit_with_short(about, flags, &[])
}

/// [`parse_or_exit`], with the one-letter forms of some flags ([`expand_short`]).
pub fn parse_or_exit_with_short(about: &str, flags: &[Flag], short: &[(&str, &str)]) -> Args {
    let program = std::env::args().next().unwrap_or_else(|| "example".into());
    let program = program.rsplit('/').next().unwrap_or("example").to_string();
    match parse(expand_short(std::env::args().skip(1), short), flags) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{}", usage(&program, about, flags));
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(2);
        }
    }
}

/// The value of `result`, or, on an error, `PROGRAM: error` on standard error and an exit
/// with `code` (2 for bad arguments, 1 for a failure while running).
///
/// ```
/// use asyncore_examples::cli::or_exit;
///
/// let n: u16 = or_exit("example", "42".parse::<u16>(), 2);
/// assert_eq!(n, 42);
/// ```
pub fn or_exit<T, E: std::fmt::Display>(program: &str, result: Result<T, E>, code: i32) -> T {
    match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_values_and_errors() {
        let flags = server_flags("127.0.0.1:7000");
        let a = parse(args(&[]), &flags).unwrap().unwrap();
        assert_eq!(a.get("listen"), Some("127.0.0.1:7000"));
        assert_eq!(a.backend().unwrap(), Backend::Epoll);
        let a = parse(
            args(&["--listen", "[::1]:0", "--backend=poll", "--threads", "3"]),
            &flags,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.get("listen"), Some("[::1]:0"));
        assert_eq!(a.backend().unwrap(), Backend::Poll);
        assert_eq!(a.threads().unwrap(), 3);
        assert!(parse(args(&["--help"]), &flags).unwrap().is_none());
        assert!(parse(args(&["--bogus"]), &flags)
            .unwrap_err()
            .contains("unknown option"));
        assert!(parse(args(&["--listen"]), &flags)
            .unwrap_err()
            .contains("needs a value"));
        let a = parse(args(&["--threads", "0"]), &flags).unwrap().unwrap();
        assert!(a.threads().is_err());
        let a = parse(args(&["--backend", "kqueue"]), &flags)
            .unwrap()
            .unwrap();
        assert!(a.backend().is_err());
        assert!(usage("echo", "Echo.", &flags).contains("--backend select|poll|epoll"));
    }
}
