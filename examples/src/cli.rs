//! The command lines of the example programs, parsed with [`clap`]'s derive API.
//!
//! Each program is a `#[derive(Parser)]` struct that flattens the flags it shares with
//! the others: [`ServerArgs`] (`--listen`, `--backend`) and [`Threads`] (`--threads`)
//! for a server, [`ClientArgs`] (`--connect`, `--backend`) for a client. Its own flags
//! use the value parsers of this module for sizes, counts and timeouts, so that a bad
//! value is reported the way clap reports one, with exit status 2.
//!
//! ```
//! use asyncore_examples::cli::{ServerArgs, Threads};
//! use asyncore_runtime::Backend;
//! use clap::Parser;
//!
//! /// An example server.
//! #[derive(Debug, Parser)]
//! #[command(name = "example", version, args_override_self = true)]
//! struct Cli {
//!     #[command(flatten)]
//!     server: ServerArgs<7000>,
//!     #[command(flatten)]
//!     threads: Threads,
//! }
//!
//! let cli = Cli::try_parse_from(["example", "--threads", "2"]).unwrap();
//! let config = cli.server.config(cli.threads.threads);
//! assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
//! assert_eq!((config.backend, config.threads), (Backend::Epoll, 2));
//!
//! let err = Cli::try_parse_from(["example", "--listn", "127.0.0.1:0"]).unwrap_err();
//! assert_eq!(err.exit_code(), 2);
//! assert!(err.to_string().contains("a similar argument exists: '--listen'"));
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use asyncore_runtime::Backend;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory};

use crate::server::ServerConfig;

/// The flags of every server: the address it listens on, by default `127.0.0.1:PORT`,
/// and the backend of its loop.
///
/// ```
/// use asyncore_examples::cli::ServerArgs;
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     server: ServerArgs<6379>,
/// }
///
/// let cli = Cli::try_parse_from(["resp-server"]).unwrap();
/// assert_eq!(cli.server.listen.to_string(), "127.0.0.1:6379");
/// let cli = Cli::try_parse_from(["resp-server", "--listen", "[::1]:0", "--backend=poll"]).unwrap();
/// assert_eq!(cli.server.config(1).listen.to_string(), "[::1]:0");
/// assert_eq!(cli.server.backend.name(), "poll");
/// ```
#[derive(Debug, Clone, Args)]
pub struct ServerArgs<const PORT: u16> {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "HOST:PORT", default_value = Loopback::<PORT>::ADDR)]
    pub listen: SocketAddr,
    /// Readiness backend of the loop
    #[arg(long, value_name = "BACKEND", default_value_t = Backend::default(), value_parser = backend())]
    pub backend: Backend,
}

impl<const PORT: u16> ServerArgs<PORT> {
    /// How the server runs: on this address and backend, with `threads` loops.
    pub fn config(&self, threads: usize) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            backend: self.backend,
            threads,
        }
    }
}

/// `--tls-cert FILE --tls-key FILE`: a server speaks TLS on its port (HTTPS, RESP over
/// TLS as `redis-server --tls-port`, MQTT over TLS as mosquitto's `listener 8883`), with
/// this certificate chain and key (PEM files). The two go together.
///
/// ```
/// use asyncore_examples::cli::TlsArgs;
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     tls: TlsArgs,
/// }
///
/// assert!(Cli::try_parse_from(["http-server"]).unwrap().tls.tls_cert.is_none());
/// let cli = Cli::try_parse_from(["http-server", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
/// assert_eq!(cli.tls.tls_key.unwrap().to_str(), Some("k.pem"));
/// assert!(Cli::try_parse_from(["http-server", "--tls-cert", "c.pem"]).is_err());
/// ```
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Speak TLS with this certificate chain (PEM: the server's certificate first)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl TlsArgs {
    /// The server's TLS configuration, `None` without the flags; a file that cannot be
    /// used is a usage error of `P` (exit status 2, naming the file).
    pub fn server_config<P: CommandFactory>(
        &self,
    ) -> Option<std::sync::Arc<asyncore_runtime::tls::ServerConfig>> {
        let (cert, key) = (self.tls_cert.as_ref()?, self.tls_key.as_ref()?);
        match asyncore_runtime::tls::server_config(cert, key) {
            Ok(config) => Some(config),
            Err(e) => usage_error::<P>(format!("--tls-cert/--tls-key: {e}")),
        }
    }
}

/// `--threads N`: the number of loops of a server that can run several, one per thread,
/// sharing the listening socket, which deal its connections out in turn
/// ([`SpreadGroup`](asyncore_runtime::SpreadGroup)). A server whose loop holds the only copy of its
/// data (one keyspace, one broker) does not take it.
///
/// ```
/// use asyncore_examples::cli::Threads;
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     threads: Threads,
/// }
///
/// assert_eq!(Cli::try_parse_from(["kv-server"]).unwrap().threads.threads, 1);
/// assert_eq!(Cli::try_parse_from(["kv-server", "--threads", "4"]).unwrap().threads.threads, 4);
/// assert!(Cli::try_parse_from(["kv-server", "--threads", "0"]).is_err());
/// ```
#[derive(Debug, Clone, Copy, Args)]
pub struct Threads {
    /// Number of loops, one per thread, sharing the listening socket
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = positive)]
    pub threads: usize,
}

/// The flags of every client: the server it connects to, by default `127.0.0.1:PORT`,
/// and the backend of its loop.
///
/// ```
/// use asyncore_examples::cli::ClientArgs;
/// use clap::Parser;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     client: ClientArgs<11211>,
/// }
///
/// let cli = Cli::try_parse_from(["memcache-client"]).unwrap();
/// assert_eq!(cli.client.connect.to_string(), "127.0.0.1:11211");
/// assert!(Cli::try_parse_from(["memcache-client", "--connect", "localhost:11211"]).is_err());
/// assert!(Cli::try_parse_from(["memcache-client", "--backend", "kqueue"]).is_err());
/// ```
#[derive(Debug, Clone, Args)]
pub struct ClientArgs<const PORT: u16> {
    /// Server to connect to (a numeric address)
    #[arg(long, value_name = "HOST:PORT", default_value = Loopback::<PORT>::ADDR)]
    pub connect: SocketAddr,
    /// Readiness backend of the loop
    #[arg(long, value_name = "BACKEND", default_value_t = Backend::default(), value_parser = backend())]
    pub backend: Backend,
}

/// `127.0.0.1:PORT` as a `&'static str`, the form clap keeps a default value in. It is
/// an associated constant, made at compile time, so that every `PORT` has its own.
struct Loopback<const PORT: u16>;

impl<const PORT: u16> Loopback<PORT> {
    const TEXT: &'static ([u8; 15], usize) = &loopback(PORT);
    const ADDR: &'static str = match std::str::from_utf8(Self::TEXT.0.split_at(Self::TEXT.1).0) {
        Ok(addr) => addr,
        Err(_) => panic!("an address is ASCII"),
    };
}

/// The bytes of `127.0.0.1:PORT` (at most 15) and how many there are.
const fn loopback(port: u16) -> ([u8; 15], usize) {
    let mut text = *b"127.0.0.1:\0\0\0\0\0";
    let mut len = 10;
    let mut digits = [0u8; 5];
    let mut count = 0;
    let mut n = port;
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while count > 0 {
        count -= 1;
        text[len] = digits[count];
        len += 1;
    }
    (text, len)
}

/// The parser of `--backend`: one of the names of [`Backend::ALL`], listed by `--help`
/// and in the error for any other.
///
/// ```
/// use asyncore_examples::cli::backend;
/// use asyncore_runtime::Backend;
/// use clap::{Arg, Command};
///
/// let cmd = Command::new("example").arg(Arg::new("backend").long("backend").value_parser(backend()));
/// let m = cmd.clone().try_get_matches_from(["example", "--backend", "select"]).unwrap();
/// assert_eq!(m.get_one::<Backend>("backend"), Some(&Backend::Select));
/// assert!(cmd.try_get_matches_from(["example", "--backend", "kqueue"]).is_err());
/// ```
pub fn backend() -> impl TypedValueParser<Value = Backend> {
    PossibleValuesParser::new(Backend::ALL.map(Backend::name)).try_map(|name| name.parse())
}

/// A number, at least 1: the parser of counts such as `--threads`.
///
/// ```
/// use asyncore_examples::cli::positive;
/// assert_eq!(positive("3"), Ok(3));
/// assert!(positive("0").is_err());
/// assert!(positive("-1").is_err());
/// ```
pub fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a number, at least 1".into()),
    }
}

/// A positive number of seconds, fractions allowed (below a billion): the parser of a
/// client's `--timeout`.
///
/// ```
/// use asyncore_examples::cli::seconds;
/// use std::time::Duration;
/// assert_eq!(seconds("30"), Ok(Duration::from_secs(30)));
/// assert_eq!(seconds("0.5"), Ok(Duration::from_millis(500)));
/// assert!(seconds("0").is_err());
/// assert!(seconds("soon").is_err());
/// ```
pub fn seconds(text: &str) -> Result<Duration, String> {
    text.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| "expected a positive number of seconds".into())
}

/// A timeout in whole seconds where 0 means never, as the servers' `--idle-timeout`
/// takes it.
///
/// ```
/// use asyncore_examples::cli::Timeout;
/// use std::time::Duration;
/// assert_eq!("5".parse::<Timeout>().unwrap().0, Some(Duration::from_secs(5)));
/// assert_eq!("0".parse::<Timeout>().unwrap().0, None);
/// assert!("5s".parse::<Timeout>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

impl FromStr for Timeout {
    type Err = String;

    fn from_str(text: &str) -> Result<Timeout, String> {
        let secs = text
            .parse::<u64>()
            .map_err(|_| "expected a number of seconds (0: never)".to_string())?;
        Ok(Timeout((secs > 0).then(|| Duration::from_secs(secs))))
    }
}

/// The parser of a size from `min` to `max` bytes, written as a number of bytes or with
/// a unit (`64KiB`, `16MiB`, `1GiB`; see [`parse_size`](crate::resp_server::parse_size)).
///
/// ```
/// use asyncore_examples::cli::size;
/// let max_body = size(0, 16 << 20);
/// assert_eq!(max_body("1MiB"), Ok(1 << 20));
/// assert_eq!(max_body("0"), Ok(0));
/// assert_eq!(max_body("17MiB").unwrap_err(), "expected a size from 0 to 16MiB (bytes, or with KiB, MiB or GiB)");
/// assert!(max_body("lots").is_err());
/// ```
pub fn size(
    min: usize,
    max: usize,
) -> impl Fn(&str) -> Result<usize, String> + Clone + Send + Sync + 'static {
    move |text| {
        crate::resp_server::parse_size(text)
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                let range = match (min, max) {
                    (0, usize::MAX) => String::new(),
                    (_, usize::MAX) => format!(" of at least {}", human(min)),
                    _ => format!(" from {} to {}", human(min), human(max)),
                };
                format!("expected a size{range} (bytes, or with KiB, MiB or GiB)")
            })
    }
}

/// `n` bytes as `--help` would say it: `16MiB`, `1GiB`, `4096`.
fn human(n: usize) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n > 0 && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// Exits as clap does on a bad argument (the message, the usage line of `P`, status 2)
/// for what only the program can find out, once the flags are parsed: a directory that
/// cannot be created, a file that cannot be opened.
pub fn usage_error<P: CommandFactory>(message: impl fmt::Display) -> ! {
    P::command()
        .error(ErrorKind::ValueValidation, message)
        .exit()
}

/// The value of `result`, or, on an error, `PROGRAM: error` on standard error and an exit
/// with status 1: a failure while running.
///
/// ```
/// use asyncore_examples::cli::or_exit;
///
/// let n: u16 = or_exit("example", "42".parse::<u16>());
/// assert_eq!(n, 42);
/// ```
pub fn or_exit<T, E: fmt::Display>(program: &str, result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{program}: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn loopback_defaults() {
        assert_eq!(Loopback::<0>::ADDR, "127.0.0.1:0");
        assert_eq!(Loopback::<110>::ADDR, "127.0.0.1:110");
        assert_eq!(Loopback::<6379>::ADDR, "127.0.0.1:6379");
        assert_eq!(Loopback::<65535>::ADDR, "127.0.0.1:65535");
    }

    #[derive(Debug, Parser)]
    #[command(name = "test", version, args_override_self = true)]
    struct Server {
        #[command(flatten)]
        server: ServerArgs<7000>,
        #[command(flatten)]
        threads: Threads,
    }

    #[derive(Debug, Parser)]
    #[command(name = "test", version, args_override_self = true)]
    struct Client {
        #[command(flatten)]
        client: ClientArgs<7001>,
    }

    #[test]
    fn defaults_values_and_errors() {
        let s = Server::try_parse_from(["test"]).unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(s.server.backend, Backend::Epoll);
        assert_eq!(s.threads.threads, 1);
        let s = Server::try_parse_from([
            "test",
            "--listen",
            "[::1]:0",
            "--backend=poll",
            "--threads",
            "3",
        ])
        .unwrap();
        let config = s.server.config(s.threads.threads);
        assert_eq!(config.listen.to_string(), "[::1]:0");
        assert_eq!(config.backend, Backend::Poll);
        assert_eq!(config.threads, 3);
        // The last of a repeated flag counts.
        let s = Server::try_parse_from(["test", "--backend", "poll", "--backend", "select"]);
        assert_eq!(s.unwrap().server.backend, Backend::Select);

        let c = Client::try_parse_from(["test"]).unwrap();
        assert_eq!(c.client.connect.to_string(), "127.0.0.1:7001");

        let kind = |args: &[&str]| Server::try_parse_from(args).unwrap_err().kind();
        assert_eq!(kind(&["test", "--help"]), ErrorKind::DisplayHelp);
        assert_eq!(kind(&["test", "--version"]), ErrorKind::DisplayVersion);
        assert_eq!(kind(&["test", "--bogus"]), ErrorKind::UnknownArgument);
        assert_eq!(kind(&["test", "--listen"]), ErrorKind::InvalidValue);
        assert_eq!(
            kind(&["test", "--threads", "0"]),
            ErrorKind::ValueValidation
        );
        assert_eq!(
            kind(&["test", "--backend", "kqueue"]),
            ErrorKind::InvalidValue
        );
        assert_eq!(
            kind(&["test", "--listen", "host:1"]),
            ErrorKind::ValueValidation
        );
        let help = Server::command().render_help().to_string();
        assert!(help.contains("[default: 127.0.0.1:7000]"), "{help}");
        assert!(
            help.contains("[possible values: select, poll, epoll]"),
            "{help}"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human(16 << 20), "16MiB");
        assert_eq!(human(1 << 30), "1GiB");
        assert_eq!(human(0), "0");
        assert_eq!(human(1000), "1000");
        assert!(size(1, usize::MAX)("0")
            .unwrap_err()
            .contains("of at least 1 "));
    }
}
