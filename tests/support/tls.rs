//! TLS for the tests: a certificate authority and a server certificate made at test time
//! with `rcgen` (never checked in), and a blocking rustls client over a `TcpStream` that
//! tells a clean `close_notify` from a bare end of file.
//!
//! ```ignore
//! let certs = support::tls::TestCerts::new("https");
//! let (server, addr) = support::start_server("http-server", "epoll", &certs.server_flags());
//! let mut c = support::tls::Client::connect(addr, &certs);
//! ```

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use asyncore_runtime::tls::rustls;

use super::{TempDir, HANG_GUARD};

/// A CA and a server certificate for `localhost` and `127.0.0.1` signed by it, as PEM
/// files in a temporary directory.
#[derive(Debug)]
pub struct TestCerts {
    /// The CA certificate (what clients trust: `--cacert`, `-CAfile`).
    pub ca: PathBuf,
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    dir: TempDir,
}

impl TestCerts {
    /// Makes a fresh CA and server certificate.
    pub fn new(tag: &str) -> TestCerts {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let dir = TempDir::new(&format!("tls-{tag}"));
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "asyncore test CA");
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA certificate");
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &ca).expect("server certificate");
        TestCerts {
            ca: dir.file("ca.pem", ca.pem().as_bytes()),
            cert: dir.file("cert.pem", cert.pem().as_bytes()),
            key: dir.file("key.pem", key.serialize_pem().as_bytes()),
            dir,
        }
    }

    /// `--tls-cert FILE --tls-key FILE` for our servers.
    pub fn server_flags(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// A rustls client configuration trusting the CA.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        asyncore_runtime::tls::client_config(Some(&self.ca)).expect("client config")
    }

    /// A rustls server configuration with the server certificate.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        asyncore_runtime::tls::server_config(&self.cert, &self.key).expect("server config")
    }
}

/// How a TLS stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The peer sent `close_notify`.
    CloseNotify,
    /// The connection ended without `close_notify`.
    BareEof,
}

/// A blocking TLS client (rustls) for tests.
#[derive(Debug)]
pub struct Client {
    /// The session.
    pub conn: rustls::ClientConnection,
    /// The socket.
    pub sock: TcpStream,
}

impl Client {
    /// Connects to `addr` and finishes the handshake, trusting `certs`' CA.
    pub fn connect(addr: SocketAddr, certs: &TestCerts) -> Client {
        let sock = TcpStream::connect(addr).expect("connect");
        Client::over(sock, certs)
    }

    /// Starts TLS as the client on a connected socket and finishes the handshake.
    pub fn over(sock: TcpStream, certs: &TestCerts) -> Client {
        sock.set_read_timeout(Some(HANG_GUARD)).expect("timeout");
        let name = asyncore_runtime::tls::server_name("localhost").expect("name");
        let conn = rustls::ClientConnection::new(certs.client_config(), name).expect("session");
        let mut c = Client { conn, sock };
        while c.conn.is_handshaking() {
            c.conn
                .complete_io(&mut c.sock)
                .expect("the TLS handshake with the server");
        }
        c
    }

    /// Sends `data` (plaintext).
    pub fn send(&mut self, data: &[u8]) {
        let mut s = rustls::Stream::new(&mut self.conn, &mut self.sock);
        s.write_all(data).expect("send over TLS");
        s.flush().expect("flush TLS");
    }

    /// Reads until the plaintext read so far ends with `end` (at most `HANG_GUARD`).
    pub fn read_until(&mut self, end: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        while !got.ends_with(end) {
            let n = rustls::Stream::new(&mut self.conn, &mut self.sock)
                .read(&mut buf)
                .unwrap_or_else(|e| panic!("read over TLS after {got:?}: {e}"));
            assert!(
                n > 0,
                "the stream ended after {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
        got
    }

    /// Reads everything until the end of the stream, and how it ended.
    pub fn read_to_end(&mut self) -> (Vec<u8>, End) {
        let mut got = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match rustls::Stream::new(&mut self.conn, &mut self.sock).read(&mut buf) {
                Ok(0) => return (got, End::CloseNotify),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return (got, End::BareEof),
                Err(e) => panic!("read over TLS after {} bytes: {e}", got.len()),
            }
        }
    }

    /// Sends `close_notify` and shuts down the socket's writing side (a TLS half-close).
    pub fn half_close(&mut self) {
        self.conn.send_close_notify();
        self.conn
            .write_tls(&mut self.sock)
            .expect("send close_notify");
        self.sock
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
    }
}

/// The first `len` bytes of a real ClientHello (a truncated one for `len` below its size).
pub fn client_hello_prefix(certs: &TestCerts, len: usize) -> Vec<u8> {
    let name = asyncore_runtime::tls::server_name("localhost").expect("name");
    let mut conn = rustls::ClientConnection::new(certs.client_config(), name).expect("session");
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).expect("ClientHello");
    assert!(hello.len() > len, "a ClientHello of {} bytes", hello.len());
    hello.truncate(len);
    hello
}

/// How long to wait for a server's close in the bad-input tests.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);
