//! [`Addr`]: the address of a channel's socket (IPv4, IPv6 or a Unix path).

use std::ffi::OsStr;
use std::fmt;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::net::{SocketAddrAny, SocketAddrUnix};

/// The address of a socket: what asyncore keeps in `self.addr`.
///
/// Only addresses, never host names: name resolution blocks, so it does not belong inside
/// the loop (asyncore resolved names inside `connect()`); resolve before, with
/// [`std::net::ToSocketAddrs`], if needed.
///
/// # Examples
///
/// ```
/// use asyncore_runtime::Addr;
/// let a: Addr = "127.0.0.1:8080".parse::<std::net::SocketAddr>().unwrap().into();
/// assert_eq!(a.to_string(), "127.0.0.1:8080");
/// let u = Addr::unix("/tmp/echo.sock");
/// assert_eq!(u.to_string(), "/tmp/echo.sock");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A Unix-domain socket path.
    Unix(PathBuf),
    /// An unnamed Unix-domain socket (one end of a socket pair) or an abstract name.
    Unnamed,
}

impl Addr {
    /// A Unix-domain socket path.
    ///
    /// ```
    /// let a = asyncore_runtime::Addr::unix("/run/x.sock");
    /// assert!(matches!(a, asyncore_runtime::Addr::Unix(_)));
    /// ```
    pub fn unix(path: impl AsRef<Path>) -> Addr {
        Addr::Unix(path.as_ref().to_path_buf())
    }

    /// The IP address and port, if this is [`Addr::Inet`].
    ///
    /// ```
    /// let sa: std::net::SocketAddr = "[::1]:80".parse().unwrap();
    /// assert_eq!(asyncore_runtime::Addr::from(sa).as_inet(), Some(sa));
    /// ```
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            Addr::Inet(a) => Some(*a),
            _ => None,
        }
    }

    pub(crate) fn from_any(any: &SocketAddrAny) -> Addr {
        if let Ok(sa) = SocketAddr::try_from(any.clone()) {
            return Addr::Inet(sa);
        }
        if let Ok(un) = SocketAddrUnix::try_from(any.clone()) {
            if let Some(bytes) = un.path_bytes() {
                if !bytes.is_empty() {
                    return Addr::Unix(PathBuf::from(OsStr::from_bytes(bytes)));
                }
            }
        }
        Addr::Unnamed
    }
}

impl From<SocketAddr> for Addr {
    fn from(a: SocketAddr) -> Self {
        Addr::Inet(a)
    }
}

impl From<&Path> for Addr {
    fn from(p: &Path) -> Self {
        Addr::Unix(p.to_path_buf())
    }
}

impl From<PathBuf> for Addr {
    fn from(p: PathBuf) -> Self {
        Addr::Unix(p)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Inet(a) => write!(f, "{a}"),
            Addr::Unix(p) => write!(f, "{}", p.display()),
            Addr::Unnamed => f.write_str("(unnamed)"),
        }
    }
}
