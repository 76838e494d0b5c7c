//! The access log: one line per response, in the combined format nginx and Apache write
//! by default.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::files::civil_from_days;

/// Where the access log goes: a file (appended to) or standard output, shared by the
/// server's loops. Each line is written with one `write`, as nginx does without
/// `buffer=`.
///
/// ```
/// use asyncore_examples::http_server::AccessLog;
/// let dir = std::env::temp_dir().join(format!("access-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("access.log");
/// let log = AccessLog::open(path.to_str().unwrap())?;
/// log.write(&log.entry(Some("127.0.0.1:5000"), b"GET / HTTP/1.1", None, Some(b"curl/8")), 200, 5);
/// let text = std::fs::read_to_string(&path)?;
/// assert!(text.starts_with("127.0.0.1 - - ["));
/// assert!(text.ends_with("] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct AccessLog {
    out: Mutex<Sink>,
}

#[derive(Debug)]
enum Sink {
    File(File),
    Stdout,
}

/// The most bytes of a request line or a field a log line carries; longer ones are cut
/// (the line stays one line, whatever the client sent).
const FIELD_MAX: usize = 2048;

impl AccessLog {
    /// Opens `path` for appending (created if missing); `-` is standard output.
    pub fn open(path: &str) -> io::Result<AccessLog> {
        let sink = if path == "-" {
            Sink::Stdout
        } else {
            Sink::File(OpenOptions::new().create(true).append(true).open(path)?)
        };
        Ok(AccessLog {
            out: Mutex::new(sink),
        })
    }

    /// The part of a line known when the request arrives: the client's address (`-`
    /// without one), the time, the request line, the `Referer` and `User-Agent` fields.
    /// Bytes outside printable ASCII, and `"` and `\`, are escaped as `\xHH`, as nginx
    /// does.
    pub fn entry(
        &self,
        peer: Option<&str>,
        request_line: &[u8],
        referer: Option<&[u8]>,
        user_agent: Option<&[u8]>,
    ) -> Entry {
        let host = peer.map_or("-", |p| p.rsplit_once(':').map_or(p, |(h, _)| h));
        let mut head = format!("{host} - - [{}] \"", local_time());
        escape(&mut head, request_line);
        head.push('"');
        let mut tail = String::from(" \"");
        escape(&mut tail, referer.unwrap_or(b"-"));
        tail.push_str("\" \"");
        escape(&mut tail, user_agent.unwrap_or(b"-"));
        tail.push_str("\"\n");
        Entry { head, tail }
    }

    /// Writes `entry` with the response's status and body size. A failed write is
    /// logged, not returned: the log must not stop the server.
    pub fn write(&self, entry: &Entry, status: u16, body_bytes: u64) {
        let line = format!("{} {status} {body_bytes}{}", entry.head, entry.tail);
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let r = match &mut *out {
            Sink::File(f) => f.write_all(line.as_bytes()),
            Sink::Stdout => {
                let mut s = io::stdout().lock();
                s.write_all(line.as_bytes()).and_then(|()| s.flush())
            }
        };
        if let Err(e) = r {
            log::error!("access log: {e}");
        }
    }
}

/// Two logs are equal when they are the same log (a [`Config`](super::Config) compares
/// its log by identity).
impl PartialEq for AccessLog {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for AccessLog {}

/// A log line begun when its request arrived (see [`AccessLog::entry`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    head: String,
    tail: String,
}

fn escape(out: &mut String, bytes: &[u8]) {
    for &b in bytes.iter().take(FIELD_MAX) {
        if (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "\\x{b:02X}");
        }
    }
}

/// Now, as the log's `[07/Dec/2026:15:21:58 +0000]` (UTC).
fn local_time() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize % 12],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
