//! The error type handlers return, and how the loop routes it.

use std::fmt;
use std::io;

/// The result type of every handler method and of [`Map::run`](crate::Map::run).
pub type Result<T = (), E = Error> = std::result::Result<T, E>;

/// An error raised by a handler or by the loop.
///
/// This is the Rust form of the exceptions asyncore's wrappers see:
///
/// | Python                               | Rust                 | routed to                          |
/// |--------------------------------------|----------------------|------------------------------------|
/// | `ExitNow` (and `KeyboardInterrupt`)  | [`Error::Exit`]      | escapes [`Map::run`] at once       |
/// | `OSError` with a disconnect errno    | [`Error::Io`]        | `handle_close(Some(err))`          |
/// | any other `OSError`                  | [`Error::Io`]        | `handle_error(err)`                |
/// | any other exception                  | [`Error::Other`]     | `handle_error(err)`                |
///
/// The disconnect errnos are those of [`is_disconnect`]. Unlike asyncore, the routing is
/// the same on every backend.
///
/// [`Map::run`]: crate::Map::run
///
/// # Examples
///
/// ```
/// use asyncore_runtime::Error;
///
/// let e: Error = std::io::Error::from(std::io::ErrorKind::ConnectionReset).into();
/// assert!(e.is_disconnect());
/// assert!(!Error::msg("bad request").is_disconnect());
/// assert!(Error::Exit.is_exit());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Leave the loop: the Rust form of asyncore's `ExitNow`. It always escapes
    /// [`Map::run`](crate::Map::run), which returns `Err(Error::Exit)`.
    Exit,
    /// An operating-system error.
    Io(io::Error),
    /// Any other error a handler wants to report.
    Other(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl Error {
    /// An [`Error::Other`] carrying a plain message.
    ///
    /// ```
    /// let e = asyncore_runtime::Error::msg("unknown command");
    /// assert_eq!(e.to_string(), "unknown command");
    /// ```
    pub fn msg(message: impl Into<String>) -> Self {
        Error::Other(message.into().into())
    }

    /// An [`Error::Other`] wrapping any error value.
    ///
    /// ```
    /// let parse = "x".parse::<u32>().unwrap_err();
    /// let e = asyncore_runtime::Error::other(parse);
    /// assert!(e.to_string().contains("invalid digit"));
    /// ```
    pub fn other(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Other(Box::new(err))
    }

    /// Whether this is [`Error::Exit`].
    ///
    /// ```
    /// assert!(asyncore_runtime::Error::Exit.is_exit());
    /// ```
    pub fn is_exit(&self) -> bool {
        matches!(self, Error::Exit)
    }

    /// Whether this is an I/O error whose errno means "the peer is gone" (see
    /// [`is_disconnect`]). Such errors are delivered to `handle_close`, not `handle_error`.
    ///
    /// ```
    /// let e = asyncore_runtime::Error::from(std::io::Error::from_raw_os_error(32)); // EPIPE
    /// assert!(e.is_disconnect());
    /// ```
    pub fn is_disconnect(&self) -> bool {
        match self {
            Error::Io(e) => is_disconnect(e),
            _ => false,
        }
    }

    /// The I/O error inside, if this is [`Error::Io`].
    ///
    /// ```
    /// let e = asyncore_runtime::Error::from(std::io::Error::from_raw_os_error(111));
    /// assert_eq!(e.as_io().and_then(|e| e.raw_os_error()), Some(111));
    /// ```
    pub fn as_io(&self) -> Option<&io::Error> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Exit => f.write_str("exit requested"),
            Error::Io(e) => write!(f, "{e}"),
            Error::Other(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Exit => None,
            Error::Io(e) => Some(e),
            Error::Other(e) => Some(&**e),
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<rustix::io::Errno> for Error {
    fn from(e: rustix::io::Errno) -> Self {
        Error::Io(e.into())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error::msg(s)
    }
}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error::msg(s)
    }
}

/// asyncore's `_DISCONNECTED` set: ECONNRESET, ENOTCONN, ESHUTDOWN, ECONNABORTED, EPIPE and
/// EBADF. A send or receive that fails with one of these closes the channel instead of
/// reporting an error.
///
/// ```
/// use std::io;
/// assert!(asyncore_runtime::is_disconnect(&io::Error::from_raw_os_error(104))); // ECONNRESET
/// assert!(!asyncore_runtime::is_disconnect(&io::Error::from_raw_os_error(111))); // ECONNREFUSED
/// ```
pub fn is_disconnect(e: &io::Error) -> bool {
    use rustix::io::Errno;
    match e.raw_os_error() {
        Some(n) => {
            let errno = Errno::from_raw_os_error(n);
            [
                Errno::CONNRESET,
                Errno::NOTCONN,
                Errno::SHUTDOWN,
                Errno::CONNABORTED,
                Errno::PIPE,
                Errno::BADF,
            ]
            .contains(&errno)
        }
        None => matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::NotConnected
                | io::ErrorKind::BrokenPipe
        ),
    }
}

/// The operating system's text for an errno, never empty (asyncore's `_strerror`).
///
/// ```
/// assert_eq!(asyncore_runtime::strerror(1), "Operation not permitted");
/// assert!(!asyncore_runtime::strerror(-1).is_empty());
/// ```
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // std renders "<text> (os error N)"; keep the text part.
    let text = match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    if text.is_empty() {
        format!("Unknown error {errno}")
    } else {
        text
    }
}
