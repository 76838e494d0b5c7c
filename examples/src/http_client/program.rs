//! The `http-client` program: its options and what it does with them.

use std::fmt;
use std::io;
use std::time::Duration;

use asyncore_runtime::Backend;
use clap::{ArgGroup, Parser};

use crate::cli;

use super::{HttpClient, HttpRequest, Url, DEFAULT_MAX_BODY, DEFAULT_PIPELINE, DEFAULT_TIMEOUT};

/// The options of the `http-client` program, parsed with [`clap`] (`Options::parse()`
/// reads the process's arguments).
///
/// ```
/// use asyncore_examples::http_client::Options;
/// use clap::Parser;
///
/// let args = ["http-client", "-i", "--data", "x=1", "-H", "X-A: b", "http://h:81/p"];
/// let o = Options::try_parse_from(args).unwrap();
/// assert!(o.include && !o.head);
/// assert_eq!(o.method(), "POST");
/// assert_eq!(o.headers, [("X-A".to_string(), "b".to_string())]);
/// assert_eq!(o.urls, ["http://h:81/p"]);
/// assert!(Options::try_parse_from(["http-client", "--bogus", "/"]).is_err());
/// assert!(Options::try_parse_from(["http-client"]).is_err()); // no URL
/// assert!(Options::try_parse_from(["http-client", "-I", "-d", "x", "/"]).is_err()); // HEAD has no body
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(
    name = "http-client",
    version,
    about = "An HTTP/1.1 client: fetches each URL (http:// only) and writes the body to \
             standard output, byte-exact.",
    long_about = "An HTTP/1.1 client: fetches each URL (http:// only) and writes the body to \
                  standard output, byte-exact. URLs that follow each other with the same \
                  host and port share one keep-alive connection, their requests pipelined. \
                  Exits 1 on a connection error or a reply that is not valid HTTP, 22 with \
                  --fail on a status of 400 or more, 2 on bad arguments.",
    args_override_self = true,
    group = ArgGroup::new("body").args(["data", "data_file"]),
)]
pub struct Options {
    /// The URLs, in order (with --connect, a path alone is enough)
    #[arg(value_name = "URL", required = true)]
    pub urls: Vec<String>,
    /// Send HEAD and print the status line and headers
    #[arg(short = 'I', long, conflicts_with = "body")]
    pub head: bool,
    /// Print the status line and headers before the body
    #[arg(short, long)]
    pub include: bool,
    /// Exit 22 on a status of 400 or more, printing no body (as curl does)
    #[arg(short, long)]
    pub fail: bool,
    /// Send STRING as the body, with POST
    #[arg(short, long, value_name = "STRING")]
    pub data: Option<String>,
    /// Send the content of FILE as the body, with POST
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<String>,
    /// Send the body with Transfer-Encoding: chunked
    #[arg(long, requires = "body")]
    pub chunked: bool,
    /// Add a header field; repeatable
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = header)]
    pub headers: Vec<(String, String)>,
    /// Use METHOD instead of GET/HEAD/POST
    #[arg(short = 'X', long, value_name = "METHOD")]
    pub request: Option<String>,
    /// Connect there instead of to the URL's host and port
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: Option<String>,
    /// Largest response body accepted (suffixes KiB, MiB, GiB)
    #[arg(long, value_name = "BYTES", default_value = "64MiB", value_parser = parse_size)]
    pub max_body: u64,
    /// Give up on a server after this long
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = cli::seconds)]
    pub timeout: Duration,
    /// Requests sent ahead of their responses (1: one at a time)
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PIPELINE, value_parser = pipeline)]
    pub pipeline: usize,
    /// Readiness backend of the loop
    #[arg(long, value_name = "BACKEND", default_value_t = Backend::default(), value_parser = cli::backend())]
    pub backend: Backend,
    /// For https:// URLs, trust the certificates in FILE (PEM) instead of the system's
    /// roots
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            urls: Vec::new(),
            head: false,
            include: false,
            fail: false,
            data: None,
            data_file: None,
            chunked: false,
            headers: Vec::new(),
            request: None,
            connect: None,
            max_body: DEFAULT_MAX_BODY,
            timeout: DEFAULT_TIMEOUT,
            pipeline: DEFAULT_PIPELINE,
            backend: Backend::default(),
            cacert: None,
        }
    }
}

/// `NAME: VALUE`, the value of `-H`.
fn header(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) => Ok((name.trim().to_string(), value.trim().to_string())),
        None => Err("expected 'NAME: VALUE'".into()),
    }
}

/// The value of `--pipeline`: 1 to 1024.
fn pipeline(text: &str) -> std::result::Result<usize, String> {
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or_else(|| "expected a number from 1 to 1024".into())
}

/// `64MiB`, `1024`, `2k`...: a byte count.
///
/// ```
/// use asyncore_examples::http_client::parse_size;
/// assert_eq!(parse_size("64MiB"), Ok(64 << 20));
/// assert_eq!(parse_size("2k"), Ok(2048));
/// assert_eq!(parse_size("10"), Ok(10));
/// assert!(parse_size("lots").is_err());
/// ```
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (n, unit) = text.split_at(digits);
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("`{text}` is not a size (like 1048576 or 64MiB)")),
    };
    n.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("`{text}` is not a size (like 1048576 or 64MiB)"))
}

impl Options {
    /// The method sent: `-X`, else `HEAD` with `-I`, `POST` with a body, `GET`.
    pub fn method(&self) -> &str {
        match &self.request {
            Some(m) => m,
            None if self.head => "HEAD",
            None if self.data.is_some() || self.data_file.is_some() => "POST",
            None => "GET",
        }
    }
}

/// Why the program failed, and its exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or input (exit 2).
    Usage(String),
    /// A connection error, or a reply that is not valid HTTP (exit 1).
    Error(String),
    /// `--fail` and a status of 400 or more (exit 22).
    Status(String),
}

impl Failure {
    /// The exit status: 2, 1 or 22.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Error(_) => 1,
            Failure::Status(_) => 22,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Error(m) | Failure::Status(m) => f.write_str(m),
        }
    }
}

/// Runs the `http-client` program: fetches every URL in order, writing each body
/// byte-exact to `out` (after its status line and headers with `-i` or `-I`). URLs that
/// follow each other with the same host and port share one connection (a
/// [`HttpClient::batch`]). Stops at the first failure.
pub fn run(opts: &Options, out: &mut dyn io::Write) -> std::result::Result<(), Failure> {
    let body = match (&opts.data, &opts.data_file) {
        (Some(d), _) => Some(d.clone().into_bytes()),
        (None, Some(path)) => Some(
            std::fs::read(path).map_err(|e| Failure::Usage(format!("--data-file {path}: {e}")))?,
        ),
        (None, None) => None,
    };
    let connect = match &opts.connect {
        Some(c) => Some(
            Url::parse(&format!("http://{c}/"))
                .map_err(|_| Failure::Usage(format!("--connect takes HOST:PORT, not `{c}`")))?,
        ),
        None => None,
    };
    let mut urls = Vec::with_capacity(opts.urls.len());
    for u in &opts.urls {
        let url = match (&connect, u.starts_with('/')) {
            // With --connect, a bare path is enough.
            (Some(c), true) => Url {
                target: u.clone(),
                ..c.clone()
            },
            _ => Url::parse(u).map_err(Failure::Usage)?,
        };
        let mut req = HttpRequest::new(opts.method(), &url.target);
        req.headers = opts.headers.clone();
        req.body = body.clone();
        req.chunked = opts.chunked;
        req.check()
            .map_err(|e| Failure::Usage(format!("{u}: {e}")))?;
        urls.push((u.clone(), url, req));
    }
    let mut tls_config = None;
    let mut i = 0;
    while i < urls.len() {
        let (host, port) = (&urls[i].1.host, urls[i].1.port);
        let tls = urls[i].1.tls;
        let mut j = i + 1;
        while j < urls.len()
            && urls[j].1.host == *host
            && urls[j].1.port == port
            && urls[j].1.tls == tls
        {
            j += 1;
        }
        let group = &urls[i..j];
        let tls = match tls {
            true => {
                if tls_config.is_none() {
                    let config = asyncore_runtime::tls::client_config(opts.cacert.as_deref());
                    tls_config = Some(config.map_err(|e| match &opts.cacert {
                        Some(f) => Failure::Usage(format!("--cacert {}: {e}", f.display())),
                        None => Failure::Error(e.to_string()),
                    })?);
                }
                let name = asyncore_runtime::tls::server_name(&group[0].1.host)
                    .map_err(|e| Failure::Usage(format!("{}: {e}", group[0].0)))?;
                tls_config.clone().map(|c| (c, name))
            }
            false => None,
        };
        let target = connect.as_ref().unwrap_or(&group[0].1);
        let addrs = target
            .resolve()
            .map_err(|e| Failure::Error(format!("{}: {e}", target.host)))?;
        let mut delivered = 0;
        let mut last = None;
        for addr in addrs {
            let client = HttpClient::new(addr)
                .host(&group[0].1.authority())
                .backend(opts.backend)
                .timeout(opts.timeout)
                .max_body(opts.max_body)
                .pipeline(opts.pipeline)
                .tls(tls.clone());
            let requests = group[delivered..].iter().map(|g| g.2.clone()).collect();
            let mut status_failure = None;
            let mut count = 0;
            let result = client.batch_with(requests, |k, r| {
                count += 1;
                let url = &group[delivered + k].0;
                if opts.fail && r.status >= 400 {
                    status_failure = Some(format!(
                        "{url}: the server answered {} {}",
                        r.status, r.reason
                    ));
                    return Err(io::Error::other("--fail"));
                }
                if opts.include || opts.head {
                    out.write_all(&r.head_bytes())?;
                }
                out.write_all(&r.body)?;
                out.flush()
            });
            if let Some(f) = status_failure {
                return Err(Failure::Status(f));
            }
            delivered += count;
            match result {
                Ok(_) => {
                    last = None;
                    break;
                }
                Err(e) => {
                    let url = &group[0].0;
                    let msg = format!("{url} ({addr}): {e}");
                    // Another address of the host is worth a try only when this one
                    // could not be reached at all.
                    let unreachable = matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::HostUnreachable
                            | io::ErrorKind::NetworkUnreachable
                            | io::ErrorKind::AddrNotAvailable
                    );
                    last = Some(msg);
                    if !unreachable {
                        break;
                    }
                }
            }
        }
        if let Some(msg) = last {
            return Err(Failure::Error(msg));
        }
        i = j;
    }
    Ok(())
}
