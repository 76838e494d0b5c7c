//! TLS on channels (feature `tls`), on [rustls](https://docs.rs/rustls) with the `ring`
//! provider: the configurations a server and a client need, and the names to start a
//! session with.
//!
//! A channel gets a session three ways:
//!
//! * [`Channel::add_accepted_tls`](crate::Channel::add_accepted_tls) (or
//!   [`Map::add_accepted_tls`](crate::Map::add_accepted_tls)) for a connection that
//!   speaks TLS from its first byte (HTTPS, `rediss://`);
//! * [`Channel::start_tls_server`](crate::Channel::start_tls_server) in the middle of a
//!   connection (STARTTLS, server side);
//! * [`Channel::start_tls_client`](crate::Channel::start_tls_client) after a connect or
//!   in the middle of a connection (client side).
//!
//! From then on the channel's handler reads and writes plaintext, with the same calls
//! as before ([`Channel::recv`](crate::Channel::recv), `send_buffered`, `queue`, `flush`,
//! `send_file`, `close_when_done`...): generated channels work unchanged. What changes:
//!
//! * The handler is not called to read until the handshake is over; plaintext queued
//!   meanwhile is sent after it. A handshake that fails (plaintext or random bytes on a
//!   TLS port, a truncated hello, a client that rejects our certificate) or does not end
//!   within [`HANDSHAKE_TIMEOUT`] closes only that connection: a server logs one line at
//!   `info` with the peer and rustls's error and does not call the handler; a client's
//!   `handle_close` gets the error as its reason. rustls's alert, if it has one, is sent.
//! * Closing sends `close_notify`: [`close`](crate::Channel::close) does at once (without
//!   waiting for the socket), [`close_when_done`](crate::Channel::close_when_done) and
//!   lingering closes after the last output.
//! * The peer's `close_notify` ends input, not output, as a TCP half-close does: the
//!   handler sees end of file and may still answer. A bare TCP end of file (no
//!   `close_notify`) ends input the same way; protocols that delimit their messages
//!   (HTTP's lengths, RESP) do not depend on it.
//! * Renegotiation is refused: rustls answers a TLS 1.2 renegotiation request with a
//!   `no_renegotiation` warning and goes on (a peer that insists is cut off after a few),
//!   and a ClientHello after a TLS 1.3 handshake is an error that closes the connection.
//!   Neither waits for anything.
//! * Bounds: rustls keeps at most 64 KiB of ciphertext for the socket and one record of
//!   plaintext for the handler; past that, plaintext waits in the channel's output
//!   buffer under its high-water mark and limit (counted by
//!   [`pending_output`](crate::Channel::pending_output)), and reading stops until the
//!   handler takes what was decrypted. A channel with decrypted input it has not read is
//!   dispatched again without waiting for the socket, on every backend.
//! * [`send_file`](crate::Channel::send_file) reads the file and encrypts it
//!   (`sendfile(2)` cannot encrypt).
//!
//! # Example: an HTTPS-style echo server
//!
//! ```no_run
//! use asyncore_runtime::{tls, Addr, Channel, Dispatcher, Map, Result, Socket};
//! use std::sync::Arc;
//!
//! struct Echo;
//! impl Dispatcher for Echo {
//!     fn handle_read(&mut self, ch: &mut Channel<'_>) -> Result {
//!         let mut buf = [0u8; 16 * 1024];
//!         let n = ch.recv(&mut buf)?; // plaintext
//!         ch.send_buffered(&buf[..n])?; // encrypted on the way out
//!         Ok(())
//!     }
//! }
//!
//! struct Server(Arc<rustls::ServerConfig>);
//! impl Dispatcher for Server {
//!     fn handle_accepted(&mut self, ch: &mut Channel<'_>, sock: Socket, addr: Addr) -> Result {
//!         ch.add_accepted_tls(sock, addr, self.0.clone(), Echo)?;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
//!     let config = tls::server_config("cert.pem", "key.pem")?;
//!     let mut map = Map::new();
//!     map.listen(&"127.0.0.1:7443".parse::<std::net::SocketAddr>()?.into(), Server(config))?;
//!     map.run()?;
//!     Ok(())
//! }
//! ```

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use crate::channel::tls::HANDSHAKE_TIMEOUT;
pub use rustls;
pub use rustls::pki_types::ServerName;
pub use rustls::{ClientConfig, ServerConfig};

/// rustls's `ring` provider. rustls 0.23.48 deprecates it for lacking post-quantum key
/// exchange; its other provider, aws-lc-rs, needs cmake and a C toolchain to build, which
/// the runtime does not ask of its users.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot read certificates from {}: {e}; give a PEM file of \
                     `-----BEGIN CERTIFICATE-----` blocks",
                    path.display()
                ),
            )
        })?;
    if certs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} holds no certificate; give a PEM file of `-----BEGIN CERTIFICATE-----` \
                 blocks, the server's own first",
                path.display()
            ),
        ));
    }
    Ok(certs)
}

/// A server configuration from a certificate chain and its private key, both PEM files
/// (the chain: the server's certificate first, then the intermediates; the key: PKCS#8,
/// PKCS#1 or SEC1). TLS 1.2 and 1.3, rustls's safe defaults, no client certificates.
///
/// The error names the file that could not be read and why, or says that the key does
/// not match the certificate.
///
/// To make a self-signed pair for a test:
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30
/// -subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout key.pem -out cert.pem`.
///
/// ```no_run
/// let config = asyncore_runtime::tls::server_config("cert.pem", "key.pem")?;
/// # let _ = config;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn server_config(
    cert_chain: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> io::Result<Arc<ServerConfig>> {
    let (cert_path, key_path) = (cert_chain.as_ref(), key.as_ref());
    let certs = load_certs(cert_path)?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot read a private key from {}: {e}; give a PEM file with a \
                 `-----BEGIN PRIVATE KEY-----` (or RSA/EC PRIVATE KEY) block",
                key_path.display()
            ),
        )
    })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(format!("TLS versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "cannot use the certificate {} with the key {}: {e}; check that the key \
                     is the certificate's",
                    cert_path.display(),
                    key_path.display()
                ),
            )
        })?;
    Ok(Arc::new(config))
}

/// A client configuration that trusts the certificates of `cacert` (a PEM file, as
/// `curl --cacert`), or the system's roots when `None` (the files named by
/// `SSL_CERT_FILE`/`SSL_CERT_DIR` if set, else the platform's store, as
/// `rustls-native-certs` finds it).
///
/// ```no_run
/// let system = asyncore_runtime::tls::client_config(None)?;
/// let test_ca = asyncore_runtime::tls::client_config(Some(std::path::Path::new("ca.pem")))?;
/// # let _ = (system, test_ca);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn client_config(cacert: Option<&Path>) -> io::Result<Arc<ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match cacert {
        Some(path) => {
            for cert in load_certs(path)? {
                roots.add(cert).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{}: not a usable CA certificate: {e}", path.display()),
                    )
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map_or_else(String::new, |e| format!(" ({e})"));
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "no trusted root certificates found on this system{why}; install \
                         the system's CA certificates (ca-certificates) or give a CA file \
                         (--cacert FILE)"
                    ),
                ));
            }
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name a client checks the server's certificate against: a DNS name or an IP
/// address, as given on a command line or in a URL (`[::1]` brackets allowed).
///
/// ```
/// let name = asyncore_runtime::tls::server_name("localhost")?;
/// assert_eq!(name.to_str(), "localhost");
/// assert!(asyncore_runtime::tls::server_name("[::1]").is_ok());
/// assert!(asyncore_runtime::tls::server_name("not a name").is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn server_name(host: &str) -> io::Result<ServerName<'static>> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{host:?} is not a DNS name or an IP address to check a certificate for: {e}"),
        )
    })
}
