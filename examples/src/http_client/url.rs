//! `http://` and `https://` URLs: what a request needs of them.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// An `http://` or `https://` URL, cut into what a request needs.
///
/// ```
/// use asyncore_examples::http_client::Url;
/// let u = Url::parse("http://example.org:8080/a/b?c=d#frag").unwrap();
/// assert_eq!((u.host.as_str(), u.port, u.target.as_str()), ("example.org", 8080, "/a/b?c=d"));
/// assert_eq!(u.authority(), "example.org:8080");
/// let u = Url::parse("http://[::1]").unwrap();
/// assert_eq!((u.host.as_str(), u.port, u.target.as_str()), ("::1", 80, "/"));
/// assert_eq!(u.authority(), "[::1]");
/// let u = Url::parse("https://example.org/x").unwrap();
/// assert!(u.tls);
/// assert_eq!((u.port, u.authority().as_str()), (443, "example.org"));
/// assert!(Url::parse("ftp://example.org/").unwrap_err().contains("http://"));
/// assert!(Url::parse("http://user@example.org/").is_err());
/// assert!(Url::parse("http://example.org:99999/").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The host: a name, an IPv4 address, or an IPv6 address without its brackets.
    pub host: String,
    /// The port (80 when the URL has none).
    pub port: u16,
    /// The path and query (`/` when the URL has no path); the fragment is dropped.
    pub target: String,
    /// `https://`: the connection speaks TLS.
    pub tls: bool,
}

impl Url {
    /// Parses an `http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT]` URL, or the same with
    /// `https://` (port 443 by default).
    pub fn parse(url: &str) -> std::result::Result<Url, String> {
        let (rest, tls) = match (url.get(..7), url.get(..8)) {
            (Some(s), _) if s.eq_ignore_ascii_case("http://") => (&url[7..], false),
            (_, Some(s)) if s.eq_ignore_ascii_case("https://") => (&url[8..], true),
            _ => {
                return Err(format!(
                    "`{url}`: only http:// and https:// URLs are supported"
                ))
            }
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(format!(
                "`{url}`: user information in URLs is not supported"
            ));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((host, after)) = v6.split_once(']') else {
                return Err(format!("`{url}`: unclosed `[` in the host"));
            };
            match after {
                "" => (host, None),
                p => match p.strip_prefix(':') {
                    Some(p) => (host, Some(p)),
                    None => return Err(format!("`{url}`: junk after the IPv6 address")),
                },
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:%".contains(&b))
        {
            return Err(format!("`{url}`: `{host}` is not a host name or address"));
        }
        let port = match port {
            None | Some("") if tls => 443,
            None | Some("") => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| format!("`{url}`: `{p}` is not a port"))?,
        };
        let tail = tail.split('#').next().unwrap_or("");
        let target = if tail.is_empty() || tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_string()
        };
        Ok(Url {
            host: host.to_string(),
            port,
            target,
            tls,
        })
    }

    /// The value of the `Host` header: the host (in brackets for IPv6), with the port
    /// unless it is the scheme's (80, or 443 for `https://`).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The addresses the host resolves to (a blocking lookup for a name).
    pub fn resolve(&self) -> io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port).to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} has no address", self.host),
            ));
        }
        Ok(addrs)
    }
}
