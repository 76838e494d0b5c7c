//! The `http-client` program: its options and what it does with them.

use std::fmt;
use std::io;
use std::time::Duration;

use asyncore_runtime::Backend;

use super::{HttpClient, HttpRequest, Url, DEFAULT_MAX_BODY, DEFAULT_PIPELINE, DEFAULT_TIMEOUT};

/// The options of the `http-client` program.
///
/// ```
/// use asyncore_examples::http_client::Options;
/// let args = ["-i", "--data", "x=1", "-H", "X-A: b", "http://h:81/p"].map(String::from);
/// let o = Options::parse(args).unwrap().unwrap();
/// assert!(o.include && !o.head);
/// assert_eq!(o.method(), "POST");
/// assert_eq!(o.headers, [("X-A".to_string(), "b".to_string())]);
/// assert_eq!(o.urls, ["http://h:81/p"]);
/// assert!(Options::parse(["--help".to_string()]).unwrap().is_none());
/// assert!(Options::parse(["--bogus".to_string()]).is_err());
/// assert!(Options::parse(Vec::<String>::new()).is_err()); // no URL
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The URLs, in order.
    pub urls: Vec<String>,
    /// `-I`/`--head`: send `HEAD` and print the headers.
    pub head: bool,
    /// `-i`/`--include`: print the status line and headers before each body.
    pub include: bool,
    /// `-f`/`--fail`: exit non-zero (22, as curl does) on a status of 400 or more,
    /// without printing that body.
    pub fail: bool,
    /// `-d`/`--data STRING`: the body (sent with `POST` unless `-X` says otherwise).
    pub data: Option<Vec<u8>>,
    /// `--data-file FILE`: the body, from a file.
    pub data_file: Option<String>,
    /// `--chunked`: send the body with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `-H`/`--header 'NAME: VALUE'`, repeatable.
    pub headers: Vec<(String, String)>,
    /// `-X`/`--request METHOD`.
    pub request: Option<String>,
    /// `--connect HOST:PORT`: connect there instead of the URL's host and port.
    pub connect: Option<String>,
    /// `--max-body BYTES`.
    pub max_body: u64,
    /// `--timeout SECS`, for the requests to one server.
    pub timeout: Duration,
    /// `--pipeline N`.
    pub pipeline: usize,
    /// `--backend`.
    pub backend: Backend,
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
        }
    }
}

/// The flags of the `http-client` program, for `--help`.
pub fn flags() -> Vec<crate::cli::Flag> {
    use crate::cli::Flag;
    let f = |name, value, default, help| Flag {
        name,
        value,
        default,
        help,
    };
    vec![
        f(
            "head",
            "",
            None,
            "(-I) Send HEAD and print the status line and headers",
        ),
        f(
            "include",
            "",
            None,
            "(-i) Print the status line and headers before the body",
        ),
        f(
            "fail",
            "",
            None,
            "(-f) Exit 22 on a status of 400 or more, printing no body",
        ),
        f(
            "data",
            "STRING",
            None,
            "(-d) Send STRING as the body, with POST",
        ),
        f(
            "data-file",
            "FILE",
            None,
            "Send the content of FILE as the body, with POST",
        ),
        f(
            "chunked",
            "",
            None,
            "Send the body with Transfer-Encoding: chunked",
        ),
        f(
            "header",
            "'NAME: VALUE'",
            None,
            "(-H) Add a header field; repeatable",
        ),
        f(
            "request",
            "METHOD",
            None,
            "(-X) Use METHOD instead of GET/HEAD/POST",
        ),
        f(
            "connect",
            "HOST:PORT",
            None,
            "Connect there instead of to the URL's host and port",
        ),
        f(
            "max-body",
            "BYTES",
            Some("64MiB"),
            "Largest response body accepted (suffixes KiB, MiB, GiB)",
        ),
        f(
            "timeout",
            "SECS",
            Some("30"),
            "Give up on a server after this long",
        ),
        f(
            "pipeline",
            "N",
            Some("8"),
            "Requests sent ahead of their responses (1: one at a time)",
        ),
        f(
            "backend",
            "select|poll|epoll",
            Some("epoll"),
            "Readiness backend of the loop",
        ),
    ]
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
    /// Parses the arguments (without the program name); `Ok(None)` for `--help`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
    ) -> std::result::Result<Option<Options>, String> {
        let mut o = Options::default();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                o.urls.extend(it.by_ref());
                break;
            }
            if !arg.starts_with('-') || arg == "-" {
                o.urls.push(arg);
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let long = match name.as_str() {
                "-I" => "--head",
                "-i" => "--include",
                "-f" => "--fail",
                "-d" => "--data",
                "-H" => "--header",
                "-X" => "--request",
                "-h" => "--help",
                n => n,
            };
            let mut value = |what: &str| -> std::result::Result<String, String> {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{long} needs a value ({what})"))
            };
            match long {
                "--help" => return Ok(None),
                "--head" => o.head = true,
                "--include" => o.include = true,
                "--fail" => o.fail = true,
                "--chunked" => o.chunked = true,
                "--data" => o.data = Some(value("STRING")?.into_bytes()),
                "--data-file" => o.data_file = Some(value("FILE")?),
                "--header" => {
                    let h = value("'NAME: VALUE'")?;
                    let Some((n, v)) = h.split_once(':') else {
                        return Err(format!("--header takes 'NAME: VALUE', not `{h}`"));
                    };
                    o.headers.push((n.trim().to_string(), v.trim().to_string()));
                }
                "--request" => o.request = Some(value("METHOD")?),
                "--connect" => o.connect = Some(value("HOST:PORT")?),
                "--max-body" => o.max_body = parse_size(&value("BYTES")?)?,
                "--timeout" => {
                    let v = value("SECS")?;
                    let secs = v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                        .ok_or_else(|| format!("--timeout takes seconds, not `{v}`"))?;
                    o.timeout = Duration::from_secs_f64(secs);
                }
                "--pipeline" => {
                    let v = value("N")?;
                    o.pipeline = v
                        .parse::<usize>()
                        .ok()
                        .filter(|&n| (1..=1024).contains(&n))
                        .ok_or_else(|| format!("--pipeline takes 1 to 1024, not `{v}`"))?;
                }
                "--backend" => o.backend = value("select|poll|epoll")?.parse()?,
                _ => return Err(format!("unknown option `{arg}`; see --help")),
            }
        }
        if o.urls.is_empty() {
            return Err("no URL given; see --help".into());
        }
        if o.data.is_some() && o.data_file.is_some() {
            return Err("--data and --data-file cannot both be given".into());
        }
        if o.head && (o.data.is_some() || o.data_file.is_some()) {
            return Err("--head sends no body: leave out --data/--data-file".into());
        }
        if o.chunked && o.data.is_none() && o.data_file.is_none() {
            return Err("--chunked needs a body (--data or --data-file)".into());
        }
        Ok(Some(o))
    }

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
        (Some(d), _) => Some(d.clone()),
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
    let mut i = 0;
    while i < urls.len() {
        let (host, port) = (&urls[i].1.host, urls[i].1.port);
        let mut j = i + 1;
        while j < urls.len() && urls[j].1.host == *host && urls[j].1.port == port {
            j += 1;
        }
        let group = &urls[i..j];
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
                .pipeline(opts.pipeline);
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
